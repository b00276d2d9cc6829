// The seams through which nondeterminism enters ringkv: time, randomness and logging.
export { type Clock, type TimerHandle, type VirtualClockOptions, VirtualClock, sleep, systemClock } from './clock.ts'
export { type Random, SeededRandom, systemRandom } from './random.ts'
export {
  type LogFields,
  type LogLevel,
  type LogSink,
  type Logger,
  type LoggerOptions,
  createLogger,
  silentLogger,
  stderrSink,
} from './logger.ts'
