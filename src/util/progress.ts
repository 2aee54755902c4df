/**
 * Progress of a long scan or copy: a log line at least every `intervalMs` with items done,
 * items/s and an ETA from the table's approximate item count.
 */
export class Progress {
  private done = 0
  private readonly started: number
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly label: string,
    private readonly expected: number,
    private readonly log: (line: string) => void,
    private readonly now: () => number = Date.now,
    intervalMs = 10_000
  ) {
    this.started = now()
    if (intervalMs > 0) {
      this.timer = setInterval(() => this.log(this.line()), intervalMs)
      this.timer.unref()
    }
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
    return parts.join(', ')
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
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
