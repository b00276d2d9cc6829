/**
 * Structured logging — JSON lines, one object per event:
 *
 *   {"time":"2026-01-01T00:00:00.000Z","level":"warn","msg":"protocol error","node":"n1","code":"ERR_BAD_FRAME"}
 *
 * `time`, `level` and `msg` always come first and cannot be overridden by fields. Fields bound with `child()`
 * come next, then the call's own fields. Errors are serialised with name, message, code, details and stack;
 * bigints as strings. The sink (default: stderr) and the clock are injected, so tests capture lines and the
 * simulator stamps them with virtual time. A disabled level costs one comparison.
 */
import { systemClock, type Clock } from './clock.ts'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFields = Readonly<Record<string, unknown>>
/** Receives one JSON line, without the trailing newline. */
export type LogSink = (line: string) => void

export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
  isEnabled(level: LogLevel): boolean
  /** A logger that adds `fields` to every line (e.g. `{ node: 'n1', peer: '10.0.0.2:7000' }`). */
  child(fields: LogFields): Logger
}

const LEVELS: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 }
const RESERVED = new Set(['time', 'level', 'msg'])

export interface LoggerOptions {
  /** Lowest level written. Default 'info'. */
  level?: LogLevel
  sink?: LogSink
  clock?: Clock
  fields?: LogFields
}

export const stderrSink: LogSink = (line) => {
  process.stderr.write(line + '\n')
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info'
  if (!(level in LEVELS)) throw new RangeError(`level must be one of ${Object.keys(LEVELS).join(', ')}, got ${level}`)
  return new JsonLogger(LEVELS[level], options.sink ?? stderrSink, options.clock ?? systemClock, options.fields ?? {})
}

class JsonLogger implements Logger {
  constructor(
    private readonly threshold: number,
    private readonly sink: LogSink,
    private readonly clock: Clock,
    private readonly bound: LogFields,
  ) {}

  debug(msg: string, fields?: LogFields): void {
    if (this.threshold <= LEVELS.debug) this.write('debug', msg, fields)
  }
  info(msg: string, fields?: LogFields): void {
    if (this.threshold <= LEVELS.info) this.write('info', msg, fields)
  }
  warn(msg: string, fields?: LogFields): void {
    if (this.threshold <= LEVELS.warn) this.write('warn', msg, fields)
  }
  error(msg: string, fields?: LogFields): void {
    if (this.threshold <= LEVELS.error) this.write('error', msg, fields)
  }

  isEnabled(level: LogLevel): boolean {
    return this.threshold <= LEVELS[level]
  }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.threshold, this.sink, this.clock, { ...this.bound, ...fields })
  }

  private write(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    const record: Record<string, unknown> = { time: new Date(this.clock.now()).toISOString(), level, msg }
    for (const source of [this.bound, fields]) {
      if (source === undefined) continue
      for (const key of Object.keys(source)) if (!RESERVED.has(key)) record[key] = source[key]
    }
    let line: string
    try {
      line = JSON.stringify(record, replacer)
    } catch (error) {
      // A cyclic or otherwise unserialisable field must not take down the caller.
      line = JSON.stringify({ time: record['time'], level, msg, logError: String(error) })
    }
    this.sink(line)
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message }
    const extra = value as Error & { code?: unknown; details?: unknown }
    if (extra.code !== undefined) out['code'] = extra.code
    if (extra.details !== undefined) out['details'] = extra.details
    if (value.stack !== undefined) out['stack'] = value.stack
    return out
  }
  return value
}

/** A logger that writes nothing; the default wherever a logger is optional. */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
  isEnabled: () => false,
  child: () => silentLogger,
})
