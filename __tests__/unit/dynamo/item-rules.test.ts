import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import type { TableDescription } from '@aws-sdk/client-dynamodb'
import {
  ItemChecker,
  ItemRuleError,
  itemSize,
  keyProblem,
  keyRulesOf,
  parseWireItem,
  type KeyRules
} from '../../../src/dynamo/item-rules.js'
import type { Item, WireValue } from '../../../src/types.js'

// Boundaries and sizes below were measured against DynamoDB Local 1.25.1 with PutItem (see the
// comment at the top of src/dynamo/item-rules.ts); the tests pin the rules to those results.

const SENTINEL = 'SENTINEL-VALUE-9f3'
const LIMIT = 409_600

/** The error parseWireItem throws for `value`, or undefined when it accepts it. */
function refusal(value: unknown, where?: string): ItemRuleError | undefined {
  try {
    parseWireItem(value, where)
    return undefined
  } catch (error) {
    if (error instanceof ItemRuleError) return error
    throw error
  }
}

/** An item of one attribute `v` (built from JSON, so any name stays an own property). */
const withValue = (value: unknown): unknown =>
  JSON.parse(JSON.stringify({ pk: { S: 'a' }, v: value }))

const wrapInMaps = (leaf: unknown, wraps: number): unknown => {
  let value = leaf
  for (let i = 0; i < wraps; i++) value = { M: { a: value } }
  return value
}
const wrapInLists = (leaf: unknown, wraps: number): unknown => {
  let value = leaf
  for (let i = 0; i < wraps; i++) value = { L: [value] }
  return value
}

const b64 = (bytes: number, fill = 7): string => Buffer.alloc(bytes, fill).toString('base64')

