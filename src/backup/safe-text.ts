/**
 * Text about a backup that is safe to put in a message: file names quoted with every control
 * or direction character escaped (a name with a newline could otherwise forge a workflow
 * command in the log), and read failures described in fixed words. A parser's or a stream's
 * own message may quote the bytes it choked on, which may be item data: it is never passed on.
 */

/** File names and keys longer than this are cut short in messages. */
export const NAME_IN_MESSAGE = 200

// C0 and C1 controls, DEL, zero-width and bidirectional marks, line and paragraph separators,
// the byte order mark, and lone surrogates.
/* eslint-disable no-control-regex */
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g
/* eslint-enable no-control-regex */

/** A file name or key in single quotes, escaped and cut to NAME_IN_MESSAGE characters. */
export function quoteName(name: string, max = NAME_IN_MESSAGE): string {
  let text = name
  let cut = false
  if (text.length > max) {
    text = text.slice(0, max)
    // Do not end on half a surrogate pair.
    if (/[\ud800-\udbff]$/.test(text)) text = text.slice(0, -1)
    cut = true
  }
  const escaped = text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  return `'${escaped}${cut ? '…' : ''}'`
}

/** 8 MiB, 64 KiB, 1,024 bytes: a size limit for messages. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`
  return `${String(bytes).replace(/\B(?=(\d{3})+(?!\d))/g, ',')} bytes`
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET'
])

/** An identifier-like error name (what SDK exception names look like). */
const SAFE_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,63}$/
/** What Node's and undici's error codes look like (`ENOSPC`, `ERR_STREAM_DESTROYED`). */
const SYSTEM_CODE = /^(?:E[A-Z0-9_]{1,30}|ERR_[A-Z0-9_]{1,60}|UND_ERR_[A-Z0-9_]{1,40})$/

function stringProperty(value: unknown, name: string): string | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const property = (value as Record<string, unknown>)[name]
  return typeof property === 'string' ? property : undefined
}

/**
 * Why a file of a backup could not be read, in fixed words chosen by the error's code or
 * name: zlib, TextDecoder, fs, network and S3 failures. Never the error's message.
 */
export function describeReadError(error: unknown): string {
  const code = stringProperty(error, 'code')
  const name = stringProperty(error, 'name')
  if (code !== undefined) {
    if (code === 'Z_DATA_ERROR') return 'it is not valid gzip data'
    if (code === 'Z_BUF_ERROR') return 'its gzip data ends early: the file is cut short'
    if (code.startsWith('Z_')) return 'its gzip data cannot be decompressed'
    if (code === 'ERR_ENCODING_INVALID_ENCODED_DATA') return 'it is not UTF-8 text'
    if (code === 'ENOENT') return 'it does not exist'
    if (code === 'EACCES' || code === 'EPERM') return 'permission to read it is denied'
    if (code === 'EISDIR') return 'it is a folder'
    if (code === 'ELOOP') return 'it is a loop of symbolic links'
    if (code === 'ECONNRESET') return 'the connection was reset (ECONNRESET)'
    if (NETWORK_CODES.has(code)) return `the connection failed (${code})`
    if (code === 'ERR_STREAM_PREMATURE_CLOSE') return 'the stream closed early'
    if (code === 'ABORT_ERR') return 'the read was aborted'
  }
  if (name !== undefined && SAFE_NAME.test(name) && name !== 'Error') {
    const metadata = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata
    if (metadata !== undefined) {
      const status = metadata.httpStatusCode
      return typeof status === 'number'
        ? `S3 answered ${name} (HTTP ${status})`
        : `S3 answered ${name}`
    }
    if (name === 'AbortError') return 'the read was aborted'
  }
  if (code !== undefined && SYSTEM_CODE.test(code)) return `the read failed (${code})`
  return 'the read failed'
}
