// Local AWS emulators for integration tests, the demo and the benchmark.
//
// - DynamoDB Local (AWS's jar), fetched once from the npm registry as part of the
//   amplify-dynamodb-simulator package, checked against pinned hashes and cached in
//   <repo>/.cache/dynamodb-local/ (git-ignored).
// - moto_server (Python), which serves S3, STS, CloudFormation, DynamoDB and more on one port.
//
// Usage from code:
//   const ddb = await startDynamoDbLocal()   // { endpoint, port, pid, stop }
//   const moto = await startMoto()           // { endpoint, port, pid, stop }
//   ...
//   await Promise.all([ddb.stop(), moto.stop()])
//
// CLI:
//   node scripts/emulators.mjs fetch   download + verify DynamoDB Local, print its directory
//   node scripts/emulators.mjs start   start both, print endpoints, stop on SIGINT/SIGTERM
//
// Every child process is spawned attached (detached: false), tracked, and killed on exit,
// SIGINT, SIGTERM and SIGHUP. On Linux the children are additionally started through
// `setpriv --pdeathsig SIGKILL` so that the kernel kills them even if this process is
// SIGKILLed and never gets to run its handlers.

import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** Repository root: this file lives in <root>/scripts/. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** Where the verified DynamoDB Local distribution is cached. */
export const DYNAMODB_LOCAL_DIR = path.join(REPO_ROOT, '.cache', 'dynamodb-local')

/** The npm package that ships DynamoDB Local 1.25.1 in its `emulator/` folder. */
export const DYNAMODB_LOCAL_PACKAGE = 'amplify-dynamodb-simulator@2.9.30'

/**
 * Pinned Subresource-Integrity string of the package tarball (the registry's
 * `dist.integrity`, re-checked by hashing the downloaded tarball).
 */
export const DYNAMODB_LOCAL_PACKAGE_INTEGRITY =
  'sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ=='

/** Pinned sha256 (hex) of emulator/DynamoDBLocal.jar inside that tarball (DynamoDB Local 1.25.1). */
export const DYNAMODB_LOCAL_JAR_SHA256 =
  '454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7'

const MARKER_FILE = '.verified.json'
const DEFAULT_START_TIMEOUT_MS = 60_000
const STDERR_TAIL_BYTES = 4_000

/**
 * @typedef {object} RunningEmulator
 * @property {string} endpoint  e.g. http://127.0.0.1:8000
 * @property {number} port
 * @property {number} pid
 * @property {() => Promise<void>} stop  kill the process and wait until it has exited (idempotent)
 */

/**
 * @typedef {object} StartOptions
 * @property {number} [port]        port to listen on; a free one is picked when omitted
 * @property {number} [timeoutMs]   how long to wait for the server to answer (default 60 s)
 */

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: nothing we start may outlive us.
// ---------------------------------------------------------------------------------------------

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set()
let cleanupInstalled = false

function killAllChildrenSync() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
  }
}

/** @param {NodeJS.Signals} signal */
function onSignal(signal) {
  killAllChildrenSync()
  // If nobody else listens for this signal, restore the default behaviour (terminate with it).
  if (process.listenerCount(signal) <= 1) {
    process.removeListener(signal, onSignal)
    process.kill(process.pid, signal)
  }
}

function installCleanup() {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.on('exit', killAllChildrenSync)
  for (const signal of /** @type {NodeJS.Signals[]} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
    process.on(signal, onSignal)
  }
}

/** @type {boolean | undefined} */
let setprivSupported

/** Whether `setpriv --pdeathsig` is available (Linux, util-linux >= 2.33). */
async function hasSetpriv() {
  if (setprivSupported !== undefined) return setprivSupported
  if (process.platform !== 'linux') return (setprivSupported = false)
  const result = await run('setpriv', ['--help'])
  setprivSupported = result.code === 0 && result.stdout.includes('--pdeathsig')
  return setprivSupported
}

/**
 * Run a command to completion and collect its output. Never rejects.
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd?: string, timeoutMs?: number }} [options]
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string, error: import('node:child_process').ExecFileException | null }>}
 */
function run(command, args, options = {}) {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 0,
        maxBuffer: 64 * 1024 * 1024,
        shell: process.platform === 'win32'
      },
      (error, stdout, stderr) => {
        // error.code is the exit code when the command ran, or e.g. 'ENOENT' when it did not.
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
        resolve({ code, stdout: String(stdout), stderr: String(stderr), error })
      }
    )
  })
}

