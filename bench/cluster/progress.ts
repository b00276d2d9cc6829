// A progress bar for long runs (cli-progress) on a terminal; elsewhere (CI logs, pipes) a line every 10 s.
// It writes to stderr, so `--json` output on stdout stays clean.
import cliProgress from 'cli-progress'

export interface ProgressBar {
  update(seconds: number, fields: { ops: number; errors: number }): void
  stop(): void
}

/** `total` is in `unit`s: seconds of a scenario, or keys of a load. */
export function progressBar(enabled: boolean, label: string, total: number, unit = 's'): ProgressBar {
  const totalSeconds = total
  if (!enabled) return { update: () => {}, stop: () => {} }
  if (!process.stderr.isTTY) {
    let lastPrinted = 0
    return {
      update: (seconds, f) => {
        if (seconds - lastPrinted < totalSeconds / 4) return
        lastPrinted = seconds
        process.stderr.write(`  ${label}: ${Math.round(seconds).toLocaleString('en-US')}/${Math.round(totalSeconds).toLocaleString('en-US')} ${unit}, ${f.ops.toLocaleString('en-US')} ops/s, ${f.errors} errors\n`)
      },
      stop: () => {},
    }
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `  ${label.padEnd(16)} [{bar}] {value}/{total} ${unit} | {ops} ops/s | errors {errors}`,
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  )
  bar.start(Math.round(totalSeconds), 0, { ops: 0, errors: 0 })
  return {
    update: (seconds, f) => bar.update(Math.min(Math.round(seconds), Math.round(totalSeconds)), { ops: f.ops.toLocaleString('en-US'), errors: f.errors }),
    stop: () => bar.stop(),
  }
}
