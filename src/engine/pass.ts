import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { BackupWriter } from '../backup/writer.js'
import { PageItems } from '../dynamo/page-items.js'
import { scanTable, type ScanPage } from '../dynamo/scan.js'
import type { BatchWriter } from '../dynamo/write.js'
import type { Item } from '../types.js'
import type { RateCap } from '../util/rate.js'
import { sharedHeapGuard, type HeapGuard } from '../util/heap.js'
import type { Sleep } from '../util/retry.js'
import { ContentDigest } from '../verify/digest.js'
import type { KeyLookup } from '../verify/lookup.js'
import {
  DurableLedger,
  FileCutLedger,
  type CutEntry,
  type DurableProgress,
  type ScanPosition
} from './ledger.js'

/** Where a pass reads its items from. */
export type ItemSource =
  | {
      kind: 'table'
      client: DynamoDBClient
      table: string
      /** Parallel scan segments (TotalSegments). */
      totalSegments: number
      /** Where each segment starts (a checkpoint); `null` marks a finished segment. */
      startKeys?: readonly (Item | null | undefined)[]
      /** Only these segments (a matrix leg's share); all by default. */
      segments?: readonly number[]
      /** The table's rate caps on reads: read units and items a second. */
      caps?: { units?: RateCap; items?: RateCap }
    }
  | {
      kind: 'reader'
      /** A name for messages (the backup's location). */
      name: string
      /** Streams pages of items (a backup reader); returns how many it read. */
      read: (onPage: (items: Item[]) => Promise<void>) => Promise<number>
    }

/** What a pass feeds each page to; the digest is always computed. */
export interface PassConsumers {
  backup?: BackupWriter
  writer?: BatchWriter
  lookup?: KeyLookup
  /** Only items whose hash falls in these digest buckets go to the lookup. */
  lookupBuckets?: Set<number>
  /** Sees every page after the others (e.g. restore's item checks). */
  onPage?: (items: Item[]) => Promise<void> | void
}

export interface PassSettings {
  retryTimeoutMs: number
  /** Checked before each page is asked for: true ends the pass early (no error). */
  shouldStop?: () => boolean
  sleep?: Sleep
  /** Items handed on, after each page (progress). */
  onItems?: (count: number) => void
  /** Read units a scan page consumed, as it arrives (progress). */
  onPageRead?: (consumedCapacity: number) => void
  /** A scan call repeated after throttling or an error. */
  onScanRetry?: (error: unknown, attempt: number) => void
  /** Keeps the heap near its live size between pages (default: the process's one guard). */
  heap?: HeapGuard
  /**
   * Table sources: called as pages become durable in every consumer (see DurableLedger),
   * with each segment's position and the digest of exactly those pages: what a checkpoint
   * saves. It may still be called after the pass returns: a backup's last data file is
   * stored when the backup finishes.
   */
  onDurable?: (progress: DurableProgress) => void
  /**
   * Goes on from a checkpoint: its durable pages count as read (their digest and items), and
   * the table source should start each segment at the checkpoint's position.
   */
  resumeFrom?: DurableProgress
}

export type { DurableProgress, ScanPosition } from './ledger.js'

export interface PassResult {
  digest: ContentDigest
  /** Items read from the source. */
  items: number
  pages: number
  readCapacity: number
  /** Scan calls repeated after throttling or errors. */
  scanRetries: number
  /** Writes and lookups: the batch primitive's counts. */
  writeCapacity: number
  writesRetried: number
  lookupsRetried: number
  /** Calls DynamoDB throttled: scans, writes and lookups (each retried). */
  throttled: number
  /**
   * The fewest calls in flight adaptive concurrency came down to while throttled, for the
   * scan and the writes (absent where nothing of that kind ran).
   */
  lowestInFlight: { scan?: number; write?: number }
  /**
   * Table sources: each segment's position once the pass ends (every page handed to the
   * consumers; durable once the writer is flushed and the backup finished).
   */
  positions: ScanPosition[]
  durationMs: number
}

/**
 * The transfer engine's one pass: reads a source (a table's parallel scan or a backup
 * reader) page by page and feeds every page, in one go, to the content digest and to the
 * consumers that need it (backup writer, target writer, key lookup). A page is asked for only
 * when the previous one of its segment is handed on (one page of look-ahead), and a consumer
 * that is slow holds the source back, so memory stays at a few pages whatever the table size.
 * Takes narrow settings and returns what happened; it knows nothing of modes or the report.
 */
