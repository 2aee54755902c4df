import { createHash, type Hash } from 'node:crypto'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client
} from '@aws-sdk/client-s3'
import { Slots } from '../util/slots.js'
import { ActionError, toError } from '../errors.js'
import { s3Uri } from './s3.js'

/** S3's most parts in one upload. */
export const MAX_PARTS = 10_000

/**
 * Room for parts being uploaded, shared by every upload of one backup: a part waits here for
 * a slot before it is sent, and the bytes written behind it wait for that part (see
 * MultipartUpload.write). With `size` slots, a backup holds at most `size + 1` parts in
 * memory: the ones being sent and the one being filled.
 */
export class PartSlots extends Slots {
  constructor(size: number) {
    super(size, 'PartSlots')
  }
}

/** One part as it was written: its number, size and SHA-256 (raw bytes). */
export interface WrittenPart {
  partNumber: number
  size: number
  sha256: Buffer
}

export interface CompletedUpload {
  /** S3's ETag of the object, without quotes (`<md5 of the parts' md5s>-<parts>` on S3). */
  etag: string
  size: number
  parts: WrittenPart[]
}

type State = 'open' | 'completing' | 'completed' | 'aborted'

/**
 * One S3 object written as a multipart upload, part by part as its bytes come: each part is
 * sent with the SHA-256 computed here from its bytes (`ChecksumAlgorithm: SHA256`), so S3
 * checks the part against it on arrival and refuses a part that differs (BadDigest); the
 * SHA-256 S3 answers with must be that same one, or the upload fails. Parts go out while
 * later bytes are written, at most as many at once as `slots` allows; `write` waits for a
 * slot when all are taken, which is what slows the writer (and the scan behind it) to the
 * speed of the upload. Nothing is staged on disk.
 *
 * Own calls rather than lib-storage's Upload: Upload neither takes the part checksums we
 * compute nor hands back S3's per part, sends a small body as a PutObject (whose checksum
 * moto only echoes), and buffers `queueSize` parts of its own on top of ours.
 */
