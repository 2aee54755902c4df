import { constants, type Stats } from 'node:fs'
import { createHash } from 'node:crypto'
import { open as openFile, readdir, realpath, stat, type FileHandle } from 'node:fs/promises'
import * as path from 'node:path'
import { Transform, pipeline as pipe, type Readable } from 'node:stream'
import { GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3'
import { errorName } from '../errors.js'
import { joinKey, s3Uri } from './s3.js'
import { formatBytes, quoteName } from './safe-text.js'

/**
 * Read access to a folder of backup files, on S3 or on disk. Paths are relative to the root,
 * with `/` between names. A backup is input from outside: every path is checked before it is
 * opened (no `..`, no absolute path, nothing that leaves `within`), small files are read
 * whole only up to a size cap, and a local store never follows a symbolic link out.
 */
export interface BackupStore {
  /** Where the root is, for messages and the report. */
  readonly location: string
  /** Where a path below the root is, for messages and the report. */
  locationOf(relative: string): string
  /** Every file below the root (a local store lists regular files and follows no link). */
  list(): Promise<string[]>
  /**
   * Opens a file for streaming. `within`, a folder below the root ('' for the root), is
   * where the file must really be: for a local store after resolving symbolic links.
   */
  open(relative: string, within?: string): Promise<Readable>
  /**
   * Opens a file as `open` does, pinned to one version of it: the first time a path is
   * opened its version (S3: the ETag; on disk: device, inode, size and modification time) is
   * recorded in `pins`; every later open must find that same version, or is refused. A backup
   * is read twice (checked whole before anything is written, then restored): the second read
   * is of exactly what the first one checked.
   */
  openPinned(relative: string, within: string, pins: Map<string, string>): Promise<Readable>
  /** Reads a small UTF-8 file whole; refuses one larger than `maxBytes`. */
  readText(relative: string, maxBytes: number, within?: string): Promise<string>
}

/**
 * A file the store will not open: a path that leaves the folder it must stay in, a link
 * pointing out, something that is not a regular file, a file over its size cap. The message
 * names the path (quoted and escaped), never the file's content.
 */
export class StoreRefusal extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StoreRefusal'
  }
}

/** A file that is not the version that was checked before anything was written. */
export function changedSinceChecked(relative: string): StoreRefusal {
  return new StoreRefusal(
    `${quoteName(relative)} changed after it was checked, so what would be restored is not what was checked`
  )
}

/** The SHA-256 of an open file's whole content (read from its start, without moving it). */
async function sha256Of(handle: FileHandle): Promise<string> {
  const hash = createHash('sha256')
  const buffer = Buffer.alloc(1024 * 1024)
  for (let position = 0; ;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position)
    if (bytesRead === 0) return hash.digest('hex')
    hash.update(buffer.subarray(0, bytesRead))
    position += bytesRead
  }
}

