import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { finishBackup, openBackup, publishBackup } from '../backup/run.js'
import { runPipeline } from '../pipeline.js'
import { preflightBackup } from '../preflight.js'
import { forEachPair } from './pairs.js'
import { itemCount } from '../util/progress.js'

/** backup: one parallel scan of each source into an export-layout backup, read back. */
export async function runBackup(ctx: RunContext): Promise<void> {
  const plans = await preflightBackup(ctx)
  await forEachPair(
    ctx,
    plans,
    async ({ source }, report) => {
      const backup = await openBackup(ctx, source)
      const pass = await runPipeline(ctx, {
        table: source.name,
        label: `backup ${source.name}`,
        approximateItems: source.description.ItemCount ?? 0,
        backup
      })
      const result = await finishBackup(ctx, backup, source.name, pass.digest.summary())
      report.scanned = pass.scanned
      report.sourceCount = pass.digest.count
      report.sourceDigest = pass.digest.digest
      report.backupLocations = await publishBackup(ctx, source.name, result)
      report.status = 'backed-up'
      core.notice(
        `Backed up ${itemCount(pass.scanned)} of '${source.name}' to ${report.backupLocations.join(', ')}`
      )
    },
    { stopOnFailure: false }
  )
}
