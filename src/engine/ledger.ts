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
  /**
   * With a backup: the durable pages are exactly those of its first `files` data files (see
   * FileCutLedger), which a checkpoint keeps.
   */
  files?: number
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

interface CutPage {
  segment: number
  lastEvaluatedKey: Item | undefined
  hashes: Buffer
  count: number
  written: boolean
}

/** A page registered with FileCutLedger: tell it when the target holds the page. */
export interface CutEntry {
  written(done: Promise<unknown>): void
}

/**
 * Durable progress for a pass that writes a backup, cut at data file boundaries: the first
 * `k` data files count as durable once each is stored (complete and proven) and every page in
 * them is held by the target. Then the durable pages are exactly those files' pages, so a
 * checkpoint keeping those files and the positions after their pages resumes with every item
 * in the backup once (a page after the cut is in no kept file; a page before it in exactly
 * one). Pages are registered as the backup appends them (`page`, with the file they went
 * into), which is before that file can close; a page registered for a file already behind the
 * cut would break this, so the ledger then stops reporting (no checkpoint is better than a
 * wrong one). Holds 32 bytes an item of the files not yet durable.
 */
export class FileCutLedger {
  private readonly files = new Map<number, CutPage[]>()
  private readonly position = new Map<number, ScanPosition>()
  private readonly digest: ContentDigest
  private items = 0
  private cut: number
  private broken = false

  constructor(
    private readonly onDurable: ((progress: DurableProgress) => void) | undefined,
    private readonly storedFiles: () => number,
    start?: DurableProgress & { files: number }
  ) {
    this.digest = start ? ContentDigest.fromState(start.digest.state()) : new ContentDigest()
    this.cut = start?.files ?? 0
    if (start) {
      this.items = start.items
      for (const p of start.positions) this.position.set(p.segment, { ...p })
    }
  }

  /** Per segment, the last data file holding one of its pages (for empty pages). */
  private readonly segmentFile = new Map<number, number>()

  /**
   * A page with no items (none goes into the backup): it counts with the segment's last page
   * before it, or at once when that one is durable already.
   */
  emptyPage(segment: number, lastEvaluatedKey: Item | undefined): void {
    const file = this.segmentFile.get(segment)
    const entry: CutPage = {
      segment,
      lastEvaluatedKey,
      hashes: Buffer.alloc(0),
      count: 0,
      written: true
    }
    if (file !== undefined && file >= this.cut) {
      this.files.get(file)?.push(entry)
      return
    }
    if (this.broken) return
    this.position.set(segment, {
      segment,
      ...(lastEvaluatedKey ? { lastEvaluatedKey } : {}),
      done: lastEvaluatedKey === undefined
    })
    this.report()
  }

  /** A page the backup put into data file `file` (zero-based, in the export's numbering). */
  page(
    segment: number,
    lastEvaluatedKey: Item | undefined,
    hashes: readonly Buffer[],
    file: number
  ): CutEntry {
    const entry: CutPage = {
      segment,
      lastEvaluatedKey,
      hashes: Buffer.concat(hashes, hashes.length * HASH_BYTES),
      count: hashes.length,
      written: false
    }
    if (file < this.cut) this.broken = true
    else {
      let pages = this.files.get(file)
      if (!pages) this.files.set(file, (pages = []))
      pages.push(entry)
      this.segmentFile.set(segment, file)
    }
    return {
      written: (done) => {
        done.then(
          () => {
            entry.written = true
            this.advance()
          },
          () => undefined
        )
      }
    }
  }

  /** Call when a data file has been stored. */
  fileStored(): void {
    this.advance()
  }

  private advance(): void {
    if (this.broken) return
    let moved = false
    while (this.cut < this.storedFiles()) {
      const pages = this.files.get(this.cut) ?? []
      if (pages.some((p) => !p.written)) break
      for (const page of pages) {
        for (let at = 0; at < page.hashes.length; at += HASH_BYTES) {
          this.digest.addHash(page.hashes.subarray(at, at + HASH_BYTES))
        }
        this.items += page.count
        this.position.set(page.segment, {
          segment: page.segment,
          ...(page.lastEvaluatedKey ? { lastEvaluatedKey: page.lastEvaluatedKey } : {}),
          done: page.lastEvaluatedKey === undefined
        })
      }
      this.files.delete(this.cut)
      this.cut++
      moved = true
    }
    if (moved) this.report()
  }

  private report(): void {
    this.onDurable?.({
      positions: [...this.position.values()].sort((a, b) => a.segment - b.segment),
      items: this.items,
      digest: this.digest,
      files: this.cut
    })
  }
}
