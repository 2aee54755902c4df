import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { keyAttributeNames, type TableInfo } from '../dynamo/tables.js'
import { runPipeline, runSideBySide } from '../pipeline.js'
import type { Item, KeyDifference, PairReport } from '../types.js'
import type { ContentDigest } from './digest.js'
import { KeyLookup } from './lookup.js'

export const MAX_REPORTED_DIFFERENCES = 20

/** A KeyLookup in `table` with the run's concurrency and retry settings. */
export function lookupIn(
  ctx: RunContext,
  table: string,
  keyAttributes: string[],
  kind: KeyDifference['kind'],
  limit: number
): KeyLookup {
  return new KeyLookup(ctx.clients.dynamodbItems, {
    table,
    keyAttributes,
    maxInFlight: Math.max(2, Math.floor(ctx.inputs.writesInFlight / 2)),
    retryTimeoutMs: ctx.inputs.retryTimeoutMs,
    missingKind: kind,
    exampleLimit: limit,
    // Looking target items up in the source only finds what is missing there: items that
    // differ were found from the source's side already.
    reportDiffering: kind !== 'only-in-target',
    ...(ctx.sleep ? { sleep: ctx.sleep } : {})
  })
}

/** What is compared against a target: a table, or a backup read item by item. */
export interface ComparedSource {
  name: string
  keyAttributes: string[]
  /** Reads the items from a backup instead of scanning the table `name`. */
  read?: (onPage: (items: Item[]) => Promise<void>) => Promise<number>
}

export function tableSource(info: TableInfo): ComparedSource {
  return { name: info.name, keyAttributes: keyAttributeNames(info.description) }
}

/**
 * Names up to `limit` keys that differ between a source and a target whose digests differ.
 * Only the digest buckets that differ are looked at: source items there are looked up in
 * the target (missing or different), then, for a table source, target items there are looked
 * up in the source (only in the target). Memory stays bounded: nothing is kept but examples.
 */
export async function findDifferences(
  ctx: RunContext,
  source: ComparedSource,
  target: string,
  buckets: Set<number>,
  limit = MAX_REPORTED_DIFFERENCES
): Promise<KeyDifference[]> {
  const keys = source.keyAttributes
  const forward = lookupIn(ctx, target, keys, 'missing-in-target', limit)
  await runPipeline(ctx, {
    table: source.name,
    label: `finding differences in ${source.name}`,
    approximateItems: 0,
    ...(source.read ? { read: source.read } : {}),
    lookup: forward,
    lookupBuckets: buckets,
    shouldStop: () => forward.examples.length >= limit
  })
  const examples = forward.examples.slice(0, limit)
  if (examples.length < limit && !source.read) {
    const backward = lookupIn(ctx, source.name, keys, 'only-in-target', limit - examples.length)
    await runPipeline(ctx, {
      table: target,
      label: `finding differences in ${target}`,
      approximateItems: 0,
      lookup: backward,
      lookupBuckets: buckets,
      shouldStop: () => backward.examples.length >= limit - examples.length
    })
    examples.push(...backward.examples)
  }
  return examples.slice(0, limit)
}

/** Fills the report's digest fields and decides `verified` from two full digests. */
export async function judgeDigests(
  ctx: RunContext,
  report: PairReport,
  source: ComparedSource,
  target: string,
  sourceDigest: ContentDigest,
  targetDigest: ContentDigest
): Promise<boolean> {
  report.sourceCount = sourceDigest.count
  report.targetCount = targetDigest.count
  report.sourceDigest = sourceDigest.digest
  report.targetDigest = targetDigest.digest
  report.verification = 'digest'
  const equal =
    sourceDigest.count === targetDigest.count && sourceDigest.digest === targetDigest.digest
  report.verified = equal
  if (!equal) {
    core.info(`'${source.name}' and '${target}' differ; looking for the differing keys.`)
    report.differences = await findDifferences(
      ctx,
      source,
      target,
      sourceDigest.differingBuckets(targetDigest)
    )
  }
  return equal
}

/**
 * Proves that every source item is in the target, unchanged, by key (the target may hold
 * more). Reads the source once (a table scan or a backup), looking every item up in the
 * target with BatchGetItem, and digests the target alongside for the counts.
 */
export async function verifyContained(
  ctx: RunContext,
  report: PairReport,
  source: ComparedSource,
  target: string,
  approximateItems: number
): Promise<boolean> {
  const lookup = lookupIn(
    ctx,
    target,
    source.keyAttributes,
    'missing-in-target',
    MAX_REPORTED_DIFFERENCES
  )
  const [sourcePass, targetPass] = await runSideBySide(
    ctx,
    {
      table: source.name,
      label: `verify ${source.name} by key in ${target}`,
      approximateItems,
      ...(source.read ? { read: source.read } : {}),
      lookup
    },
    { table: target, label: `digest ${target}`, approximateItems }
  )
  report.sourceCount = sourcePass.digest.count
  report.targetCount = targetPass.digest.count
  report.sourceDigest = sourcePass.digest.digest
  report.targetDigest = targetPass.digest.digest
  report.verification = 'by-key'
  report.verified = lookup.differences === 0
  if (!report.verified) report.differences = lookup.examples
  return report.verified
}
