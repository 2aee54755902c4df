import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { Readable } from 'node:stream'
import { LineLimitError, decodeUtf8, eachLine, isBlank } from '../../../src/backup/lines.js'

/** Every line eachLine finds in `chunks`, as text, with its number. */
async function linesOf(
  chunks: (Buffer | string)[],
  maxLineBytes = 1024,
  maxTotalBytes?: number
): Promise<[number, string][]> {
  const out: [number, string][] = []
  const options = maxTotalBytes === undefined ? { maxLineBytes } : { maxLineBytes, maxTotalBytes }
  await eachLine((line, n) => {
    out.push([n, line.toString('utf8')])
  }, options)(Readable.from(chunks))
  return out
}

/** Splits `bytes` at the given cut points. */
function cutAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let from = 0
  for (const point of points) {
    out.push(bytes.subarray(from, point))
    from = point
  }
  out.push(bytes.subarray(from))
  return out
}

describe('lines.ts', () => {
  describe('eachLine', () => {
    it('finds the same lines however the bytes are cut into chunks', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/\n/g, ' '))
          ),
          fc.boolean(),
          fc.array(fc.nat()),
          async (lines, finalNewline, cuts) => {
            const text = lines.join('\n') + (finalNewline && lines.length > 0 ? '\n' : '')
            const found = await linesOf(cutAt(Buffer.from(text), cuts))
            // A last empty piece (after the final newline, or of an empty input) is no line.
            const expected = text === '' ? [] : text.replace(/\n$/, '').split('\n')
            expect(found).toEqual(expected.map((line, i) => [i + 1, line]))
          }
        )
      )
    })

    it('passes empty lines in the middle and a last line without a newline', async () => {
      expect(await linesOf(['a\n\nb', 'c'])).toEqual([
        [1, 'a'],
        [2, ''],
        [3, 'bc']
      ])
    })

    it('accepts a line of exactly the cap and refuses one byte more, naming the line', async () => {
      expect(await linesOf(['ok\n', 'x'.repeat(16), '\n'], 16)).toHaveLength(2)
      await expect(linesOf(['ok\n', 'x'.repeat(10), 'x'.repeat(7), '\n'], 16)).rejects.toEqual(
        new LineLimitError(2, 16, false)
      )
      await expect(linesOf(['ok\n', `${'x'.repeat(17)}\nmore\n`], 16)).rejects.toMatchObject({
        message: 'line 2 is longer than 16 bytes'
      })
    })

    it('refuses an endless line once it passes the cap, without waiting for its end', async () => {
      let produced = 0
      const endless = Readable.from(
        (function* () {
          for (;;) {
            produced += 65536
            yield Buffer.alloc(65536, 'a')
          }
        })()
      )
      const limit = 1024 * 1024
      await expect(
        eachLine(() => undefined, { maxLineBytes: limit })(endless)
      ).rejects.toBeInstanceOf(LineLimitError)
      expect(produced).toBeLessThanOrEqual(limit + 2 * 65536)
    })

    it('refuses an input larger than its total cap', async () => {
      await expect(linesOf(['a\n', 'b\n', 'c\n'], 16, 5)).rejects.toMatchObject({
        whole: true,
        message: 'it is larger than 5 bytes'
      })
    })

    it('reads one 48 MiB line in linear time (each chunk is searched once)', async () => {
      const chunk = Buffer.alloc(65536, 'a')
      const chunks = Array.from({ length: 768 }, () => chunk)
      let length = 0
      const started = Date.now()
      await eachLine(
        (line) => {
          length = line.length
        },
        { maxLineBytes: 64 * 1024 * 1024 }
      )(Readable.from([...chunks, Buffer.from('\n')]))
      expect(length).toBe(48 * 1024 * 1024)
      // Rescanning the growing line for every chunk would take minutes.
      expect(Date.now() - started).toBeLessThan(20_000)
    })

    it('waits for each call before reading on', async () => {
      const order: string[] = []
      await eachLine(
        async (line) => {
          order.push(`start ${line.toString()}`)
          await new Promise((resolve) => setTimeout(resolve, 5))
          order.push(`end ${line.toString()}`)
        },
        { maxLineBytes: 10 }
      )(Readable.from(['a\nb\n']))
      expect(order).toEqual(['start a', 'end a', 'start b', 'end b'])
    })
  })

  describe('decodeUtf8', () => {
    it('refuses bytes that are not UTF-8 rather than replacing them', () => {
      expect(decodeUtf8(Buffer.from('é😀'))).toBe('é😀')
      expect(decodeUtf8(Buffer.from([0x61, 0xff]))).toBeUndefined()
      expect(decodeUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBeUndefined() // an encoded surrogate
    })

    it('keeps a byte order mark, so a line starting with one is not valid JSON', () => {
      const text = decodeUtf8(Buffer.from('\ufeff{}'))
      expect(text).toBe('\ufeff{}')
      expect(() => JSON.parse(text!) as unknown).toThrow()
    })
  })

  it('isBlank knows only JSON whitespace', () => {
    expect(isBlank(' \t\r\n')).toBe(true)
    expect(isBlank('')).toBe(true)
    expect(isBlank('\u00a0')).toBe(false)
  })
})
