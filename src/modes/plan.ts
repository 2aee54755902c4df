import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import {
  describeDefinition,
  diffDefinitions,
  differingRows,
  toDefinition,
  type Definition,
  type DefinitionComparison,
  type TableInfo
} from '../dynamo/definitions.js'
import { estimateCopy, type CopyEstimate } from '../dynamo/estimate.js'
import {
  Problems,
  backupDestinationProblems,
  checkCopyPair,
  checkRestorePair,
  restoreScratchProblem
} from '../preflight.js'
import type { PairPlan, RestorePairPlan } from '../report/plan-report.js'
import type { TablePair } from '../types.js'
import { formatDuration } from '../util/progress.js'
import { forEachPair } from './pairs.js'

/**
 * plan: read-only. Describes both tables, their differences, and what copy would do: copy's
 * own refusals, from the same per-pair check copy's preflight runs (checkCopyPair: missing or
 * unusable tables, differing keys or indexes, a non-empty target) and the same questions of
 * the backup destination (reads only: no test write), and an estimate. With `plan-for:
 * restore`, restore's checks instead (planRestore).
 */
export async function runPlan(ctx: RunContext): Promise<void> {
  if (ctx.inputs.planFor === 'restore') return planRestore(ctx)
  // The same questions copy's preflight asks of the backup destination (all reads).
  const backupRefusals = (await backupDestinationProblems(ctx, true, false)).map((p) => p.message)
  const planned: { title: string; plan: PairPlan }[] = []
  try {
    await forEachPair(
      ctx,
      ctx.inputs.pairs.map((pair) => ({ pair })),
      async ({ pair }, report) => {
        const plan = await planPair(ctx, pair, backupRefusals)
        const title = `${pair.source} -> ${pair.target ?? ''}`
        planned.push({ title, plan })
        report.plan = plan
        report.status = 'planned'
        for (const reason of plan.copy.refusals)
          core.warning(`${title}: copy would refuse: ${reason}`)
        for (const note of plan.differences.advisory) core.info(`Advisory difference: ${note}`)
        // The estimate's assumptions, in the log and (as notes) in the job summary.
        const basis = (plan.copy.estimate?.basis ?? []).map((line) => `Estimate: ${line}`)
        for (const line of basis) core.info(line)
        if (basis.length > 0) report.notes = basis
      },
      { stopOnFailure: false }
    )
  } finally {
    // Copy checks every pair before its first write: one refused pair stops them all.
    const blockers = planned.filter((p) => p.plan.copy.refusals.length > 0).map((p) => p.title)
    const unplanned = ctx.inputs.pairs.length - planned.length
    for (const { title, plan } of planned) {
      if (plan.copy.refusals.length === 0 && (blockers.length > 0 || unplanned > 0)) {
        const others =
          blockers.length > 0 ? blockers.join(', ') : 'a pair that could not be planned'
        plan.copy.action = 'refuse'
        plan.copy.refusals.push(
          `copy checks every pair before it writes anything, and it would refuse ${others}`
        )
        core.warning(`${title}: copy would refuse: ${plan.copy.refusals.join('; ')}`)
      }
      core.notice(`${title}: copy would ${plan.copy.action}${describeEstimate(plan.copy.estimate)}`)
    }
  }
}

async function planPair(
  ctx: RunContext,
  pair: TablePair,
  backupRefusals: string[]
): Promise<PairPlan> {
  // copy's own per-pair checks: the refusals are copy's, word for word.
  const problems = new Problems()
  const { source, targetInfo: target, plan: copyPlan } = await checkCopyPair(ctx, pair, problems)
  const refusals = [...problems.messagesFor(pair), ...backupRefusals]
  const sourceDefinition = source ? toDefinition(source) : null
  const targetDefinition = target ? toDefinition(target) : null
  const differences: DefinitionComparison =
    sourceDefinition && targetDefinition
      ? diffDefinitions(sourceDefinition, targetDefinition)
      : { blocking: [], advisory: [], differences: [] }
  const targetHoldsItems = copyPlan !== undefined && !copyPlan.targetWasEmpty
  const plan: PairPlan = {
    source: source && sourceDefinition && planSettings(source, sourceDefinition),
    target: target && targetDefinition && planSettings(target, targetDefinition),
    differences,
    differing: differingRows(differences.differences),
    copy: {
      action: refusals.length > 0 ? 'refuse' : target ? 'copy' : 'create target and copy',
      refusals
    }
  }
  if (source) {
    plan.copy.estimate = estimateCopy(source.description, target?.description ?? null, {
      targetHoldsItems,
      caps: { source: ctx.caps.capsOf(pair.source), target: ctx.caps.capsOf(pair.target ?? '') }
    })
  }
  return plan
}

/** The table's state around its definition, in the order plan's table shows them. */
function planSettings(info: TableInfo, definition: Definition): Record<string, string> {
  const d = info.description
  return {
    status: d.TableStatus ?? '?',
    ...describeDefinition(definition),
    approximateItems: String(d.ItemCount ?? 0),
    approximateBytes: String(d.TableSizeBytes ?? 0)
  }
}

function describeEstimate(e: CopyEstimate | undefined): string {
  if (!e) return ''
  const n = (value: number): string => value.toLocaleString('en-US')
  return ` (~${n(e.items)} items, ~${n(e.writeUnits)} WCU, ~${n(e.sourceReadUnits + e.targetReadUnits)} RCU, ~${formatDuration(e.seconds * 1000)} at ~${n(e.itemsPerSecond)} items/s, limited by ${e.limitedBy}; an estimate)`
}

/**
 * plan-for: restore. Runs restore's own checks of every pair (checkRestorePair, the function
 * restore's preflight calls) and reports each refusal word for word: the backup read and
 * every item checked, the target's state and definition. Writes nothing to AWS; the
 * duplicate-key check keeps scratch files under backup-dir, as restore does.
 */
async function planRestore(ctx: RunContext): Promise<void> {
  const scratchProblem = await restoreScratchProblem(ctx)
  await forEachPair(
    ctx,
    ctx.inputs.pairs.map((pair, index) => ({ pair, index })),
    async ({ pair, index }, report) => {
      const refusals: string[] = []
      if (scratchProblem) refusals.push(scratchProblem)
      const checked = scratchProblem
        ? undefined
        : await checkRestorePair(ctx, pair, index, (_code, message) => refusals.push(message))
      const plan: RestorePairPlan = {
        restore: {
          action:
            refusals.length > 0
              ? 'refuse'
              : checked?.targetInfo
                ? 'restore'
                : 'create target and restore',
          refusals
        }
      }
      if (checked) {
        plan.restore.items = checked.checked.count
        plan.restore.backupKind = checked.backup.kind
      }
      report.plan = plan
      report.status = 'planned'
      const title = `${pair.source} -> ${pair.target ?? ''}`
      for (const reason of refusals) core.warning(`${title}: restore would refuse: ${reason}`)
      core.notice(
        `${title}: restore would ${plan.restore.action}${checked ? ` (${checked.checked.count.toLocaleString('en-US')} items, every one checked)` : ''}`
      )
    },
    { stopOnFailure: false }
  )
}