/**
 * Spawn a long-running server process, tracked for cleanup, keeping the tail of its output.
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd?: string }} [options]
 */
async function spawnTracked(command, args, options = {}) {
  installCleanup()
  const usePdeathsig = await hasSetpriv()
  const file = usePdeathsig ? 'setpriv' : command
  const argv = usePdeathsig ? ['--pdeathsig', 'SIGKILL', '--', command, ...args] : args
  const child = spawn(file, argv, {
    cwd: options.cwd,
    detached: false,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' }
  })
  children.add(child)
  let output = ''
  /** @param {Buffer} chunk */
  const keep = (chunk) => {
    output = (output + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null, error?: Error }>} */
  const exited = new Promise((resolve) => {
    child.once('error', (error) => {
      children.delete(child)
      resolve({ code: null, signal: null, error })
    })
    child.once('exit', (code, signal) => {
      children.delete(child)
      resolve({ code, signal })
    })
  })

  let stopping = /** @type {Promise<void> | undefined} */ (undefined)
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        await exited
        return
      }
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      try {
        await exited
      } finally {
        clearTimeout(timer)
      }
    })()
    return stopping
  }

  return { child, exited, stop, tail: () => output.trim() }
}

/**
 * A port that was free a moment ago on 127.0.0.1.
 * @returns {Promise<number>}
 */
export function findFreePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Poll `probe` until it resolves true, the process exits, or the deadline passes.
 * @param {object} params
 * @param {string} params.name
 * @param {() => Promise<boolean>} params.probe
 * @param {Awaited<ReturnType<typeof spawnTracked>>} params.proc
 * @param {number} params.timeoutMs
 * @returns {Promise<{ ok: true } | { ok: false, exited: boolean, reason: string }>}
 */
async function waitUntilReady({ name, probe, proc, timeoutMs }) {
  const deadline = Date.now() + timeoutMs
  let exitInfo = /** @type {Awaited<typeof proc.exited> | undefined} */ (undefined)
  void proc.exited.then((info) => {
    exitInfo = info
  })
  let lastError = ''
  while (Date.now() < deadline) {
    if (exitInfo) {
      const how = exitInfo.error
        ? exitInfo.error.message
        : `exit code ${String(exitInfo.code)}, signal ${String(exitInfo.signal)}`
      return { ok: false, exited: true, reason: `${name} exited before it was ready (${how})` }
    }
    try {
      if (await probe()) return { ok: true }
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error)
    }
    await sleep(150)
  }
  return {
    ok: false,
    exited: false,
    reason: `${name} did not answer within ${(timeoutMs / 1000).toFixed(1)} s${
      lastError ? ` (last probe error: ${lastError})` : ''
    }`
  }
}

/**
 * @param {string} reason
 * @param {string} tail
 */
function startError(reason, tail) {
  return new Error(`${reason}.\n--- last output of the process ---\n${tail || '(no output)'}`)
}

// ---------------------------------------------------------------------------------------------
// DynamoDB Local: fetch, verify, cache
// ---------------------------------------------------------------------------------------------

/**
 * Hash a file with a streaming digest.
 * @param {string} file
 * @param {'sha256' | 'sha512'} algorithm
 * @param {'hex' | 'base64'} encoding
 * @returns {Promise<string>}
 */
function hashFile(file, algorithm, encoding) {
  return new Promise((resolve, reject) => {
    const hash = createHash(algorithm)
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest(encoding)))
  })
}

/**
 * True when `dir` holds a complete, verified DynamoDB Local of the pinned version.
 * @param {string} dir
 */
