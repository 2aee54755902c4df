import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { gunzipSync } from 'node:zlib'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type UploadPartCommandInput
} from '@aws-sdk/client-s3'
import { mockClient } from 'aws-sdk-client-mock'
import { ActionError } from '../../../src/errors.js'
import { BackupWriter, type BackupOptions } from '../../../src/backup/writer.js'
import type { DataFileEntry } from '../../../src/backup/format.js'
import type { Item } from '../../../src/types.js'

const client = new S3Client({ region: 'us-east-1' })
const s3 = mockClient(client)
const BUCKET = 'backups'
const DIGEST = { count: 0, digest: `sha256-sum:${'0'.repeat(64)}` }

const sha256 = (bytes: Buffer): Buffer => createHash('sha256').update(bytes).digest()
const md5Base64 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('base64')

/** Items whose text gzip cannot shrink much, so a few of them fill several small parts. */
function randomItems(count: number, bytes = 400, from = 0): Item[] {
  return Array.from({ length: count }, (_, i) => ({
    pk: { S: `item-${from + i}` },
    data: { S: randomBytes(bytes).toString('base64') }
  }))
}

interface FakeUpload {
  key: string
  parts: Map<number, Buffer>
}

interface FakeS3Behaviour {
  /** Runs before UploadPart answers (e.g. waits: a slow upload). */
  beforePart?: (input: UploadPartCommandInput) => Promise<void>
  /** The checksum UploadPart answers with, given the one sent. */
  partChecksum?: (partNumber: number, sent: string | undefined) => string | undefined
  /** The checksum HeadObject reports, given the true composite one. */
  headChecksum?: (composite: string) => string | undefined
  /** Bytes GetObject returns for a data file, given the stored ones. */
  dataBytes?: (stored: Buffer) => Buffer
  /** Fails UploadPart with this error. */
  partError?: (partNumber: number) => Error | undefined
  /** Answers a ranged GetObject with the whole object, as a store may (HTTP 200). */
  ignoreRange?: boolean
}

/**
 * An in-memory S3 behind aws-sdk-client-mock: multipart uploads assembled from their parts,
 * HeadObject with Amazon S3's composite SHA-256 (`<base64>-<parts>`), ranged GetObject.
 */
class FakeS3 {
  readonly objects = new Map<string, Buffer>()
  readonly composites = new Map<string, string>()
  readonly uploads = new Map<string, FakeUpload>()
  partsInFlight = 0
  maxPartsInFlight = 0
  private next = 1

