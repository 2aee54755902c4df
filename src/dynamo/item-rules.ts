import type { TableDescription } from '@aws-sdk/client-dynamodb'
import type { Item, WireValue } from '../types.js'
import { describeKey } from '../util/redact.js'

/*
 * What DynamoDB enforces on an item it is asked to store, checked on the wire form (DynamoDB
 * JSON) before the action writes anything, so a restore never stops half way. Pure: no I/O.
 *
 * Where each rule comes from:
 *  [doc]   AWS DynamoDB developer guide: "DynamoDB item sizes and formats"
 *          (CapacityUnitCalculations), "Supported data types and naming rules"
 *          (HowItWorks.NamingRulesDataTypes), "Constraints" (ServiceQuotas).
 *  [local] Checked with PutItem against DynamoDB Local (AWS's own engine; the emulator of our
 *          integration tests), November 2026. Sizes were measured at the 400 KB boundary: the
 *          largest padding attribute an item takes gives its exact size.
 *
 *  - Item size at most 400 KB = 409,600 bytes: [doc] 1 KB = 1024 bytes; [local] an item of
 *    exactly 409,600 bytes is stored, one byte more is refused.
 *  - Sizes [doc], each confirmed byte for byte by [local] (and itemSize matched [local] on 150
 *    random items of every type, nested, with multi-byte names):
 *    attribute names and strings count their UTF-8 bytes; binary its raw (decoded) bytes;
 *    BOOL and NULL 1 byte; a List or Map 3 bytes plus, per element, 1 byte plus the element
 *    (a Map element also its name's bytes); a set the sum of its members, with no overhead.
 *  - Numbers [doc: "approximately 1 byte per two significant digits + 1"]; the exact rule,
 *    measured by [local] on 50 spellings: the digits are paired from the decimal point (base
 *    100, like Oracle's NUMBER), 1 byte per pair from the first pair holding a non-zero digit
 *    to the last, plus 1, plus 1 more for a negative number; zero is 1 byte. So 1200 is 2
 *    bytes, 12000 is 3, 0.123 is 3, a 38-digit integer 20, and no number is over 22 bytes.
 *  - Number grammar [local]: optional sign, digits with an optional point (`1.`, `.5`), an
 *    optional exponent; no spaces, hex, `_`, `NaN`, `Infinity`. At most 38 significant digits
 *    (leading and trailing zeros do not count: a 40-digit integer ending in 00 is stored);
 *    magnitude 1E-130 to 9.99…E+125 [doc], overflow and underflow refused [local]. DynamoDB
 *    Local also takes non-ASCII digits (`١`), which DynamoDB never writes back; refused here.
 *    A zero with an exponent of 10 or more digits is refused (`0e9999999999`) [local].
 *  - Sets [doc]: not empty, no member twice; empty strings and binaries are allowed as
 *    members. [local]: number set members repeat by value (`1`, `1.0`, `+1`, `1e0`; `0`, `-0`)
 *    and binary set members by decoded bytes (`AA==`, `AB==`).
 *  - Binary: strict base64 with canonical padding. [local] also accepts trailing newlines and
 *    concatenated blocks (`AA==AA==`); Buffer.from silently skips stray characters. Refused
 *    here. Unused low bits in the last character (`AB==`) are accepted, as [local] does (it
 *    stores them cleared: `AB==` reads back as `AA==`).
 *  - Nesting [doc: "up to 32 levels deep"]; how it counts, [local]: the top-level attribute's
 *    value is level 1, a List or Map element one level below its parent. A scalar or set
 *    inside 31 Maps/Lists is stored, inside 32 refused; an empty Map or List inside 31 is
 *    refused too (a List or Map may sit at level 31 at most). The emulator dynoxide-rs
 *    records the same scalar boundary against real DynamoDB (tests/nesting_depth.rs:
 *    "accepts 31 map-wraps, rejects 32").
 *  - Attribute names [doc]: at least one character, under 64 KB. [local]: empty names are
 *    refused at every level, nested maps included; 65,535 bytes of UTF-8 is accepted, 65,536
 *    refused, at the top level and in nested maps alike.
 *  - Keys [doc]: partition key values 1 to 2,048 bytes, sort key values 1 to 1,024 bytes.
 *    [local]: S counts UTF-8 bytes, B decoded bytes, exactly 2,048 / 1,024 accepted; the same
 *    limits hold per role in every GSI and LSI (the table's partition key used as an index's
 *    sort key is held to 1,024), for an index key present without the index's other key
 *    too; index key attributes must be of the index's type and not empty. An N key is at
 *    most 22 bytes by the number rule, so never over a key limit. Key attribute names are at
 *    most 255 bytes [local: CreateTable refuses 128 × "é" = 256 bytes].
 *  - Lone UTF-16 surrogates (`"\ud800"` from JSON.parse) are no text UTF-8 can carry:
 *    [local] stores each as `?`, so two keys that differ only there become one key and a
 *    value is altered; they are refused, in names, strings and string set members.
 */

