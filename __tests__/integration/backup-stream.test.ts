// Backups stream to moto's S3 as multipart uploads while they are written: nothing of the
// table under backup-dir, every part checked, the object proven without a download, and
// the real reader reads it back.
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  type S3Client
} from '@aws-sdk/client-s3'
import type { HttpRequest } from '@smithy/types'
import { openBackupSource } from '../../src/backup/reader.js'
import { BackupWriter, type BackupOptions } from '../../src/backup/writer.js'
import { ActionError } from '../../src/errors.js'
import type { Item } from '../../src/types.js'
import { ContentDigest } from '../../src/verify/digest.js'
import { listKeys } from '../support/backups.js'
import { localS3Client, uniqueName } from '../support/env.js'

const MiB = 1024 * 1024
const s3 = localS3Client()
const bucket = uniqueName('stream-backups')
let root: string

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
})

afterAll(() => {
  s3.destroy()
})

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'backup-stream-'))
})

afterEach(() => {
  rmSync(root, { recursive: true, force: true })
})

/** Items of about 850 bytes of JSON that gzip shrinks only to about 3/4. */
function randomItems(count: number, from = 0): Item[] {
  return Array.from({ length: count }, (_, i) => ({
    pk: { S: `item-${String(from + i).padStart(6, '0')}` },
    n: { N: String(from + i) },
    data: { S: randomBytes(600).toString('base64') }
  }))
}

function open(prefix: string, overrides: Partial<BackupOptions> = {}, client: S3Client = s3) {
  return BackupWriter.open({
    source: {
      name: 'orders',
      description: { TableName: 'orders', TableArn: 'arn:aws:dynamodb:us-east-1:1:table/orders' },
      timeToLive: 'unsupported',
      pointInTimeRecovery: 'unsupported',
      tags: 'unsupported'
    },
    localRoot: root,
    keepLocal: false,
    s3: { client, location: { bucket, prefix } },
    runLabel: 'run-1',
    // moto, like S3, refuses parts under 5 MiB but the last.
    partBytes: 5 * MiB,
    warn: () => undefined,
    ...overrides
  })
}

/** Every file under backup-dir, relative to it. */
function localFiles(): string[] {
  if (!existsSync(root)) return []
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
}

async function readAll(location: string, client: S3Client = s3) {
  const source = await openBackupSource(location, client)
  const items: Item[] = []
  await source.read(async (page) => {
    items.push(...page)
  })
  return { source, items }
}

/** An S3 client whose UploadPart bodies are changed on the way, after their checksum is set. */
function corruptingClient(): S3Client {
  const client = localS3Client()
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as HttpRequest
      if (context.commandName === 'UploadPartCommand' && Buffer.isBuffer(request.body)) {
        const body = Buffer.from(request.body)
        const at = Math.floor(body.length / 2)
        body[at] = (body[at] ?? 0) ^ 0xff
        request.body = body
      }
      return next(args)
    },
    { step: 'finalizeRequest', name: 'corruptUploadPart' }
  )
  return client
}

