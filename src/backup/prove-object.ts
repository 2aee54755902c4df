import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { constants, createGunzip } from 'node:zlib'
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { ActionError, errorMessage } from '../errors.js'
import { compositeSha256, type WrittenPart } from './multipart.js'
import { s3Uri } from './s3.js'

/**
 * How many bytes of a data file the parse check reads: a line holds one item (at most 400 KB
 * in DynamoDB, a little more as JSON text), so its gzip fits well inside this. Objects no
 * larger are read whole, and then every line is counted too.
 */
export const FIRST_BYTES = 1024 * 1024
/** A first line longer than this cannot be an item's line. */
const MAX_LINE_BYTES = 4 * 1024 * 1024
const NEWLINE = 0x0a

export interface UploadedDataFile {
  size: number
  parts: readonly WrittenPart[]
  itemCount: number
  /** SHA-256 of the first line as written (without its newline); absent when no items. */
  firstLineSha256?: Buffer
}

function notProven(uri: string, why: string): ActionError {
  return new ActionError(
    'backup.readBackFailed',
    `Backup object ${uri} does not match what was written: ${why}. Run the backup again.`
  )
}

/**
 * Proves an uploaded data file without downloading it again.
 *
 * Why this is enough: S3 checked every part against the SHA-256 we computed from its bytes as
 * they left the gzip stream, before it stored the part, and answered with that checksum
 * (MultipartUpload compares it). HeadObject then gives the object's size and its composite
 * checksum, the SHA-256 over the parts' SHA-256s in part order: equal to ours, it ties the
 * object to exactly those parts, in that order, and nothing else; the size ties their
 * lengths. So the stored bytes are the bytes we hashed, and the MD5 and SHA-256 of the whole
 * object in the manifest (computed from the same bytes while writing) are the stored
 * object's. One ranged GET of the first bytes then proves the object reads back through
 * GetObject as gzip whose first line is the first line we wrote and parses as `{"Item":…}`
 * (or, for a small object read whole, that it gunzips completely, gzip's own CRC included,
 * to exactly as many lines as items written).
 */
export async function proveDataFile(
  s3: S3Client,
  bucket: string,
  key: string,
  expected: UploadedDataFile
): Promise<void> {
  const uri = s3Uri(bucket, key)
  const head = await s3.send(
    new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' })
  )
  if (head.ContentLength !== expected.size) {
    throw notProven(
      uri,
      `S3 holds ${head.ContentLength ?? 0} bytes, but ${expected.size} were written`
    )
  }
  const reported = head.ChecksumSHA256
  if (reported === undefined) {
    throw notProven(
      uri,
      'S3 reports no SHA-256 checksum for it, so it cannot be proven without downloading it (the bucket must be on a store that keeps additional checksums, as Amazon S3 does)'
    )
  }
  // Amazon S3 writes a composite checksum as `<base64>-<parts>`; moto leaves the count out.
  const [value, count] = reported.split('-')
  const composite = compositeSha256(expected.parts)
  if (value !== composite || (count !== undefined && count !== String(expected.parts.length))) {
    throw notProven(
      uri,
      `S3's composite checksum of its parts is ${reported}, but the ${expected.parts.length} parts written give ${composite}-${expected.parts.length}`
    )
  }
  await proveFirstLine(s3, bucket, key, uri, expected)
}

async function proveFirstLine(
  s3: S3Client,
  bucket: string,
  key: string,
  uri: string,
  expected: UploadedDataFile
): Promise<void> {
  const whole = expected.size <= FIRST_BYTES
  const length = Math.min(expected.size, FIRST_BYTES)
  const object = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${length - 1}` })
  )
  const body = object.Body as Readable | undefined
  if (body === undefined) throw notProven(uri, 'a read of its first bytes returned nothing')
  const chunks: Buffer[] = []
  let got = 0
  // A store may answer a ranged GET with the whole object (HTTP 200 is allowed): take the
  // first `length` bytes either way, and stop reading there.
  for await (const chunk of body) {
    const bytes = chunk as Buffer
    const room = length - got
    chunks.push(bytes.length > room ? bytes.subarray(0, room) : bytes)
    got += Math.min(bytes.length, room)
    if (got >= length) break
  }
  body.destroy()
  if (got !== length) {
    throw notProven(uri, `a read of its first ${length} bytes returned ${got}`)
  }
  // Read in part, the gzip stream stops early: flush what it holds instead of failing.
  const gunzip = createGunzip(whole ? {} : { finishFlush: constants.Z_SYNC_FLUSH })
  gunzip.end(Buffer.concat(chunks))
  const first: Buffer[] = []
  let firstBytes = 0
  let firstDone = false
  let lines = 0
  let trailing = false
  try {
    for await (const chunk of gunzip) {
      const bytes = chunk as Buffer
      let from = 0
      if (!firstDone) {
        const end = bytes.indexOf(NEWLINE)
        first.push(end < 0 ? bytes : bytes.subarray(0, end))
        firstBytes += end < 0 ? bytes.length : end
        if (firstBytes > MAX_LINE_BYTES)
          throw notProven(uri, 'its first line is longer than any item')
        if (end < 0) continue
        firstDone = true
        lines = 1
        from = end + 1
        if (!whole) break
      }
      for (let at = bytes.indexOf(NEWLINE, from); at >= 0; at = bytes.indexOf(NEWLINE, at + 1)) {
        lines++
      }
      if (bytes.length > 0) trailing = bytes[bytes.length - 1] !== NEWLINE
    }
  } catch (error) {
    if (error instanceof ActionError) throw error
    throw notProven(uri, `its first bytes do not gunzip (${errorMessage(error)})`)
  } finally {
    gunzip.destroy()
  }
  if (expected.itemCount === 0) {
    if (firstBytes > 0 || lines > 0)
      throw notProven(uri, 'it holds data, but no items were written')
    return
  }
  if (!firstDone) {
    throw notProven(uri, `its first ${length} bytes do not hold a whole line`)
  }
  const line = Buffer.concat(first)
  if (!isItemLine(line)) throw notProven(uri, 'its first line is not an item line {"Item":{…}}')
  const sha256 = createHash('sha256').update(line).digest()
  if (expected.firstLineSha256 !== undefined && !sha256.equals(expected.firstLineSha256)) {
    throw notProven(uri, 'its first line is not the first line written')
  }
  if (whole && (lines !== expected.itemCount || trailing)) {
    throw notProven(uri, `it holds ${lines} lines, but ${expected.itemCount} items were written`)
  }
}

function isItemLine(line: Buffer): boolean {
  let parsed: unknown
  try {
    parsed = JSON.parse(line.toString('utf8'))
  } catch {
    return false
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false
  const keys = Object.keys(parsed)
  const item = (parsed as { Item?: unknown }).Item
  return (
    keys.length === 1 &&
    keys[0] === 'Item' &&
    typeof item === 'object' &&
    item !== null &&
    !Array.isArray(item)
  )
}
