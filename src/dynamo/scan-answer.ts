import { canonicalBase64, normalizeNumber, textHash } from '../verify/digest.js'
import type { Item } from '../types.js'
import { countJsonKeys, countParsedKeys } from './wire-count.js'

/**
 * A Scan answer read in one pass over its text, without building the items: each item comes
 * out as the exact slice of text the wire carried (what the backup and the target's writes
 * take), the SHA-256 of its canonical text (what the content digest adds) and, when asked,
 * the canonical text of its key (what the writer orders requests by).
 *
 * It takes only the form DynamoDB sends: compact JSON, every attribute value an object with
 * exactly one known type, strings free of raw control characters. Anything else, even valid
 * JSON (whitespace, an unknown type, a name twice in one map, a lone surrogate, nesting deeper
 * than DynamoDB allows), makes it give up and return undefined, and the answer goes to the
 * general path (JSON.parse, the wire's name count, the canonical digest of the parsed items),
 * which accepts or refuses it as before. So this reader never decides what an answer means in
 * a way the general path would not: where it answers, its hashes and key texts equal those of
 * the parsed items (property tests hold the two side by side).
 *
 * Nothing is lost on the way: each item's text is the wire's own bytes, and a map that names
 * an attribute twice (which JSON.parse would merge) is found while its names are sorted.
 */

export interface ScanAnswer {
  /** Each item's JSON text, as the wire carried it. */
  texts: string[]
  /** SHA-256 of each item's canonical text (as `itemHash` of the parsed item). */
  hashes: Buffer[]
  /** Each item's key text (as `keyText`), when key attributes were given. */
  keyTexts?: string[]
  lastEvaluatedKey?: Item
  consumedCapacity?: number
  /** The answer's own `Count`, when it has one (checked against the items). */
  count?: number
}

const QUOTE = 0x22
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

/** DynamoDB nests documents at most 32 levels deep; deeper goes to the general path. */
const MAX_DEPTH = 32

/** Raw control characters: never allowed in a JSON string, and whitespace outside one. */
// eslint-disable-next-line no-control-regex -- finding them is the point
const CONTROL = /[\u0000-\u001f]/
/** No lone surrogate (String.prototype.isWellFormed: Node 20 and later, as `engines` asks). */
const wellFormed = (text: string): boolean =>
  (text as string & { isWellFormed(): boolean }).isWellFormed()
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y

/** Thrown inside the reader to give up; never leaves it. */
class NotFast extends Error {}
const NOT_FAST = new NotFast()

class Reader {
  at = 0
  /** The next backslash at or after `at` (Infinity: none), so strings are checked in O(1). */
  private backslash: number
  /** Whether the string last read held an escape (its `value` is then decoded). */
  escaped = false

  constructor(readonly text: string) {
    const first = text.indexOf('\\')
    this.backslash = first < 0 ? Infinity : first
  }

  expect(code: number): void {
    if (this.text.charCodeAt(this.at) !== code) throw NOT_FAST
    this.at++
  }

  /** Reads a string at `at` (its opening quote); returns its value. */
  string(): string {
    const text = this.text
    if (text.charCodeAt(this.at) !== QUOTE) throw NOT_FAST
    const start = this.at + 1
    let end = text.indexOf('"', start)
    if (end < 0) throw NOT_FAST
    if (this.backslash < start) {
      const next = text.indexOf('\\', start)
      this.backslash = next < 0 ? Infinity : next
    }
    if (this.backslash > end) {
      this.escaped = false
      this.at = end + 1
      return text.slice(start, end)
    }
    // An escape inside: find the quote that ends the string, then let JSON.parse decode it.
    // Each escape moves past its two characters; the quote is looked for again only when the
    // one found was escaped, so a string of many escapes is read in linear time.
    let i = start
    for (;;) {
      const slash = text.indexOf('\\', i)
      if (slash < 0 || slash > end) break
      i = slash + 2
      if (end < i) {
        end = text.indexOf('"', i)
        if (end < 0) throw NOT_FAST
      }
    }
    const next = text.indexOf('\\', end + 1)
    this.backslash = next < 0 ? Infinity : next
    let value: unknown
    try {
      value = JSON.parse(text.slice(start - 1, end + 1))
    } catch {
      throw NOT_FAST
    }
    if (typeof value !== 'string' || !wellFormed(value)) throw NOT_FAST
    this.escaped = true
    this.at = end + 1
    return value
  }

  /** A string's canonical JSON text (JSON.stringify of its value). */
  quoted(value: string): string {
    // Unescaped, the wire's text has no quote, backslash or control character: as stringify.
    return this.escaped ? JSON.stringify(value) : '"' + value + '"'
  }

