import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { ActionError, errorMessage } from '../errors.js'
import type { PairReport, TablePair } from '../types.js'
import type { Verdict } from '../verify/compare.js'

/**
 * Runs one step per table pair, each in its own log group with its own report entry (added
 * before it starts, so the summary shows it whatever happens). With `stopOnFailure`, the
 * pairs after a failure are marked skipped; either way a failure fails the run.
 */
export async function forEachPair<P extends { pair: TablePair }>(
  ctx: RunContext,
  plans: readonly P[],
  step: (plan: P, report: PairReport) => Promise<void>,
  options: { stopOnFailure: boolean }
): Promise<void> {
  const reports = plans.map((plan) => {
    const report: PairReport = { source: plan.pair.source, status: 'pending' }
    if (plan.pair.target !== undefined) report.target = plan.pair.target
    ctx.report.pairs.push(report)
    return report
  })
  const failures: PairReport[] = []
  for (const [index, plan] of plans.entries()) {
    const report = reports[index] as PairReport
    if (options.stopOnFailure && failures.length > 0) {
      report.status = 'skipped'
      report.error = 'not started: an earlier pair failed'
      continue
    }
    const started = Date.now()
    const title = plan.pair.target ? `${plan.pair.source} -> ${plan.pair.target}` : plan.pair.source
    await core.group(title, async () => {
      try {
        await step(plan, report)
      } catch (error) {
        if (report.status !== 'mismatch') report.status = 'failed'
        report.error = errorMessage(error)
        if (error instanceof ActionError) report.errorCode = error.code
        if (error instanceof Error && error.stack) core.debug(error.stack)
        failures.push(report)
        core.error(`${title}: ${report.error}`)
      } finally {
        report.durationMs = Date.now() - started
      }
    })
  }
  if (failures.length > 0) {
    // Each failed pair has its own error annotation above, with its reason; the step's own
    // failure names them without repeating the reasons.
    const first = failures[0] as PairReport
    const names = failures.map((f) => (f.target ? `${f.source} -> ${f.target}` : f.source))
    throw new ActionError(
      first.errorCode ?? 'pair.failed',
      `${failures.length} of ${plans.length} ${plans.length === 1 ? 'pair' : 'pairs'} failed (${names.join(', ')}); the reasons are in the errors above and in the job summary.`
    )
  }
}

/** Puts what a proof found into a pair's report entry. */
export function recordVerdict(report: PairReport, verdict: Verdict): boolean {
  report.verification = verdict.verification
  report.verified = verdict.verified
  report.sourceCount = verdict.sourceCount
  report.targetCount = verdict.targetCount
  report.sourceDigest = verdict.sourceDigest
  report.targetDigest = verdict.targetDigest
  if (verdict.differences) report.differences = verdict.differences
  return verdict.verified
}
