import * as core from '@actions/core'
import type { RunContext } from './context.js'
import type { BackupWriter } from './backup/writer.js'
import {
  runPass,
  type DurableProgress,
  type ItemSource,
  type PassResult,
  type ScanPosition
} from './engine/pass.js'
import type { BatchWriter } from './dynamo/write.js'
import { errorName } from './errors.js'
import type { Item } from './types.js'
import { Progress, type ThroughputSample } from './util/progress.js'
import { isThrottling } from './util/retry.js'
import type { ContentDigest } from './verify/digest.js'
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
  /** Goes on from a checkpoint (see PassSettings.resumeFrom): each segment from its position. */
  resumeFrom?: DurableProgress
  /** Pages durable in every consumer (see PassSettings.onDurable): what a checkpoint saves. */
  onDurable?: (progress: DurableProgress) => void
}

/** A scan's start keys from a checkpoint's positions: `null` for a finished segment. */
export function startKeysOf(
  positions: readonly ScanPosition[],
  totalSegments: number
): (Item | null | undefined)[] {
  const keys: (Item | null | undefined)[] = new Array<Item | null | undefined>(totalSegments).fill(
    undefined
  )
  for (const p of positions) keys[p.segment] = p.done ? null : p.lastEvaluatedKey
  return keys
}

export interface PipelineResult {
  digest: ContentDigest
  scanned: number
  readCapacity: number
  durationMs: number
  /** Everything the engine's pass reported. */
  pass: PassResult
  /** Items/s over each progress interval (the summary's chart). */
  throughput: ThroughputSample[]
}

/**
 * One pass of the engine for a mode: maps the run's inputs to the engine's narrow settings
 * (the source, the consumers, retry time, progress), logs progress and recovered retries,
 * and returns what the pass did.
 */
export async function runPipeline(
  ctx: RunContext,
  options: PipelineOptions
): Promise<PipelineResult> {
  let readUnits = 0
  let scanThrottled = 0
  const progress = new Progress(
    options.label,
    options.approximateItems,
    (line) => core.info(line),
    Date.now,
    ctx.progressIntervalMs,
    () => {
      const writes = options.writer?.stats
      const lookups = options.lookup?.stats
      const units = [`${Math.round(readUnits).toLocaleString('en-US')} read units`]
      if (writes)
        units.push(`${Math.round(writes.consumedCapacity).toLocaleString('en-US')} write units`)
      const throttled = scanThrottled + (writes?.throttled ?? 0) + (lookups?.throttled ?? 0)
      return `${units.join(' + ')} consumed, ${throttled.toLocaleString('en-US')} throttled`
    }
  )
  try {
    const source: ItemSource = options.read
      ? { kind: 'reader', name: options.table, read: options.read }
      : {
          kind: 'table',
          client: ctx.clients.dynamodbItems,
          table: options.table,
          totalSegments: ctx.inputs.totalSegments,
          ...(options.resumeFrom
            ? { startKeys: startKeysOf(options.resumeFrom.positions, ctx.inputs.totalSegments) }
            : {}),
          ...ctx.caps.reading(options.table)
        }
    const pass = await runPass(
      source,
      {
        ...(options.backup ? { backup: options.backup } : {}),
        ...(options.writer ? { writer: options.writer } : {}),
        ...(options.lookup ? { lookup: options.lookup } : {}),
        ...(options.lookupBuckets ? { lookupBuckets: options.lookupBuckets } : {})
      },
      {
        retryTimeoutMs: ctx.inputs.retryTimeoutMs,
        ...(options.shouldStop ? { shouldStop: options.shouldStop } : {}),
        ...(ctx.sleep ? { sleep: ctx.sleep } : {}),
        ...(options.resumeFrom ? { resumeFrom: options.resumeFrom } : {}),
        ...(options.onDurable ? { onDurable: options.onDurable } : {}),
        onItems: (count) => progress.add(count),
        onPageRead: (units) => (readUnits += units),
        onScanRetry: (error, attempt) => {
          if (isThrottling(error)) scanThrottled++
          core.debug(`scan ${options.table}: retry ${attempt} after ${errorName(error) || 'error'}`)
        }
      }
    )
    if (pass.scanRetries > 0)
      core.info(
        `Scan of '${options.table}' recovered from ${pass.scanRetries} throttled or failed request(s).`
      )
    progress.stop()
    core.info(progress.line())
    return {
      throughput: progress.throughput(),
      digest: pass.digest,
      scanned: pass.items,
      readCapacity: pass.readCapacity,
      durationMs: pass.durationMs,
      pass
    }
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
