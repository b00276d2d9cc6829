// Worker entry: installs tsx's loader in this thread (Node 20 does not apply --import hooks to
// workers), then runs the TypeScript worker body.
import { register } from 'tsx/esm/api'

register()
await import('./sharing-worker.ts')
