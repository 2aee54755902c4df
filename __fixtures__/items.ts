import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import type { Item } from '../src/types.js'

/** A value no log, summary or output may ever contain. */
export const SENTINEL = 'SENTINEL-VALUE-7f3a9c'

const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text))

/** One item with every attribute type DynamoDB has, deep nesting and edge values. */
export function everyTypeItem(id: string): Item {
  const deep = (level: number): AttributeValue =>
    level === 0
      ? { S: 'bottom' }
      : {
          M: {
            level: { N: String(level) },
            next: deep(level - 1),
            list: { L: [{ N: '1' }, { S: '' }] }
          }
        }
  return {
    pk: { S: id },
    sk: { N: '1' },
    secret: { S: SENTINEL },
    empty: { S: '' },
    unicode: { S: 'Grüße, 世界 🎉 "quoted" \\ back\nslash' },
    bigInt: { N: '12345678901234567890123456789012345678' },
    bigNegative: {
      N: '-0.00000000000000000000000000000000000012345678901234567890123456789012345678'
    },
    tiny: { N: '1E-130' },
    huge: { N: '9.9999999999999999999999999999999999999E+125' },
    decimal: { N: '0.1000000000000000000001' },
    bin: { B: bytes('\u0000\u0001binary\u00ff') },
    emptyBin: { B: new Uint8Array(0) },
    yes: { BOOL: true },
    no: { BOOL: false },
    nothing: { NULL: true },
    strings: { SS: ['b', 'a', 'c', SENTINEL] },
    numbers: { NS: ['3', '1.5', '-2', '12345678901234567890123456789012345678'] },
    binaries: { BS: [bytes('x'), bytes('y'), bytes('\u0000')] },
    list: { L: [{ S: 'a' }, { N: '2' }, { NULL: true }, { L: [] }, { M: {} }, { BOOL: false }] },
    emptyMap: { M: {} },
    nested: deep(20),
    // Map keys that are also names of Object.prototype's own members: an object built by
    // assignment (`out[name] = ...`) would lose `__proto__` without a word.
    prototypeNames: {
      M: Object.fromEntries([
        ['__proto__', { N: '2' }],
        ['constructor', { S: 'c' }],
        ['toString', { L: [] }]
      ])
    }
  }
}

/** An item just under DynamoDB's 400 KB limit (name lengths count too). */
export function largeItem(id: string, kind: 'S' | 'B' = 'S'): Item {
  const size = 399 * 1024 - 200
  return kind === 'S'
    ? { pk: { S: id }, sk: { N: '2' }, payload: { S: 'x'.repeat(size) } }
    : { pk: { S: id }, sk: { N: '3' }, payload: { B: new Uint8Array(size).fill(7) } }
}

/** A plain item of roughly `size` bytes. */
export function sizedItem(id: string, index: number, size = 1000): Item {
  return {
    pk: { S: id },
    sk: { N: String(index) },
    name: { S: `item ${index}` },
    body: { S: 'v'.repeat(Math.max(0, size - 60)) },
    secret: { S: SENTINEL }
  }
}
