import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { everyTypeItem, largeItem } from '../../../__fixtures__/items.js'
import { readScanAnswer } from '../../../src/dynamo/scan-answer.js'
import { parseWireBody, WireIntegrityError } from '../../../src/dynamo/wire.js'
import type { Item, WireValue } from '../../../src/types.js'
import { canonicalItem, itemHash, keyText } from '../../../src/verify/digest.js'

const KEYS = ['pk', 'sk'] as const

/** How a string is spelled on the wire: as JSON.stringify does, or with extra escapes. */
type Spelling = 'plain' | 'unicode' | 'slash'

function spell(value: string, spelling: Spelling): string {
  if (spelling === 'plain') return JSON.stringify(value)
  if (spelling === 'slash') return JSON.stringify(value).replace(/\//g, '\\/')
  // Every character as \uXXXX: valid JSON, the same string, a different text.
  let out = '"'
  for (let i = 0; i < value.length; i++)
    out += '\\u' + value.charCodeAt(i).toString(16).padStart(4, '0')
  return out + '"'
}

/** JSON text of a value with its object members in `order` and strings spelled by `pick`. */
function render(
  value: unknown,
  pick: () => Spelling,
  order: (names: string[]) => string[]
): string {
  if (typeof value === 'string') return spell(value, pick())
  if (Array.isArray(value)) return '[' + value.map((v) => render(v, pick, order)).join(',') + ']'
  if (value !== null && typeof value === 'object') {
    const names = order(Object.keys(value))
    return (
      '{' +
      names
        .map(
          (name) =>
            spell(name, pick()) +
            ':' +
            render((value as Record<string, unknown>)[name], pick, order)
        )
        .join(',') +
      '}'
    )
  }
  return JSON.stringify(value)
}

const text = fc.string({ unit: 'binary', maxLength: 12 })
const name = fc.oneof(
  text.filter((s) => s.length > 0),
  fc.constantFrom('pk', 'sk', '__proto__', 'constructor', 'a', 'A', 'é', '😀', '10', '9', 'a"b\\')
)
const number = fc.oneof(
  fc.stringMatching(/^-?(0|[1-9][0-9]{0,37})(\.[0-9]{0,37}[1-9])?$/),
  fc.constantFrom('0', '-0', '007', '1.50', '1e3', '99999999999999999999999999999999999999')
)
const base64 = fc
  .uint8Array({ maxLength: 12 })
  .map((bytes) => Buffer.from(bytes).toString('base64'))

const wireValue: fc.Arbitrary<WireValue> = fc.letrec<{ value: WireValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text.map((S) => ({ S })),
    number.map((N) => ({ N })),
    base64.map((B) => ({ B })),
    fc.boolean().map((BOOL) => ({ BOOL })),
    fc.constant({ NULL: true as const }),
    fc.uniqueArray(text, { minLength: 1, maxLength: 4 }).map((SS) => ({ SS })),
    fc.uniqueArray(number, { minLength: 1, maxLength: 4 }).map((NS) => ({ NS })),
    fc.uniqueArray(base64, { minLength: 1, maxLength: 4 }).map((BS) => ({ BS })),
    fc.array(tie('value'), { maxLength: 3 }).map((L) => ({ L })),
    fc
      .dictionary(name, tie('value'), { maxKeys: 4, noNullPrototype: true })
      .map((M) => ({ M: own(M) }))
  )
})).value

/** A plain object with the entries as own properties (`__proto__` included). */
function own(record: Record<string, WireValue>): Record<string, WireValue> {
  const out: Record<string, WireValue> = {}
  for (const [k, v] of Object.entries(record))
    Object.defineProperty(out, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true
    })
  return out
}

const item: fc.Arbitrary<Item> = fc
  .tuple(
    fc.string({ minLength: 1, maxLength: 8 }),
    fc.option(number, { nil: undefined }),
    fc.dictionary(name, wireValue, { maxKeys: 6, noNullPrototype: true })
  )
  .map(([pk, sk, rest]) =>
    own({ ...rest, pk: { S: pk }, ...(sk === undefined ? {} : { sk: { N: sk } }) })
  )

