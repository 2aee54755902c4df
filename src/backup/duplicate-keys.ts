/**
 * Finds primary keys that occur more than once in a backup, so that restore can refuse before
 * it writes anything, with memory that does not grow with the table.
 *
 * How: every key's canonical text is hashed (SHA-256) and a fixed-size record, the first 16
 * bytes of the hash and the key's ordinal, is appended to one of `buckets` scratch files,
 * chosen by the hash (hash partitioning: equal keys always land in the same file). The
 * described key (`pk="a", sk=3`, cut to 250 bytes) goes to a separate names file, in ordinal
 * order, deflated in chunks; it is read back only for the few keys the report names.
 * `finish()` then checks the buckets one at a time: a bucket that fits the memory budget is
 * read whole and counted with an open-addressing table of record indexes; a larger one is
 * split 16 ways by further bits of the hash, and the parts are checked the same way.
 *
 * Why 16 bytes of the hash: equal keys always have equal hashes, so cutting the hash can never
 * hide a duplicate; it can only make two different keys look alike, which refuses a good
 * backup (fails closed). With n keys that happens with probability about n² / 2^129, 1e-19 for
 * ten billion keys, and forging such a pair takes about 2^64 SHA-256 evaluations, to achieve
 * what a planted real duplicate achieves anyway. The full 32 bytes would double the scratch
 * disk for no gain in safety.
 *
 * Memory (`memoryBudgetBytes`, B, default 64 MiB; never proportional to the number of keys):
 * - while adding: one write buffer per bucket, min(B / 2 / buckets, 32 KiB) each but at least
 *   one record (22 bytes), plus a names buffer of min(B / 8, 256 KiB) (at least 1 KiB), plus
 *   the buffers being written: `add()` lets writes run in the background until more than B / 4
 *   is in flight, then resolves only when its own write is done (so a caller that awaits it
 *   never has more than B / 4 plus two buffers in flight);
 * - while checking: a bucket of n records is loaded only when n × 22 bytes plus its table
 *   (4 bytes × the power of two ≥ 2n, so at most 16n bytes) fit in B, so at most about B / 38
 *   keys are held at once (1.7 million at 64 MiB). A larger bucket is split with a read buffer
 *   of B / 2 and 16 write buffers of B / 32.
 * Each split level uses 4 more bits of the hash; after 16 levels (96 bits in all, with the 32
 * bits of the top-level bucket) the check refuses rather than exceed the budget: only a
 * crafted backup can get there. A part whose records all have the same hash (one key repeated
 * many times) is counted while it is split, without another level.
 *
 * Disk: 22 bytes per key in the buckets, plus the deflated names (a third of their text, as a
 * rule), plus, while a bucket is split, room for one more copy of that bucket.
 *
 * Counting: `duplicates` is the number of extra occurrences, keys minus distinct keys: a key
 * seen three times adds 2. `examples` names the first five repeating keys in the order of
 * their first occurrence, with the description given for that first occurrence.
 *
 * The key text is hashed as UTF-8, so two texts that differ only in unpaired surrogates (which
 * DynamoDB would never store) count as one key: again the safe direction.
 */
