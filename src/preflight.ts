import * as path from 'node:path'
import type { TableDescription } from '@aws-sdk/client-dynamodb'
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts'
import * as core from '@actions/core'
import type { RunContext } from './context.js'
import { checkBucket, joinKey } from './backup/s3.js'
import { keptFilesProblem } from './backup/writer.js'
import { backupDirProblem, s3WriteProblem } from './backup/destination.js'
import type { ErrorCode } from './error-codes.js'
import { ActionError, GateError, InputError, errorMessage, errorName } from './errors.js'
import { DuplicateKeyFinder } from './backup/duplicate-keys.js'
import type { StoredTableDescription } from './backup/format.js'
import { openBackupSource, type BackupSource } from './backup/reader.js'
import { ItemChecker, keyRulesOf, type KeyRules } from './dynamo/item-rules.js'
import {
  compareDefinitions,
  describeTable,
  isTableEmpty,
  keyAttributeNames,
  type DefinitionDifferences,
  type TableInfo
} from './dynamo/tables.js'
import { resolveCaps } from './engine/caps.js'
import {
  checkpointStore,
  describeStore,
  loadCheckpoint,
  type Checkpoint,
  type CheckpointStore
} from './engine/checkpoint.js'
import { estimateCopy } from './dynamo/estimate.js'
import { runPipeline } from './pipeline.js'
import type { DigestSummary, TablePair } from './types.js'
import { itemCount } from './util/progress.js'
import { describeKey } from './util/redact.js'
import { keyText } from './verify/digest.js'

/**
 * Problems found across all pairs; reported together so one run shows everything to fix.
 * When any is found, every pair gets a `refused` entry in the report with its own reasons
 * (a problem of no one pair, like the backup destination, counts for all).
 */
export class Problems {
  private readonly found: { code: ErrorCode; message: string; pair?: TablePair }[] = []

  add(code: ErrorCode, message: string, pair?: TablePair): void {
    this.found.push({ code, message, ...(pair ? { pair } : {}) })
  }

  /** The messages found so far that concern `pair` (its own, and those of no one pair). */
  messagesFor(pair: TablePair): string[] {
    return this.found.filter((p) => p.pair === undefined || p.pair === pair).map((p) => p.message)
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

/**
 * Resolves the cap inputs for one table against its description (or, for a table still to
 * be created, the description it will be created from) and records them for the run; a
 * share of an on-demand table's capacity is refused.
 */
function noteCaps(
  ctx: RunContext,
  table: string,
  description: TableDescription,
  note: (code: ErrorCode, message: string) => void
): void {
  const { caps, problems } = resolveCaps(ctx.inputs.caps, table, description)
  for (const problem of problems) note('preflight.capNeedsProvisioned', problem.message)
  ctx.caps.set(table, caps)
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
        `${role} table '${name}' does not exist in ${ctx.inputs.region}${role === 'Target' && (ctx.inputs.mode === 'copy' || ctx.inputs.mode === 'plan') ? ". Create it with your IaC first, or set 'create-target: true' to clone the source's definition" : ''}.`,
        pair
      )
    }
    return null
  }
  noteCaps(ctx, name, info.description, (code, message) => problems.add(code, message, pair))
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
  /** Where this pair's checkpoints go, and the one a re-run resumes from (`resume: true`). */
  checkpoint?: { store: CheckpointStore; from?: Checkpoint }
}

