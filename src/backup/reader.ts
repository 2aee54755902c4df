import { createHash } from 'node:crypto'
import * as core from '@actions/core'
import { realpath, stat } from 'node:fs/promises'
import * as path from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { ActionError, InputError, toError } from '../errors.js'
import { parseS3Uri } from '../inputs.js'
import type { DigestSummary, Item } from '../types.js'
import { ItemRuleError, parseWireItem } from '../dynamo/item-rules.js'
import { countJsonKeys, countParsedKeys } from '../dynamo/wire-count.js'
import { EXPORT_ROOT, TABLE_DESCRIPTION_FILE, type StoredTableDescription } from './format.js'
import { LineLimitError, MAX_ITEM_LINE_BYTES, decodeUtf8, eachLine, isBlank } from './lines.js'
import { describeReadError, quoteName } from './safe-text.js'
import { ScanFileSplitter, ScanFileSyntaxError, type ScanElement } from './scan-file.js'
import { LocalStore, S3Store, StoreRefusal, type BackupStore } from './store.js'
import { itemCount } from '../util/progress.js'

/** Items handed on at a time while reading a backup. */
const PAGE_ITEMS = 500

/**
 * Caps on the files a backup's manifests are read from, which are read whole (or, for
 * manifest-files.json, held as one short entry per data file) before any data is read.
 * DynamoDB's and this action's manifest-summary.json are about 1 KB; 1 MiB is far more. A
 * manifest-files.json line is one data file (a key of at most 1,024 bytes and a few numbers):
 * 64 KiB per line, and 64 MiB in all, which is some 250,000 data files, far more than an
 * export of the largest table writes; the entries kept in memory stay well under that.
 * A table description is a few KB, tens with many indexes: 4 MiB.
 */
export const MAX_SUMMARY_BYTES = 1024 * 1024
export const MAX_MANIFEST_FILES_BYTES = 64 * 1024 * 1024
export const MAX_MANIFEST_LINE_BYTES = 64 * 1024
export const MAX_DESCRIPTION_BYTES = 4 * 1024 * 1024

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

/** One checked line of manifest-files.json. */
interface DataFile {
  /** The store path of the data file (always inside the export folder). */
  path: string
  itemCount: number
  md5Checksum: string
  sha256?: string
  size?: number
}

function corrupt(location: string, what: string): ActionError {
  return new ActionError('backup.corrupt', `Backup ${location} is damaged: ${what}.`)
}

