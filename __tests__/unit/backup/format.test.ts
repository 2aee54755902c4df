import { describe, expect, it } from '@jest/globals'
import { dataLines } from '../../../src/backup/format.js'
import { PageItems } from '../../../src/dynamo/page-items.js'
import { readScanAnswer } from '../../../src/dynamo/scan-answer.js'
import { canonicalItem } from '../../../src/verify/digest.js'
import type { Item } from '../../../src/types.js'
import { everyTypeItem, largeItem } from '../../../__fixtures__/items.js'
import { oracleText, parseJsonItem, parseJsonLine } from '../../support/oracle.js'

// Whether a line's item is one DynamoDB would store (numbers, sets, base64) is checked where
// the backup is read back: parseWireItem, tested in item-rules.test.ts.

/** One item's line, as a data file holds it. */
const itemLine = (item: Item): string => dataLines(PageItems.of([item])).toString('utf8')

describe('format.ts', () => {
  it('writes a page as one line per item, from the wire text or the parsed item alike', () => {
    const items = [everyTypeItem('a'), { pk: { S: 'é😀' }, s: { S: 'a\\/"\n' } } as Item]
    const parsed = dataLines(PageItems.of(items))
    expect(parsed.toString('utf8')).toBe(
      items.map((i) => `{"Item":${JSON.stringify(i)}}\n`).join('')
    )
    // Read off the wire, with other escapes: the same bytes DynamoDB sent, in the same lines.
    const wireItem = '{"pk":{"S":"\\u00e9\\/x"}}'
    const answer = readScanAnswer(`{"Items":[${wireItem},${JSON.stringify(items[0])}]}`)
    expect(dataLines(PageItems.fromAnswer(answer!)).toString('utf8')).toBe(
      `{"Item":${wireItem}}\n{"Item":${JSON.stringify(items[0])}}\n`
    )
  })

  it('round-trips every attribute type through DynamoDB JSON exactly', () => {
    for (const item of [everyTypeItem('a'), largeItem('b', 'S'), largeItem('c', 'B')]) {
      const line = itemLine(item)
      expect(line.endsWith('\n')).toBe(true)
      expect(line.indexOf('\n')).toBe(line.length - 1)
      const parsed = JSON.parse(line) as { Item: Item }
      expect(Object.keys(parsed)).toEqual(['Item'])
      const back = parsed.Item
      expect(canonicalItem(back)).toBe(canonicalItem(item))
      expect(back).toEqual(item)
      // The line is the item's own JSON text: the oracle's strict parser of DynamoDB's export
      // format reads it back to the same content as the item itself.
      expect(line).toBe(`{"Item":${JSON.stringify(item)}}\n`)
      expect(oracleText(parseJsonLine(line.slice(0, -1)))).toBe(oracleText(parseJsonItem(item)))
      expect(
        Object.keys((parsed.Item as { prototypeNames?: { M: object } }).prototypeNames?.M ?? {})
      ).toEqual(item.prototypeNames ? ['__proto__', 'constructor', 'toString'] : [])
    }
  })

  it('keeps an attribute named __proto__ at the top level and in maps', () => {
    const item = JSON.parse(
      '{"__proto__":{"S":"top"},"m":{"M":{"__proto__":{"N":"1"}}},"pk":{"S":"a"}}'
    ) as Item
    const line = itemLine(item)
    expect(line).toBe(
      '{"Item":{"__proto__":{"S":"top"},"m":{"M":{"__proto__":{"N":"1"}}},"pk":{"S":"a"}}}\n'
    )
    expect(Object.keys(parseJsonLine(line.slice(0, -1)))).toEqual(['__proto__', 'm', 'pk'])
  })

  it('writes numbers as strings and binary as base64, as they came', () => {
    const item: Item = {
      n: { N: '12345678901234567890123456789012345678' },
      small: { N: '1.50E-3' },
      b: { B: Buffer.from([0, 255]).toString('base64') },
      bs: { BS: ['', 'AQ=='] }
    }
    expect(JSON.parse(itemLine(item))).toEqual({
      Item: {
        n: { N: '12345678901234567890123456789012345678' },
        small: { N: '1.50E-3' },
        b: { B: 'AP8=' },
        bs: { BS: ['', 'AQ=='] }
      }
    })
  })
})
