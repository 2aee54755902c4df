import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { finishBackup, openBackup, publishBackup } from '../backup/run.js'
import {
  applyTimeToLive,
  createTableClone,
  describeTable,
  heldBackSettings,
  keyAttributeNames
} from '../dynamo/tables.js'
import { BatchWriter } from '../dynamo/write.js'
import { ActionError } from '../errors.js'
import { runPipeline } from '../pipeline.js'
import { preflightCopy } from '../preflight.js'
import { judgeDigests, tableSource, verifyContained } from '../verify/compare.js'
import { forEachPair } from './pairs.js'
import { itemCount } from '../util/progress.js'

/**
 * copy: for each pair, ONE pass over the source feeds the backup and the target's writer,
 * then the copy is proven: equal item count and content digest when the target started
 * empty, every source item found unchanged by key when it did not.
 */
export async function runCopy(ctx: RunContext): Promise<void> {
  const plans = await preflightCopy(ctx)
  await forEachPair(
    ctx,
    plans,
    async (plan, report) => {
      const { source, target } = plan
      // Settings that differ do not stop a copy, but the user must see them: as warnings
      // and in the summary, not only in the log.
      for (const note of plan.differences.advisory) {
        core.warning(`'${source.name}' -> '${target}': ${note}`)
        ;(report.notes ??= []).push(`differs from the source: ${note}`)
      }
      let targetInfo = plan.targetInfo
      const created = !targetInfo
      if (!targetInfo) {
        core.info(`Creating '${target}' as a clone of '${source.name}'.`)
        const notes = await createTableClone(ctx.clients.dynamodb, source, target, {
          log: (line) => core.info(line),
          ...(ctx.sleep ? { sleep: ctx.sleep } : {})
        })
        for (const note of notes) core.warning(`${target}: ${note}`)
        ;(report.notes ??= []).push(`created '${target}' from the source's definition`, ...notes)
        targetInfo = await describeTable(ctx.clients.dynamodb, target)
        if (!targetInfo)
          throw new ActionError(
            'copy.targetMissing',
            `Target '${target}' vanished after it was created.`
          )
      }

      const writer = new BatchWriter(ctx.clients.dynamodbItems, {
        table: target,
        keyAttributes: keyAttributeNames(source.description),
        maxInFlight: ctx.inputs.writesInFlight,
        retryTimeoutMs: ctx.inputs.retryTimeoutMs,
        ...(ctx.sleep ? { sleep: ctx.sleep } : {}),
        onRetry: ({ reason, attempt, delayMs }) =>
          core.debug(`write ${target}: attempt ${attempt + 1} in ${delayMs} ms (${reason})`)
      })
      try {
        const copyStarted = Date.now()
        const backup = await openBackup(ctx, source)
        const pass = await runPipeline(ctx, {
          table: source.name,
          label: `copy ${source.name} -> ${target}`,
          approximateItems: source.description.ItemCount ?? 0,
          backup,
          writer
        })
        const result = await finishBackup(ctx, backup, source.name, pass.digest.summary())
        report.phases = { copyMs: Date.now() - copyStarted }
        report.scanned = pass.scanned
        report.backupLocations = await publishBackup(ctx, source.name, result)
        report.status = 'copied'
        const { unprocessedRetried, errorsRetried } = writer.stats
        if (unprocessedRetried + errorsRetried > 0) {
          core.warning(
            `${target}: DynamoDB returned ${unprocessedRetried} unprocessed item(s) and ${errorsRetried} throttled or failed call(s); all were retried until written.`
          )
        }

        const verifyStarted = Date.now()
        const verified = plan.targetWasEmpty
          ? await judgeDigests(
              ctx,
              report,
              tableSource(source),
              target,
              pass.digest,
              (
                await runPipeline(ctx, {
                  table: target,
                  label: `verify ${target}`,
                  approximateItems: pass.scanned
                })
              ).digest
            )
          : await verifyContained(ctx, report, source, targetInfo)
        report.phases.verifyMs = Date.now() - verifyStarted
        if (!verified) {
          report.status = 'mismatch'
          throw new ActionError(
            'verify.mismatch',
            `The copy of '${source.name}' in '${target}' does not match (${report.differences?.length ?? 0} differing key(s) listed in the summary). Was the source written to during the copy?`
          )
        }
        if (created) {
          // TTL only now that the copy is proven: on during it, DynamoDB could have deleted
          // expired items from the target before they were verified.
          const note = await applyTimeToLive(ctx.clients.dynamodb, source, target)
          if (note) (report.notes ??= []).push(note)
        } else {
          for (const note of heldBackSettings(source, targetInfo)) {
            core.warning(note)
            ;(report.notes ??= []).push(note)
          }
        }
        report.status = 'verified'
        core.notice(
          `Copied ${itemCount(pass.scanned)} ${source.name} -> ${target}; verified by ${report.verification === 'digest' ? 'count and content digest' : 'key lookup'}.`
        )
      } finally {
        report.written = writer.stats.written
      }
    },
    { stopOnFailure: true }
  )
}