/** What went wrong reading a file, in words that never quote its content. */
function readFailure(error: unknown): string {
  if (error instanceof StoreRefusal || error instanceof LineLimitError) return error.message
  return describeReadError(error)
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0

/** A name DynamoDB or this action gives a file or folder of an export; never `.` or `..`. */
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/
const MD5_BASE64 = /^[A-Za-z0-9+/]{21}[AQgw]==$/
const SHA256_HEX = /^[0-9a-f]{64}$/
const DIGEST = /^[a-z0-9-]{1,32}:[0-9a-f]{16,128}$/
/** S3 keys are at most 1,024 bytes. */
const MAX_KEY_CHARS = 1024
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

/**
 * The path, relative to its export folder, of a file a manifest names by its S3 key (the full
 * key DynamoDB wrote, or a relative one). A backup may have moved since it was written (copied
 * to another prefix, downloaded), so only the part from `AWSDynamoDB/<exportId>/` on counts,
 * and it must stay inside that folder: the key must not be absolute or hold `.` or `..`
 * parts, a backslash or a control character, and below the export folder every name must be
 * one DynamoDB writes (letters, digits, `.`, `_`, `-`: no `%` escapes, no empty names).
 * Throws an Error whose message says which rule the key breaks.
 */
export function keyInExport(key: string, exportId: string): string {
  const refuse = (why: string): never => {
    throw new Error(why)
  }
  if (key.length === 0 || key.length > MAX_KEY_CHARS)
    refuse(`is not 1 to ${MAX_KEY_CHARS} characters long`)
  if (key.startsWith('/')) refuse('is absolute')
  if (key.includes('\\')) refuse('holds a backslash')
  if (CONTROL.test(key)) refuse('holds a control character')
  if (key.split('/').some((part) => part === '.' || part === '..')) refuse("has a '.' or '..' part")
  const marker = `${EXPORT_ROOT}/${exportId}/`
  let at = key.lastIndexOf(marker)
  while (at > 0 && key.charAt(at - 1) !== '/') at = key.lastIndexOf(marker, at - 1)
  if (at < 0) refuse(`is not in its export folder ${marker}`)
  const inside = key.slice(at + marker.length)
  if (inside === '' || !inside.split('/').every((part) => SAFE_NAME.test(part)))
    refuse(`does not name a file in ${marker} by names of letters, digits, '.', '_' and '-'`)
  return inside
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
 * Wraps the consuming last stage of a pipeline so that its own failure (a bad line, onPage
 * failing) is the one reported: when it throws, the earlier stages are torn down and the
 * pipeline may reject with their "operation was aborted" instead. An error that only passes
 * through it from an earlier stage (a dropped connection, bad gzip) is not its own: that is
 * damage, which the caller describes in its own words.
 */
function consumer<T>(sink: (source: AsyncIterable<T>) => Promise<void>): {
  sink: (source: AsyncIterable<T>) => Promise<void>
  failure: () => unknown
} {
  let failure: unknown
  return {
    sink: async (source) => {
      let upstream: unknown
      const guarded = (async function* () {
        try {
          yield* source
        } catch (error) {
          upstream = error
          throw error
        }
      })()
      try {
        await sink(guarded)
      } catch (error) {
        if (error !== upstream) failure ??= error
        throw error
      }
    },
    failure: () => failure
  }
}

/** Hands items on in pages of PAGE_ITEMS. */
class Pager {
  count = 0
  private page: Item[] = []

  constructor(private readonly onPage: (items: Item[]) => Promise<void>) {}

  async add(item: Item): Promise<void> {
    this.page.push(item)
    this.count++
    if (this.page.length >= PAGE_ITEMS) {
      const full = this.page
      this.page = []
      await this.onPage(full)
    }
  }

  async flush(): Promise<void> {
    if (this.page.length === 0) return
    const last = this.page
    this.page = []
    await this.onPage(last)
  }
}

/**
 * One item from its JSON text, checked: the text is parsed, the item checked against
 * DynamoDB's rules (which also bounds its nesting), and its object keys counted in the text
 * and in the parsed value (JSON.parse keeps only one of two equal names, silently). `unwrap`
 * takes the item out of the parsed value (`{"Item":…}` for a line of an export). `bad` builds
 * the error; messages name the place (`where`) and what is wrong, never the text.
 */
function parseItemText(
  text: string,
  where: string,
  unwrap: (parsed: unknown) => unknown,
  bad: (what: string) => Error
): Item {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw bad(`${where} is not valid JSON`)
  }
  let item: Item
  try {
    item = parseWireItem(unwrap(parsed), where)
  } catch (error) {
    if (error instanceof ItemRuleError) throw bad(error.message)
    throw bad(`${where} is not a DynamoDB JSON item`)
  }
  let counted = false
  try {
    counted = countJsonKeys(text) === countParsedKeys(parsed)
  } catch {
    // Too deep to count (the item's rules bound its own depth, so this is not an item).
  }
  if (!counted) {
    throw bad(
      `${where} repeats a name inside one JSON object (an attribute given twice: reading it would silently keep only one)`
    )
  }
  return item
}

/** The item of an export's line, `{"Item":{…}}` and nothing else. */
function itemOfLine(parsed: unknown): unknown {
  if (!isRecord(parsed) || !Object.hasOwn(parsed, 'Item') || Object.keys(parsed).length !== 1)
    throw new Error('not an item line')
  return parsed.Item
}

/** Empty lines a data file may hold before it is refused (DynamoDB's exports hold none). */
const MAX_BLANK_LINES = 1000
/** Bytes all of a data file's empty (whitespace-only) lines may hold together. */
const MAX_BLANK_BYTES = 64 * 1024

/**
 * Reads the lines `{"Item":{...}}` of one data file (gzip-compressed or not), in pages,
 * holding one line at a time. A stream that fails (a dropped connection, bad gzip) is
 * `damaged`; a bad or overlong line, or more items than `expected`, is `corrupt`; a failure
 * of `onPage` (the target's writer) is thrown as it is.
 */
async function readDataFile(
  body: Readable,
  hash: Transform,
  gzip: boolean,
  pager: Pager,
  file: { where: string; expected: number },
  bad: (what: string) => ActionError,
  damaged: (why: string) => ActionError
): Promise<number> {
  const start = pager.count
  let blank = 0
  let blankBytes = 0
  const onLine = async (bytes: Buffer, lineNumber: number): Promise<void> => {
    const where = `data file ${file.where} line ${lineNumber}`
    const text = decodeUtf8(bytes)
    if (text === undefined) throw bad(`${where} is not UTF-8 text`)
    if (isBlank(text)) {
      // DynamoDB's exports hold none; a few are forgiven, a flood (a small gzip file that
      // inflates to gigabytes of newlines, or of spaces on few lines) is refused at once
      // rather than read for hours: counted by lines and by bytes.
      blankBytes += bytes.length
      if (++blank > MAX_BLANK_LINES || blankBytes > MAX_BLANK_BYTES)
        throw bad(
          `data file ${file.where} holds more than ${MAX_BLANK_LINES} empty lines or 64 KiB of blank space, which no export holds`
        )
      return
    }
    const item = parseItemText(text, where, itemOfLine, bad)
    if (pager.count - start >= file.expected) {
      throw bad(
        `data file ${file.where} holds more than the ${itemCount(file.expected)} its manifest says`
      )
    }
    await pager.add(item)
  }
  // No file holds more than its items' lines (each within the line cap) and a few blank ones:
  // however it was compressed, reading stops there.
  const maxTotalBytes = (file.expected + 1) * (MAX_ITEM_LINE_BYTES + 1) + MAX_BLANK_LINES * 2
  const lines = consumer(eachLine(onLine, { maxLineBytes: MAX_ITEM_LINE_BYTES, maxTotalBytes }))
  try {
    if (gzip) await pipeline(body, hash, createGunzip(), lines.sink)
    else await pipeline(body, hash, lines.sink)
  } catch (error) {
    const failure = lines.failure()
    if (failure instanceof LineLimitError) {
      throw bad(
        failure.whole
          ? `data file ${file.where} inflates to more than its ${itemCount(file.expected)} can take (${failure.message.replace(/^it /, '')})`
          : `data file ${file.where} ${failure.message}, longer than any item DynamoDB stores as JSON`
      )
    }
    throw failure === undefined ? damaged(describeReadError(error)) : toError(failure)
  }
  return pager.count - start
}

const TABLE_OR_INDEX_NAME = /^[A-Za-z0-9_.-]{3,255}$/
const ENUMS: Record<string, readonly string[]> = {
  KeyType: ['HASH', 'RANGE'],
  AttributeType: ['S', 'N', 'B'],
  ProjectionType: ['ALL', 'KEYS_ONLY', 'INCLUDE'],
  StreamViewType: ['NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES', 'KEYS_ONLY'],
  BillingMode: ['PROVISIONED', 'PAY_PER_REQUEST'],
  SSEType: ['AES256', 'KMS'],
  TableClass: ['STANDARD', 'STANDARD_INFREQUENT_ACCESS']
}
/** Names DynamoDB takes for attributes: 1 to 255 bytes, and here no control characters. */
const attributeNameOk = (name: unknown): boolean =>
  typeof name === 'string' &&
  name !== '' &&
  Buffer.byteLength(name) <= 255 &&
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)

