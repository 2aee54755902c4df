import { GetCallerIdentityCommand } from '@aws-sdk/client-sts'
import * as core from '@actions/core'
import type { RunContext } from './context.js'
import { checkBucket } from './backup/s3.js'
import { ActionError, GateError, InputError, errorMessage } from './errors.js'
import {
  compareDefinitions,
  describeTable,
  isTableEmpty,
  type DefinitionDifferences,
  type TableInfo
} from './dynamo/tables.js'
import type { TablePair } from './types.js'

/**
 * Problems found across all pairs; reported together so one run shows everything to fix.
 * When any is found, every pair gets a `refused` entry in the report with its own reasons
 * (a problem of no one pair, like the backup destination, counts for all).
 */
export class Problems {
  private readonly found: { code: string; message: string; pair?: TablePair }[] = []

  add(code: string, message: string, pair?: TablePair): void {
    this.found.push({ code, message, ...(pair ? { pair } : {}) })
  }

  throwIfAny(ctx: RunContext): void {
    const first = this.found[0]
    if (!first) return
    if (ctx.report.pairs.length === 0) {
      for (const pair of ctx.inputs.pairs) {
        const own = this.found.filter((p) => p.pair === undefined || p.pair === pair)
        ctx.report.pairs.push({
          source: pair.source,
          ...(pair.target !== undefined ? { target: pair.target } : {}),
          status: 'refused',
          error:
            own.length > 0
              ? own.map((p) => p.message).join(' ')
              : 'not started: the checks of another pair failed, and nothing is written until all pass',
          ...(own[0] ? { errorCode: own[0].code } : {})
        })
      }
    }
    const message =
      this.found.length === 1
        ? first.message
        : `${this.found.length} problems, nothing was written:\n${this.found.map((p) => `- ${p.message}`).join('\n')}`
    throw new InputError(first.code, message)
  }
}

/**
 * The account guard: with `expected-account-id`, refuse to run unless the credentials
 * belong to that account. Checked before anything else, in every mode.
 */
export async function checkAccount(ctx: RunContext): Promise<string | undefined> {
  const expected = ctx.inputs.expectedAccountId
  if (expected === '') return undefined
  let account: string | undefined
  try {
    account = (await ctx.clients.sts.send(new GetCallerIdentityCommand({}))).Account
  } catch (error) {
    ;(ctx.report.gates ??= []).push({
      gate: 'aws account',
      passed: false,
      detail: 'sts:GetCallerIdentity failed'
    })
    throw new GateError(
      'gate.accountUnknown',
      `Could not confirm the AWS account (sts:GetCallerIdentity failed: ${errorMessage(error)}). Nothing was done.`,
      { cause: error }
    )
  }
  const gates = (ctx.report.gates ??= [])
  if (account !== expected) {
    gates.push({
      gate: 'aws account',
      passed: false,
      detail: `credentials of account ${account ?? 'unknown'}, expected ${expected}`
    })
    throw new GateError(
      'gate.wrongAccount',
      `The AWS credentials belong to account ${account ?? 'unknown'}, but 'expected-account-id' is ${expected}. Nothing was done: check which role the job assumed.`
    )
  }
  gates.push({ gate: 'aws account', passed: true, detail: `credentials of account ${account}` })
  core.info(`AWS account ${account} matches expected-account-id.`)
  return account
}

/** Table statuses a copy reads from or writes to. */
export const USABLE_TABLE_STATUSES = ['ACTIVE', 'UPDATING']

async function describeOrNote(
  ctx: RunContext,
  name: string,
  role: 'Source' | 'Target',
  problems: Problems,
  required: boolean,
  pair: TablePair
): Promise<TableInfo | null> {
  const info = await describeTable(ctx.clients.dynamodb, name)
  if (!info) {
    if (required) {
      problems.add(
        `preflight.missing${role}`,
        `${role} table '${name}' does not exist in ${ctx.inputs.region}${role === 'Target' && ctx.inputs.mode === 'copy' ? ". Create it with your IaC first, or set 'create-target: true' to clone the source's definition" : ''}.`,
        pair
      )
    }
    return null
  }
  const status = info.description.TableStatus ?? '?'
  if (!USABLE_TABLE_STATUSES.includes(status)) {
    problems.add(
      'preflight.tableNotActive',
      `${role} table '${name}' is ${status}, not ACTIVE.`,
      pair
    )
  }
  return info
}

export interface SourcePlan {
  pair: TablePair
  source: TableInfo
}

/** backup: every source exists. */
export async function preflightBackup(ctx: RunContext): Promise<SourcePlan[]> {
  const problems = new Problems()
  const plans: SourcePlan[] = []
  for (const pair of ctx.inputs.pairs) {
    const source = await describeOrNote(ctx, pair.source, 'Source', problems, true, pair)
    if (source) plans.push({ pair, source })
  }
  await checkBackupDestination(ctx, problems, false)
  problems.throwIfAny(ctx)
  return plans
}

export interface CopyPlan extends SourcePlan {
  target: string
  /** Null when the target will be created from the source. */
  targetInfo: TableInfo | null
  targetWasEmpty: boolean
  differences: DefinitionDifferences
}

