import type { Item, WireValue } from '../src/types.js'

/** A value no log, summary or output may ever contain. */
export const SENTINEL = 'SENTINEL-VALUE-7f3a9c'

/** Binary as the wire carries it: the base64 text of the string's UTF-8 bytes. */
const bytes = (text: string): string => Buffer.from(text).toString('base64')

/**
 * One item with every attribute type DynamoDB has, deep nesting and edge values, in wire form
 * (DynamoDB JSON: numbers as strings, binary as base64 text).
 */
export function everyTypeItem(id: string): Item {
  const deep = (level: number): WireValue =>
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
    emptyBin: { B: '' },
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
      M: Object.fromEntries<WireValue>([
        ['__proto__', { N: '2' }],
        ['constructor', { S: 'c' }],
        ['toString', { L: [] }]
      ])
    }
  }
}

/** An item just under DynamoDB's 400 KB limit (name lengths count too; binary by its bytes). */
export function largeItem(id: string, kind: 'S' | 'B' = 'S'): Item {
  const size = 399 * 1024 - 200
  return kind === 'S'
    ? { pk: { S: id }, sk: { N: '2' }, payload: { S: 'x'.repeat(size) } }
    : { pk: { S: id }, sk: { N: '3' }, payload: { B: Buffer.alloc(size, 7).toString('base64') } }
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

/**
 * An item whose top-level attribute names are also names of Object.prototype's members, in
 * maps and lists too: the SDK's decoding, which copies maps by assignment, drops `__proto__`;
 * the wire form keeps it. Built with Object.fromEntries, never by assignment.
 */
export function prototypeNamesItem(id: string, index = 1): Item {
  const names = (level: string): [string, WireValue][] => [
    ['__proto__', { S: `${level} proto` }],
    ['constructor', { N: String(index) }],
    ['toString', { B: bytes(`${level}\u0000`) }],
    ['hasOwnProperty', { BOOL: true }]
  ]
  return Object.fromEntries<WireValue>([
    ['pk', { S: id }],
    ['sk', { N: String(index) }],
    ...names('top'),
    ['nested', { M: Object.fromEntries<WireValue>(names('nested')) }],
    ['list', { L: [{ M: Object.fromEntries<WireValue>(names('listed')) }] }]
  ])
}
