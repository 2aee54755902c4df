import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { finishBackup, openBackup, publishBackup } from '../backup/run.js'
import { openBackupSource } from '../backup/reader.js'
import { ActionError } from '../errors.js'
import { preflightCopy } from '../preflight.js'
import { itemCount } from '../util/progress.js'
import { ContentDigest } from '../verify/digest.js'
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
        proveResumedBackup: async (digest) => {
          const location = report.backupLocations?.[0]
          if (!location) return
          const backup = await openBackupSource(location, ctx.clients.s3)
          const read = new ContentDigest()
          await backup.read((items) => {
            for (const item of items) read.add(item)
            return Promise.resolve()
          })
          if (read.digest !== digest.digest || read.count !== digest.count) {
            throw new ActionError(
              'backup.readBackFailed',
              `The resumed backup ${location} read back holds ${itemCount(read.count)} that do not match the source's ${itemCount(digest.count)}. It is not a backup of '${source.name}': copy again from the start.`
            )
          }
          core.info(
            `Read the resumed backup ${location} back whole: it holds exactly the source's items.`
          )
        },
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
