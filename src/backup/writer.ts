import { createHash, randomBytes, type Hash } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip, type Gzip } from 'node:zlib'
import type { S3Client } from '@aws-sdk/client-s3'
import { ActionError, errorMessage } from '../errors.js'
import type { TableInfo } from '../dynamo/tables.js'
import type { DigestSummary, Item, S3Location } from '../types.js'
import {
  EXPORT_ROOT,
  FORMAT_VERSION,
  TABLE_DESCRIPTION_FILE,
  TOOL_NAME,
  dataFileKey,
  itemLine,
  manifestFilesText,
  newExportId,
  type DataFileEntry,
  type ManifestSummary,
  type StoredTableDescription
} from './format.js'
import { hashFile, joinKey, putText, readBackObject, s3Uri, uploadFile } from './s3.js'

export interface BackupOptions {
  source: TableInfo
  /** Local root (backup-dir); the backup goes to `<root>/<table>/<runLabel>/`. */
  localRoot: string
  /** Keep the local copy (for an artifact, or when there is no S3 destination). */
  keepLocal: boolean
  s3?: { client: S3Client; location: S3Location }
  /** Unique per run attempt, e.g. `20261125T041500Z-run42-1`. */
  runLabel: string
  /** Start a new data file after this many uncompressed bytes. */
  maxFileBytes?: number
  now?: () => Date
}

export interface BackupResult {
  exportId: string
  itemCount: number
  files: DataFileEntry[]
  /** Where the backup can be found: its S3 folder and/or local folder. */
  locations: string[]
  localDir?: string
  s3Folder?: string
  /** Every local file of the backup (for an artifact upload). */
  localFiles: string[]
}

interface OpenDataFile {
  entry: DataFileEntry
  file: string
  gzip: Gzip
  rawBytes: number
  finished: Promise<void>
  md5: Hash
  sha256: Hash
}

const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024

function md5Hex(text: string): string {
  return createHash('md5').update(text).digest('hex')
}

/**
 * Writes one table's backup in the layout of DynamoDB's export to S3 (DYNAMODB_JSON, gzip),
 * so ImportTable can restore it without this action. Data files go to the local folder and
 * rotate by size; with an S3 destination each finished file is uploaded (streamed multipart)
 * and read back while the scan goes on, and its local copy is removed unless it must be
 * kept, so a table larger than the runner's disk still fits. `finish` writes the manifests
 * and the table description, reads every object back, and only then reports success.
 */
export class BackupWriter {
  readonly exportId: string
  readonly localDir: string
  private readonly s3Folder?: string
  private readonly startTime: Date
  private current: OpenDataFile | undefined
  private readonly files: DataFileEntry[] = []
  private readonly localFiles: string[] = []
  private fileIndex = 0
  private itemCount = 0
  private queue: Promise<void> = Promise.resolve()
  private uploads: Promise<void> = Promise.resolve()
  private failure: Error | undefined
  private readonly now: () => Date

  private constructor(private readonly options: BackupOptions) {
    this.now = options.now ?? (() => new Date())
    this.startTime = this.now()
    this.exportId = newExportId(this.startTime, randomBytes(4).toString('hex'))
    this.localDir = path.join(options.localRoot, options.source.name, options.runLabel)
    if (options.s3) {
      this.s3Folder = joinKey(options.s3.location.prefix, options.source.name, options.runLabel)
    }
  }

  static async open(options: BackupOptions): Promise<BackupWriter> {
    const writer = new BackupWriter(options)
    await mkdir(path.join(writer.localDir, EXPORT_ROOT, writer.exportId, 'data'), {
      recursive: true
    })
    await writer.writeSmallFile(`${EXPORT_ROOT}/${writer.exportId}/_started`, '')
    return writer
  }

  /** The S3 key (or local relative path) of a file of this backup. */
  private keyOf(relative: string): string {
    return this.s3Folder !== undefined ? joinKey(this.s3Folder, relative) : relative
  }