export async function runPass(
  source: ItemSource,
  consumers: PassConsumers,
  settings: PassSettings
): Promise<PassResult> {
  const started = Date.now()
  const start = settings.resumeFrom
  const digest = start ? ContentDigest.fromState(start.digest.state()) : new ContentDigest()
  let scanRetries = 0
  const positions = new Map<number, ScanPosition>(
    (start?.positions ?? []).map((p) => [p.segment, { ...p }])
  )
  const heap = settings.heap ?? sharedHeapGuard

  // With a backup, durable progress is cut at its data files (what a checkpoint keeps);
  // without one, each segment's pages held by every consumer.
  const backup = consumers.backup
  const cutLedger =
    backup && settings.onDurable
      ? new FileCutLedger(
          settings.onDurable,
          () => backup.storedFiles().length,
          start ? { ...start, files: start.files ?? 0 } : undefined
        )
      : undefined
  if (cutLedger && backup) backup.onFileStored(() => cutLedger.fileStored())
  const ledger = cutLedger ? undefined : new DurableLedger(settings.onDurable, start)

  const handle = async (
    page: PageItems,
    scanned?: { segment: number; lastEvaluatedKey: Item | undefined }
  ): Promise<Buffer[]> => {
    const hashes: Buffer[] = []
    for (let i = 0; i < page.length; i++) {
      const hash = page.hash(i)
      digest.addHash(hash)
      hashes.push(hash)
    }
    let cut: CutEntry | undefined
    // The backup and the target take each item's JSON text, made at most once for both.
    if (consumers.backup) {
      await consumers.backup.write(page, (file) => {
        if (cutLedger && scanned) {
          cut = cutLedger.page(scanned.segment, scanned.lastEvaluatedKey, hashes, file)
        }
      })
    }
    if (consumers.writer) await consumers.writer.put(page)
    if (cutLedger && scanned && page.length === 0) {
      cutLedger.emptyPage(scanned.segment, scanned.lastEvaluatedKey)
    }
    cut?.written(consumers.writer?.queuedWritten() ?? Promise.resolve())
    if (consumers.lookup) {
      const buckets = consumers.lookupBuckets
      const picked: Item[] = []
      const pickedHashes: Buffer[] = []
      for (let i = 0; i < page.length; i++) {
        const hash = hashes[i] as Buffer
        if (!buckets || buckets.has(ContentDigest.bucketOf(hash))) {
          picked.push(page.item(i))
          pickedHashes.push(hash)
        }
      }
      await consumers.lookup.check(picked, pickedHashes)
    }
    if (consumers.onPage) await consumers.onPage(page.all())
    settings.onItems?.(page.length)
    heap.check()
    return hashes
  }

  try {
    let items = 0
    let pages = 0
    let readCapacity = 0
    let scanThrottled = 0
    let lowestScans: number | undefined
    if (source.kind === 'reader') {
      items = await source.read(async (page) => {
        pages++
        await handle(PageItems.of(page))
      })
    } else {
      const totals = await scanTable(
        source.client,
        {
          table: source.table,
          segments: source.totalSegments,
          retryTimeoutMs: settings.retryTimeoutMs,
          ...(source.startKeys ? { startKeys: source.startKeys } : {}),
          ...(source.segments ? { onlySegments: source.segments } : {}),
          ...(settings.shouldStop ? { shouldStop: settings.shouldStop } : {}),
          ...(settings.sleep ? { sleep: settings.sleep } : {}),
          ...(source.caps ? { caps: source.caps } : {}),
          ...(consumers.writer ? { keyAttributes: consumers.writer.keyAttributes } : {}),
          onRetry: (error, attempt) => {
            scanRetries++
            settings.onScanRetry?.(error, attempt)
          }
        },
        async (page: ScanPage) => {
          settings.onPageRead?.(page.consumedCapacity)
          const hashes = await handle(page.items, {
            segment: page.segment,
            lastEvaluatedKey: page.lastEvaluatedKey
          })
          ledger?.page(
            page.segment,
            page.lastEvaluatedKey,
            hashes,
            Promise.all([consumers.writer?.queuedWritten(), consumers.backup?.stored()])
          )
          positions.set(page.segment, {
            segment: page.segment,
            ...(page.lastEvaluatedKey ? { lastEvaluatedKey: page.lastEvaluatedKey } : {}),
            done: page.lastEvaluatedKey === undefined
          })
        }
      )
      items = totals.items
      pages = totals.pages
      readCapacity = totals.consumedCapacity
      scanThrottled = totals.throttled
      lowestScans = totals.lowestInFlight
    }
    await consumers.writer?.flush()
    await consumers.lookup?.finish()
    const writes = consumers.writer?.stats
    const lookups = consumers.lookup?.stats
    return {
      digest,
      items,
      pages,
      readCapacity,
      scanRetries,
      writeCapacity: writes?.consumedCapacity ?? 0,
      writesRetried: (writes?.errorsRetried ?? 0) + (writes?.unprocessedRetried ?? 0),
      lookupsRetried: (lookups?.errorsRetried ?? 0) + (lookups?.unprocessedRetried ?? 0),
      throttled: scanThrottled + (writes?.throttled ?? 0) + (lookups?.throttled ?? 0),
      lowestInFlight: {
        ...(lowestScans !== undefined ? { scan: lowestScans } : {}),
        ...(writes ? { write: writes.lowestInFlight } : {})
      },
      positions: [...positions.values()].sort((a, b) => a.segment - b.segment),
      durationMs: Date.now() - started
    }
  } catch (error) {
    // Let the calls already in flight settle before the error leaves the pass.
    await consumers.writer?.flush().catch(() => undefined)
    await consumers.lookup?.finish().catch(() => undefined)
    await consumers.backup?.abort()
    throw error
  }
}
