/** One point of a pass's throughput: items/s over the interval that ended `seconds` in. */
export interface ThroughputSample {
  seconds: number
  itemsPerSecond: number
}

/** The most throughput samples kept: beyond it, neighbours merge (memory stays bounded). */
export const MAX_SAMPLES = 60

/**
 * Progress of a long scan or copy: a log line at least every `intervalMs` with items done,
 * items/s, an ETA from the table's approximate item count and what `detail` adds (consumed
 * capacity, throttled calls), and the throughput of each interval for the summary's chart.
 */
export class Progress {
  private done = 0
  private readonly started: number
  private timer: NodeJS.Timeout | undefined
  private readonly samples: ThroughputSample[] = []
  private lastSample: { at: number; done: number }

  constructor(
    private readonly label: string,
    private readonly expected: number,
    private readonly log: (line: string) => void,
    private readonly now: () => number = Date.now,
    intervalMs = 10_000,
    private readonly detail?: () => string
  ) {
    this.started = now()
    this.lastSample = { at: this.started, done: 0 }
    if (intervalMs > 0) {
      this.timer = setInterval(() => this.tick(), intervalMs)
      this.timer.unref()
    }
  }

  /** Logs a line and records the interval's throughput. */
  tick(): void {
    this.sample()
    this.log(this.line())
  }

  private sample(): void {
    const at = this.now()
    const seconds = (at - this.lastSample.at) / 1000
    if (seconds <= 0) return
    this.samples.push({
      seconds: (at - this.started) / 1000,
      itemsPerSecond: (this.done - this.lastSample.done) / seconds
    })
    this.lastSample = { at, done: this.done }
    if (this.samples.length > 2 * MAX_SAMPLES) {
      // Merge neighbours: each merged point covers both intervals (a time-weighted mean).
      const merged: ThroughputSample[] = []
      let from = 0
      for (let i = 0; i < this.samples.length; i += 2) {
        const a = this.samples[i] as ThroughputSample
        const b = this.samples[i + 1]
        if (!b) {
          merged.push(a)
          break
        }
        const span = b.seconds - from
        const items =
          a.itemsPerSecond * (a.seconds - from) + b.itemsPerSecond * (b.seconds - a.seconds)
        merged.push({ seconds: b.seconds, itemsPerSecond: span > 0 ? items / span : 0 })
        from = b.seconds
      }
      this.samples.splice(0, this.samples.length, ...merged)
    }
  }

  /** The throughput over time, up to now (at most 2 x MAX_SAMPLES points). */
  throughput(): ThroughputSample[] {
    return this.samples.map((s) => ({ ...s }))
  }

  add(items: number): void {
    this.done += items
  }

  get items(): number {
    return this.done
  }

  /** Items per second since the start. */
  rate(): number {
    const seconds = (this.now() - this.started) / 1000
    return seconds > 0 ? this.done / seconds : 0
  }

  line(): string {
    const rate = this.rate()
    const parts = [
      `${this.label}: ${this.done.toLocaleString('en-US')} items`,
      `${Math.round(rate).toLocaleString('en-US')} items/s`
    ]
    if (this.expected > 0) {
      const percent = Math.min(100, (this.done / this.expected) * 100)
      parts.push(
        `~${percent.toFixed(percent < 10 ? 1 : 0)}% of ~${this.expected.toLocaleString('en-US')}`
      )
      if (rate > 0 && this.done < this.expected) {
        parts.push(`ETA ${formatDuration(((this.expected - this.done) / rate) * 1000)}`)
      }
    }
    const detail = this.detail?.()
    if (detail) parts.push(detail)
    return parts.join(', ')
  }

  /** Stops the timer, recording the last interval. */
  stop(): void {
    if (this.timer) clearInterval(this.timer)
    if (this.timer && this.done > this.lastSample.done) this.sample()
    this.timer = undefined
  }
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000))
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`
}

/**
 * Waits for `work`, logging `line(elapsed)` every `intervalMs` meanwhile: a long step that
 * counts no items (finishing a backup: the last upload, read-backs, manifests) still shows
 * it is alive.
 */
export async function withHeartbeat<T>(
  work: Promise<T>,
  intervalMs: number,
  log: (line: string) => void,
  line: (elapsed: string) => string,
  now: () => number = Date.now
): Promise<T> {
  if (intervalMs <= 0) return work
  const started = now()
  const timer = setInterval(() => log(line(formatDuration(now() - started))), intervalMs)
  timer.unref()
  try {
    return await work
  } finally {
    clearInterval(timer)
  }
}

/** "1 item", "3,000 items": a count of items for messages. */
export function itemCount(n: number): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? 'item' : 'items'}`
}