describe('backup streamed to S3', () => {
  it('streams a backup in parts with nothing of it on disk, and the reader reads it all back', async () => {
    const prefix = uniqueName('many')
    const writer = await open(prefix, { maxFileBytes: 9_000_000 })
    const items = randomItems(16_000)
    const digest = new ContentDigest()
    let dataOnDisk = 0
    for (let at = 0; at < items.length; at += 500) {
      const page = items.slice(at, at + 500)
      page.forEach((item) => digest.add(item))
      await writer.write(page)
      dataOnDisk = Math.max(dataOnDisk, localFiles().filter((f) => f.includes('/data/')).length)
    }
    // backup-dir holds small files only while the backup is written.
    expect(dataOnDisk).toBe(0)
    expect(localFiles().every((file) => !file.endsWith('.gz'))).toBe(true)
    const result = await writer.finish(digest.summary())
    expect(localFiles()).toEqual([])
    expect(result.localDir).toBeUndefined()
    expect(result.files.length).toBe(2)

    // The first data file went up in two parts; moto's ETag and composite checksum say so.
    const heads = await Promise.all(
      result.files.map((file) =>
        s3.send(
          new HeadObjectCommand({
            Bucket: bucket,
            Key: file.dataFileS3Key,
            ChecksumMode: 'ENABLED'
          })
        )
      )
    )
    expect(heads[0]!.ETag).toMatch(/-2"$/)
    expect(heads.map((head) => head.ContentLength)).toEqual(result.files.map((f) => f.size))
    expect(heads.every((head) => head.ChecksumSHA256 !== undefined)).toBe(true)
    expect(result.files.map((file) => file.etag)).toEqual(
      heads.map((head) => head.ETag!.replace(/"/g, ''))
    )

    // The real reader checks each file's MD5, SHA-256, size and item count on the way.
    const { source, items: read } = await readAll(result.s3Folder!)
    expect(source).toMatchObject({
      kind: 'action',
      itemCount: items.length,
      digest: digest.summary()
    })
    expect(read.length).toBe(items.length)
    expect(JSON.stringify(read)).toBe(JSON.stringify(items))
    const again = new ContentDigest()
    read.forEach((item) => again.add(item))
    expect(again.summary()).toEqual(digest.summary())
  })

  it('backs up an empty table as one data file holding nothing', async () => {
    const prefix = uniqueName('empty')
    const writer = await open(prefix)
    const digest = new ContentDigest()
    const result = await writer.finish(digest.summary())
    expect(result.files).toMatchObject([{ itemCount: 0 }])
    const { source, items } = await readAll(result.s3Folder!)
    expect(source).toMatchObject({ kind: 'action', itemCount: 0 })
    expect(items).toEqual([])
  })

  it('keeps a local copy byte for byte the same as S3 when asked (an artifact)', async () => {
    const prefix = uniqueName('kept')
    const writer = await open(prefix, { keepLocal: true, maxFileBytes: 400_000 })
    const items = randomItems(1_000)
    const digest = new ContentDigest()
    for (let at = 0; at < items.length; at += 250) {
      const page = items.slice(at, at + 250)
      page.forEach((item) => digest.add(item))
      await writer.write(page)
    }
    const result = await writer.finish(digest.summary())
    expect(result.files.length).toBeGreaterThan(1)
    expect(result.locations).toEqual([result.s3Folder, result.localDir])
    const fromS3 = await readAll(result.s3Folder!)
    const fromDisk = await readAll(result.localDir!)
    expect(JSON.stringify(fromS3.items)).toBe(JSON.stringify(items))
    expect(JSON.stringify(fromDisk.items)).toBe(JSON.stringify(items))
    expect(fromDisk.source).toMatchObject({ itemCount: items.length, digest: digest.summary() })
  })

  it('catches a part changed on the way (moto checks no part checksum), leaving no object', async () => {
    const prefix = uniqueName('corrupt')
    const client = corruptingClient()
    try {
      const writer = await open(prefix, {}, client)
      const items = randomItems(200)
      await writer.write(items)
      const failure = await writer
        .finish({ count: items.length, digest: 'x' })
        .catch((error: unknown) => error)
      expect(failure).toBeInstanceOf(ActionError)
      expect(failure).toMatchObject({
        code: 'backup.readBackFailed',
        message: expect.stringContaining("S3's composite checksum of its parts is")
      })
      const keys = await listKeys(s3, bucket, `${prefix}/`)
      expect(keys.filter((key) => key.endsWith('.json.gz'))).toEqual([])
      expect(keys.filter((key) => key.endsWith('manifest-summary.json'))).toEqual([])
      const uploads = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix })
      )
      expect(uploads.Uploads ?? []).toEqual([])
    } finally {
      client.destroy()
    }
  })

  it('aborts the multipart upload of a backup that is aborted, leaving no part or object', async () => {
    const prefix = uniqueName('aborted')
    let partsSent = 0
    const client = localS3Client()
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UploadPartCommand') partsSent++
        return next(args)
      },
      { step: 'initialize', name: 'countParts' }
    )
    try {
      const writer = await open(prefix, {}, client)
      // About 8 MiB of gzip: one 5 MiB part sent, the rest in the part being filled.
      for (let at = 0; at < 12_000; at += 1_000) await writer.write(randomItems(1_000, at))
      expect(partsSent).toBeGreaterThanOrEqual(1)
      await writer.abort()
      const uploads = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix })
      )
      expect(uploads.Uploads ?? []).toEqual([])
      const keys = await listKeys(s3, bucket, `${prefix}/`)
      expect(keys.filter((key) => key.includes('/data/'))).toEqual([])
      expect(keys.filter((key) => key.endsWith('manifest-summary.json'))).toEqual([])
    } finally {
      client.destroy()
    }
  })
})

describe('a resumed backup', () => {
  it("keeps the checkpoint's data files, removes what came after, and reads back as one export", async () => {
    const prefix = uniqueName('resume')
    const first = await open(prefix, { maxFileItems: 100 })
    const all = randomItems(250)
    for (let at = 0; at < 230; at += 50) await first.write(all.slice(at, Math.min(230, at + 50)))
    for (let waited = 0; first.storedFiles().length < 2 && waited < 10_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(first.storedFiles()).toHaveLength(2)
    // The attempt dies here: the checkpoint it saved holds only the first data file; the
    // second was completed after it, a third was being written, and an upload was open.
    const kept = first.storedFiles().slice(0, 1)
    const dataDir = kept[0]!.dataFileS3Key.slice(0, kept[0]!.dataFileS3Key.lastIndexOf('/') + 1)
    await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: `${dataDir}00002-aaaaaaaaaaaa.json.gz`
      })
    )

    const second = await open(prefix, {
      maxFileItems: 100,
      resume: { exportId: first.exportId, startTime: first.startTime, files: kept }
    })
    const uploads = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: dataDir })
    )
    expect(uploads.Uploads ?? []).toEqual([])
    expect((await listKeys(s3, bucket, dataDir)).sort()).toEqual([kept[0]!.dataFileS3Key])
    for (let at = 100; at < 250; at += 50) await second.write(all.slice(at, at + 50))
    const digest = new ContentDigest()
    for (const item of all) digest.add(item)
    const result = await second.finish(digest.summary())
    expect(result.exportId).toBe(first.exportId)
    expect(result.itemCount).toBe(250)
    const { items } = await readAll(result.s3Folder!)
    const keys = (list: Item[]): string[] => list.map((i) => JSON.stringify(i.pk)).sort()
    expect(keys(items)).toEqual(keys(all))
    expect((await listKeys(s3, bucket, dataDir)).sort()).toEqual(
      result.files.map((f) => f.dataFileS3Key).sort()
    )
  })

  it('refuses to go on when a kept data file is missing or changed', async () => {
    const prefix = uniqueName('resume-changed')
    const first = await open(prefix, { maxFileItems: 50 })
    await first.write(randomItems(60))
    for (let waited = 0; first.storedFiles().length < 1 && waited < 10_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const kept = first.storedFiles().map((f) => ({ ...f, size: f.size + 1 }))
    const error = await open(prefix, {
      resume: { exportId: first.exportId, startTime: first.startTime, files: kept }
    }).then(
      () => undefined,
      (e: unknown) => e as ActionError
    )
    expect(error?.code).toBe('resume.backupChanged')
    expect(error?.message).toContain('Delete the checkpoint to copy from the start.')
  })
})
