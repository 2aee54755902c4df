import { ActionError, errorMessage, errorName, toError } from '../errors.js'
import {
  backoffDelay,
  isRetryableAwsError,
  isThrottling,
  sleep as realSleep,
  type BackoffOptions,
  type Sleep
} from '../util/retry.js'
import { AdaptiveConcurrency } from '../util/adaptive.js'
import { CostEstimate, type RateCap } from '../util/rate.js'
import { Slots } from '../util/slots.js'

/** What one call of a batch operation did with the requests it was given. */
export interface BatchOutcome<R> {
  /** Requests the service handed back to be sent again (UnprocessedItems / UnprocessedKeys). */
  unprocessed: R[]
  /** Capacity units the call consumed (ReturnConsumedCapacity). */
  consumed: number
}

export interface BatchSettings {
  /** The table, for messages. */
  table: string
  /** What the calls do, for error codes and messages. */
  kind: 'write' | 'lookup'
  /** Calls in flight at once, at most: throttling lowers it for a while (adaptive concurrency). */
  maxInFlight: number
  /**
   * Rate caps on the table: capacity units (metered with each call's ConsumedCapacity) and
   * requests (items) a second. A call reserves what it is expected to cost before it goes.
   */
  caps?: { units?: RateCap; items?: RateCap }
  /** Give up on a batch once it has made no progress for this long. */
  retryTimeoutMs: number
  backoff?: BackoffOptions
  sleep?: Sleep
  now?: () => number
  random?: () => number
  onRetry?: (info: { reason: string; attempt: number; delayMs: number; remaining: number }) => void
}

export interface BatchStats {
  calls: number
  /** Requests handed back unprocessed and sent again. */
  unprocessedRetried: number
  /** Calls repeated after throttling, 5xx, a dropped connection or a bad answer. */
  errorsRetried: number
  /** Of those, calls the service throttled. */
  throttled: number
  consumedCapacity: number
  /** The fewest calls in flight adaptive concurrency came down to (maxInFlight: never lowered). */
  lowestInFlight: number
}

/**
 * The one concurrency and retry primitive for DynamoDB's batch calls (BatchWriteItem,
 * BatchGetItem): at most `maxInFlight` calls run at once (`submit` waits for a slot, which
 * is the backpressure), every call's unprocessed requests and retryable errors are sent again
 * with capped exponential backoff and full jitter until done, and a batch that makes no
 * progress for `retryTimeoutMs` fails. The first failure latches: later submits and `drain`
 * throw it. The SDK's own retries are off for these calls (a retry loop is never nested in
 * another). Throttling (a throttled call, or unprocessed requests) halves the calls allowed in
 * flight, and calls that go through raise it again (AdaptiveConcurrency); rate caps, when set,
 * space the calls out so the table sees no more than its cap (RateCap).
 */
export class BatchCalls<R> {
  readonly stats: BatchStats = {
    calls: 0,
    unprocessedRetried: 0,
    errorsRetried: 0,
    throttled: 0,
    consumedCapacity: 0,
    lowestInFlight: 0
  }

  /** Calls running; resized by adaptive concurrency. */
  readonly slots: Slots
  private readonly adaptive: AdaptiveConcurrency
  /** Capacity units a request costs, from the calls so far (1 unit a request at first). */
  private readonly unitCost = new CostEstimate(1)
  private readonly inFlight = new Set<Promise<void>>()
  private failure: Error | undefined
  private readonly now: () => number
  private readonly wait: Sleep

  constructor(
    private readonly settings: BatchSettings,
    private readonly call: (requests: R[]) => Promise<BatchOutcome<R>>,
    private readonly describe: (request: R) => string
  ) {
    this.now = settings.now ?? Date.now
    this.wait = settings.sleep ?? realSleep
    this.slots = new Slots(settings.maxInFlight, `${settings.kind} calls`)
    this.adaptive = new AdaptiveConcurrency(this.slots, this.now)
    this.stats.lowestInFlight = settings.maxInFlight
  }

