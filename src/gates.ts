import * as path from 'node:path'
import * as core from '@actions/core'
import type { RunContext } from './context.js'
import { findExports } from './backup/reader.js'
import { finishBackup, openBackup, publishBackup } from './backup/run.js'
import { backupDirProblem } from './backup/destination.js'
import { joinKey } from './backup/s3.js'
import { LocalStore, S3Store, type BackupStore } from './backup/store.js'
import { keyAttributeNames, type TableInfo } from './dynamo/tables.js'
import { GateError, errorMessage } from './errors.js'
import { runPipeline } from './pipeline.js'
import type { ContentDigest } from './verify/digest.js'
import { MAX_REPORTED_DIFFERENCES, lookupIn } from './verify/compare.js'
import { itemCount } from './util/progress.js'

/** Gate 2: `confirm-delete` names exactly the source tables, no more, no fewer. */
export function checkConfirmList(confirm: readonly string[], sources: readonly string[]): void {
  const wanted = new Set(sources)
  const given = new Set(confirm)
  const missing = [...wanted].filter((name) => !given.has(name))
  const extra = [...given].filter((name) => !wanted.has(name))
  const twice = [...given].filter((name) => confirm.indexOf(name) !== confirm.lastIndexOf(name))
  if (missing.length > 0 || extra.length > 0 || twice.length > 0) {
    const parts: string[] = []
    if (twice.length > 0) parts.push(`it names ${twice.map((n) => `'${n}'`).join(', ')} twice`)
    if (missing.length > 0)
      parts.push(`it does not name ${missing.map((n) => `'${n}'`).join(', ')}`)
    if (extra.length > 0)
      parts.push(
        `it names ${extra.map((n) => `'${n}'`).join(', ')}, which ${extra.length === 1 ? 'is' : 'are'} not a source of 'tables'`
      )
    throw new GateError(
      'gate.confirmMismatch',
      `Input 'confirm-delete' must list exactly the source tables to delete (${sources.join(', ')}), but ${parts.join(' and ')}.`
    )
  }
}

/** Gate 5: the source's deletion protection is off. */
export function checkDeletionProtection(source: TableInfo): void {
  if (source.description.DeletionProtectionEnabled) {
    throw new GateError(
      'gate.deletionProtection',
      `Table '${source.name}' has deletion protection on, so it is not deleted. If it really is to go, turn protection off first (aws dynamodb update-table --table-name ${source.name} --no-deletion-protection-enabled, or DeletionProtectionEnabled: false in your IaC), then run again.`
    )
  }
}

export interface ContainedResult {
  digest: ContentDigest
  checked: number
}

/**
 * Gate 4: every source item is in the target, unchanged, found by key with BatchGetItem (the
 * target may hold more). The same scan digests the source for gate 3.
 */
export async function checkSourceInTarget(
  ctx: RunContext,
  source: TableInfo,
  target: string
): Promise<ContainedResult> {
  const lookup = lookupIn(
    ctx,
    target,
    keyAttributeNames(source.description),
    'missing-in-target',
    MAX_REPORTED_DIFFERENCES
  )
  const pass = await runPipeline(ctx, {
    table: source.name,
    label: `checking ${source.name} by key in ${target}`,
    approximateItems: source.description.ItemCount ?? 0,
    lookup
  })
  if (lookup.differences > 0) {
    throw new GateError(
      'gate.notInTarget',
      `${lookup.missing} item(s) of '${source.name}' are missing from '${target}' and ${lookup.differing} differ, so '${source.name}' is not deleted. First keys: ${lookup.examples.map((e) => `${e.kind} ${e.key}`).join('; ')}.`
    )
  }
  return { digest: pass.digest, checked: lookup.checked }
}

/**
 * Where gate 3 looks for a backup: under backup-s3-uri when it is set (a folder on the
 * runner's disk does not outlive the job, so it cannot stand in for S3), else under
 * backup-dir (e.g. a workflow artifact downloaded there by an earlier step), which is then
 * uploaded as this run's artifact.
 */
