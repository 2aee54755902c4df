import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client
} from '@aws-sdk/client-s3'
import { ActionError, errorMessage, isNamed } from '../errors.js'
import type { DataFileEntry } from '../backup/format.js'
import type { Item, S3Location } from '../types.js'
import { ContentDigest, type DigestState } from '../verify/digest.js'
import type { DurableProgress, ScanPosition } from './ledger.js'

export const CHECKPOINT_VERSION = 1
/** A checkpoint is small (positions, file list, digest state): anything larger is not one. */
export const MAX_CHECKPOINT_BYTES = 64 * 1024 * 1024

/** Where a copy stands: enough for a re-run of the job to go on from there. */
export interface Checkpoint {
  version: typeof CHECKPOINT_VERSION
  source: string
  target: string
  totalSegments: number
  /** Whether the target was empty when the copy began (it decides how the copy is proven). */
  targetWasEmpty: boolean
  /** The backup being written: its run label (folder), export id and start time. */
  backup: { runLabel: string; exportId: string; startTime: string }
  /** The backup's data files that are complete and proven, in order. */
  files: DataFileEntry[]
  /** Each segment's position after the last page held by the target and the backup. */
  positions: ScanPosition[]
  /** Items in those pages, and their content digest. */
  items: number
  digest: DigestState
  savedAt: string
}

/** Where a pair's checkpoint is kept: beside its backups, found again from the run id. */
export type CheckpointStore =
  { kind: 's3'; client: S3Client; bucket: string; key: string } | { kind: 'local'; file: string }

/**
 * The checkpoint's place for a pair and a run: under `backup-s3-uri` when it is set (a re-run
 * gets a fresh runner), else in `backup-dir`. Attempts of one run share GITHUB_RUN_ID.
 */
export function checkpointStore(
  options: { s3?: { client: S3Client; location: S3Location }; backupDir: string },
  source: string,
  target: string,
  runId: string
): CheckpointStore {
  const name = `run${runId}-to-${target}.json`
  if (options.s3) {
    const { bucket, prefix } = options.s3.location
    const key = [prefix, source, '_resume', name].filter((p) => p !== '').join('/')
    return { kind: 's3', client: options.s3.client, bucket, key }
  }
  return { kind: 'local', file: path.join(options.backupDir, source, '_resume', name) }
}

export function describeStore(store: CheckpointStore): string {
  return store.kind === 's3' ? `s3://${store.bucket}/${store.key}` : store.file
}

export async function saveCheckpoint(
  store: CheckpointStore,
  checkpoint: Checkpoint
): Promise<void> {
  const text = JSON.stringify(checkpoint)
  if (store.kind === 's3') {
    await store.client.send(
      new PutObjectCommand({
        Bucket: store.bucket,
        Key: store.key,
        Body: text,
        ContentType: 'application/json'
      })
    )
    return
  }
  await mkdir(path.dirname(store.file), { recursive: true })
  // Written aside and renamed: a checkpoint is never half there.
  const temp = `${store.file}.${process.pid}.tmp`
  await writeFile(temp, text)
  await rename(temp, store.file)
}

export async function deleteCheckpoint(store: CheckpointStore): Promise<void> {
  if (store.kind === 's3') {
    await store.client.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: store.key }))
  } else await rm(store.file, { force: true })
}

/** The saved checkpoint, checked; undefined when there is none. */
export async function loadCheckpoint(
  store: CheckpointStore,
  expected: { source: string; target: string; totalSegments: number; runId: string }
): Promise<Checkpoint | undefined> {
  let text: string
  try {
    if (store.kind === 's3') {
      const answer = await store.client.send(
        new GetObjectCommand({ Bucket: store.bucket, Key: store.key })
      )
      if ((answer.ContentLength ?? 0) > MAX_CHECKPOINT_BYTES) throw tooLarge(store)
      text = (await answer.Body?.transformToString('utf8')) ?? ''
    } else {
      text = await readFile(store.file, 'utf8')
    }
  } catch (error) {
    if (isNamed(error, 'NoSuchKey') || (error as { code?: string }).code === 'ENOENT') {
      return undefined
    }
    if (error instanceof ActionError) throw error
    throw new ActionError(
      'resume.unreadable',
      `The checkpoint ${describeStore(store)} could not be read (${errorMessage(error)}).`,
      { cause: error }
    )
  }
  if (Buffer.byteLength(text) > MAX_CHECKPOINT_BYTES) throw tooLarge(store)
  return parseCheckpoint(text, describeStore(store), expected)
}

