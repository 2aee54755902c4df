import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { finishBackup, openBackup, publishBackup } from '../backup/run.js'
import { preflightCopy } from '../preflight.js'
import { tableSource } from '../verify/compare.js'
import { moveIntoTarget } from './into-target.js'
import { forEachPair } from './pairs.js'

/**
 * copy: for each pair, ONE pass over the source feeds the backup and the target's writer,
 * then the copy is proven (see moveIntoTarget): equal item count and content digest when the
 * target started empty, every source item found unchanged by key when it did not.
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
      await moveIntoTarget(ctx, report, {
        source: tableSource(source),
        definition: source,
        definitionName: `the definition of '${source.name}'`,
        target,
        targetInfo: plan.targetInfo,
        targetWasEmpty: plan.targetWasEmpty,
        approximateItems: source.description.ItemCount ?? 0,
        openBackup: () =>
          openBackup(ctx, source, {
            checkpointing: true,
            ...(plan.checkpoint?.from ? { resume: plan.checkpoint.from } : {})
          }),
        ...(plan.checkpoint ? { checkpoint: plan.checkpoint } : {}),
        afterWrite: async (pass, backup) => {
          if (!backup) return
          const result = await finishBackup(ctx, backup, source.name, pass.digest.summary())
          report.backupLocations = await publishBackup(ctx, source.name, result)
          report.status = 'copied'
        },
        verb: 'Copied'
      })
    },
    { stopOnFailure: true }
  )
}
