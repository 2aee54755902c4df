import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { countJsonKeys, countParsedKeys } from '../../../src/dynamo/wire-count.js'
import { parseWireBody, WireIntegrityError } from '../../../src/dynamo/wire.js'

const SENTINEL = 'SENTINEL-VALUE-wire-5d2'

describe('wire-count.ts', () => {
  it('counts the keys of any JSON text as JSON.parse then holds them', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent)
        expect(countJsonKeys(text)).toBe(countParsedKeys(JSON.parse(text)))
      }),
      { numRuns: 500 }
    )
  })

  it('sees quotes, colons and backslashes inside strings as text, not structure', () => {
    const text = JSON.stringify({ 'a"b:': { S: 'x":{"y":1\\' }, 'c\\': { S: '\\"' } })
    expect(countJsonKeys(text)).toBe(4)
    expect(countParsedKeys(JSON.parse(text))).toBe(4)
  })

  it('counts an attribute named __proto__ on both sides', () => {
    const text = '{"Items":[{"__proto__":{"S":"x"},"m":{"M":{"__proto__":{"N":"1"}}}}]}'
    expect(countJsonKeys(text)).toBe(countParsedKeys(JSON.parse(text)))
  })

  it('finds a repeated attribute name that JSON.parse would merge', () => {
    const text = '{"Items":[{"pk":{"S":"a"},"x":{"S":"1"},"x":{"S":"2"}}]}'
    expect(countJsonKeys(text)).toBe(countParsedKeys(JSON.parse(text)) + 2)
  })
})

describe('wire.ts parseWireBody', () => {
  it('refuses an answer that repeats a name, without quoting it', () => {
    const text = `{"Items":[{"pk":{"S":"a"},"x":{"S":"${SENTINEL}"},"x":{"S":"${SENTINEL}"}}]}`
    expect(() => parseWireBody(text, 'Scan')).toThrow(WireIntegrityError)
    try {
      parseWireBody(text, 'Scan')
    } catch (error) {
      expect((error as Error).message).toMatch(/a name repeats/)
      expect((error as Error).message).not.toContain(SENTINEL)
    }
  })

  it('refuses text that is not JSON without quoting it', () => {
    const text = `{"Items":[{"pk":{"S":"${SENTINEL}"}`
    expect(() => parseWireBody(text, 'Scan')).toThrow('is not valid JSON')
    try {
      parseWireBody(text, 'Scan')
    } catch (error) {
      expect((error as Error).message).not.toContain(SENTINEL)
    }
  })

  it('returns an answer with __proto__ attributes as own properties', () => {
    const body = parseWireBody('{"Items":[{"__proto__":{"S":"kept"}}]}', 'Scan') as {
      Items: Record<string, unknown>[]
    }
    const item = body.Items[0] as Record<string, unknown>
    expect(Object.keys(item)).toEqual(['__proto__'])
    expect(Object.getPrototypeOf(item)).toBe(Object.prototype)
    expect(JSON.stringify(item)).toBe('{"__proto__":{"S":"kept"}}')
  })

  it('refuses an answer holding a lone surrogate, but not a pair written as escapes', () => {
    expect(() => parseWireBody('{"Items":[{"pk":{"S":"a\\ud800"}}]}', 'Scan')).toThrow(
      /lone UTF-16 surrogate/
    )
    expect(() => parseWireBody('{"Items":[{"a\\udc00":{"S":"x"}}]}', 'Scan')).toThrow(
      /lone UTF-16 surrogate/
    )
    const pair = parseWireBody('{"Items":[{"pk":{"S":"\\ud83d\\ude00"}}]}', 'Scan') as {
      Items: { pk: { S: string } }[]
    }
    expect(pair.Items[0]?.pk.S).toBe('😀')
  })

  it('marks its errors retryable, as a dropped connection is', () => {
    expect(new WireIntegrityError('x').$retryable).toEqual({ throttling: false })
  })
})
