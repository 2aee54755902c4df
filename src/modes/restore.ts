import type { RunContext } from '../context.js'
import { keyAttributeNames } from '../dynamo/tables.js'
import { ActionError } from '../errors.js'
import { preflightRestore } from '../preflight.js'
import { moveIntoTarget } from './into-target.js'
import { forEachPair } from './pairs.js'

/**
 * restore: BACKUP -> TARGET. Streams the backup (this action's, a DynamoDB export, or an
 * `aws dynamodb scan` file), checked whole before any write by preflight, through the same
 * "into the target and prove it" path as copy; the items read while writing must also be the
 * ones that were checked.
 */
export async function runRestore(ctx: RunContext): Promise<void> {
  const plans = await preflightRestore(ctx)
  await forEachPair(
    ctx,
    plans,
    async (plan, report) => {
      const { backup, target, checked } = plan
      report.notes = [`backup: ${backup.location} (${backup.kind})`]
      const keyTable = plan.targetInfo ?? plan.backupTable
      await moveIntoTarget(ctx, report, {
        source: {
          name: backup.location,
          keyAttributes: keyTable ? keyAttributeNames(keyTable.description) : [],
          read: (onPage) => backup.read(onPage)
        },
        definition: plan.backupTable,
        definitionName: "the backup's table description",
        target,
        targetInfo: plan.targetInfo,
        targetWasEmpty: plan.targetWasEmpty,
        approximateItems: backup.itemCount ?? 0,
        afterWrite: (pass) => {
          report.status = 'restored'
          if (checked.digest !== pass.digest.digest || checked.count !== pass.digest.count) {
            throw new ActionError(
              'restore.backupMismatch',
              `The items read from ${backup.location} while restoring (${pass.digest.count}) differ from those read when it was checked (${checked.count}); the backup changed during the run.`
            )
          }
          return Promise.resolve()
        },
        verb: 'Restored'
      })
    },
    { stopOnFailure: true }
  )
}
