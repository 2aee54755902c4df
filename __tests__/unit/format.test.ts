import { describe, expect, it } from '@jest/globals'
import { fromJsonItem, itemLine, toJsonItem } from '../../src/backup/format.js'
import { canonicalItem } from '../../src/verify/digest.js'
import { everyTypeItem, largeItem } from '../../__fixtures__/items.js'

describe('format.ts', () => {
  it('round-trips every attribute type through DynamoDB JSON exactly', () => {
    for (const item of [everyTypeItem('a'), largeItem('b', 'S'), largeItem('c', 'B')]) {
      const line = itemLine(item)
      expect(line.endsWith('\n')).toBe(true)
      const parsed = JSON.parse(line) as { Item: unknown }
      const back = fromJsonItem(parsed.Item)
      expect(canonicalItem(back)).toBe(canonicalItem(item))
      expect(back).toEqual(item)
      // The line is built directly, without the intermediate object: same text as the
      // object's JSON, which the oracle-checked integration tests read back.
      expect(line).toBe(`{"Item":${JSON.stringify(toJsonItem(item))}}\n`)
      expect(
        Object.keys((parsed.Item as { prototypeNames?: { M: object } }).prototypeNames?.M ?? {})
      ).toEqual(item.prototypeNames ? ['__proto__', 'constructor', 'toString'] : [])
    }
  })

  it('refuses what DynamoDB would reject mid-restore: bad numbers, empty or repeating sets', () => {
    const bad: [unknown, string][] = [
      [{ N: 'abc' }, 'not a number'],
      [{ N: '1e' }, 'not a number'],
      [{ N: '1'.repeat(39) }, 'more than 38 significant digits'],
      [{ N: '1E-131' }, "out of DynamoDB's range"],
      [{ N: '1E126' }, "out of DynamoDB's range"],
      [{ SS: [] }, 'an empty set'],
      [{ SS: ['a', 'a'] }, 'a set with a repeated member'],
      [{ NS: ['1', '1.0'] }, 'a set with a repeated member'],
      [{ NS: ['1', 'x'] }, 'not a number'],
      [{ BS: [] }, 'an empty set'],
      [{ BS: ['AP8=', 'AP8='] }, 'a set with a repeated member']
    ]
    for (const [value, why] of bad) {
      expect(() => fromJsonItem({ attr: value })).toThrow(`${why} at item.attr`)
    }
    for (const n of [
      '0',
      '-0',
      '1E-130',
      '9.9999999999999999999999999999999999999E+125',
      '1'.repeat(38),
      '100000000000000000000000000000000000000000',
      '.5',
      '5.',
      '+3'
    ]) {
      expect(fromJsonItem({ n: { N: n } })).toEqual({ n: { N: n } })
    }
  })

  it('refuses base64 that Buffer would silently mangle, and NULL other than true', () => {
    expect(() => fromJsonItem({ b: { B: 'AP8' } })).toThrow('item.b')
    expect(() => fromJsonItem({ b: { B: 'A P8=' } })).toThrow('item.b')
    expect(() => fromJsonItem({ b: { BS: ['AP8=', '**=='] } })).toThrow('item.b')
    expect(() => fromJsonItem({ n: { NULL: false } })).toThrow('item.n')
    expect(fromJsonItem({ b: { B: '' } })).toEqual({ b: { B: new Uint8Array(0) } })
  })

  it('writes numbers as strings and binary as base64', () => {
    const json = toJsonItem({
      n: { N: '12345678901234567890123456789012345678' },
      b: { B: new Uint8Array([0, 255]) }
    })
    expect(json).toEqual({ n: { N: '12345678901234567890123456789012345678' }, b: { B: 'AP8=' } })
  })

  it('rejects what is not DynamoDB JSON, naming the attribute path only', () => {
    expect(() => fromJsonItem({ a: { X: 1 } })).toThrow('item.a')
    expect(() => fromJsonItem({ a: { S: 1 } })).toThrow('item.a')
    expect(() => fromJsonItem({ a: { S: 'x', N: '1' } })).toThrow('item.a')
    expect(() => fromJsonItem([1])).toThrow('not a DynamoDB JSON')
  })
})
