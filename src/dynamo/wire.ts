import { crc32 } from 'node:zlib'
import type { Readable } from 'node:stream'
import type {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DynamoDBClient,
  ScanCommand
} from '@aws-sdk/client-dynamodb'
import { ActionError } from '../errors.js'
import { countJsonKeys, countParsedKeys } from './wire-count.js'

/**
 * The item-bearing DynamoDB calls (Scan, BatchWriteItem, BatchGetItem) travel as the wire
 * carries them. The SDK signs, routes, times out and retries the call as usual, but its
 * body is the JSON text we wrote and its answer is the JSON text DynamoDB sent, parsed once
 * by JSON.parse and never converted: the SDK's own decoding copies maps by assignment and
 * loses an attribute named `__proto__`, and its encoding does the same on the way out.
 *
 * Every answer is also counted as the wire carried it: the object keys in the text, by a
 * scan that shares nothing with JSON.parse, must equal the keys in the parsed value, and a
 * CRC32 that DynamoDB sends must match the bytes. Either failing is retried like a dropped
 * connection; it never reaches the items.
 */

/**
 * A member of an answer's map keyed by table name, never one inherited from Object.prototype
 * (a table may be named `constructor` or `__proto__`).
 */
export function ownEntry<T>(map: Record<string, T> | undefined, name: string): T | undefined {
  return map !== undefined && Object.hasOwn(map, name) ? map[name] : undefined
}

const EMPTY_BODY = new Uint8Array(Buffer.from('{}'))

/** A JSON escape of a surrogate half (`\ud800`-`\udfff`): only then is a full look needed. */
const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/
/** In Unicode mode a surrogate pair is one code point: this finds only the lone halves. */
const LONE_SURROGATE = /\p{Surrogate}/u

function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value)
  if (value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) return value.some(hasLoneSurrogate)
  for (const name of Object.keys(value)) {
    if (LONE_SURROGATE.test(name) || hasLoneSurrogate((value as Record<string, unknown>)[name]))
      return true
  }
  return false
}

/** Thrown when an answer is not what the wire carried; retryable (`$retryable`). */
export class WireIntegrityError extends Error {
  readonly $retryable = { throttling: false }
  constructor(message: string) {
    super(message)
    this.name = 'WireIntegrityError'
  }
}

/** An answer's text and the CRC32 of its bytes. */
interface CollectedBody {
  text: string
  crc: number
  bytes: number
}

/**
 * Reads an answer's body into its text. The chunks stay as the socket gave them (outside the
 * JS heap, so an answer still arriving does not add to the live heap that sets V8's next GC
 * limit), checksummed as they come; they are joined only when a call has more than one, in a
 * buffer that dies before the text is parsed.
 */
async function collect(body: unknown): Promise<CollectedBody> {
  if (body instanceof Uint8Array) {
    const bytes = Buffer.from(body.buffer, body.byteOffset, body.length)
    return { text: bytes.toString('utf8'), crc: crc32(bytes), bytes: bytes.length }
  }
  const chunks: Buffer[] = []
  let crc = 0
  let length = 0
  for await (const chunk of body as Readable) {
    crc = crc32(chunk as Buffer, crc)
    length += (chunk as Buffer).length
    chunks.push(chunk as Buffer)
  }
  const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))?.toString('utf8') ?? ''
  chunks.length = 0
  return { text, crc, bytes: length }
}

interface HttpLike {
  headers: Record<string, string | undefined>
  body?: unknown
}
interface HttpResponseLike extends HttpLike {
  statusCode: number
}

/** Parses an answer's text and proves nothing was merged or dropped on the way. */
export function parseWireBody(text: string, operation: string): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // The parser's message quotes the text around the fault, which holds item values.
    throw new WireIntegrityError(`DynamoDB's answer to ${operation} is not valid JSON`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new WireIntegrityError(`DynamoDB's answer to ${operation} is not a JSON object`)
  if (LONE_SURROGATE_ESCAPE.test(text) && hasLoneSurrogate(parsed)) {
    // DynamoDB stores text as UTF-8, which cannot hold half a surrogate pair; an endpoint that
    // answers with one (DynamoDB Local stores them as sent, and merges keys that differ only
    // there) holds text that cannot be copied or restored exactly. Final, not retried.
    throw new ActionError(
      'wire.loneSurrogate',
      `DynamoDB's answer to ${operation} holds text with a lone UTF-16 surrogate (half of a character), which DynamoDB cannot store unchanged: the items cannot be copied or backed up exactly. Fix the text in the source first.`
    )
  }
  const carried = countJsonKeys(text)
  const decoded = countParsedKeys(parsed)
  if (carried !== decoded) {
    throw new WireIntegrityError(
      `DynamoDB's answer to ${operation} carried ${carried} attribute names but decodes to ${decoded}: a name repeats, so an attribute would be lost`
    )
  }
  return parsed as Record<string, unknown>
}

/**
 * Sends `command`, whose input is the wire request itself, and returns the answer as the
 * wire carried it. The SDK's serializer sees only `routing` (what names the table for
 * endpoint rules); the body sent is `body`, the exact JSON of the request as text or as its
 * UTF-8 bytes (by default JSON.stringify of the input). `received` learns the size in bytes of the answer it returns.
 * `read`, when given, is tried on the answer's text first (a reader that builds no objects);
 * where it returns undefined the general path (`parseWireBody`) reads it, inside the SDK's
 * retry loop either way. Under a client mock (no HTTP) the mock sees the whole input and its answer is taken as the
 * wire answer.
 */
export async function sendWire<T>(
  client: DynamoDBClient,
  command: ScanCommand | BatchWriteItemCommand | BatchGetItemCommand,
  routing: object,
  body: string | Buffer = JSON.stringify(command.input),
  received?: (bytes: number) => void,
  read?: (text: string) => object | undefined
): Promise<T> {
  const operation = (command.constructor as { name?: string }).name?.replace(/Command$/, '') ?? ''
  let parsed: Record<string, unknown> | undefined
  const stack = (command as ScanCommand).middlewareStack
  stack.add((next) => (args) => next({ ...args, input: routing as typeof args.input }), {
    step: 'initialize',
    priority: 'low',
    name: 'wireRouting'
  })
  stack.add(
    (next) => async (args) => {
      const request = args.request as HttpLike | undefined
      if (request && typeof request === 'object' && 'headers' in request) {
        request.body = body
        request.headers['content-length'] = String(
          typeof body === 'string' ? Buffer.byteLength(body) : body.length
        )
      }
      return next(args)
    },
    { step: 'serialize', priority: 'low', name: 'wireRequestBody' }
  )
  stack.add(
    (next) => async (args) => {
      const result = await next(args)
      const response = result.response as HttpResponseLike
      if (response.statusCode >= 200 && response.statusCode < 300) {
        const { text, crc, bytes } = await collect(response.body)
        const expected = response.headers['x-amz-crc32']
        if (expected !== undefined && String(crc) !== expected) {
          throw new WireIntegrityError(
            `DynamoDB's answer to ${operation} does not match its CRC32 checksum`
          )
        }
        // Inside the SDK's retry loop: an answer that fails the count is asked for again.
        parsed =
          (read?.(text) as Record<string, unknown> | undefined) ?? parseWireBody(text, operation)
        received?.(bytes)
        // The SDK's decoder still runs, on an empty object: its result is not used.
        response.body = EMPTY_BODY
      }
      return result
    },
    { step: 'deserialize', priority: 'low', name: 'wireResponseBody' }
  )
  const output = (await client.send(command as ScanCommand)) as unknown
  return (parsed ?? output) as T
}
