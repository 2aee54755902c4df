import { createHash, hash as oneShotHash } from 'node:crypto'
import type { DigestSummary, Item, WireValue } from '../types.js'

/**
 * DynamoDB stores numbers as decimals and returns them normalised (no leading or trailing
 * zeros, no exponent, "-0" as "0"). Two spellings of one number must hash alike, so the
 * canonical form is `<sign><significant digits>e<exponent>`: value = digits × 10^exponent.
 */
export function normalizeNumber(text: string): string {
  return plainNumber(text) ?? spelledNumber(text)
}

const ZERO = 48
const NINE = 57
const MINUS = 45
const DOT = 46

/**
 * The canonical form of a number spelled as DynamoDB spells it (`-?digits(.digits)?`), by one
 * walk over its characters; undefined for any other spelling (exponents, `+`, spaces), which
 * `spelledNumber` handles. The two agree wherever both apply (a property test checks it).
 */
function plainNumber(text: string): string | undefined {
  const length = text.length
  let at = text.charCodeAt(0) === MINUS ? 1 : 0
  const sign = at === 1 ? '-' : ''
  // Leading zeros of the integer part.
  while (at < length && text.charCodeAt(at) === ZERO) at++
  const intStart = at
  while (at < length) {
    const c = text.charCodeAt(at)
    if (c < ZERO || c > NINE) break
    at++
  }
  const intEnd = at
  let fracStart = at
  let fracEnd = at
  if (at < length) {
    if (text.charCodeAt(at) !== DOT) return undefined
    fracStart = ++at
    while (at < length) {
      const c = text.charCodeAt(at)
      if (c < ZERO || c > NINE) return undefined
      at++
    }
    fracEnd = at
  }
  // A lone sign, '.', or '-.': not a number (spelledNumber gives its `?` form).
  if (intEnd === (sign ? 1 : 0) && fracEnd === fracStart) return undefined
  // Trailing zeros of the fraction do not count.
  while (fracEnd > fracStart && text.charCodeAt(fracEnd - 1) === ZERO) fracEnd--
  if (fracEnd > fracStart) {
    // digits = integer part (leading zeros gone) + fraction; with no integer part, the
    // fraction's own leading zeros go too.
    let digits: string
    if (intEnd > intStart) digits = text.slice(intStart, intEnd) + text.slice(fracStart, fracEnd)
    else {
      let first = fracStart
      while (text.charCodeAt(first) === ZERO) first++
      digits = text.slice(first, fracEnd)
    }
    return `${sign}${digits}e${-(fracEnd - fracStart)}`
  }
  if (intEnd === intStart) return '0'
  let end = intEnd
  while (text.charCodeAt(end - 1) === ZERO) end--
  return `${sign}${text.slice(intStart, end)}e${intEnd - end}`
}

/**
 * The general rule, for any spelling DynamoDB accepts on input (exponents, `+`, surrounding
 * spaces); normalizeNumber's fast path must agree with it wherever both apply.
 */
export function spelledNumber(text: string): string {
  // Trimmed first: spaces on both sides of an optional middle made the pattern quadratic.
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim())
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) return `?${text}`
  const sign = match[1] === '-' ? '-' : ''
  const fraction = match[3] ?? ''
  let digits = `${match[2]}${fraction}`.replace(/^0+/, '')
  // Exact whatever the exponent's size: two spellings never meet in a rounded Number.
  let exponent = BigInt(match[4] ?? '0') - BigInt(fraction.length)
  if (digits === '') return '0'
  let end = digits.length
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end--
  exponent += BigInt(digits.length - end)
  digits = digits.slice(0, end)
  return `${sign}${digits}e${exponent}`
}

// Binary is hashed by its bytes: base64 that is spelled another way (DynamoDB always sends
// the canonical spelling) hashes alike, as the bytes stored do.
export const canonicalBase64 = (text: string): string =>
  Buffer.from(text, 'base64').toString('base64')
// The default sort compares strings by UTF-16 code units, as `<` does, without a callback.
const sortedStrings = (values: string[]): string[] => [...values].sort()

function unsupported(value: object): never {
  const types = Object.keys(value)
  throw new Error(
    types.length === 1
      ? `Unsupported attribute type: ${types[0] ?? ''}`
      : `An attribute value must have exactly one type, this one has ${types.length}`
  )
}