  /** A map of attribute values (an item, a key or an `M`); returns its canonical text. */
  map(depth: number, keyAttributes?: readonly string[], keys?: (string | undefined)[]): string {
    if (depth > MAX_DEPTH) throw NOT_FAST
    const text = this.text
    this.expect(OPEN_BRACE)
    if (text.charCodeAt(this.at) === CLOSE_BRACE) {
      this.at++
      return '{}'
    }
    const names: string[] = []
    const quotedNames: string[] = []
    const values: string[] = []
    let sorted = true
    for (;;) {
      const name = this.string()
      const quoted = this.quoted(name)
      this.expect(COLON)
      const value = this.value(depth + 1)
      if (keyAttributes !== undefined && keys !== undefined) {
        for (let k = 0; k < keyAttributes.length; k++)
          if (keyAttributes[k] === name) keys[k] = value
      }
      const count = names.length
      if (count > 0 && !((names[count - 1] as string) < name)) sorted = false
      names.push(name)
      quotedNames.push(quoted)
      values.push(value)
      const c = text.charCodeAt(this.at++)
      if (c === CLOSE_BRACE) break
      if (c !== COMMA) throw NOT_FAST
    }
    let out = '{'
    if (sorted) {
      for (let i = 0; i < names.length; i++) {
        if (i > 0) out += ','
        out += (quotedNames[i] as string) + ':' + (values[i] as string)
      }
      return out + '}'
    }
    // In name order (UTF-16 code units, as the general path sorts): the default sort, then
    // each name found again; equal neighbours are a name given twice (JSON.parse merges them).
    const order = names.slice().sort()
    const large = order.length > 32 ? new Map(names.map((name, i) => [name, i])) : undefined
    for (let i = 0; i < order.length; i++) {
      const name = order[i] as string
      if (i > 0) {
        if (order[i - 1] === name) throw NOT_FAST
        out += ','
      }
      const at = large ? (large.get(name) as number) : names.indexOf(name)
      out += (quotedNames[at] as string) + ':' + (values[at] as string)
    }
    return out + '}'
  }

  /** One attribute value (`{"TYPE":...}`); returns its canonical text. */
  value(depth: number): string {
    const text = this.text
    const start = this.at
    this.expect(OPEN_BRACE)
    const type = this.string()
    const typeEscaped = this.escaped
    this.expect(COLON)
    let out: string
    switch (type) {
      case 'S': {
        const s = this.string()
        if (!this.escaped && !typeEscaped) {
          // Unescaped, `{"S":"..."}` on the wire is already the canonical text.
          this.expect(CLOSE_BRACE)
          return text.slice(start, this.at)
        }
        out = '{"S":' + JSON.stringify(s) + '}'
        break
      }
      case 'N':
        out = '{"N":"' + normalizeNumber(this.string()) + '"}'
        break
      case 'B':
        out = '{"B":"' + canonicalBase64(this.string()) + '"}'
        break
      case 'BOOL':
        if (text.startsWith('true', this.at)) {
          this.at += 4
          out = '{"BOOL":true}'
        } else if (text.startsWith('false', this.at)) {
          this.at += 5
          out = '{"BOOL":false}'
        } else throw NOT_FAST
        break
      case 'NULL':
        if (!text.startsWith('true', this.at)) throw NOT_FAST
        this.at += 4
        out = '{"NULL":true}'
        break
      case 'SS':
        out = '{"SS":' + JSON.stringify(this.strings().sort()) + '}'
        break
      case 'NS':
        out = '{"NS":' + JSON.stringify(this.strings().map(normalizeNumber).sort()) + '}'
        break
      case 'BS':
        out = '{"BS":' + JSON.stringify(this.strings().map(canonicalBase64).sort()) + '}'
        break
      case 'L': {
        if (depth > MAX_DEPTH) throw NOT_FAST
        this.expect(OPEN_BRACKET)
        out = '{"L":['
        if (text.charCodeAt(this.at) === CLOSE_BRACKET) this.at++
        else {
          for (let first = true; ; first = false) {
            if (!first) out += ','
            out += this.value(depth + 1)
            const c = text.charCodeAt(this.at++)
            if (c === CLOSE_BRACKET) break
            if (c !== COMMA) throw NOT_FAST
          }
        }
        out += ']}'
        break
      }
      case 'M':
        out = '{"M":' + this.map(depth) + '}'
        break
      default:
        throw NOT_FAST
    }
    // Exactly one type: anything but the closing brace (a second type) is the general path's.
    this.expect(CLOSE_BRACE)
    return out
  }

  /** An array of strings (a set's members), decoded. */
  strings(): string[] {
    const text = this.text
    this.expect(OPEN_BRACKET)
    const members: string[] = []
    if (text.charCodeAt(this.at) === CLOSE_BRACKET) {
      this.at++
      return members
    }
    for (;;) {
      members.push(this.string())
      const c = text.charCodeAt(this.at++)
      if (c === CLOSE_BRACKET) return members
      if (c !== COMMA) throw NOT_FAST
    }
  }