function backupStores(ctx: RunContext, table: string): BackupStore[] {
  const s3 = ctx.inputs.backupS3
  if (s3) return [new S3Store(ctx.clients.s3, s3.bucket, joinKey(s3.prefix, table))]
  return [new LocalStore(path.join(ctx.inputs.backupDir, table))]
}

/** A matching backup found under backup-dir, uploaded as this run's artifact. */
async function publishLocalMatch(
  ctx: RunContext,
  table: string,
  exportDir: string
): Promise<string[]> {
  const root = path.dirname(path.dirname(exportDir))
  const files = (await new LocalStore(root).list()).map((f) => path.join(root, f))
  return publishBackup(ctx, table, { locations: [root], localDir: root, localFiles: files })
}

/**
 * Gate 3: a readable backup of the source's current content. First a backup under
 * backup-s3-uri or backup-dir whose manifest digest equals the source's digest now, read
 * back in full (every file's checksum, count and the digest of its items); else, with a
 * destination set, a fresh backup that is read back. Neither: refuse.
 */
export async function ensureBackup(
  ctx: RunContext,
  source: TableInfo,
  current: ContentDigest
): Promise<string[]> {
  if (!ctx.inputs.backupS3 && !ctx.inputs.backupArtifact) {
    // A backup on the runner's disk alone is gone when the job ends: never enough to delete.
    throw new GateError(
      'gate.noBackup',
      `'${source.name}' is not deleted without a backup that outlives this job, and no durable destination is set. Set 'backup-s3-uri' (a matching backup there is used, or a fresh one taken), or 'backup-artifact: true' (a matching backup under '${ctx.inputs.backupDir}', e.g. a downloaded artifact, is uploaded as this run's artifact, or a fresh one is).`
    )
  }
  for (const store of backupStores(ctx, source.name)) {
    let candidates
    try {
      candidates = await findExports(store)
    } catch (error) {
      core.warning(`Could not list backups in ${store.location}: ${errorMessage(error)}`)
      continue
    }
    for (const candidate of candidates) {
      if (
        candidate.kind !== 'action' ||
        candidate.digest?.digest !== current.digest ||
        candidate.digest.count !== current.count
      )
        continue
      try {
        const read = await runPipeline(ctx, {
          table: source.name,
          label: `reading back ${candidate.location}`,
          approximateItems: current.count,
          read: (onPage) => candidate.read(onPage)
        })
        if (read.digest.digest === current.digest && read.digest.count === current.count) {
          core.info(
            `Backup ${candidate.location} holds exactly the current content of '${source.name}'.`
          )
          if (ctx.inputs.backupS3) return [candidate.location]
          return publishLocalMatch(ctx, source.name, candidate.location)
        }
        core.warning(
          `Backup ${candidate.location} does not read back as its manifest says; not used.`
        )
      } catch (error) {
        core.warning(
          `Backup ${candidate.location} could not be read back (${errorMessage(error)}); not used.`
        )
      }
    }
  }
  core.info(`No backup of the current content of '${source.name}' found; taking one now.`)
  const dirProblem = await backupDirProblem(ctx.inputs.backupDir, true)
  if (dirProblem) {
    throw new GateError(
      'gate.backupDirUnusable',
      `'${source.name}' is not deleted: a fresh backup is needed and input 'backup-dir' cannot hold it: ${dirProblem}.`
    )
  }
  const writer = await openBackup(ctx, source)
  const pass = await runPipeline(ctx, {
    table: source.name,
    label: `backup ${source.name}`,
    approximateItems: current.count,
    backup: writer
  })
  const result = await finishBackup(ctx, writer, source.name, pass.digest.summary())
  if (pass.digest.digest !== current.digest || pass.digest.count !== current.count) {
    throw new GateError(
      'gate.sourceChanged',
      `'${source.name}' changed while it was being checked (${itemCount(current.count)}, then ${itemCount(pass.digest.count)}); something still writes to it. Stop the writers, then run again.`
    )
  }
  return publishBackup(ctx, source.name, result)
}
