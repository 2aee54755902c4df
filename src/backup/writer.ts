import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, rm, rmdir, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip, type Gzip } from 'node:zlib'
import * as core from '@actions/core'
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { ActionError, errorMessage } from '../errors.js'
import { fsReason } from './destination.js'
import { PageItems } from '../dynamo/page-items.js'
import type { TableInfo } from '../dynamo/tables.js'
import type { DigestSummary, Item, S3Location } from '../types.js'
import { DataFileSink } from './data-sink.js'
import {
  EXPORT_ROOT,
  FORMAT_VERSION,
  TABLE_DESCRIPTION_FILE,
  TOOL_NAME,
  dataFileKey,
  dataLines,
  manifestFilesText,
  newExportId,
  type DataFileEntry,
  type ManifestSummary,
  type StoredTableDescription
} from './format.js'
import { MultipartUpload, PartSlots } from './multipart.js'
import { proveDataFile } from './prove-object.js'
import {
  hashFile,
  joinKey,
  listObjects,
  putText,
  readBackObject,
  removeStrayObjects,
  s3Uri
} from './s3.js'

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
  /** ... or after this many items (bounds the pass's durable ledger). */
  maxFileItems?: number
  /** Bytes of a multipart upload's part (S3 wants 5 MiB or more for all but the last). */
  partBytes?: number
  /** Parts uploaded at once; with the one being filled, the most held in memory. */
  partsInFlight?: number
  now?: () => Date
  /** Reports what was recovered from (an upload that could not be aborted). */
  warn?: (message: string) => void
  /** Start a new data file once the open one is this old (so a checkpoint can be taken). */
  maxFileAgeMs?: number
  /**
   * Goes on with the backup an interrupted attempt began (a checkpoint): the same export,
   * its complete data files kept, any data file or upload begun after them removed.
   * `runLabel` must be the interrupted attempt's.
   */
  resume?: { exportId: string; startTime: Date; files: readonly DataFileEntry[] }
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
  /** The local file, when the backup keeps one. */
  file?: string
  upload?: MultipartUpload
  gzip: Gzip
  sink: DataFileSink
  rawBytes: number
  openedAt: number
  /** The file's number in the export (00000, 00001, …). */
  index: number
  /** SHA-256 of the first line written (without its newline). */
  firstLineSha256?: Buffer
  /** Settles when every byte has gone through the sink (local file closed, parts handed on). */
  finished: Promise<void>
  /** Resolves once the file is complete and proven (S3) or closed (local); rejects if not. */
  stored: Promise<void>
  settleStored: (error?: Error) => void
}

const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
/**
 * A data file also ends at this many items: until its file is complete, a page's item hashes
 * wait in the pass's durable ledger (32 bytes an item), so a table of tiny items must not
 * fill 256 MB of JSON per file (about 8 MB of hashes at most; ~1 KB items reach both caps
 * together).
 */
const DEFAULT_MAX_FILE_ITEMS = 250_000
/**
 * 8 MiB parts, 2 in flight: at most 3 parts (24 MiB) of a backup in memory. A data file
 * (256 MB of JSON before gzip) takes a few parts, far below S3's 10,000; an 8 MiB part
 * takes well under a second to upload to S3 from a runner, while the scan gzips at a few
 * MB/s, so two in flight keep the upload ahead of the scan.
 */
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024
export const DEFAULT_PARTS_IN_FLIGHT = 2

function md5Hex(text: string): string {
  return createHash('md5').update(text).digest('hex')
}

/** Resolves when `stream` drains; rejects when it errors or closes first. */
function drained(stream: Writable): Promise<void> {
  // A stream torn down already (a full disk ends the file's pipeline) sends no more events.
  if (stream.destroyed || stream.writableEnded)
    return Promise.reject(stream.errored ?? new Error('the data file was closed'))
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      stream.off('drain', onDrain)
      stream.off('error', onError)
      stream.off('close', onClose)
      if (error) reject(error)
      else resolve()
    }
    const onDrain = (): void => settle()
    const onError = (error: Error): void => settle(error)
    const onClose = (): void => settle(new Error('the data file was closed'))
    stream.on('drain', onDrain)
    stream.on('error', onError)
    stream.on('close', onClose)
  })
}

