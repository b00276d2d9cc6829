#!/usr/bin/env node
// Makes sure ringkv's native addon is loadable. Run by `npm install` (the package's install script).
//
// 1. A prebuilt binary from a per-platform package (ringkv-linux-x64-gnu, ...) is used when one fits;
//    nothing is built then.
// 2. Otherwise, when the Rust sources are present (a git checkout, or the published package, which
//    ships crates/), the addon is built with cargo and copied next to the loader in native/.
//    In a checkout this always runs: cargo's incremental build makes it a no-op when nothing changed.
// 3. With neither, it says what is missing and how to get it, and fails.
//
// Flags: --force rebuilds even when a prebuilt binary fits; --debug builds without optimisation.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = new Set(process.argv.slice(2))
const force = args.has('--force')
const profile = args.has('--debug') ? 'debug' : 'release'

function platformSuffix() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const glibc = process.report?.getReport()?.header?.glibcVersionRuntime
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  if (platform === 'darwin') return `darwin-${arch}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

const suffix = platformSuffix()
const require = createRequire(import.meta.url)

function prebuiltPackage() {
  try {
    return require.resolve(`ringkv-${suffix}`)
  } catch {
    return null
  }
}

const hasSources = existsSync(join(root, 'crates', 'napi', 'Cargo.toml'))

if (!force && prebuiltPackage()) {
  process.exit(0)
}

if (!hasSources) {
  fail(`no prebuilt binary for ${suffix} was installed (package ringkv-${suffix}) and the Rust sources are missing.`)
}

const cargo = process.env.CARGO ?? 'cargo'
const probe = spawnSync(cargo, ['--version'], { encoding: 'utf8' })
if (probe.error || probe.status !== 0) {
  fail(
    `no prebuilt binary fits this platform (${suffix}), so the native addon must be built from source, ` +
      `but no Rust toolchain was found (\`${cargo} --version\` failed).\n` +
      `  Install Rust 1.88 or newer (rustup is the usual way), make sure \`cargo\` is on PATH, then run:\n` +
      `    npm rebuild ringkv`,
  )
}

const cargoArgs = ['build', '-p', 'ringkv-napi', '--manifest-path', join(root, 'Cargo.toml')]
if (profile === 'release') cargoArgs.push('--release')
const built = spawnSync(cargo, cargoArgs, { stdio: 'inherit', cwd: root })
if (built.status !== 0) {
  fail(`\`cargo ${cargoArgs.join(' ')}\` failed (exit ${built.status ?? built.signal}); see its output above.`)
}

const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target')
const libName = { darwin: 'libringkv_napi.dylib', win32: 'ringkv_napi.dll' }[process.platform] ?? 'libringkv_napi.so'
const artifact = join(targetDir, profile, libName)
if (!existsSync(artifact)) fail(`cargo finished but ${artifact} is missing.`)

// Copy then rename, so a process loading the addon never sees a half-written file.
const dest = join(root, 'native', `ringkv.${suffix}.node`)
mkdirSync(dirname(dest), { recursive: true })
copyFileSync(artifact, `${dest}.tmp`)
renameSync(`${dest}.tmp`, dest)

function fail(message) {
  console.error(`\nringkv: cannot install the native addon: ${message}\n`)
  process.exit(1)
}