/**
 * Canonical text of one attribute value: type-tagged, map keys sorted, set members sorted,
 * numbers normalised, binary by its bytes. Equal values give equal text whatever the order
 * DynamoDB returned them in. A value with more or less than one type is refused, never
 * hashed by the part of it that fits.
 */
export function canonicalValue(value: WireValue): string {
  let type: string | undefined
  for (const name in value) {
    if (type !== undefined || !Object.hasOwn(value, name)) unsupported(value)
    type = name
  }
  const v = value as Record<string, unknown>
  // Plain concatenation: faster than template literals with joins at millions of items.
  switch (type) {
    case 'S':
      return '{"S":' + JSON.stringify(v.S) + '}'
    case 'N':
      return '{"N":"' + normalizeNumber(v.N as string) + '"}'
    case 'B':
      return '{"B":"' + canonicalBase64(v.B as string) + '"}'
    case 'BOOL':
      return v.BOOL === true ? '{"BOOL":true}' : '{"BOOL":false}'
    case 'NULL':
      return '{"NULL":true}'
    case 'SS':
      return '{"SS":' + JSON.stringify(sortedStrings(v.SS as string[])) + '}'
    case 'NS':
      return '{"NS":' + JSON.stringify(sortedStrings((v.NS as string[]).map(normalizeNumber))) + '}'
    case 'BS':
      return '{"BS":' + JSON.stringify(sortedStrings((v.BS as string[]).map(canonicalBase64))) + '}'
    case 'L': {
      const list = v.L as WireValue[]
      let out = '{"L":['
      for (let i = 0; i < list.length; i++) {
        if (i > 0) out += ','
        out += canonicalValue(list[i] as WireValue)
      }
      return out + ']}'
    }
    case 'M':
      return '{"M":' + canonicalMap(v.M as Record<string, WireValue>) + '}'
    default:
      return unsupported(value)
  }
}

function canonicalMap(map: Record<string, WireValue>): string {
  const names = Object.keys(map).sort()
  let out = '{'
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string
    if (i > 0) out += ','
    out += JSON.stringify(name) + ':' + canonicalValue(map[name] as WireValue)
  }
  return out + '}'
}

export function canonicalItem(item: Item): string {
  return canonicalMap(item)
}

/**
 * The canonical text of an item's key (numbers equal by value give equal text), for telling
 * keys apart; '' for a key attribute the item lacks.
 */
export function keyText(item: Item, keyAttributes: readonly string[]): string {
  let text = ''
  for (let i = 0; i < keyAttributes.length; i++) {
    const name = keyAttributes[i] as string
    if (i > 0) text += '|'
    if (Object.hasOwn(item, name)) text += canonicalValue(item[name] as WireValue)
  }
  return text
}

/** SHA-256 of a text in one call where Node has it (20.12 and later). */
export const textHash: (text: string) => Buffer =
  typeof oneShotHash === 'function'
    ? (text) => oneShotHash('sha256', text, 'buffer')
    : (text) => createHash('sha256').update(text).digest()

/** SHA-256 of the item's canonical text. */
export function itemHash(item: Item): Buffer {
  return textHash(canonicalItem(item))
}

const BUCKETS = 256

/** A content digest's saved state (see ContentDigest.state). */
export interface DigestState {
  version: 1
  /** Per bucket: [item count, sum of the items' hashes modulo 2^256 in hex]. */
  buckets: [number, string][]
}
const MASK = (1n << 256n) - 1n

/**
 * Order-independent digest of a multiset of items: the per-item SHA-256 values added modulo
 * 2^256 (a duplicated item changes the sum, unlike XOR). Kept in 256 buckets by the hash's
 * first byte, so two digests that differ point at the buckets holding the differences, and
 * digests of disjoint parts of a table (scan segments, matrix jobs) merge by addition.
 */
export class ContentDigest {
  /**
   * Per bucket, the hashes' four 64-bit words summed apart (lane k holds bits 192-64k up):
   * four small BigInt additions an item instead of parsing 256 bits, carried only when a
   * bucket's sum is read.
   */
  private readonly lanes: bigint[] = new Array<bigint>(BUCKETS * 4).fill(0n)
  private readonly counts: number[] = new Array<number>(BUCKETS).fill(0)

