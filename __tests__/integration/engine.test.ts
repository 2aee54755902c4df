// The engine's pass against DynamoDB Local and moto's S3: a page counts as durable only once
// the target acknowledged its writes and the backup data file holding it is complete in S3,
// and the durable digest at the end is the pass's digest (the basis of resume).
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { BackupWriter } from '../../src/backup/writer.js'
import { BatchWriter } from '../../src/dynamo/write.js'
import { runPass, type DurableProgress } from '../../src/engine/pass.js'
import { listKeys } from '../support/backups.js'
import { uniqueName, useEmulators } from '../support/env.js'
import { canonicalContents, createTable, seed, tableDefinition } from '../support/tables.js'
import {
  everyTypeItem,
  largeItem,
  prototypeNamesItem,
  sizedItem
} from '../../__fixtures__/items.js'
import { scanTable } from '../../src/dynamo/scan.js'
import { ContentDigest, itemHash, keyText } from '../../src/verify/digest.js'

const { ddb, s3, bucket } = useEmulators('engine-backups')
let root: string

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'engine-'))
})

afterEach(() => {
  rmSync(root, { recursive: true, force: true })
})

/** Copies a seeded table with a backup to S3 in data files of `maxFileBytes`; what was durable when. */
async function passWithBackup(total: number, maxFileBytes: number) {
  const source = uniqueName('engine-src')
  const target = uniqueName('engine-dst')
  await createTable(ddb, tableDefinition(source))
  await createTable(ddb, tableDefinition(target))
  await seed(
    ddb,
    source,
    Array.from({ length: total }, (_, i) => sizedItem('p', i, 400))
  )
  const prefix = uniqueName('durable')
  const backup = await BackupWriter.open({
    source: {
      name: source,
      description: { TableName: source },
      timeToLive: 'unsupported',
      pointInTimeRecovery: 'unsupported',
      tags: 'unsupported'
    },
    localRoot: root,
    keepLocal: false,
    s3: { client: s3, location: { bucket, prefix } },
    runLabel: 'run-1',
    maxFileBytes,
    warn: () => undefined
  })
  const writer = new BatchWriter(ddb, {
    table: target,
    keyAttributes: ['pk', 'sk'],
    maxInFlight: 8,
    retryTimeoutMs: 30_000
  })
  const updates: number[] = []
  let last: DurableProgress | undefined
  const pass = await runPass(
    { kind: 'table', client: ddb, table: source, totalSegments: 4 },
    { backup, writer },
    {
      retryTimeoutMs: 30_000,
      onDurable: (progress) => {
        last = progress
        updates.push(progress.items)
      }
    }
  )
  await new Promise((resolve) => setImmediate(resolve))
  const beforeFinish = last?.items ?? 0
  const result = await backup.finish(pass.digest.summary())
  await new Promise((resolve) => setImmediate(resolve))
  const dataFiles = (await listKeys(s3, bucket, prefix)).filter((k) => k.includes('/data/'))
  return {
    pass,
    beforeFinish,
    last,
    updates,
    fileCounts: result.files.map((f) => f.itemCount),
    dataFiles,
    targetItems: (await canonicalContents(ddb, target)).size
  }
}

describe('engine pass (DynamoDB Local, moto S3)', () => {
  it('counts nothing durable while the one data file holding it is still open', async () => {
    const run = await passWithBackup(600, 100 * 1024 * 1024)
    expect(run.pass.items).toBe(600)
    expect(run.targetItems).toBe(600)
    // Every write is acknowledged, but the backup's only data file completes at finish.
    expect(run.beforeFinish).toBe(0)
    expect(run.fileCounts).toEqual([600])
    expect(run.last?.items).toBe(600)
    expect(run.last?.positions.every((p) => p.done)).toBe(true)
    expect(run.last?.digest.digest).toBe(run.pass.digest.digest)
  })

  it('advances with each data file completed in S3, to the whole table and its digest', async () => {
    const total = 1200
    // Data files of about 40 KB of JSON: a page or two each, most complete during the pass.
    const run = await passWithBackup(total, 40_000)
    expect(run.pass.items).toBe(total)
    expect(run.fileCounts.length).toBeGreaterThan(2)
    expect(run.dataFiles).toHaveLength(run.fileCounts.length)
    // What was durable before finish is exactly the items of data files complete by then.
    const completeBefore = run.fileCounts.map((_, k) =>
      run.fileCounts.slice(0, k + 1).reduce((a, b) => a + b, 0)
    )
    expect(run.beforeFinish).toBeGreaterThan(0)
    expect(completeBefore).toContain(run.beforeFinish)
    expect(run.last?.items).toBe(total)
    expect(run.last?.positions).toHaveLength(4)
    expect(run.last?.positions.every((p) => p.done)).toBe(true)
    expect(run.last?.digest.digest).toBe(run.pass.digest.digest)
    expect(run.updates).toEqual([...run.updates].sort((a, b) => a - b))
    expect(run.targetItems).toBe(total)
  })
})

describe('Scan answers from DynamoDB Local', () => {
  it('are read without building items, and give the digest and keys the parsed items give', async () => {
    const table = uniqueName('engine-fast')
    await createTable(ddb, tableDefinition(table))
    const items = [
      everyTypeItem('a'),
      everyTypeItem('b'),
      largeItem('big'),
      largeItem('bin', 'B'),
      prototypeNamesItem('proto'),
      ...Array.from({ length: 300 }, (_, i) => sizedItem('s', i, 300))
    ]
    await seed(ddb, table, items)
    const expected = new ContentDigest()
    for (const item of items) expected.add(item)
    const seen = new ContentDigest()
    const keys = ['pk', 'sk']
    const mismatched: number[] = []
    const totals = await scanTable(
      ddb,
      { table, segments: 3, retryTimeoutMs: 30_000, keyAttributes: keys },
      async (page) => {
        for (let i = 0; i < page.items.length; i++) {
          seen.addHash(page.items.hash(i))
          // The fast reader's hash and key text against the general path's, item by item.
          const parsed = page.items.item(i)
          if (
            !page.items.hash(i).equals(itemHash(parsed)) ||
            page.items.keyText(i, keys) !== keyText(parsed, keys)
          )
            mismatched.push(i)
        }
      }
    )
    expect(totals.pages).toBeGreaterThan(3)
    expect(totals.parsedPages).toBe(0)
    expect(mismatched).toEqual([])
    expect(seen.summary()).toEqual(expected.summary())
  })
})
