import { createHash } from 'node:crypto'
import * as core from '@actions/core'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { StringDecoder } from 'node:string_decoder'
import { createGunzip } from 'node:zlib'
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { parser } from 'stream-json'
import { pick } from 'stream-json/filters/pick.js'
import { streamArray } from 'stream-json/streamers/stream-array.js'
import { ActionError, InputError, errorMessage, toError } from '../errors.js'
import { parseS3Uri } from '../inputs.js'
import type { DigestSummary, Item } from '../types.js'
import {
  EXPORT_ROOT,
  TABLE_DESCRIPTION_FILE,
  fromJsonItem,
  type DataFileEntry,
  type ManifestSummary,
  type StoredTableDescription
} from './format.js'
import { LocalStore, S3Store, type BackupStore } from './store.js'
import { itemCount } from '../util/progress.js'

/** Items handed on at a time while reading a backup. */
const PAGE_ITEMS = 500

export type BackupKind = 'action' | 'dynamodb-export' | 'scan-json'

export interface BackupSource {
  kind: BackupKind
  /** Where it was found (the export folder, or the scan file). */
  location: string
  /** The export's id (the folder below `AWSDynamoDB/`), for exports. */
  exportId?: string
  /** The table description, when the backup carries one (this action's backups). */
  description?: StoredTableDescription
  /** Item count and digest from the manifest, when there is one. */
  itemCount?: number
  digest?: DigestSummary
  exportTime?: string
  /** Streams every item; checks each file's size, checksum and item count against the manifest. */
  read(onPage: (items: Item[]) => Promise<void>): Promise<number>
}

interface ManifestEntry extends Partial<DataFileEntry> {
  dataFileS3Key: string
}

/** The folder holding `AWSDynamoDB/`, from the path of a manifest-summary.json. */
function exportBase(summaryPath: string): { base: string; exportDir: string } {
  const at = summaryPath.lastIndexOf(`${EXPORT_ROOT}/`)
  const exportDir = summaryPath.slice(0, summaryPath.lastIndexOf('/'))
  return { base: summaryPath.slice(0, at), exportDir }
}

/** Resolves a manifest's data key (full S3 key or relative) against the export's base folder. */
function resolveDataKey(base: string, key: string): string {
  const at = key.indexOf(`${EXPORT_ROOT}/`)
  return at >= 0 ? `${base}${key.slice(at)}` : `${base}${key}`
}

function corrupt(location: string, what: string): ActionError {
  return new ActionError(
    'backup.corrupt',
    `Backup ${location} is damaged: ${what}. Nothing was restored from it.`
  )
}

/** Hashes the bytes that pass through (md5 for DynamoDB's own checksum, sha256 for ours). */
function hashing(): {
  stream: Transform
  result: () => { md5: string; sha256: string; size: number }
} {
  const md5 = createHash('md5')
  const sha256 = createHash('sha256')
  let size = 0
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      md5.update(chunk)
      sha256.update(chunk)
      size += chunk.length
      callback(null, chunk)
    }
  })
  return {
    stream,
    result: () => ({ md5: md5.digest('base64'), sha256: sha256.digest('hex'), size })
  }
}

/**
 * Calls `onLine` for every line of a byte stream, in order, waiting for each call (so a slow
 * consumer holds the stream back). As the last stage of a `pipeline`, it lets an error from
 * any earlier stage (a dropped S3 connection, a damaged gzip member) reject the pipeline.
 */
function eachLine(onLine: (line: string) => Promise<void>) {
  return async function (source: AsyncIterable<Buffer>): Promise<void> {
    const decoder = new StringDecoder('utf8')
    let rest = ''
    for await (const chunk of source) {
      rest += decoder.write(chunk)
      let start = 0
      for (let end = rest.indexOf('\n'); end >= 0; end = rest.indexOf('\n', start)) {
        await onLine(rest.slice(start, end))
        start = end + 1
      }
      rest = rest.slice(start)
    }
    rest += decoder.end()
    if (rest !== '') await onLine(rest)
  }
}

/**
 * Wraps the consuming last stage of a pipeline so that its own failure (a bad line, onPage
 * failing) is the one reported: when it throws, the earlier stages are torn down and the
 * pipeline may reject with their "operation was aborted" instead.
 */
function consumer<S>(sink: (source: S) => Promise<void>): {
  sink: (source: S) => Promise<void>
  failure: () => unknown
} {
  let failure: unknown
  return {
    sink: async (source) => {
      try {
        await sink(source)
      } catch (error) {
        failure ??= error
        throw error
      }
    },
    failure: () => failure
  }
}