async function isVerifiedCache(dir) {
  let marker
  try {
    marker = JSON.parse(await fs.readFile(path.join(dir, MARKER_FILE), 'utf8'))
  } catch {
    return false
  }
  if (
    marker?.integrity !== DYNAMODB_LOCAL_PACKAGE_INTEGRITY ||
    marker?.jarSha256 !== DYNAMODB_LOCAL_JAR_SHA256
  ) {
    return false
  }
  const jar = path.join(dir, 'DynamoDBLocal.jar')
  if (!existsSync(jar) || !existsSync(path.join(dir, 'DynamoDBLocal_lib'))) return false
  return (await hashFile(jar, 'sha256', 'hex')) === DYNAMODB_LOCAL_JAR_SHA256
}

/**
 * Make sure DynamoDB Local is in `.cache/dynamodb-local/`, verified against the pinned hashes.
 * Idempotent and safe to call from several processes at once: each download is extracted into
 * its own temporary directory, verified, marked, and then renamed into place atomically; the
 * first rename wins and the others discard their copy.
 * @param {{ quiet?: boolean }} [options]
 * @returns {Promise<string>} the directory holding DynamoDBLocal.jar and DynamoDBLocal_lib/
 */
export async function ensureDynamoDbLocal(options = {}) {
  const dir = DYNAMODB_LOCAL_DIR
  if (await isVerifiedCache(dir)) return dir

  const cacheRoot = path.dirname(dir)
  await fs.mkdir(cacheRoot, { recursive: true })

  // The temporary directory sits beside the target so that the final rename stays on one
  // filesystem (and is therefore atomic).
  const tmp = await fs.mkdtemp(path.join(cacheRoot, '.dynamodb-local-tmp-'))
  try {
    if (!options.quiet) {
      process.stderr.write(`Fetching DynamoDB Local (${DYNAMODB_LOCAL_PACKAGE}) from npm...\n`)
    }
    const packed = await run(
      'npm',
      ['pack', DYNAMODB_LOCAL_PACKAGE, '--pack-destination', tmp, '--json', '--silent'],
      { cwd: tmp, timeoutMs: 10 * 60_000 }
    )
    const tarballs = (await fs.readdir(tmp)).filter((name) => name.endsWith('.tgz'))
    if (packed.code !== 0 || tarballs.length !== 1) {
      throw new Error(
        `Could not download ${DYNAMODB_LOCAL_PACKAGE} with "npm pack" ` +
          `(exit ${String(packed.code)}${packed.error ? `: ${packed.error.message}` : ''}). ` +
          `Check that npm is on PATH and the npm registry is reachable.\n${packed.stderr.slice(-2000)}`
      )
    }
    const tarball = path.join(tmp, /** @type {string} */ (tarballs[0]))

    const integrity = `sha512-${await hashFile(tarball, 'sha512', 'base64')}`
    if (integrity !== DYNAMODB_LOCAL_PACKAGE_INTEGRITY) {
      throw new Error(
        `Refusing to use ${DYNAMODB_LOCAL_PACKAGE}: the tarball's integrity does not match the pinned value.\n` +
          `  expected ${DYNAMODB_LOCAL_PACKAGE_INTEGRITY}\n  actual   ${integrity}\n` +
          'The package on the registry (or a proxy/cache in between) is not the one this project ' +
          'was pinned to. Do not update the pin without reviewing the new package.'
      )
    }

    const extractRoot = path.join(tmp, 'x')
    await fs.mkdir(extractRoot)
    const untar = await run('tar', ['-xzf', tarball, '-C', extractRoot, 'package/emulator'], {
      timeoutMs: 5 * 60_000
    })
    if (untar.code !== 0) {
      throw new Error(
        `Could not extract ${tarball} with the system tar (exit ${String(untar.code)}${
          untar.error ? `: ${untar.error.message}` : ''
        }).\n${untar.stderr.slice(-2000)}`
      )
    }
    const emulatorDir = path.join(extractRoot, 'package', 'emulator')
    const jarSha256 = await hashFile(path.join(emulatorDir, 'DynamoDBLocal.jar'), 'sha256', 'hex')
    if (jarSha256 !== DYNAMODB_LOCAL_JAR_SHA256) {
      throw new Error(
        `Refusing to use DynamoDBLocal.jar from ${DYNAMODB_LOCAL_PACKAGE}: its sha256 does not match the pinned value.\n` +
          `  expected ${DYNAMODB_LOCAL_JAR_SHA256}\n  actual   ${jarSha256}`
      )
    }
    // Written last: its presence means "complete and verified".
    await fs.writeFile(
      path.join(emulatorDir, MARKER_FILE),
      `${JSON.stringify(
        {
          package: DYNAMODB_LOCAL_PACKAGE,
          integrity,
          jarSha256,
          dynamoDbLocalVersion: '1.25.1',
          fetchedAt: new Date().toISOString()
        },
        null,
        2
      )}\n`
    )
    try {
      await fs.rename(emulatorDir, dir)
    } catch (error) {
      // Another process finished first: use its copy if it is good. Only complete, verified
      // copies are ever renamed into place, so a directory that fails verification is a
      // leftover or was modified: move it aside and put ours in its place.
      if (!(await isVerifiedCache(dir))) {
        const aside = path.join(tmp, 'stale')
        await fs.rename(dir, aside).catch(() => undefined)
        await fs.rename(emulatorDir, dir).catch(async (retryError) => {
          if (!(await isVerifiedCache(dir))) throw retryError ?? error
        })
      }
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true })
  }
  if (!(await isVerifiedCache(dir))) {
    throw new Error(`DynamoDB Local in ${dir} failed verification right after it was installed`)
  }
  return dir
}

