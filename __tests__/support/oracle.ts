// The tests' own idea of "the same DynamoDB item", written from scratch so that checks do not
// share a bug with the product: nothing here imports src/verify or src/backup. Numbers compare
// as exact decimals (BigInt digits and an exponent), sets as sorted multisets of normalised
// members, binary by bytes, maps by key and lists by position. Also an independent parser of
// the DynamoDB JSON lines (`{"Item":{...}}`) that DynamoDB's export to S3 writes.
import type { AttributeValue } from '@aws-sdk/client-dynamodb'

export type OracleItem = Record<string, AttributeValue>

const TYPES = ['S', 'N', 'B', 'BOOL', 'NULL', 'SS', 'NS', 'BS', 'L', 'M'] as const
type TypeTag = (typeof TYPES)[number]

// --- Numbers ---------------------------------------------------------------------------------

/** An exact decimal: value = sign × digits × 10^exponent; digits has no trailing zero. */
export interface Decimal {
  sign: -1 | 0 | 1
  digits: bigint
  exponent: number
}

/** Any exponent this far out is no DynamoDB number (its range is 1E-130 to 1E+126). */
const EXPONENT_LIMIT = 10_000

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9'

/**
 * Parses a DynamoDB number's text exactly, by hand: `[+-]digits[.digits][(e|E)[+-]digits]`,
 * with at least one mantissa digit on either side of the point. Throws on anything else.
 */
export function parseDecimal(text: string): Decimal {
  let i = 0
  let negative = false
  if (text[i] === '+' || text[i] === '-') negative = text[i++] === '-'
  let whole = ''
  while (isDigit(text[i])) whole += text[i++]
  let fraction = ''
  if (text[i] === '.') {
    i++
    while (isDigit(text[i])) fraction += text[i++]
  }
  if (whole === '' && fraction === '')
    throw new SyntaxError(`not a number: ${JSON.stringify(text)}`)
  let power = 0n
  if (text[i] === 'e' || text[i] === 'E') {
    i++
    let exponentNegative = false
    if (text[i] === '+' || text[i] === '-') exponentNegative = text[i++] === '-'
    let exponentDigits = ''
    while (isDigit(text[i])) exponentDigits += text[i++]
    if (exponentDigits === '') throw new SyntaxError(`not a number: ${JSON.stringify(text)}`)
    power = BigInt(exponentDigits) * (exponentNegative ? -1n : 1n)
  }
  if (i !== text.length) throw new SyntaxError(`not a number: ${JSON.stringify(text)}`)
  let digits = BigInt(whole + fraction)
  if (digits === 0n) return { sign: 0, digits: 0n, exponent: 0 }
  let exponent = power - BigInt(fraction.length)
  while (digits % 10n === 0n) {
    digits /= 10n
    exponent += 1n
  }
  if (exponent > BigInt(EXPONENT_LIMIT) || exponent < -BigInt(EXPONENT_LIMIT))
    throw new RangeError(`number out of any DynamoDB range: ${JSON.stringify(text)}`)
  return { sign: negative ? -1 : 1, digits, exponent: Number(exponent) }
}

export function decimalsEqual(a: Decimal, b: Decimal): boolean {
  return a.sign === b.sign && a.digits === b.digits && a.exponent === b.exponent
}

/** Numeric order: negative < zero < positive, then by magnitude. */
export function compareDecimals(a: Decimal, b: Decimal): number {
  if (a.sign !== b.sign) return a.sign - b.sign
  if (a.sign === 0) return 0
  const low = Math.min(a.exponent, b.exponent)
  const left = a.digits * 10n ** BigInt(a.exponent - low)
  const right = b.digits * 10n ** BigInt(b.exponent - low)
  const magnitude = left < right ? -1 : left > right ? 1 : 0
  return magnitude * a.sign
}

/** Plain decimal text with no exponent: "0", "-12.5", "100", "0.001". */
export function decimalText(value: Decimal): string {
  if (value.sign === 0) return '0'
  const digits = value.digits.toString()
  let text: string
  if (value.exponent >= 0) text = digits + '0'.repeat(value.exponent)
  else {
    const point = digits.length + value.exponent
    text =
      point > 0
        ? `${digits.slice(0, point)}.${digits.slice(point)}`
        : `0.${'0'.repeat(-point)}${digits}`
  }
  return value.sign < 0 ? `-${text}` : text
}

/** A number's text in the oracle's normal form (plain decimal). */
export function normalNumber(text: string): string {
  return decimalText(parseDecimal(text))
}

// --- Strings and bytes -----------------------------------------------------------------------