/** DynamoDB's item size limit: 400 KB. */
export const MAX_ITEM_BYTES = 409_600
/** Attribute names must be under 64 KB. */
export const MAX_NAME_BYTES = 65_535
/** The deepest level a value may sit at (the top-level attribute's value is level 1). */
export const MAX_LEVELS = 32
export const MAX_PARTITION_KEY_BYTES = 2048
export const MAX_SORT_KEY_BYTES = 1024
export const MAX_KEY_NAME_BYTES = 255
const MAX_DIGITS = 38
const MAX_MAGNITUDE = 125
const MIN_MAGNITUDE = -130
/** Names longer than this are shortened in paths and messages. */
const NAME_IN_MESSAGE = 64

/** 409,600: byte counts in messages, with thousands separators. */
const count = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',')

/**
 * An item DynamoDB would refuse. The message names the attribute path and the rule, never a
 * value (tables hold customer data); attribute names may appear.
 */
export class ItemRuleError extends Error {
  /** The attribute path, e.g. `orders.lines[3].sku`; '' for the item as a whole. */
  readonly path: string

  constructor(message: string, path: string) {
    super(message)
    this.name = 'ItemRuleError'
    this.path = path
  }
}

// --- Reading text without copying it ---------------------------------------------------------

const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8')

const CHAR_0 = 48
const CHAR_9 = 57
const CHAR_PLUS = 43
const CHAR_MINUS = 45
const CHAR_DOT = 46
const CHAR_E = 69
const CHAR_LOWER_E = 101
const CHAR_EQUALS = 61

/** What the last scanNumber call found (one shared record: the scan allocates nothing). */
const scanned = {
  size: 0,
  negative: false,
  zero: false,
  /** Indexes in the text of the first and last non-zero digits. */
  first: -1,
  last: -1,
  /** The power of ten of the last non-zero digit. */
  low: 0
}

/**
 * Checks a number's text against DynamoDB's grammar and limits, and measures it. Returns the
 * broken rule, or undefined with `scanned` filled in.
 */