function tooLarge(store: CheckpointStore): ActionError {
  return new ActionError(
    'resume.badCheckpoint',
    `The checkpoint ${describeStore(store)} is larger than ${MAX_CHECKPOINT_BYTES} bytes: it is not one this action wrote. Delete it to copy from the start.`
  )
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

/** A DynamoDB key as the wire carries it: a few attributes of one scalar type each. */
function isKey(v: unknown): v is Item {
  if (!isRecord(v)) return false
  const names = Object.keys(v)
  if (names.length < 1 || names.length > 2) return false
  return names.every((name) => {
    const value = v[name]
    if (!isRecord(value)) return false
    const types = Object.keys(value)
    return (
      types.length === 1 &&
      ['S', 'N', 'B'].includes(types[0] as string) &&
      typeof value[types[0] as string] === 'string'
    )
  })
}

/**
 * Reads a checkpoint's text, checking every field before anything is trusted: it comes from
 * outside (a bucket others may write to). Its error messages name fields, never quote values.
 */
export function parseCheckpoint(
  text: string,
  where: string,
  expected: { source: string; target: string; totalSegments: number; runId: string }
): Checkpoint {
  const bad = (why: string): ActionError =>
    new ActionError(
      'resume.badCheckpoint',
      `The checkpoint ${where} cannot be used: ${why}. Delete it to copy from the start.`
    )
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    throw bad('it is not JSON')
  }
  if (!isRecord(data) || data.version !== CHECKPOINT_VERSION)
    throw bad('not a checkpoint of this version')
  if (data.source !== expected.source || data.target !== expected.target) {
    throw bad(`it is of another pair than '${expected.source} -> ${expected.target}'`)
  }
  if (data.totalSegments !== expected.totalSegments) {
    throw bad(
      `it was made with total-segments ${isCount(data.totalSegments) ? data.totalSegments : '?'}, this run has ${expected.totalSegments}; run again with the same value`
    )
  }
  if (typeof data.targetWasEmpty !== 'boolean') throw bad("'targetWasEmpty' is not true or false")
  const backup = data.backup
  // The backup's folder is this run's (an earlier attempt's label) and its export one this
  // action names: a checkpoint cannot point the copy at another backup or outside its folder.
  const runId = expected.runId.replace(/[^A-Za-z0-9_-]/g, '')
  const label =
    runId === 'local' ? /^\d{8}T\d{6}Z$/ : new RegExp(`^\\d{8}T\\d{6}Z-run${runId}-\\d{1,6}$`)
  if (
    !isRecord(backup) ||
    typeof backup.runLabel !== 'string' ||
    !label.test(backup.runLabel) ||
    typeof backup.exportId !== 'string' ||
    !/^\d{14}-[0-9a-f]{8}$/.test(backup.exportId) ||
    typeof backup.startTime !== 'string' ||
    Number.isNaN(Date.parse(backup.startTime))
  ) {
    throw bad("'backup' is not this run's backup folder, an export id and a start time")
  }
  if (!Array.isArray(data.files) || data.files.length > 100_000) throw bad("'files' is not a list")
  const dataPrefix = `AWSDynamoDB/${backup.exportId}/data/`
  const files: DataFileEntry[] = []
  for (const [i, f] of data.files.entries()) {
    if (
      !isRecord(f) ||
      !isCount(f.itemCount) ||
      !isCount(f.size) ||
      typeof f.dataFileS3Key !== 'string' ||
      typeof f.md5Checksum !== 'string' ||
      typeof f.etag !== 'string' ||
      typeof f.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(f.sha256)
    ) {
      throw bad(`file ${i + 1} is not a data file entry`)
    }
    // Only data files of this backup's export: nothing else may be kept or listed.
    const at = f.dataFileS3Key.indexOf(dataPrefix)
    const name = at === -1 ? '' : f.dataFileS3Key.slice(at + dataPrefix.length)
    const number = /^(\d{5,})-[0-9a-f]{12}\.json\.gz$/.exec(name)
    // The data files in the order written, each once: 00000-…, 00001-…, …
    if (!number || Number(number[1]) !== i) {
      throw bad(`file ${i + 1} is not data file ${i} of export '${backup.exportId}'`)
    }
    files.push({
      itemCount: f.itemCount,
      size: f.size,
      dataFileS3Key: f.dataFileS3Key,
      md5Checksum: f.md5Checksum,
      etag: f.etag,
      sha256: f.sha256
    })
  }
  if (!Array.isArray(data.positions) || data.positions.length > expected.totalSegments) {
    throw bad("'positions' is not a list of segment positions")
  }
  const positions: ScanPosition[] = []
  const seen = new Set<number>()
  for (const p of data.positions) {
    if (
      !isRecord(p) ||
      !isCount(p.segment) ||
      p.segment >= expected.totalSegments ||
      seen.has(p.segment) ||
      typeof p.done !== 'boolean' ||
      (p.done ? p.lastEvaluatedKey !== undefined : !isKey(p.lastEvaluatedKey))
    ) {
      throw bad("'positions' holds an entry that is not a segment's position")
    }
    seen.add(p.segment)
    positions.push({
      segment: p.segment,
      done: p.done,
      ...(p.done ? {} : { lastEvaluatedKey: p.lastEvaluatedKey as Item })
    })
  }
  if (!isCount(data.items)) throw bad("'items' is not a count")
  const inFiles = files.reduce((sum, f) => sum + f.itemCount, 0)
  if (inFiles !== data.items) throw bad('its data files do not hold its item count')
  let digest: ContentDigest
  try {
    digest = ContentDigest.fromState(data.digest)
  } catch {
    throw bad("'digest' is not a digest state")
  }
  if (digest.count !== data.items) throw bad('its digest does not count its items')
  return {
    version: CHECKPOINT_VERSION,
    source: expected.source,
    target: expected.target,
    totalSegments: expected.totalSegments,
    targetWasEmpty: data.targetWasEmpty,
    backup: { runLabel: backup.runLabel, exportId: backup.exportId, startTime: backup.startTime },
    files,
    positions,
    items: data.items,
    digest: digest.state(),
    savedAt: typeof data.savedAt === 'string' ? data.savedAt : ''
  }
}

