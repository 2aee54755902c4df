import {
  BatchWriteItemCommand,
  type BatchWriteItemCommandInput,
  type DynamoDBClient
} from '@aws-sdk/client-dynamodb'
import type { Item } from '../types.js'
import { describeKey } from '../util/redact.js'
import { PageItems } from './page-items.js'
import { BatchCalls, type BatchOutcome, type BatchSettings, type BatchStats } from './batch.js'
import { ownEntry, sendWire } from './wire.js'

/** One request of a BatchWriteItem call, in wire form. */
export type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } }

/**
 * A request and its JSON text, made once when it is queued. A put taken from a page read off
 * the wire has only its text: the request is parsed from it only if something asks (an
 * error naming its key, a client mock reading the input).
 */
interface Queued {
  request?: WriteRequest
  text: string
}

function requestOf(queued: Queued): WriteRequest {
  queued.request ??= JSON.parse(queued.text) as WriteRequest
  return queued.request
}

/** The request, or a stand-in that parses it when its member is first read. */
function lazyRequest(queued: Queued): WriteRequest {
  if (queued.request) return queued.request
  return {
    get PutRequest() {
      return (requestOf(queued) as { PutRequest: { Item: Item } }).PutRequest
    }
  }
}

interface WireBatchWriteOutput {
  UnprocessedItems?: Record<string, WriteRequest[]>
  ConsumedCapacity?: { CapacityUnits?: number }[]
}

/** BatchWriteItem limits: 25 requests and 16 MB of request a call. */
export const MAX_BATCH_ITEMS = 25
export const MAX_BATCH_BYTES = 16 * 1024 * 1024
/** Room for the table name, the JSON around each request and the HTTP framing. */
const BATCH_BYTES_BUDGET = MAX_BATCH_BYTES - 512 * 1024

export interface WriterOptions extends Omit<BatchSettings, 'kind'> {
  keyAttributes: readonly string[]
}

export interface WriterStats extends BatchStats {
  /** Requests DynamoDB acknowledged. */
  written: number
}

function keyOf(request: WriteRequest): Item {
  return 'PutRequest' in request ? request.PutRequest.Item : request.DeleteRequest.Key
}

/**
 * The one write path of the action. Packs puts (and deletes) into BatchWriteItem calls of at
 * most 25 requests and 16 MB with no key twice in a call, and hands them to the batch
 * primitive (BatchCalls), which keeps up to `maxInFlight` calls running and sends every
 * UnprocessedItems entry, throttled call or failed call again with backoff until DynamoDB has
 * taken it. A later request for a key still being written waits for the earlier call, so
 * requests for one key land in order. Callers see the first failure from `put`/`flush`.
 */
export class BatchWriter {
  private written = 0
  private pending: Queued[] = []
  private pendingKeys = new Set<string>()
  private pendingBytes = 0
  /** Settles once the pending batch is done (made when someone waits for it). */
  private pendingDone: { promise: Promise<void>; resolve: () => void } | undefined
  /** Keys of the calls still running, so a later request for the same key waits its turn. */
  private readonly callKeys = new Map<string, Promise<void>>()
  private readonly calls: BatchCalls<Queued>

  constructor(
    private readonly client: DynamoDBClient,
    private readonly options: WriterOptions
  ) {
    this.calls = new BatchCalls<Queued>(
      { ...options, kind: 'write' },
      (requests) => this.send(requests),
      (queued) => describeKey(keyOf(requestOf(queued)), options.keyAttributes)
    )
  }

  get stats(): WriterStats {
    const { calls, unprocessedRetried, errorsRetried, throttled, consumedCapacity } =
      this.calls.stats
    return {
      written: this.written,
      calls,
      unprocessedRetried,
      errorsRetried,
      throttled,
      consumedCapacity
    }
  }

  /** The key attributes requests are ordered by (a page can carry each item's key text). */
  get keyAttributes(): readonly string[] {
    return this.options.keyAttributes
  }

