import type { Item } from '../types.js'
import { ContentDigest } from '../verify/digest.js'

/**
 * Where a table scan stands: per segment, the key after the last page that counts as done.
 * Resume (a checkpoint) starts each segment at its `lastEvaluatedKey`.
 */
export interface ScanPosition {
  segment: number
  /** Undefined once the segment is finished (or before its first page is done). */
  lastEvaluatedKey?: Item
  done: boolean
}

/** What is durable so far: the basis of a checkpoint. */
export interface DurableProgress {
  /** Every segment that has a durable page, by segment number. */
  positions: readonly ScanPosition[]
  /** Items in the durable pages. */
  items: number
  /** The content digest of exactly the durable pages (save it with `state()`). */
  digest: ContentDigest
}

interface PendingPage {
  lastEvaluatedKey: Item | undefined
  /** The page's item hashes, 32 bytes each, back to back. */
  hashes: Buffer
  count: number
  done: boolean
}

const HASH_BYTES = 32

/**
 * Counts a page as done only once every consumer holds it durably (the target acknowledged
 * its writes, the backup data file holding it is complete and proven), and only in scan
 * order within its segment: a segment's position is the end of its longest run of done pages
 * from the start. So a checkpoint of these positions, with the digest of exactly those pages,
 * never skips an item that is not safely written, whatever order the consumers finish in.
 * Holds 32 bytes per item of the pages not yet done (they are bounded by the scan's window
 * and a backup data file).
 */
export class DurableLedger {
  private readonly pending = new Map<number, PendingPage[]>()
  private readonly position = new Map<number, ScanPosition>()
  private readonly digest: ContentDigest
  private items = 0

  /** `start`: what an interrupted attempt made durable (a checkpoint), counted as done. */
  constructor(
    private readonly onDurable?: (progress: DurableProgress) => void,
    start?: DurableProgress
  ) {
    this.digest = start ? ContentDigest.fromState(start.digest.state()) : new ContentDigest()
    if (start) {
      this.items = start.items
      for (const p of start.positions) this.position.set(p.segment, { ...p })
    }
  }

  /**
   * Registers a page of `segment`, in scan order, handed to every consumer; `stored` settles
   * once all of them hold it durably (a rejection leaves the page not done: the failure
   * reaches the pass through its consumers).
   */
  page(
    segment: number,
    lastEvaluatedKey: Item | undefined,
    hashes: readonly Buffer[],
    stored: Promise<unknown>
  ): void {
    const entry: PendingPage = {
      lastEvaluatedKey,
      hashes: Buffer.concat(hashes, hashes.length * HASH_BYTES),
      count: hashes.length,
      done: false
    }
    let queue = this.pending.get(segment)
    if (!queue) this.pending.set(segment, (queue = []))
    queue.push(entry)
    stored.then(
      () => {
        entry.done = true
        this.advance(segment)
      },
      () => undefined
    )
  }

  /** What is durable now. */
  progress(): DurableProgress {
    return {
      positions: [...this.position.values()].sort((a, b) => a.segment - b.segment),
      items: this.items,
      digest: this.digest
    }
  }

  private advance(segment: number): void {
    const queue = this.pending.get(segment) ?? []
    let moved = false
    while (queue[0]?.done) {
      const page = queue.shift() as PendingPage
      for (let at = 0; at < page.hashes.length; at += HASH_BYTES) {
        this.digest.addHash(page.hashes.subarray(at, at + HASH_BYTES))
      }
      this.items += page.count
      this.position.set(segment, {
        segment,
        ...(page.lastEvaluatedKey ? { lastEvaluatedKey: page.lastEvaluatedKey } : {}),
        done: page.lastEvaluatedKey === undefined
      })
      moved = true
    }
    if (moved) this.onDurable?.(this.progress())
  }
}