function scanNumber(text: string): string | undefined {
  const n = text.length
  let i = 0
  let c = text.charCodeAt(0)
  const negative = c === CHAR_MINUS
  if (negative || c === CHAR_PLUS) i++
  const intStart = i
  while (i < n && isDigit(text.charCodeAt(i))) i++
  const intEnd = i
  let fracStart = i
  let fracEnd = i
  if (i < n && text.charCodeAt(i) === CHAR_DOT) {
    fracStart = ++i
    while (i < n && isDigit(text.charCodeAt(i))) i++
    fracEnd = i
  }
  if (intEnd === intStart && fracEnd === fracStart) return 'is not a number'
  let exponent = 0
  let exponentDigits = 0
  if (i < n && ((c = text.charCodeAt(i)) === CHAR_E || c === CHAR_LOWER_E)) {
    i++
    c = text.charCodeAt(i)
    const exponentNegative = c === CHAR_MINUS
    if (exponentNegative || c === CHAR_PLUS) i++
    const start = i
    for (; i < n && isDigit((c = text.charCodeAt(i))); i++) {
      if (exponentDigits > 0 || c !== CHAR_0) exponentDigits++
      // Past 16 digits the number is out of range (or, for zero, unreadable) anyway.
      if (exponentDigits <= 16) exponent = exponent * 10 + (c - CHAR_0)
    }
    if (i === start) return 'is not a number'
    if (exponentNegative) exponent = -exponent
  }
  if (i !== n) return 'is not a number'

  let first = -1
  let last = -1
  for (let k = intStart; k < fracEnd; k++) {
    if (k === intEnd) k = fracStart
    if (k >= fracEnd) break
    if (text.charCodeAt(k) !== CHAR_0) {
      if (first < 0) first = k
      last = k
    }
  }
  scanned.negative = negative
  scanned.first = first
  scanned.last = last
  if (first < 0) {
    // Zero. DynamoDB reads numbers as Java BigDecimals, which refuse an exponent of 10 or
    // more digits; 9 digits always fit, whatever the fraction.
    if (exponentDigits > 9) return 'is not a number'
    scanned.zero = true
    scanned.size = 1
    scanned.low = 0
    return undefined
  }
  scanned.zero = false
  // The power of ten of the digit at index k: int digits count down to 0, fraction digits
  // from -1.
  const high = (first < intEnd ? intEnd - 1 - first : fracStart - 1 - first) + exponent
  const low = (last < intEnd ? intEnd - 1 - last : fracStart - 1 - last) + exponent
  if (high - low + 1 > MAX_DIGITS) return `has more than ${MAX_DIGITS} significant digits`
  if (high > MAX_MAGNITUDE) return "is larger than DynamoDB's largest number (under 1E126)"
  if (high < MIN_MAGNITUDE) return "is closer to zero than DynamoDB's smallest number (1E-130)"
  scanned.low = low
  scanned.size = Math.floor(high / 2) - Math.floor(low / 2) + 2 + (negative ? 1 : 0)
  return undefined
}

const isDigit = (c: number): boolean => c >= CHAR_0 && c <= CHAR_9

/** One spelling per value (`1`, `1.0`, `+1`, `10e-1` → `1e0`), after a successful scan. */
function scannedNumberKey(text: string): string {
  if (scanned.zero) return '0'
  const digits = text.slice(scanned.first, scanned.last + 1).replace('.', '')
  return `${scanned.negative ? '-' : ''}${digits}e${scanned.low}`
}

/** The value (0–63) of a base64 character of the standard alphabet, or -1. */
function base64Digit(c: number): number {
  if (c >= 65 && c <= 90) return c - 65 // A-Z
  if (c >= 97 && c <= 122) return c - 71 // a-z
  if (c >= CHAR_0 && c <= CHAR_9) return c + 4 // 0-9
  if (c === CHAR_PLUS) return 62
  if (c === 47) return 63 // '/'
  return -1
}

/**
 * The number of bytes a strict base64 text decodes to (standard alphabet, length a multiple
 * of 4, `=` only as the final padding), or -1 when it is not strict base64.
 */
