import {
  BatchWriteItemCommand,
  type DynamoDBClient,
  type WriteRequest
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
import { canonicalValue } from '../verify/digest.js'

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

/**
 * Upper bound of an attribute value's size in the JSON request, cheap enough for every item:
 * strings count six bytes a UTF-16 unit (the worst JSON escape, `\u0000`; UTF-8 needs at most
 * three). Items whose bound is large are measured exactly (requestWireSize).
 */
function valueWireSize(value: unknown): number {
  if (typeof value === 'string') return value.length * 6 + 2
  if (value instanceof Uint8Array) return Math.ceil(value.length / 3) * 4 + 2
  if (typeof value === 'boolean') return 5
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + valueWireSize(v) + 1, 2)
  if (value !== null && typeof value === 'object') {
    let size = 2
    for (const [name, inner] of Object.entries(value)) {
      size += name.length * 6 + 4 + valueWireSize(inner)
    }
    return size
  }
  return 8
}

/** Bytes a put of this item adds to a BatchWriteItem request (never less than the truth). */
export function requestWireSize(item: Item): number {
  const bound = valueWireSize(item) + 32
  // Large items get measured exactly so a batch of big items is not split more than needed.
  if (bound <= 256 * 1024) return bound
  return (
    Buffer.byteLength(
      JSON.stringify(item, (_k, v: unknown) =>
        v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v
      )
    ) + 32
  )
}

function keyOf(request: WriteRequest): Item {
  return request.PutRequest?.Item ?? request.DeleteRequest?.Key ?? {}
}

function keyText(item: Item, keyAttributes: readonly string[]): string {
  return keyAttributes.map((name) => (item[name] ? canonicalValue(item[name]) : '')).join('|')
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

  private pending: WriteRequest[] = []
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
    for (const item of items) await this.add({ PutRequest: { Item: item } }, requestWireSize(item))
  }

  /** Queues deletes by key. */
  async delete(keys: readonly Item[]): Promise<void> {
    for (const key of keys) await this.add({ DeleteRequest: { Key: key } }, requestWireSize(key))
  }

  /** Sends what is queued and waits until every request is written; throws the first failure. */
  async flush(): Promise<void> {
    if (this.pending.length > 0) await this.dispatch()
    while (this.calls.size > 0) await Promise.allSettled([...this.calls])
    this.throwIfFailed()
  }

  private async add(request: WriteRequest, size: number): Promise<void> {
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
    this.pending.push(request)
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

  private async send(requests: WriteRequest[]): Promise<void> {
    const { table } = this.options
    let remaining = requests
    let lastProgress = this.now()
    for (let attempt = 0; ; attempt++) {
      let unprocessed: WriteRequest[]
      let reason: string
      try {
        this.stats.calls++
        const result = await this.client.send(
          new BatchWriteItemCommand({
            RequestItems: { [table]: remaining },
            ReturnConsumedCapacity: 'TOTAL'
          })
        )
        for (const c of result.ConsumedCapacity ?? [])
          this.stats.consumedCapacity += c.CapacityUnits ?? 0
        unprocessed = result.UnprocessedItems?.[table] ?? []
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

  private describe(request: WriteRequest | undefined): string {
    if (!request) return '?'
    return describeKey(keyOf(request), this.options.keyAttributes)
  }
}
