import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { createPrng } from '../../support/fault-proxy.js'
import {
  ContentDigest,
  canonicalItem,
  canonicalValue,
  itemHash,
  normalizeNumber,
  spelledNumber
} from '../../../src/verify/digest.js'
import { everyTypeItem, largeItem, sizedItem } from '../../../__fixtures__/items.js'
import type { Item, WireValue } from '../../../src/types.js'
import {
  compareDecimals,
  decimalText,
  decimalsEqual,
  itemsEqual,
  normalNumber,
  oracleText,
  parseDecimal,
  parseJsonItem,
  parseJsonLine,
  parseJsonLines,
  parseJsonValue,
  valuesEqual,
  type Decimal,
  type OracleItem
} from '../../support/oracle.js'

// --- Shared cases ----------------------------------------------------------------------------

const zeros = (n: number): string => '0'.repeat(n)
const DIGITS_38 = '12345678901234567890123456789012345678'

/** Each group: spellings of one number, which DynamoDB stores as one value. */
const SAME_NUMBER: readonly (readonly string[])[] = [
  ['1', '1.0', '1.000', '01', '100e-2', '+1', '1e0', '1E0', '1e+0', '10e-1', '0.1e1', '1.'],
  ['0.1', '0.10', '.1', '.10', '1e-1', '1E-1', '0.010e1', '00.1'],
  ['100', '1E2', '1e2', '1e+2', '1E+02', '0.01e4', '100.00', '10e1'],
  ['0', '-0', '+0', '0.0', '0e10', '-0.000e-5', '.0', '0.', '000', '0E-130'],
  ['7', '007', '7.', '0007.000', '70e-1'],
  ['0.5', '.5', '5e-1', '50e-2', '0.50'],
  ['-1.5', '-1.50', '-15e-1', '-0.15e1', '-001.5'],
  ['10', '1e1', '10.0', '0.1e2'],
  [DIGITS_38, '1.2345678901234567890123456789012345678E37', `${DIGITS_38}.000`],
  [`-0.${zeros(37)}${DIGITS_38}`, '-1.2345678901234567890123456789012345678E-38'],
  ['1E-130', `0.${zeros(129)}1`, '10e-131', '0.0001e-126', '1e-0130'],
  ['-1E-130', `-0.${zeros(129)}1`],
  ['9.9999999999999999999999999999999999999E+125', `${'9'.repeat(38)}${zeros(88)}`],
  ['1E+125', `1${zeros(125)}`, `${zeros(5)}1${zeros(125)}.${zeros(5)}`],
  ['1E+124', `1${zeros(124)}`]
]

/** Values close to one another and to the groups above, yet all different. */
const OTHER_NUMBERS = [
  '11',
  '1.1',
  '101',
  '1.5',
  '1.50001',
  '-1',
  '0.01',
  '12345678901234567890123456789012345679',
  '1E-129',
  '2E-130',
  '0.1000000000000000000001'
]

const NUMBERS = [...SAME_NUMBER.flat(), ...OTHER_NUMBERS]

/** Binary as the wire carries it: the base64 text of these bytes. */
const bytes = (...values: number[]): string => Buffer.from(values).toString('base64')
/** The same bytes as the oracle holds them, decoded. */
const raw = (...values: number[]): Uint8Array => new Uint8Array(values)

/** The oracle's view of a wire value or item: parsed by its own strict DynamoDB JSON parser. */
const oracleValue = (value: WireValue): ReturnType<typeof parseJsonValue> =>
  parseJsonValue(value, 'value')
const oracleItem = (item: Item): OracleItem => parseJsonItem(item)

/** Pairs of values that are the same DynamoDB value, spelled or ordered differently. */
const EQUAL_VALUES: readonly [string, WireValue, WireValue][] = [
  ['NS members respelled', { NS: ['1.0', '0.10', '1E2'] }, { NS: ['100', '0.1', '1'] }],
  ['NS members reordered', { NS: ['-1', '2', DIGITS_38] }, { NS: [DIGITS_38, '2.0', '-1'] }],
  ['SS members reordered', { SS: ['b', 'a', ''] }, { SS: ['', 'a', 'b'] }],
  ['BS members reordered', { BS: [bytes(2), bytes(1, 0)] }, { BS: [bytes(1, 0), bytes(2)] }],
  [
    'map key order',
    { M: { a: { N: '1' }, b: { S: 'x' } } },
    { M: { b: { S: 'x' }, a: { N: '1.0' } } }
  ],
  [
    'nested numbers respelled',
    { L: [{ M: { n: { N: '1e2' } } }, { NS: ['.5'] }] },
    { L: [{ M: { n: { N: '100' } } }, { NS: ['0.5'] }] }
  ]
]