function base64Bytes(text: string): number {
  const n = text.length
  if (n % 4 !== 0) return -1
  let padding = 0
  if (n > 0 && text.charCodeAt(n - 1) === CHAR_EQUALS)
    padding = text.charCodeAt(n - 2) === CHAR_EQUALS ? 2 : 1
  for (let i = 0; i < n - padding; i++) if (base64Digit(text.charCodeAt(i)) < 0) return -1
  return (n / 4) * 3 - padding
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** One spelling per byte string: the unused low bits of the last character cleared. */
function base64Key(text: string): string {
  const n = text.length
  if (n === 0 || text.charCodeAt(n - 1) !== CHAR_EQUALS) return text
  const twoPads = text.charCodeAt(n - 2) === CHAR_EQUALS
  const at = twoPads ? n - 3 : n - 2
  const digit = base64Digit(text.charCodeAt(at))
  const cleared = digit & (twoPads ? 0x30 : 0x3c)
  return cleared === digit
    ? text
    : `${text.slice(0, at)}${BASE64_ALPHABET.charAt(cleared)}${text.slice(at + 1)}`
}

// --- Checking an item ------------------------------------------------------------------------

type Segment = string | number

/** The path of the value being checked; rendered only when something is wrong. */
const pathStack: Segment[] = []
let context: string | undefined

const SIMPLE_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/

function shortName(name: string): string {
  return name.length > NAME_IN_MESSAGE ? `${name.slice(0, NAME_IN_MESSAGE)}…` : name
}

/**
 * A name as a message shows it between quotes: cut short, and with control characters (line
 * breaks that would split a log line or a summary row) written as escapes. Names may be
 * printed, but they come from a backup, so they are made harmless first.
 */
function plainName(name: string): string {
  return shortName(name).replace(
    // eslint-disable-next-line no-control-regex -- control characters are what it escapes
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  )
}

/** `orders.lines[3].sku`; names that are not plain identifiers as `["a.b"]`. */
function renderPath(segments: readonly Segment[]): string {
  let out = ''
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`
    else if (segment.length <= NAME_IN_MESSAGE && SIMPLE_NAME.test(segment))
      out += out === '' ? segment : `.${segment}`
    else out += `[${JSON.stringify(shortName(segment))}]`
  }
  return out
}

function fail(problem: string): never {
  const path = renderPath(pathStack)
  const subject = path === '' ? 'the item' : `attribute ${path}`
  const prefix = context === undefined || context === '' ? '' : `${context}: `
  throw new ItemRuleError(`${prefix}${subject} ${problem}`, path)
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  S: 'string',
  N: 'number',
  B: 'binary',
  BOOL: 'boolean',
  NULL: 'null',
  SS: 'string set',
  NS: 'number set',
  BS: 'binary set',
  L: 'list',
  M: 'map'
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The type key of a wire value (`S`, `N`, ...) when it has exactly one own key naming a type;
 * undefined otherwise. Counts own keys without listing them.
 */
function wireType(value: Record<string, unknown>): string | undefined {
  let type: string | undefined
  let keys = 0
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    if (++keys > 1) return undefined
    type = key
  }
  return type !== undefined && Object.hasOwn(TYPE_NAMES, type) ? type : undefined
}

/** In Unicode mode a surrogate pair is one code point: this finds only the lone halves. */
const LONE_SURROGATE = /\p{Surrogate}/u
/** Whether text can be stored as UTF-8 unchanged (no lone surrogate halves). */
const wellFormed = (text: string): boolean => !LONE_SURROGATE.test(text)

function checkName(name: string): number {
  if (name === '') fail('has an attribute with an empty name, which DynamoDB refuses')
  if (!wellFormed(name))
    fail(
      'has an attribute name that is not valid Unicode (a lone surrogate), which DynamoDB cannot store unchanged'
    )
  const bytes = utf8Bytes(name)
  if (bytes > MAX_NAME_BYTES) {
    pathStack.push(name)
    fail(`has a name of ${count(bytes)} bytes; DynamoDB allows at most ${count(MAX_NAME_BYTES)}`)
  }
  return bytes
}

/** Checks the attributes of an item or of a map value; returns their size. */
function checkAttributes(map: Record<string, unknown>, level: number, overhead: number): number {
  let size = 0
  for (const name in map) {
    if (!Object.hasOwn(map, name)) continue
    size += checkName(name) + overhead
    pathStack.push(name)
    size += checkValue(map[name], level)
    pathStack.pop()
  }
  return size
}

/** Checks one wire value at `level` (the top-level attribute's value is 1); returns its size. */
function checkValue(value: unknown, level: number): number {
  if (!isRecord(value)) fail('is not a DynamoDB JSON value (an object such as {"S": …})')
  const type = wireType(value)
  if (type === undefined)
    fail('is not a DynamoDB JSON value: it must have exactly one key naming its type')
  const payload = value[type]
  switch (type) {
    case 'S':
      if (typeof payload !== 'string') fail('is a string (S) whose value is not text')
      if (!wellFormed(payload))
        fail(
          'is a string (S) that is not valid Unicode (a lone surrogate), which DynamoDB cannot store unchanged'
        )
      return utf8Bytes(payload)
    case 'N': {
      if (typeof payload !== 'string') fail('is a number (N) whose value is not a string')
      const problem = scanNumber(payload)
      if (problem !== undefined) fail(`is a number (N) that ${problem}`)
      return scanned.size
    }
    case 'B': {
      const bytes = typeof payload === 'string' ? base64Bytes(payload) : -1
      if (bytes < 0) fail('is a binary (B) whose value is not strict base64')
      return bytes
    }
    case 'BOOL':
      if (typeof payload !== 'boolean') fail('is a boolean (BOOL) whose value is not true or false')
      return 1
    case 'NULL':
      if (payload !== true) fail('is a null (NULL) whose value is not true')
      return 1
    case 'SS':
    case 'NS':
    case 'BS':
      return checkSet(type, payload)
    case 'L': {
      if (!Array.isArray(payload)) fail('is a list (L) whose value is not an array')
      if (level >= MAX_LEVELS) fail(`nests lists and maps more than ${MAX_LEVELS} levels deep`)
      let size = 3
      for (let i = 0; i < payload.length; i++) {
        pathStack.push(i)
        size += 1 + checkValue(payload[i], level + 1)
        pathStack.pop()
      }
      return size
    }
    default: {
      // 'M'
      if (!isRecord(payload)) fail('is a map (M) whose value is not an object')
      if (level >= MAX_LEVELS) fail(`nests lists and maps more than ${MAX_LEVELS} levels deep`)
      return 3 + checkAttributes(payload, level + 1, 1)
    }
  }
}

const setKind = (type: 'SS' | 'NS' | 'BS'): string => `${TYPE_NAMES[type] ?? type} (${type})`

function failMember(type: 'SS' | 'NS' | 'BS', i: number, length: number, problem: string): never {
  fail(`is a ${setKind(type)} whose member ${i + 1} of ${length} ${problem}`)
}

/** Checks a set's members (messages are built only on failure); returns the set's size. */
function checkSet(type: 'SS' | 'NS' | 'BS', members: unknown): number {
  if (!Array.isArray(members)) fail(`is a ${setKind(type)} whose value is not an array`)
  if (members.length === 0) fail(`is an empty ${setKind(type)}, which DynamoDB refuses`)
  const seen = members.length > 1 ? new Set<string>() : undefined
  let size = 0
  for (let i = 0; i < members.length; i++) {
    const member: unknown = members[i]
    if (typeof member !== 'string') failMember(type, i, members.length, 'is not a string')
    let key = member
    if (type === 'SS') {
      if (!wellFormed(member))
        failMember(type, i, members.length, 'is not valid Unicode (a lone surrogate)')
      size += utf8Bytes(member)
    } else if (type === 'NS') {
      const problem = scanNumber(member)
      if (problem !== undefined) failMember(type, i, members.length, problem)
      size += scanned.size
      if (seen) key = scannedNumberKey(member)
    } else {
      const bytes = base64Bytes(member)
      if (bytes < 0) failMember(type, i, members.length, 'is not strict base64')
      size += bytes
      if (seen) key = base64Key(member)
    }
    if (seen) {
      if (seen.has(key))
        failMember(type, i, members.length, 'repeats an earlier member, which DynamoDB refuses')
      seen.add(key)
    }
  }
  return size
}

/**
 * Checks that `value` (parsed from JSON) is an item DynamoDB would store as it is, and returns
 * it: the same object, neither copied nor converted. Throws ItemRuleError on the first
 * problem: the shape of DynamoDB JSON, strict base64, numbers, sets, nesting, attribute names,
 * and the 400 KB item size. `where` (e.g. `data/00001.json line 17`) prefixes the message.
 * Key attributes are checked separately, by keyProblem, against a table's key schema.
 */
export function parseWireItem(value: unknown, where?: string): Item {
  pathStack.length = 0
  context = where
  if (!isRecord(value)) fail('is not a JSON object of attributes')
  const size = checkAttributes(value, 1, 0)
  if (size > MAX_ITEM_BYTES)
    fail(
      `is ${count(size)} bytes, over DynamoDB's item size limit of 400 KB (${count(MAX_ITEM_BYTES)} bytes)`
    )
  return value as Item
}