/** copy: everything that must hold before the first write, for every pair. */
export async function preflightCopy(ctx: RunContext): Promise<CopyPlan[]> {
  const problems = new Problems()
  const plans: CopyPlan[] = []
  for (const pair of ctx.inputs.pairs) {
    const resume = await findCheckpoint(ctx, pair, problems)
    const checked = await checkCopyPair(ctx, pair, problems)
    if (!checked.plan) continue
    checked.plan.checkpoint = resume
    if (resume.from) {
      // A position is a key of the source: its attributes exactly (a scan would refuse others).
      const description = checked.plan.source.description
      const types = new Map(
        (description.AttributeDefinitions ?? []).map((d) => [d.AttributeName, d.AttributeType])
      )
      const keyNames = keyAttributeNames(description).sort().join(',')
      const foreign = resume.from.positions.some((p) => {
        const key = p.lastEvaluatedKey
        if (!key) return false
        if (Object.keys(key).sort().join(',') !== keyNames) return true
        // Each of the key's attributes of the type the table declares for it.
        return Object.entries(key).some(([name, value]) => {
          const type = types.get(name)
          return type === undefined || !(type in value)
        })
      })
      if (foreign) {
        problems.add(
          'resume.badCheckpoint',
          `The checkpoint ${describeStore(resume.store)} cannot be used: its scan positions are not keys of '${pair.source}'. Delete it to copy from the start.`,
          pair
        )
      }
      if (!checked.plan.targetInfo) {
        problems.add(
          'resume.notPossible',
          `'${pair.source}' -> '${checked.plan.target}': the checkpoint at ${describeStore(resume.store)} is of a copy into '${checked.plan.target}', which no longer exists. Delete the checkpoint to copy from the start.`,
          pair
        )
      }
      // How the copy is proven is decided by the target as the copy found it first.
      checked.plan.targetWasEmpty = resume.from.targetWasEmpty
    }
    plans.push(checked.plan)
  }
  await checkBackupDestination(ctx, problems, true)
  problems.throwIfAny(ctx)
  const seconds = plans.reduce(
    (sum, plan) =>
      sum +
      estimateCopy(plan.source.description, plan.targetInfo?.description ?? null, {
        targetHoldsItems: !plan.targetWasEmpty,
        caps: { source: ctx.caps.capsOf(plan.source.name), target: ctx.caps.capsOf(plan.target) }
      }).seconds,
    0
  )
  await warnIfCredentialsExpireFirst(ctx, seconds)
  return plans
}

/**
 * A pair's checkpoint store, and with `resume: true` the checkpoint an earlier attempt of
 * this run saved there, checked (a refusal when it cannot be used).
 */
async function findCheckpoint(
  ctx: RunContext,
  pair: TablePair,
  problems: Problems
): Promise<{ store: CheckpointStore; from?: Checkpoint }> {
  const { inputs } = ctx
  const target = pair.target ?? ''
  const runId = process.env.GITHUB_RUN_ID || 'local'
  const store = checkpointStore(
    {
      ...(inputs.backupS3 ? { s3: { client: ctx.clients.s3, location: inputs.backupS3 } } : {}),
      backupDir: inputs.backupDir
    },
    pair.source,
    target,
    runId
  )
  if (!inputs.resume) return { store }
  let from: Checkpoint | undefined
  try {
    from = await loadCheckpoint(store, {
      source: pair.source,
      target,
      totalSegments: inputs.totalSegments,
      runId
    })
  } catch (error) {
    problems.add(
      error instanceof ActionError ? error.code : 'resume.unreadable',
      errorMessage(error),
      pair
    )
    return { store }
  }
  if (!from) {
    core.info(
      `resume: no checkpoint of '${pair.source}' -> '${target}' for this run at ${describeStore(store)}; copying from the start.`
    )
    return { store }
  }
  if (inputs.backupS3 && inputs.backupArtifact) {
    problems.add(
      'resume.notPossible',
      `'${pair.source}' -> '${target}': a copy with 'backup-artifact: true' cannot be resumed (the artifact's earlier files were on the runner that stopped). Remove 'backup-artifact' (the S3 backup stays complete), or set 'resume: false' to copy from the start.`,
      pair
    )
    return { store }
  }
  if (inputs.backupS3) {
    const { bucket, prefix } = inputs.backupS3
    const folder = joinKey(prefix, pair.source, from.backup.runLabel)
    const dataPrefix = `${joinKey(folder, 'AWSDynamoDB', from.backup.exportId, 'data')}/`
    const problem = await keptFilesProblem(ctx.clients.s3, bucket, dataPrefix, from.files)
    if (problem) {
      problems.add('resume.backupChanged', problem, pair)
      return { store }
    }
  }
  core.info(
    `resume: going on from the checkpoint saved ${from.savedAt} (${itemCount(from.items)} done, ${from.files.length} data file(s) kept) at ${describeStore(store)}.`
  )
  return { store, from }
}

/**
 * Without `role-to-assume`, the run lives on the credentials it was given. Where the SDK
 * knows when they expire (AWS_CREDENTIAL_EXPIRATION, a profile's or a credential process's
 * session), a copy estimated to outlast them gets a warning before its first write. Returns
 * the warning, if any.
 */
