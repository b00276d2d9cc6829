// Argument parsing shared by the subcommands: node:util's parseArgs, with every problem a UsageError.
import { parseArgs, type ParseArgsConfig } from 'node:util'

export class UsageError extends Error {}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  positionals = 0,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>> {
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: positionals > 0, strict: true })
    if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument: ${parsed.positionals[positionals]}`)
    return parsed
  } catch (e) {
    if (e instanceof UsageError) throw e
    throw new UsageError((e as Error).message)
  }
}