const NEWLINE = 0x0a

/**
 * Writes one table's backup in the layout of DynamoDB's export to S3 (DYNAMODB_JSON, gzip),
 * so ImportTable can restore it without this action. Data files rotate by size.
 *
 * With an S3 destination, each data file's gzip output goes straight into a multipart upload
 * while the scan runs, its parts checked by S3 against the SHA-256 computed here (see
 * MultipartUpload); once complete, the object is proven by its size, S3's composite checksum
 * and a ranged read of its first line (see proveDataFile), never downloaded again. Unless the
 * local copy is kept (an artifact), nothing of the table touches the disk: the parts in
 * flight are in memory, at most `partsInFlight + 1` of them, and `write` does not resolve
 * until its bytes fit in that bound, so a slow upload slows the scan. Without S3, or with
 * `keepLocal`, each data file is also written to the local folder (the backup itself, or the
 * artifact's content) and read back at the end. `finish` writes the manifests and the table
 * description, reads each back, and only then reports success.
 */
export class BackupWriter {
  readonly exportId: string
  readonly localDir: string
  private readonly s3Folder?: string
  readonly startTime: Date
  private current: OpenDataFile | undefined
  private readonly files: DataFileEntry[] = []
  /** The data files complete and proven (S3) or closed (local), in order. */
  private readonly storedEntries: DataFileEntry[] = []
  private readonly localFiles: string[] = []
  private readonly uploads = new Set<MultipartUpload>()
  private readonly slots: PartSlots
  private readonly partBytes: number
  private fileIndex = 0
  private itemCount = 0
  private queue: Promise<void> = Promise.resolve()
  /** The data file last closed, finishing (last part, complete, proof) while the next fills. */
  private closing: Promise<void> = Promise.resolve()
  private failure: Error | undefined
  private readonly now: () => Date
  private readonly warn: (message: string) => void

  private constructor(private readonly options: BackupOptions) {
    this.now = options.now ?? (() => new Date())
    this.warn = options.warn ?? ((message) => core.warning(message))
    const resume = options.resume
    this.startTime = resume?.startTime ?? this.now()
    this.exportId = resume?.exportId ?? newExportId(this.startTime, randomBytes(4).toString('hex'))
    if (resume) {
      for (const entry of resume.files) {
        this.files.push({ ...entry })
        this.storedEntries.push({ ...entry })
        this.itemCount += entry.itemCount
      }
      this.fileIndex = resume.files.length
    }
    this.localDir = path.join(options.localRoot, options.source.name, options.runLabel)
    if (options.s3) {
      this.s3Folder = joinKey(options.s3.location.prefix, options.source.name, options.runLabel)
    }
    this.partBytes = options.partBytes ?? DEFAULT_PART_BYTES
    this.slots = new PartSlots(options.partsInFlight ?? DEFAULT_PARTS_IN_FLIGHT)
  }

  /** Cuts a data file that has grown old while nothing was written (a stalled target). */
  private ageTimer: NodeJS.Timeout | undefined

  private startAgeTimer(): void {
    const maxAge = this.options.maxFileAgeMs
    if (maxAge === undefined) return
    this.ageTimer = setInterval(
      () => {
        const file = this.current
        if (!file || this.now().getTime() - file.openedAt < maxAge) return
        const next = this.queue.then(async () => {
          if (this.current === file && !this.failure) await this.closeDataFile()
        })
        this.queue = next.catch(() => undefined)
      },
      Math.max(100, Math.floor(maxAge / 4))
    )
    this.ageTimer.unref()
  }

  private stopAgeTimer(): void {
    if (this.ageTimer) clearInterval(this.ageTimer)
    this.ageTimer = undefined
  }

  static async open(options: BackupOptions): Promise<BackupWriter> {
    const writer = new BackupWriter(options)
    writer.startAgeTimer()
    if (writer.writesDataLocally) {
      await mkdir(path.join(writer.localDir, EXPORT_ROOT, writer.exportId, 'data'), {
        recursive: true
      })
    }
    if (options.resume) await writer.removeStrayData()
    else await writer.writeSmallFile(`${EXPORT_ROOT}/${writer.exportId}/_started`, '')
    return writer
  }

