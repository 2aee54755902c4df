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
 * A request as it is queued: its JSON text, or for a put only the item's JSON text (`item`),
 * with the request's size in bytes. A put taken from a page read off the wire has only its
 * text: the request is parsed from it only if something asks (an error naming its key, a
 * client mock reading the input). The texts are written into the call's body as they are,
 * never joined into one string.
 */
interface Queued {
  request?: WriteRequest
  text: string
  /** `text` is the item's JSON of a put, not the whole request's. */
  item: boolean
  /** Bytes of the request's JSON (UTF-8). */
  bytes: number
}

const PUT_HEAD = '{"PutRequest":{"Item":'
const PUT_TAIL = '}}'
const PUT_BYTES = PUT_HEAD.length + PUT_TAIL.length

function queuedPut(text: string, request?: WriteRequest): Queued {
  const queued: Queued = { text, item: true, bytes: Buffer.byteLength(text) + PUT_BYTES }
  if (request) queued.request = request
  return queued
}

function queuedRequest(request: WriteRequest): Queued {
  // JSON.stringify writes own properties only, `__proto__` included: the text is the item.
  const text = JSON.stringify(request)
  return { request, text, item: false, bytes: Buffer.byteLength(text) }
}

function requestOf(queued: Queued): WriteRequest {
  queued.request ??= queued.item
    ? { PutRequest: { Item: JSON.parse(queued.text) as Item } }
    : (JSON.parse(queued.text) as WriteRequest)
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

/**
 * A BatchWriteItem call's body, written piece by piece into one buffer: the requests' texts
 * are never joined or re-encoded (the signer hashes and the socket sends these bytes).
 */
function batchBody(table: string, requests: readonly Queued[]): Buffer {
  const head = `{"RequestItems":{${JSON.stringify(table)}:[`
  const tail = ']},"ReturnConsumedCapacity":"TOTAL"}'
  let size = Buffer.byteLength(head) + tail.length + Math.max(0, requests.length - 1)
  for (const q of requests) size += q.bytes
  const body = Buffer.allocUnsafe(size)
  let at = body.write(head, 0)
  for (let i = 0; i < requests.length; i++) {
    const q = requests[i] as Queued
    if (i > 0) at += body.write(',', at, 'latin1')
    if (q.item) {
      at += body.write(PUT_HEAD, at, 'latin1')
      at += body.write(q.text, at)
      at += body.write(PUT_TAIL, at, 'latin1')
    } else at += body.write(q.text, at)
  }
  at += body.write(tail, at, 'latin1')
  if (at !== size) throw new Error(`BatchWriteItem body: wrote ${at} of ${size} bytes`)
  return body
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
    return { ...this.calls.stats, written: this.written }
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
        queuedPut(
          page.text(i),
          items instanceof PageItems ? undefined : { PutRequest: { Item: page.item(i) } }
        ),
        page.keyText(i, keyAttributes)
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

  private async add(queued: Queued, key: string): Promise<void> {
    const size = queued.bytes + 1
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
    this.pending.push(queued)
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
    const body = batchBody(table, requests)
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
      unprocessed: returned.map(queuedRequest),
      consumed: (result.ConsumedCapacity ?? []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0)
    }
  }
}
