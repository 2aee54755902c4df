import {
  BatchWriteItemCommand,
  type BatchWriteItemCommandInput,
  type DynamoDBClient
} from '@aws-sdk/client-dynamodb'
import { ActionError, errorMessage, errorName, toError } from '../errors.js'
import type { Item } from '../types.js'
import { describeKey } from '../util/redact.js'
import {
  backoffDelay,
  isRetryableAwsError,
  sleep as realSleep,
  type BackoffOptions,
  type Sleep
} from '../util/retry.js'
import { keyText } from '../verify/digest.js'
import { sendWire } from './wire.js'

/** One request of a BatchWriteItem call, in wire form. */
export type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } }

/** A request and its JSON text, made once when it is queued. */
interface Queued {
  request: WriteRequest
  text: string
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

export interface WriterOptions {
  table: string
  keyAttributes: readonly string[]
  /** BatchWriteItem calls in flight at once. */
  maxInFlight: number
  /** Give up on a batch once it has made no progress for this long. */
  retryTimeoutMs: number
  backoff?: BackoffOptions
  sleep?: Sleep
  now?: () => number
  random?: () => number
  onRetry?: (info: { reason: string; attempt: number; delayMs: number; remaining: number }) => void
}

export interface WriterStats {
  /** Requests DynamoDB acknowledged (puts and deletes). */
  written: number
  calls: number
  /** Requests that came back in UnprocessedItems and were sent again. */
  unprocessedRetried: number
  /** Calls repeated after throttling, 5xx or a dropped connection. */
  errorsRetried: number
  consumedCapacity: number
}

function keyOf(request: WriteRequest): Item {
  return 'PutRequest' in request ? request.PutRequest.Item : request.DeleteRequest.Key
}

/**
 * The one write path of the action. Packs puts (and deletes) into BatchWriteItem calls of at
 * most 25 requests and 16 MB with no key twice in a call, keeps up to `maxInFlight` calls
 * running, and sends every UnprocessedItems entry again with capped exponential backoff and
 * full jitter until DynamoDB has taken it. Throttling, 5xx and dropped connections are
 * retried the same way. A batch that makes no progress for `retryTimeoutMs` fails the
 * writer with the keys it could not write; callers see the first failure from `put`/`flush`.
 */
export class BatchWriter {
  readonly stats: WriterStats = {
    written: 0,
    calls: 0,
    unprocessedRetried: 0,
    errorsRetried: 0,
    consumedCapacity: 0
  }

  private pending: Queued[] = []
  private pendingKeys = new Set<string>()
  private pendingBytes = 0
  /** Every call queued or running, until it settles. */
  private readonly calls = new Set<Promise<void>>()
  /** Keys of those calls, so a later request for the same key waits its turn. */
  private readonly callKeys = new Map<string, Promise<void>>()
  private running = 0
  private readonly slotWaiters: (() => void)[] = []
  private failure: Error | undefined
  private readonly now: () => number
  private readonly wait: Sleep

  constructor(
    private readonly client: DynamoDBClient,
    private readonly options: WriterOptions
  ) {
    this.now = options.now ?? Date.now
    this.wait = options.sleep ?? realSleep
  }

  /** Queues puts; resolves once they are handed to a call (not once written: see flush). */
  async put(items: readonly Item[]): Promise<void> {
    for (const item of items) await this.add({ PutRequest: { Item: item } })
  }

  /** Queues deletes by key. */
  async delete(keys: readonly Item[]): Promise<void> {
    for (const key of keys) await this.add({ DeleteRequest: { Key: key } })
  }

  /** Sends what is queued and waits until every request is written; throws the first failure. */
  async flush(): Promise<void> {
    if (this.pending.length > 0) await this.dispatch()
    while (this.calls.size > 0) await Promise.allSettled([...this.calls])
    this.throwIfFailed()
  }

