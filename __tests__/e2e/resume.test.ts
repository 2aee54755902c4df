// A copy killed with SIGKILL mid-way, then run again with `resume: true` on a fresh runner
// (a new RUNNER_TEMP, the same GITHUB_RUN_ID, attempt 2), as "Re-run failed jobs" does: the
// target, the backup and the digest must be those of an uninterrupted copy, and the re-run
// must read clearly less than the whole table.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3'
import {
  ddbEndpoint,
  localDynamoClient,
  localS3Client,
  motoEndpoint,
  uniqueName
} from '../support/env.js'
import { canonicalContents, createTable, seed, tableDefinition } from '../support/tables.js'
import { listKeys, readS3Backup } from '../support/backups.js'
import { parseOutputFile } from '../support/action.js'
import { actionYmlDefaults } from '../../scripts/action-defaults.mjs'
import { everyTypeItem, largeItem, sizedItem } from '../../__fixtures__/items.js'

const dist = path.resolve('dist/index.js')
const ddb = localDynamoClient()
const s3 = localS3Client()
const bucket = uniqueName('resume-backups')

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  outputs: Record<string, string>
}

/** Starts the bundle as the runner does; `whileRunning` may kill it. */
async function startDist(
  inputs: Record<string, string>,
  attempt: number,
  whileRunning?: (kill: () => void) => Promise<void>
): Promise<Run> {
  const dir = mkdtempSync(path.join(tmpdir(), `resume-attempt${attempt}-`))
  const output = path.join(dir, 'output')
  writeFileSync(output, '')
  writeFileSync(path.join(dir, 'summary'), '')
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
    GITHUB_RUN_ID: '5151',
    GITHUB_RUN_ATTEMPT: String(attempt),
    RUNNER_TEMP: dir
  }
  for (const [name, value] of Object.entries({ ...actionYmlDefaults(), ...inputs }))
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  const child = spawn(process.execPath, [dist], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', () => undefined)
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal]))
  )
  if (whileRunning) await whileRunning(() => child.kill('SIGKILL'))
  const [code, signal] = await exited
  return { code, signal, stdout, outputs: parseOutputFile(readFileSync(output, 'utf8')) }
}

async function readJson(key: string): Promise<Record<string, unknown> | undefined> {
  try {
    const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    return JSON.parse(await answer.Body!.transformToString()) as Record<string, unknown>
  } catch {
    return undefined
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
})

afterAll(() => {
  ddb.destroy()
  s3.destroy()
})

describe('resume after SIGKILL', () => {
  it('finishes a killed copy on a fresh runner exactly as an uninterrupted one', async () => {
    const source = uniqueName('resume-src')
    const target = uniqueName('resume-dst')
    const control = uniqueName('resume-control')
    await createTable(ddb, tableDefinition(source))
    await createTable(ddb, tableDefinition(target))
    await createTable(ddb, tableDefinition(control))
    const items = [
      ...Array.from({ length: 3000 }, (_, i) => sizedItem(`k${i % 41}`, i, 400)),
      everyTypeItem('every-type'),
      largeItem('large', 'B')
    ]
    await seed(ddb, source, items)
    const common = {
      mode: 'copy',
      'dynamodb-endpoint': ddbEndpoint(),
      's3-endpoint': motoEndpoint(),
      'backup-s3-uri': `s3://${bucket}/moves`,
      'checkpoint-seconds': '1',
      'total-segments': '4'
    }
    const checkpointKey = `moves/${source}/_resume/run5151-to-${target}.json`

    // Attempt 1: slowed by a cap, killed once a checkpoint holds a good part of the table.
    let atKill = 0
    const first = await startDist(
      { ...common, tables: `${source} -> ${target}`, 'max-items-per-second': '400' },
      1,
      async (kill) => {
        for (let waited = 0; waited < 60_000; waited += 200) {
          const checkpoint = await readJson(checkpointKey)
          if (typeof checkpoint?.items === 'number' && checkpoint.items >= 1000) {
            atKill = checkpoint.items
            break
          }
          await sleep(200)
        }
        kill()
      }
    )
    expect(first.signal).toBe('SIGKILL')
    expect(atKill).toBeGreaterThanOrEqual(1000)
    expect(atKill).toBeLessThan(items.length)

    // Attempt 2, on a fresh runner, without the cap; the target holds attempt 1's items.
    const second = await startDist(
      {
        ...common,
        tables: `${source} -> ${target}`,
        resume: 'true',
        'allow-non-empty-target': 'true'
      },
      2
    )
    expect(second.stdout).not.toMatch(/^::error::/m)
    expect(second.code).toBe(0)
    expect(second.stdout).toContain('resume: going on from the checkpoint')
    const report = JSON.parse(second.outputs.report ?? '{}') as {
      pairs: {
        verified: boolean
        counts: { scanned: number; source: number; target: number }
        digests: { source: string; target: string }
      }[]
    }
    const pair = report.pairs[0]!
    expect(pair.verified).toBe(true)
    expect(pair.counts.source).toBe(items.length)
    expect(pair.counts.target).toBe(items.length)
    // It read what was left, plus at most the pages in flight at the checkpoint.
    expect(pair.counts.scanned).toBeLessThanOrEqual(items.length - atKill + 1000)
    expect(pair.counts.scanned).toBeLessThan(items.length)

    // An uninterrupted copy of the same table, for comparison.
    const uninterrupted = await startDist({ ...common, tables: `${source} -> ${control}` }, 1)
    expect(uninterrupted.code).toBe(0)
    const control_ = (
      JSON.parse(uninterrupted.outputs.report ?? '{}') as {
        pairs: { digests: { source: string } }[]
      }
    ).pairs[0]!
    expect(pair.digests.source).toBe(control_.digests.source)
    expect(pair.digests.target).toBe(control_.digests.source)

    const expected = await canonicalContents(ddb, source)
    expect(await canonicalContents(ddb, target)).toEqual(expected)
    // ONE backup, every item exactly once (the reader refuses a key seen twice), and no data
    // file left beside the ones its manifest lists.
    const location = second.outputs['backup-location']!
    expect(location).toMatch(new RegExp(`/moves/${source}/\\d{8}T\\d{6}Z-run5151-1/$`))
    const backup = await readS3Backup(s3, location)
    expect(backup.items).toEqual(expected)
    expect(backup.summary.itemCount).toBe(items.length)
    expect(backup.summary.dynamodbTableMover.contentDigest.digest).toBe(control_.digests.source)
    const folder = location.replace(`s3://${bucket}/`, '')
    const dataKeys = (await listKeys(s3, bucket, folder)).filter((k) => k.includes('/data/'))
    expect(dataKeys.sort()).toEqual(backup.files.map((f) => f.dataFileS3Key).sort())
    // The checkpoint has served: gone once the copy is proven.
    expect(await readJson(checkpointKey)).toBeUndefined()
  })
})