/**
 * Why a stored table description cannot be trusted, or undefined: its names and enumerated
 * values flow into CreateTable, messages and the summary, so each must be what DynamoDB
 * itself would hold (table and index names by DynamoDB's grammar, attribute names without
 * control characters, types and modes from their fixed lists).
 */
function descriptionProblem(table: Record<string, unknown>): string | undefined {
  const name = table.TableName
  if (name !== undefined && (typeof name !== 'string' || !TABLE_OR_INDEX_NAME.test(name)))
    return 'names its table with characters DynamoDB does not allow'
  let problem: string | undefined
  const visit = (value: unknown, key: string): void => {
    if (problem !== undefined) return
    if (Array.isArray(value)) {
      for (const element of value) visit(element, key)
      return
    }
    if (isRecord(value)) {
      for (const name of Object.keys(value)) visit(value[name], name)
      return
    }
    if (key === 'IndexName' && !TABLE_OR_INDEX_NAME.test(String(value)))
      problem = 'names an index with characters DynamoDB does not allow'
    else if ((key === 'AttributeName' || key === 'NonKeyAttributes') && !attributeNameOk(value))
      problem =
        'names an attribute DynamoDB would not take (empty, over 255 bytes, or with control characters)'
    else if (Object.hasOwn(ENUMS, key) && !(ENUMS[key] ?? []).includes(String(value)))
      problem = `has a ${key} that is not one of DynamoDB's`
  }
  visit(table, '')
  return problem
}

