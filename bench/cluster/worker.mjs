// piscina's entry for the load-generator workers: installs tsx's loader in this thread (Node 20 does not
// apply --import hooks to worker threads), then exports the TypeScript worker's task function.
import { register } from 'tsx/esm/api'

register()
const { default: run } = await import('./worker.ts')
export default run