  add(item: Item): Buffer {
    const hash = itemHash(item)
    this.addHash(hash)
    return hash
  }

  addHash(hash: Buffer): void {
    const bucket = hash[0] ?? 0
    const at = bucket * 4
    const lanes = this.lanes
    lanes[at] = (lanes[at] ?? 0n) + hash.readBigUInt64BE(0)
    lanes[at + 1] = (lanes[at + 1] ?? 0n) + hash.readBigUInt64BE(8)
    lanes[at + 2] = (lanes[at + 2] ?? 0n) + hash.readBigUInt64BE(16)
    lanes[at + 3] = (lanes[at + 3] ?? 0n) + hash.readBigUInt64BE(24)
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1
  }

  merge(other: ContentDigest): void {
    for (let i = 0; i < BUCKETS * 4; i++) {
      this.lanes[i] = (this.lanes[i] ?? 0n) + (other.lanes[i] ?? 0n)
    }
    for (let b = 0; b < BUCKETS; b++) {
      this.counts[b] = (this.counts[b] ?? 0) + (other.counts[b] ?? 0)
    }
  }

  /** One bucket's hashes added modulo 2^256. */
  private bucketSum(bucket: number): bigint {
    const at = bucket * 4
    const lanes = this.lanes
    return (
      (((lanes[at] ?? 0n) << 192n) +
        ((lanes[at + 1] ?? 0n) << 128n) +
        ((lanes[at + 2] ?? 0n) << 64n) +
        (lanes[at + 3] ?? 0n)) &
      MASK
    )
  }

  get count(): number {
    return this.counts.reduce((a, b) => a + b, 0)
  }

  get digest(): string {
    let total = 0n
    for (let b = 0; b < BUCKETS; b++) total = (total + this.bucketSum(b)) & MASK
    return `sha256-sum:${total.toString(16).padStart(64, '0')}`
  }

  summary(): DigestSummary {
    return { count: this.count, digest: this.digest }
  }

  /**
   * The digest's whole state, to save and later continue (a resumed copy) or combine (the
   * parts of a table scanned by different runners): per bucket, its count and its sum modulo
   * 2^256 in hex. `fromState(d.state())` equals `d`; merging two restored states equals one
   * digest of both parts.
   */
  state(): DigestState {
    const buckets: [number, string][] = []
    for (let b = 0; b < BUCKETS; b++) {
      buckets.push([this.counts[b] ?? 0, this.bucketSum(b).toString(16)])
    }
    return { version: 1, buckets }
  }

  /** A digest continued from a saved state; a state that is not one is refused. */
  static fromState(state: unknown): ContentDigest {
    const digest = new ContentDigest()
    const buckets = (state as { version?: unknown; buckets?: unknown } | null)?.buckets
    if (
      (state as { version?: unknown } | null)?.version !== 1 ||
      !Array.isArray(buckets) ||
      buckets.length !== BUCKETS
    ) {
      throw new Error('not a saved content digest (version 1, 256 buckets)')
    }
    buckets.forEach((bucket: unknown, b) => {
      const [count, sum] = Array.isArray(bucket) ? (bucket as unknown[]) : []
      if (
        !Number.isSafeInteger(count) ||
        (count as number) < 0 ||
        typeof sum !== 'string' ||
        !/^[0-9a-f]{1,64}$/.test(sum)
      ) {
        throw new Error(`bucket ${b} of a saved content digest is not a count and a sum`)
      }
      digest.counts[b] = count as number
      digest.lanes[b * 4 + 3] = BigInt(`0x${sum}`)
    })
    return digest
  }

  /** Buckets whose count or sum differ from the other digest's. */
  differingBuckets(other: ContentDigest): Set<number> {
    const differing = new Set<number>()
    for (let b = 0; b < BUCKETS; b++) {
      if (this.counts[b] !== other.counts[b] || this.bucketSum(b) !== other.bucketSum(b))
        differing.add(b)
    }
    return differing
  }

  static bucketOf(hash: Buffer): number {
    return hash[0] ?? 0
  }
}