  /** Appends items; calls are queued, so concurrent scan segments may call it freely. */
  write(items: readonly Item[]): Promise<void> {
    const next = this.queue.then(() => this.append(items))
    this.queue = next.catch(() => undefined)
    return next
  }

  private async append(items: readonly Item[]): Promise<void> {
    this.throwIfFailed()
    if (items.length === 0) return
    const file = this.current ?? this.openDataFile()
    let text = ''
    for (const item of items) text += itemLine(item)
    file.entry.itemCount += items.length
    this.itemCount += items.length
    file.rawBytes += text.length
    if (!file.gzip.write(text)) await once(file.gzip, 'drain')
    if (file.rawBytes >= (this.options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES)) {
      await this.closeDataFile()
    }
  }

  private openDataFile(): OpenDataFile {
    const relative = dataFileKey(this.exportId, this.fileIndex++, randomBytes(6).toString('hex'))
    const file = path.join(this.localDir, relative)
    const gzip = createGzip()
    const md5 = createHash('md5')
    const sha256 = createHash('sha256')
    const entry: DataFileEntry = {
      itemCount: 0,
      md5Checksum: '',
      etag: '',
      dataFileS3Key: this.keyOf(relative),
      sha256: '',
      size: 0
    }
    const hasher = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        md5.update(chunk)
        sha256.update(chunk)
        entry.size += chunk.length
        callback(null, chunk)
      }
    })
    const finished = pipeline(gzip, hasher, createWriteStream(file))
    finished.catch(() => undefined)
    this.current = { entry, file, gzip, rawBytes: 0, finished, md5, sha256 }
    return this.current
  }

  private async closeDataFile(): Promise<void> {
    const open = this.current
    if (!open) return
    this.current = undefined
    open.gzip.end()
    await open.finished
    open.entry.md5Checksum = open.md5.digest('base64')
    open.entry.sha256 = open.sha256.digest('hex')
    // S3's ETag of a single-part object: the MD5 in hex (the manifest's md5Checksum is base64).
    open.entry.etag = Buffer.from(open.entry.md5Checksum, 'base64').toString('hex')
    this.files.push(open.entry)
    this.localFiles.push(open.file)
    const s3 = this.options.s3
    if (s3) {
      const { entry, file } = open
      this.uploads = this.uploads.then(async () => {
        if (this.failure !== undefined) return
        try {
          await uploadFile(s3.client, s3.location.bucket, entry.dataFileS3Key, file)
          await readBackObject(s3.client, s3.location.bucket, entry.dataFileS3Key, entry)
          if (!this.options.keepLocal) await rm(file, { force: true })
        } catch (error) {
          this.failure ??= backupFailure(
            `uploading ${s3Uri(s3.location.bucket, entry.dataFileS3Key)}`,
            error
          )
        }
      })
    }
  }

  private async writeSmallFile(relative: string, text: string): Promise<void> {
    const file = path.join(this.localDir, relative)
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, text)
    this.localFiles.push(file)
    const s3 = this.options.s3
    if (s3) {
      const key = this.keyOf(relative)
      await putText(s3.client, s3.location.bucket, key, text)
      await readBackObject(s3.client, s3.location.bucket, key, {
        size: Buffer.byteLength(text),
        sha256: createHash('sha256').update(text).digest('hex')
      })
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure
  }

  /** Closes the data, writes the manifests and reads everything back. */
  async finish(digest: DigestSummary): Promise<BackupResult> {
    await this.queue
    this.throwIfFailed()
    // Every backup has at least one data file, as DynamoDB's exports do (empty or not).
    if (!this.current && this.files.length === 0) this.openDataFile()
    await this.closeDataFile()
    await this.uploads
    this.throwIfFailed()

    const { source, s3 } = this.options
    const description = source.description
    const stored: StoredTableDescription = { table: description }
    if (source.timeToLive !== 'unsupported') stored.timeToLive = source.timeToLive
    if (source.pointInTimeRecovery !== 'unsupported')
      stored.pointInTimeRecovery = source.pointInTimeRecovery
    if (source.tags !== 'unsupported') {
      stored.tags = source.tags.map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }))
    }
    const exportDir = `${EXPORT_ROOT}/${this.exportId}`
    const filesText = manifestFilesText(this.files)
    const end = this.now()
    const summary: ManifestSummary = {
      version: FORMAT_VERSION,
      exportArn: `${description.TableArn ?? ''}/export/${this.exportId}`,
      startTime: this.startTime.toISOString(),
      endTime: end.toISOString(),
      tableArn: description.TableArn ?? '',
      tableId: description.TableId ?? '',
      exportTime: this.startTime.toISOString(),
      s3Bucket: s3?.location.bucket ?? null,
      s3Prefix: this.s3Folder ?? null,
      s3SseAlgorithm: null,
      s3SseKmsKeyId: null,
      manifestFilesS3Key: this.keyOf(`${exportDir}/manifest-files.json`),
      billedSizeBytes: 0,
      itemCount: this.itemCount,
      outputFormat: 'DYNAMODB_JSON',
      dynamodbTableMover: {
        tool: TOOL_NAME,
        table: source.name,
        contentDigest: digest,
        tableDescriptionFile: TABLE_DESCRIPTION_FILE
      }
    }
    const summaryText = `${JSON.stringify(summary, null, 2)}\n`
    try {
      // Side by side, each written and read back; the summary last, as DynamoDB writes it:
      // a folder with a manifest-summary.json holds a complete backup.
      await Promise.all([
        this.writeSmallFile(TABLE_DESCRIPTION_FILE, `${JSON.stringify(stored, null, 2)}\n`),
        this.writeSmallFile(`${exportDir}/manifest-files.json`, filesText),
        this.writeSmallFile(`${exportDir}/manifest-files.checksum`, md5Hex(filesText))
      ])
      await this.writeSmallFile(`${exportDir}/manifest-summary.checksum`, md5Hex(summaryText))
      await this.writeSmallFile(`${exportDir}/manifest-summary.json`, summaryText)
    } catch (error) {
      throw backupFailure('writing the manifests', error)
    }

    const result: BackupResult = {
      exportId: this.exportId,
      itemCount: this.itemCount,
      files: this.files,
      locations: [],
      localFiles: []
    }
    if (s3 && this.s3Folder !== undefined) {
      result.s3Folder = s3Uri(s3.location.bucket, `${this.s3Folder}/`)
      result.locations.push(result.s3Folder)
    }
    if (this.options.keepLocal) {
      await this.readBackLocal()
      result.localDir = this.localDir
      result.localFiles = [...this.localFiles]
      result.locations.push(this.localDir)
    } else {
      await rm(this.localDir, { recursive: true, force: true })
      // The table's folder too, unless another run's backup is in it (rmdir wants it empty).
      await rmdir(path.dirname(this.localDir)).catch(() => undefined)
    }
    return result
  }

  private async readBackLocal(): Promise<void> {
    for (const entry of this.files) {
      const relative = entry.dataFileS3Key.slice(entry.dataFileS3Key.indexOf(`${EXPORT_ROOT}/`))
      const actual = await hashFile(path.join(this.localDir, relative))
      if (actual.sha256 !== entry.sha256 || actual.size !== entry.size) {
        throw new ActionError(
          'backup.readBackFailed',
          `Local backup file ${relative} of '${this.options.source.name}' does not match what was written.`
        )
      }
    }
  }

  /** Stops writing after a failure; partial files stay without a manifest (not a backup). */
  async abort(): Promise<void> {
    const open = this.current
    this.current = undefined
    open?.gzip.destroy()
    await open?.finished.catch(() => undefined)
    await this.uploads.catch(() => undefined)
  }
}

function backupFailure(what: string, error: unknown): ActionError {
  if (error instanceof ActionError) return error
  return new ActionError('backup.failed', `Backup failed while ${what}: ${errorMessage(error)}`, {
    cause: error
  })
}