  constructor(private readonly behaviour: FakeS3Behaviour = {}) {
    s3.on(CreateMultipartUploadCommand).callsFake(async (input: { Key: string }) => {
      const id = `upload-${this.next++}`
      this.uploads.set(id, { key: input.Key, parts: new Map() })
      return { UploadId: id }
    })
    s3.on(UploadPartCommand).callsFake(async (input: UploadPartCommandInput) => {
      this.partsInFlight++
      this.maxPartsInFlight = Math.max(this.maxPartsInFlight, this.partsInFlight)
      try {
        await this.behaviour.beforePart?.(input)
        const failure = this.behaviour.partError?.(input.PartNumber ?? 0)
        if (failure) throw failure
        const body = Buffer.from(input.Body as Buffer)
        const upload = this.uploads.get(input.UploadId ?? '')
        if (!upload) throw new Error('NoSuchUpload')
        upload.parts.set(input.PartNumber ?? 0, body)
        const checksum = this.behaviour.partChecksum
          ? this.behaviour.partChecksum(input.PartNumber ?? 0, input.ChecksumSHA256)
          : sha256(body).toString('base64')
        return {
          ETag: `"${createHash('md5').update(body).digest('hex')}"`,
          ChecksumSHA256: checksum
        }
      } finally {
        this.partsInFlight--
      }
    })
    s3.on(CompleteMultipartUploadCommand).callsFake(
      async (input: { UploadId: string; MultipartUpload: { Parts: { PartNumber: number }[] } }) => {
        const upload = this.uploads.get(input.UploadId)
        if (!upload) throw new Error('NoSuchUpload')
        const parts = input.MultipartUpload.Parts.map((p) => upload.parts.get(p.PartNumber)!)
        this.objects.set(upload.key, Buffer.concat(parts))
        const composite = createHash('sha256')
        for (const part of parts) composite.update(sha256(part))
        this.composites.set(upload.key, `${composite.digest('base64')}-${parts.length}`)
        this.uploads.delete(input.UploadId)
        return { ETag: `"etag-${parts.length}"` }
      }
    )
    s3.on(AbortMultipartUploadCommand).callsFake(async (input: { UploadId: string }) => {
      this.uploads.delete(input.UploadId)
      return {}
    })
    s3.on(PutObjectCommand).callsFake(async (input: { Key: string; Body: Buffer }) => {
      this.objects.set(input.Key, Buffer.from(input.Body))
      return {}
    })
    s3.on(DeleteObjectCommand).callsFake(async (input: { Key: string }) => {
      this.objects.delete(input.Key)
      return {}
    })
    s3.on(HeadObjectCommand).callsFake(async (input: { Key: string }) => {
      const object = this.objects.get(input.Key)
      if (!object) throw new Error('NotFound')
      const composite = this.composites.get(input.Key)
      const reported =
        composite !== undefined && this.behaviour.headChecksum
          ? this.behaviour.headChecksum(composite)
          : composite
      return { ContentLength: object.length, ChecksumSHA256: reported }
    })
    s3.on(GetObjectCommand).callsFake(async (input: { Key: string; Range?: string }) => {
      let object = this.objects.get(input.Key)
      if (!object) throw new Error('NoSuchKey')
      if (this.composites.has(input.Key) && this.behaviour.dataBytes)
        object = this.behaviour.dataBytes(object)
      const range = this.behaviour.ignoreRange
        ? null
        : /^bytes=(\d+)-(\d+)$/.exec(input.Range ?? '')
      const bytes = range ? object.subarray(Number(range[1]), Number(range[2]) + 1) : object
      return { Body: Readable.from([bytes]), ContentLength: bytes.length }
    })
  }

  dataKeys(): string[] {
    return [...this.objects.keys()].filter((key) => key.endsWith('.json.gz'))
  }
}

let root: string

beforeEach(() => {
  s3.reset()
  root = mkdtempSync(path.join(tmpdir(), 'writer-'))
})

afterEach(() => {
  rmSync(root, { recursive: true, force: true })
})

function open(
  overrides: Partial<BackupOptions> = {},
  { toS3 = true }: { toS3?: boolean } = {}
): Promise<BackupWriter> {
  const options: BackupOptions = {
    source: {
      name: 'orders',
      description: { TableName: 'orders', TableArn: 'arn:aws:dynamodb:us-east-1:1:table/orders' },
      timeToLive: 'unsupported',
      pointInTimeRecovery: 'unsupported',
      tags: 'unsupported'
    },
    localRoot: root,
    keepLocal: false,
    s3: { client, location: { bucket: BUCKET, prefix: 'daily' } },
    runLabel: 'run-1',
    partBytes: 4096,
    partsInFlight: 2,
    warn: () => undefined,
    ...overrides
  }
  if (!toS3) delete options.s3
  return BackupWriter.open(options)
}

/** Every file under the backup root, relative to it. */
function localFiles(): string[] {
  if (!existsSync(root)) return []
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
}

function lines(gz: Buffer): string[] {
  return gunzipSync(gz).toString('utf8').split('\n').filter(Boolean)
}

const untilCalled = async (command: Parameters<typeof s3.commandCalls>[0], count: number) => {
  for (let i = 0; i < 500 && s3.commandCalls(command).length < count; i++)
    await new Promise((resolve) => setTimeout(resolve, 2))
}

/** Writes pages the way the pipeline does: on a failed write, abort; else finish. */
async function backUp(writer: BackupWriter, pages: Item[][]) {
  try {
    for (const page of pages) await writer.write(page)
  } catch (error) {
    await writer.abort()
    throw error
  }
  return writer.finish(DIGEST)
}

