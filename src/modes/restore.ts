import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { openBackupSource, type BackupSource } from '../backup/reader.js'
import type { StoredTableDescription } from '../backup/format.js'
import {
  applyTimeToLive,
  compareDefinitions,
  createTableClone,
  describeTable,
  isTableEmpty,
  keyAttributeNames,
  type TableInfo
} from '../dynamo/tables.js'
import { KeyChecker, keyRulesOf } from '../dynamo/key-check.js'
import { BatchWriter } from '../dynamo/write.js'
import { ActionError, errorMessage } from '../errors.js'
import { Problems } from '../preflight.js'
import { runPipeline } from '../pipeline.js'
import type { DigestSummary, TablePair } from '../types.js'
import { MAX_REPORTED_DIFFERENCES, judgeDigests, lookupIn } from '../verify/compare.js'
import { forEachPair } from './pairs.js'
import { itemCount } from '../util/progress.js'

interface RestorePlan {
  pair: TablePair
  backup: BackupSource
  target: string
  targetInfo: TableInfo | null
  targetWasEmpty: boolean
  /** The backup's table as TableInfo (for create-target and key checks), when it carries one. */
  backupTable: TableInfo | null
  /** Count and digest of the backup's items, from the check before any write. */
  checked: DigestSummary
}

export function tableInfoFromBackup(stored: StoredTableDescription, name: string): TableInfo {
  return {
    name,
    description: stored.table,
    timeToLive: stored.timeToLive ?? 'unsupported',
    pointInTimeRecovery: stored.pointInTimeRecovery ?? 'unsupported',
    tags: stored.tags ?? 'unsupported'
  }
}

async function preflightRestore(ctx: RunContext): Promise<RestorePlan[]> {
  const { inputs } = ctx
  const problems = new Problems()
  const plans: RestorePlan[] = []
  for (const pair of inputs.pairs) {
    const note = (code: string, message: string): void => problems.add(code, message, pair)
    const target = pair.target ?? ''
    let backup: BackupSource
    try {
      backup = await openBackupSource(pair.source, ctx.clients.s3)
    } catch (error) {
      note(
        error instanceof ActionError ? error.code : 'restore.backupUnreadable',
        errorMessage(error)
      )
      continue
    }
    const backupTable = backup.description
      ? tableInfoFromBackup(backup.description, backup.description.table.TableName ?? pair.source)
      : null
    const targetInfo = await describeTable(ctx.clients.dynamodb, target)
    let targetWasEmpty = true
    if (!targetInfo) {
      if (!inputs.createTarget) {
        note(
          'preflight.missingTarget',
          `Target table '${target}' does not exist. Create it first, or set 'create-target: true' to create it from the backup's table description.`
        )
      } else if (!backupTable) {
        note(
          'restore.noDescription',
          `Target table '${target}' does not exist and backup '${pair.source}' (${backup.kind === 'scan-json' ? "an 'aws dynamodb scan' file" : 'a DynamoDB export'}) carries no table description to create it from. Create the table first (with your IaC), then restore into it.`
        )
      }
    } else {
      if (backupTable) {
        const blocking = compareDefinitions(backupTable, targetInfo).blocking
        if (blocking.length > 0) {
          note(
            'preflight.definitionMismatch',
            `'${pair.source}' -> '${target}': the backup's table and the target differ: ${blocking.join('; ')}.`
          )
        }
      }
      targetWasEmpty = await isTableEmpty(ctx.clients.dynamodb, target)
      if (!targetWasEmpty && !inputs.allowNonEmptyTarget) {
        note(
          'preflight.targetNotEmpty',
          `Target table '${target}' already holds items. Empty it, or set 'allow-non-empty-target: true' (items with the same key are overwritten).`
        )
      }
    }
    // Read the whole backup once before writing anything: every file's checksum and count,
    // and the items' digest against the manifest's. A damaged backup writes nothing.
    // Every item must also carry the keys the target takes, or DynamoDB would reject a batch
    // halfway through the restore.
    const keyTable = targetInfo ?? backupTable
    const keys = keyTable ? new KeyChecker(keyRulesOf(keyTable.description)) : undefined
    let checked: DigestSummary
    try {
      const pass = await runPipeline(ctx, {
        table: target,
        label: `checking backup ${backup.location}`,
        approximateItems: backup.itemCount ?? 0,
        read: (onPage) =>
          backup.read(async (items) => {
            keys?.check(items)
            await onPage(items)
          })
      })
      checked = pass.digest.summary()
    } catch (error) {
      note(error instanceof ActionError ? error.code : 'backup.corrupt', errorMessage(error))
      continue
    }
    if (keys && keys.rejected > 0) {
      note(
        'restore.keyMismatch',
        `${keys.rejected} item(s) of backup ${backup.location} do not fit the keys of '${keyTable?.name ?? target}', so DynamoDB would reject them. First: ${keys.examples.join('; ')}.`
      )
      continue
    }
    if (
      backup.digest &&
      (backup.digest.digest !== checked.digest || backup.digest.count !== checked.count)
    ) {
      note(
        'backup.corrupt',
        `Backup ${backup.location} holds ${itemCount(checked.count)} whose digest does not match its manifest (${itemCount(backup.digest.count)}); it is damaged or not the backup its manifest describes.`
      )
      continue
    }
    plans.push({ pair, backup, target, targetInfo, targetWasEmpty, backupTable, checked })
  }
  problems.throwIfAny(ctx)
  return plans
}

