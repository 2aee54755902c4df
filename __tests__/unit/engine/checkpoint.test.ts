import { describe, expect, it } from '@jest/globals'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import {
  CheckpointSaver,
  checkpointStore,
  loadCheckpoint,
  parseCheckpoint,
  type Checkpoint
} from '../../../src/engine/checkpoint.js'
import { ContentDigest } from '../../../src/verify/digest.js'
import type { DataFileEntry } from '../../../src/backup/format.js'

const expected = { source: 'orders', target: 'orders-v2', totalSegments: 4, runId: '7' }
const exportId = '01796332308333-5d2540f1'

function file(index: number, itemCount: number): DataFileEntry {
  return {
    itemCount,
    size: 1000 + index,
    dataFileS3Key: `p/orders/run-1/AWSDynamoDB/${exportId}/data/${String(index).padStart(5, '0')}-0123456789ab.json.gz`,
    md5Checksum: 'bWQ1',
    etag: 'etag',
    sha256: 'a'.repeat(64)
  }
}

function valid(): Checkpoint {
  const digest = new ContentDigest()
  for (let i = 0; i < 30; i++) digest.add({ pk: { S: `k${i}` } })
  return {
    version: 1,
    source: expected.source,
    target: expected.target,
    totalSegments: expected.totalSegments,
    targetWasEmpty: true,
    backup: {
      runLabel: '20261203T120000Z-run7-1',
      exportId,
      startTime: '2026-12-03T12:00:00.000Z'
    },
    files: [file(0, 10), file(1, 20)],
    positions: [
      { segment: 0, done: true },
      { segment: 2, lastEvaluatedKey: { pk: { S: 'k9' } }, done: false }
    ],
    items: 30,
    digest: digest.state(),
    savedAt: '2026-12-03T12:01:00.000Z'
  }
}

const parse = (value: unknown): Checkpoint =>
  parseCheckpoint(JSON.stringify(value), 's3://b/k', expected)
const refusal = (value: unknown): string => {
  try {
    parse(value)
  } catch (error) {
    expect((error as { code?: string }).code).toBe('resume.badCheckpoint')
    return (error as Error).message
  }
  throw new Error('accepted')
}

describe('engine/checkpoint.ts', () => {
  it('reads back what it saved', () => {
    expect(parse(valid())).toEqual(valid())
  })

  it('refuses a checkpoint it did not write, or of another pair or segment count', () => {
    expect(refusal('not json at all')).toContain('not a checkpoint of this version')
    expect(
      (() => {
        try {
          parseCheckpoint('{', 'x', expected)
        } catch (error) {
          return (error as Error).message
        }
        return ''
      })()
    ).toContain('it is not JSON')
    expect(refusal({ ...valid(), target: 'other' })).toContain(
      "another pair than 'orders -> orders-v2'"
    )
    expect(refusal({ ...valid(), totalSegments: 8 })).toContain('total-segments 8, this run has 4')
  })

  it('checks every path, count, key and digest before trusting any', () => {
    const bad: [string, (c: Checkpoint) => unknown][] = [
      [
        'a data file outside the export',
        (c) => ({ ...c, files: [{ ...c.files[0], dataFileS3Key: '../../etc/passwd' }, c.files[1]] })
      ],
      [
        'a file of another export',
        (c) => ({
          ...c,
          files: [
            {
              ...c.files[0],
              dataFileS3Key: c.files[0]!.dataFileS3Key.replace(exportId, '01796332308333-ffffffff')
            },
            c.files[1]
          ]
        })
      ],
      [
        'a negative count',
        (c) => ({ ...c, files: [{ ...c.files[0], itemCount: -1 }, c.files[1]] })
      ],
      ['a bad checksum', (c) => ({ ...c, files: [{ ...c.files[0], sha256: 'zz' }, c.files[1]] })],
      ['files that do not hold the items', (c) => ({ ...c, items: 31 })],
      [
        'a digest of another count',
        (c) => ({ ...c, files: [file(0, 11), file(1, 20)], items: 31 })
      ],
      ['a segment out of range', (c) => ({ ...c, positions: [{ segment: 4, done: true }] })],
      [
        'a segment twice',
        (c) => ({
          ...c,
          positions: [
            { segment: 1, done: true },
            { segment: 1, done: true }
          ]
        })
      ],
      [
        'a key that is not a key',
        (c) => ({
          ...c,
          positions: [{ segment: 1, done: false, lastEvaluatedKey: { pk: { M: {} } } }]
        })
      ],
      ['a run label with a path in it', (c) => ({ ...c, backup: { ...c.backup, runLabel: '..' } })],
      [
        "another run's backup folder",
        (c) => ({ ...c, backup: { ...c.backup, runLabel: '20261203T120000Z-run8-1' } })
      ],
      [
        'an export id this action does not make',
        (c) => ({ ...c, backup: { ...c.backup, exportId: '..' } })
      ],
      ['a data file twice', (c) => ({ ...c, files: [c.files[0], c.files[0]] })],
      ['data files out of order', (c) => ({ ...c, files: [c.files[1], c.files[0]] })],
      ['a digest that is not one', (c) => ({ ...c, digest: { version: 1, buckets: 'x' } })]
    ]
    for (const [what, change] of bad) {
      const message = refusal(change(valid()))
      expect([what, message]).toEqual([
        what,
        expect.stringContaining('Delete it to copy from the start.')
      ])
      // Values are never quoted back.
      expect(message).not.toContain('passwd')
    }
  })

  it('keeps checkpoints in backup-dir without S3, written whole, and finds none where none is', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'checkpoint-'))
    const store = checkpointStore({ backupDir: dir }, 'orders', 'orders-v2', '7')
    expect(store).toEqual({
      kind: 'local',
      file: path.join(dir, 'orders', '_resume', 'run7-to-orders-v2.json')
    })
    expect(await loadCheckpoint(store, expected)).toBeUndefined()
    const { version, source, target, totalSegments, targetWasEmpty, backup } = valid()
    const saver = new CheckpointSaver(
      store,
      { version, source, target, totalSegments, targetWasEmpty, backup },
      () => undefined
    )
    const digest = ContentDigest.fromState(valid().digest)
    // Progress that is not cut at data files is never saved, nor a cut whose files do not
    // hold its items.
    saver.offer({ positions: valid().positions, items: 30, digest }, [file(0, 10), file(1, 20)])
    saver.offer({ positions: valid().positions, items: 30, digest, files: 2 }, [
      file(0, 10),
      file(1, 25)
    ])
    await saver.flush()
    expect(saver.saved).toBe(0)
    // A cut at the end of the second file.
    saver.offer({ positions: valid().positions, items: 30, digest, files: 2 }, [
      file(0, 10),
      file(1, 20),
      file(2, 5)
    ])
    await saver.flush()
    expect(saver.saved).toBe(1)
    const loaded = await loadCheckpoint(store, expected)
    expect(loaded?.files).toEqual([file(0, 10), file(1, 20)])
    expect(loaded?.items).toBe(30)
    expect(JSON.parse(readFileSync(store.kind === 'local' ? store.file : '', 'utf8')).version).toBe(
      1
    )
  })

  it('places S3 checkpoints under the backup prefix, by source, run and target', () => {
    const store = checkpointStore(
      {
        s3: { client: {} as never, location: { bucket: 'b', prefix: 'moves/prod' } },
        backupDir: '/x'
      },
      'orders',
      'orders-v2',
      '12345'
    )
    expect(store).toMatchObject({
      kind: 's3',
      bucket: 'b',
      key: 'moves/prod/orders/_resume/run12345-to-orders-v2.json'
    })
  })
})