  /** Skips any JSON value (balanced, strings skipped); returns its text, not yet validated. */
  skip(): string {
    const text = this.text
    const start = this.at
    const c = text.charCodeAt(start)
    if (c === QUOTE) {
      this.string()
      return text.slice(start, this.at)
    }
    if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
      NUMBER.lastIndex = start
      const match = NUMBER.exec(text)
      if (match) this.at = start + match[0].length
      else if (text.startsWith('true', start) || text.startsWith('null', start)) this.at += 4
      else if (text.startsWith('false', start)) this.at += 5
      else throw NOT_FAST
      return text.slice(start, this.at)
    }
    let depth = 0
    for (;;) {
      const code = text.charCodeAt(this.at)
      if (Number.isNaN(code)) throw NOT_FAST
      if (code === QUOTE) {
        this.string()
        continue
      }
      this.at++
      if (code === OPEN_BRACE || code === OPEN_BRACKET) {
        // Deeper than any member DynamoDB sends: the general path's (a parse this deep and
        // its name count would recurse too far here).
        if (++depth > MAX_DEPTH) throw NOT_FAST
      } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
        if (--depth === 0) return text.slice(start, this.at)
      }
    }
  }
}

/** A small member's value, parsed and validated (the general path's rules for its names). */
function parseMember(text: string): unknown {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw NOT_FAST
  }
  if (countJsonKeys(text) !== countParsedKeys(value)) throw NOT_FAST
  return value
}

/**
 * Reads a Scan answer's text; undefined when it is not in the form this reader takes (then
 * the general path must read it). `keyAttributes` asks for each item's key text as well.
 */
export function readScanAnswer(
  text: string,
  keyAttributes?: readonly string[]
): ScanAnswer | undefined {
  // Text decoded from UTF-8 holds no lone surrogate; one here (a caller's string) would be
  // escaped by the general path's canonical text and not by this reader's.
  if (CONTROL.test(text) || !wellFormed(text)) return undefined
  const reader = new Reader(text)
  const answer: ScanAnswer = { texts: [], hashes: [] }
  const keyTexts: string[] | undefined = keyAttributes ? [] : undefined
  if (keyTexts) answer.keyTexts = keyTexts
  const seen = new Set<string>()
  try {
    reader.expect(OPEN_BRACE)
    if (text.charCodeAt(reader.at) !== CLOSE_BRACE) {
      for (;;) {
        const name = reader.string()
        if (reader.escaped || seen.has(name)) throw NOT_FAST
        seen.add(name)
        reader.expect(COLON)
        if (name === 'Items') readItems(reader, answer, keyAttributes, keyTexts)
        else if (name === 'LastEvaluatedKey') {
          const start = reader.at
          reader.map(0)
          const key = parseMember(text.slice(start, reader.at))
          answer.lastEvaluatedKey = key as Item
        } else {
          const member = parseMember(reader.skip())
          if (name === 'Count') {
            if (typeof member !== 'number') throw NOT_FAST
            answer.count = member
          } else if (name === 'ConsumedCapacity') {
            const units = (member as { CapacityUnits?: unknown } | null)?.CapacityUnits
            if (units !== undefined && typeof units !== 'number') throw NOT_FAST
            if (typeof units === 'number') answer.consumedCapacity = units
          }
        }
        const c = text.charCodeAt(reader.at++)
        if (c === CLOSE_BRACE) break
        if (c !== COMMA) throw NOT_FAST
      }
    } else reader.at++
    if (reader.at !== text.length) throw NOT_FAST
  } catch (error) {
    if (error === NOT_FAST) return undefined
    throw error
  }
  if (answer.count !== undefined && answer.count !== answer.texts.length) return undefined
  return answer
}

function readItems(
  reader: Reader,
  answer: ScanAnswer,
  keyAttributes: readonly string[] | undefined,
  keyTexts: string[] | undefined
): void {
  const text = reader.text
  reader.expect(OPEN_BRACKET)
  if (text.charCodeAt(reader.at) === CLOSE_BRACKET) {
    reader.at++
    return
  }
  const keys: (string | undefined)[] = []
  for (;;) {
    const start = reader.at
    if (keyTexts) keys.length = 0
    const canonical = reader.map(0, keyAttributes, keys)
    answer.texts.push(text.slice(start, reader.at))
    answer.hashes.push(textHash(canonical))
    if (keyTexts && keyAttributes) {
      let key = ''
      for (let k = 0; k < keyAttributes.length; k++) {
        if (k > 0) key += '|'
        key += keys[k] ?? ''
      }
      keyTexts.push(key)
    }
    const c = text.charCodeAt(reader.at++)
    if (c === CLOSE_BRACKET) return
    if (c !== COMMA) throw NOT_FAST
  }
}