export async function warnIfCredentialsExpireFirst(
  ctx: RunContext,
  estimatedSeconds: number,
  now = Date.now()
): Promise<string | undefined> {
  if (ctx.inputs.role) return undefined
  const provider: unknown = ctx.clients.dynamodb.config.credentials
  if (typeof provider !== 'function') return undefined
  let expiration: Date | undefined
  try {
    expiration = ((await (provider as () => Promise<{ expiration?: Date }>)()) ?? {}).expiration
  } catch {
    return undefined
  }
  if (!(expiration instanceof Date)) return undefined
  const end = now + estimatedSeconds * 1000
  if (expiration.getTime() >= end) return undefined
  const minutes = (ms: number): string => `${Math.max(0, Math.round(ms / 60_000))} min`
  const message = `The AWS credentials expire at ${expiration.toISOString()} (in ${minutes(expiration.getTime() - now)}), before this copy's estimated end (in about ${minutes(end - now)}). A copy that outlives its credentials fails: set 'role-to-assume' so that the action refreshes them itself, or assume the role for longer ('role-duration-seconds' of aws-actions/configure-aws-credentials).`
  core.warning(message)
  return message
}

/** What checkCopyPair found of one pair, refused or not (plan shows the tables either way). */
export interface CopyPairCheck {
  source: TableInfo | null
  targetInfo: TableInfo | null
  /** Present when the source exists; the pair may still have refusals in `problems`. */
  plan?: CopyPlan
}

/**
 * Everything copy checks of one pair before any write, each refusal added to `problems`:
 * both tables exist (the target unless `create-target`) and are usable, their keys and
 * indexes match, the target is empty (unless allowed). plan calls this too, so it reports
 * copy's own refusals, word for word.
 */