/**
 * Reads JSON lines `{"Item":{...}}` (gzip-compressed or not) from one stream, in pages. A
 * stream that fails (a dropped connection, bad gzip) is `damaged`; a bad line or a failure of
 * `onPage` (the target's writer) is thrown as it is.
 */
async function readJsonLines(
  body: Readable,
  hash: Transform,
  gzip: boolean,
  onPage: (items: Item[]) => Promise<void>,
  where: string,
  damaged: (why: string) => ActionError
): Promise<number> {
  let count = 0
  let page: Item[] = []
  let lineNumber = 0
  const onLine = async (line: string): Promise<void> => {
    lineNumber++
    if (line.trim() === '') return
    let item: Item
    try {
      const parsed = JSON.parse(line) as { Item?: unknown }
      item = fromJsonItem(parsed.Item)
    } catch (error) {
      throw new ActionError(
        'backup.corrupt',
        `${where} line ${lineNumber} is not a DynamoDB JSON item (${errorMessage(error)}).`
      )
    }
    page.push(item)
    count++
    if (page.length >= PAGE_ITEMS) {
      const full = page
      page = []
      await onPage(full)
    }
  }
  const lines = consumer(eachLine(onLine))
  try {
    if (gzip) await pipeline(body, hash, createGunzip(), lines.sink)
    else await pipeline(body, hash, lines.sink)
  } catch (error) {
    const failure = lines.failure()
    throw failure === undefined ? damaged(errorMessage(error)) : toError(failure)
  }
  if (page.length > 0) await onPage(page)
  return count
}

async function openExport(
  store: BackupStore,
  files: string[],
  summaryPath: string
): Promise<BackupSource> {
  const { base, exportDir } = exportBase(summaryPath)
  const location = store.locationOf(exportDir)
  let summary: Partial<ManifestSummary>
  let entries: ManifestEntry[]
  try {
    summary = JSON.parse(await store.readText(summaryPath)) as Partial<ManifestSummary>
    const filesPath = summary.manifestFilesS3Key
      ? resolveDataKey(base, summary.manifestFilesS3Key)
      : `${exportDir}/manifest-files.json`
    entries = (
      await store.readText(
        files.includes(filesPath) ? filesPath : `${exportDir}/manifest-files.json`
      )
    )
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as ManifestEntry)
  } catch (error) {
    throw corrupt(location, `its manifests cannot be read (${errorMessage(error)})`)
  }
  const ours = summary.dynamodbTableMover
  const source: BackupSource = {
    kind: ours ? 'action' : 'dynamodb-export',
    location,
    exportId: exportDir.slice(exportDir.lastIndexOf('/') + 1),
    read: async (onPage) => {
      let total = 0
      for (const entry of entries) {
        const key = resolveDataKey(base, entry.dataFileS3Key)
        const hash = hashing()
        const damaged = (why: string): ActionError =>
          corrupt(location, `data file ${key} cannot be read (${why})`)
        let body: Readable
        try {
          body = await store.open(key)
        } catch (error) {
          throw damaged(errorMessage(error))
        }
        const count = await readJsonLines(
          body,
          hash.stream,
          key.endsWith('.gz'),
          onPage,
          key,
          damaged
        )
        const actual = hash.result()
        if (entry.sha256 && (entry.sha256 !== actual.sha256 || entry.size !== actual.size)) {
          throw corrupt(
            location,
            `data file ${key} does not match the SHA-256 and size in its manifest`
          )
        }
        if (entry.md5Checksum && entry.md5Checksum !== actual.md5) {
          throw corrupt(location, `data file ${key} does not match the MD5 in its manifest`)
        }
        if (entry.itemCount !== undefined && entry.itemCount !== count) {
          throw corrupt(
            location,
            `data file ${key} holds ${itemCount(count)}, its manifest says ${entry.itemCount}`
          )
        }
        total += count
      }
      if (summary.itemCount !== undefined && summary.itemCount !== total) {
        throw corrupt(
          location,
          `it holds ${itemCount(total)}, its manifest says ${summary.itemCount}`
        )
      }
      return total
    }
  }
  if (summary.itemCount !== undefined) source.itemCount = summary.itemCount
  if (ours?.contentDigest) source.digest = ours.contentDigest
  if (summary.exportTime) source.exportTime = summary.exportTime
  const descriptionPath = `${base}${ours?.tableDescriptionFile ?? TABLE_DESCRIPTION_FILE}`
  if (files.includes(descriptionPath)) {
    try {
      source.description = JSON.parse(
        await store.readText(descriptionPath)
      ) as StoredTableDescription
    } catch (error) {
      throw corrupt(location, `its table description cannot be read (${errorMessage(error)})`)
    }
  }
  return source
}

