import { ScanCommand, type DynamoDBClient, type ScanCommandInput } from '@aws-sdk/client-dynamodb'
import { ActionError, errorMessage } from '../errors.js'
import type { Item } from '../types.js'
import { AdaptiveConcurrency } from '../util/adaptive.js'
import { CostEstimate, type RateCap } from '../util/rate.js'
import { isThrottling, withRetry, type Sleep } from '../util/retry.js'
import { Slots } from '../util/slots.js'
import { PageItems } from './page-items.js'
import { readScanAnswer, type ScanAnswer } from './scan-answer.js'
import { sendWire } from './wire.js'

/**
 * Scan pages aim at about this many bytes on the wire (the Scan `Limit` follows the bytes per
 * item seen so far). DynamoDB's own pages stop at 1 MB of item data, held as 1 to 2 MB of
 * text until its items are written and backed up (about 4 MB of objects where the general
 * path parses it): with a page per segment in flight, 1 MB pages alone would hold 50 to 100
 * MB. Smaller pages cost DynamoDB nothing extra (a Scan is charged per 4 KB read, rounded up
 * per call: under 1% at this size), so the window of pages held stays small.
 */
export const DEFAULT_PAGE_BYTES = 256 * 1024
/** The first pages' `Limit`, before any item has been seen. */
const FIRST_PAGE_LIMIT = 100
/** DynamoDB's most items a page (1 MB of the smallest items); a `Limit` above it means nothing. */
const MAX_PAGE_LIMIT = 100_000

/** Pages held at once across the segments by default: each segment's, and half again ahead. */
export function defaultPagesInFlight(segments: number): number {
  return Math.max(2, Math.ceil(segments * 1.5))
}

/**
 * The Scan `Limit` that makes pages of about `pageBytes` on the wire, from the bytes and items
 * of the answers so far (shared by every segment of a scan).
 */
export class PageSizer {
  private bytes = 0
  private items = 0

  constructor(
    private readonly pageBytes: number,
    private readonly firstLimit = FIRST_PAGE_LIMIT
  ) {}

  record(bytes: number, items: number): void {
    this.bytes += bytes
    this.items += items
  }

  limit(): number {
    if (this.items === 0 || this.bytes === 0) return this.firstLimit
    const perItem = this.bytes / this.items
    return Math.min(MAX_PAGE_LIMIT, Math.max(1, Math.floor(this.pageBytes / perItem)))
  }
}

/** Bytes of item data one read capacity unit pays for: 4 KB strongly consistent, 8 KB not. */
export function bytesPerReadUnit(consistentRead: boolean): number {
  return consistentRead ? 4096 : 8192
}

/** A Scan answer as the wire carries it (the fields the action reads). */
interface WireScanOutput {
  Items?: Item[]
  LastEvaluatedKey?: Item
  ConsumedCapacity?: { CapacityUnits?: number }
}

/** A Scan answer as the scan hands it on: read by the fast reader, or parsed. */
interface ReadPage {
  items: PageItems
  /** Read by the general path rather than readScanAnswer. */
  parsed: boolean
  lastEvaluatedKey?: Item
  consumedCapacity: number
}

export interface ScanPage {
  segment: number
  items: PageItems
  /** Where this segment resumes after the page; absent on its last page. */
  lastEvaluatedKey?: Item
  consumedCapacity: number
}

export interface ScanOptions {
  table: string
  /** Parallel scan segments (TotalSegments). */
  segments: number
  /**
   * Strongly consistent reads: every write completed before the scan began is seen. On by
   * default (a copy or verify that misses a recent write is wrong, not merely stale).
   */
  consistentRead?: boolean
  /** Resume points per segment (a checkpoint); `null` marks a segment already finished. */
  startKeys?: readonly (Item | null | undefined)[]
  /** Only these segments of `segments` (a matrix job's share); all by default. */
  onlySegments?: readonly number[]
  /**
   * Pages held at once across every segment: asked for, or handed to `onPage` and not yet
   * done with. The scan's memory bound. Default `defaultPagesInFlight(segments scanned)`.
   */
  pagesInFlight?: number
  /** Aim for pages of about this many bytes on the wire; 0 leaves them at DynamoDB's 1 MB. */
  pageBytes?: number
  /** The key attributes whose key text each item's page should carry (for the writer). */
  keyAttributes?: readonly string[]
  retryTimeoutMs: number
  /** Checked before each page is requested: true ends the scan early (no error). */
  shouldStop?: () => boolean
  /**
   * Rate caps on the table: read units (metered with each page's ConsumedCapacity) and items
   * a second. Pages are made small enough to fit in about a second of either.
   */
  caps?: { units?: RateCap; items?: RateCap }
  sleep?: Sleep
  onRetry?: (error: unknown, attempt: number) => void
}