/** What manifest-summary.json must say; this action's own part when it wrote the backup. */
interface Summary {
  itemCount: number
  /** The manifest-files.json, relative to the export folder. */
  manifestFiles: string
  exportTime?: string
  ours?: { contentDigest: DigestSummary; tableDescriptionFile: string }
}

/**
 * Checks manifest-summary.json: what every DynamoDB export carries (`itemCount`,
 * `manifestFilesS3Key`, `outputFormat` DYNAMODB_JSON), and this action's part when present.
 */
function checkSummary(
  parsed: unknown,
  location: string,
  exportId: string,
  bad: (what: string) => ActionError
): Summary {
  const summaryBad = (what: string): ActionError => bad(`its manifest-summary.json ${what}`)
  if (!isRecord(parsed)) throw summaryBad('is not a JSON object')
  if (parsed.outputFormat === 'ION') {
    throw new ActionError(
      'backup.unsupportedFormat',
      `Backup ${location} is an export in Amazon Ion format (outputFormat ION), which is not supported: export the table again with the DynamoDB JSON format.`
    )
  }
  if (parsed.outputFormat !== 'DYNAMODB_JSON')
    throw summaryBad("has no outputFormat 'DYNAMODB_JSON'")
  if (parsed.exportType !== undefined && parsed.exportType !== 'FULL_EXPORT') {
    throw new ActionError(
      'backup.unsupportedFormat',
      `Backup ${location} is not a full export (its exportType is not FULL_EXPORT): an incremental export holds changes, not a table, and cannot be restored.`
    )
  }
  if (!isCount(parsed.itemCount)) throw summaryBad('has no itemCount (a whole number, 0 or more)')
  const filesKey = parsed.manifestFilesS3Key
  if (typeof filesKey !== 'string') throw summaryBad('has no manifestFilesS3Key')
  let inside: string
  try {
    inside = keyInExport(filesKey, exportId)
  } catch (error) {
    throw summaryBad(
      `names its manifest-files as ${quoteName(filesKey)}, which ${toError(error).message}`
    )
  }
  const summary: Summary = {
    itemCount: parsed.itemCount,
    manifestFiles: inside
  }
  const time = parsed.exportTime
  if (typeof time === 'string' && time.length <= 64 && !CONTROL.test(time))
    summary.exportTime = time
  const ours = parsed.dynamodbTableMover
  if (ours !== undefined) {
    if (!isRecord(ours)) throw summaryBad("has a 'dynamodbTableMover' that is not an object")
    const digest = ours.contentDigest
    if (
      !isRecord(digest) ||
      !isCount(digest.count) ||
      typeof digest.digest !== 'string' ||
      !DIGEST.test(digest.digest)
    )
      throw summaryBad('has no valid contentDigest (a count and a digest)')
    const file = ours.tableDescriptionFile ?? TABLE_DESCRIPTION_FILE
    if (typeof file !== 'string' || !SAFE_NAME.test(file))
      throw summaryBad('names a tableDescriptionFile that is not a plain file name')
    summary.ours = {
      contentDigest: { count: digest.count, digest: digest.digest },
      tableDescriptionFile: file
    }
  }
  return summary
}

/**
 * Reads manifest-files.json line by line: each line one data file, with what DynamoDB's
 * exports always carry (`itemCount`, `md5Checksum`, `dataFileS3Key`), and ours `sha256` and
 * `size`, checked when present. No data file may be outside the export folder or listed
 * twice.
 */