export class MultipartUpload {
  readonly uri: string
  private state: State = 'open'
  private uploadId: Promise<string> | undefined
  private buffer: Buffer | undefined
  private filled = 0
  private partHash: Hash = createHash('sha256')
  private readonly written: WrittenPart[] = []
  private readonly completed: CompletedPart[] = []
  private readonly inFlight = new Set<Promise<void>>()
  private failure: Error | undefined
  private completion: Promise<CompletedUpload> | undefined
  private aborting: Promise<string | undefined> | undefined
  private size = 0

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    readonly key: string,
    private readonly slots: PartSlots,
    private readonly partBytes: number
  ) {
    if (!Number.isInteger(partBytes) || partBytes < 1) throw new RangeError('part size must be > 0')
    this.uri = s3Uri(bucket, key)
  }

  /** True once CompleteMultipartUpload succeeded: the object exists. */
  get isCompleted(): boolean {
    return this.state === 'completed'
  }

  /**
   * Takes bytes of the object. Resolves once they are in the part being filled; when that part
   * fills up, not before a slot is free for it (backpressure), and never while an earlier part
   * has failed (its error is thrown here).
   */
  async write(chunk: Buffer): Promise<void> {
    this.throwIfStopped()
    let at = 0
    while (at < chunk.length) {
      this.buffer ??= Buffer.allocUnsafe(this.partBytes)
      const take = Math.min(chunk.length - at, this.partBytes - this.filled)
      const piece = chunk.subarray(at, at + take)
      piece.copy(this.buffer, this.filled)
      this.partHash.update(piece)
      this.filled += take
      this.size += take
      at += take
      if (this.filled === this.partBytes) await this.sendPart()
    }
  }

  /** Seals the part being filled and sends it once a slot is free; does not wait for the send. */
  private async sendPart(): Promise<void> {
    const body = (this.buffer ?? Buffer.alloc(0)).subarray(0, this.filled)
    const part: WrittenPart = {
      partNumber: this.written.length + 1,
      size: body.length,
      sha256: this.partHash.digest()
    }
    this.buffer = undefined
    this.filled = 0
    this.partHash = createHash('sha256')
    if (part.partNumber > MAX_PARTS) {
      throw new ActionError(
        'backup.failed',
        `Backup object ${this.uri} would need more than ${MAX_PARTS} parts; S3 takes no more.`
      )
    }
    this.written.push(part)
    await this.slots.acquire()
    if (this.state === 'aborted' || this.failure !== undefined) {
      this.slots.release()
      this.throwIfStopped()
    }
    const task: Promise<void> = this.uploadPart(part, body)
      .catch((error: unknown) => {
        this.failure ??= toError(error)
      })
      .finally(() => {
        this.slots.release()
        this.inFlight.delete(task)
      })
    this.inFlight.add(task)
  }

  private create(): Promise<string> {
    this.uploadId ??= this.startUpload()
    return this.uploadId
  }

  private async startUpload(): Promise<string> {
    const created = await this.s3.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: this.key,
        ChecksumAlgorithm: 'SHA256'
      })
    )
    if (!created.UploadId) {
      throw new ActionError(
        'backup.failed',
        `S3 started no multipart upload for ${this.uri} (no UploadId in its answer).`
      )
    }
    return created.UploadId
  }

  private async uploadPart(part: WrittenPart, body: Buffer): Promise<void> {
    const uploadId = await this.create()
    const sent = part.sha256.toString('base64')
    const answer = await this.s3.send(
      new UploadPartCommand({
        Bucket: this.bucket,
        Key: this.key,
        UploadId: uploadId,
        PartNumber: part.partNumber,
        Body: body,
        ContentLength: body.length,
        ChecksumAlgorithm: 'SHA256',
        ChecksumSHA256: sent
      })
    )
    if (answer.ChecksumSHA256 !== sent) {
      throw new ActionError(
        'backup.readBackFailed',
        answer.ChecksumSHA256 === undefined
          ? `S3 did not confirm the SHA-256 of part ${part.partNumber} of backup object ${this.uri}, so the part cannot be proven intact. The backup bucket must be on a store that checks additional checksums (Amazon S3 does).`
          : `Part ${part.partNumber} of backup object ${this.uri} did not arrive intact: S3 reports SHA-256 ${answer.ChecksumSHA256}, but the part written has ${sent}. The upload was stopped; run the backup again.`
      )
    }
    this.completed[part.partNumber - 1] = {
      PartNumber: part.partNumber,
      ETag: answer.ETag,
      ChecksumSHA256: sent
    }
  }

  private throwIfStopped(): void {
    if (this.failure !== undefined) throw this.failure
    if (this.state !== 'open') {
      throw new ActionError('backup.failed', `The upload of backup object ${this.uri} was stopped.`)
    }
  }

  /** Sends the last part, waits for every part, then completes the upload. */
  complete(): Promise<CompletedUpload> {
    this.completion ??= this.finishUpload()
    return this.completion
  }

  private async finishUpload(): Promise<CompletedUpload> {
    this.throwIfStopped()
    // The last part may be small (S3 allows it); an object has at least one part.
    if (this.filled > 0 || this.written.length === 0) await this.sendPart()
    await Promise.all([...this.inFlight])
    this.throwIfStopped()
    this.state = 'completing'
    const uploadId = await this.create()
    try {
      const answer = await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: this.completed }
        })
      )
      this.state = 'completed'
      return {
        etag: (answer.ETag ?? '').replace(/"/g, ''),
        size: this.size,
        parts: [...this.written]
      }
    } catch (error) {
      this.state = 'open'
      this.failure ??= toError(error)
      throw this.failure
    }
  }

  /**
   * Stops the upload: waits for the parts in flight, then AbortMultipartUpload, so S3 keeps
   * neither the parts nor an object. Nothing to do once completed. Returns a problem to warn
   * about (the abort failed), or undefined.
   */
  abort(): Promise<string | undefined> {
    this.aborting ??= this.stop()
    return this.aborting
  }

  private async stop(): Promise<string | undefined> {
    if (this.state === 'completing') await this.completion?.catch(() => undefined)
    if (this.state === 'completed' || this.state === 'aborted') return undefined
    this.state = 'aborted'
    this.buffer = undefined
    await Promise.all([...this.inFlight])
    if (this.uploadId === undefined) return undefined
    const uploadId = await this.uploadId.catch(() => undefined)
    if (uploadId === undefined) return undefined
    try {
      await this.s3.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: uploadId })
      )
      return undefined
    } catch (error) {
      const name = error instanceof Error ? error.name : ''
      if (name === 'NoSuchUpload') return undefined
      return `The incomplete multipart upload of ${this.uri} could not be aborted (${name || 'error'}); its parts stay in the bucket until a lifecycle rule (AbortIncompleteMultipartUpload) removes them.`
    }
  }
}

/** S3's composite checksum of a multipart object: SHA-256 over the parts' SHA-256s, in order. */
export function compositeSha256(parts: readonly WrittenPart[]): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part.sha256)
  return hash.digest('base64')
}