  /**
   * A resumed backup is ONE export holding every item once: data files and uploads the
   * interrupted attempt began after its last checkpoint are removed, not left beside the
   * kept ones for someone to import twice. Kept files must still be there, as written.
   */
  private async removeStrayData(): Promise<void> {
    const dataDir = `${EXPORT_ROOT}/${this.exportId}/data/`
    const kept = new Set(this.files.map((f) => f.dataFileS3Key))
    const s3 = this.options.s3
    if (s3) {
      // Checked before anything is removed (preflight checked it too, before any write).
      const problem = await keptFilesProblem(
        s3.client,
        s3.location.bucket,
        this.keyOf(dataDir),
        this.files
      )
      if (problem) throw new ActionError('resume.backupChanged', problem)
      await removeStrayObjects(s3.client, s3.location.bucket, `${this.keyOf(dataDir)}/`, kept)
    }
    if (this.writesDataLocally) {
      const dir = path.join(this.localDir, dataDir)
      for (const entry of this.files) {
        const relative = entry.dataFileS3Key.slice(entry.dataFileS3Key.indexOf(`${EXPORT_ROOT}/`))
        const file = path.join(this.localDir, relative)
        this.localFiles.push(file)
        if (!s3) {
          const actual = await hashFile(file).catch(() => undefined)
          if (actual?.sha256 !== entry.sha256 || actual.size !== entry.size) {
            throw new ActionError(
              'resume.backupChanged',
              `Data file ${file} of the backup being resumed is missing or changed. Delete the checkpoint to copy from the start.`
            )
          }
        }
      }
      // Only once the kept files are checked: what else is in the data folder goes.
      const names = await readdir(dir).catch(() => [] as string[])
      for (const name of names) {
        if (![...kept].some((key) => key.endsWith(`${dataDir}${name}`))) {
          await rm(path.join(dir, name), { force: true })
        }
      }
    }
  }

  /** The data files complete and proven (S3) or closed (local) so far, in order. */
  storedFiles(): readonly DataFileEntry[] {
    return this.storedEntries
  }

  private readonly storedListeners: (() => void)[] = []

  /** Calls `listener` each time a data file has been stored. */
  onFileStored(listener: () => void): void {
    this.storedListeners.push(listener)
  }

  /** Data files go to the local folder when it is the backup or the artifact's content. */
  private get writesDataLocally(): boolean {
    return this.options.keepLocal || !this.options.s3
  }

  /** The S3 key (or local relative path) of a file of this backup. */
  private keyOf(relative: string): string {
    return this.s3Folder !== undefined ? joinKey(this.s3Folder, relative) : relative
  }

  /**
   * Appends items; calls are queued, so concurrent scan segments may call it freely. Resolves
   * once the items are in the gzip stream and its output fits in the parts allowed in memory.
   */
  write(items: readonly Item[] | PageItems, onAppended?: (file: number) => void): Promise<void> {
    const page = items instanceof PageItems ? items : PageItems.of(items)
    const next = this.queue.then(() => this.append(page, onAppended))
    this.queue = next.catch(() => undefined)
    return next
  }

  private async append(items: PageItems, onAppended?: (file: number) => void): Promise<void> {
    this.throwIfFailed()
    if (items.length === 0) return
    const file = this.current ?? this.openDataFile()
    const chunk = dataLines(items)
    if (file.entry.itemCount === 0) {
      const first = chunk.subarray(0, chunk.indexOf(NEWLINE))
      file.firstLineSha256 = createHash('sha256').update(first).digest()
    }
    file.entry.itemCount += items.length
    this.itemCount += items.length
    // Before anything can close the file: the caller learns which file holds the page.
    onAppended?.(file.index)
    file.rawBytes += chunk.length
    try {
      if (!file.gzip.write(chunk)) await drained(file.gzip)
    } catch (error) {
      await file.finished.catch(() => undefined)
      throw this.failure ?? backupFailure(`writing ${this.whereOf(file)}`, error)
    }
    if (
      file.rawBytes >= (this.options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES) ||
      file.entry.itemCount >= (this.options.maxFileItems ?? DEFAULT_MAX_FILE_ITEMS) ||
      (this.options.maxFileAgeMs !== undefined &&
        this.now().getTime() - file.openedAt >= this.options.maxFileAgeMs)
    ) {
      await this.closeDataFile()
    }
  }