/** Orders strings by code point (for well-formed text, the UTF-8 byte order DynamoDB uses). */
export function compareStrings(a: string, b: string): number {
  const left = [...a]
  const right = [...b]
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const x = left[i]!.codePointAt(0)!
    const y = right[i]!.codePointAt(0)!
    if (x !== y) return x - y
  }
  return left.length - right.length
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!
  }
  return a.length - b.length
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return compareBytes(a, b) === 0
}

const hex = (bytes: Uint8Array): string =>
  Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')

// --- Attribute values ------------------------------------------------------------------------

/** The one type an AttributeValue carries; throws when it carries none or several. */
export function typeOf(value: AttributeValue): TypeTag {
  const fields = value as unknown as Record<string, unknown>
  const present = Object.keys(fields).filter((k) => fields[k] !== undefined)
  const tag = present[0]
  if (present.length !== 1 || !(TYPES as readonly string[]).includes(tag!))
    throw new TypeError(`not one DynamoDB attribute value: keys ${JSON.stringify(present)}`)
  return tag as TypeTag
}

const member = <T>(value: AttributeValue, tag: TypeTag): T =>
  (value as unknown as Record<string, unknown>)[tag] as T

function sortedStrings(values: readonly string[]): string[] {
  return [...values].sort(compareStrings)
}
function sortedDecimals(values: readonly string[]): Decimal[] {
  return values.map(parseDecimal).sort(compareDecimals)
}
function sortedBytes(values: readonly Uint8Array[]): Uint8Array[] {
  return [...values].sort(compareBytes)
}

function sameLength<T>(a: readonly T[], b: readonly T[], equal: (x: T, y: T) => boolean): boolean {
  return a.length === b.length && a.every((x, i) => equal(x, b[i]!))
}

/** Structural equality of two attribute values, as DynamoDB defines "the same value". */
export function valuesEqual(a: AttributeValue, b: AttributeValue): boolean {
  const tag = typeOf(a)
  if (typeOf(b) !== tag) return false
  switch (tag) {
    case 'S':
    case 'BOOL':
      return member(a, tag) === member(b, tag)
    case 'NULL':
      return true
    case 'N':
      return decimalsEqual(parseDecimal(member(a, 'N')), parseDecimal(member(b, 'N')))
    case 'B':
      return bytesEqual(member(a, 'B'), member(b, 'B'))
    case 'SS':
      return sameLength(
        sortedStrings(member(a, 'SS')),
        sortedStrings(member(b, 'SS')),
        (x, y) => x === y
      )
    case 'NS':
      return sameLength(
        sortedDecimals(member(a, 'NS')),
        sortedDecimals(member(b, 'NS')),
        decimalsEqual
      )
    case 'BS':
      return sameLength(sortedBytes(member(a, 'BS')), sortedBytes(member(b, 'BS')), bytesEqual)
    case 'L':
      return sameLength(
        member<AttributeValue[]>(a, 'L'),
        member<AttributeValue[]>(b, 'L'),
        valuesEqual
      )
    case 'M':
      return itemsEqual(member(a, 'M'), member(b, 'M'))
  }
}

/**
 * A map's attribute names. A name without a value is no DynamoDB attribute: it throws rather
 * than being skipped (the SDK returns a top-level attribute named `__proto__` that way).
 */
function ownNames(map: OracleItem): string[] {
  const names = Object.keys(map)
  for (const name of names)
    if (map[name] === undefined)
      throw new TypeError(`attribute ${JSON.stringify(name)} has no value`)
  return names
}

/** Structural equality of two items (or M values): the same names, each with equal values. */
export function itemsEqual(a: OracleItem, b: OracleItem): boolean {
  const names = sortedStrings(ownNames(a))
  return sameLength(names, sortedStrings(ownNames(b)), (x, y) => x === y)
    ? names.every((name) => valuesEqual(a[name]!, b[name]!))
    : false
}

type Normal = string | boolean | Normal[]

function normalValue(value: AttributeValue): Normal {
  const tag = typeOf(value)
  switch (tag) {
    case 'S':
    case 'BOOL':
      return [tag, member<string | boolean>(value, tag)]
    case 'NULL':
      return [tag]
    case 'N':
      return [tag, normalNumber(member(value, 'N'))]
    case 'B':
      return [tag, hex(member(value, 'B'))]
    case 'SS':
      return [tag, sortedStrings(member(value, 'SS'))]
    case 'NS':
      return [tag, sortedDecimals(member(value, 'NS')).map(decimalText)]
    case 'BS':
      return [tag, sortedBytes(member(value, 'BS')).map(hex)]
    case 'L':
      return [tag, member<AttributeValue[]>(value, 'L').map(normalValue)]
    case 'M':
      return [tag, normalMap(member(value, 'M'))]
  }
}