  /**
   * Queues puts; resolves once they are handed to a call (not once written: see flush). A
   * page gives each item's JSON text and key text, made once for every consumer of the page.
   */
  async put(items: readonly Item[] | PageItems): Promise<void> {
    const page = items instanceof PageItems ? items : PageItems.of(items)
    const keyAttributes = this.options.keyAttributes
    for (let i = 0; i < page.length; i++) {
      await this.add(
        `{"PutRequest":{"Item":${page.text(i)}}}`,
        page.keyText(i, keyAttributes),
        items instanceof PageItems ? undefined : { PutRequest: { Item: page.item(i) } }
      )
    }
  }

  /**
   * Resolves once every request queued so far is written, without sending anything early;
   * rejects with the first failure. A page is in the target once this resolves after its put.
   */
  async queuedWritten(): Promise<void> {
    const waits = this.calls.unsettled()
    if (this.pending.length > 0) {
      if (!this.pendingDone) {
        let resolve = (): void => undefined
        const promise = new Promise<void>((r) => (resolve = r))
        this.pendingDone = { promise, resolve }
      }
      waits.push(this.pendingDone.promise)
    }
    await Promise.all(waits)
    this.calls.throwIfFailed()
  }

  /** Sends what is queued and waits until every request is written; throws the first failure. */
  async flush(): Promise<void> {
    if (this.pending.length > 0) await this.dispatch()
    await this.calls.drain()
  }

  private async add(text: string, key: string, request?: WriteRequest): Promise<void> {
    const size = Buffer.byteLength(text) + 1
    for (;;) {
      this.calls.throwIfFailed()
      const earlier = this.callKeys.get(key)
      if (earlier) {
        // The same key is still being written by an earlier call: keep the requests in order.
        if (this.pending.length > 0) await this.dispatch()
        await earlier
      } else if (
        this.pending.length >= MAX_BATCH_ITEMS ||
        this.pendingKeys.has(key) ||
        (this.pending.length > 0 && this.pendingBytes + size > BATCH_BYTES_BUDGET)
      ) {
        await this.dispatch()
      } else {
        break
      }
    }
    this.pending.push(request ? { request, text } : { text })
    this.pendingKeys.add(key)
    this.pendingBytes += size
  }

  /** Hands the pending batch to a call; returns once the call has a slot (backpressure). */
  private async dispatch(): Promise<void> {
    const batch = this.pending
    const keys = this.pendingKeys
    const done = this.pendingDone
    this.pending = []
    this.pendingKeys = new Set()
    this.pendingBytes = 0
    this.pendingDone = undefined
    let submitted: ReturnType<BatchCalls<Queued>['submit']>
    try {
      submitted = this.calls.submit(batch)
    } catch (error) {
      done?.resolve() // its waiters see the failure through throwIfFailed
      throw error
    }
    const { started, settled } = submitted
    if (done) void settled.then(done.resolve)
    for (const key of keys) this.callKeys.set(key, settled)
    void settled.then(() => {
      for (const key of keys) if (this.callKeys.get(key) === settled) this.callKeys.delete(key)
    })
    await started
  }

  private async send(requests: Queued[]): Promise<BatchOutcome<Queued>> {
    const { table } = this.options
    const body = `{"RequestItems":{${JSON.stringify(table)}:[${requests.map((q) => q.text).join(',')}]},"ReturnConsumedCapacity":"TOTAL"}`
    const input = {
      // Only a client mock reads this (the wire carries `body`): parsed only if it does.
      RequestItems: { [table]: requests.map(lazyRequest) },
      ReturnConsumedCapacity: 'TOTAL'
    }
    const result = await sendWire<WireBatchWriteOutput>(
      this.client,
      new BatchWriteItemCommand(input as unknown as BatchWriteItemCommandInput),
      { RequestItems: { [table]: [] } },
      body
    )
    const returned = ownEntry(result.UnprocessedItems, table) ?? []
    this.written += requests.length - returned.length
    return {
      unprocessed: returned.map((request) => ({ request, text: JSON.stringify(request) })),
      consumed: (result.ConsumedCapacity ?? []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0)
    }
  }
}