/**
 * restore: BACKUP -> TARGET. Streams the backup (this action's, a DynamoDB export, or an
 * `aws dynamodb scan` file) through the one write path, then proves the target: the items
 * read match the manifest's count and digest when there is one, and the target matches the
 * items read (by digest when it started empty, by key when it did not).
 */
export async function runRestore(ctx: RunContext): Promise<void> {
  const plans = await preflightRestore(ctx)
  await forEachPair(
    ctx,
    plans,
    async (plan, report) => {
      const { backup, target } = plan
      report.notes = [`backup: ${backup.location} (${backup.kind})`]
      let targetInfo = plan.targetInfo
      const created = !targetInfo
      if (!targetInfo && plan.backupTable) {
        core.info(`Creating '${target}' from the backup's table description.`)
        const notes = await createTableClone(ctx.clients.dynamodb, plan.backupTable, target, {
          log: (line) => core.info(line),
          ...(ctx.sleep ? { sleep: ctx.sleep } : {})
        })
        report.notes.push(`created '${target}' from the backup's table description`, ...notes)
        targetInfo = await describeTable(ctx.clients.dynamodb, target)
      }
      if (!targetInfo)
        throw new ActionError('restore.targetMissing', `Target table '${target}' does not exist.`)

      const keyAttributes = keyAttributeNames(targetInfo.description)
      const writer = new BatchWriter(ctx.clients.dynamodb, {
        table: target,
        keyAttributes,
        maxInFlight: ctx.inputs.writesInFlight,
        retryTimeoutMs: ctx.inputs.retryTimeoutMs,
        ...(ctx.sleep ? { sleep: ctx.sleep } : {})
      })
      try {
        const started = Date.now()
        const pass = await runPipeline(ctx, {
          table: target,
          label: `restore ${backup.location} -> ${target}`,
          approximateItems: backup.itemCount ?? 0,
          read: (onPage) => backup.read(onPage),
          writer
        })
        report.scanned = pass.scanned
        report.sourceCount = pass.digest.count
        report.sourceDigest = pass.digest.digest
        report.phases = { copyMs: Date.now() - started }
        report.status = 'restored'
        if (
          plan.checked.digest !== pass.digest.digest ||
          plan.checked.count !== pass.digest.count
        ) {
          throw new ActionError(
            'restore.backupMismatch',
            `The items read from ${backup.location} while restoring (${pass.digest.count}) differ from those read when it was checked (${plan.checked.count}); the backup changed during the run.`
          )
        }

        const verifyStarted = Date.now()
        let verified: boolean
        if (plan.targetWasEmpty) {
          const targetPass = await runPipeline(ctx, {
            table: target,
            label: `verify ${target}`,
            approximateItems: pass.scanned
          })
          verified = await judgeDigests(
            ctx,
            report,
            { name: backup.location, keyAttributes, read: (onPage) => backup.read(onPage) },
            target,
            pass.digest,
            targetPass.digest
          )
        } else {
          const lookup = lookupIn(
            ctx,
            target,
            keyAttributes,
            'missing-in-target',
            MAX_REPORTED_DIFFERENCES
          )
          await runPipeline(ctx, {
            table: target,
            label: `verify ${target} by key`,
            approximateItems: pass.scanned,
            read: (onPage) => backup.read(onPage),
            lookup
          })
          report.verification = 'by-key'
          verified = lookup.differences === 0
          report.verified = verified
          if (!verified) report.differences = lookup.examples
        }
        report.phases.verifyMs = Date.now() - verifyStarted
        if (!verified) {
          report.status = 'mismatch'
          throw new ActionError(
            'verify.mismatch',
            `The restored table '${target}' does not match backup ${backup.location}.`
          )
        }
        if (created && plan.backupTable) {
          // TTL only now that the copy is proven: on during it, DynamoDB could have deleted
          // expired items from the target before they were verified.
          const note = await applyTimeToLive(ctx.clients.dynamodb, plan.backupTable, target)
          if (note) report.notes.push(note)
        }
        report.status = 'verified'
        core.notice(
          `Restored ${itemCount(pass.scanned)} from ${backup.location} into ${target}; verified.`
        )
      } finally {
        report.written = writer.stats.written
      }
    },
    { stopOnFailure: true }
  )
}