/** A local file's version: it changes when the file is replaced or written to. */
export function fileVersion(info: {
  dev: number
  ino: number
  size: number
  mtimeMs: number
}): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`
}

/** Longest relative path accepted (S3 keys are at most 1,024 bytes; local paths 4,096). */
const MAX_PATH_CHARS = 4096

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

/**
 * Refuses a relative path that is absolute, has an empty, `.` or `..` segment, a backslash
 * or a control character: so that joining it below a root can only land below that root.
 */
export function checkRelativePath(relative: string): void {
  const refuse = (why: string): never => {
    throw new StoreRefusal(`the path ${quoteName(relative)} ${why}`)
  }
  if (relative === '') refuse('is empty')
  if (relative.length > MAX_PATH_CHARS) refuse(`is longer than ${MAX_PATH_CHARS} characters`)
  if (relative.startsWith('/')) refuse('is absolute')
  if (relative.includes('\\')) refuse('holds a backslash')
  if (CONTROL.test(relative)) refuse('holds a control character')
  for (const segment of relative.split('/')) {
    if (segment === '' || segment === '.' || segment === '..')
      refuse("has an empty, '.' or '..' part")
  }
}

/** `within` ('' or a folder path) and `relative` below it, lexically. */
function checkWithin(relative: string, within: string | undefined): void {
  if (within === undefined || within === '') return
  checkRelativePath(within)
  if (!relative.startsWith(`${within}/`))
    throw new StoreRefusal(`the path ${quoteName(relative)} is outside ${quoteName(`${within}/`)}`)
}

/** Reads a stream to its end, refusing it once it passes `maxBytes`. */
async function readCapped(body: Readable, maxBytes: number, name: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
      size += bytes.length
      if (size > maxBytes) {
        throw new StoreRefusal(`${quoteName(name)} is larger than ${formatBytes(maxBytes)}`)
      }
      chunks.push(bytes)
    }
  } finally {
    body.destroy()
  }
  return Buffer.concat(chunks)
}

// Fatal: a manifest that is not UTF-8 is refused (TextDecoder's error has a code, no content).
const utf8 = new TextDecoder('utf-8', { fatal: true })

export class S3Store implements BackupStore {
  readonly location: string

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly prefix: string
  ) {
    this.location = s3Uri(bucket, prefix === '' ? '' : `${prefix}/`)
  }

  locationOf(relative: string): string {
    return s3Uri(this.bucket, joinKey(this.prefix, relative))
  }

  async list(): Promise<string[]> {
    const keys: string[] = []
    const prefix = this.prefix === '' ? '' : `${this.prefix}/`
    for await (const page of paginateListObjectsV2(
      { client: this.s3 },
      { Bucket: this.bucket, Prefix: prefix }
    )) {
      for (const object of page.Contents ?? [])
        if (object.Key) keys.push(object.Key.slice(prefix.length))
    }
    return keys
  }

  // S3 has no links: the lexical checks are all there is to do.
  private keyOf(relative: string, within: string | undefined): string {
    checkRelativePath(relative)
    checkWithin(relative, within)
    return joinKey(this.prefix, relative)
  }

  async open(relative: string, within?: string): Promise<Readable> {
    const key = this.keyOf(relative, within)
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
    return object.Body as Readable
  }

  async openPinned(relative: string, within: string, pins: Map<string, string>): Promise<Readable> {
    const key = this.keyOf(relative, within)
    const pinned = pins.get(relative)
    let object
    try {
      // IfMatch makes S3 itself refuse any other version of the object.
      object = await this.s3.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(pinned !== undefined ? { IfMatch: pinned } : {})
        })
      )
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata
        ?.httpStatusCode
      if (pinned !== undefined && (status === 412 || errorName(error) === 'PreconditionFailed'))
        throw changedSinceChecked(relative)
      throw error
    }
    if (pinned === undefined) {
      if (object.ETag === undefined) {
        ;(object.Body as Readable | undefined)?.destroy()
        throw new StoreRefusal(
          `S3 gave no ETag for ${quoteName(relative)}, so a restore could not be sure to write what was checked`
        )
      }
      pins.set(relative, object.ETag)
    }
    return object.Body as Readable
  }

  async readText(relative: string, maxBytes: number, within?: string): Promise<string> {
    const key = this.keyOf(relative, within)
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
    const body = object.Body as Readable | undefined
    if (body === undefined) return ''
    if (object.ContentLength !== undefined && object.ContentLength > maxBytes) {
      body.destroy()
      throw new StoreRefusal(`${quoteName(relative)} is larger than ${formatBytes(maxBytes)}`)
    }
    return utf8.decode(await readCapped(body, maxBytes, relative))
  }
}

/** True when `child` is strictly below `parent` (both absolute, resolved). */
function isBelow(parent: string, child: string): boolean {
  const relative = path.relative(parent, child)
  return (
    relative !== '' &&
    relative !== '..' &&
    !relative.startsWith(`..${path.sep}`) &&
    !path.isAbsolute(relative)
  )
}

// Opening the resolved path with O_NOFOLLOW means its last name cannot be swapped for a link
// between the check and the open; O_NONBLOCK means a FIFO planted there does not block the
// open (it is then refused as not a regular file). Both are 0 where the platform lacks them.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0)

export class LocalStore implements BackupStore {
  readonly location: string

  constructor(private readonly root: string) {
    this.location = root
  }

  locationOf(relative: string): string {
    return path.join(this.root, relative)
  }

  /**
   * Regular files below the root. Symbolic links are not followed, to folders or to files:
   * a link in a backup folder is never listed, so nothing outside the folder is found.
   */
  async list(): Promise<string[]> {
    const out: string[] = []
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name)
        // Dirent reports a link as a link (isDirectory and isFile are false for it).
        if (entry.isDirectory()) await walk(full)
        else if (entry.isFile()) out.push(path.relative(this.root, full).split(path.sep).join('/'))
      }
    }
    if ((await stat(this.root).catch(() => null))?.isDirectory()) await walk(this.root)
    return out
  }

  /**
   * The real path of a file that really is below `within`: the folder must be reached from
   * the root without any symbolic link, and the file, links resolved, must be inside it.
   */
  private async confined(
    relative: string,
    within: string | undefined
  ): Promise<{ real: string; ino: number; dev: number }> {
    checkRelativePath(relative)
    checkWithin(relative, within)
    const root = await realpath(this.root)
    let folder = root
    if (within !== undefined && within !== '') {
      const expected = path.join(root, ...within.split('/'))
      folder = await realpath(path.join(this.root, ...within.split('/')))
      if (folder !== expected) {
        throw new StoreRefusal(
          `the folder ${quoteName(within)} is reached through a symbolic link; links in a backup are not followed`
        )
      }
    }
    const real = await realpath(path.join(this.root, ...relative.split('/')))
    if (!isBelow(folder, real)) {
      throw new StoreRefusal(
        `${quoteName(relative)} is a symbolic link (or is reached through one) to a file outside ${quoteName(within === undefined || within === '' ? this.root : `${within}/`)}`
      )
    }
    const info = await stat(real)
    if (!info.isFile()) throw new StoreRefusal(`${quoteName(relative)} is not a regular file`)
    return { real, ino: info.ino, dev: info.dev }
  }

  /**
   * Opens a confined file and checks that the open handle is the file that was confined (not
   * one swapped in between); the caller owns the handle.
   */
  private async openConfined(
    relative: string,
    within?: string
  ): Promise<{ handle: FileHandle; info: Stats }> {
    const { real, ino, dev } = await this.confined(relative, within)
    const handle = await openFile(real, OPEN_FLAGS)
    try {
      const info = await handle.stat()
      if (!info.isFile() || info.ino !== ino || info.dev !== dev)
        throw new StoreRefusal(`${quoteName(relative)} changed while it was being opened`)
      return { handle, info }
    } catch (error) {
      await handle.close()
      throw error
    }
  }

  async open(relative: string, within?: string): Promise<Readable> {
    const { handle } = await this.openConfined(relative, within)
    return handle.createReadStream()
  }

  async openPinned(relative: string, within: string, pins: Map<string, string>): Promise<Readable> {
    const { handle, info } = await this.openConfined(relative, within)
    try {
      const version = fileVersion(info)
      const pinned = pins.get(relative)
      if (pinned === undefined) pins.set(relative, version)
      else if (pinned !== version) {
        // Touched, or rewritten with the same bytes, is no change: compare the content with
        // what the first read hashed, before any of it is handed on.
        const first = pins.get(`${relative}\0sha256`)
        if (first === undefined || (await sha256Of(handle)) !== first)
          throw changedSinceChecked(relative)
        pins.set(relative, version)
      }
      const stream = handle.createReadStream({ start: 0 })
      if (pins.has(`${relative}\0sha256`)) return stream
      // The first read hashes what it reads, for the comparison above.
      const hash = createHash('sha256')
      const hashed = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk)
          callback(null, chunk)
        },
        flush(callback) {
          pins.set(`${relative}\0sha256`, hash.digest('hex'))
          callback()
        }
      })
      // Errors travel on: a failed read fails the stream its reader holds.
      pipe(stream, hashed, () => undefined)
      return hashed
    } catch (error) {
      await handle.close()
      throw error
    }
  }

  async readText(relative: string, maxBytes: number, within?: string): Promise<string> {
    const body = await this.open(relative, within)
    return utf8.decode(await readCapped(body, maxBytes, relative))
  }
}