/**
 * Every export (manifest-summary.json) under a store, newest folder name first; only the one
 * with `exportId` when given (the others are not opened, so a broken one does not matter).
 */
export async function findExports(store: BackupStore, exportId?: string): Promise<BackupSource[]> {
  const files = await store.list()
  const summaries = files
    .filter((f) => f.endsWith('manifest-summary.json') && f.includes(`${EXPORT_ROOT}/`))
    .filter(
      (f) =>
        exportId === undefined || f.endsWith(`${EXPORT_ROOT}/${exportId}/manifest-summary.json`)
    )
    .sort()
    .reverse()
  const sources: BackupSource[] = []
  for (const summary of summaries) sources.push(await openExport(store, files, summary))
  return sources
}

/** What the top level of an `aws dynamodb scan` file says about itself, besides `Items`. */
interface ScanFileFacts {
  topLevel: 'object' | 'other' | 'none'
  /** How many `Items` arrays the top level holds (JSON.parse would keep only the last). */
  itemsArrays: number
  /** NaN when `Count` is there but not a number. */
  count?: number
  scannedCount?: number
  /** Keys that mark a scan cut short: `NextToken` (--max-items), `LastEvaluatedKey` (--no-paginate). */
  continuation: string[]
}

/**
 * Watches the parser's tokens on their way to the `Items` filter and notes the top-level
 * keys: the file must be one object with an `Items` array, its `Count` (when present) must
 * equal the items read, and a `NextToken` or `LastEvaluatedKey` means the scan stopped early.
 */
function scanFileWatcher(facts: ScanFileFacts): Transform {
  let depth = 0
  let key: string | undefined
  return new Transform({
    objectMode: true,
    transform(token: { name: string; value?: unknown }, _encoding, callback) {
      const opens = token.name === 'startObject' || token.name === 'startArray'
      const closes = token.name === 'endObject' || token.name === 'endArray'
      if (depth === 0 && opens) facts.topLevel = token.name === 'startObject' ? 'object' : 'other'
      else if (depth === 0 && token.name.endsWith('Value')) facts.topLevel = 'other'
      if (depth === 1 && token.name === 'keyValue') {
        key = String(token.value)
      } else if (depth === 1 && key !== undefined && (opens || token.name.endsWith('Value'))) {
        if (key === 'Items' && token.name === 'startArray') facts.itemsArrays++
        if (key === 'Count')
          facts.count = token.name === 'numberValue' ? Number(token.value) : Number.NaN
        if (key === 'ScannedCount' && token.name === 'numberValue')
          facts.scannedCount = Number(token.value)
        if (key === 'NextToken' || key === 'LastEvaluatedKey') facts.continuation.push(key)
        key = undefined
      }
      if (opens) depth++
      if (closes) depth--
      callback(null, token)
    }
  })
}