  private async add(request: WriteRequest): Promise<void> {
    // JSON.stringify writes own properties only, `__proto__` included: the text is the item.
    const text = JSON.stringify(request)
    const size = Buffer.byteLength(text) + 1
    const key = keyText(keyOf(request), this.options.keyAttributes)
    for (;;) {
      this.throwIfFailed()
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
    this.pending.push({ request, text })
    this.pendingKeys.add(key)
    this.pendingBytes += size
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure
  }

  private acquireSlot(): Promise<void> {
    if (this.running < this.options.maxInFlight) {
      this.running++
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => this.slotWaiters.push(resolve))
  }

  private releaseSlot(): void {
    const next = this.slotWaiters.shift()
    if (next) next()
    else this.running--
  }

  /** Hands the pending batch to a call; returns once the call has a slot (backpressure). */
  private async dispatch(): Promise<void> {
    const batch = this.pending
    const keys = this.pendingKeys
    this.pending = []
    this.pendingKeys = new Set()
    this.pendingBytes = 0
    const slot = this.acquireSlot()
    const call: Promise<void> = slot
      .then(() => (this.failure === undefined ? this.send(batch) : undefined))
      .catch((error: unknown) => {
        this.failure ??= toError(error)
      })
      .finally(() => {
        this.releaseSlot()
        this.calls.delete(call)
        for (const key of keys) if (this.callKeys.get(key) === call) this.callKeys.delete(key)
      })
    this.calls.add(call)
    for (const key of keys) this.callKeys.set(key, call)
    await slot
  }

  private async send(requests: Queued[]): Promise<void> {
    const { table } = this.options
    const head = `{"RequestItems":{${JSON.stringify(table)}:[`
    let remaining = requests
    let lastProgress = this.now()
    for (let attempt = 0; ; attempt++) {
      let unprocessed: Queued[]
      let reason: string
      try {
        this.stats.calls++
        const body = `${head}${remaining.map((q) => q.text).join(',')}]},"ReturnConsumedCapacity":"TOTAL"}`
        const input = {
          RequestItems: { [table]: remaining.map((q) => q.request) },
          ReturnConsumedCapacity: 'TOTAL'
        }
        const result = await sendWire<WireBatchWriteOutput>(
          this.client,
          new BatchWriteItemCommand(input as unknown as BatchWriteItemCommandInput),
          { RequestItems: { [table]: [] } },
          body
        )
        for (const c of result.ConsumedCapacity ?? [])
          this.stats.consumedCapacity += c.CapacityUnits ?? 0
        const returned = result.UnprocessedItems?.[table] ?? []
        unprocessed = returned.map((request) => ({ request, text: JSON.stringify(request) }))
        this.stats.written += remaining.length - unprocessed.length
        if (unprocessed.length === 0) return
        if (unprocessed.length < remaining.length) lastProgress = this.now()
        this.stats.unprocessedRetried += unprocessed.length
        reason = `${unprocessed.length} of ${remaining.length} items unprocessed`
      } catch (error) {
        if (this.failure !== undefined) throw error
        if (!isRetryableAwsError(error)) {
          throw new ActionError(
            'write.rejected',
            `DynamoDB rejected a write to table '${table}' (${errorName(error) || 'error'}: ${errorMessage(error)}). First key of the batch: ${this.describe(remaining[0])}.`,
            { cause: error }
          )
        }
        this.stats.errorsRetried++
        unprocessed = remaining
        reason = errorName(error) || errorMessage(error)
      }
      remaining = unprocessed
      const delay = backoffDelay(attempt, this.options.backoff, this.options.random)
      if (this.now() + delay - lastProgress > this.options.retryTimeoutMs) {
        const keys = remaining.slice(0, 5).map((r) => this.describe(r))
        throw new ActionError(
          'write.gaveUp',
          `Gave up writing ${remaining.length} item(s) to table '${table}' after ${attempt + 1} attempts and ${Math.round((this.now() - lastProgress) / 1000)} s without progress (last: ${reason}). Keys: ${keys.join('; ')}. Raise the table's write capacity or 'retry-timeout-seconds', then run again.`
        )
      }
      this.options.onRetry?.({
        reason,
        attempt: attempt + 1,
        delayMs: delay,
        remaining: remaining.length
      })
      await this.wait(delay)
    }
  }

  private describe(queued: Queued | undefined): string {
    if (!queued) return '?'
    return describeKey(keyOf(queued.request), this.options.keyAttributes)
  }
}
