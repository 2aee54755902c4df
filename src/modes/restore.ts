import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import {
  applyTimeToLive,
  createTableClone,
  describeTable,
  heldBackSettings,
  keyAttributeNames
} from '../dynamo/tables.js'
import { BatchWriter } from '../dynamo/write.js'
import { ActionError } from '../errors.js'
import { preflightRestore } from '../preflight.js'
import { runPipeline } from '../pipeline.js'
import { MAX_REPORTED_DIFFERENCES, judgeDigests, lookupIn } from '../verify/compare.js'
import { forEachPair } from './pairs.js'
import { itemCount } from '../util/progress.js'

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
      const writer = new BatchWriter(ctx.clients.dynamodbItems, {
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
        } else if (plan.backupTable) {
          for (const note of heldBackSettings(plan.backupTable, targetInfo)) {
            core.warning(note)
            report.notes.push(note)
          }
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