// ---------------------------------------------------------------------------------------------
// DynamoDB Local: start
// ---------------------------------------------------------------------------------------------

async function assertJavaAvailable() {
  const result = await run('java', ['-version'], { timeoutMs: 30_000 })
  if (result.error?.code === 'ENOENT' || result.code === 127) {
    throw new Error(
      'Java was not found on PATH, and DynamoDB Local needs it (Java 17 or newer). ' +
        'Install a JRE (Debian: apt-get install openjdk-17-jre-headless; GitHub Actions: ' +
        'actions/setup-java with java-version 17), or set DDB_LOCAL_ENDPOINT to a DynamoDB Local ' +
        'you started yourself.'
    )
  }
  if (result.code !== 0) {
    throw new Error(`"java -version" failed (exit ${String(result.code)}): ${result.stderr.trim()}`)
  }
}

/**
 * A real ListTables call with fake credentials. Resolves true when DynamoDB Local answers.
 * @param {string} endpoint
 */
async function listTablesProbe(endpoint) {
  const { DynamoDBClient, ListTablesCommand } = await import('@aws-sdk/client-dynamodb')
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 }
  })
  try {
    const out = await client.send(new ListTablesCommand({ Limit: 1 }))
    return Array.isArray(out.TableNames)
  } finally {
    client.destroy()
  }
}

/**
 * Start DynamoDB Local in memory with a shared database (every key and region sees the same
 * tables) and telemetry off. DynamoDB Local has no option to choose the listen address: it
 * listens on all interfaces of the chosen port; clients should use 127.0.0.1.
 * @param {StartOptions} [options]
 * @returns {Promise<RunningEmulator>}
 */
export async function startDynamoDbLocal(options = {}) {
  const dir = await ensureDynamoDbLocal()
  await assertJavaAvailable()
  const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS
  // A port picked by us may be taken by someone else before Java binds it: retry then.
  const attempts = options.port === undefined ? 3 : 1
  let lastError = /** @type {Error | undefined} */ (undefined)
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = options.port ?? (await findFreePort())
    const endpoint = `http://127.0.0.1:${port}`
    const proc = await spawnTracked(
      'java',
      [
        `-Djava.library.path=${path.join(dir, 'DynamoDBLocal_lib')}`,
        '-jar',
        path.join(dir, 'DynamoDBLocal.jar'),
        '-inMemory',
        '-sharedDb',
        '-disableTelemetry',
        '-port',
        String(port)
      ],
      { cwd: dir }
    )
    const ready = await waitUntilReady({
      name: 'DynamoDB Local',
      probe: () => listTablesProbe(endpoint),
      proc,
      timeoutMs
    })
    if (ready.ok) {
      return { endpoint, port, pid: /** @type {number} */ (proc.child.pid), stop: proc.stop }
    }
    await proc.stop()
    lastError = startError(`${ready.reason} (port ${port})`, proc.tail())
    const portClash = /address already in use|BindException/i.test(proc.tail())
    if (!(ready.exited && portClash)) break
  }
  throw lastError ?? new Error('DynamoDB Local did not start')
}