  private whereOf(file: OpenDataFile): string {
    return file.upload?.uri ?? file.file ?? file.entry.dataFileS3Key
  }

  private openDataFile(): OpenDataFile {
    const index = this.fileIndex++
    const relative = dataFileKey(this.exportId, index, randomBytes(6).toString('hex'))
    const entry: DataFileEntry = {
      itemCount: 0,
      md5Checksum: '',
      etag: '',
      dataFileS3Key: this.keyOf(relative),
      sha256: '',
      size: 0
    }
    const s3 = this.options.s3
    const file = this.writesDataLocally ? path.join(this.localDir, relative) : undefined
    const upload = s3
      ? new MultipartUpload(
          s3.client,
          s3.location.bucket,
          entry.dataFileS3Key,
          this.slots,
          this.partBytes
        )
      : undefined
    if (upload) this.uploads.add(upload)
    const gzip = createGzip()
    const sink = new DataFileSink({
      ...(file !== undefined ? { file } : {}),
      ...(upload ? { upload } : {})
    })
    let settleStored: (error?: Error) => void = () => undefined
    const stored = new Promise<void>((resolve, reject) => {
      settleStored = (error) => (error ? reject(error) : resolve())
    })
    stored.catch(() => undefined) // its waiters, if any, see the failure
    const open: OpenDataFile = {
      entry,
      gzip,
      sink,
      rawBytes: 0,
      openedAt: this.now().getTime(),
      index,
      finished: pipeline(gzip, sink),
      stored,
      settleStored
    }
    if (file !== undefined) open.file = file
    if (upload) open.upload = upload
    open.finished.catch((error: unknown) => {
      this.failure ??= backupFailure(`writing ${this.whereOf(open)}`, error)
    })
    this.files.push(entry)
    this.current = open
    return open
  }

  /**
   * Ends the current data file. Its last part, the completion and the proof go on while the
   * next file fills; a second close waits for them, so at most one file is finishing.
   */
  private async closeDataFile(): Promise<void> {
    const open = this.current
    if (!open) return
    this.current = undefined
    await this.closing
    this.throwIfFailed()
    open.gzip.end()
    this.closing = this.finishDataFile(open).then(
      () => {
        this.storedEntries.push(open.entry)
        open.settleStored()
        for (const listener of this.storedListeners) listener()
      },
      (error: unknown) => {
        this.failure ??= backupFailure(`writing ${this.whereOf(open)}`, error)
        open.settleStored(this.failure)
      }
    )
  }

  /**
   * Resolves once every item written so far is in a data file that is complete and proven
   * (S3) or closed (local): a page is in the backup once this resolves after its write. Data
   * files end at `maxFileBytes`, `maxFileItems` or at `finish`, so this may wait that long. Rejects with the
   * backup's failure.
   */
  async stored(): Promise<void> {
    await this.queue
    this.throwIfFailed()
    await (this.current ? this.current.stored : this.closing)
    this.throwIfFailed()
  }

  private async finishDataFile(open: OpenDataFile): Promise<void> {
    const { entry, upload } = open
    try {
      await open.finished
      const digests = open.sink.digests()
      entry.md5Checksum = digests.md5
      entry.sha256 = digests.sha256
      entry.size = digests.size
      // A single-part object's ETag is its MD5 in hex (the manifest's md5Checksum is base64);
      // an uploaded one's is what S3 gave it.
      entry.etag = Buffer.from(digests.md5, 'base64').toString('hex')
      if (open.file !== undefined) this.localFiles.push(open.file)
      if (!upload) return
      const s3 = this.options.s3 as NonNullable<BackupOptions['s3']>
      const done = await upload.complete()
      if (done.size !== entry.size) {
        throw new ActionError(
          'backup.failed',
          `Backup object ${upload.uri} was sent ${done.size} bytes, but ${entry.size} were written.`
        )
      }
      if (done.etag !== '') entry.etag = done.etag
      await proveDataFile(s3.client, s3.location.bucket, entry.dataFileS3Key, {
        size: entry.size,
        parts: done.parts,
        itemCount: entry.itemCount,
        ...(open.firstLineSha256 ? { firstLineSha256: open.firstLineSha256 } : {})
      })
      this.uploads.delete(upload)
    } catch (error) {
      if (upload) await this.stopUpload(upload)
      throw error
    }
  }