describe('writer.ts', () => {
  it('streams each data file to S3 in SHA-256-checked parts, with nothing of it on disk', async () => {
    const fake = new FakeS3()
    const writer = await open()
    const items = randomItems(300)
    for (let at = 0; at < items.length; at += 50) {
      await writer.write(items.slice(at, at + 50))
      // backup-dir holds the small files only: no data file, no part.
      expect(localFiles().filter((f) => f.includes('/data/'))).toEqual([])
    }
    const result = await writer.finish(DIGEST)

    const [key] = fake.dataKeys()
    const object = fake.objects.get(key!)!
    expect(lines(object)).toEqual(items.map((item) => `{"Item":${JSON.stringify(item)}}`))
    const entry = result.files[0] as DataFileEntry
    expect(entry).toMatchObject({
      itemCount: 300,
      dataFileS3Key: key,
      size: object.length,
      md5Checksum: md5Base64(object),
      sha256: sha256(object).toString('hex')
    })
    expect(entry.etag).toMatch(/^etag-\d+$/)

    const create = s3.commandCalls(CreateMultipartUploadCommand)
    expect(create).toHaveLength(1)
    expect(create[0]!.args[0].input).toMatchObject({ Bucket: BUCKET, ChecksumAlgorithm: 'SHA256' })
    const parts = s3.commandCalls(UploadPartCommand).map((call) => call.args[0].input)
    expect(parts.length).toBeGreaterThan(5)
    for (const [i, part] of parts.entries()) {
      expect(part.PartNumber).toBe(i + 1)
      expect(part.ChecksumSHA256).toBe(sha256(part.Body as Buffer).toString('base64'))
      if (i < parts.length - 1) expect((part.Body as Buffer).length).toBe(4096)
    }
    expect(fake.maxPartsInFlight).toBeLessThanOrEqual(2)
    const complete = s3.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input
    expect(complete.MultipartUpload?.Parts?.map((p) => p.ChecksumSHA256)).toEqual(
      parts.map((p) => p.ChecksumSHA256)
    )
    const head = s3
      .commandCalls(HeadObjectCommand)
      .map((call) => call.args[0].input)
      .find((input) => input.Key === key)
    expect(head).toMatchObject({ ChecksumMode: 'ENABLED' })
    // One ranged read of the first bytes, no download of the whole object.
    const reads = s3
      .commandCalls(GetObjectCommand)
      .map((call) => call.args[0].input)
      .filter((input) => input.Key === key)
    expect(reads).toEqual([{ Bucket: BUCKET, Key: key, Range: `bytes=0-${object.length - 1}` }])
    expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0)
    expect(result.locations).toEqual([`s3://${BUCKET}/daily/orders/run-1/`])
    expect(localFiles()).toEqual([])
  })

  it('says items are stored only once the data file holding them is complete and proven', async () => {
    const fake = new FakeS3()
    // Data files of about 20 KB: the first write fills one, the second starts the next.
    const writer = await open({ maxFileBytes: 20_000 })
    let firstStored = false
    let secondStored = false
    await writer.write(randomItems(60, 400, 0))
    const first = writer.stored().then(() => (firstStored = true))
    await writer.write(randomItems(10, 400, 60))
    const second = writer.stored().then(() => (secondStored = true))
    await first
    // The first data file is complete in S3; the second is still open.
    expect(fake.dataKeys()).toHaveLength(1)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(secondStored).toBe(false)
    await writer.finish(DIGEST)
    await second
    expect(firstStored && secondStored).toBe(true)
    expect(fake.dataKeys()).toHaveLength(2)
  })

  it('ends a data file at maxFileItems too, however small the items', async () => {
    const fake = new FakeS3()
    const writer = await open({ maxFileItems: 40 })
    for (let at = 0; at < 100; at += 20) await writer.write(randomItems(20, 20, at))
    const result = await writer.finish(DIGEST)
    expect(result.files.map((f) => f.itemCount)).toEqual([40, 40, 20])
    expect(fake.dataKeys()).toHaveLength(3)
  })

  it('rejects stored() once the backup is aborted', async () => {
    new FakeS3()
    const writer = await open()
    await writer.write(randomItems(5))
    const stored = writer.stored()
    await writer.abort()
    await expect(stored).rejects.toThrow('stopped before it finished')
  })

  it('reads only the first MiB of a larger data file, enough for its first line', async () => {
    const fake = new FakeS3()
    const writer = await open({ partBytes: 512 * 1024 })
    const items = randomItems(1600, 900)
    await backUp(writer, [items.slice(0, 800), items.slice(800)])
    const [key] = fake.dataKeys()
    expect(fake.objects.get(key!)!.length).toBeGreaterThan(1024 * 1024)
    const reads = s3
      .commandCalls(GetObjectCommand)
      .map((call) => call.args[0].input)
      .filter((input) => input.Key === key)
    expect(reads.map((input) => input.Range)).toEqual([`bytes=0-${1024 * 1024 - 1}`])
  })

  it('proves a larger data file when the store answers the ranged read with the whole object', async () => {
    new FakeS3({ ignoreRange: true })
    const writer = await open({ partBytes: 512 * 1024 })
    const items = randomItems(1600, 900)
    const result = await backUp(writer, [items.slice(0, 800), items.slice(800)])
    expect(result.itemCount).toBe(1600)
  })

  it('holds write() back while a slow UploadPart holds the parts in flight', async () => {
    let release: () => void = () => undefined
    const slow = new Promise<void>((resolve) => (release = resolve))
    new FakeS3({ beforePart: () => slow })
    const writer = await open({ partBytes: 1024, partsInFlight: 1 })
    let resolved = false
    const written = writer.write(randomItems(100)).then(() => {
      resolved = true
    })
    await untilCalled(UploadPartCommand, 1)
    await new Promise((resolve) => setTimeout(resolve, 100))
    // One part in flight, one full and waiting for its slot; the page's rest waits behind.
    expect(s3.commandCalls(UploadPartCommand)).toHaveLength(1)
    expect(resolved).toBe(false)
    release()
    await written
    expect(resolved).toBe(true)
    await writer.finish(DIGEST)
  })

  it('fails the backup with a plain error when S3 reports another checksum for a part', async () => {
    const fake = new FakeS3({
      partChecksum: (n, sent) => (n === 2 ? sha256(Buffer.from('other')).toString('base64') : sent)
    })
    const writer = await open()
    const failure = await backUp(writer, [randomItems(200)]).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(ActionError)
    expect(failure).toMatchObject({
      code: 'backup.readBackFailed',
      message: expect.stringMatching(
        /^Part 2 of backup object s3:\/\/backups\/daily\/orders\/run-1\/AWSDynamoDB\/.+\.json\.gz did not arrive intact: S3 reports SHA-256 .+, but the part written has .+\. The upload was stopped; run the backup again\.$/
      )
    })
    const uploadId = s3.commandCalls(CreateMultipartUploadCommand).length
    expect(uploadId).toBe(1)
    expect(s3.commandCalls(AbortMultipartUploadCommand)[0]!.args[0].input).toMatchObject({
      Bucket: BUCKET,
      UploadId: 'upload-1'
    })
    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0)
    expect(fake.uploads.size).toBe(0)
    expect([...fake.objects.keys()].some((key) => key.endsWith('manifest-summary.json'))).toBe(
      false
    )
  })

  it('refuses a part S3 does not confirm with a checksum (a store that checks none)', async () => {
    new FakeS3({ partChecksum: () => undefined })
    const writer = await open()
    await expect(backUp(writer, [randomItems(20)])).rejects.toMatchObject({
      code: 'backup.readBackFailed',
      message: expect.stringContaining('S3 did not confirm the SHA-256 of part 1')
    })
    expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1)
  })

  it("fails when S3's composite checksum does not tie the parts, and deletes that object", async () => {
    const fake = new FakeS3({
      headChecksum: (composite) => `${sha256(Buffer.from(composite)).toString('base64')}-3`
    })
    const writer = await open()
    await expect(backUp(writer, [randomItems(100)])).rejects.toMatchObject({
      code: 'backup.readBackFailed',
      message: expect.stringContaining("S3's composite checksum of its parts is")
    })
    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(1)
    expect(fake.dataKeys()).toEqual([])
  })

  it('fails when the first bytes read back are not the gzip of the lines written', async () => {
    const fake = new FakeS3({ dataBytes: (stored) => Buffer.from(stored).fill(7, 10, 40) })
    const writer = await open()
    await expect(backUp(writer, [randomItems(30)])).rejects.toMatchObject({
      code: 'backup.readBackFailed',
      message: expect.stringMatching(/does not match what was written: its first bytes do not/)
    })
    expect(fake.dataKeys()).toEqual([])
  })

  it('aborts the multipart upload when the backup is aborted', async () => {
    const fake = new FakeS3()
    const writer = await open()
    await writer.write(randomItems(100))
    await untilCalled(UploadPartCommand, 2)
    await writer.abort()
    expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1)
    expect(s3.commandCalls(AbortMultipartUploadCommand)[0]!.args[0].input).toMatchObject({
      Bucket: BUCKET,
      UploadId: 'upload-1'
    })
    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0)
    expect(fake.uploads.size).toBe(0)
    await expect(writer.write(randomItems(1))).rejects.toBeInstanceOf(ActionError)
  })

  it('fails write() or finish() on a failed UploadPart, naming the object, and aborts', async () => {
    const fake = new FakeS3({
      partError: (n) =>
        n === 3
          ? new S3ServiceException({
              name: 'InternalError',
              $fault: 'server',
              $metadata: { httpStatusCode: 500 },
              message: 'We encountered an internal error. Please try again.'
            })
          : undefined
    })
    const writer = await open()
    await expect(backUp(writer, [randomItems(100), randomItems(100)])).rejects.toMatchObject({
      code: 'backup.failed',
      message: expect.stringMatching(
        /^Backup failed while writing s3:\/\/backups\/daily\/orders\/run-1\/AWSDynamoDB\/.+\.json\.gz: We encountered an internal error/
      )
    })
    expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1)
    expect(fake.uploads.size).toBe(0)
  })

  it('warns when an upload cannot be aborted', async () => {
    new FakeS3({ partChecksum: () => 'x' })
    s3.on(AbortMultipartUploadCommand).rejects(new Error('AccessDenied'))
    const warnings: string[] = []
    const writer = await open({ warn: (message) => warnings.push(message) })
    await expect(backUp(writer, [randomItems(20)])).rejects.toBeInstanceOf(ActionError)
    expect(warnings).toEqual([
      expect.stringMatching(
        /^The incomplete multipart upload of s3:\/\/backups\/.+ could not be aborted \(Error\); its parts stay in the bucket until a lifecycle rule \(AbortIncompleteMultipartUpload\) removes them\.$/
      )
    ])
  })

  it('writes the same bytes to the local copy and to S3 when the local copy is kept', async () => {
    const fake = new FakeS3()
    const writer = await open({ keepLocal: true, maxFileBytes: 20_000 })
    const items = randomItems(120)
    const result = await backUp(writer, [items.slice(0, 60), items.slice(60)])
    expect(result.files.length).toBeGreaterThan(1)
    expect(result.localDir).toBe(path.join(root, 'orders', 'run-1'))
    for (const entry of result.files) {
      const relative = entry.dataFileS3Key.slice(entry.dataFileS3Key.indexOf('AWSDynamoDB/'))
      const local = readFileSync(path.join(result.localDir!, relative))
      expect(local.equals(fake.objects.get(entry.dataFileS3Key)!)).toBe(true)
      expect(entry.sha256).toBe(sha256(local).toString('hex'))
    }
    expect(result.files.flatMap((entry) => lines(fake.objects.get(entry.dataFileS3Key)!))).toEqual(
      items.map((item) => `{"Item":${JSON.stringify(item)}}`)
    )
    expect(result.locations).toEqual([`s3://${BUCKET}/daily/orders/run-1/`, result.localDir])
  })

  it('writes one data file holding nothing for an empty table', async () => {
    const fake = new FakeS3()
    const writer = await open()
    const result = await writer.finish(DIGEST)
    expect(result.files).toMatchObject([{ itemCount: 0 }])
    const [key] = fake.dataKeys()
    expect(gunzipSync(fake.objects.get(key!)!).length).toBe(0)
  })

  it('keeps the data files local, as before, without S3', async () => {
    const writer = await open({ keepLocal: true }, { toS3: false })
    const items = randomItems(10)
    const result = await backUp(writer, [items])
    expect(s3.calls()).toHaveLength(0)
    const file = localFiles().find((f) => f.endsWith('.json.gz'))!
    expect(lines(readFileSync(path.join(root, file)))).toHaveLength(10)
    expect(result.locations).toEqual([result.localDir])
  })
})
