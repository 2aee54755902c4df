import type { TableDescription } from '@aws-sdk/client-dynamodb'
import type { PageItems } from '../dynamo/page-items.js'
import type { DigestSummary } from '../types.js'

const LINE_HEAD = '{"Item":'
const LINE_TAIL = '}\n'

/**
 * A page's lines of a data file as UTF-8 bytes: `{"Item":{...}}` and a newline each, from
 * each item's JSON text: the wire's own (a Scan answer read by readScanAnswer, which holds no
 * raw newline), or JSON.stringify of the parsed item, which writes every own attribute
 * (`__proto__` included) and the numbers' and binaries' text as they came. Written piece by
 * piece into one buffer: the texts are never joined into one string first.
 */
export function dataLines(items: PageItems): Buffer {
  const texts: string[] = []
  let size = 0
  for (let i = 0; i < items.length; i++) {
    const text = items.text(i)
    texts.push(text)
    size += Buffer.byteLength(text) + LINE_HEAD.length + LINE_TAIL.length
  }
  const chunk = Buffer.allocUnsafe(size)
  let at = 0
  for (const text of texts) {
    at += chunk.write(LINE_HEAD, at, 'latin1')
    at += chunk.write(text, at)
    at += chunk.write(LINE_TAIL, at, 'latin1')
  }
  return chunk
}

// --- Export layout -------------------------------------------------------------------------

export const EXPORT_ROOT = 'AWSDynamoDB'
export const FORMAT_VERSION = '2020-06-30'
export const TOOL_NAME = 'dynamodb-table-mover'
export const TABLE_DESCRIPTION_FILE = 'table-description.json'

/** An export id shaped like DynamoDB's own (`01700000000000-a1b2c3d4`). */
export function newExportId(now: Date, random: string): string {
  return `${String(now.getTime()).padStart(14, '0')}-${random.slice(0, 8)}`
}

export interface DataFileEntry {
  itemCount: number
  md5Checksum: string
  etag: string
  dataFileS3Key: string
  /** Ours: lets a reader check the file without S3 (DynamoDB's readers ignore it). */
  sha256: string
  size: number
}

export interface ManifestSummary {
  version: string
  exportArn: string
  startTime: string
  endTime: string
  tableArn: string
  tableId: string
  exportTime: string
  s3Bucket: string | null
  s3Prefix: string | null
  s3SseAlgorithm: string | null
  s3SseKmsKeyId: string | null
  manifestFilesS3Key: string
  billedSizeBytes: number
  itemCount: number
  outputFormat: 'DYNAMODB_JSON'
  /** Ours: what this action needs to check and restore the backup. */
  dynamodbTableMover: {
    tool: string
    table: string
    contentDigest: DigestSummary
    tableDescriptionFile: string
  }
}

export function manifestFilesText(files: readonly DataFileEntry[]): string {
  return files.map((file) => `${JSON.stringify(file)}\n`).join('')
}

export function dataFileKey(exportId: string, index: number, random: string): string {
  return `${EXPORT_ROOT}/${exportId}/data/${String(index).padStart(5, '0')}-${random}.json.gz`
}

/** The table description a backup keeps: what create-target needs to clone the table. */
export interface StoredTableDescription {
  table: TableDescription
  timeToLive?: { enabled: boolean; attributeName?: string }
  pointInTimeRecovery?: boolean
  tags?: { Key: string; Value: string }[]
}
