import * as core from '@actions/core'
import { DeleteTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb'
import type { RunContext } from '../context.js'
import { describeTable, type TableInfo } from '../dynamo/tables.js'
import { ActionError, GateError, errorMessage, isNamed } from '../errors.js'
import {
  checkConfirmList,
  checkDeletionProtection,
  checkSourceInTarget,
  ensureBackup
} from '../gates.js'
import { approvalContextFromEnv, checkApproval } from '../github/approvals.js'
import { runTogether } from '../pipeline.js'
import type { DigestSummary, PairReport } from '../types.js'
import { isRetryableAwsError, sleep as realSleep } from '../util/retry.js'
import { itemCount } from '../util/progress.js'

function gate(ctx: RunContext, name: string, detail: string): void {
  ;(ctx.report.gates ??= []).push({ gate: name, passed: true, detail })
  core.info(`Gate passed: ${name}: ${detail}`)
}

async function waitUntilGone(ctx: RunContext, table: string): Promise<void> {
  const wait = ctx.sleep ?? realSleep
  const deadline = Date.now() + 30 * 60_000
  for (let delay = 500; Date.now() < deadline; delay = Math.min(delay * 2, 10_000)) {
    try {
      await ctx.clients.dynamodb.send(new DescribeTableCommand({ TableName: table }))
    } catch (error) {
      if (isNamed(error, 'ResourceNotFoundException')) return
      // DeleteTable was accepted: a throttled or failed look does not undo that.
      if (!isRetryableAwsError(error)) throw error
    }
    await wait(delay)
  }
  throw new ActionError(
    'delete.timeout',
    `Table '${table}' was still there 30 minutes after DeleteTable.`
  )
}

/**
 * The last gate: every source scanned once more, all at once, right before the deletes,
 * must hold exactly the items proven to be in the target and the backup.
 */
async function checkUnchanged(
  ctx: RunContext,
  sources: readonly TableInfo[],
  proven: readonly DigestSummary[]
): Promise<void> {
  const passes = await runTogether(
    ctx,
    sources.map((source) => ({
      table: source.name,
      label: `last look at ${source.name}`,
      approximateItems: source.description.ItemCount ?? 0
    }))
  )
  const changed = sources.filter((source, i) => {
    const now = passes[i]?.digest
    const then = proven[i]
    return !now || !then || now.count !== then.count || now.digest !== then.digest
  })
  if (changed.length > 0) {
    throw new GateError(
      'gate.sourceChanged',
      `${changed.map((s) => `'${s.name}'`).join(', ')} changed after ${changed.length === 1 ? 'it was' : 'they were'} checked: something still writes to ${changed.length === 1 ? 'it' : 'them'}, and those writes are in neither the target nor the backup. Nothing was deleted. Stop the writers (point the application at the target), then run again.`
    )
  }
}

/**
 * delete-source: deletes each pair's SOURCE only when every gate passes for every pair, and
 * nothing at all when one fails. Gates: the account (in main), the environment approval of
 * this run, confirm-delete, deletion protection, every source item in the target by key, and
 * a readable backup of the source's current content. The summary is the audit record.
 */
export async function runDeleteSource(ctx: RunContext): Promise<void> {
  const { inputs } = ctx
  const reports: PairReport[] = inputs.pairs.map((pair) => {
    const report: PairReport = {
      source: pair.source,
      status: 'pending',
      ...(pair.target ? { target: pair.target } : {})
    }
    ctx.report.pairs.push(report)
    return report
  })
  try {
    const approval = await checkApproval(
      approvalContextFromEnv(inputs.githubToken),
      inputs.approvalEnvironment
    )
    gate(
      ctx,
      'approval',
      `environment '${approval.environment}' (required reviewers: ${approval.reviewers.join(', ')}) approved in this run by ${approval.approvers
        .map((a) => `${a.login}${a.comment ? ` ("${a.comment}")` : ''}`)
        .join(', ')}; OIDC: ${approval.oidc}`
    )
    if (approval.oidc === 'not available') {
      core.warning(
        "The job has no 'id-token: write' permission, so the gate could not prove from the OIDC token that this job is the one the environment gates."
      )
    }
    checkConfirmList(
      inputs.confirmDelete,
      inputs.pairs.map((p) => p.source)
    )
    gate(ctx, 'confirm-delete', inputs.confirmDelete.join(', '))

    const sources: TableInfo[] = []
    for (const pair of inputs.pairs) {
      const source = await describeTable(ctx.clients.dynamodb, pair.source)
      if (!source)
        throw new GateError('gate.sourceMissing', `Source table '${pair.source}' does not exist.`)
      if (!(await describeTable(ctx.clients.dynamodb, pair.target ?? ''))) {
        throw new GateError(
          'gate.targetMissing',
          `Target table '${pair.target ?? ''}' does not exist, so '${pair.source}' has no copy to be deleted for.`
        )
      }
      checkDeletionProtection(source)
      sources.push(source)
    }
    gate(ctx, 'deletion protection', `off on ${sources.map((s) => s.name).join(', ')}`)

    const proven: DigestSummary[] = []
    for (const [index, source] of sources.entries()) {
      const report = reports[index] as PairReport
      const target = inputs.pairs[index]?.target ?? ''
      const contained = await checkSourceInTarget(ctx, source, target)
      report.sourceCount = contained.digest.count
      report.sourceDigest = contained.digest.digest
      report.verified = true
      report.verification = 'by-key'
      gate(
        ctx,
        `in target: ${source.name}`,
        `all ${itemCount(contained.checked)} found unchanged in '${target}'`
      )
      report.backupLocations = await ensureBackup(ctx, source, contained.digest)
      gate(ctx, `backup: ${source.name}`, report.backupLocations.join(', '))
      proven.push(contained.digest.summary())
    }

    // Last look, right before the deletes: a write to a source after its own checks (while
    // the other pairs were checked) would be in neither the target nor the backup.
    await checkUnchanged(ctx, sources, proven)
    gate(ctx, 'unchanged', `${sources.map((s) => s.name).join(', ')}: same items as when checked`)
  } catch (error) {
    for (const report of reports) {
      report.status = 'skipped'
      report.error = 'not deleted: a gate refused'
      delete report.verified
    }
    if (error instanceof GateError || error instanceof ActionError) {
      ;(ctx.report.gates ??= []).push({ gate: error.code, passed: false, detail: error.message })
    }
    throw error
  }

  // Every DeleteTable right after the last look, back to back; then wait for all to go.
  // (Waiting for each before the next would leave the later sources writable, unwatched.)
  for (const [index, pair] of inputs.pairs.entries()) {
    const report = reports[index] as PairReport
    try {
      await ctx.clients.dynamodb.send(new DeleteTableCommand({ TableName: pair.source }))
    } catch (error) {
      report.status = 'failed'
      report.error = `DeleteTable failed: ${errorMessage(error)}`
      for (const later of reports.slice(index + 1)) {
        later.status = 'skipped'
        later.error = 'not deleted: an earlier DeleteTable failed'
      }
      await waitForDeleted(ctx, reports.slice(0, index))
      throw new ActionError(
        'delete.failed',
        `Deleting '${pair.source}' failed: ${errorMessage(error)}`,
        { cause: error }
      )
    }
    report.status = 'deleted'
  }
  await waitForDeleted(ctx, reports)
}

/** Waits until the deleted sources are gone; a look that fails only adds a note. */
async function waitForDeleted(ctx: RunContext, reports: readonly PairReport[]): Promise<void> {
  await Promise.all(
    reports.map(async (report) => {
      try {
        await waitUntilGone(ctx, report.source)
        core.notice(
          `Deleted '${report.source}' (its items are in '${report.target ?? ''}' and in ${report.backupLocations?.join(', ') ?? 'a backup'}).`
        )
      } catch (error) {
        // DynamoDB accepted the DeleteTable: the table is going whatever this look says.
        const note = `DeleteTable was accepted, but the table was not yet gone when the action stopped watching (${errorMessage(error)})`
        ;(report.notes ??= []).push(note)
        core.warning(`'${report.source}': ${note}.`)
      }
    })
  )
}
