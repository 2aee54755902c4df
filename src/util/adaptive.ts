import type { Slots } from './slots.js'

export interface AdaptiveStats {
  /** The most calls allowed in flight (the input's setting). */
  max: number
  /** The fewest the limit came down to; `max` when nothing was throttled. */
  lowest: number
  /** The limit now. */
  current: number
  /** Times the limit was lowered. */
  decreases: number
}

/**
 * Adaptive concurrency for calls DynamoDB may throttle, additive increase and multiplicative
 * decrease as TCP does: a throttled call halves the calls allowed in flight (at most once
 * per `settleMs`, so that one burst of throttles lowers it once, not to 1), and once as many
 * calls in a row as the limit have gone through unthrottled it rises by one, back up to
 * `max`. The limit is a Slots' size: a lower one takes effect as calls finish.
 */
export class AdaptiveConcurrency {
  private readonly stat: AdaptiveStats
  private sinceThrottle = 0
  private lastDecrease = Number.NEGATIVE_INFINITY

  constructor(
    private readonly slots: Slots,
    private readonly now: () => number = Date.now,
    private readonly settleMs = 1000
  ) {
    const max = slots.size
    this.stat = { max, lowest: max, current: max, decreases: 0 }
  }

  get stats(): AdaptiveStats {
    return { ...this.stat }
  }

  throttled(): void {
    this.sinceThrottle = 0
    const now = this.now()
    if (now - this.lastDecrease < this.settleMs) return
    this.lastDecrease = now
    const next = Math.max(1, Math.floor(this.slots.size / 2))
    if (next === this.slots.size) return
    this.set(next)
    this.stat.decreases++
  }

  succeeded(): void {
    if (this.slots.size >= this.stat.max) return
    this.sinceThrottle++
    if (this.sinceThrottle >= this.slots.size) {
      this.sinceThrottle = 0
      this.set(this.slots.size + 1)
    }
  }

  private set(size: number): void {
    this.slots.resize(size)
    this.stat.current = size
    this.stat.lowest = Math.min(this.stat.lowest, size)
  }
}
