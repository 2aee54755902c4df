import * as core from '@actions/core'
import type { RunContext } from './context.js'
import type { BackupWriter } from './backup/writer.js'
import { scanTable } from './dynamo/scan.js'
import type { BatchWriter } from './dynamo/write.js'
import { errorName } from './errors.js'
import type { Item } from './types.js'
import { Progress } from './util/progress.js'
import { ContentDigest } from './verify/digest.js'
import type { KeyLookup } from './verify/lookup.js'

export interface PipelineOptions {
  /** The table scanned, or (with `read`) the name the progress and errors use. */
  table: string
  /** Reads items from elsewhere (a backup) instead of scanning `table`. */
  read?: (onPage: (items: Item[]) => Promise<void>) => Promise<number>
  /** Progress label, e.g. "copy orders -> orders-v2". */
  label: string
  /** Expected item count for the ETA (DescribeTable's approximate count). */
  approximateItems: number
  backup?: BackupWriter
  writer?: BatchWriter
  lookup?: KeyLookup
  /** Only items whose hash falls in these digest buckets go to the lookup. */
  lookupBuckets?: Set<number>
  shouldStop?: () => boolean
}

export interface PipelineResult {
  digest: ContentDigest
  scanned: number
  readCapacity: number
  durationMs: number
}

/**
 * One pass over a table feeding every sink at once: each scanned page is hashed into the
 * content digest, appended to the backup, queued to the target's writer and/or looked up
 * by key, then the scan moves on. Backup, copy and verify all run through here, so the
 * source is read once whatever the mode needs from it.
 */
export async function runPipeline(
  ctx: RunContext,
  options: PipelineOptions
): Promise<PipelineResult> {
  const started = Date.now()
  const digest = new ContentDigest()
  const progress = new Progress(
    options.label,
    options.approximateItems,
    (line) => core.info(line),
    Date.now,
    ctx.progressIntervalMs
  )
  let retries = 0
  try {
    const handle = async (items: Item[]): Promise<void> => {
      const hashes = items.map((item) => digest.add(item))
      if (options.backup) await options.backup.write(items)
      if (options.writer) await options.writer.put(items)
      if (options.lookup) {
        const buckets = options.lookupBuckets
        if (buckets) {
          const picked: Item[] = []
          const pickedHashes: Buffer[] = []
          items.forEach((item, i) => {
            const hash = hashes[i] as Buffer
            if (buckets.has(ContentDigest.bucketOf(hash))) {
              picked.push(item)
              pickedHashes.push(hash)
            }
          })
          await options.lookup.check(picked, pickedHashes)
        } else {
          await options.lookup.check(items, hashes)
        }
      }
      progress.add(items.length)
    }
    let scanned = 0
    let readCapacity = 0
    if (options.read) {
      scanned = await options.read(handle)
    } else {
      const totals = await scanTable(
        ctx.clients.dynamodbItems,
        {
          table: options.table,
          segments: ctx.inputs.scanSegments,
          retryTimeoutMs: ctx.inputs.retryTimeoutMs,
          ...(options.shouldStop ? { shouldStop: options.shouldStop } : {}),
          ...(ctx.sleep ? { sleep: ctx.sleep } : {}),
          onRetry: (error, attempt) => {
            retries++
            core.debug(
              `scan ${options.table}: retry ${attempt} after ${errorName(error) || 'error'}`
            )
          }
        },
        (page) => handle(page.items)
      )
      scanned = totals.items
      readCapacity = totals.consumedCapacity
    }
    await options.writer?.flush()
    await options.lookup?.finish()
    if (retries > 0)
      core.info(
        `Scan of '${options.table}' recovered from ${retries} throttled or failed request(s).`
      )
    core.info(progress.line())
    return {
      digest,
      scanned,
      readCapacity,
      durationMs: Date.now() - started
    }
  } catch (error) {
    // Let the calls already in flight settle before the error leaves the pipeline.
    await options.writer?.flush().catch(() => undefined)
    await options.lookup?.finish().catch(() => undefined)
    await options.backup?.abort()
    throw error
  } finally {
    progress.stop()
  }
}

/**
 * Passes at once (a source and its target side by side, or several sources). When one
 * fails, the others stop at their next page instead of scanning on, and the first failure is
 * thrown once all have stopped.
 */
export async function runTogether(
  ctx: RunContext,
  passes: readonly PipelineOptions[]
): Promise<PipelineResult[]> {
  let failed = false
  const results = await Promise.allSettled(
    passes.map((options) =>
      runPipeline(ctx, {
        ...options,
        shouldStop: () => failed || (options.shouldStop?.() ?? false)
      }).catch((error: unknown) => {
        failed = true
        throw error
      })
    )
  )
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failure) throw failure.reason
  return results.map((r) => (r as PromiseFulfilledResult<PipelineResult>).value)
}

/** A source and its target side by side (see runTogether). */
export async function runSideBySide(
  ctx: RunContext,
  first: PipelineOptions,
  second: PipelineOptions
): Promise<[PipelineResult, PipelineResult]> {
  const [a, b] = await runTogether(ctx, [first, second])
  return [a as PipelineResult, b as PipelineResult]
}
