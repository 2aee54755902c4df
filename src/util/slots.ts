/**
 * A counting semaphore: at most `size` holders at once, the rest wait in arrival order. The
 * action's one bound on work in flight: batch calls, scan pages held, backup parts. `resize`
 * changes the bound while it is in use (adaptive concurrency): a larger size lets waiters in
 * at once, a smaller one takes effect as holders release.
 */
export class Slots {
  private held = 0
  private limit: number
  private readonly waiting: (() => void)[] = []

  constructor(
    size: number,
    private readonly what = 'Slots'
  ) {
    this.limit = Slots.checked(size, what)
  }

  private static checked(size: number, what: string): number {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`${what} needs 1 or more slots`)
    return size
  }

  get size(): number {
    return this.limit
  }

  /** Holders right now. */
  get inUse(): number {
    return this.held
  }

  /** Resolves once a slot is held; every acquire is paired with one release. */
  acquire(): Promise<void> {
    if (this.held < this.limit && this.waiting.length === 0) {
      this.held++
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  release(): void {
    if (this.held === 0) throw new Error(`${this.what}: release without acquire`)
    this.held--
    this.admit()
  }

  resize(size: number): void {
    this.limit = Slots.checked(size, this.what)
    this.admit()
  }

  private admit(): void {
    while (this.held < this.limit) {
      const next = this.waiting.shift()
      if (!next) return
      this.held++
      next()
    }
  }
}