function scanJsonSource(
  location: string,
  open: () => Promise<Readable>,
  warn: (message: string) => void = (message) => core.warning(message)
): BackupSource {
  let warned = false
  const notScan = (why: string): ActionError =>
    corrupt(location, `it is not the JSON of 'aws dynamodb scan --output json': ${why}`)
  return {
    kind: 'scan-json',
    location,
    read: async (onPage) => {
      const facts: ScanFileFacts = { topLevel: 'none', itemsArrays: 0, continuation: [] }
      let count = 0
      let page: Item[] = []
      const collect = async (elements: AsyncIterable<{ key: number; value: unknown }>) => {
        for await (const element of elements) {
          let item: Item
          try {
            item = fromJsonItem(element.value, `Items[${element.key}]`)
          } catch (error) {
            throw new ActionError('backup.corrupt', `${location}: ${errorMessage(error)}.`)
          }
          page.push(item)
          count++
          if (page.length >= PAGE_ITEMS) {
            const full = page
            page = []
            await onPage(full)
          }
        }
      }
      const items = consumer(collect)
      try {
        await pipeline(
          await open(),
          parser.asStream(),
          scanFileWatcher(facts),
          pick.asStream({ filter: 'Items' }),
          streamArray.asStream(),
          items.sink
        )
      } catch (caught) {
        // The consumer's own failures (a bad item, the target's writer) stand as they are;
        // what the parser throws means the file is not a scan.
        const failure = items.failure()
        if (failure !== undefined) throw toError(failure)
        if (caught instanceof ActionError) throw caught
        throw notScan(errorMessage(caught))
      }
      if (facts.topLevel !== 'object') throw notScan('its top level is not a JSON object')
      if (facts.itemsArrays === 0) throw notScan("it has no 'Items' array")
      if (facts.itemsArrays > 1) throw notScan("it has more than one 'Items' array")
      if (Number.isNaN(facts.count)) throw notScan("its 'Count' is not a number")
      if (facts.continuation.length > 0) {
        throw corrupt(
          location,
          `it holds only part of a scan (it has ${facts.continuation.join(' and ')}: the scan was cut short by --max-items or --no-paginate). Scan again without them`
        )
      }
      if (facts.count !== undefined && facts.count !== count) {
        throw corrupt(location, `it holds ${itemCount(count)}, but its Count says ${facts.count}`)
      }
      if (facts.scannedCount !== undefined && facts.scannedCount !== count && !warned) {
        warned = true
        warn(
          `${location} holds ${count} of the ${facts.scannedCount} items its scan read: it was taken with a filter, so it restores only those.`
        )
      }
      if (page.length > 0) await onPage(page)
      return count
    }
  }
}

/**
 * Opens what a `restore` line names: an S3 prefix or local folder holding one backup this
 * action wrote or one DynamoDB export to S3, or a JSON file written by
 * `aws dynamodb scan --output json` (local, or an S3 object ending in .json).
 */
export async function openBackupSource(location: string, s3: S3Client): Promise<BackupSource> {
  if (location.startsWith('s3://')) {
    const { bucket, prefix } = parseS3Uri(location, `Backup '${location}'`)
    if (prefix.endsWith('.json') && !prefix.endsWith('manifest-summary.json')) {
      const exists = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: prefix })).then(
        () => true,
        () => false
      )
      if (exists) {
        return scanJsonSource(
          location,
          async () =>
            (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: prefix }))).Body as Readable
        )
      }
    }
    const { root, exportId } = splitExportPath(prefix)
    return singleExport(new S3Store(s3, bucket, root), location, exportId)
  }
  const info = await stat(location).catch(() => null)
  if (!info) throw new InputError('restore.backupMissing', `Backup '${location}' does not exist.`)
  const { root, exportId } = splitExportPath(location)
  if (info.isFile() && exportId === undefined)
    return scanJsonSource(location, () => Promise.resolve(createReadStream(location)))
  return singleExport(new LocalStore(root === '' ? '.' : root), location, exportId)
}

/**
 * Splits a location that names one export (`…/AWSDynamoDB/<id>`, with or without a trailing
 * slash or `/manifest-summary.json`) into the folder above `AWSDynamoDB/` and the export id.
 */
export function splitExportPath(location: string): { root: string; exportId?: string } {
  const match = new RegExp(`^(.*?)/?${EXPORT_ROOT}/([^/]+)(?:/manifest-summary\\.json)?/*$`).exec(
    location
  )
  if (!match) return { root: location.replace(/\/+$/, '') }
  const root = match[1] === '' && location.startsWith('/') ? '/' : (match[1] ?? '')
  return { root, exportId: match[2] ?? '' }
}

async function singleExport(
  store: BackupStore,
  location: string,
  exportId?: string
): Promise<BackupSource> {
  let exports: BackupSource[]
  try {
    exports = await findExports(store, exportId)
  } catch (error) {
    if (error instanceof ActionError) throw error
    throw new InputError(
      'restore.backupUnreadable',
      `Backup '${location}' cannot be read: ${errorMessage(error)}`,
      { cause: error }
    )
  }
  if (exports.length === 0) {
    throw new InputError(
      'restore.backupMissing',
      `No backup found at '${location}': expected AWSDynamoDB/<export-id>/manifest-summary.json under it, or a JSON file from 'aws dynamodb scan'.`
    )
  }
  if (exports.length > 1) {
    throw new InputError(
      'restore.backupAmbiguous',
      `'${location}' holds ${exports.length} backups; name one of them: ${exports
        .slice(0, 5)
        .map((e) => e.location)
        .join(', ')}${exports.length > 5 ? ', …' : ''}.`
    )
  }
  return exports[0] as BackupSource
}
