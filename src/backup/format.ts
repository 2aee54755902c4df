import type { AttributeValue, TableDescription } from '@aws-sdk/client-dynamodb'
import type { DigestSummary, Item } from '../types.js'
import { normalizeNumber } from '../verify/digest.js'

/**
 * DynamoDB JSON, as DynamoDB's export to S3 and `aws dynamodb scan` write it: the
 * AttributeValue shape with binary as base64 text. Numbers stay strings, so all 38 digits
 * survive.
 */
export type JsonAttributeValue =
  | { S: string }
  | { N: string }
  | { B: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: string[] }
  | { L: JsonAttributeValue[] }
  | { M: Record<string, JsonAttributeValue> }

export type JsonItem = Record<string, JsonAttributeValue>

const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

export function toJsonValue(value: AttributeValue): JsonAttributeValue {
  if (value.S !== undefined) return { S: value.S }
  if (value.N !== undefined) return { N: value.N }
  if (value.B !== undefined) return { B: toBase64(value.B) }
  if (value.BOOL !== undefined) return { BOOL: value.BOOL }
  if (value.NULL !== undefined) return { NULL: true }
  if (value.SS !== undefined) return { SS: value.SS }
  if (value.NS !== undefined) return { NS: value.NS }
  if (value.BS !== undefined) return { BS: value.BS.map(toBase64) }
  if (value.L !== undefined) return { L: value.L.map(toJsonValue) }
  if (value.M !== undefined) return { M: toJsonItem(value.M) }
  throw new Error(`Unsupported attribute type: ${Object.keys(value).join(',') || 'empty'}`)
}

// Maps are built with Object.fromEntries, never `out[name] = ...`: an attribute may be named
// `__proto__`, which an assignment would turn into the object's prototype and lose.
export function toJsonItem(item: Item): JsonItem {
  return Object.fromEntries<JsonAttributeValue>(
    Object.entries(item).map(([name, value]) => [name, toJsonValue(value)])
  )
}

function fail(where: string, what = 'not a DynamoDB JSON attribute value'): never {
  throw new Error(`${what} at ${where}`)
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Strict base64: Buffer.from would skip stray characters and change the bytes silently. */
const fromBase64 = (text: unknown, where: string): Uint8Array => {
  if (typeof text !== 'string' || !BASE64.test(text)) fail(where)
  return new Uint8Array(Buffer.from(text, 'base64'))
}

function stringList(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) fail(where)
  return value
}

/** A set as DynamoDB takes it: not empty, no member twice (by `identity`). */
function setMembers(value: unknown, where: string, identity: (member: string) => string): string[] {
  const members = stringList(value, where)
  if (members.length === 0) fail(where, 'an empty set')
  if (new Set(members.map(identity)).size !== members.length)
    fail(where, 'a set with a repeated member')
  return members
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

/** A number as DynamoDB takes it: up to 38 significant digits, magnitude 1E-130 to <1E126. */
function numberText(value: unknown, where: string): string {
  if (typeof value !== 'string' || !NUMBER.test(value)) fail(where, 'not a number')
  const canonical = normalizeNumber(value)
  if (canonical !== '0') {
    const [digits = '', exponent = '0'] = canonical.replace(/^-/, '').split('e')
    const magnitude = Number(exponent) + digits.length - 1
    if (digits.length > 38) fail(where, 'a number of more than 38 significant digits')
    if (magnitude < -130 || magnitude > 125) fail(where, "a number out of DynamoDB's range")
  }
  return value
}

/** Parses one DynamoDB JSON value; `where` names the attribute path for error messages only. */
export function fromJsonValue(value: unknown, where: string): AttributeValue {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(where)
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length !== 1) fail(where)
  const [type, inner] = entries[0] as [string, unknown]
  switch (type) {
    case 'S':
      if (typeof inner !== 'string') fail(where)
      return { S: inner }
    case 'N':
      return { N: numberText(inner, where) }
    case 'B':
      return { B: fromBase64(inner, where) }
    case 'BOOL':
      if (typeof inner !== 'boolean') fail(where)
      return { BOOL: inner }
    case 'NULL':
      if (inner !== true) fail(where)
      return { NULL: true }
    case 'SS':
      return { SS: setMembers(inner, where, (m) => m) }
    case 'NS':
      return {
        NS: setMembers(inner, where, (m) => normalizeNumber(numberText(m, where)))
      }
    case 'BS': {
      const members = setMembers(inner, where, (m) => toBase64(fromBase64(m, where)))
      return { BS: members.map((b) => fromBase64(b, where)) }
    }
    case 'L':
      if (!Array.isArray(inner)) fail(where)
      return { L: inner.map((v, i) => fromJsonValue(v, `${where}[${i}]`)) }
    case 'M':
      return { M: fromJsonItem(inner, where) }
    default:
      fail(where)
  }
}

export function fromJsonItem(value: unknown, where = 'item'): Item {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(where)
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([name, inner]) => [
      name,
      fromJsonValue(inner, `${where}.${name}`)
    ])
  )
}

/** The JSON text of one value, as JSON.stringify(toJsonValue(value)) writes it, built directly. */
function jsonValueText(value: AttributeValue): string {
  if (value.S !== undefined) return `{"S":${JSON.stringify(value.S)}}`
  if (value.N !== undefined) return `{"N":${JSON.stringify(value.N)}}`
  if (value.B !== undefined) return `{"B":"${toBase64(value.B)}"}`
  if (value.BOOL !== undefined) return value.BOOL ? '{"BOOL":true}' : '{"BOOL":false}'
  if (value.NULL !== undefined) return '{"NULL":true}'
  if (value.L !== undefined) return `{"L":[${value.L.map(jsonValueText).join(',')}]}`
  if (value.M !== undefined) return `{"M":${jsonItemText(value.M)}}`
  return JSON.stringify(toJsonValue(value))
}

function jsonItemText(item: Item): string {
  const parts: string[] = []
  for (const name of Object.keys(item)) {
    const value = item[name]
    if (value !== undefined) parts.push(`${JSON.stringify(name)}:${jsonValueText(value)}`)
  }
  return `{${parts.join(',')}}`
}

/** One line of a data file: `{"Item":{...}}` and a newline. */
export function itemLine(item: Item): string {
  return `{"Item":${jsonItemText(item)}}\n`
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
