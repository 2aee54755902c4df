import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { estimateCopy, type CopyEstimate } from '../dynamo/estimate.js'
import {
  compareDefinitions,
  describeSettings,
  describeTable,
  isTableEmpty,
  type DefinitionDifferences
} from '../dynamo/tables.js'
import { forEachPair } from './pairs.js'

export interface PairPlan {
  source: Record<string, string> | null
  target: Record<string, string> | null
  differences: DefinitionDifferences
  /** What `copy` would do with the same inputs. */
  copy: {
    action: 'copy' | 'create target and copy' | 'refuse'
    refusals: string[]
    estimate?: CopyEstimate
  }
}

/** plan: read-only. Describes both tables, their differences, and what copy would do. */
export async function runPlan(ctx: RunContext): Promise<void> {
  const { inputs } = ctx
  await forEachPair(
    ctx,
    inputs.pairs.map((pair) => ({ pair })),
    async ({ pair }, report) => {
      const source = await describeTable(ctx.clients.dynamodb, pair.source)
      const target = pair.target ? await describeTable(ctx.clients.dynamodb, pair.target) : null
      const refusals: string[] = []
      if (!source) refusals.push(`source table '${pair.source}' does not exist`)
      if (pair.target && !target && !inputs.createTarget) {
        refusals.push(
          `target table '${pair.target}' does not exist (set 'create-target: true' to clone it from the source)`
        )
      }
      const differences =
        source && target ? compareDefinitions(source, target) : { blocking: [], advisory: [] }
      refusals.push(...differences.blocking)
      if (
        target &&
        !inputs.allowNonEmptyTarget &&
        !(await isTableEmpty(ctx.clients.dynamodb, target.name))
      ) {
        refusals.push(
          `target table '${target.name}' already holds items (set 'allow-non-empty-target: true' to copy into it anyway)`
        )
      }
      if (!inputs.backupS3 && !inputs.backupArtifact) {
        refusals.push("no backup destination ('backup-s3-uri' or 'backup-artifact: true')")
      }
      const plan: PairPlan = {
        source: source ? describeSettings(source) : null,
        target: target ? describeSettings(target) : null,
        differences,
        copy: {
          action: refusals.length > 0 ? 'refuse' : target ? 'copy' : 'create target and copy',
          refusals
        }
      }
      if (source) plan.copy.estimate = estimateCopy(source.description, target?.description ?? null)
      report.plan = plan
      report.status = 'planned'
      if (source) report.sourceCount = source.description.ItemCount ?? 0
      if (target) report.targetCount = target.description.ItemCount ?? 0
      for (const reason of refusals)
        core.warning(`${pair.source} -> ${pair.target ?? ''}: copy would refuse: ${reason}`)
      for (const note of differences.advisory) core.info(`Advisory difference: ${note}`)
      core.notice(
        `${pair.source} -> ${pair.target ?? ''}: copy would ${plan.copy.action === 'refuse' ? 'refuse' : plan.copy.action}${plan.copy.estimate ? ` (~${plan.copy.estimate.items} items, ~${plan.copy.estimate.writeUnits} WCU, ~${plan.copy.estimate.seconds}s)` : ''}`
      )
    },
    { stopOnFailure: false }
  )
}