async function readManifestFiles(
  store: BackupStore,
  manifestPath: string,
  exportDir: string,
  exportId: string,
  bad: (what: string) => ActionError
): Promise<DataFile[]> {
  const files: DataFile[] = []
  const seen = new Set<string>()
  const onLine = (bytes: Buffer, lineNumber: number): void => {
    const lineBad = (what: string): ActionError =>
      bad(`its manifest-files.json line ${lineNumber} ${what}`)
    const text = decodeUtf8(bytes)
    if (text === undefined) throw lineBad('is not UTF-8 text')
    if (isBlank(text)) return
    let entry: unknown
    try {
      entry = JSON.parse(text)
    } catch {
      throw lineBad('is not valid JSON')
    }
    if (!isRecord(entry)) throw lineBad('is not a JSON object')
    if (!isCount(entry.itemCount)) throw lineBad('has no itemCount (a whole number, 0 or more)')
    if (typeof entry.md5Checksum !== 'string' || !MD5_BASE64.test(entry.md5Checksum))
      throw lineBad('has no md5Checksum (an MD5 in base64)')
    if (typeof entry.dataFileS3Key !== 'string') throw lineBad('has no dataFileS3Key')
    let inside: string
    try {
      inside = keyInExport(entry.dataFileS3Key, exportId)
    } catch (error) {
      throw lineBad(
        `names data file ${quoteName(entry.dataFileS3Key)}, which ${toError(error).message}`
      )
    }
    // Compared without case: on a case-insensitive disk two spellings are one file.
    const identity = inside.toLowerCase()
    if (seen.has(identity))
      throw lineBad(`names data file ${quoteName(entry.dataFileS3Key)} a second time`)
    seen.add(identity)
    const file: DataFile = {
      path: `${exportDir}/${inside}`,
      itemCount: entry.itemCount,
      md5Checksum: entry.md5Checksum
    }
    if (entry.sha256 !== undefined) {
      if (typeof entry.sha256 !== 'string' || !SHA256_HEX.test(entry.sha256))
        throw lineBad('has a sha256 that is not a SHA-256 in hex')
      file.sha256 = entry.sha256
    }
    if (entry.size !== undefined) {
      if (!isCount(entry.size)) throw lineBad('has a size that is not a whole number of bytes')
      file.size = entry.size
    }
    files.push(file)
  }
  const lines = consumer(
    eachLine(onLine, {
      maxLineBytes: MAX_MANIFEST_LINE_BYTES,
      maxTotalBytes: MAX_MANIFEST_FILES_BYTES
    })
  )
  try {
    await pipeline(await store.open(manifestPath, exportDir), lines.sink)
  } catch (error) {
    const failure = lines.failure()
    if (failure instanceof ActionError) throw failure
    throw bad(`its manifest-files.json cannot be read (${readFailure(failure ?? error)})`)
  }
  return files
}

/** A manifest-summary.json path split into the folder above `AWSDynamoDB/` and the export id. */
const SUMMARY_PATH = new RegExp(`^(?:(.*)/)?${EXPORT_ROOT}/([^/]+)/manifest-summary\\.json$`, 's')