/** An M holding an own attribute named `__proto__`, as JSON.parse and the SDK build it. */
const protoMap = JSON.parse('{"__proto__":{"S":"x"}}') as Record<string, WireValue>

/** Pairs of values that DynamoDB keeps apart: each must give different canonical text. */
const DIFFERENT_VALUES: readonly [string, WireValue, WireValue][] = [
  ['S "1" vs N "1"', { S: '1' }, { N: '1' }],
  ['N "10" vs N "1"', { N: '10' }, { N: '1' }],
  ['N "1e1" vs N "1"', { N: '1e1' }, { N: '1' }],
  ['N "0.1" vs N "1"', { N: '0.1' }, { N: '1' }],
  ['N "-1" vs N "1"', { N: '-1' }, { N: '1' }],
  ['N "11" vs N "1.1"', { N: '11' }, { N: '1.1' }],
  ['SS vs L of S', { SS: ['a', 'b'] }, { L: [{ S: 'a' }, { S: 'b' }] }],
  ['NS vs SS', { NS: ['1'] }, { SS: ['1'] }],
  ['NS vs N', { NS: ['1'] }, { N: '1' }],
  ['NS vs L of N', { NS: ['1'] }, { L: [{ N: '1' }] }],
  ['NS ["1","2"] vs NS ["12"]', { NS: ['1', '2'] }, { NS: ['12'] }],
  ['NS ["1","10"] vs NS ["1","100"]', { NS: ['1', '10'] }, { NS: ['1', '100'] }],
  ['B vs S of its base64', { B: bytes(1, 2, 3) }, { S: bytes(1, 2, 3) }],
  ['BS vs SS of base64', { BS: [bytes(1)] }, { SS: [bytes(1)] }],
  ['B vs BS of one member', { B: bytes(1) }, { BS: [bytes(1)] }],
  ['B [1,2] vs B [2,1]', { B: bytes(1, 2) }, { B: bytes(2, 1) }],
  ['BS [[1,2]] vs BS [[1],[2]]', { BS: [bytes(1, 2)] }, { BS: [bytes(1), bytes(2)] }],
  ['empty B vs empty S', { B: bytes() }, { S: '' }],
  ['empty S vs NULL', { S: '' }, { NULL: true }],
  ['NULL vs BOOL false', { NULL: true }, { BOOL: false }],
  ['BOOL true vs S "true"', { BOOL: true }, { S: 'true' }],
  ['BOOL true vs BOOL false', { BOOL: true }, { BOOL: false }],
  ['SS ["a,b"] vs SS ["a","b"]', { SS: ['a,b'] }, { SS: ['a', 'b'] }],
  ['SS ["a"] vs SS ["a","a"]', { SS: ['a'] }, { SS: ['a', 'a'] }],
  ['list order', { L: [{ S: 'x' }, { S: 'y' }] }, { L: [{ S: 'y' }, { S: 'x' }] }],
  ['empty M vs empty L', { M: {} }, { L: [] }],
  ['M {"0": a} vs L [a]', { M: { '0': { S: 'a' } } }, { L: [{ S: 'a' }] }],
  [
    'M with other keys',
    { M: { a: { N: '1' }, b: { N: '2' } } },
    { M: { a: { N: '1' }, c: { N: '2' } } }
  ],
  [
    'M with values swapped',
    { M: { a: { N: '1' }, b: { N: '2' } } },
    { M: { a: { N: '2' }, b: { N: '1' } } }
  ],
  ['M with one key more', { M: { a: { S: '' } } }, { M: { a: { S: '' }, b: { NULL: true } } }],
  [
    'nested M leaf type',
    { M: { x: { M: { y: { S: '1' } } } } },
    { M: { x: { M: { y: { N: '1' } } } } }
  ],
  ['nested M depth', { M: { x: { M: { y: { S: 'z' } } } } }, { M: { x: { S: 'z' } } }],
  [
    'nested L grouping',
    { L: [{ L: [{ S: 'a' }, { S: 'b' }] }] },
    { L: [{ L: [{ S: 'a' }] }, { L: [{ S: 'b' }] }] }
  ],
  ['nested L vs flat L', { L: [{ L: [{ S: 'a' }] }] }, { L: [{ S: 'a' }] }],
  [
    'a string that looks like canonical text',
    { M: { a: { S: 'x"},"b":{"S":"y' } } },
    { M: { a: { S: 'x' }, b: { S: 'y' } } }
  ],
  [
    'a name that looks like canonical text',
    { M: { 'a":{"S":"x': { S: 'y' } } },
    { M: { a: { S: 'xy' } } }
  ],
  ['name and value split differently', { M: { ab: { S: 'c' } } }, { M: { a: { S: 'bc' } } }],
  ['an attribute named __proto__', { M: protoMap }, { M: {} }],
  ['composed vs decomposed é', { S: '\u00e9' }, { S: 'e\u0301' }],
  ['two lone surrogates', { S: '\ud800' }, { S: '\udc00' }]
]