const shuffled = (seed: number) => (names: string[]) => {
  const out = names.slice()
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j] as string, out[i] as string]
  }
  return out
}

/** What the general path makes of an answer: its items' hashes, key texts and canonical texts. */
function general(answerText: string): { hashes: string[]; keys: string[]; canonical: string[] } {
  const parsed = parseWireBody(answerText, 'Scan') as { Items?: Item[] }
  const items = parsed.Items ?? []
  return {
    hashes: items.map((i) => itemHash(i).toString('hex')),
    keys: items.map((i) => keyText(i, KEYS)),
    canonical: items.map((i) => canonicalItem(i))
  }
}

describe('scan-answer.ts readScanAnswer', () => {
  it('gives the hashes and key texts of the parsed items, for any items, order and spelling', () => {
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 5 }),
        fc.integer(),
        fc.array(fc.constantFrom<Spelling>('plain', 'plain', 'unicode', 'slash'), {
          minLength: 1,
          maxLength: 8
        }),
        fc.boolean(),
        (items, seed, spellings, withKey) => {
          let n = 0
          const pick = (): Spelling => spellings[n++ % spellings.length] as Spelling
          const answer: Record<string, unknown> = { Items: items, Count: items.length }
          if (withKey && items[0]) answer.LastEvaluatedKey = { pk: items[0].pk }
          answer.ConsumedCapacity = { TableName: 't', CapacityUnits: 2.5 }
          // The answer's own member names as DynamoDB spells them; anything inside as picked.
          const wire =
            '{' +
            shuffled(seed)(Object.keys(answer))
              .map((k) => JSON.stringify(k) + ':' + render(answer[k], pick, shuffled(seed)))
              .join(',') +
            '}'
          const fast = readScanAnswer(wire, KEYS)
          const slow = general(wire)
          // Every answer in DynamoDB's own compact form is read by the fast path.
          expect(fast).toBeDefined()
          if (!fast) return
          expect(fast.hashes.map((h) => h.toString('hex'))).toEqual(slow.hashes)
          expect(fast.keyTexts).toEqual(slow.keys)
          // Each item's text is the wire's own and parses to the same item.
          expect(fast.texts.map((t) => canonicalItem(JSON.parse(t) as Item))).toEqual(
            slow.canonical
          )
          expect(fast.texts.every((t) => wire.includes(t))).toBe(true)
          expect(fast.count).toBe(items.length)
          expect(fast.consumedCapacity).toBe(2.5)
          if (withKey && items[0])
            expect(canonicalItem(fast.lastEvaluatedKey as Item)).toBe(
              canonicalItem({ pk: items[0].pk as WireValue })
            )
        }
      ),
      { numRuns: 400 }
    )
  })

  it('reads the fixtures of every type and a 400 KB item as the general path does', () => {
    const wire = JSON.stringify({
      Items: [everyTypeItem('a'), largeItem('big'), largeItem('bin', 'B')]
    })
    const fast = readScanAnswer(wire, KEYS)
    expect(fast?.hashes.map((h) => h.toString('hex'))).toEqual(general(wire).hashes)
  })

  it('leaves to the general path what is not DynamoDB’s compact form, or not whole', () => {
    const ok = '{"Items":[{"pk":{"S":"a"},"x":{"N":"1"}}],"Count":1}'
    expect(readScanAnswer(ok)).toBeDefined()
    const declined = [
      '{"Items":[{"pk":{"S":"a"}, "x":{"N":"1"}}],"Count":1}', // whitespace
      '{"Items":[{"pk":{"S":"a"},"x":{"N":"1"}}],"Count":1}\n',
      '{"Items":[{"pk":{"S":"a"},"x":{"N":"1"},"x":{"N":"2"}}]}', // a name twice
      '{"Items":[{"x":{"N":"1"},"pk":{"S":"a"},"x":{"N":"2"}}]}',
      '{"Items":[{"pk":{"S":"a","N":"1"}}]}', // two types
      '{"Items":[{"pk":{"Q":"a"}}]}', // an unknown type
      '{"Items":[{"pk":{}}]}',
      '{"Items":[{"pk":{"S":1}}]}',
      '{"Items":[{"pk":{"BOOL":"true"}}]}',
      '{"Items":[{"pk":{"NULL":false}}]}',
      '{"Items":[{"pk":{"SS":"a"}}]}',
      '{"Items":[{"pk":{"S":"a\u0001"}}]}', // a raw control character
      '{"Items":[{"pk":{"S":"\\ud800"}}]}', // a lone surrogate
      '{"Items":[{"pk":{"S":"\ud800"}}]}',
      '{"Items":[{"pk":{"S":"\\x"}}]}', // not an escape
      '{"Items":[{"pk":{"S":"a"}}],"Items":[]}', // a member twice
      '{"Items":[{"pk":{"S":"a"}}],"Count":2}', // a count that disagrees
      '{"Items":[{"pk":{"S":"a"}}]', // cut short
      '{"Items":[{"pk":{"S":"a"}},]}',
      '{"Items":[{"pk":{"S":"a"}}],"LastEvaluatedKey":{"pk":{"S":"a"},"pk":{"S":"b"}}}',
      '{"Items":[{"pk":{"S":"a"}}],"ConsumedCapacity":{"CapacityUnits":"1"}}',
      '{"Items":[{"pk":{"S":"a"}}],"Other":[1,2}',
      '[]',
      ''
    ]
    for (const wire of declined) expect([wire, readScanAnswer(wire)]).toEqual([wire, undefined])
  })

  it('declines nesting deeper than DynamoDB allows', () => {
    let value: WireValue = { S: 'x' }
    for (let i = 0; i < 40; i++) value = { L: [value] }
    expect(readScanAnswer(JSON.stringify({ Items: [{ pk: value }] }))).toBeUndefined()
  })

  it('reads strings of many escapes (a 400 KB value of newlines) as the general path does', () => {
    const item = { pk: { S: 'a' }, lines: { S: '\n'.repeat(190_000) + '"\\'.repeat(5_000) } }
    const wire = JSON.stringify({ Items: [item], Count: 1 })
    const fast = readScanAnswer(wire, KEYS)
    expect(fast?.texts).toEqual([JSON.stringify(item)])
    expect(fast?.hashes[0]?.toString('hex')).toBe(general(wire).hashes[0])
  })

  it('declines, never throws, on members nested deeper than DynamoDB sends', () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000)
    expect(readScanAnswer(`{"Items":[],"Other":${deep}}`)).toBeUndefined()
    expect(readScanAnswer(`{"Items":[],"Other":${'['.repeat(32)}${']'.repeat(32)}}`)).toBeDefined()
  })

  it('gives every slot of a key attribute listed twice, as keyText does', () => {
    const wire = '{"Items":[{"pk":{"S":"a"}}]}'
    expect(readScanAnswer(wire, ['pk', 'pk'])?.keyTexts).toEqual([
      keyText({ pk: { S: 'a' } }, ['pk', 'pk'])
    ])
  })

  it('a name given twice is the general path’s refusal, not a merged item', () => {
    const wire = '{"Items":[{"pk":{"S":"a"},"x":{"N":"1"},"x":{"N":"2"}}]}'
    expect(readScanAnswer(wire)).toBeUndefined()
    expect(() => parseWireBody(wire, 'Scan')).toThrow(WireIntegrityError)
  })

  it('keeps an attribute named __proto__ in the item text, the hash and the key', () => {
    const wire = '{"Items":[{"__proto__":{"S":"x"},"pk":{"S":"a"}}]}'
    const fast = readScanAnswer(wire, ['__proto__'])
    expect(fast?.texts).toEqual(['{"__proto__":{"S":"x"},"pk":{"S":"a"}}'])
    expect(fast?.keyTexts).toEqual(['{"S":"x"}'])
    expect(fast?.hashes[0]?.toString('hex')).toBe(general(wire).hashes[0])
  })
})
