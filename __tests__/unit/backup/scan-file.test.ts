import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import {
  MAX_SCAN_MEMBERS,
  ScanFileSplitter,
  ScanFileSyntaxError,
  type ScanElement
} from '../../../src/backup/scan-file.js'

const SENTINEL = 'SENTINEL-VALUE-7c1'

/** Feeds `pieces` to a splitter; returns the elements and the splitter. */
function split(
  pieces: string[],
  caps: [number, number] = [1024 * 1024, 1024]
): { elements: ScanElement[]; splitter: ScanFileSplitter } {
  const splitter = new ScanFileSplitter(...caps)
  const elements: ScanElement[] = []
  for (const piece of pieces) {
    splitter.write(piece)
    elements.push(...splitter.take())
  }
  splitter.end()
  elements.push(...splitter.take())
  return { elements, splitter }
}

/** The error `split` throws. */
function failure(pieces: string[], caps?: [number, number]): Error {
  try {
    split(pieces, caps)
  } catch (error) {
    expect(error).toBeInstanceOf(ScanFileSyntaxError)
    return error as Error
  }
  throw new Error('expected the splitter to refuse')
}

function cutAt(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
  const out: string[] = []
  let from = 0
  for (const point of points) {
    out.push(text.slice(from, point))
    from = point
  }
  out.push(text.slice(from))
  return out
}

describe('scan-file.ts', () => {
  it('hands on each element of Items, compact, however the text is cut and indented', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }), { maxLength: 6 }),
        fc.jsonValue({ maxDepth: 2 }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (items, count, indent, cuts) => {
          const text = JSON.stringify(
            { ConsumedCapacity: count, Items: items, Count: items.length },
            null,
            indent
          )
          const { elements, splitter } = split(cutAt(text, cuts))
          expect(elements.map((e) => JSON.parse(e.text) as unknown)).toEqual(
            items.map((v) => JSON.parse(JSON.stringify(v)) as unknown)
          )
          expect(elements.map((e) => e.index)).toEqual(items.map((_, i) => i))
          for (const element of elements)
            expect(element.text).toBe(JSON.stringify(JSON.parse(element.text)))
          expect(splitter.itemsArrays).toBe(1)
          expect(splitter.members.map((m) => [m.name, JSON.parse(m.text) as unknown])).toEqual([
            ['ConsumedCapacity', JSON.parse(JSON.stringify(count))],
            ['Count', items.length]
          ])
        }
      )
    )
  })

  it('is not confused by brackets, quotes and backslashes inside strings', () => {
    const items = [{ a: { S: '}]{["\\"\\\\' } }, { b: { S: '\\' } }, { c: { S: '"' } }]
    const { elements } = split([JSON.stringify({ Items: items }, null, 2)])
    expect(elements.map((e) => JSON.parse(e.text) as unknown)).toEqual(items)
  })

  it('keeps strings as they are, spaces included, and names each element by its first line', () => {
    const text = '{\n  "Items": [\n    {"a":  {"S": " x  y "}},\n\n    {\n"b": {"N": "1"}}\n  ]\n}'
    const { elements } = split([text])
    expect(elements).toEqual([
      { text: '{"a":{"S":" x  y "}}', index: 0, line: 3 },
      { text: '{"b":{"N":"1"}}', index: 1, line: 5 }
    ])
  })

  it('does not join two words when it drops the space between them', () => {
    for (const bad of ['[1 2]', '[true false]', '{"a":- 1}', '[1 .5]', '[1e 5]']) {
      const { elements } = split([`{"Items":[${bad}]}`])
      expect(() => JSON.parse(elements[0]!.text) as unknown).toThrow()
    }
  })

  it('refuses an element over its cap, naming it and its line, not its text', () => {
    const error = failure(
      [`{"Items":[\n{"a":1},\n{"a":"${SENTINEL}${'x'.repeat(100)}"}]}`],
      [50, 50]
    )
    expect(error.message).toBe('line 3: Items[1] is longer than 50 bytes of JSON')
  })

  it('refuses a long element even when it comes in one piece, before it ends', () => {
    const splitter = new ScanFileSplitter(1000, 1000)
    expect(() => splitter.write(`{"Items":[{"a":"${'x'.repeat(5000)}`)).toThrow(
      /Items\[0\] is longer/
    )
  })

  it('refuses a member over its cap', () => {
    expect(failure([`{"Items":[],"Count":[${'1,'.repeat(100)}1]}`], [1000, 50]).message).toMatch(
      /top-level 'Count' is longer than 50 bytes/
    )
    expect(failure([`{"Items":[],"Other":"${'x'.repeat(100)}"}`], [1000, 50]).message).toMatch(
      /top-level a member is longer/
    )
  })

  it('refuses more top-level members than a scan has', () => {
    const members = Array.from({ length: MAX_SCAN_MEMBERS + 1 }, (_, i) => `"m${i}":0`)
    expect(failure([`{"Items":[],${members.join(',')}}`]).message).toMatch(/more than 64 members/)
  })

  it('reads member names with escapes, and refuses one given twice', () => {
    const { splitter } = split(['{"\\u0049tems":[{"a":1}],"C\\u006funt":1}'])
    expect(splitter.itemsArrays).toBe(1)
    expect(splitter.members).toEqual([{ name: 'Count', text: '1', line: 1 }])
    expect(failure(['{"Items":[],"x":1,"\\u0078":2}']).message).toMatch(
      /has a member more than once/
    )
  })

  it.each([
    ['a top-level array', '[]', /top level is not a JSON object/],
    ['a top-level string', `"${SENTINEL}"`, /top level is not a JSON object/],
    ['a missing colon', '{"Items" []}', /expected ':'/],
    ['a trailing comma', '{"Items":[],}', /expected the name/],
    ['a trailing comma in Items', '{"Items":[{"a":1},]}', /element of 'Items' is missing/],
    ['two elements without a comma', '{"Items":[{"a":1} {"a":2}]}', /expected ',' or ']'/],
    ['an empty value', '{"Items":[],"Count":}', /a value is missing/],
    ['something after the object', '{"Items":[]}x', /more after its top-level object/],
    ['an unquoted name', '{Items:[]}', /expected the name/],
    ['a cut-short name', '{"Ite', /ends before/],
    ['a name that is not a JSON string', '{"a\\x":1}', /not a valid JSON string/]
  ])('refuses %s in its own words', (_, text, why) => {
    const error = failure([text])
    expect(error.message).toMatch(why)
    expect(error.message).not.toContain(SENTINEL)
  })

  it('never throws anything but its own error, whatever the text (and never quotes it)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.jsonValue().map((v) => JSON.stringify({ Items: [v, SENTINEL] }, null, 1))
        ),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 5 }),
        (text, cut, cuts) => {
          const damaged = text.slice(0, cut % (text.length + 1))
          try {
            split(cutAt(damaged, cuts))
          } catch (error) {
            expect(error).toBeInstanceOf(ScanFileSyntaxError)
            expect((error as Error).message).not.toContain('SENTINEL')
          }
        }
      )
    )
  })
})
