import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createLogger, silentLogger } from '../../../src/runtime/logger.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'
import { RingkvError } from '../../../src/errors.ts'

const capture = () => {
  const lines: string[] = []
  return { lines, sink: (line: string) => void lines.push(line) }
}

test('writes one JSON object per line with time, level, msg first, then bound and call fields', () => {
  const { lines, sink } = capture()
  const clock = new VirtualClock({ startMs: Date.UTC(2026, 0, 1) })
  const log = createLogger({ sink, clock, fields: { node: 'n1' } }).child({ peer: 'p' })
  log.info('hello', { n: 1, big: 10n, level: 'ignored' })
  assert.is(lines.length, 1)
  const line = lines[0] ?? ''
  assert.ok(!line.includes('\n'))
  assert.ok(line.startsWith('{"time":"2026-01-01T00:00:00.000Z","level":"info","msg":"hello"'))
  assert.equal(JSON.parse(line), {
    time: '2026-01-01T00:00:00.000Z',
    level: 'info',
    msg: 'hello',
    node: 'n1',
    peer: 'p',
    n: 1,
    big: '10',
  })
})

test('levels below the threshold are dropped', () => {
  const { lines, sink } = capture()
  const log = createLogger({ sink, level: 'warn' })
  log.debug('d')
  log.info('i')
  log.warn('w')
  log.error('e')
  assert.equal(lines.map((l) => JSON.parse(l).level), ['warn', 'error'])
  assert.ok(!log.isEnabled('info') && log.isEnabled('error'))
})

test('errors are serialised with code and details; cycles do not throw', () => {
  const { lines, sink } = capture()
  const log = createLogger({ sink })
  log.error('failed', { error: new RingkvError('ERR_X', 'boom', { details: { a: 1 } }) })
  const parsed = JSON.parse(lines[0] ?? '')
  assert.is(parsed.error.code, 'ERR_X')
  assert.equal(parsed.error.details, { a: 1 })
  assert.is(parsed.error.message, 'boom')
  const cyclic: Record<string, unknown> = {}
  cyclic['self'] = cyclic
  log.warn('cyclic', { cyclic })
  assert.is(JSON.parse(lines[1] ?? '').msg, 'cyclic')
})

test('bad level is a RangeError naming the choices; silentLogger writes nothing', () => {
  assert.throws(() => createLogger({ level: 'loud' as 'info' }), /level must be one of debug, info, warn, error/)
  silentLogger.child({ a: 1 }).error('nothing')
  assert.is(silentLogger.isEnabled('error'), false)
})

test.run()