// --- Sizes -----------------------------------------------------------------------------------

/** The size DynamoDB counts for a number's text (a valid one; otherwise its UTF-8 length). */
function numberSize(text: string): number {
  return scanNumber(text) === undefined ? scanned.size : utf8Bytes(text)
}

function valueSize(value: WireValue): number {
  const record = value as unknown as Record<string, unknown>
  const type = wireType(record)
  const payload = type === undefined ? undefined : record[type]
  if (typeof payload === 'string') {
    if (type === 'S') return utf8Bytes(payload)
    if (type === 'N') return numberSize(payload)
    return Math.max(0, base64Bytes(payload)) // 'B'
  }
  if (type === 'BOOL' || type === 'NULL') return 1
  if (!Array.isArray(payload)) return isRecord(payload) ? 3 + attributesSize(payload, 1) : 0
  let size = type === 'L' ? 3 : 0
  for (const member of payload as unknown[]) {
    if (type === 'L') size += 1 + valueSize(member as WireValue)
    else if (typeof member !== 'string') continue
    else if (type === 'SS') size += utf8Bytes(member)
    else if (type === 'NS') size += numberSize(member)
    else size += Math.max(0, base64Bytes(member)) // 'BS'
  }
  return size
}

function attributesSize(map: Record<string, unknown>, overhead: number): number {
  let size = 0
  for (const name in map) {
    if (!Object.hasOwn(map, name)) continue
    const value = map[name]
    if (isRecord(value)) size += utf8Bytes(name) + overhead + valueSize(value as WireValue)
  }
  return size
}

