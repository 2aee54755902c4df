import { createHash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
import { Writable } from 'node:stream'
import type { MultipartUpload } from './multipart.js'

export interface DataFileDigests {
  /** MD5 of the whole file in base64, as DynamoDB's manifests carry it. */
  md5: string
  /** SHA-256 of the whole file in hex. */
  sha256: string
  size: number
}

/**
 * Where the gzip bytes of one data file go: hashed (MD5 and SHA-256 of the whole file, for
 * the manifest), then into a local file and/or an S3 multipart upload. A chunk is taken only
 * once both have it, so the slower of the two holds the gzip stream, and through it the
 * writer, back.
 */
export class DataFileSink extends Writable {
  private readonly md5 = createHash('md5')
  private readonly sha256 = createHash('sha256')
  private size = 0
  private handle: FileHandle | undefined

  constructor(private readonly target: { file?: string; upload?: MultipartUpload }) {
    super()
  }

  override _construct(callback: (error?: Error | null) => void): void {
    if (this.target.file === undefined) {
      callback()
      return
    }
    open(this.target.file, 'w').then((handle) => {
      this.handle = handle
      callback()
    }, callback)
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void
  ): void {
    this.take(chunk).then(() => callback(), callback)
  }

  private async take(chunk: Buffer): Promise<void> {
    this.md5.update(chunk)
    this.sha256.update(chunk)
    this.size += chunk.length
    if (this.handle) await this.handle.write(chunk)
    if (this.target.upload) await this.target.upload.write(chunk)
  }

  override _final(callback: (error?: Error | null) => void): void {
    const handle = this.handle
    this.handle = undefined
    if (!handle) {
      callback()
      return
    }
    handle.close().then(() => callback(), callback)
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.handle
    this.handle = undefined
    const closed = handle ? handle.close().catch(() => undefined) : Promise.resolve()
    // A failed file's upload is never completed: abort it (no object, no parts left).
    const aborted = error && this.target.upload ? this.target.upload.abort() : Promise.resolve()
    Promise.all([closed, aborted]).then(
      () => callback(error),
      () => callback(error)
    )
  }

  /** The whole file's checksums; call once the stream has finished. */
  digests(): DataFileDigests {
    return { md5: this.md5.digest('base64'), sha256: this.sha256.digest('hex'), size: this.size }
  }
}