// ---------------------------------------------------------------------------------------------
// moto
// ---------------------------------------------------------------------------------------------

/**
 * Resolves true once anything answers HTTP on the endpoint.
 * @param {string} endpoint
 * @returns {Promise<boolean>}
 */
function httpProbe(endpoint) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${endpoint}/moto-api/`, { timeout: 2_000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(typeof res.statusCode === 'number'))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })
}

/**
 * Start moto's server (S3, STS, CloudFormation, DynamoDB, ... on one port) bound to 127.0.0.1.
 * Uses `moto_server` from PATH and falls back to `python3 -m moto.server`.
 * @param {StartOptions} [options]
 * @returns {Promise<RunningEmulator>}
 */
export async function startMoto(options = {}) {
  const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS
  const candidates = [
    { command: 'moto_server', args: /** @type {string[]} */ ([]) },
    { command: 'python3', args: ['-m', 'moto.server'] }
  ]
  /** @type {string[]} */
  const failures = []
  for (const candidate of candidates) {
    const attempts = options.port === undefined ? 3 : 1
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const port = options.port ?? (await findFreePort())
      const endpoint = `http://127.0.0.1:${port}`
      const proc = await spawnTracked(candidate.command, [
        ...candidate.args,
        '-H',
        '127.0.0.1',
        '-p',
        String(port)
      ])
      const ready = await waitUntilReady({
        name: `${[candidate.command, ...candidate.args].join(' ')}`,
        probe: () => httpProbe(endpoint),
        proc,
        timeoutMs
      })
      if (ready.ok) {
        return { endpoint, port, pid: /** @type {number} */ (proc.child.pid), stop: proc.stop }
      }
      await proc.stop()
      failures.push(startError(`${ready.reason} (port ${port})`, proc.tail()).message)
      const portClash = /address already in use/i.test(proc.tail())
      if (!(ready.exited && portClash)) break
    }
  }
  throw new Error(
    'moto could not be started. Install it with: pip install "moto[server]==5.2.1", or set ' +
      'MOTO_ENDPOINT to a moto_server you started yourself.\n' +
      failures.join('\n')
  )
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

async function main() {
  const [command] = process.argv.slice(2)
  // The readiness probe uses the AWS SDK, which warns about Node 20 once per process.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  if (command === 'fetch') {
    process.stdout.write(`${await ensureDynamoDbLocal()}\n`)
    return
  }
  if (command === 'start') {
    const started = Date.now()
    const [ddb, moto] = await Promise.allSettled([startDynamoDbLocal(), startMoto()])
    if (ddb.status === 'rejected' || moto.status === 'rejected') {
      await Promise.all([
        ddb.status === 'fulfilled' ? ddb.value.stop() : undefined,
        moto.status === 'fulfilled' ? moto.value.stop() : undefined
      ])
      throw ddb.status === 'rejected'
        ? ddb.reason
        : /** @type {PromiseRejectedResult} */ (moto).reason
    }
    process.stdout.write(
      `DDB_LOCAL_ENDPOINT=${ddb.value.endpoint}\nMOTO_ENDPOINT=${moto.value.endpoint}\n`
    )
    process.stderr.write(
      `Emulators ready in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
        `(DynamoDB Local pid ${ddb.value.pid}, moto pid ${moto.value.pid}). Press Ctrl-C to stop.\n`
    )
    await new Promise((resolve) => {
      const stopAll = () => {
        void Promise.all([ddb.value.stop(), moto.value.stop()]).then(resolve)
      }
      process.once('SIGINT', stopAll)
      process.once('SIGTERM', stopAll)
    })
    return
  }
  process.stderr.write(
    'Usage: node scripts/emulators.mjs fetch   # download and verify DynamoDB Local, print its directory\n' +
      '       node scripts/emulators.mjs start   # start DynamoDB Local and moto, print endpoints\n'
  )
  process.exitCode = 2
}

const invokedDirectly =
  process.argv[1] !== undefined &&
  pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url
if (invokedDirectly) {
  main().catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  })
}