// --- A seeded generator of items and of respellings ------------------------------------------

type Rng = () => number

/** Seedable (the fault proxy's mulberry32), so a failure replays exactly. */
const random = (seed: number): Rng => createPrng(seed)

const pick = <T>(rng: Rng, values: readonly T[]): T => values[Math.floor(rng() * values.length)]!

function shuffled<T>(rng: Rng, values: readonly T[]): T[] {
  const out = [...values]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/** Another spelling of the same number: extra zeros, a moved point, an exponent, a sign. */
function respellNumber(rng: Rng, text: string): string {
  const value = parseDecimal(text)
  const extra = Math.floor(rng() * 3)
  const digits = value.digits.toString() + zeros(extra)
  const exponent = value.exponent - extra
  const point = Math.floor(rng() * (digits.length + 3)) // digits right of the point
  let mantissa: string
  if (point === 0) mantissa = digits + pick(rng, ['', '.', '.0'])
  else if (point >= digits.length)
    mantissa = pick(rng, ['0.', '.']) + zeros(point - digits.length) + digits
  else mantissa = `${digits.slice(0, digits.length - point)}.${digits.slice(digits.length - point)}`
  if (!mantissa.startsWith('.')) mantissa = pick(rng, ['', '', '0', '00']) + mantissa
  const power = exponent + point
  const written =
    power === 0 && rng() < 0.5
      ? ''
      : `${pick(rng, ['e', 'E'])}${power < 0 ? '-' : pick(rng, ['', '+'])}${Math.abs(power)}`
  const sign =
    value.sign < 0 ? '-' : value.sign === 0 ? pick(rng, ['', '-', '+']) : pick(rng, ['', '', '+'])
  return sign + mantissa + written
}

const STRING_POOL = ['', 'a', 'b', '1', 'AQ==', 'x y', 'Grüße', '🎉', '"', 'a,b']
// `__proto__` too: a map built or changed by assignment would lose it without a word.
const NAME_POOL = ['a', 'b', 'c', 'pk', '', 'A', 'é', '__proto__']
const NUMBER_POOL = ['0', '1', '10', '0.1', '-1', '1.5', '100', DIGITS_38, '1E-130', '1E+125']
const BYTES_POOL = [bytes(), bytes(0), bytes(1), bytes(0, 1), bytes(1, 0), bytes(255)]

const some = <T>(rng: Rng, pool: readonly T[]): T[] =>
  shuffled(rng, pool).slice(0, 1 + Math.floor(rng() * 3))

function generateValue(rng: Rng, depth: number): WireValue {
  switch (Math.floor(rng() * (depth > 2 ? 8 : 10))) {
    case 0:
      return { S: pick(rng, STRING_POOL) }
    case 1:
      return { N: respellNumber(rng, pick(rng, NUMBER_POOL)) }
    case 2:
      return { B: pick(rng, BYTES_POOL) }
    case 3:
      return { BOOL: rng() < 0.5 }
    case 4:
      return { NULL: true }
    case 5:
      return { SS: some(rng, STRING_POOL) }
    case 6:
      return { NS: some(rng, NUMBER_POOL).map((n) => respellNumber(rng, n)) }
    case 7:
      return { BS: some(rng, BYTES_POOL) }
    case 8:
      return {
        L: Array.from({ length: Math.floor(rng() * 3) }, () => generateValue(rng, depth + 1))
      }
    default:
      return { M: generateMap(rng, depth + 1) }
  }
}

/** Sets an own property, so that a name like `__proto__` stays an attribute. */
function setOwn(map: Item, name: string, value: WireValue): void {
  Object.defineProperty(map, name, { value, enumerable: true, writable: true, configurable: true })
}

function generateMap(rng: Rng, depth: number): Item {
  // fromEntries, not assignment: a name may be `__proto__`.
  return Object.fromEntries(
    shuffled(rng, NAME_POOL)
      .slice(0, Math.floor(rng() * 3))
      .map((name) => [name, generateValue(rng, depth)])
  )
}

function generateItem(rng: Rng): Item {
  return { pk: { S: pick(rng, ['k1', 'k2']) }, ...generateMap(rng, 0) }
}

/** The same value written another way: numbers respelled, keys and set members reordered. */
function respell(rng: Rng, value: WireValue): WireValue {
  if ('N' in value) return { N: respellNumber(rng, value.N) }
  if ('NS' in value) return { NS: shuffled(rng, value.NS).map((n) => respellNumber(rng, n)) }
  if ('SS' in value) return { SS: shuffled(rng, value.SS) }
  if ('BS' in value) return { BS: shuffled(rng, value.BS) }
  if ('L' in value) return { L: value.L.map((v) => respell(rng, v)) }
  if ('M' in value) return { M: respellMap(rng, value.M) }
  return { ...value }
}

function respellMap(rng: Rng, map: Item): Item {
  // fromEntries, not assignment: a map key may be `__proto__`.
  return Object.fromEntries(
    shuffled(rng, Object.keys(map)).map((name) => [name, respell(rng, map[name]!)])
  )
}

/** A respelled copy with one attribute somewhere in it replaced, removed or added. */
function mutate(rng: Rng, item: Item): Item {
  const copy = respellMap(rng, item)
  let map = copy
  for (;;) {
    const name = pick(rng, Object.keys(map))
    const value = map[name]!
    if ('M' in value && Object.keys(value.M).length > 0 && rng() < 0.6) {
      map = value.M
      continue
    }
    const roll = rng()
    // delete removes an own `__proto__` too; setOwn never touches the prototype.
    if (roll < 0.15) delete map[name]
    else if (roll < 0.3) setOwn(map, `${name}x`, value)
    else setOwn(map, name, generateValue(rng, 1))
    return copy
  }
}

function digestOf(items: readonly Item[]): ContentDigest {
  const digest = new ContentDigest()
  items.forEach((item) => digest.add(item))
  return digest
}

// --- Tests -----------------------------------------------------------------------------------

describe('digest.ts', () => {
  it('normalises numbers as DynamoDB does', () => {
    expect(normalizeNumber('100')).toBe(normalizeNumber('1e2'))
    expect(normalizeNumber('1.50')).toBe(normalizeNumber('1.5'))
    expect(normalizeNumber('0001.5')).toBe(normalizeNumber('1.5'))
    expect(normalizeNumber('-0')).toBe('0')
    expect(normalizeNumber('0.000')).toBe('0')
    expect(normalizeNumber('1E-130')).toBe(normalizeNumber('0.' + '0'.repeat(129) + '1'))
    expect(normalizeNumber('1.5')).not.toBe(normalizeNumber('1.50001'))
    expect(normalizeNumber('-1')).not.toBe(normalizeNumber('1'))
  })

  it('gives DynamoDB spellings the same form as the general parser (fast path)', () => {
    const general = spelledNumber
    const spelling = fc.stringMatching(/^-?[0-9]{0,40}(\.[0-9]{0,40})?$/)
    const anyText = fc.string({ unit: fc.constantFrom('-', '+', '.', '0', '1', '9', 'e', ' ') })
    fc.assert(
      fc.property(fc.oneof(spelling, anyText), (text) => {
        expect(normalizeNumber(text)).toBe(general(text))
      }),
      { numRuns: 5000 }
    )
    for (const text of ['', '-', '.', '-.', '0', '-0', '5.', '.5', '-.50', '00.0100', '1000'])
      expect(normalizeNumber(text)).toBe(general(text))
  })

  it('keeps numbers with exponents beyond a double apart, and reads spaced spellings', () => {
    expect(normalizeNumber('1e100000000000000000000000')).not.toBe(
      normalizeNumber('1e100000000000000000000001')
    )
    expect(normalizeNumber('1e100000000000000000000000')).toBe('1e100000000000000000000000')
    expect(normalizeNumber('  1.50e3  ')).toBe(normalizeNumber('1500'))
    expect(normalizeNumber(' '.repeat(20_000) + 'x')).toBe('?' + ' '.repeat(20_000) + 'x')
  })

  it('keeps all 38 digits apart', () => {
    const a = '12345678901234567890123456789012345678'
    const b = '12345678901234567890123456789012345679'
    expect(normalizeNumber(a)).not.toBe(normalizeNumber(b))
    expect(itemHash({ n: { N: a } }).equals(itemHash({ n: { N: b } }))).toBe(false)
  })

  it('ignores map key order and set member order', () => {
    const a: Item = { a: { S: '1' }, b: { M: { x: { N: '1' }, y: { SS: ['p', 'q'] } } } }
    const b: Item = { b: { M: { y: { SS: ['q', 'p'] }, x: { N: '1.0' } } }, a: { S: '1' } }
    expect(canonicalItem(a)).toBe(canonicalItem(b))
  })

  it('tells types apart and keeps list order', () => {
    expect(itemHash({ a: { S: '1' } }).equals(itemHash({ a: { N: '1' } }))).toBe(false)
    expect(itemHash({ a: { SS: ['1'] } }).equals(itemHash({ a: { NS: ['1'] } }))).toBe(false)
    expect(
      itemHash({ a: { L: [{ S: 'x' }, { S: 'y' }] } }).equals(
        itemHash({ a: { L: [{ S: 'y' }, { S: 'x' }] } })
      )
    ).toBe(false)
    expect(itemHash({ a: { S: '' } }).equals(itemHash({ a: { NULL: true } }))).toBe(false)
    expect(itemHash({ a: { B: bytes(1) } }).equals(itemHash({ a: { B: bytes(2) } }))).toBe(false)
  })

  it('is order independent and sensitive to duplicates', () => {
    const items = [everyTypeItem('a'), everyTypeItem('b'), largeItem('c')]
    const forward = new ContentDigest()
    const backward = new ContentDigest()
    items.forEach((i) => forward.add(i))
    ;[...items].reverse().forEach((i) => backward.add(i))
    expect(forward.digest).toBe(backward.digest)
    expect(forward.count).toBe(3)
    const doubled = new ContentDigest()
    ;[...items, items[0] as Item].forEach((i) => doubled.add(i))
    expect(doubled.digest).not.toBe(forward.digest)
  })

  it('merges digests of disjoint parts into the digest of the whole', () => {
    const whole = new ContentDigest()
    const part1 = new ContentDigest()
    const part2 = new ContentDigest()
    for (let i = 0; i < 50; i++) {
      const item: Item = { pk: { S: `k${i}` } }
      whole.add(item)
      ;(i % 2 === 0 ? part1 : part2).add(item)
    }
    part1.merge(part2)
    expect(part1.digest).toBe(whole.digest)
    expect(part1.count).toBe(50)
  })

  it('continues from a saved state as if it had never stopped, and combines saved parts', () => {
    const whole = new ContentDigest()
    const first = new ContentDigest()
    const second = new ContentDigest()
    for (let i = 0; i < 300; i++) {
      const item: Item = { pk: { S: `k${i}` }, n: { N: String(i) } }
      whole.add(item)
      ;(i < 120 ? first : second).add(item)
    }
    // A resumed run: the first part's state goes through JSON (a checkpoint file) and back.
    const resumed = ContentDigest.fromState(JSON.parse(JSON.stringify(first.state())))
    for (let i = 120; i < 300; i++) resumed.add({ pk: { S: `k${i}` }, n: { N: String(i) } })
    expect(resumed.summary()).toEqual(whole.summary())
    // Shards: both parts saved by different runners, combined at the end.
    const combined = ContentDigest.fromState(first.state())
    combined.merge(ContentDigest.fromState(second.state()))
    expect(combined.summary()).toEqual(whole.summary())
    expect(combined.differingBuckets(whole).size).toBe(0)
  })

  it('refuses a saved state that is not one', () => {
    const good = new ContentDigest().state()
    for (const bad of [
      null,
      {},
      { version: 2, buckets: good.buckets },
      { version: 1, buckets: good.buckets.slice(1) },
      { version: 1, buckets: [[-1, '0'], ...good.buckets.slice(1)] },
      { version: 1, buckets: [[0, 'xyz'], ...good.buckets.slice(1)] },
      { version: 1, buckets: [[0, 'f'.repeat(65)], ...good.buckets.slice(1)] }
    ]) {
      expect(() => ContentDigest.fromState(bad)).toThrow(/saved content digest/)
    }
  })

  it('points at the buckets that differ', () => {
    const a = new ContentDigest()
    const b = new ContentDigest()
    for (let i = 0; i < 100; i++) {
      a.add({ pk: { S: `k${i}` } })
      b.add({ pk: { S: `k${i}` }, ...(i === 42 ? { extra: { BOOL: true } } : {}) })
    }
    const buckets = a.differingBuckets(b)
    expect(buckets.size).toBeGreaterThanOrEqual(1)
    expect(buckets.size).toBeLessThanOrEqual(2)
    expect(buckets.has(ContentDigest.bucketOf(itemHash({ pk: { S: 'k42' } })))).toBe(true)
  })

  it('has a fixed empty digest', () => {
    expect(new ContentDigest().digest).toBe(`sha256-sum:${'0'.repeat(64)}`)
  })

  describe('numbers, as DynamoDB normalises them', () => {
    it.each(SAME_NUMBER.map((group) => [group[0]!, group] as const))(
      'normalises every spelling of %s alike',
      (first, group) => {
        for (const spelling of group) {
          expect([spelling, normalizeNumber(spelling)]).toEqual([spelling, normalizeNumber(first)])
          expect(canonicalValue({ N: spelling })).toBe(canonicalValue({ N: first }))
          expect(itemHash({ n: { N: spelling } })).toEqual(itemHash({ n: { N: first } }))
        }
      }
    )

    it('keeps different numbers apart', () => {
      const representatives = [...SAME_NUMBER.map((group) => group[0]!), ...OTHER_NUMBERS]
      const seen = new Map<string, string>()
      for (const text of representatives) {
        const canonical = normalizeNumber(text)
        expect([text, seen.get(canonical)]).toEqual([text, undefined])
        seen.set(canonical, text)
      }
    })

    it('agrees with the oracle on every pair of spellings', () => {
      const rng = random(7)
      const spellings = [...NUMBERS, ...NUMBERS.map((n) => respellNumber(rng, n))]
      for (const a of spellings)
        for (const b of spellings) {
          const oracle = decimalsEqual(parseDecimal(a), parseDecimal(b))
          if ((normalizeNumber(a) === normalizeNumber(b)) !== oracle)
            throw new Error(`normalizeNumber and the oracle disagree on ${a} vs ${b}`)
        }
    })

    it('normalises the members of a number set', () => {
      for (const group of SAME_NUMBER) {
        const sets = group.map((spelling) => ({ NS: ['-7', spelling, '3.25'] }))
        for (const set of sets) expect(canonicalValue(set)).toBe(canonicalValue(sets[0]!))
      }
      expect(canonicalValue({ NS: ['1e2', '.5', '-0'] })).toBe(
        canonicalValue({ NS: ['0', '100', '0.50'] })
      )
      expect(canonicalValue({ NS: ['1', '10'] })).not.toBe(canonicalValue({ NS: ['1', '100'] }))
    })
  })

  describe('canonical text', () => {
    it.each(EQUAL_VALUES)('is the same for %s', (_, a, b) => {
      expect(valuesEqual(oracleValue(a), oracleValue(b))).toBe(true)
      expect(canonicalValue(a)).toBe(canonicalValue(b))
      expect(itemHash({ v: a })).toEqual(itemHash({ v: b }))
    })

    it.each(DIFFERENT_VALUES)('differs for %s', (_, a, b) => {
      expect(valuesEqual(oracleValue(a), oracleValue(b))).toBe(false)
      expect(canonicalValue(a)).not.toBe(canonicalValue(b))
      expect(itemHash({ v: a }).equals(itemHash({ v: b }))).toBe(false)
    })

    it('hashes binary by its bytes, however its base64 is spelled', () => {
      // 'AP9=' has stray bits after the last byte: the same bytes as 'AP8=' (the oracle's
      // strict parser refuses such text, so Buffer decodes it here).
      expect(Buffer.from('AP9=', 'base64')).toEqual(Buffer.from(raw(0, 255)))
      expect(canonicalValue({ B: 'AP9=' })).toBe(canonicalValue({ B: bytes(0, 255) }))
      expect(canonicalValue({ BS: ['AP9=', 'AQ=='] })).toBe(
        canonicalValue({ BS: [bytes(1), bytes(0, 255)] })
      )
      expect(canonicalValue({ B: 'AP9=' })).not.toBe(canonicalValue({ B: bytes(0, 254) }))
    })

    it('refuses a value with no type or more than one, rather than hashing part of it', () => {
      for (const bad of [{}, { S: 'x', N: '1' }, { X: '1' }, { B: 'AA==', BS: ['AA=='] }]) {
        expect(() => canonicalValue(bad as unknown as WireValue)).toThrow(/attribute/)
        expect(() => canonicalItem({ a: bad as unknown as WireValue })).toThrow(/attribute/)
      }
    })

    it('tells an attribute holding an empty string from a missing one', () => {
      expect(canonicalItem({ a: { S: '' } })).not.toBe(canonicalItem({}))
      expect(canonicalItem({ a: { S: '' } })).not.toBe(canonicalItem({ b: { S: '' } }))
    })

    it('agrees with the oracle on generated items, their respellings and mutations', () => {
      const rng = random(2024)
      const originals = Array.from({ length: 150 }, () => generateItem(rng))
      const items = [...originals, ...originals.map((item) => respellMap(rng, item))]
      const product = items.map(canonicalItem)
      const parsed = items.map(oracleItem)
      const oracle = parsed.map(oracleText)
      let equalPairs = 0
      for (let i = 0; i < items.length; i++)
        for (let j = i + 1; j < items.length; j++) {
          const same = itemsEqual(parsed[i]!, parsed[j]!)
          if (same) equalPairs++
          if ((oracle[i] === oracle[j]) !== same)
            throw new Error(`oracle text and equality disagree: ${oracle[i]} vs ${oracle[j]}`)
          if ((product[i] === product[j]) !== same)
            throw new Error(
              `canonicalItem ${same ? 'separates equal' : 'merges different'} items ` +
                `${oracle[i]} and ${oracle[j]}`
            )
        }
      expect(equalPairs).toBeGreaterThanOrEqual(originals.length)
      let mutations = 0
      for (const item of originals) {
        const changed = mutate(rng, item)
        if (itemsEqual(oracleItem(item), oracleItem(changed))) continue
        mutations++
        if (canonicalItem(changed) === canonicalItem(item))
          throw new Error(
            `canonicalItem misses a change: ${oracleText(oracleItem(item))} vs ${oracleText(oracleItem(changed))}`
          )
      }
      expect(mutations).toBeGreaterThan(100)
    })
  })

  describe('ContentDigest', () => {
    it('gives the digests earlier versions recorded for the same content (pinned)', () => {
      // Computed by digest.ts as of commit 1749731 (before wire form) from the fixtures as the
      // SDK decoded them (binary as bytes): the wire-form items hold the same content, so the
      // digests, and the backups that record them, stay comparable.
      const list = [
        everyTypeItem('a'),
        everyTypeItem('b'),
        largeItem('c'),
        largeItem('d', 'B'),
        sizedItem('e', 3, 500)
      ]
      expect(list.map((item) => itemHash(item).toString('hex'))).toEqual([
        '54168f1d4cdcf41a9effcf066c628c1881afb4d566c160e297fc769f0bd8a13f',
        'ac88e8ee667b6b0abf49c6fa1cc48995108d51585ee419e3f0046964ef850cde',
        '02bf88e41a13066de925205490b8821938f3e208d64ba231c64e2e49c8b47bd8',
        '8318895ac139bdaf6a20de9d05479f5df80a9c8d1b9232a041774d16d1675c10',
        '4ea2da2941076340ed00f9a78affa9e95e613eeaa48292e5b05562f22acc3fde'
      ])
      expect(digestOf(list).summary()).toEqual({
        count: 5,
        digest: 'sha256-sum:d51a6473cfac86839e908e99aa26e10e219cc3ae5c05e27e401bbe56c045c5e3'
      })
      expect(
        itemHash({ b: { B: bytes(0, 255) }, bs: { BS: [bytes(), bytes(1)] } }).toString('hex')
      ).toBe('5f980ba09db902410152a89222a4139237479f40c447fdf00fae8cdd14a9bf86')
    })

    it("is the sum of the items' SHA-256 values modulo 2^256, as backups since v0.1 record it", () => {
      const rng = random(7)
      const list = [...Array.from({ length: 500 }, () => generateItem(rng)), everyTypeItem('x')]
      let sum = 0n
      const byBucket = new Map<number, bigint>()
      for (const item of list) {
        const hex = createHash('sha256').update(canonicalItem(item)).digest('hex')
        sum = (sum + BigInt(`0x${hex}`)) % 2n ** 256n
        const bucket = parseInt(hex.slice(0, 2), 16)
        byBucket.set(bucket, ((byBucket.get(bucket) ?? 0n) + BigInt(`0x${hex}`)) % 2n ** 256n)
      }
      const digest = new ContentDigest()
      for (const item of list) digest.add(item)
      expect(digest.digest).toBe(`sha256-sum:${sum.toString(16).padStart(64, '0')}`)
      expect(digest.count).toBe(list.length)
      // A digest missing one item differs in exactly that item's bucket.
      const fewer = new ContentDigest()
      for (const item of list.slice(1)) fewer.add(item)
      const firstBucket = createHash('sha256').update(canonicalItem(list[0]!)).digest()[0]!
      expect([...digest.differingBuckets(fewer)]).toEqual([firstBucket])
      expect(byBucket.size).toBeGreaterThan(100)
    })

    const rng = random(99)
    const items = [
      ...Array.from({ length: 80 }, () => generateItem(rng)),
      everyTypeItem('a'),
      everyTypeItem('b')
    ].filter(
      (item, i, all) =>
        all.findIndex((other) => itemsEqual(oracleItem(item), oracleItem(other))) === i
    )

    it('hashes equal spellings alike, whatever the order', () => {
      const whole = digestOf(items)
      for (let round = 0; round < 5; round++) {
        const respelled = shuffled(rng, items).map((item) => respellMap(rng, item))
        expect(digestOf(respelled).summary()).toEqual(whole.summary())
      }
    })

    it('changes when any one item changes', () => {
      const whole = digestOf(items).digest
      let changes = 0
      items.forEach((item, i) => {
        const changed = mutate(rng, item)
        if (itemsEqual(oracleItem(changed), oracleItem(item))) return
        changes++
        const others = items.map((other, j) => (j === i ? changed : other))
        expect(digestOf(others).digest).not.toBe(whole)
      })
      expect(changes).toBeGreaterThan(items.length / 2)
    })

    it('counts a duplicated item, and tells which item was duplicated', () => {
      const [a, b] = items as [Item, Item]
      expect(digestOf([a, a]).digest).not.toBe(digestOf([a]).digest)
      expect(digestOf([a, a]).digest).not.toBe(digestOf([]).digest)
      expect(digestOf([a, a, b]).digest).not.toBe(digestOf([a, b, b]).digest)
      expect(digestOf([a, respellMap(rng, a)]).digest).toBe(digestOf([a, a]).digest)
      expect(digestOf([...items, a]).digest).not.toBe(digestOf(items).digest)
    })

    it('merges any split into parts into the digest of the whole', () => {
      const whole = digestOf(items).summary()
      for (let parts = 1; parts <= 5; parts++) {
        const digests = Array.from({ length: parts }, () => new ContentDigest())
        for (const item of shuffled(rng, items)) pick(rng, digests).add(item)
        const merged = new ContentDigest()
        for (const part of shuffled(rng, digests)) merged.merge(part)
        merged.merge(new ContentDigest())
        expect(merged.summary()).toEqual(whole)
      }
    })
  })
})

describe('oracle (__tests__/support/oracle.ts)', () => {
  const dec = (text: string): Decimal => parseDecimal(text)

  it('parses numbers exactly', () => {
    expect(dec('-0012.3400e+3')).toEqual({ sign: -1, digits: 1234n, exponent: 1 })
    expect(dec('.5')).toEqual({ sign: 1, digits: 5n, exponent: -1 })
    expect(dec('-0.0')).toEqual({ sign: 0, digits: 0n, exponent: 0 })
    expect(dec(DIGITS_38)).toEqual({ sign: 1, digits: BigInt(DIGITS_38), exponent: 0 })
    expect(decimalText(dec('1E-130'))).toBe(`0.${zeros(129)}1`)
    expect(decimalText(dec('-1.5e2'))).toBe('-150')
    expect(normalNumber('0.10')).toBe('0.1')
    for (const bad of ['', '.', '-', '1e', 'e1', '1.2.3', ' 1', '1 ', 'NaN', 'Infinity', '0x10'])
      expect(() => parseDecimal(bad)).toThrow(SyntaxError)
    expect(() => parseDecimal('1e99999')).toThrow(RangeError)
  })

  it('orders numbers by value', () => {
    const sorted = ['-10', '-1.5', '-1E-130', '0', '1E-130', '0.1', '1', '1.5', '10', '1E125']
    const values = shuffled(random(1), sorted).map(dec).sort(compareDecimals).map(decimalText)
    expect(values).toEqual(sorted.map(normalNumber))
  })

  it('parses DynamoDB JSON lines, binary from base64', () => {
    const line =
      '{"Item":{"pk":{"S":"a"},"n":{"N":"1.0"},"b":{"B":"AP8="},"bs":{"BS":["AQ==",""]},' +
      '"ns":{"NS":["1","2"]},"ss":{"SS":["x"]},"t":{"BOOL":true},"z":{"NULL":true},' +
      '"l":{"L":[{"M":{"__proto__":{"S":"kept"}}}]}}}'
    const item = parseJsonLine(line)
    expect(item.b?.B).toEqual(raw(0, 255))
    expect(item.bs?.BS).toEqual([raw(1), raw()])
    expect(item.n).toEqual({ N: '1.0' })
    expect(Object.keys(item.l?.L?.[0]?.M ?? {})).toEqual(['__proto__'])
    const expected: OracleItem = {
      pk: { S: 'a' },
      n: { N: '1' },
      b: { B: raw(0, 255) },
      bs: { BS: [raw(), raw(1)] },
      ns: { NS: ['2', '1'] },
      ss: { SS: ['x'] },
      t: { BOOL: true },
      z: { NULL: true },
      l: { L: [{ M: parseJsonLine('{"Item":{"__proto__":{"S":"kept"}}}') }] }
    }
    expect(itemsEqual(item, expected)).toBe(true)
    expect(oracleText(item)).toBe(oracleText(expected))
    expect(itemsEqual(item, { ...expected, n: { N: '10' } })).toBe(false)
    expect(parseJsonLines(`${line}\n${line}\n`)).toHaveLength(2)
  })

  it('rejects what is not DynamoDB JSON', () => {
    for (const bad of [
      '{"Item":{"a":{"B":"AP8"}}}',
      '{"Item":{"a":{"B":"AP9="}}}',
      '{"Item":{"a":{"S":"x","N":"1"}}}',
      '{"Item":{"a":{"N":1}}}',
      '{"Item":{"a":{"N":"1e"}}}',
      '{"Item":{"a":{"NULL":false}}}',
      '{"Item":{"a":{"X":"1"}}}',
      '{"Item":{},"Other":1}',
      '{"a":{"S":"x"}}'
    ])
      expect(() => parseJsonLine(bad)).toThrow(SyntaxError)
    expect(() => parseJsonLines('{"Item":{}}')).toThrow('newline')
    expect(() => parseJsonLines('{"Item":{}}\n\n{"Item":{}}\n')).toThrow('empty line')
  })

  it('refuses an attribute name without a value instead of skipping it', () => {
    const item = { pk: { S: 'a' }, gone: undefined } as unknown as OracleItem
    expect(() => oracleText(item)).toThrow('"gone" has no value')
    expect(() => itemsEqual(item, { pk: { S: 'a' } })).toThrow('has no value')
  })
})