export interface ScanTotals {
  pages: number
  items: number
  consumedCapacity: number
  /** Pages the fast reader left to the general path (JSON.parse): 0 for DynamoDB's own answers. */
  parsedPages: number
  /** Scan calls DynamoDB throttled (each retried). */
  throttled: number
  /** The fewest scan calls in flight adaptive concurrency came down to. */
  lowestInFlight: number
}

/**
 * The one scan path of the action. Runs a parallel Scan (Segment/TotalSegments) and hands
 * every page to `onPage` as it arrives; a segment asks for its next page while `onPage`
 * works on the current one (one page of look-ahead). Every page holds one of
 * `pagesInFlight` slots, shared by the segments, from the moment it is asked for until
 * `onPage` is done with it, and pages aim at `pageBytes`: memory stays at that many small
 * pages whatever the table size, and a slow consumer slows the scan. Throttling, 5xx and
 * dropped connections are retried with backoff; the first final error stops every segment
 * and is thrown once they have all stopped.
 */
export async function scanTable(
  client: DynamoDBClient,
  options: ScanOptions,
  onPage: (page: ScanPage) => Promise<void>
): Promise<ScanTotals> {
  const segments = options.onlySegments ?? [...Array(options.segments).keys()]
  const totals: ScanTotals = {
    pages: 0,
    items: 0,
    consumedCapacity: 0,
    parsedPages: 0,
    throttled: 0,
    lowestInFlight: segments.length
  }
  let stopped = false
  const slots = new Slots(
    options.pagesInFlight ?? defaultPagesInFlight(segments.length),
    'scan pages in flight'
  )
  // Scan calls in flight (a page and its look-ahead ask at most one at a time each), lowered
  // while DynamoDB throttles them.
  const requests = new Slots(segments.length, 'scan calls in flight')
  const adaptive = new AdaptiveConcurrency(requests)
  const consistentRead = options.consistentRead ?? true
  const caps = options.caps
  // With a read cap, a page is at most about a second of it; with an item cap, too.
  let pageBytes = options.pageBytes ?? DEFAULT_PAGE_BYTES
  if (caps?.units) {
    const capBytes = Math.max(4096, caps.units.perSecond * bytesPerReadUnit(consistentRead))
    pageBytes = pageBytes > 0 ? Math.min(pageBytes, capBytes) : capBytes
  }
  // Under a read cap the first pages ask for one item each, until the size of an item is
  // known: every segment's first page at DynamoDB's 1 MB would spend many seconds of the cap
  // at once.
  const sizer =
    pageBytes > 0 ? new PageSizer(pageBytes, caps?.units ? 1 : FIRST_PAGE_LIMIT) : undefined
  const maxItems = caps?.items ? Math.max(1, Math.floor(caps.items.perSecond)) : undefined
  const pageLimit = (): number | undefined => {
    const limit = sizer?.limit()
    if (maxItems === undefined) return limit
    return limit === undefined ? maxItems : Math.min(limit, maxItems)
  }
  // Read units an item costs, from the pages so far (a 1 KB item at first).
  const unitCost = new CostEstimate(1024 / bytesPerReadUnit(consistentRead))

  const keyAttributes = options.keyAttributes
  const fetchPage = (segment: number, startKey: Item | undefined): Promise<ReadPage> =>
    withRetry(
      async () => {
        await requests.acquire()
        const limit = pageLimit()
        // Without a Limit a page holds up to 1 MB: reserve for as many 1 KB items.
        const expectedItems = limit ?? 1024
        const units = caps?.units ? await caps.units.reserve(unitCost.expected(expectedItems)) : 0
        const items = caps?.items ? await caps.items.reserve(expectedItems) : 0
        try {
          const page = await fetchOnce(segment, startKey, limit)
          unitCost.record(page.items.length, page.consumedCapacity)
          caps?.units?.settle(units, page.consumedCapacity)
          caps?.items?.settle(items, page.items.length)
          adaptive.succeeded()
          return page
        } catch (error) {
          caps?.units?.settle(units, 0)
          caps?.items?.settle(items, 0)
          if (isThrottling(error)) {
            totals.throttled++
            adaptive.throttled()
            totals.lowestInFlight = adaptive.stats.lowest
          }
          throw error
        } finally {
          requests.release()
        }
      },
      {
        timeoutMs: options.retryTimeoutMs,
        ...(options.sleep ? { sleep: options.sleep } : {}),
        onRetry: (error, attempt) => options.onRetry?.(error, attempt)
      }
    )

  /** One Scan call: its answer read by the fast reader, or parsed. */
  const fetchOnce = (
    segment: number,
    startKey: Item | undefined,
    limit: number | undefined
  ): Promise<ReadPage> => {
    let received = 0
    const request = {
      TableName: options.table,
      ConsistentRead: consistentRead,
      ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      ...(limit !== undefined ? { Limit: limit } : {}),
      ReturnConsumedCapacity: 'TOTAL',
      ...(options.segments > 1 ? { Segment: segment, TotalSegments: options.segments } : {})
    }
    // The SDK gets only what routes the call; the body is the request's own JSON, so a
    // start key with any attribute name goes out as it came in. The answer is read by
    // readScanAnswer where it can (no items built), else parsed by the general path.
    return sendWire<WireScanOutput | { fast: ScanAnswer }>(
      client,
      new ScanCommand(request as unknown as ScanCommandInput),
      { TableName: options.table },
      undefined,
      (bytes) => (received = bytes),
      (text) => {
        const fast = readScanAnswer(text, keyAttributes)
        return fast ? { fast } : undefined
      }
    ).then((answer) => {
      const page = readPage(answer, keyAttributes)
      sizer?.record(received, page.items.length)
      return page
    })
  }

  /** A page with its slot held; undefined when the scan stopped while it waited for one. */
  const fetchHeld = async (
    segment: number,
    startKey: Item | undefined
  ): Promise<ReadPage | undefined> => {
    await slots.acquire()
    if (stopped) {
      slots.release()
      return undefined
    }
    try {
      return await fetchPage(segment, startKey)
    } catch (error) {
      slots.release()
      throw error
    }
  }

  const runSegment = async (segment: number): Promise<void> => {
    const start = options.startKeys?.[segment]
    if (start === null) return
    let next: Promise<ReadPage | undefined> | undefined = fetchHeld(segment, start)
    try {
      while (next && !stopped) {
        const page: ReadPage | undefined = await next
        next = undefined
        if (!page) break
        try {
          const lastKey: Item | undefined = page.lastEvaluatedKey
          next = lastKey && !options.shouldStop?.() ? fetchHeld(segment, lastKey) : undefined
          // The look-ahead may fail while onPage runs: it is awaited (and rethrown) on the
          // next turn; this only keeps it from counting as an unhandled rejection meanwhile.
          next?.catch(() => undefined)
          const items = page.items
          const consumed = page.consumedCapacity
          totals.pages++
          totals.items += items.length
          totals.consumedCapacity += consumed
          if (page.parsed) totals.parsedPages++
          const scanPage: ScanPage = { segment, items, consumedCapacity: consumed }
          if (lastKey) scanPage.lastEvaluatedKey = lastKey
          await onPage(scanPage)
        } finally {
          slots.release()
        }
      }
    } finally {
      // A look-ahead nobody will hand on (the scan stopped): let it land, give its slot back.
      if (next)
        await next.then(
          (page) => page && slots.release(),
          () => undefined
        )
    }
  }

  const results = await Promise.allSettled(
    segments.map((segment) =>
      runSegment(segment).catch((error: unknown) => {
        stopped = true
        throw error
      })
    )
  )
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failure) {
    const reason: unknown = failure.reason
    if (reason instanceof ActionError) throw reason
    throw new ActionError(
      'scan.failed',
      `Scanning table '${options.table}' failed: ${errorMessage(reason)}`,
      { cause: reason }
    )
  }
  return totals
}

/** A Scan answer as read by readScanAnswer, or as parsed (the general path, or a client mock). */
function readPage(
  answer: WireScanOutput | { fast: ScanAnswer },
  keyAttributes?: readonly string[]
): ReadPage {
  if ('fast' in answer) {
    const fast = answer.fast
    return {
      items: PageItems.fromAnswer(fast, keyAttributes),
      parsed: false,
      ...(fast.lastEvaluatedKey ? { lastEvaluatedKey: fast.lastEvaluatedKey } : {}),
      consumedCapacity: fast.consumedCapacity ?? 0
    }
  }
  return {
    items: PageItems.of(answer.Items ?? []),
    parsed: true,
    ...(answer.LastEvaluatedKey ? { lastEvaluatedKey: answer.LastEvaluatedKey } : {}),
    consumedCapacity: answer.ConsumedCapacity?.CapacityUnits ?? 0
  }
}
