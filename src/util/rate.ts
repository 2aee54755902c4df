import { sleep as realSleep, type Sleep } from './retry.js'

/**
 * A cap on a rate whose cost is known only after each call: capacity units (DynamoDB says
 * what a call consumed in ConsumedCapacity) or items (a Scan page says how many it held).
 *
 * A token bucket that refills at `perSecond` and holds at most one second's worth. A call
 * first reserves what it is expected to cost (`reserve`), waiting while the bucket is in
 * debt, and then settles with what it did cost (`settle`), which pays back or adds to the
 * debt. Reservations are served in arrival order, so calls in flight at once are spaced out
 * rather than sent in a burst, and over any window longer than a few calls the rate stays at
 * the cap: what is spent never runs more than one second's worth plus the costliest call
 * ahead of `perSecond` x elapsed seconds.
 */
export class RateCap {
  private tokens: number
  private at: number
  private queue: Promise<void> = Promise.resolve()
  private readonly now: () => number
  private readonly wait: Sleep
  /** What was spent in all, for reports and tests. */
  spent = 0
  /** Time spent waiting for the cap, in ms (summed over callers). */
  waitedMs = 0

  constructor(
    readonly perSecond: number,
    options: { now?: () => number; sleep?: Sleep } = {}
  ) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) {
      throw new RangeError('a rate cap needs a positive number a second')
    }
    this.now = options.now ?? Date.now
    this.wait = options.sleep ?? realSleep
    this.tokens = perSecond
    this.at = this.now()
  }

  private refill(): void {
    const now = this.now()
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.at) / 1000) * this.perSecond)
    this.at = now
  }

  /**
   * Waits for this call's turn: until every earlier reservation is served and the bucket is
   * out of debt, then takes `expected` from it. Resolves to what was reserved (pass it to
   * `settle`).
   */
  reserve(expected: number): Promise<number> {
    const amount = Math.max(0, expected)
    const turn = this.queue.then(async () => {
      this.refill()
      while (this.tokens < 0) {
        const ms = Math.ceil((-this.tokens / this.perSecond) * 1000)
        const started = this.now()
        await this.wait(ms)
        this.waitedMs += this.now() - started
        this.refill()
      }
      this.tokens -= amount
      return amount
    })
    this.queue = turn.then(
      () => undefined,
      () => undefined
    )
    return turn
  }

  /** Settles a reservation with what the call did cost (0 when it failed before any work). */
  settle(reserved: number, actual: number): void {
    this.refill()
    this.tokens += reserved - actual
    this.spent += actual
  }
}

/**
 * The expected cost of the next call, from the calls settled so far (their mean cost per
 * request, e.g. write units per item): a guess is only a reservation, settled afterwards.
 */
export class CostEstimate {
  private cost = 0
  private requests = 0

  constructor(private readonly firstGuessPerRequest: number) {}

  record(requests: number, cost: number): void {
    if (requests <= 0) return
    this.requests += requests
    this.cost += cost
  }

  expected(requests: number): number {
    const perRequest = this.requests > 0 ? this.cost / this.requests : this.firstGuessPerRequest
    return perRequest * requests
  }
}