  /** The first failure, if any: callers stop feeding work once it is set. */
  get failed(): Error | undefined {
    return this.failure
  }

  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure
  }

  /**
   * Queues a batch: `started` resolves once it has a slot (callers await it: that is the
   * backpressure), `settled` once it is done or failed (never rejects; callers use it to keep
   * requests for one key in order). Both exist as soon as this returns.
   */
  submit(requests: R[]): { started: Promise<void>; settled: Promise<void> } {
    this.throwIfFailed()
    const started = this.slots.acquire()
    const settled: Promise<void> = started
      .then(() => (this.failure === undefined ? this.complete(requests) : undefined))
      .catch((error: unknown) => {
        this.failure ??= toError(error)
      })
      .finally(() => {
        this.slots.release()
        this.inFlight.delete(settled)
      })
    this.inFlight.add(settled)
    return { started, settled }
  }

  /** The batches submitted so far and not yet done (each settles, never rejects). */
  unsettled(): Promise<void>[] {
    return [...this.inFlight]
  }

  /** Waits until every submitted batch is done; throws the first failure. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
    this.throwIfFailed()
  }

  /** Sends one batch until every request is done, retrying what comes back. */
  private async complete(requests: R[]): Promise<void> {
    const { table, kind } = this.settings
    const [verb, preposition] = kind === 'write' ? ['writing', 'to'] : ['looking up', 'in']
    let remaining = requests
    let lastProgress = this.now()
    for (let attempt = 0; ; attempt++) {
      let reason: string
      const caps = this.settings.caps
      const units = caps?.units
        ? await caps.units.reserve(this.unitCost.expected(remaining.length))
        : 0
      const items = caps?.items ? await caps.items.reserve(remaining.length) : 0
      try {
        this.stats.calls++
        const outcome = await this.call(remaining)
        this.stats.consumedCapacity += outcome.consumed
        const left = outcome.unprocessed
        const done = remaining.length - left.length
        this.unitCost.record(done, outcome.consumed)
        caps?.units?.settle(units, outcome.consumed)
        caps?.items?.settle(items, done)
        if (left.length === 0) {
          this.adaptive.succeeded()
          return
        }
        // Unprocessed requests are DynamoDB's way of throttling a batch call.
        this.adaptive.throttled()
        this.stats.lowestInFlight = this.adaptive.stats.lowest
        if (left.length < remaining.length) lastProgress = this.now()
        this.stats.unprocessedRetried += left.length
        reason = `${left.length} of ${remaining.length} unprocessed`
        remaining = left
      } catch (error) {
        caps?.units?.settle(units, 0)
        caps?.items?.settle(items, 0)
        if (this.failure !== undefined) throw error
        if (!isRetryableAwsError(error)) {
          throw new ActionError(
            `${kind}.rejected`,
            `DynamoDB rejected a ${kind} ${preposition} table '${table}' (${errorName(error) || 'error'}: ${errorMessage(error)}). First key of the batch: ${this.describeFirst(remaining)}.`,
            { cause: error }
          )
        }
        this.stats.errorsRetried++
        if (isThrottling(error)) {
          this.stats.throttled++
          this.adaptive.throttled()
          this.stats.lowestInFlight = this.adaptive.stats.lowest
        }
        reason = errorName(error) || errorMessage(error)
      }
      const delay = backoffDelay(attempt, this.settings.backoff, this.settings.random)
      if (this.now() + delay - lastProgress > this.settings.retryTimeoutMs) {
        const keys = remaining.slice(0, 5).map((r) => this.describe(r))
        throw new ActionError(
          `${kind}.gaveUp`,
          `Gave up ${verb} ${remaining.length} item(s) ${preposition} table '${table}' after ${attempt + 1} attempts and ${Math.round((this.now() - lastProgress) / 1000)} s without progress (last: ${reason}). Keys: ${keys.join('; ')}. Raise the table's capacity or 'retry-timeout-seconds', then run again.`
        )
      }
      this.settings.onRetry?.({
        reason,
        attempt: attempt + 1,
        delayMs: delay,
        remaining: remaining.length
      })
      await this.wait(delay)
    }
  }

  private describeFirst(requests: R[]): string {
    const first = requests[0]
    return first === undefined ? '?' : this.describe(first)
  }
}
