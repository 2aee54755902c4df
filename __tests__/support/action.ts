import type { PairReport } from '../../src/types.js'
// Runs the action's real run() in-process the way the runner would: INPUT_<NAME> variables
// (hyphens kept), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, AWS credentials from the
// environment. Captures everything written to stdout so tests can check the log.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ArtifactUploader } from '../../src/backup/artifact.js'

export interface ActionResult {
  outputs: Record<string, string>
  summary: string
  log: string
  failed: boolean
  report: {
    mode: string
    error?: string
    errorCode?: string
    pairs: {
      source: string
      target: string | null
      status: string
      counts: {
        scanned: number | null
        written: number | null
        source: number | null
        target: number | null
      }
      digests: { source: string | null; target: string | null }
      verified: boolean
      differences: { kind: string; key: string }[]
      backupLocations: string[]
      error?: string
      errorCode?: string
      notes?: string[]
      plan?: unknown
      capacity?: PairReport['capacity']
    }[]
  }
}

/** Parses the heredoc blocks @actions/core writes to GITHUB_OUTPUT. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const pattern = /^([^\n<]+)<<(ghadelimiter_[^\n]+)\n([\s\S]*?)\n\2$/gm
  for (const match of text.matchAll(pattern)) outputs[match[1] ?? ''] = match[3] ?? ''
  return outputs
}

export class FakeArtifacts implements ArtifactUploader {
  readonly uploads: { name: string; files: string[]; rootDirectory: string }[] = []
  checks = 0
  /** Set to play an artifact service that does not answer. */
  unreachable = false
  check(): Promise<void> {
    this.checks++
    return this.unreachable
      ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9'))
      : Promise.resolve()
  }
  async upload(
    name: string,
    files: string[],
    rootDirectory: string
  ): Promise<{ id?: number; size?: number }> {
    this.uploads.push({ name, files: [...files], rootDirectory })
    return { id: this.uploads.length, size: files.length }
  }
}

export async function runAction(
  inputs: Record<string, string>,
  options: { env?: Record<string, string>; artifacts?: ArtifactUploader } = {}
): Promise<ActionResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'action-run-'))
  const outputFile = path.join(dir, 'output')
  const summaryFile = path.join(dir, 'summary')
  writeFileSync(outputFile, '')
  writeFileSync(summaryFile, '')
  const saved = { ...process.env }
  for (const key of Object.keys(process.env)) if (key.startsWith('INPUT_')) delete process.env[key]
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: dir,
    // What the runner gives a JavaScript action for the artifact service (the uploader
    // itself is a fake).
    ACTIONS_RUNTIME_TOKEN: 'fake-runtime-token',
    ACTIONS_RESULTS_URL: 'http://127.0.0.1:9/',
    ...options.env
  })
  for (const [name, value] of Object.entries(inputs))
    process.env[`INPUT_${name.toUpperCase()}`] = value

  let log = ''
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = (chunk: string | Uint8Array): boolean => {
    log += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()
    return true
  }
  const exitCode = process.exitCode
  let failed = false
  try {
    const { run } = await import('../../src/main.js')
    await run({ artifacts: options.artifacts ?? new FakeArtifacts(), progressIntervalMs: 0 })
    failed = process.exitCode === 1
  } finally {
    process.stdout.write = write
    process.exitCode = exitCode
    process.env = saved
  }
  const outputs = parseOutputFile(readFileSync(outputFile, 'utf8'))
  return {
    outputs,
    summary: readFileSync(summaryFile, 'utf8'),
    log,
    failed,
    report: JSON.parse(outputs.report ?? '{}') as ActionResult['report']
  }
}
