import { describe, expect, it } from '@jest/globals'
import { ContentDigest, canonicalItem, itemHash, normalizeNumber } from '../../src/verify/digest.js'
import { everyTypeItem, largeItem } from '../../__fixtures__/items.js'
import type { Item } from '../../src/types.js'

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
    expect(
      itemHash({ a: { B: new Uint8Array([1]) } }).equals(
        itemHash({ a: { B: new Uint8Array([2]) } })
      )
    ).toBe(false)
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
})