describe('item-rules.ts', () => {
  describe('parseWireItem', () => {
    it('returns the very object it was given, unchanged', () => {
      const item = JSON.parse(
        JSON.stringify({
          pk: { S: 'a' },
          n: { N: '-12.5e3' },
          b: { B: 'AP8=' },
          t: { BOOL: false },
          z: { NULL: true },
          ss: { SS: ['x', ''] },
          ns: { NS: ['1', '2'] },
          bs: { BS: ['AA==', 'AQ==', ''] },
          l: { L: [{ S: '' }, { L: [] }, { M: {} }] },
          m: { M: { inner: { N: '0' } } }
        })
      ) as unknown
      const before = JSON.stringify(item)
      expect(parseWireItem(item)).toBe(item)
      expect(JSON.stringify(item)).toBe(before)
    })

    it.each(['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf', 'S', 'M'])(
      'accepts an attribute named %s, at the top level and in a map',
      (name) => {
        const item = JSON.parse(
          `{"pk":{"S":"a"},${JSON.stringify(name)}:{"M":{${JSON.stringify(name)}:{"N":"1"}}}}`
        ) as unknown
        expect(Object.hasOwn(item as object, name)).toBe(true)
        expect(parseWireItem(item)).toBe(item)
        expect(itemSize(item as Item)).toBe(3 + 2 * name.length + 3 + 1 + 2)
      }
    )

    it('never reads attributes or types from Object.prototype', () => {
      // An empty object inherits `constructor`, `toString`... none of them is an attribute value.
      expect(refusal(withValue({}))?.message).toBe(
        'attribute v is not a DynamoDB JSON value: it must have exactly one key naming its type'
      )
      expect(refusal(withValue({ constructor: 'x' }))?.path).toBe('v')
      expect(refusal(JSON.parse('{"v":{"__proto__":{"S":"x"}}}'))?.path).toBe('v')
      expect(parseWireItem(Object.create(null))).toEqual({})
    })

    describe('refuses what is not DynamoDB JSON', () => {
      it.each<[string, unknown, string]>([
        ['an array as the item', [{ S: 'x' }], 'the item is not a JSON object of attributes'],
        ['null as the item', null, 'the item is not a JSON object of attributes'],
        ['a string as the item', 'x', 'the item is not a JSON object of attributes'],
        ['a bare string value', { v: 'x' }, 'attribute v is not a DynamoDB JSON value'],
        ['null as a value', { v: null }, 'attribute v is not a DynamoDB JSON value'],
        ['an array as a value', { v: [{ S: 'x' }] }, 'attribute v is not a DynamoDB JSON value'],
        ['two type keys', { v: { S: 'x', N: '1' } }, 'exactly one key naming its type'],
        ['no type key', { v: {} }, 'exactly one key naming its type'],
        ['an unknown type', { v: { X: 'x' } }, 'exactly one key naming its type'],
        ['a lower-case type', { v: { s: 'x' } }, 'exactly one key naming its type'],
        ['S of a number', { v: { S: 1 } }, 'is a string (S) whose value is not text'],
        ['N of a number', { v: { N: 1 } }, 'is a number (N) whose value is not a string'],
        ['B of bytes', { v: { B: [0, 1] } }, 'is a binary (B) whose value is not strict base64'],
        ['BOOL of a string', { v: { BOOL: 'true' } }, 'whose value is not true or false'],
        ['NULL false', { v: { NULL: false } }, 'is a null (NULL) whose value is not true'],
        ['L of an object', { v: { L: {} } }, 'is a list (L) whose value is not an array'],
        ['M of an array', { v: { M: [] } }, 'is a map (M) whose value is not an object'],
        ['M of null', { v: { M: null } }, 'is a map (M) whose value is not an object'],
        ['SS of a string', { v: { SS: 'x' } }, 'is a string set (SS) whose value is not an array'],
        ['SS with a number', { v: { SS: ['x', 1] } }, 'whose member 2 of 2 is not a string'],
        ['NS of numbers', { v: { NS: [1] } }, 'whose member 1 of 1 is not a string']
      ])('%s', (_label, value, message) => {
        const error = refusal(value)
        expect(error).toBeInstanceOf(ItemRuleError)
        expect(error?.message).toContain(message)
      })
    })

    it('names the path of the attribute at fault', () => {
      const item = {
        pk: { S: 'a' },
        orders: {
          M: {
            lines: {
              L: [{ M: {} }, { M: {} }, { M: {} }, { M: { sku: { N: 'x' } } }]
            }
          }
        }
      }
      const error = refusal(item)
      expect(error?.path).toBe('orders.lines[3].sku')
      expect(error?.message).toBe(
        'attribute orders.lines[3].sku is a number (N) that is not a number'
      )
    })

    it('quotes names that are not plain identifiers and shortens long ones', () => {
      expect(refusal({ 'a.b': { M: { 'c d': { NULL: 1 } } } })?.path).toBe('["a.b"]["c d"]')
      expect(refusal({ [`${'n'.repeat(100)} `]: { NULL: 1 } })?.path).toBe(`["${'n'.repeat(64)}…"]`)
      expect(refusal({ 'line\nbreak': { NULL: 1 } })?.message).toContain('["line\\nbreak"]')
    })

    it('prefixes the message with where the item came from', () => {
      expect(refusal({ v: { NULL: 1 } }, 'data/00001.json line 17')?.message).toBe(
        'data/00001.json line 17: attribute v is a null (NULL) whose value is not true'
      )
    })

    it('does not let a failed check leak its path into the next item', () => {
      refusal({ a: { M: { b: { L: [{ NULL: 1 }] } } } })
      expect(refusal({ c: { NULL: 1 } })?.path).toBe('c')
      expect(parseWireItem({ d: { S: 'x' } })).toEqual({ d: { S: 'x' } })
    })
  })

  describe('numbers', () => {
    it.each([
      '0',
      '-0',
      '+1',
      '00',
      '007',
      '1.',
      '.5',
      '-.5',
      '+.5',
      '1e5',
      '1E+5',
      '1e-5',
      '1.e5',
      '1E-0',
      '1e0000000000000000000000001',
      '0.0000e-500',
      '0e999999999',
      '1e-130',
      '10e-131',
      '-1e-130',
      '1e125',
      '9.9999999999999999999999999999999999999e125',
      '-9.9999999999999999999999999999999999999E+125',
      '12345678901234567890123456789012345678',
      '1234567890123456789012345678901234567800',
      '000000000000000000000000000000000000000012',
      '0.12345678901234567890123456789012345678'
    ])('accepts %s', (n) => {
      expect(refusal(withValue({ N: n }))).toBeUndefined()
      expect(refusal(withValue({ NS: [n] }))).toBeUndefined()
    })

    it.each<[string, string]>([
      ['', 'is not a number'],
      ['-', 'is not a number'],
      ['+', 'is not a number'],
      ['.', 'is not a number'],
      ['.e5', 'is not a number'],
      ['e5', 'is not a number'],
      ['1e', 'is not a number'],
      ['1e+', 'is not a number'],
      [' 1', 'is not a number'],
      ['1 ', 'is not a number'],
      ['1..2', 'is not a number'],
      ['1,5', 'is not a number'],
      ['1_000', 'is not a number'],
      ['0x10', 'is not a number'],
      ['NaN', 'is not a number'],
      ['Infinity', 'is not a number'],
      ['-Infinity', 'is not a number'],
      ['١', 'is not a number'],
      ['0e9999999999', 'is not a number'],
      ['1e-131', "is closer to zero than DynamoDB's smallest number (1E-130)"],
      ['0.99e-130', "is closer to zero than DynamoDB's smallest number (1E-130)"],
      ['1e126', "is larger than DynamoDB's largest number (under 1E126)"],
      ['0.1e127', "is larger than DynamoDB's largest number (under 1E126)"],
      ['-1e126', "is larger than DynamoDB's largest number (under 1E126)"],
      ['1e9999999999999999999999', "is larger than DynamoDB's largest number (under 1E126)"],
      ['123456789012345678901234567890123456789', 'has more than 38 significant digits'],
      ['1.00000000000000000000000000000000000001', 'has more than 38 significant digits']
    ])('refuses %j', (n, why) => {
      expect(refusal(withValue({ N: n }))?.message).toBe(`attribute v is a number (N) that ${why}`)
      expect(refusal(withValue({ NS: ['1', n] }))?.message).toBe(
        `attribute v is a number set (NS) whose member 2 of 2 ${why}`
      )
    })

    it('accepts 38 significant digits and refuses 39', () => {
      const digits38 = '9'.repeat(38)
      expect(refusal(withValue({ N: digits38 }))).toBeUndefined()
      expect(refusal(withValue({ N: `${digits38}9` }))?.message).toContain('more than 38')
      expect(refusal(withValue({ N: `-0.${digits38}e-50` }))).toBeUndefined()
      expect(refusal(withValue({ N: `-0.${digits38}1e-50` }))?.message).toContain('more than 38')
    })
  })

  describe('sets', () => {
    it.each<[string, WireValue]>([
      ['an empty string set', { SS: [] }],
      ['an empty number set', { NS: [] }],
      ['an empty binary set', { BS: [] }]
    ])('refuses %s', (_label, value) => {
      expect(refusal(withValue(value))?.message).toMatch(
        /^attribute v is an empty .* set \((SS|NS|BS)\)/
      )
    })

    it.each<[string, string[]]>([
      ['1 and 1.0', ['1', '1.0']],
      ['1 and 01', ['1', '01']],
      ['1 and +1', ['1', '+1']],
      ['1 and 1e0', ['1', '1e0']],
      ['100 and 1E2', ['100', '1E2']],
      ['0 and -0', ['0', '-0']],
      ['0.5 and 5e-1', ['0.5', '5e-1']],
      ['0 and 0e50', ['0', '0e50']],
      [
        'a 38-digit number and itself with trailing zeros',
        ['1'.repeat(38), `${'1'.repeat(38)}.000`]
      ]
    ])('refuses a number set repeating a value: %s', (_label, members) => {
      expect(refusal(withValue({ NS: ['7', ...members] }))?.message).toBe(
        'attribute v is a number set (NS) whose member 3 of 3 repeats an earlier member, which DynamoDB refuses'
      )
    })

    it('accepts number set members that differ by value', () => {
      expect(
        refusal(withValue({ NS: ['1', '-1', '10', '0.1', '1e-130', '11', '1.1'] }))
      ).toBeUndefined()
    })

    it('refuses a string set repeating a member and accepts empty strings in it', () => {
      expect(refusal(withValue({ SS: ['a', 'b', 'a'] }))?.message).toContain(
        'member 3 of 3 repeats'
      )
      expect(refusal(withValue({ SS: ['a', ''] }))).toBeUndefined()
      expect(refusal(withValue({ SS: ['é', 'e\u0301'] }))).toBeUndefined()
    })

    it('refuses a binary set repeating bytes, however they are spelled', () => {
      expect(refusal(withValue({ BS: ['AA==', 'AA=='] }))?.message).toContain(
        'member 2 of 2 repeats'
      )
      // 'AB==' decodes to the same byte as 'AA==' (the unused low bits differ); DynamoDB Local
      // refuses the pair as duplicates.
      expect(refusal(withValue({ BS: ['AA==', 'AB=='] }))?.message).toContain('repeats')
      expect(refusal(withValue({ BS: ['AAA=', 'AAB='] }))?.message).toContain('repeats')
      expect(refusal(withValue({ BS: ['AAA=', 'AAE='] }))).toBeUndefined()
      expect(refusal(withValue({ BS: ['', 'AA=='] }))).toBeUndefined()
    })
  })

  describe('binary', () => {
    it.each(['', 'AA==', 'AAA=', 'AAAA', 'AP8=', '/+8=', 'AB==', b64(1000)])(
      'accepts %j',
      (text) => {
        expect(refusal(withValue({ B: text }))).toBeUndefined()
        expect(refusal(withValue({ BS: [text] }))).toBeUndefined()
      }
    )

    it.each([
      'AA',
      'AA=',
      'A',
      'A===',
      '=AA=',
      'AAAA====',
      'AA==AA==',
      'A A=',
      'AA==\n',
      '-_8=',
      '¿AA=',
      'AP8'
    ])('refuses %j', (text) => {
      expect(refusal(withValue({ B: text }))?.message).toBe(
        'attribute v is a binary (B) whose value is not strict base64'
      )
      expect(refusal(withValue({ BS: ['AQ==', text] }))?.message).toBe(
        'attribute v is a binary set (BS) whose member 2 of 2 is not strict base64'
      )
    })
  })

  describe('nesting', () => {
    it('accepts 32 levels: a scalar inside 31 maps or lists', () => {
      expect(refusal(withValue(wrapInMaps({ S: 'x' }, 31)))).toBeUndefined()
      expect(refusal(withValue(wrapInLists({ S: 'x' }, 31)))).toBeUndefined()
      expect(refusal(withValue(wrapInMaps({ SS: ['x'] }, 31)))).toBeUndefined()
      expect(refusal(withValue(wrapInMaps({ M: {} }, 30)))).toBeUndefined()
    })

    it('refuses 33 levels: a scalar inside 32 maps or lists', () => {
      const error = refusal(withValue(wrapInMaps({ S: 'x' }, 32)))
      expect(error?.message).toBe(
        `attribute v${'.a'.repeat(31)} nests lists and maps more than 32 levels deep`
      )
      expect(refusal(withValue(wrapInLists({ S: 'x' }, 32)))?.path).toBe(`v${'[0]'.repeat(31)}`)
    })

    it('refuses an empty map or list at level 32, as DynamoDB does', () => {
      expect(refusal(withValue(wrapInMaps({ M: {} }, 31)))?.message).toContain('32 levels deep')
      expect(refusal(withValue(wrapInMaps({ L: [] }, 31)))?.message).toContain('32 levels deep')
    })

    it('refuses a hostile depth without overflowing the stack', () => {
      let text = '{"S":"x"}'
      for (let i = 0; i < 5000; i++) text = `{"L":[${text}]}`
      expect(refusal(JSON.parse(`{"v":${text}}`))?.message).toContain('32 levels deep')
    })
  })

  describe('attribute names', () => {
    it('refuses an empty name at the top level and in nested maps', () => {
      expect(refusal({ pk: { S: 'a' }, '': { S: 'x' } })?.message).toBe(
        'the item has an attribute with an empty name, which DynamoDB refuses'
      )
      expect(refusal({ v: { L: [{ M: { '': { S: 'x' } } }] } })?.message).toBe(
        'attribute v[0] has an attribute with an empty name, which DynamoDB refuses'
      )
    })

    it.each<[string, string]>([
      ['ASCII', 'n'],
      ['three-byte UTF-8', '€']
    ])('accepts a name of 65,535 bytes and refuses 65,536 (%s)', (_label, unit) => {
      const width = Buffer.byteLength(unit)
      const name = unit.repeat(Math.floor(65_535 / width)) + 'n'.repeat(65_535 % width)
      expect(Buffer.byteLength(name)).toBe(65_535)
      expect(refusal({ [name]: { S: 'x' } })).toBeUndefined()
      expect(refusal({ v: { M: { [name]: { S: 'x' } } } })).toBeUndefined()
      const error = refusal({ v: { M: { [`${name}n`]: { S: 'x' } } } })
      expect(error?.message).toMatch(/^attribute v\[".*…"\] has a name of 65,536 bytes/)
      expect(refusal({ [`${name}n`]: { S: 'x' } })?.message).toContain(
        'has a name of 65,536 bytes; DynamoDB allows at most 65,535'
      )
    })
  })

  describe('item size', () => {
    // pk + 'a' = 3 bytes, 'pad' = 3 bytes: a string of LIMIT - 6 bytes makes the item 400 KB.
    const padded = (bytes: number, unit = 'x'): Item => ({
      pk: { S: 'a' },
      pad: {
        S:
          unit.repeat(Math.floor(bytes / Buffer.byteLength(unit))) +
          'x'.repeat(bytes % Buffer.byteLength(unit))
      }
    })

    it('accepts an item of exactly 400 KB (409,600 bytes)', () => {
      expect(itemSize(padded(LIMIT - 6))).toBe(LIMIT)
      expect(refusal(padded(LIMIT - 6))).toBeUndefined()
      expect(refusal(padded(LIMIT - 6, '😀'))).toBeUndefined()
    })

    it('refuses an item of 409,601 bytes', () => {
      expect(refusal(padded(LIMIT - 5))?.message).toBe(
        "the item is 409,601 bytes, over DynamoDB's item size limit of 400 KB (409,600 bytes)"
      )
      expect(refusal(padded(LIMIT - 5, 'é'))?.path).toBe('')
    })

    it('counts binary by its decoded bytes, not its base64 text', () => {
      const item: Item = { pk: { S: 'a' }, pad: { B: b64(LIMIT - 6) } }
      expect(itemSize(item)).toBe(LIMIT)
      expect(refusal(item)).toBeUndefined()
      expect(refusal({ ...item, x: { NULL: true } })?.message).toContain('409,602 bytes')
    })

    it('counts nested names and the overhead of lists and maps', () => {
      const inner = LIMIT - 3 - 1 - 3 - (1 + 1) - 3 - 1
      const item: Item = { pk: { S: 'a' }, m: { M: { l: { L: [{ S: 'x'.repeat(inner) }] } } } }
      expect(itemSize(item)).toBe(LIMIT)
      expect(refusal(item)).toBeUndefined()
      const over: Item = { pk: { S: 'a' }, m: { M: { l: { L: [{ S: 'x'.repeat(inner + 1) }] } } } }
      expect(refusal(over)?.message).toContain('409,601 bytes')
    })
  })

  describe('itemSize', () => {
    // Each size is the attribute's, name `v` (1 byte) included, as measured by DynamoDB Local at
    // the 400 KB boundary; the documented rules give the same.
    it.each<[string, WireValue, number]>([
      ['an empty string', { S: '' }, 1],
      ['a one-byte string', { S: 'x' }, 2],
      ['a two-byte character', { S: 'é' }, 3],
      ['a four-byte character', { S: '😀' }, 5],
      ['BOOL', { BOOL: true }, 2],
      ['NULL', { NULL: true }, 2],
      ['one byte of binary', { B: 'AA==' }, 2],
      ['three bytes of binary', { B: 'AAAA' }, 4],
      ['an empty list', { L: [] }, 4],
      ['an empty map', { M: {} }, 4],
      ['a list of one string', { L: [{ S: 'x' }] }, 6],
      ['a list of two strings', { L: [{ S: 'x' }, { S: 'y' }] }, 8],
      ['a list holding NULL', { L: [{ NULL: true }] }, 6],
      ['a map of one string', { M: { a: { S: 'x' } } }, 7],
      ['a map of two strings', { M: { a: { S: 'x' }, bb: { S: 'y' } } }, 11],
      ['a map holding an empty map', { M: { a: { M: {} } } }, 9],
      ['a list holding an empty list', { L: [{ L: [] }] }, 8],
      ['a string set of one', { SS: ['x'] }, 2],
      ['a string set of two', { SS: ['x', 'yy'] }, 4],
      ['a binary set', { BS: ['AA==', 'AAA='] }, 4],
      ['a number set of one', { NS: ['1'] }, 3],
      ['a number set of two', { NS: ['1', '22'] }, 5]
    ])('sizes %s as DynamoDB does', (_label, value, size) => {
      expect(itemSize({ v: value })).toBe(size)
    })

    it.each<[string, number]>([
      ['0', 2],
      ['-0', 2],
      ['0.0', 2],
      ['0e5', 2],
      ['1', 3],
      ['12', 3],
      ['123', 4],
      ['1234', 4],
      ['12345', 5],
      ['-1', 4],
      ['-12', 4],
      ['-123', 5],
      ['10', 3],
      ['100', 3],
      ['1000', 3],
      ['1200', 3],
      ['12000', 4],
      ['120000', 3],
      ['99', 3],
      ['999', 4],
      ['101', 4],
      ['0.1', 3],
      ['0.01', 3],
      ['0.001', 3],
      ['0.12', 3],
      ['0.123', 4],
      ['0.0101', 4],
      ['1.5', 4],
      ['1.01', 4],
      ['10.1', 4],
      ['12.5', 4],
      ['1.25', 4],
      ['5e-1', 3],
      ['-5e-1', 4],
      ['5e-2', 3],
      ['55e-3', 4],
      ['00012', 3],
      ['1e10', 3],
      ['1e11', 3],
      ['1E125', 3],
      ['1E-130', 3],
      ['-1e-130', 4],
      ['12345678901234567890123456789012345678', 21],
      ['-12345678901234567890123456789012345678', 22],
      ['1.2345678901234567890123456789012345678', 22],
      ['9.9999999999999999999999999999999999999E+125', 21]
    ])('sizes the number %s as DynamoDB does', (n, size) => {
      expect(itemSize({ v: { N: n } })).toBe(size)
    })

    it('adds the UTF-8 bytes of every name', () => {
      expect(itemSize({ é: { S: 'x' } })).toBe(3)
      expect(itemSize({})).toBe(0)
      expect(itemSize(JSON.parse('{"__proto__":{"NULL":true}}') as Item)).toBe(10)
    })
  })

  describe('keys', () => {
    const description: TableDescription = {
      TableName: 'orders',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gp', AttributeType: 'S' },
        { AttributeName: 'gs', AttributeType: 'N' },
        { AttributeName: 'ls', AttributeType: 'B' }
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' }
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'by-gp',
          KeySchema: [
            { AttributeName: 'gp', KeyType: 'HASH' },
            { AttributeName: 'gs', KeyType: 'RANGE' }
          ]
        },
        {
          IndexName: 'by-gp-pk',
          KeySchema: [
            { AttributeName: 'gp', KeyType: 'HASH' },
            { AttributeName: 'pk', KeyType: 'RANGE' }
          ]
        }
      ],
      LocalSecondaryIndexes: [
        {
          IndexName: 'by-ls',
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'ls', KeyType: 'RANGE' }
          ]
        }
      ]
    }
    const rules = keyRulesOf(description)
    const s = (bytes: number, unit = 'x'): WireValue => ({
      S: unit.repeat(bytes / Buffer.byteLength(unit))
    })
    const keyed = (extra: Record<string, WireValue> = {}): Item => ({
      pk: { S: 'p' },
      sk: { S: 's' },
      ...extra
    })

    it('reads the key attributes of the table and of every index', () => {
      expect(rules).toEqual({
        primary: [
          { name: 'pk', type: 'S', role: 'HASH' },
          { name: 'sk', type: 'S', role: 'RANGE' }
        ],
        indexes: [
          {
            indexName: 'by-gp',
            kind: 'global',
            keys: [
              { name: 'gp', type: 'S', role: 'HASH' },
              { name: 'gs', type: 'N', role: 'RANGE' }
            ]
          },
          {
            indexName: 'by-gp-pk',
            kind: 'global',
            keys: [
              { name: 'gp', type: 'S', role: 'HASH' },
              { name: 'pk', type: 'S', role: 'RANGE' }
            ]
          },
          {
            indexName: 'by-ls',
            kind: 'local',
            keys: [
              { name: 'pk', type: 'S', role: 'HASH' },
              { name: 'ls', type: 'B', role: 'RANGE' }
            ]
          }
        ]
      })
    })

    it('refuses a description that leaves a key attribute untyped or has no partition key', () => {
      expect(() => keyRulesOf({ ...description, AttributeDefinitions: [] })).toThrow(
        "The description of 'orders' is incomplete"
      )
      expect(() => keyRulesOf({ TableName: 'orders', KeySchema: [] })).toThrow('no partition key')
    })

    it('accepts an item that fits every key', () => {
      expect(keyProblem(keyed(), rules)).toBeUndefined()
      expect(
        keyProblem(keyed({ gp: { S: 'g' }, gs: { N: '-1e-130' }, ls: { B: 'AA==' } }), rules)
      ).toBeUndefined()
    })

    it.each<[string, Item, string]>([
      ['a missing partition key', { sk: { S: 's' } }, "it has no key attribute 'pk'"],
      ['a missing sort key', { pk: { S: 'p' } }, "it has no key attribute 'sk'"],
      [
        'a partition key of the wrong type',
        { pk: { N: '1' }, sk: { S: 's' } },
        "its partition key 'pk' is of type N; the table's is S"
      ],
      [
        'a set as a key',
        { pk: { SS: ['p'] }, sk: { S: 's' } },
        "its partition key 'pk' is of type SS; the table's is S"
      ],
      [
        'an empty partition key',
        { pk: { S: '' }, sk: { S: 's' } },
        "its partition key 'pk' is empty, which DynamoDB refuses in a key"
      ],
      [
        'an empty sort key',
        { pk: { S: 'p' }, sk: { S: '' } },
        "its sort key 'sk' is empty, which DynamoDB refuses in a key"
      ],
      [
        'a key that is not a wire value',
        { pk: { S: 'p', N: '1' }, sk: { S: 's' } },
        "its partition key 'pk' is not a DynamoDB JSON value"
      ]
    ])('refuses %s', (_label, item, problem) => {
      expect(keyProblem(item, rules)).toBe(problem)
    })

    it('does not take a key attribute from Object.prototype', () => {
      const onlyProto: KeyRules = {
        primary: [{ name: 'constructor', type: 'S', role: 'HASH' }],
        indexes: []
      }
      expect(keyProblem({}, onlyProto)).toBe("it has no key attribute 'constructor'")
      const own = JSON.parse('{"__proto__":{"S":"x"}}') as Item
      const protoKey: KeyRules = {
        primary: [{ name: '__proto__', type: 'S', role: 'HASH' }],
        indexes: []
      }
      expect(keyProblem(own, protoKey)).toBeUndefined()
      expect(keyProblem({}, protoKey)).toBe("it has no key attribute '__proto__'")
    })

    it('accepts a partition key of 2,048 bytes', () => {
      expect(
        keyProblem(keyed({ pk: s(2048) }), { primary: rules.primary, indexes: [] })
      ).toBeUndefined()
      expect(
        keyProblem(keyed({ pk: s(2048, 'é') }), { primary: rules.primary, indexes: [] })
      ).toBeUndefined()
    })

    it('refuses a partition key of 2,049 bytes', () => {
      const primaryOnly = { primary: rules.primary, indexes: [] }
      const problem =
        "its partition key 'pk' is 2,049 bytes; DynamoDB allows at most 2,048 for a partition key"
      expect(keyProblem(keyed({ pk: s(2049) }), primaryOnly)).toBe(problem)
      expect(keyProblem(keyed({ pk: { S: `${'é'.repeat(1024)}x` } }), primaryOnly)).toBe(problem)
    })

    it('accepts a sort key of 1,024 bytes and refuses a sort key of 1,025 bytes', () => {
      expect(keyProblem(keyed({ sk: s(1024) }), rules)).toBeUndefined()
      expect(keyProblem(keyed({ sk: { S: `${'€'.repeat(341)}x` } }), rules)).toBeUndefined()
      expect(keyProblem(keyed({ sk: { S: `${'€'.repeat(341)}xx` } }), rules)).toContain(
        '1,025 bytes'
      )
      expect(keyProblem(keyed({ sk: s(1025) }), rules)).toBe(
        "its sort key 'sk' is 1,025 bytes; DynamoDB allows at most 1,024 for a sort key"
      )
    })

    it('counts binary keys by their decoded bytes', () => {
      const binary = keyRulesOf({
        TableName: 'bin',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'B' },
          { AttributeName: 'sk', AttributeType: 'B' }
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' }
        ]
      })
      expect(keyProblem({ pk: { B: b64(2048) }, sk: { B: b64(1024) } }, binary)).toBeUndefined()
      expect(keyProblem({ pk: { B: b64(2049) }, sk: { B: b64(1) } }, binary)).toContain(
        "'pk' is 2,049 bytes"
      )
      expect(keyProblem({ pk: { B: b64(1) }, sk: { B: b64(1025) } }, binary)).toContain(
        "'sk' is 1,025 bytes"
      )
      expect(keyProblem({ pk: { B: '' }, sk: { B: b64(1) } }, binary)).toContain("'pk' is empty")
      expect(keyProblem({ pk: { B: 'AA' }, sk: { B: b64(1) } }, binary)).toBe(
        "its partition key 'pk' is not a valid binary"
      )
    })

    it('never finds a number key too long: 38 digits take 22 bytes at most', () => {
      const numeric = keyRulesOf({
        TableName: 'num',
        AttributeDefinitions: [
          { AttributeName: 'n', AttributeType: 'N' },
          { AttributeName: 'm', AttributeType: 'N' }
        ],
        KeySchema: [
          { AttributeName: 'n', KeyType: 'HASH' },
          { AttributeName: 'm', KeyType: 'RANGE' }
        ]
      })
      // 38 digits not aligned on the decimal point's pairs, negative: 20 pairs + 1 + 1.
      const longest = `-1.${'9'.repeat(37)}e-92`
      expect(itemSize({ v: { N: longest } })).toBe(1 + 22)
      expect(keyProblem({ n: { N: longest }, m: { N: longest } }, numeric)).toBeUndefined()
      expect(keyProblem({ n: { N: '1' }, m: { N: 'x' } }, numeric)).toBe(
        "its sort key 'm' is not a valid number"
      )
    })

    it('lets an item leave out index keys', () => {
      expect(keyProblem(keyed({ gs: { N: '1' } }), rules)).toBeUndefined()
      expect(keyProblem(keyed({ gp: { S: 'g' } }), rules)).toBeUndefined()
    })

    it.each<[string, Record<string, WireValue>, string]>([
      [
        'an index key of the wrong type',
        { gs: { S: '1' } },
        "its attribute 'gs', the sort key of index 'by-gp', is of type S; the index's is N"
      ],
      [
        'NULL as an index key',
        { ls: { NULL: true } },
        "its attribute 'ls', the sort key of index 'by-ls', is of type NULL; the index's is B"
      ],
      [
        'an empty index partition key',
        { gp: { S: '' } },
        "its attribute 'gp', the partition key of index 'by-gp', is empty, which DynamoDB refuses in a key"
      ],
      [
        'an empty index sort key',
        { ls: { B: '' } },
        "its attribute 'ls', the sort key of index 'by-ls', is empty, which DynamoDB refuses in a key"
      ],
      [
        'an index partition key of 2,049 bytes',
        { gp: { S: 'g'.repeat(2049) } },
        "its attribute 'gp', the partition key of index 'by-gp', is 2,049 bytes; DynamoDB allows at most 2,048 for a partition key"
      ],
      [
        'an index sort key of 1,025 bytes',
        { ls: { B: b64(1025) } },
        "its attribute 'ls', the sort key of index 'by-ls', is 1,025 bytes; DynamoDB allows at most 1,024 for a sort key"
      ]
    ])('refuses %s', (_label, extra, problem) => {
      expect(keyProblem(keyed(extra), rules)).toBe(problem)
    })

    it('accepts index keys at their limits', () => {
      expect(keyProblem(keyed({ gp: s(2048), ls: { B: b64(1024) } }), rules)).toBeUndefined()
    })

    it("holds the table's partition key to 1,024 bytes where an index uses it as its sort key", () => {
      expect(keyProblem(keyed({ pk: s(1024) }), rules)).toBeUndefined()
      expect(keyProblem(keyed({ pk: s(1025) }), rules)).toBe(
        "its attribute 'pk', the sort key of index 'by-gp-pk', is 1,025 bytes; DynamoDB allows at most 1,024 for a sort key"
      )
    })

    it('refuses key attribute names over 255 bytes', () => {
      const long: KeyRules = {
        primary: [{ name: 'é'.repeat(128), type: 'S', role: 'HASH' }],
        indexes: []
      }
      expect(keyProblem({ ['é'.repeat(128)]: { S: 'x' } }, long)).toContain(
        'is 256 bytes; DynamoDB allows at most 255'
      )
      const fits: KeyRules = {
        primary: [{ name: 'k'.repeat(255), type: 'S', role: 'HASH' }],
        indexes: []
      }
      expect(keyProblem({ ['k'.repeat(255)]: { S: 'x' } }, fits)).toBeUndefined()
      const index: KeyRules = {
        primary: fits.primary,
        indexes: [
          {
            indexName: 'i',
            kind: 'global',
            keys: [{ name: 'g'.repeat(256), type: 'S', role: 'HASH' }]
          }
        ]
      }
      expect(keyProblem({ ['k'.repeat(255)]: { S: 'x' } }, index)).toContain(
        "index 'i' has a key attribute name"
      )
    })
  })

  describe('ItemChecker', () => {
    const rules: KeyRules = {
      primary: [
        { name: 'pk', type: 'S', role: 'HASH' },
        { name: 'sk', type: 'N', role: 'RANGE' }
      ],
      indexes: [
        { indexName: 'by-b', kind: 'global', keys: [{ name: 'b', type: 'B', role: 'HASH' }] }
      ]
    }

    it('counts the items a table would refuse and describes the first five by key', () => {
      const checker = new ItemChecker(rules)
      const bad = (i: number): Item => ({
        pk: { S: `p${i}` },
        sk: { N: String(i) },
        b: { S: SENTINEL }
      })
      checker.check([{ pk: { S: 'ok' }, sk: { N: '1' }, other: { S: SENTINEL } }, bad(1), bad(2)])
      checker.check([bad(3), bad(4), bad(5), bad(6)])
      expect(checker.rejected).toBe(6)
      expect(checker.examples).toHaveLength(5)
      expect(checker.examples[0]).toBe(
        `pk="p1", sk=1: its attribute 'b', the partition key of index 'by-b', is of type S; the index's is B`
      )
      expect(checker.examples.join('\n')).not.toContain(SENTINEL)
    })

    it('shows binary keys as base64, shortens long keys, and shows ? for a missing key', () => {
      const checker = new ItemChecker(
        {
          primary: [
            { name: 'k', type: 'B', role: 'HASH' },
            { name: 'sk', type: 'S', role: 'RANGE' }
          ],
          indexes: []
        },
        2
      )
      checker.check([
        { k: { B: 'AP8=' }, sk: { S: 'x'.repeat(1025) } },
        { sk: { S: 'ok' } },
        { k: { B: 'AA==' } }
      ])
      expect(checker.rejected).toBe(3)
      expect(checker.examples).toEqual([
        `k=b64:AP8=, sk="${'x'.repeat(120)}…": its sort key 'sk' is 1,025 bytes; DynamoDB allows at most 1,024 for a sort key`,
        `k=?, sk="ok": it has no key attribute 'k'`
      ])
    })
  })

  describe('properties', () => {
    const names = fc.oneof(
      fc.constantFrom(
        '__proto__',
        'constructor',
        'hasOwnProperty',
        'toString',
        'S',
        'M',
        'a.b',
        'é',
        '😀'
      ),
      fc.string({ minLength: 1, maxLength: 12 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 })
    )
    const numbers = fc.oneof(
      fc.constantFrom(
        '0',
        '-0',
        '1.',
        '.5',
        '+7',
        '1e-130',
        '-9.9999999999999999999999999999999999999E+125'
      ),
      fc
        .tuple(
          fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }),
          fc.integer({ min: -130, max: 88 })
        )
        .map(([m, e]) => `${m}e${e}`),
      fc
        .double({ noNaN: true, noDefaultInfinity: true, min: -1e100, max: 1e100 })
        .map((d) => String(Math.abs(d) < 1e-100 ? 0 : d))
    )
    const binary = fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b).toString('base64'))
    const strings = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.string({ unit: 'binary', maxLength: 10 }),
      fc.constant(SENTINEL)
    )
    const scalar: fc.Arbitrary<WireValue> = fc.oneof(
      strings.map((S) => ({ S })),
      numbers.map((N) => ({ N })),
      binary.map((B) => ({ B })),
      fc.boolean().map((BOOL) => ({ BOOL })),
      fc.constant({ NULL: true as const }),
      fc.uniqueArray(strings, { minLength: 1, maxLength: 4 }).map((SS) => ({ SS })),
      fc
        .uniqueArray(fc.integer(), { minLength: 1, maxLength: 4 })
        .map((a) => ({ NS: a.map(String) })),
      fc
        .uniqueArray(fc.uint8Array({ maxLength: 6 }), {
          minLength: 1,
          maxLength: 4,
          selector: (b) => Buffer.from(b).toString('hex')
        })
        .map((a) => ({ BS: a.map((b) => Buffer.from(b).toString('base64')) }))
    )
    const entries = (value: fc.Arbitrary<WireValue>) =>
      fc.uniqueArray(fc.tuple(names, value), { maxLength: 5, selector: ([name]) => name })
    // Object.fromEntries defines own properties, so `__proto__` stays an attribute.
    const { value } = fc.letrec<{ value: WireValue }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        scalar,
        fc.array(tie('value'), { maxLength: 4 }).map((L) => ({ L })),
        entries(tie('value')).map((e) => ({ M: Object.fromEntries(e) }))
      )
    }))
    const items = entries(value).map((e): Item => Object.fromEntries(e))

    it('accepts every valid item and returns the same object', () => {
      fc.assert(
        fc.property(items, (item) => {
          const before = JSON.stringify(item)
          expect(parseWireItem(item)).toBe(item)
          expect(JSON.stringify(item)).toBe(before)
          // The same item read back from its JSON text is accepted too.
          expect(refusal(JSON.parse(before))).toBeUndefined()
        }),
        { numRuns: 300 }
      )
    })

    it('grows itemSize with every attribute added', () => {
      fc.assert(
        fc.property(items, names, value, (item, name, added) => {
          fc.pre(!Object.hasOwn(item, name))
          const bigger = Object.fromEntries<WireValue>([...Object.entries(item), [name, added]])
          expect(itemSize(bigger)).toBeGreaterThan(itemSize(item))
          expect(itemSize(bigger)).toBe(
            itemSize(item) + itemSize(Object.fromEntries([[name, added]]))
          )
        }),
        { numRuns: 300 }
      )
    })

    it('never puts a value in a message', () => {
      const poison: fc.Arbitrary<unknown> = fc.constantFrom(
        { N: SENTINEL },
        { N: `1${SENTINEL}` },
        { B: `${SENTINEL}=` },
        { S: SENTINEL, N: '1' },
        { SENTINEL: 'x' },
        { BOOL: SENTINEL },
        { NULL: SENTINEL },
        { S: [SENTINEL] },
        { SS: [SENTINEL, SENTINEL] },
        { SS: [SENTINEL, 1] },
        { NS: ['1', SENTINEL] },
        { BS: [SENTINEL] },
        { L: SENTINEL },
        { M: SENTINEL },
        { M: { x: SENTINEL } },
        { S: SENTINEL.repeat(Math.ceil(LIMIT / SENTINEL.length)) },
        wrapInMaps({ S: SENTINEL }, 40),
        SENTINEL,
        [SENTINEL]
      )
      const wrapper = fc.oneof(
        fc.constant((v: unknown): unknown => ({ L: [{ S: SENTINEL }, v] })),
        names.map((name) => (v: unknown): unknown => ({ M: Object.fromEntries([[name, v]]) }))
      )
      fc.assert(
        fc.property(
          items,
          names,
          poison,
          fc.array(wrapper, { maxLength: 5 }),
          (item, name, bad, wrappers) => {
            const planted = wrappers.reduce((v, wrap) => wrap(v), bad)
            const hostile = Object.fromEntries<unknown>([...Object.entries(item), [name, planted]])
            const error = refusal(hostile, 'data/x.json line 3')
            expect(error).toBeInstanceOf(ItemRuleError)
            expect(error?.message).not.toContain(SENTINEL)
            expect(error?.message).not.toContain('SENTINEL')
            expect(error?.message.startsWith('data/x.json line 3: ')).toBe(true)
          }
        ),
        { numRuns: 300 }
      )
    })

    it('never puts a value in a key problem', () => {
      const rules: KeyRules = {
        primary: [{ name: 'pk', type: 'B', role: 'HASH' }],
        indexes: [
          { indexName: 'i', kind: 'local', keys: [{ name: 'x', type: 'N', role: 'RANGE' }] }
        ]
      }
      fc.assert(
        fc.property(value, value, (pk, x) => {
          const problem = keyProblem({ pk, x }, rules) ?? ''
          expect(problem).not.toContain(SENTINEL)
        }),
        { numRuns: 300 }
      )
    })
  })

  it('refuses lone surrogates in names, strings and string sets, which DynamoDB cannot store unchanged', () => {
    const lone = JSON.parse('"\\ud800"') as string
    for (const item of [
      { pk: { S: lone } },
      { pk: { S: 'a' }, [`x${lone}`]: { S: 'v' } },
      { pk: { S: 'a' }, tags: { SS: ['ok', `${lone}!`] } },
      { pk: { S: 'a' }, m: { M: { n: { S: `${lone}` } } } }
    ]) {
      expect(() => parseWireItem(item)).toThrow(/not valid Unicode \(a lone surrogate\)/)
    }
    // A valid pair (an emoji) is text like any other.
    expect(parseWireItem({ pk: { S: '😀' }, '😀': { SS: ['😀'] } })).toBeDefined()
  })
})
