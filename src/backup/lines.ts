/**
 * Lines of a byte stream, found in linear time and with bounded memory: each chunk is
 * searched for newlines once, and a line's bytes are kept only until it ends or grows past a
 * cap. A small gzip file that inflates to one endless line is refused as soon as the line
 * passes the cap, not when the stream ends.
 */
import { formatBytes } from './safe-text.js'

/**
 * The longest line a data file may hold: 8 MiB, newline excluded.
 *
 * A line is `{"Item":…}`, one item as DynamoDB JSON. DynamoDB caps an item at 400 KB
 * (409,600 bytes counted its way), but its JSON text can be much longer than what DynamoDB
 * counts: a control character is 1 byte to DynamoDB and 6 in JSON (`\u0001`); a BOOL is 1
 * byte and `{"BOOL":false}` 14; a list element costs 1 byte and a `,`. Measured with
 * item-rules' itemSize, the worst items found (thousands of top-level attributes whose names
 * are three control characters, each `{"BOOL":false}`) take 8.5 times their size as JSON, so
 * about 3.5 MB at the limit; a list of `{"BOOL":false}` takes 7.5 times, a string of control
 * characters 6. 8 MiB leaves more than twice that, so no item DynamoDB stores is refused,
 * while the one line held in memory at a time stays small.
 */
export const MAX_ITEM_LINE_BYTES = 8 * 1024 * 1024

/** A line, or the whole input, longer than allowed. Names the line, never its text. */
export class LineLimitError extends Error {
  constructor(
    readonly lineNumber: number,
    readonly limit: number,
    readonly whole: boolean
  ) {
    super(
      whole
        ? `it is larger than ${formatBytes(limit)}`
        : `line ${lineNumber} is longer than ${formatBytes(limit)}`
    )
    this.name = 'LineLimitError'
  }
}

export interface LineOptions {
  /** The longest line, in bytes, newline excluded. */
  maxLineBytes: number
  /** The most bytes the whole input may hold (unlimited when absent). */
  maxTotalBytes?: number
}

const NEWLINE = 0x0a

/**
 * Calls `onLine` for every line of a byte stream (its bytes, without the newline) with its
 * 1-based number, in order, waiting for each call, so a slow consumer holds the stream back.
 * A final line without a newline is passed too; an empty final piece is not. As the last
 * stage of a `pipeline`, it lets an error of any earlier stage reject the pipeline.
 */
export function eachLine(
  onLine: (line: Buffer, lineNumber: number) => Promise<void> | void,
  options: LineOptions
) {
  const { maxLineBytes, maxTotalBytes = Number.POSITIVE_INFINITY } = options
  return async function (source: AsyncIterable<Buffer | string>): Promise<void> {
    let parts: Buffer[] = []
    let pending = 0
    let total = 0
    let lineNumber = 0
    const take = (piece: Buffer): Buffer => {
      const line = parts.length === 0 ? piece : Buffer.concat([...parts, piece])
      parts = []
      pending = 0
      return line
    }
    for await (const input of source) {
      const chunk = typeof input === 'string' ? Buffer.from(input, 'utf8') : input
      total += chunk.length
      if (total > maxTotalBytes) throw new LineLimitError(lineNumber + 1, maxTotalBytes, true)
      let start = 0
      for (let end = chunk.indexOf(NEWLINE, start); end >= 0; end = chunk.indexOf(NEWLINE, start)) {
        lineNumber++
        if (pending + end - start > maxLineBytes)
          throw new LineLimitError(lineNumber, maxLineBytes, false)
        await onLine(take(chunk.subarray(start, end)), lineNumber)
        start = end + 1
      }
      if (start < chunk.length) {
        pending += chunk.length - start
        if (pending > maxLineBytes) throw new LineLimitError(lineNumber + 1, maxLineBytes, false)
        parts.push(chunk.subarray(start))
      }
    }
    if (pending > 0) {
      lineNumber++
      await onLine(take(Buffer.alloc(0)), lineNumber)
    }
  }
}

// One decoder, fatal: bytes that are not UTF-8 are refused, never replaced by U+FFFD (which
// would change a value silently). ignoreBOM keeps a byte order mark as a character, so a line
// starting with one is not valid JSON rather than quietly accepted.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The text of a line, or undefined when its bytes are not UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/** Only JSON whitespace (or nothing). */
export function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false
  }
  return true
}