/** copy: everything that must hold before the first write, for every pair. */
export async function preflightCopy(ctx: RunContext): Promise<CopyPlan[]> {
  const { inputs } = ctx
  const problems = new Problems()
  const plans: CopyPlan[] = []
  for (const pair of inputs.pairs) {
    const target = pair.target ?? ''
    const source = await describeOrNote(ctx, pair.source, 'Source', problems, true, pair)
    const targetInfo = await describeOrNote(
      ctx,
      target,
      'Target',
      problems,
      !inputs.createTarget,
      pair
    )
    if (!source) continue
    let differences: DefinitionDifferences = { blocking: [], advisory: [] }
    let targetWasEmpty = true
    if (targetInfo) {
      differences = compareDefinitions(source, targetInfo)
      if (differences.blocking.length > 0) {
        problems.add(
          'preflight.definitionMismatch',
          `'${pair.source}' -> '${target}': the tables' keys or indexes differ, so the copy would not be the same table: ${differences.blocking.join('; ')}. Fix the target's definition (in your IaC) first.`,
          pair
        )
      }
      // A table still CREATING cannot be scanned yet; its status is reported already.
      const usable = USABLE_TABLE_STATUSES.includes(targetInfo.description.TableStatus ?? '')
      targetWasEmpty = !usable || (await isTableEmpty(ctx.clients.dynamodb, target))
      if (!targetWasEmpty && !inputs.allowNonEmptyTarget) {
        problems.add(
          'preflight.targetNotEmpty',
          `Target table '${target}' already holds items. Copying into it would mix data; empty it, or set 'allow-non-empty-target: true' if that is intended (items with the same key are overwritten).`,
          pair
        )
      }
    }
    plans.push({ pair, source, target, targetInfo, targetWasEmpty, differences })
  }
  await checkBackupDestination(ctx, problems, true)
  problems.throwIfAny(ctx)
  return plans
}

/** verify: sources and targets exist. */
export async function preflightVerify(
  ctx: RunContext
): Promise<{ pair: TablePair; source: TableInfo; target: TableInfo }[]> {
  const problems = new Problems()
  const plans: { pair: TablePair; source: TableInfo; target: TableInfo }[] = []
  for (const pair of ctx.inputs.pairs) {
    const source = await describeOrNote(ctx, pair.source, 'Source', problems, true, pair)
    const target = await describeOrNote(ctx, pair.target ?? '', 'Target', problems, true, pair)
    if (source && target) {
      const blocking = compareDefinitions(source, target).blocking
      const keysDiffer = blocking.some((b) => b.startsWith('primary keys'))
      if (keysDiffer) {
        problems.add(
          'preflight.definitionMismatch',
          `'${pair.source}' -> '${pair.target ?? ''}': ${blocking.filter((b) => b.startsWith('primary keys')).join('; ')}; items cannot be compared by key.`,
          pair
        )
      }
      plans.push({ pair, source, target })
    }
  }
  problems.throwIfAny(ctx)
  return plans
}

/**
 * Why the backup destination would not do, for a mode that writes a backup (`required`:
 * copy, which needs one that outlives the job: S3 or a workflow artifact, since the
 * runner's disk is wiped when the job ends; backup may keep just the local folder). Reads
 * only: the bucket is checked with HeadBucket, so plan asks the same questions.
 */
export async function backupDestinationProblems(
  ctx: RunContext,
  required: boolean
): Promise<{ code: string; message: string }[]> {
  const { inputs } = ctx
  if (!inputs.backupS3 && !inputs.backupArtifact) {
    if (!required) return []
    return [
      {
        code: 'preflight.noBackupDestination',
        message:
          "No backup destination: set 'backup-s3-uri' (s3://bucket/prefix) or 'backup-artifact: true'. A copy always backs the source up first, and the runner's disk does not outlive the job."
      }
    ]
  }
  const problems: { code: string; message: string }[] = []
  if (inputs.backupArtifact) {
    // The artifact is uploaded when the pass ends (in copy, after the target is written):
    // check now that this process can reach the artifact service at all. The runner gives
    // JavaScript actions its token; GitHub Enterprise Server and local runners do not.
    const missing = ['ACTIONS_RUNTIME_TOKEN', 'ACTIONS_RESULTS_URL'].filter(
      (name) => !process.env[name]
    )
    if (missing.length > 0) {
      problems.push({
        code: 'preflight.noArtifactService',
        message: `'backup-artifact: true' is set, but the workflow artifact service cannot be reached from here (${missing.join(' and ')} not set: GitHub Enterprise Server and local runners do not provide it). Use 'backup-s3-uri' instead.`
      })
    }
  }
  if (inputs.backupS3) {
    try {
      await checkBucket(ctx.clients.s3, inputs.backupS3)
    } catch (error) {
      problems.push({
        code: error instanceof ActionError ? error.code : 'backup.bucketUnavailable',
        message: errorMessage(error)
      })
    }
  }
  return problems
}

async function checkBackupDestination(
  ctx: RunContext,
  problems: Problems,
  required: boolean
): Promise<void> {
  const { inputs } = ctx
  if (!required && !inputs.backupS3 && !inputs.backupArtifact) {
    core.warning(
      `Only a local backup will be written (${inputs.backupDir}); it is lost when the job ends unless a later step uploads it. Set 'backup-s3-uri' or 'backup-artifact: true' to keep it.`
    )
  }
  for (const { code, message } of await backupDestinationProblems(ctx, required))
    problems.add(code, message)
}