async function openExport(
  store: BackupStore,
  files: readonly string[],
  summaryPath: string,
  base: string,
  exportId: string
): Promise<BackupSource> {
  const exportDir = `${base}${EXPORT_ROOT}/${exportId}`
  const location = store.locationOf(exportDir)
  const bad = (what: string): ActionError => corrupt(location, what)
  if (!SAFE_NAME.test(exportId))
    throw bad(`its folder name ${quoteName(exportId)} is not an export id`)

  let text: string
  try {
    text = await store.readText(summaryPath, MAX_SUMMARY_BYTES, exportDir)
  } catch (error) {
    throw bad(`its manifest-summary.json cannot be read (${readFailure(error)})`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw bad('its manifest-summary.json is not valid JSON')
  }
  const summary = checkSummary(parsed, location, exportId, bad)
  const dataFiles = await readManifestFiles(
    store,
    `${exportDir}/${summary.manifestFiles}`,
    exportDir,
    exportId,
    bad
  )
  const listed = dataFiles.reduce((sum, file) => sum + file.itemCount, 0)
  if (listed !== summary.itemCount) {
    throw bad(
      `its manifest-files.json lists ${itemCount(listed)}, its manifest-summary.json says ${summary.itemCount}`
    )
  }

  // Each data file's version as the first read found it; later reads must find the same.
  const pins = new Map<string, string>()
  const source: BackupSource = {
    kind: summary.ours ? 'action' : 'dynamodb-export',
    location,
    exportId,
    itemCount: summary.itemCount,
    read: async (onPage) => {
      const pager = new Pager(onPage)
      for (const file of dataFiles) {
        const hash = hashing()
        const damaged = (why: string): ActionError =>
          bad(`data file ${file.path} cannot be read (${why})`)
        let body: Readable
        try {
          body = await store.openPinned(file.path, exportDir, pins)
        } catch (error) {
          throw damaged(readFailure(error))
        }
        const count = await readDataFile(
          body,
          hash.stream,
          file.path.endsWith('.gz'),
          pager,
          { where: file.path, expected: file.itemCount },
          bad,
          damaged
        )
        const actual = hash.result()
        if (
          (file.sha256 !== undefined && file.sha256 !== actual.sha256) ||
          (file.size !== undefined && file.size !== actual.size)
        ) {
          throw bad(`data file ${file.path} does not match the SHA-256 and size in its manifest`)
        }
        if (file.md5Checksum !== actual.md5)
          throw bad(`data file ${file.path} does not match the MD5 in its manifest`)
        if (count !== file.itemCount) {
          throw bad(
            `data file ${file.path} holds ${itemCount(count)}, its manifest says ${file.itemCount}`
          )
        }
      }
      if (pager.count !== summary.itemCount) {
        throw bad(`it holds ${itemCount(pager.count)}, its manifest says ${summary.itemCount}`)
      }
      await pager.flush()
      return pager.count
    }
  }
  if (summary.ours) source.digest = summary.ours.contentDigest
  if (summary.exportTime !== undefined) source.exportTime = summary.exportTime
  const descriptionPath = `${base}${summary.ours?.tableDescriptionFile ?? TABLE_DESCRIPTION_FILE}`
  if (files.includes(descriptionPath)) {
    let description: unknown
    try {
      description = JSON.parse(
        await store.readText(descriptionPath, MAX_DESCRIPTION_BYTES, base.replace(/\/$/, ''))
      )
    } catch (error) {
      throw bad(
        `its table description cannot be read (${error instanceof SyntaxError ? 'it is not valid JSON' : readFailure(error)})`
      )
    }
    if (!isRecord(description) || !isRecord(description.table))
      throw bad('its table description is not a JSON object with a table')
    const problem = descriptionProblem(description.table)
    if (problem !== undefined) throw bad(`its table description ${problem}`)
    source.description = description as unknown as StoredTableDescription
  }
  return source
}

/**
 * Every export (manifest-summary.json) under a store, newest folder name first; only the one
 * with `exportId` when given (the others are not opened, so a broken one does not matter).
 */
export async function findExports(store: BackupStore, exportId?: string): Promise<BackupSource[]> {
  const files = await store.list()
  const summaries: { path: string; base: string; id: string }[] = []
  for (const file of files) {
    const match = SUMMARY_PATH.exec(file)
    if (!match) continue
    const id = match[2] ?? ''
    if (exportId !== undefined && id !== exportId) continue
    // Its folder's name goes into every message about it: no line breaks or other controls.
    if (CONTROL.test(file)) {
      throw corrupt(
        store.location,
        `it holds a manifest-summary.json at ${quoteName(file)}, a path with a control character`
      )
    }
    summaries.push({ path: file, base: match[1] === undefined ? '' : `${match[1]}/`, id })
  }
  summaries.sort((a, b) => (a.path < b.path ? 1 : a.path > b.path ? -1 : 0))
  const sources: BackupSource[] = []
  for (const summary of summaries)
    sources.push(await openExport(store, files, summary.path, summary.base, summary.id))
  return sources
}

/** Reads the top-level members a scan file holds besides `Items`. */
function scanFacts(
  splitter: ScanFileSplitter,
  notScan: (why: string) => ActionError
): { count?: number; scannedCount?: number; continuation: string[] } {
  const facts: { count?: number; scannedCount?: number; continuation: string[] } = {
    continuation: []
  }
  for (const member of splitter.members) {
    let value: unknown
    try {
      value = JSON.parse(member.text)
    } catch {
      throw notScan(`line ${member.line}: a top-level member's value is not valid JSON`)
    }
    if (member.name === 'Count' || member.name === 'ScannedCount') {
      if (!isCount(value)) throw notScan(`its '${member.name}' is not a number`)
      if (member.name === 'Count') facts.count = value
      else facts.scannedCount = value
    }
    if (member.name === 'NextToken' || member.name === 'LastEvaluatedKey')
      facts.continuation.push(member.name)
  }
  return facts
}

/**
 * A JSON file of `aws dynamodb scan --output json`, read as a stream: the splitter hands on
 * each element of `Items`, which is parsed and checked like a line of an export; the file
 * must be one object with one `Items` array, its `Count` (when present) must equal the items
 * read, and a `NextToken` or `LastEvaluatedKey` means the scan stopped early. `open` is called
 * on every read; `warn` reports a filtered scan (once).
 */
export function scanJsonSource(
  location: string,
  open: () => Promise<Readable>,
  warn: (message: string) => void = (message) => core.warning(message)
): BackupSource {
  let warned = false
  const notScan = (why: string): ActionError =>
    corrupt(location, `it is not the JSON of 'aws dynamodb scan --output json': ${why}`)
  const bad = (what: string): ActionError => corrupt(location, what)
  return {
    kind: 'scan-json',
    location,
    read: async (onPage) => {
      const pager = new Pager(onPage)
      const splitter = new ScanFileSplitter()
      const feed = (run: () => void): void => {
        try {
          run()
        } catch (error) {
          if (error instanceof ScanFileSyntaxError) throw notScan(error.message)
          throw error
        }
      }
      const take = async (element: ScanElement): Promise<void> => {
        const where = `Items[${element.index}] (line ${element.line})`
        await pager.add(parseItemText(element.text, where, (parsed) => parsed, bad))
      }
      const items = consumer(async (source: AsyncIterable<Buffer | string>) => {
        // Fatal: bytes that are not UTF-8 are refused, never replaced. A byte order mark at
        // the start is dropped.
        const decoder = new TextDecoder('utf-8', { fatal: true })
        const decode = (chunk?: Buffer): string => {
          try {
            return chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true })
          } catch {
            throw notScan('it is not UTF-8 text')
          }
        }
        for await (const chunk of source) {
          const text = decode(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk)
          feed(() => splitter.write(text))
          for (const element of splitter.take()) await take(element)
        }
        const rest = decode()
        feed(() => {
          splitter.write(rest)
          splitter.end()
        })
        for (const element of splitter.take()) await take(element)
      })
      let body: Readable
      try {
        body = await open()
      } catch (error) {
        throw bad(`it cannot be read (${readFailure(error)})`)
      }
      try {
        await pipeline(body, items.sink)
      } catch (caught) {
        // The consumer's own failures (a bad item, the target's writer) stand as they are.
        const failure = items.failure()
        if (failure !== undefined) throw toError(failure)
        throw bad(`it cannot be read (${describeReadError(caught)})`)
      }
      if (splitter.itemsArrays === 0) throw notScan("it has no 'Items' array")
      const facts = scanFacts(splitter, notScan)
      const count = pager.count
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
      await pager.flush()
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
        const pins = new Map<string, string>()
        const store = new S3Store(s3, bucket, '')
        return scanJsonSource(location, () => store.openPinned(prefix, '', pins))
      }
    }
    const { root, exportId } = splitExportPath(prefix)
    return singleExport(new S3Store(s3, bucket, root), location, exportId)
  }
  const info = await stat(location).catch(() => null)
  if (!info) throw new InputError('restore.backupMissing', `Backup '${location}' does not exist.`)
  const { root, exportId } = splitExportPath(location)
  if (info.isFile() && exportId === undefined) {
    // The file the user named, wherever a link they named leads: read from its own folder.
    const real = await realpath(location)
    const pins = new Map<string, string>()
    const store = new LocalStore(path.dirname(real))
    return scanJsonSource(location, () => store.openPinned(path.basename(real), '', pins))
  }
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
      `Backup '${location}' cannot be read: ${describeReadError(error)}.`,
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