export async function checkCopyPair(
  ctx: RunContext,
  pair: TablePair,
  problems: Problems
): Promise<CopyPairCheck> {
  const { inputs } = ctx
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
  if (!source) return { source, targetInfo }
  // A target still to be created gets the source's definition, capacity included.
  if (!targetInfo) {
    noteCaps(ctx, target, source.description, (code, message) => problems.add(code, message, pair))
  }
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
    // A resumed copy finds items in the target too: the action cannot tell its own earlier
    // writes from anyone else's, so resuming into a target that holds items needs the same
    // 'allow-non-empty-target' as any copy into one (fail closed).
    if (!targetWasEmpty && !inputs.allowNonEmptyTarget) {
      problems.add(
        'preflight.targetNotEmpty',
        `Target table '${target}' already holds items. Copying into it would mix data; empty it, or set 'allow-non-empty-target: true' if that is intended (items with the same key are overwritten).`,
        pair
      )
    }
  }
  return {
    source,
    targetInfo,
    plan: { pair, source, target, targetInfo, targetWasEmpty, differences }
  }
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
  required: boolean,
  tryWrite = true
): Promise<{ code: ErrorCode; message: string }[]> {
  const { inputs } = ctx
  const problems: { code: ErrorCode; message: string }[] = []
  // Every backup is written to the local folder first: it must take files now, not fail
  // (or hang) after the scan has started.
  const dirProblem = await backupDirProblem(inputs.backupDir, tryWrite)
  if (dirProblem) {
    problems.push({
      code: 'preflight.backupDirUnusable',
      message: `Input 'backup-dir': ${dirProblem}. Point 'backup-dir' at a writable folder (the default is under RUNNER_TEMP).`
    })
  }
  if (!inputs.backupS3 && !inputs.backupArtifact) {
    if (!required) return problems
    problems.push({
      code: 'preflight.noBackupDestination',
      message:
        "No backup destination: set 'backup-s3-uri' (s3://bucket/prefix) or 'backup-artifact: true'. A copy always backs the source up first, and the runner's disk does not outlive the job."
    })
    return problems
  }
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
    } else {
      // The variables are there: the service must also answer (a read of this run's
      // artifacts), or the upload would fail after the target was written.
      try {
        await ctx.artifacts.check()
      } catch (error) {
        problems.push({
          code: 'preflight.noArtifactService',
          message: `'backup-artifact: true' is set, but the workflow artifact service did not answer (${errorName(error) || 'error'}: ${errorMessage(error).slice(0, 200)}). Use 'backup-s3-uri', or run again when the service answers.`
        })
      }
    }
  }
  if (inputs.backupS3) {
    try {
      await checkBucket(ctx.clients.s3, inputs.backupS3)
      if (tryWrite) {
        const { problem, leftover } = await s3WriteProblem(ctx.clients.s3, inputs.backupS3)
        if (problem) {
          problems.push({
            code: 'backup.bucketNotWritable',
            message: `Input 'backup-s3-uri': ${problem}`
          })
        }
        if (leftover) {
          core.warning(
            `A probe object could not be deleted after the test write (${leftover}); the role may lack s3:DeleteObject. Remove it by hand; the backup itself needs only s3:PutObject.`
          )
        }
      }
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

// --- restore ---------------------------------------------------------------------------------

export interface RestorePlan {
  pair: TablePair
  backup: BackupSource
  target: string
  targetInfo: TableInfo | null
  targetWasEmpty: boolean
  /** The backup's table as TableInfo (for create-target and key checks), when it carries one. */
  backupTable: TableInfo | null
  /** Count and digest of the backup's items, from the check before any write. */
  checked: DigestSummary
}

export function tableInfoFromBackup(stored: StoredTableDescription, name: string): TableInfo {
  return {
    // A name from a backup is text from outside: only a valid table name is shown as one.
    name: /^[A-Za-z0-9_.-]{3,255}$/.test(name) ? name : "the backup's table",
    description: stored.table,
    timeToLive: stored.timeToLive ?? 'unsupported',
    pointInTimeRecovery: stored.pointInTimeRecovery ?? 'unsupported',
    tags: stored.tags ?? 'unsupported'
  }
}

/**
 * Reads a whole backup once before anything is written: every file's checksum and count
 * (the reader), every item against DynamoDB's rules (the reader: shape, numbers, sets, names,
 * nesting, 400 KB; here: the keys and index keys of the table it goes into), no primary key
 * twice (key hashes spilled to disk in hash buckets, so memory does not grow with the
 * backup), and the items' digest against the manifest's. Returns the refusals, or the digest.
 */
async function checkBackupItems(
  ctx: RunContext,
  backup: BackupSource,
  keyTable: TableInfo | null,
  target: string,
  scratch: string
): Promise<{ problems: { code: ErrorCode; message: string }[]; checked?: DigestSummary }> {
  let rules: KeyRules | undefined
  try {
    rules = keyTable ? keyRulesOf(keyTable.description) : undefined
  } catch (error) {
    return {
      problems: [
        {
          code: 'restore.badDescription',
          message: `Backup ${backup.location} cannot be checked against '${target}': ${errorMessage(error)}`
        }
      ]
    }
  }
  const checker = rules ? new ItemChecker(rules) : undefined
  const keyNames = keyTable ? keyAttributeNames(keyTable.description) : []
  const duplicates = keyNames.length > 0 ? new DuplicateKeyFinder({ dir: scratch }) : undefined
  try {
    let checked: DigestSummary
    try {
      const pass = await runPipeline(ctx, {
        table: target,
        label: `checking backup ${backup.location}`,
        approximateItems: backup.itemCount ?? 0,
        read: (onPage) =>
          backup.read(async (items) => {
            checker?.check(items)
            if (duplicates) {
              for (const item of items)
                await duplicates.add(keyText(item, keyNames), describeKey(item, keyNames))
            }
            await onPage(items)
          })
      })
      checked = pass.digest.summary()
    } catch (error) {
      return {
        problems: [
          {
            code: error instanceof ActionError ? error.code : 'backup.corrupt',
            message: errorMessage(error)
          }
        ]
      }
    }
    const problems: { code: ErrorCode; message: string }[] = []
    if (checker && checker.rejected > 0) {
      problems.push({
        code: 'restore.keyMismatch',
        message: `${itemCount(checker.rejected)} of backup ${backup.location} would be rejected by '${target}' (keys or index keys), so DynamoDB would stop the restore half way. First: ${checker.examples.join('; ')}.`
      })
    }
    const found = await duplicates?.finish()
    if (found && found.duplicates > 0) {
      problems.push({
        code: 'restore.duplicateKeys',
        message: `Backup ${backup.location} holds ${itemCount(found.duplicates)} more than once by primary key (numbers compared by value), so a restore would keep only one of each and could not be proven. First: ${found.examples.join('; ')}.`
      })
    }
    if (
      backup.digest &&
      (backup.digest.digest !== checked.digest || backup.digest.count !== checked.count)
    ) {
      problems.push({
        code: 'backup.corrupt',
        message: `Backup ${backup.location} holds ${itemCount(checked.count)} whose digest does not match its manifest (${itemCount(backup.digest.count)}); it is damaged or not the backup its manifest describes.`
      })
    }
    return { problems, checked }
  } finally {
    await duplicates?.close()
  }
}

/** restore: every backup readable and valid, every target usable, before any write. */
export async function preflightRestore(ctx: RunContext): Promise<RestorePlan[]> {
  const problems = new Problems()
  const plans: RestorePlan[] = []
  const dirProblem = await restoreScratchProblem(ctx)
  if (dirProblem) {
    problems.add('preflight.backupDirUnusable', dirProblem)
    problems.throwIfAny(ctx)
  }
  for (const [index, pair] of ctx.inputs.pairs.entries()) {
    const plan = await checkRestorePair(ctx, pair, index, (code, message) =>
      problems.add(code, message, pair)
    )
    if (plan) plans.push(plan)
  }
  problems.throwIfAny(ctx)
  return plans
}

/** Why restore could not keep its scratch files under backup-dir (the duplicate-key check). */
export async function restoreScratchProblem(ctx: RunContext): Promise<string | undefined> {
  const dirProblem = await backupDirProblem(ctx.inputs.backupDir, true)
  return dirProblem
    ? `Input 'backup-dir': ${dirProblem}. restore keeps its scratch files there; point 'backup-dir' at a writable folder.`
    : undefined
}

/**
 * Everything restore checks of one pair before any write (the backup readable and every
 * item valid, the target usable and empty, the definitions alike): each refusal goes to
 * `note`; returns the pair's plan when there is none. plan (`plan-for: restore`) calls this
 * too, so it reports exactly what restore would refuse.
 */
export async function checkRestorePair(
  ctx: RunContext,
  pair: TablePair,
  index: number,
  note: (code: ErrorCode, message: string) => void
): Promise<RestorePlan | undefined> {
  const { inputs } = ctx
  const target = pair.target ?? ''
  let backup: BackupSource
  try {
    backup = await openBackupSource(pair.source, ctx.clients.s3)
  } catch (error) {
    note(
      error instanceof ActionError ? error.code : 'restore.backupUnreadable',
      errorMessage(error)
    )
    return undefined
  }
  const backupTable = backup.description
    ? tableInfoFromBackup(backup.description, backup.description.table.TableName ?? pair.source)
    : null
  const targetInfo = await describeTable(ctx.clients.dynamodb, target)
  let targetWasEmpty = true
  let refused = false
  const refuse = (code: ErrorCode, message: string): void => {
    refused = true
    note(code, message)
  }
  if (!targetInfo) {
    if (!inputs.createTarget) {
      refuse(
        'preflight.missingTarget',
        `Target table '${target}' does not exist. Create it first, or set 'create-target: true' to create it from the backup's table description.`
      )
    } else if (backupTable) {
      noteCaps(ctx, target, backupTable.description, refuse)
    } else {
      refuse(
        'restore.noDescription',
        `Target table '${target}' does not exist and backup '${pair.source}' (${backup.kind === 'scan-json' ? "an 'aws dynamodb scan' file" : 'a DynamoDB export'}) carries no table description to create it from. Create the table first (with your IaC), then restore into it.`
      )
    }
  } else {
    noteCaps(ctx, target, targetInfo.description, refuse)
    if (backupTable) {
      const blocking = compareDefinitions(backupTable, targetInfo).blocking
      if (blocking.length > 0) {
        refuse(
          'preflight.definitionMismatch',
          `'${pair.source}' -> '${target}': the backup's table and the target differ: ${blocking.join('; ')}.`
        )
      }
    }
    targetWasEmpty = await isTableEmpty(ctx.clients.dynamodb, target)
    if (!targetWasEmpty && !inputs.allowNonEmptyTarget) {
      refuse(
        'preflight.targetNotEmpty',
        `Target table '${target}' already holds items. Empty it, or set 'allow-non-empty-target: true' (items with the same key are overwritten).`
      )
    }
  }
  const scratch = path.join(inputs.backupDir, `.restore-check-${ctx.runLabel}-${index}`)
  const { problems: found, checked } = await checkBackupItems(
    ctx,
    backup,
    targetInfo ?? backupTable,
    target,
    scratch
  )
  for (const problem of found) refuse(problem.code, problem.message)
  if (refused || !checked) return undefined
  return { pair, backup, target, targetInfo, targetWasEmpty, backupTable, checked }
}