/**
 * The size DynamoDB counts for an item (the one its 400 KB limit and capacity units use):
 * names' UTF-8 bytes plus values, as described at the top of this file. For a valid item.
 */
export function itemSize(item: Item): number {
  return attributesSize(item, 0)
}

// --- Keys ------------------------------------------------------------------------------------

export type KeyType = 'S' | 'N' | 'B'
export type KeyRole = 'HASH' | 'RANGE'

export interface KeyAttribute {
  name: string
  type: KeyType
  /** HASH (partition key, up to 2,048 bytes) or RANGE (sort key, up to 1,024 bytes). */
  role: KeyRole
}

export interface IndexKeyRules {
  indexName: string
  kind: 'global' | 'local'
  /** The index's key attributes: optional on an item, of this type and size when present. */
  keys: KeyAttribute[]
}

export interface KeyRules {
  /** The table's primary key: every item must carry these attributes. */
  primary: KeyAttribute[]
  /** Each GSI and LSI with its key attributes (which may include the table's own keys). */
  indexes: IndexKeyRules[]
}

interface KeySchemaLike {
  AttributeName?: string | undefined
  KeyType?: string | undefined
}

/** The key attributes of a table and of each of its indexes, from its description. */
export function keyRulesOf(description: TableDescription): KeyRules {
  const table =
    description.TableName === undefined ? 'the table' : `'${plainName(description.TableName)}'`
  const types = new Map<string, KeyType>()
  for (const d of description.AttributeDefinitions ?? []) {
    if (d.AttributeName !== undefined && d.AttributeType !== undefined)
      types.set(d.AttributeName, d.AttributeType)
  }
  const keysOf = (schema: readonly KeySchemaLike[] | undefined, owner: string) =>
    (schema ?? []).map(({ AttributeName: name, KeyType: role }): KeyAttribute => {
      const type = name === undefined ? undefined : types.get(name)
      if (name === undefined || type === undefined || (role !== 'HASH' && role !== 'RANGE'))
        throw new Error(
          `The description of ${table} is incomplete: a key attribute of ${owner} has no name, type or role, so its items cannot be checked.`
        )
      return { name, type, role }
    })
  const primary = keysOf(description.KeySchema, 'the table')
  if (!primary.some((k) => k.role === 'HASH'))
    throw new Error(
      `The description of ${table} has no partition key, so its items cannot be checked.`
    )
  const indexes: IndexKeyRules[] = []
  for (const [kind, list] of [
    ['global', description.GlobalSecondaryIndexes],
    ['local', description.LocalSecondaryIndexes]
  ] as const) {
    for (const index of list ?? []) {
      const indexName = plainName(index.IndexName ?? '?')
      indexes.push({ indexName, kind, keys: keysOf(index.KeySchema, `index '${indexName}'`) })
    }
  }
  return { primary, indexes }
}

const ROLE_NAMES: Record<KeyRole, string> = { HASH: 'partition key', RANGE: 'sort key' }
const ROLE_LIMITS: Record<KeyRole, number> = {
  HASH: MAX_PARTITION_KEY_BYTES,
  RANGE: MAX_SORT_KEY_BYTES
}

