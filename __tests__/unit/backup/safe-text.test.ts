import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { describeReadError, formatBytes, quoteName } from '../../../src/backup/safe-text.js'

const SENTINEL = 'SENTINEL-VALUE-7c1'

describe('safe-text.ts', () => {
  describe('quoteName', () => {
    it('escapes control, direction and separator characters', () => {
      expect(quoteName('a\n::error::b')).toBe("'a\\u000a::error::b'")
      expect(quoteName('x\u202ey\u2028z\ufeff\u0085')).toBe("'x\\u202ey\\u2028z\\ufeff\\u0085'")
      expect(quoteName('lone \ud800 high')).toBe("'lone \\ud800 high'")
      expect(quoteName('pair 😀')).toBe("'pair 😀'")
    })

    it('cuts long names short, never inside a surrogate pair', () => {
      expect(quoteName('a'.repeat(300))).toBe(`'${'a'.repeat(200)}…'`)
      expect(quoteName(`${'a'.repeat(199)}😀`)).toBe(`'${'a'.repeat(199)}…'`)
    })

    it('never lets a line break or control character through', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary' }), (name) => {
          // eslint-disable-next-line no-control-regex
          expect(quoteName(name)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/)
          expect(quoteName(name).length).toBeLessThanOrEqual(200 * 6 + 3)
        })
      )
    })
  })

  describe('describeReadError', () => {
    it.each([
      [{ code: 'Z_DATA_ERROR' }, 'it is not valid gzip data'],
      [{ code: 'Z_BUF_ERROR' }, 'its gzip data ends early: the file is cut short'],
      [{ code: 'ERR_ENCODING_INVALID_ENCODED_DATA' }, 'it is not UTF-8 text'],
      [{ code: 'ENOENT' }, 'it does not exist'],
      [{ code: 'ECONNRESET' }, 'the connection was reset (ECONNRESET)'],
      [{ code: 'ETIMEDOUT' }, 'the connection failed (ETIMEDOUT)'],
      [
        { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } },
        'S3 answered NoSuchKey (HTTP 404)'
      ],
      [{ code: 'ESOMETHING' }, 'the read failed (ESOMETHING)'],
      [{}, 'the read failed']
    ])('describes %j in fixed words', (fields, expected) => {
      const error = Object.assign(new Error(`${SENTINEL} in the message`), fields)
      expect(describeReadError(error)).toBe(expected)
    })

    it('never passes on a message, a name or a code that could carry content', () => {
      fc.assert(
        fc.property(fc.string(), fc.string(), fc.string(), (message, name, code) => {
          const error = Object.assign(new Error(`${SENTINEL}${message}`), {
            name: `${SENTINEL}${name}`,
            code: `${SENTINEL}${code}`
          })
          expect(describeReadError(error)).not.toContain('SENTINEL')
          expect(describeReadError(`${SENTINEL}${message}`)).not.toContain('SENTINEL')
        })
      )
    })
  })

  it('formats sizes for messages', () => {
    expect(formatBytes(8 * 1024 * 1024)).toBe('8 MiB')
    expect(formatBytes(64 * 1024)).toBe('64 KiB')
    expect(formatBytes(1000)).toBe('1,000 bytes')
  })
})
