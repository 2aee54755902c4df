import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * Keeps the JS heap near what is live while a pass streams a table.
 *
 * V8 lets the heap grow to several times its live size before a full collection when a
 * program allocates fast, which a pass does (every page is parsed, hashed and serialised).
 * Measured on a 2-core runner: about 60 MB live, yet a heap of 230-290 MB and a peak RSS near
 * 400 MB. The runner starts the action as `node dist/index.js`, so `--max-old-space-size`
 * cannot be given; instead, once the heap in use passes a threshold, the pass asks V8 for a
 * full collection (the same call Jest's leak detector uses). The threshold is the budget, or
 * 1.5 times what was live after the last collection if that is more: a large live set (huge
 * items) never makes it collect over and over, since at least half as much as is live is
 * allocated between two collections. One check reads a counter. Budget and factor come from
 * `npm run bench` (README, Tuning): 96 MB and 1.5 gave the lowest peak. Its collections are
 * the largest CPU cost left in a copy (about 15% of it), the price of the 256 MB bound.
 */
export class HeapGuard {
  private readonly budget: number
  private threshold: number
  private readonly collect: (() => void) | null
  /** Full collections asked for. */
  collections = 0

  /** `collect`: the full collection to ask for (V8's by default; null: never collect). */
  constructor(budgetBytes = DEFAULT_HEAP_BUDGET, collect: (() => void) | null = gcFunction()) {
    this.budget = budgetBytes
    this.threshold = budgetBytes
    this.collect = collect
  }

  /** Called between pages: collects when the heap in use has passed the budget. */
  check(used: number = getHeapStatistics().used_heap_size): void {
    if (this.collect === null || used < this.threshold) return
    this.collections++
    this.collect()
    this.collected(getHeapStatistics().used_heap_size)
  }

  /** Sets the next threshold from what was live after a collection. */
  collected(live: number): void {
    this.threshold = Math.max(this.budget, 1.5 * live)
  }

  /** Heap in use at which the next collection happens. */
  get thresholdBytes(): number {
    return this.threshold
  }
}

/** Heap in use (live and garbage) at which a pass collects: the live window is far smaller. */
export const DEFAULT_HEAP_BUDGET = 96 * 1024 * 1024

let gc: (() => void) | null | undefined
/** V8's full collection, or null where it cannot be had. */
function gcFunction(): (() => void) | null {
  if (gc === undefined) {
    try {
      const exposed = (globalThis as { gc?: () => void }).gc
      if (typeof exposed === 'function') gc = exposed
      else {
        setFlagsFromString('--expose-gc')
        const fresh: unknown = runInNewContext('gc')
        gc = typeof fresh === 'function' ? (fresh as () => void) : null
      }
    } catch {
      gc = null
    }
  }
  return gc
}

/** The process's one guard: passes running side by side share the heap. */
export const sharedHeapGuard = new HeapGuard()