/** The own value of an attribute, never one inherited from Object.prototype. */
function ownValue(item: Item, name: string): unknown {
  return Object.hasOwn(item, name) ? item[name] : undefined
}

/** A key value's size as DynamoDB counts it, or -1 when the payload is not valid. */
function keyValueSize(type: KeyType, payload: unknown): number {
  if (typeof payload !== 'string') return -1
  if (type === 'S') return utf8Bytes(payload)
  if (type === 'B') return base64Bytes(payload)
  return scanNumber(payload) === undefined ? scanned.size : -1
}

/** Why DynamoDB would refuse `value` as key attribute `key`; `what` names it in the message. */
function keyValueProblem(
  value: unknown,
  key: KeyAttribute,
  what: string,
  owner: string
): string | undefined {
  const type = isRecord(value) ? wireType(value) : undefined
  if (type === undefined) return `${what} is not a DynamoDB JSON value`
  if (type !== key.type) return `${what} is of type ${type}; ${owner} is ${key.type}`
  const payload = (value as Record<string, unknown>)[type]
  const bytes = keyValueSize(key.type, payload)
  if (bytes < 0) return `${what} is not a valid ${TYPE_NAMES[type] ?? type}`
  if (bytes === 0) return `${what} is empty, which DynamoDB refuses in a key`
  const limit = ROLE_LIMITS[key.role]
  if (bytes > limit)
    return `${what} is ${count(bytes)} bytes; DynamoDB allows at most ${count(limit)} for a ${ROLE_NAMES[key.role]}`
  return undefined
}

function keyNameProblem(key: KeyAttribute): string | undefined {
  const bytes = utf8Bytes(key.name)
  return bytes > MAX_KEY_NAME_BYTES
    ? `key attribute name '${plainName(key.name)}' is ${count(bytes)} bytes; DynamoDB allows at most ${MAX_KEY_NAME_BYTES}`
    : undefined
}

/**
 * Why DynamoDB would refuse this item in a table with these keys, or undefined when it would
 * not: a missing primary key attribute, a key or index key attribute of the wrong type, empty,
 * or over the size limit of its role (partition key 2,048 bytes, sort key 1,024) in the table
 * or in any index. Names attributes, types and sizes only, never values.
 */
export function keyProblem(item: Item, rules: KeyRules): string | undefined {
  for (const key of rules.primary) {
    const nameProblem = keyNameProblem(key)
    if (nameProblem !== undefined) return `the table's ${nameProblem}`
    const value = ownValue(item, key.name)
    if (value === undefined) return `it has no key attribute '${plainName(key.name)}'`
    const problem = keyValueProblem(
      value,
      key,
      `its ${ROLE_NAMES[key.role]} '${plainName(key.name)}'`,
      "the table's"
    )
    if (problem !== undefined) return problem
  }
  for (const index of rules.indexes) {
    for (const key of index.keys) {
      const nameProblem = keyNameProblem(key)
      if (nameProblem !== undefined) return `index '${index.indexName}' has a ${nameProblem}`
      const value = ownValue(item, key.name)
      if (value === undefined) continue
      const problem = keyValueProblem(
        value,
        key,
        `its attribute '${plainName(key.name)}', the ${ROLE_NAMES[key.role]} of index '${index.indexName}',`,
        "the index's"
      )
      if (problem !== undefined) return problem
    }
  }
  return undefined
}

// --- Describing and counting refused items ---------------------------------------------------

/**
 * Counts the items a table would refuse for their keys (keyProblem), keeping the first few as
 * `pk="a", sk=3: why` descriptions (describeKey: the primary key attributes only). The shape
 * and size of each item are parseWireItem's job, done as the item is read.
 */
export class ItemChecker {
  rejected = 0
  readonly examples: string[] = []
  private readonly keyNames: readonly string[]

  constructor(
    private readonly rules: KeyRules,
    private readonly exampleLimit = 5
  ) {
    this.keyNames = rules.primary.map((k) => k.name)
  }

  check(items: readonly Item[]): void {
    for (const item of items) {
      const problem = keyProblem(item, this.rules)
      if (problem === undefined) continue
      this.rejected++
      if (this.examples.length < this.exampleLimit)
        this.examples.push(`${describeKey(item, this.keyNames)}: ${problem}`)
    }
  }
}
