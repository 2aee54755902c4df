import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { keyAttributeNames, type TableInfo } from '../dynamo/tables.js'
import { runPipeline, runSideBySide } from '../pipeline.js'
import type { Item, KeyDifference } from '../types.js'
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
    ...ctx.caps.reading(table),
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

/** What a proof found: the mode maps it into its report. */
export interface Verdict {
  verification: 'digest' | 'by-key'
  verified: boolean
  sourceCount: number
  targetCount: number
  sourceDigest: string
  targetDigest: string
  /** Up to MAX_REPORTED_DIFFERENCES keys that differ (keys only), when not verified. */
  differences?: KeyDifference[]
}

/** Decides from two full digests; when they differ, names the keys that differ. */
export async function judgeDigests(
  ctx: RunContext,
  source: ComparedSource,
  target: string,
  sourceDigest: ContentDigest,
  targetDigest: ContentDigest
): Promise<Verdict> {
  const verified =
    sourceDigest.count === targetDigest.count && sourceDigest.digest === targetDigest.digest
  const verdict: Verdict = {
    verification: 'digest',
    verified,
    sourceCount: sourceDigest.count,
    targetCount: targetDigest.count,
    sourceDigest: sourceDigest.digest,
    targetDigest: targetDigest.digest
  }
  if (!verified) {
    core.info(`'${source.name}' and '${target}' differ; looking for the differing keys.`)
    verdict.differences = await findDifferences(
      ctx,
      source,
      target,
      sourceDigest.differingBuckets(targetDigest)
    )
  }
  return verdict
}

/**
 * Proves that every source item is in the target, unchanged, by key (the target may hold
 * more). Reads the source once (a table scan or a backup), looking every item up in the
 * target with BatchGetItem, and digests the target alongside for the counts.
 */
export async function verifyContained(
  ctx: RunContext,
  source: ComparedSource,
  target: string,
  approximateItems: number
): Promise<Verdict> {
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
  const verified = lookup.differences === 0
  return {
    verification: 'by-key',
    verified,
    sourceCount: sourcePass.digest.count,
    targetCount: targetPass.digest.count,
    sourceDigest: sourcePass.digest.digest,
    targetDigest: targetPass.digest.digest,
    ...(verified ? {} : { differences: lookup.examples })
  }
}
