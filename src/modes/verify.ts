import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { ActionError } from '../errors.js'
import { runSideBySide } from '../pipeline.js'
import { preflightVerify } from '../preflight.js'
import { judgeDigests, tableSource } from '../verify/compare.js'
import { forEachPair, recordVerdict } from './pairs.js'
import { itemCount } from '../util/progress.js'

/** verify: scans source and target side by side; equal count and content digest, or a list of differing keys. */
export async function runVerify(ctx: RunContext): Promise<void> {
  const plans = await preflightVerify(ctx)
  await forEachPair(
    ctx,
    plans,
    async ({ source, target }, report) => {
      const [sourcePass, targetPass] = await runSideBySide(
        ctx,
        {
          table: source.name,
          label: `digest ${source.name}`,
          approximateItems: source.description.ItemCount ?? 0
        },
        {
          table: target.name,
          label: `digest ${target.name}`,
          approximateItems: target.description.ItemCount ?? 0
        }
      )
      report.scanned = sourcePass.scanned + targetPass.scanned
      const equal = recordVerdict(
        report,
        await judgeDigests(
          ctx,
          tableSource(source),
          target.name,
          sourcePass.digest,
          targetPass.digest
        )
      )
      if (!equal) {
        report.status = 'mismatch'
        throw new ActionError(
          'verify.mismatch',
          `'${source.name}' (${itemCount(sourcePass.digest.count)}) and '${target.name}' (${itemCount(targetPass.digest.count)}) differ; ${report.differences?.length ?? 0} differing key(s) are listed in the summary.`
        )
      }
      report.status = 'verified'
      core.notice(
        `'${source.name}' and '${target.name}' hold the same ${itemCount(sourcePass.digest.count)}.`
      )
    },
    { stopOnFailure: false }
  )
}
