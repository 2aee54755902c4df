// The synthetic DynamoDB endpoint for `npm run bench -- --synthetic N`: starts
// ../shared/bench/synthetic-dynamodb.mjs (beside this repository) on a free port, reads its
// READY line, and diffs its GET /__stats snapshots (CPU, RSS, operation counts) around a run.
// The server renders its source table `order-tracking-qa` from the item index (never stored)
// and keeps what is written, so a 1,000,000 or 10,000,000-item copy measures the client's own
// cost (CPU per item, peak RSS, items/s) rather than DynamoDB Local's, which cannot serve
// tables of that size in useful time. Node built-ins only.

import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** Where the server is looked for: BENCH_SYNTHETIC_SERVER, else ../shared/bench/ beside the repo. */
export const SYNTHETIC_SERVER = path.resolve(
  process.env.BENCH_SYNTHETIC_SERVER ||
    path.join(REPO_ROOT, '..', 'shared', 'bench', 'synthetic-dynamodb.mjs')
)

/** The source table the server generates (its default `--table`). */
export const SYNTHETIC_SOURCE = 'order-tracking-qa'

const START_TIMEOUT_MS = 120_000
const TAIL_BYTES = 4_000

/** Throws a clear error when the server file is not there. */
export function requireSyntheticServer(file = SYNTHETIC_SERVER) {
  if (existsSync(file)) return file
  throw new Error(
    `--synthetic needs the synthetic DynamoDB endpoint, which is not at ${file}.\n` +
      '  It is looked for at ../shared/bench/synthetic-dynamodb.mjs relative to the repository ' +
      'root; set BENCH_SYNTHETIC_SERVER=/path/to/synthetic-dynamodb.mjs to use another copy.'
  )
}

let setprivChecked
/** `setpriv --pdeathsig` (Linux): the kernel kills the server if the bench dies without cleanup. */
function setprivPrefix() {
  if (setprivChecked !== undefined) return setprivChecked
  setprivChecked = []
  if (process.platform !== 'linux') return setprivChecked
  try {
    const help = execFileSync('setpriv', ['--help'], { encoding: 'utf8', stdio: 'pipe' })
    if (help.includes('--pdeathsig')) setprivChecked = ['--pdeathsig', 'SIGKILL', '--']
  } catch {
    // no setpriv: the exit handler below still kills the server
  }
  return setprivChecked
}

/**
 * Starts `node synthetic-dynamodb.mjs --items N --port 0` and waits for its READY line.
 * @returns {Promise<{ endpoint: string, pid: number, stats: () => Promise<object>,
 *   stop: () => Promise<void>, tail: () => string }>}
 */
export async function startSyntheticServer({ items, file = SYNTHETIC_SERVER, extraArgs = [] }) {
  requireSyntheticServer(file)
  const prefix = setprivPrefix()
  const args = [file, '--items', String(items), '--port', '0', ...extraArgs]
  const child =
    prefix.length > 0
      ? spawn('setpriv', [...prefix, process.execPath, ...args], {
          stdio: ['ignore', 'pipe', 'pipe']
        })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  process.on('exit', killOnExit)
  let out = ''
  let err = ''
  child.stdout.on('data', (chunk) => (out = (out + chunk).slice(-TAIL_BYTES)))
  child.stderr.on('data', (chunk) => (err = (err + chunk).slice(-TAIL_BYTES)))
  const tail = () => `${out}\n${err}`.trim()
  const exited = new Promise((resolve) => {
    child.once('error', (error) => resolve({ error }))
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })

  const endpoint = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(
        new Error(`the synthetic DynamoDB server did not print READY within 120 s:\n${tail()}`)
      )
    }, START_TIMEOUT_MS)
    const onData = () => {
      const match = /^READY (http:\/\/\S+)$/m.exec(out)
      if (!match) return
      clearTimeout(timer)
      child.stdout.off('data', onData)
      resolve(match[1])
    }
    child.stdout.on('data', onData)
    void exited.then((info) => {
      clearTimeout(timer)
      const how = info.error ? info.error.message : `exit ${info.code}, signal ${info.signal}`
      reject(new Error(`the synthetic DynamoDB server exited before READY (${how}):\n${tail()}`))
    })
  })

  const stats = async () => {
    const response = await fetch(`${endpoint}/__stats`)
    if (!response.ok) throw new Error(`GET ${endpoint}/__stats answered ${response.status}`)
    return response.json()
  }
  let stopping
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
      process.off('exit', killOnExit)
    })()
    return stopping
  }
  return { endpoint, pid: child.pid, stats, stop, tail }
}

/** What the server did between two /__stats snapshots. */
export function statsDiff(before, after) {
  const cpu = (s) => (s?.cpuUserS ?? NaN) + (s?.cpuSystemS ?? NaN)
  return {
    cpuS: cpu(after) - cpu(before),
    peakRssMiB: after?.peakRssMiB,
    rssMiB: after?.rssMiB
  }
}

/**
 * CreateTable input that repeats a described table's definition (keys, attribute definitions,
 * GSIs and LSIs with their projections, on-demand billing), under another name.
 */
export function definitionFrom(described, name) {
  const index = (i) => ({
    IndexName: i.IndexName,
    KeySchema: i.KeySchema,
    Projection: i.Projection
  })
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: described.AttributeDefinitions,
    KeySchema: described.KeySchema,
    ...(described.GlobalSecondaryIndexes?.length
      ? { GlobalSecondaryIndexes: described.GlobalSecondaryIndexes.map(index) }
      : {}),
    ...(described.LocalSecondaryIndexes?.length
      ? { LocalSecondaryIndexes: described.LocalSecondaryIndexes.map(index) }
      : {})
  }
}
