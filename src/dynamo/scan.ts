import { ScanCommand, type DynamoDBClient, type ScanCommandInput } from '@aws-sdk/client-dynamodb'
import { ActionError, errorMessage } from '../errors.js'
import type { Item } from '../types.js'
import { withRetry, type Sleep } from '../util/retry.js'
import { sendWire } from './wire.js'

/** A Scan answer as the wire carries it (the fields the action reads). */
interface WireScanOutput {
  Items?: Item[]
  LastEvaluatedKey?: Item
  ConsumedCapacity?: { CapacityUnits?: number }
}

export interface ScanPage {
  segment: number
  items: Item[]
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
  retryTimeoutMs: number
  /** Checked before each page is requested: true ends the scan early (no error). */
  shouldStop?: () => boolean
  sleep?: Sleep
  onRetry?: (error: unknown, attempt: number) => void
}

export interface ScanTotals {
  pages: number
  items: number
  consumedCapacity: number
}

/**
 * The one scan path of the action. Runs a parallel Scan (Segment/TotalSegments) and hands
 * every page to `onPage` as it arrives; a segment asks for its next page while `onPage`
 * works on the current one (one page of look-ahead), and never before `onPage` returns,
 * so memory stays at about two pages per segment whatever the table size. Throttling, 5xx
 * and dropped connections are retried with backoff; the first final error stops every
 * segment and is thrown once they have all stopped.
 */
export async function scanTable(
  client: DynamoDBClient,
  options: ScanOptions,
  onPage: (page: ScanPage) => Promise<void>
): Promise<ScanTotals> {
  const totals: ScanTotals = { pages: 0, items: 0, consumedCapacity: 0 }
  const segments = options.onlySegments ?? [...Array(options.segments).keys()]
  let stopped = false

  const fetchPage = (segment: number, startKey: Item | undefined): Promise<WireScanOutput> =>
    withRetry(
      () => {
        const request = {
          TableName: options.table,
          ConsistentRead: options.consistentRead ?? true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          ReturnConsumedCapacity: 'TOTAL',
          ...(options.segments > 1 ? { Segment: segment, TotalSegments: options.segments } : {})
        }
        // The SDK gets only what routes the call; the body is the request's own JSON, so a
        // start key with any attribute name goes out as it came in.
        return sendWire<WireScanOutput>(
          client,
          new ScanCommand(request as unknown as ScanCommandInput),
          { TableName: options.table }
        )
      },
      {
        timeoutMs: options.retryTimeoutMs,
        ...(options.sleep ? { sleep: options.sleep } : {}),
        onRetry: (error, attempt) => options.onRetry?.(error, attempt)
      }
    )

  const runSegment = async (segment: number): Promise<void> => {
    const start = options.startKeys?.[segment]
    if (start === null) return
    let next: Promise<WireScanOutput> | undefined = fetchPage(segment, start)
    while (next && !stopped) {
      const page: WireScanOutput = await next
      const lastKey = page.LastEvaluatedKey
      next = lastKey && !options.shouldStop?.() ? fetchPage(segment, lastKey) : undefined
      // The look-ahead may fail while onPage runs: it is awaited (and rethrown) on the next
      // turn; this only keeps it from counting as an unhandled rejection meanwhile.
      next?.catch(() => undefined)
      const items = page.Items ?? []
      const consumed = page.ConsumedCapacity?.CapacityUnits ?? 0
      totals.pages++
      totals.items += items.length
      totals.consumedCapacity += consumed
      const scanPage: ScanPage = { segment, items, consumedCapacity: consumed }
      if (lastKey) scanPage.lastEvaluatedKey = lastKey
      await onPage(scanPage)
    }
    await next?.catch(() => undefined)
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