function normalMap(map: OracleItem): Normal[] {
  return sortedStrings(ownNames(map)).map((name) => [name, normalValue(map[name]!)])
}

/**
 * The item's text in the oracle's normal form (a JSON tree of [type, value] pairs; names and
 * set members sorted, numbers as plain decimals, binary as hex). Two items have the same text
 * exactly when itemsEqual says they are equal.
 */
export function oracleText(item: OracleItem): string {
  return JSON.stringify(normalMap(item))
}

/** `pk|sk` of a pk (S) / sk (N) item, the number in normal form; '' for a missing part. */
export function itemKey(item: OracleItem): string {
  const sk = item.sk?.N
  return `${item.pk?.S ?? ''}|${sk === undefined ? '' : normalNumber(sk)}`
}

// --- DynamoDB JSON ---------------------------------------------------------------------------

function fail(where: string, what: string): never {
  throw new SyntaxError(`DynamoDB JSON at ${where}: ${what}`)
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Strict base64 (padded, canonical) to a fresh Uint8Array. */
export function decodeBase64(text: unknown, where: string): Uint8Array {
  if (typeof text !== 'string' || !BASE64.test(text)) fail(where, 'not base64 text')
  const bytes = Buffer.from(text, 'base64')
  if (bytes.toString('base64') !== text) fail(where, 'non-canonical base64')
  return new Uint8Array(bytes)
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

function strings(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    fail(where, 'not a list of strings')
  return value
}

/** Sets an own property, so that a name like `__proto__` stays an attribute. */
function setOwn(target: OracleItem, name: string, value: AttributeValue): void {
  Object.defineProperty(target, name, {
    value,
    enumerable: true,
    writable: true,
    configurable: true
  })
}

export function parseJsonValue(json: unknown, where: string): AttributeValue {
  if (!isObject(json)) fail(where, 'not an object')
  const tags = Object.keys(json)
  if (tags.length !== 1) fail(where, `expected one type, got ${JSON.stringify(tags)}`)
  const tag = tags[0]!
  const inner = json[tag]
  switch (tag) {
    case 'S':
      if (typeof inner !== 'string') fail(where, 'S is not a string')
      return { S: inner }
    case 'N':
      if (typeof inner !== 'string') fail(where, 'N is not a string')
      parseDecimal(inner)
      return { N: inner }
    case 'B':
      return { B: decodeBase64(inner, where) }
    case 'BOOL':
      if (typeof inner !== 'boolean') fail(where, 'BOOL is not a boolean')
      return { BOOL: inner }
    case 'NULL':
      if (inner !== true) fail(where, 'NULL is not true')
      return { NULL: true }
    case 'SS':
      return { SS: strings(inner, where) }
    case 'NS': {
      const numbers = strings(inner, where)
      numbers.forEach(parseDecimal)
      return { NS: numbers }
    }
    case 'BS':
      return { BS: strings(inner, where).map((b, i) => decodeBase64(b, `${where}[${i}]`)) }
    case 'L':
      if (!Array.isArray(inner)) fail(where, 'L is not a list')
      return { L: inner.map((v, i) => parseJsonValue(v, `${where}[${i}]`)) }
    case 'M':
      return { M: parseJsonItem(inner, where) }
    default:
      fail(where, `unknown type ${JSON.stringify(tag)}`)
  }
}

export function parseJsonItem(json: unknown, where = 'Item'): OracleItem {
  if (!isObject(json)) fail(where, 'not an object')
  const item: OracleItem = {}
  for (const name of Object.keys(json))
    setOwn(item, name, parseJsonValue(json[name], `${where}.${name}`))
  return item
}

/** One line of DynamoDB's export format: exactly `{"Item":{...}}`. */
export function parseJsonLine(line: string): OracleItem {
  const json = JSON.parse(line) as unknown
  if (!isObject(json) || Object.keys(json).length !== 1 || !('Item' in json))
    fail('line', 'not {"Item":{...}}')
  return parseJsonItem(json.Item)
}

/** A data file's text: one item a line, each line ending in a newline. */
export function parseJsonLines(text: string): OracleItem[] {
  if (text === '') return []
  if (!text.endsWith('\n')) fail('end of file', 'last line has no newline')
  return text
    .slice(0, -1)
    .split('\n')
    .map((line, i) => {
      if (line === '') fail(`line ${i + 1}`, 'empty line')
      return parseJsonLine(line)
    })
}