import crypto from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import { mkdir, mkdtemp, open, readFile, rm, rmdir, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { ActionError, errorMessage } from '../errors.js'

/** What `finish()` reports. */
export interface DuplicateKeyReport {
  /** Keys added. */
  keys: number
  /** Extra occurrences: keys minus distinct keys (a key seen three times counts 2). */
  duplicates: number
  /** The first five repeating keys, in order of first occurrence, as described when added. */
  examples: string[]
}

export interface DuplicateKeyFinderOptions {
  /** Scratch directory; created when missing (and then removed again by `close()`). */
  dir: string
  /** Number of top-level bucket files (1 to 4096, default 256). */
  buckets?: number
  /** Memory the finder may use, in bytes (1 KiB to 1 GiB, default 64 MiB). */
  memoryBudgetBytes?: number
}

/** Bytes of the SHA-256 hash kept per key. */
export const HASH_BYTES = 16
const ORDINAL_BYTES = 6
/** One record in a bucket file: hash, then the key's ordinal (little-endian, 48 bits). */
export const RECORD_BYTES = HASH_BYTES + ORDINAL_BYTES
/** Longest description kept, in bytes of UTF-8 (it is cut at a character boundary). */
export const MAX_DESCRIBED_BYTES = 250
const TRUNCATION_MARK = '…'
const TRUNCATION_MARK_BYTES = Buffer.byteLength(TRUNCATION_MARK)

export const DEFAULT_BUCKETS = 256
const MAX_BUCKETS = 4096
export const DEFAULT_MEMORY_BUDGET_BYTES = 64 * 1024 * 1024
const MIN_MEMORY_BUDGET_BYTES = 1024
const MAX_MEMORY_BUDGET_BYTES = 1024 * 1024 * 1024
const MAX_BUCKET_BUFFER_BYTES = 32 * 1024
const MIN_NAMES_BUFFER_BYTES = 1024
const MAX_NAMES_BUFFER_BYTES = 256 * 1024
/** Ordinals are stored in 48 bits. */
const MAX_KEYS = 2 ** 48
const EXAMPLE_COUNT = 5

// Which bits of the hash do what: bytes 0-3 pick the top-level bucket, the nibbles of bytes
// 4-11 the part at each split level, bytes 12-15 the slot in the in-memory table.
const SPLIT_FANOUT = 16
const FIRST_SPLIT_BYTE = 4
const MAX_SPLIT_LEVELS = 16
const SLOT_BYTE = 12

/** Deflated chunk of names: u32 compressed length, u32 number of names, then the data. */
const NAMES_HEADER_BYTES = 8

const deflateRaw = promisify(zlib.deflateRaw)
const RESOLVED: Promise<void> = Promise.resolve()

// crypto.hash (Node 20.12+) is about twice as fast as createHash for short texts.
const sha256: (text: string) => Buffer =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'buffer')
    : (text) => crypto.createHash('sha256').update(text, 'utf8').digest()

const REASONS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EFBIG: 'a file grew larger than the file system allows',
  EACCES: 'permission was denied',
  EPERM: 'the operation was not permitted',
  EROFS: 'the file system is read-only',
  ENOENT: 'a file or directory was missing (removed while the check ran?)',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'a directory stood where a file was expected',
  EMFILE: 'too many files are open in this process',
  ENFILE: 'too many files are open on this machine',
  EIO: 'the disk reported an input/output error'
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    if (typeof error.code === 'string') return error.code
  }
  return ''
}

/** A plain-language error for an I/O failure in the scratch directory. */
function scratchError(dir: string, action: string, error: unknown): ActionError {
  if (error instanceof ActionError) return error
  const code = errorCode(error)
  const reason =
    REASONS[code] ?? (code ? 'an unexpected input/output error occurred' : errorMessage(error))
  return new ActionError(
    'duplicateKeys.scratchIo',
    `Could not ${action} the duplicate-key check's scratch files in '${dir}': ${reason}` +
      `${code ? ` (${code})` : ''}. The check needs a writable directory with about ` +
      `${RECORD_BYTES + 10} bytes of free disk per key; free some space or choose another ` +
      'scratch directory, then run again.',
    { cause: error }
  )
}