/**
 * Saves checkpoints as the pass's pages become durable: only at a cut where the durable pages
 * are exactly those of the backup's first data files (FileCutLedger), so a resumed backup
 * holds every item once; at most one save at a time, the latest cut next.
 */
export class CheckpointSaver {
  private saving: Promise<void> = Promise.resolve()
  private pending: Checkpoint | undefined
  private failures = 0
  saved = 0

  constructor(
    private readonly store: CheckpointStore,
    private readonly base: Omit<Checkpoint, 'files' | 'positions' | 'items' | 'digest' | 'savedAt'>,
    private readonly warn: (message: string) => void,
    private readonly now: () => Date = () => new Date()
  ) {}

  /**
   * The pass's durable progress, cut at the backup's data files (`progress.files`: see
   * FileCutLedger), with the backup's stored data files in order. Progress without a cut is
   * not saved.
   */
  offer(progress: DurableProgress, storedFiles: readonly DataFileEntry[]): void {
    const count = progress.files
    if (count === undefined || count > storedFiles.length) return
    const files = storedFiles.slice(0, count)
    // The cut's files hold exactly its items, or it is not one.
    if (files.reduce((sum, f) => sum + f.itemCount, 0) !== progress.items) return
    this.pending = {
      ...this.base,
      files: files.map((f) => ({ ...f })),
      positions: progress.positions.map((p) => ({ ...p })),
      items: progress.items,
      digest: progress.digest.state(),
      savedAt: this.now().toISOString()
    }
    this.saving = this.saving.then(() => this.writePending())
  }

  private async writePending(): Promise<void> {
    const checkpoint = this.pending
    this.pending = undefined
    if (!checkpoint) return
    try {
      await saveCheckpoint(this.store, checkpoint)
      this.saved++
    } catch (error) {
      if (this.failures++ === 0) {
        this.warn(
          `Could not save the copy's checkpoint to ${describeStore(this.store)} (${errorMessage(error)}); a re-run could not resume from here.`
        )
      }
    }
  }

  /** Waits for the saves under way. */
  async flush(): Promise<void> {
    await this.saving
  }
}
