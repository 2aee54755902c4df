import { describe, expect, it } from '@jest/globals'
import { everyTypeItem, prototypeNamesItem } from '../../../__fixtures__/items.js'
import { PageItems } from '../../../src/dynamo/page-items.js'
import { readScanAnswer } from '../../../src/dynamo/scan-answer.js'
import { canonicalItem, itemHash, keyText } from '../../../src/verify/digest.js'

const KEYS = ['pk', 'sk']

describe('page-items.ts PageItems', () => {
  it('makes a parsed item’s text once and shares it (own names only, __proto__ kept)', () => {
    const item = prototypeNamesItem('p')
    const page = PageItems.of([item])
    const text = page.text(0)
    expect(text).toBe(JSON.stringify(item))
    expect(text).toContain('"__proto__"')
    expect(page.text(0)).toBe(text)
    expect(page.hash(0)).toEqual(itemHash(item))
    expect(page.keyText(0, KEYS)).toBe(keyText(item, KEYS))
    expect(page.all()).toEqual([item])
  })

  it('gives a wire page’s items from their text, and its precomputed hashes and keys', () => {
    const items = [everyTypeItem('a'), prototypeNamesItem('b')]
    const wire = `{"Items":[${items.map((i) => JSON.stringify(i)).join(',')}],"Count":2}`
    const answer = readScanAnswer(wire, KEYS)
    expect(answer).toBeDefined()
    const page = PageItems.fromAnswer(answer!, KEYS)
    expect(page.length).toBe(2)
    for (let i = 0; i < 2; i++) {
      const item = items[i]!
      expect(page.text(i)).toBe(JSON.stringify(item))
      expect(canonicalItem(page.item(i))).toBe(canonicalItem(item))
      expect(page.hash(i)).toBe(answer!.hashes[i])
      expect(page.keyText(i, KEYS)).toBe(answer!.keyTexts![i])
      // Other key attributes than the page was read with: made from the item.
      expect(page.keyText(i, ['sk'])).toBe(keyText(item, ['sk']))
    }
    expect(page.item(1)).toBe(page.item(1))
    expect(Object.hasOwn(page.item(1), '__proto__')).toBe(true)
  })
})