  /** Aborts an upload not completed yet; a completed one left unproven is deleted. */
  private async stopUpload(upload: MultipartUpload): Promise<void> {
    // abort() warns for the uploads it stops itself; this one is ours only if still listed.
    const listed = this.uploads.delete(upload)
    const problem = await upload.abort()
    if (problem !== undefined && listed) this.warn(problem)
    if (upload.isCompleted) {
      const s3 = this.options.s3 as NonNullable<BackupOptions['s3']>
      try {
        await s3.client.send(
          new DeleteObjectCommand({ Bucket: s3.location.bucket, Key: upload.key })
        )
      } catch (error) {
        this.warn(
          `Backup object ${upload.uri} failed its check and could not be deleted (${errorMessage(error)}); it is not part of any backup (its folder has no manifest-summary.json).`
        )
      }
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

  /**
   * Closes the data, writes the manifests and reads everything back. On failure, the uploads
   * still open are aborted (as by `abort`) before the error is thrown.
   */
  async finish(digest: DigestSummary): Promise<BackupResult> {
    this.stopAgeTimer()
    try {
      await this.queue
      this.throwIfFailed()
      // Every backup has at least one data file, as DynamoDB's exports do (empty or not).
      if (!this.current && this.files.length === 0) this.openDataFile()
      await this.closeDataFile()
      await this.closing
      this.throwIfFailed()
    } catch (error) {
      await this.abort()
      throw error
    }

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

  /**
   * Stops writing after a failure: the open data file is dropped and every multipart upload
   * not completed is aborted, so S3 holds no part of it. Data files completed before stay
   * without a manifest, which no reader takes for a backup.
   */
  async abort(): Promise<void> {
    this.stopAgeTimer()
    this.failure ??= new ActionError('backup.failed', 'The backup was stopped before it finished.')
    const open = this.current
    this.current = undefined
    open?.gzip.destroy()
    open?.settleStored(this.failure)
    const uploads = [...this.uploads]
    this.uploads.clear()
    const problems = await Promise.all(uploads.map((upload) => upload.abort()))
    for (const problem of problems) if (problem !== undefined) this.warn(problem)
    await open?.finished.catch(() => undefined)
    await this.closing
  }
}

function backupFailure(what: string, error: unknown): ActionError {
  if (error instanceof ActionError) return error
  const code = (error as { code?: unknown }).code
  // A file-system error in plain words (a full disk, a read-only folder), its code kept.
  const why =
    typeof code === 'string' && /^E[A-Z]+$/.test(code) ? fsReason(error) : errorMessage(error)
  return new ActionError('backup.failed', `Backup failed while ${what}: ${why}`, {
    cause: error
  })
}

/**
 * Why the data files a checkpoint keeps cannot be trusted, or undefined: each must be an object
 * directly in the export's data folder `dataPrefix`, of the size the checkpoint recorded.
 */
export async function keptFilesProblem(
  s3: S3Client,
  bucket: string,
  dataPrefix: string,
  files: readonly DataFileEntry[]
): Promise<string | undefined> {
  const folder = dataPrefix.endsWith('/') ? dataPrefix : `${dataPrefix}/`
  const found = await listObjects(s3, bucket, folder)
  for (const entry of files) {
    const inFolder =
      entry.dataFileS3Key.startsWith(folder) &&
      !entry.dataFileS3Key.slice(folder.length).includes('/')
    if (!inFolder || found.get(entry.dataFileS3Key) !== entry.size) {
      return `Data file ${s3Uri(bucket, entry.dataFileS3Key)} of the backup being resumed is missing, changed or outside its export. Delete the checkpoint to copy from the start.`
    }
  }
  return undefined
}