function corruptError(dir: string, detail: string): ActionError {
  return new ActionError(
    'duplicateKeys.scratchCorrupt',
    `The duplicate-key check's scratch files in '${dir}' changed while it ran (${detail}). ` +
      'Make sure nothing else writes to that directory, then run again.'
  )
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be a whole number from ${min} to ${max}, not ${value}.`)
  }
  return value
}

function roundDownToRecords(bytes: number): number {
  return Math.max(RECORD_BYTES, Math.floor(bytes / RECORD_BYTES) * RECORD_BYTES)
}

/** Slots in the in-memory table for n records: the power of two ≥ 2n (load ≤ 1/2). */
function tableSlots(records: number): number {
  let slots = 2
  while (slots < 2 * records) slots *= 2
  return slots
}

/** Bytes needed to check a bucket of n records in memory: the records and the table. */
export function inMemoryCheckBytes(records: number): number {
  return records * RECORD_BYTES + tableSlots(records) * Int32Array.BYTES_PER_ELEMENT
}

function readOrdinal(buffer: Buffer, recordOffset: number): number {
  return buffer.readUIntLE(recordOffset + HASH_BYTES, ORDINAL_BYTES)
}

/** The part (0-15) a record goes to at split level 1..16. */
function splitPart(buffer: Buffer, recordOffset: number, level: number): number {
  const byte = buffer[recordOffset + FIRST_SPLIT_BYTE + ((level - 1) >> 1)] ?? 0
  return (level - 1) % 2 === 0 ? byte >> 4 : byte & 0x0f
}

/** Duplicates found so far, and the ordinals of the first occurrences of repeating keys. */
interface Tally {
  duplicates: number
  /** Smallest first-occurrence ordinals seen, ascending, at most EXAMPLE_COUNT. */
  examples: number[]
}

function offerExample(tally: Tally, ordinal: number): void {
  const examples = tally.examples
  if (examples.length === EXAMPLE_COUNT && ordinal >= (examples[EXAMPLE_COUNT - 1] ?? 0)) return
  let at = examples.length
  while (at > 0 && (examples[at - 1] ?? 0) > ordinal) at--
  examples.splice(at, 0, ordinal)
  if (examples.length > EXAMPLE_COUNT) examples.pop()
}

/**
 * Counts the duplicates among n records held in memory. The table holds record index + 1,
 * negated once the key is known to repeat; it keeps the record with the smallest ordinal, so
 * the result does not depend on the order of the records.
 */
function tallyRecords(records: Buffer, count: number, tally: Tally): void {
  const slots = tableSlots(count)
  const mask = slots - 1
  const table = new Int32Array(slots)
  for (let index = 0; index < count; index++) {
    const offset = index * RECORD_BYTES
    let slot = records.readUInt32LE(offset + SLOT_BYTE) & mask
    for (;;) {
      const entry = table[slot] ?? 0
      if (entry === 0) {
        table[slot] = index + 1
        break
      }
      const other = Math.abs(entry) - 1
      const otherOffset = other * RECORD_BYTES
      const same =
        records.compare(
          records,
          otherOffset,
          otherOffset + HASH_BYTES,
          offset,
          offset + HASH_BYTES
        ) === 0
      if (same) {
        tally.duplicates++
        const keep =
          readOrdinal(records, offset) < readOrdinal(records, otherOffset) ? index : other
        table[slot] = -(keep + 1)
        break
      }
      slot = (slot + 1) & mask
    }
  }
  for (const entry of table) {
    if (entry < 0) offerExample(tally, readOrdinal(records, (-entry - 1) * RECORD_BYTES))
  }
}

/** Writes all of `length` bytes of `buffer` (a regular file may take fewer per call). */
async function writeAll(handle: FileHandle, buffer: Buffer, length: number): Promise<void> {
  let written = 0
  while (written < length) {
    const { bytesWritten } = await handle.write(buffer, written, length - written)
    if (bytesWritten <= 0) throw new Error('the file system accepted no bytes')
    written += bytesWritten
  }
}

/** Reads until `buffer` is full or the file ends; returns the bytes read. */
async function readUpTo(handle: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let filled = 0
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(
      buffer,
      filled,
      buffer.length - filled,
      position + filled
    )
    if (bytesRead === 0) break
    filled += bytesRead
  }
  return filled
}

/**
 * A file written by a queue of appends, in order, one at a time. After a failure it writes
 * nothing more and every later append and `close()` rejects with that failure.
 */
class AppendFile {
  /** The file's path, known once the scratch directory exists. */
  path: string | undefined
  private handle: FileHandle | undefined
  private tail: Promise<void> = RESOLVED
  private failure: Error | undefined

  constructor(
    private readonly name: string,
    private readonly ready: () => Promise<string>,
    private readonly wrap: (error: unknown) => Error
  ) {}

  /** Queues the data that `produce` returns; resolves when it is written. */
  append(produce: () => Buffer | Promise<Buffer>): Promise<void> {
    const next = this.tail.then(async () => {
      if (this.failure) throw this.failure
      try {
        this.path ??= path.join(await this.ready(), this.name)
        const data = await produce()
        this.handle ??= await open(this.path, 'w')
        await writeAll(this.handle, data, data.length)
      } catch (error) {
        this.failure = this.wrap(error)
        throw this.failure
      }
    })
    this.tail = next.catch(() => undefined)
    return next
  }

  /** Waits for the queued appends, then closes the file; rejects if any append failed. */
  async close(): Promise<void> {
    await this.tail
    const handle = this.handle
    this.handle = undefined
    if (handle) {
      try {
        await handle.close()
      } catch (error) {
        this.failure ??= this.wrap(error)
      }
    }
    if (this.failure) throw this.failure
  }
}

type State = 'open' | 'finishing' | 'finished' | 'closed'

/**
 * Counts and names the keys that occur more than once, in scratch files under `dir`. Call
 * `add()` for every key and await it (it makes the caller wait when too much is being
 * written, which keeps memory bounded), then `finish()` once, then `close()`, also after a
 * failure.
 */
export class DuplicateKeyFinder {
  readonly dir: string
  private readonly bucketCount: number
  private readonly budget: number
  private readonly bucketBufferBytes: number
  private readonly namesBufferBytes: number

  private scratch: string | undefined
  private createdTop: string | undefined
  private initialising: Promise<string> | undefined
  private readonly buffers: (Buffer | undefined)[]
  private readonly fills: number[]
  private readonly files: (AppendFile | undefined)[]
  private names: Buffer | undefined
  private namesFill = 0
  private namesInChunk = 0
  private namesFile: AppendFile | undefined
  private count = 0
  private inFlightBytes = 0
  private readonly inFlightLimit: number
  private state: State = 'open'
  private failure: Error | undefined
  private closing: Promise<void> | undefined

  constructor(options: DuplicateKeyFinderOptions) {
    if (!options.dir) throw new RangeError('The duplicate-key check needs a scratch directory.')
    this.dir = path.resolve(options.dir)
    this.bucketCount = checkInteger('buckets', options.buckets ?? DEFAULT_BUCKETS, 1, MAX_BUCKETS)
    this.budget = checkInteger(
      'memoryBudgetBytes',
      options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES,
      MIN_MEMORY_BUDGET_BYTES,
      MAX_MEMORY_BUDGET_BYTES
    )
    this.bucketBufferBytes = roundDownToRecords(
      Math.min(MAX_BUCKET_BUFFER_BYTES, this.budget / 2 / this.bucketCount)
    )
    this.namesBufferBytes = Math.max(
      MIN_NAMES_BUFFER_BYTES,
      Math.min(MAX_NAMES_BUFFER_BYTES, Math.floor(this.budget / 8))
    )
    this.inFlightLimit = Math.floor(this.budget / 4)
    this.buffers = new Array<Buffer | undefined>(this.bucketCount).fill(undefined)
    this.fills = new Array<number>(this.bucketCount).fill(0)
    this.files = new Array<AppendFile | undefined>(this.bucketCount).fill(undefined)
  }

  /**
   * Records one key. `keyText` must be canonical (equal keys, equal texts); `describedKey`
   * names it in the report (cut to 250 bytes). Resolves at once, unless more than a quarter
   * of the memory budget is being written, then when this call's write is done. Rejects,
   * with a plain-language error, once a write has failed.
   */
  add(keyText: string, describedKey: string): Promise<void> {
    if (this.state !== 'open') {
      return Promise.reject(
        new Error('DuplicateKeyFinder.add() was called after finish() or close().')
      )
    }
    if (this.failure) return Promise.reject(this.failure)
    const ordinal = this.count
    if (ordinal >= MAX_KEYS) {
      return Promise.reject(
        new ActionError(
          'duplicateKeys.tooManyKeys',
          `The duplicate-key check holds at most ${MAX_KEYS} keys; this backup has more.`
        )
      )
    }
    this.count = ordinal + 1

    const digest = sha256(keyText)
    const bucket = digest.readUInt32BE(0) % this.bucketCount
    let buffer = this.buffers[bucket]
    if (!buffer) {
      buffer = Buffer.allocUnsafe(this.bucketBufferBytes)
      this.buffers[bucket] = buffer
    }
    const fill = this.fills[bucket] ?? 0
    // A plain loop: Buffer#copy costs about three times as much for 16 bytes.
    for (let byte = 0; byte < HASH_BYTES; byte++) buffer[fill + byte] = digest[byte] ?? 0
    buffer.writeUIntLE(ordinal, fill + HASH_BYTES, ORDINAL_BYTES)
    this.fills[bucket] = fill + RECORD_BYTES

    const bucketWrite = fill + RECORD_BYTES === buffer.length ? this.flushBucket(bucket) : undefined
    const namesWrite = this.writeName(describedKey) ? this.flushNames() : undefined
    // Writes run in the background (their failures are kept for the next call) until too
    // much is in flight; then the caller waits for this call's writes.
    if (this.inFlightBytes <= this.inFlightLimit) return RESOLVED
    if (bucketWrite && namesWrite) return Promise.all([bucketWrite, namesWrite]).then(() => {})
    return bucketWrite ?? namesWrite ?? RESOLVED
  }

  /**
   * Writes out what is buffered, then checks every bucket, one at a time. Call it once.
   * Throws a plain-language error if the scratch files cannot be written or read.
   */
  async finish(): Promise<DuplicateKeyReport> {
    if (this.state !== 'open') {
      throw new Error('DuplicateKeyFinder.finish() was called twice, or after close().')
    }
    this.state = 'finishing'
    if (this.failure) throw this.failure
    if (this.count === 0) {
      this.state = 'finished'
      return { keys: 0, duplicates: 0, examples: [] }
    }

    const flushes: Promise<void>[] = []
    for (let bucket = 0; bucket < this.bucketCount; bucket++) {
      if ((this.fills[bucket] ?? 0) > 0) flushes.push(this.flushBucket(bucket))
    }
    if (this.namesInChunk > 0) flushes.push(this.flushNames())
    await Promise.allSettled(flushes)
    this.buffers.fill(undefined)
    this.names = undefined
    // close() rethrows the first failure of each file's queue.
    for (const file of [...this.files, this.namesFile]) await file?.close()

    const tally: Tally = { duplicates: 0, examples: [] }
    for (const file of this.files) {
      if (file?.path) await this.checkFile(file.path, 0, tally)
    }
    const examples = await this.readNames(tally.examples)
    this.state = 'finished'
    return { keys: this.count, duplicates: tally.duplicates, examples }
  }

  /**
   * Removes the scratch files, and the scratch directory if this finder created it. Safe to
   * call more than once and after a failure; waits for writes still in flight.
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce().catch((error: unknown) => {
      this.closing = undefined
      throw error
    })
    return this.closing
  }

  private async closeOnce(): Promise<void> {
    this.state = 'closed'
    await Promise.allSettled([
      ...this.files.map((file) => file?.close()),
      this.namesFile?.close(),
      this.initialising
    ])
    this.buffers.fill(undefined)
    this.names = undefined
    const scratch = this.scratch
    if (scratch) {
      await this.io('remove', () => rm(scratch, { recursive: true, force: true }))
      this.scratch = undefined
    }
    const createdTop = this.createdTop
    if (createdTop) {
      // Remove the directories mkdir created, deepest first, but only while they are empty.
      for (let dir = this.dir; ; dir = path.dirname(dir)) {
        try {
          await rmdir(dir)
        } catch (error) {
          const code = errorCode(error)
          if (code === 'ENOTEMPTY' || code === 'EEXIST') break
          if (code !== 'ENOENT') throw scratchError(this.dir, 'remove', error)
        }
        if (dir === createdTop || path.dirname(dir) === dir) break
      }
      this.createdTop = undefined
    }
  }

  /** Creates the scratch directory (once; the first failure is kept) and returns its path. */
  private ready(): Promise<string> {
    this.initialising ??= this.io('create', async () => {
      this.createdTop = await mkdir(this.dir, { recursive: true })
      this.scratch = await mkdtemp(path.join(this.dir, 'duplicate-keys-'))
      return this.scratch
    })
    return this.initialising
  }

  private async io<T>(action: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (error) {
      throw scratchError(this.dir, action, error)
    }
  }

  private appendFile(name: string): AppendFile {
    return new AppendFile(
      name,
      () => this.ready(),
      (error) => scratchError(this.dir, 'write', error)
    )
  }

  /** Counts a write as in flight until it settles, and keeps its failure for later calls. */
  private track(bytes: number, write: Promise<void>): Promise<void> {
    this.inFlightBytes += bytes
    void write.then(
      () => {
        this.inFlightBytes -= bytes
      },
      (error: unknown) => {
        this.inFlightBytes -= bytes
        this.failure ??= error instanceof Error ? error : scratchError(this.dir, 'write', error)
      }
    )
    return write
  }

  private flushBucket(bucket: number): Promise<void> {
    const buffer = this.buffers[bucket]
    const fill = this.fills[bucket] ?? 0
    this.buffers[bucket] = undefined
    this.fills[bucket] = 0
    if (!buffer || fill === 0) return RESOLVED
    let file = this.files[bucket]
    if (!file) {
      file = this.appendFile(`b${bucket}`)
      this.files[bucket] = file
    }
    const data = buffer.subarray(0, fill)
    return this.track(
      fill,
      file.append(() => data)
    )
  }

  /** Buffers one name; returns true when the buffer should be written out. */
  private writeName(describedKey: string): boolean {
    let names = this.names
    if (!names) {
      names = Buffer.allocUnsafe(this.namesBufferBytes)
      this.names = names
    }
    const at = this.namesFill
    let length: number
    // A UTF-16 code unit takes at most 3 bytes of UTF-8, so short texts need no measuring.
    if (
      describedKey.length * 3 <= MAX_DESCRIBED_BYTES ||
      Buffer.byteLength(describedKey) <= MAX_DESCRIBED_BYTES
    ) {
      length = names.write(describedKey, at + 1, 'utf8')
    } else {
      // write() never writes part of a character, so the cut is at a character boundary.
      length = names.write(describedKey, at + 1, MAX_DESCRIBED_BYTES - TRUNCATION_MARK_BYTES)
      length += names.write(TRUNCATION_MARK, at + 1 + length, 'utf8')
    }
    names[at] = length
    this.namesFill = at + 1 + length
    this.namesInChunk++
    return this.namesFill + 1 + MAX_DESCRIBED_BYTES > names.length
  }

  private flushNames(): Promise<void> {
    const names = this.names
    const fill = this.namesFill
    const count = this.namesInChunk
    this.names = undefined
    this.namesFill = 0
    this.namesInChunk = 0
    if (!names || count === 0) return RESOLVED
    this.namesFile ??= this.appendFile('names')
    const file = this.namesFile
    return this.track(
      fill,
      file.append(async () => {
        const deflated = await deflateRaw(names.subarray(0, fill), { level: 1 })
        const header = Buffer.allocUnsafe(NAMES_HEADER_BYTES)
        header.writeUInt32LE(deflated.length, 0)
        header.writeUInt32LE(count, 4)
        return Buffer.concat([header, deflated])
      })
    )
  }

  /** Checks one bucket file (level 0) or part of one (level 1-16), then removes it. */
  private async checkFile(file: string, level: number, tally: Tally): Promise<void> {
    const { size } = await this.io('read', () => stat(file))
    if (size % RECORD_BYTES !== 0) {
      throw corruptError(this.dir, `${path.basename(file)} is not a whole number of records`)
    }
    const records = size / RECORD_BYTES
    if (records < 2) {
      await this.io('remove', () => unlink(file))
      return
    }
    if (inMemoryCheckBytes(records) <= this.budget) {
      const data = await this.io('read', () => readFile(file))
      if (data.length !== size) {
        throw corruptError(this.dir, `${path.basename(file)} changed size`)
      }
      tallyRecords(data, records, tally)
      await this.io('remove', () => unlink(file))
      return
    }
    if (level >= MAX_SPLIT_LEVELS) {
      throw new ActionError(
        'duplicateKeys.tooConcentrated',
        `More than ${Math.floor(this.budget / (RECORD_BYTES + 16))} different keys in this ` +
          'backup share the first 96 bits of their SHA-256 hash, which only a crafted backup ' +
          `does; the duplicate-key check cannot finish within its memory budget of ${this.budget} ` +
          'bytes. Check where the backup came from before restoring it.'
      )
    }
    const parts = await this.split(file, level + 1, tally)
    await this.io('remove', () => unlink(file))
    for (const part of parts) await this.checkFile(part, level + 1, tally)
  }

  /**
   * Splits a file 16 ways by the hash bits of `level`. When all its records have one hash
   * (one key, repeated), counts them instead and returns no parts.
   */
  private async split(file: string, level: number, tally: Tally): Promise<string[]> {
    const partBytes = roundDownToRecords(this.budget / 2 / SPLIT_FANOUT)
    const parts = Array.from({ length: SPLIT_FANOUT }, (_, part) => `${file}.${part.toString(16)}`)
    const buffers: (Buffer | undefined)[] = new Array<Buffer | undefined>(SPLIT_FANOUT).fill(
      undefined
    )
    const fills = new Array<number>(SPLIT_FANOUT).fill(0)
    const handles: (FileHandle | undefined)[] = new Array<FileHandle | undefined>(
      SPLIT_FANOUT
    ).fill(undefined)
    const first = Buffer.alloc(HASH_BYTES)
    let allSame = true
    let smallestOrdinal = Number.POSITIVE_INFINITY
    let records = 0

    const writePart = async (part: number): Promise<void> => {
      const buffer = buffers[part]
      const fill = fills[part] ?? 0
      if (!buffer || fill === 0) return
      let handle = handles[part]
      if (!handle) {
        handle = await open(parts[part] ?? '', 'w')
        handles[part] = handle
      }
      await writeAll(handle, buffer, fill)
      fills[part] = 0
    }

    await this.io('split', async () => {
      const input = await open(file, 'r')
      try {
        const chunk = Buffer.allocUnsafe(roundDownToRecords(this.budget / 2))
        for (let position = 0; ;) {
          const read = await readUpTo(input, chunk, position)
          if (read === 0) break
          if (read % RECORD_BYTES !== 0) {
            throw corruptError(this.dir, `${path.basename(file)} ended inside a record`)
          }
          for (let offset = 0; offset < read; offset += RECORD_BYTES) {
            if (records === 0) chunk.copy(first, 0, offset, offset + HASH_BYTES)
            else if (allSame && first.compare(chunk, offset, offset + HASH_BYTES) !== 0) {
              allSame = false
            }
            records++
            const ordinal = readOrdinal(chunk, offset)
            if (ordinal < smallestOrdinal) smallestOrdinal = ordinal
            const part = splitPart(chunk, offset, level)
            let buffer = buffers[part]
            if (!buffer) {
              buffer = Buffer.allocUnsafe(partBytes)
              buffers[part] = buffer
            }
            const fill = fills[part] ?? 0
            chunk.copy(buffer, fill, offset, offset + RECORD_BYTES)
            fills[part] = fill + RECORD_BYTES
            if (fill + RECORD_BYTES === buffer.length) await writePart(part)
          }
          position += read
        }
        for (let part = 0; part < SPLIT_FANOUT; part++) await writePart(part)
      } finally {
        await Promise.allSettled([input.close(), ...handles.map((handle) => handle?.close())])
      }
    })

    const written = parts.filter((_, part) => handles[part] !== undefined)
    if (!allSame) return written
    // One key, `records` times: no further level can split it.
    tally.duplicates += records - 1
    if (records >= 2) offerExample(tally, smallestOrdinal)
    for (const part of written) await this.io('remove', () => unlink(part))
    return []
  }

  /** Reads the descriptions of the given ordinals (ascending) from the names file. */
  private async readNames(ordinals: number[]): Promise<string[]> {
    const namesPath = this.namesFile?.path
    if (ordinals.length === 0 || !namesPath) return []
    return this.io('read', async () => {
      const handle = await open(namesPath, 'r')
      try {
        const found: string[] = []
        const header = Buffer.alloc(NAMES_HEADER_BYTES)
        let position = 0
        let firstOrdinal = 0
        let chunk: Buffer | undefined
        for (const ordinal of ordinals) {
          for (;;) {
            if ((await readUpTo(handle, header, position)) !== NAMES_HEADER_BYTES) {
              throw corruptError(this.dir, 'the names file ended early')
            }
            const deflatedBytes = header.readUInt32LE(0)
            const count = header.readUInt32LE(4)
            if (ordinal < firstOrdinal + count) {
              if (!chunk) {
                const deflated = Buffer.allocUnsafe(deflatedBytes)
                const read = await readUpTo(handle, deflated, position + NAMES_HEADER_BYTES)
                if (read !== deflatedBytes)
                  throw corruptError(this.dir, 'the names file ended early')
                chunk = zlib.inflateRawSync(deflated)
              }
              found.push(
                nameAt(chunk, ordinal - firstOrdinal, () =>
                  corruptError(this.dir, 'a names chunk is short')
                )
              )
              break
            }
            position += NAMES_HEADER_BYTES + deflatedBytes
            firstOrdinal += count
            chunk = undefined
          }
        }
        return found
      } finally {
        await handle.close().catch(() => undefined)
      }
    })
  }
}

/** The index-th length-prefixed name in an inflated chunk of names. */
function nameAt(chunk: Buffer, index: number, short: () => Error): string {
  let offset = 0
  for (let skip = 0; skip < index; skip++) {
    const length = chunk[offset]
    if (length === undefined) throw short()
    offset += 1 + length
  }
  const length = chunk[offset]
  if (length === undefined || offset + 1 + length > chunk.length) throw short()
  return chunk.toString('utf8', offset + 1, offset + 1 + length)
}
