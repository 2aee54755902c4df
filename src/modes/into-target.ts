import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import type { BackupWriter } from '../backup/writer.js'
import {
  applyTimeToLive,
  createTableClone,
  describeTable,
  heldBackSettings,
  keyAttributeNames,
  type TableInfo
} from '../dynamo/tables.js'
import { BatchWriter } from '../dynamo/write.js'
import {
  CHECKPOINT_VERSION,
  CheckpointSaver,
  deleteCheckpoint,
  describeStore,
  type Checkpoint,
  type CheckpointStore
} from '../engine/checkpoint.js'
import type { DurableProgress, PassResult } from '../engine/pass.js'
import { ActionError, errorMessage } from '../errors.js'
import { runPipeline, type PipelineResult } from '../pipeline.js'
import type { PairReport } from '../types.js'
import { itemCount } from '../util/progress.js'
import { ContentDigest } from '../verify/digest.js'
import { judgeDigests, verifyContained, type ComparedSource } from '../verify/compare.js'
import { recordVerdict } from './pairs.js'

/** One move of items into a target table, as copy and restore both make it. */
export interface IntoTarget {
  /** What is read: a table (scanned) or a backup (`read`). */
  source: ComparedSource
  /** The definition a missing target is created from, and whose TTL it gets after the proof. */
  definition: TableInfo | null
  /** Where the definition comes from, for messages ("the source's definition"). */
  definitionName: string
  target: string
  /** The target as preflight found it: null when it is to be created. */
  targetInfo: TableInfo | null
  targetWasEmpty: boolean
  approximateItems: number
  /** Opens the backup the pass also writes (copy); none for restore. */
  openBackup?: () => Promise<BackupWriter>
  /** Runs once every item is written, before the proof (copy: finish the backup). */
  afterWrite?: (pass: PipelineResult, backup: BackupWriter | undefined) => Promise<void>
  /** The verb for the log: "Copied", "Restored". */
  verb: string
  /**
   * Checkpoints (copy): saved to `store` as pages become durable in the target and the
   * backup; `from` is the one this attempt goes on from. Deleted once the copy is proven.
   */
  checkpoint?: { store: CheckpointStore; from?: Checkpoint }
  /** A resumed copy: reads its finished backup back whole; throws unless it holds `digest`. */
  proveResumedBackup?: (digest: ContentDigest) => Promise<void>
}

/**
 * The one "into the target and prove it" path: creates the target when missing (from the
 * definition, TTL held back), writes every item through the one write path (and the backup,
 * when there is one) in one pass, then proves the target: by count and digest when it started
 * empty, by looking every item up by key when it did not. Settings held back are applied only
 * after the proof (TTL on a created target), or named when the target was not created here.
 */
export async function moveIntoTarget(
  ctx: RunContext,
  report: PairReport,
  move: IntoTarget
): Promise<void> {
  const { target, source } = move
  const notes = (report.notes ??= [])
  let targetInfo = move.targetInfo
  const created = !targetInfo
  if (!targetInfo && move.definition) {
    core.info(`Creating '${target}' from ${move.definitionName}.`)
    const cloneNotes = await createTableClone(ctx.clients.dynamodb, move.definition, target, {
      log: (line) => core.info(line),
      ...(ctx.sleep ? { sleep: ctx.sleep } : {})
    })
    for (const note of cloneNotes) core.warning(`${target}: ${note}`)
    notes.push(`created '${target}' from ${move.definitionName}`, ...cloneNotes)
    targetInfo = await describeTable(ctx.clients.dynamodb, target)
  }
  if (!targetInfo)
    throw new ActionError('target.missing', `Target table '${target}' does not exist.`)

  const writer = new BatchWriter(ctx.clients.dynamodbItems, {
    table: target,
    keyAttributes: keyAttributeNames(targetInfo.description),
    maxInFlight: ctx.inputs.writesInFlight,
    retryTimeoutMs: ctx.inputs.retryTimeoutMs,
    ...ctx.caps.writing(target),
    ...(ctx.sleep ? { sleep: ctx.sleep } : {}),
    onRetry: ({ reason, attempt, delayMs }) =>
      core.debug(`write ${target}: attempt ${attempt + 1} in ${delayMs} ms (${reason})`)
  })
  let saver: CheckpointSaver | undefined
  try {
    const copyStarted = Date.now()
    const backup = await move.openBackup?.()
    const from = move.checkpoint?.from
    saver =
      move.checkpoint && backup && !source.read
        ? new CheckpointSaver(
            move.checkpoint.store,
            {
              version: CHECKPOINT_VERSION,
              source: source.name,
              target,
              totalSegments: ctx.inputs.totalSegments,
              targetWasEmpty: move.targetWasEmpty,
              backup: {
                runLabel: from?.backup.runLabel ?? ctx.runLabel,
                exportId: backup.exportId,
                startTime: backup.startTime.toISOString()
              }
            },
            (message) => core.warning(message)
          )
        : undefined
    const pass = await runPipeline(ctx, {
      table: source.name,
      label: `${move.verb.toLowerCase()} ${source.name} -> ${target}`,
      approximateItems: Math.max(0, move.approximateItems - (from?.items ?? 0)),
      ...(source.read ? { read: source.read } : {}),
      ...(backup ? { backup } : {}),
      ...(from
        ? {
            resumeFrom: {
              positions: from.positions,
              items: from.items,
              digest: ContentDigest.fromState(from.digest),
              files: from.files.length
            }
          }
        : {}),
      ...(saver && backup
        ? { onDurable: (progress: DurableProgress) => saver?.offer(progress, backup.storedFiles()) }
        : {}),
      writer
    })
    if (from) {
      core.info(
        `Resumed: read ${itemCount(pass.scanned)} this time; ${itemCount(from.items)} came from the checkpoint.`
      )
    }
    report.scanned = pass.scanned
    if (pass.throughput.length >= 2) report.throughput = pass.throughput
    report.capacity = capacityReport(ctx, pass.pass, source.read ? undefined : source.name, target)
    report.sourceCount = pass.digest.count
    report.sourceDigest = pass.digest.digest
    // A target that started empty is proven by a scan of it, which starts now, beside the
    // backup's finish (its last part, the S3 proof, the manifests, an artifact): one is this
    // process's work, the other the network's. The verdict is taken only after the backup
    // has finished; if the backup fails, the scan stops asking for pages and the backup's
    // error is the run's. (A by-key proof reads the source again: it waits, as before.)
    const verifyStarted = Date.now()
    let stopScan = false
    const targetScan = move.targetWasEmpty
      ? runPipeline(ctx, {
          table: target,
          label: `verify ${target}`,
          approximateItems: pass.scanned,
          shouldStop: () => stopScan
        })
      : undefined
    targetScan?.catch(() => undefined) // awaited below; this only marks it handled meanwhile
    // A resumed copy's digest is partly the checkpoint's, which came from outside: it is
    // proven against a fresh scan of the whole source instead, never against itself.
    const sourceScan = from
      ? runPipeline(ctx, {
          table: source.name,
          label: `verify ${source.name}`,
          approximateItems: move.approximateItems,
          shouldStop: () => stopScan
        })
      : undefined
    sourceScan?.catch(() => undefined)
    try {
      await move.afterWrite?.(pass, backup)
    } catch (error) {
      stopScan = true
      await targetScan?.catch(() => undefined)
      await sourceScan?.catch(() => undefined)
      throw error
    }
    report.phases = { copyMs: Date.now() - copyStarted }
    const { unprocessedRetried, errorsRetried } = writer.stats
    if (unprocessedRetried + errorsRetried > 0) {
      core.warning(
        `${target}: DynamoDB returned ${unprocessedRetried} unprocessed item(s) and ${errorsRetried} throttled or failed call(s); all were retried until written.`
      )
    }

    let sourceDigest = pass.digest
    if (sourceScan && from && move.checkpoint) {
      const fresh = (await sourceScan).digest
      if (fresh.digest !== pass.digest.digest || fresh.count !== pass.digest.count) {
        throw new ActionError(
          'resume.mismatch',
          `The resumed copy of '${source.name}' (${itemCount(from.items)} from the checkpoint at ${describeStore(move.checkpoint.store)}, ${itemCount(pass.scanned)} read now) does not add up to a fresh scan of the source (${itemCount(fresh.count)}): the checkpoint did not hold, or the source changed. Delete the checkpoint and copy again from the start.`
        )
      }
      sourceDigest = fresh
      // The backup kept the stopped attempt's data files: it is read back whole and must hold
      // exactly the source's items.
      await move.proveResumedBackup?.(fresh)
    }
    const verdict = targetScan
      ? await judgeDigests(ctx, source, target, sourceDigest, (await targetScan).digest)
      : await verifyContained(ctx, source, target, pass.digest.count)
    const verified = recordVerdict(report, verdict)
    report.phases.verifyMs = Date.now() - verifyStarted
    if (!verified) {
      report.status = 'mismatch'
      throw new ActionError(
        'verify.mismatch',
        `'${target}' does not match ${source.name} (${report.differences?.length ?? 0} differing key(s) listed in the summary). Was the source written to during the run?`
      )
    }
    if (created && move.definition) {
      // TTL only now that the copy is proven: on during it, DynamoDB could have deleted
      // expired items from the target before they were verified.
      const note = await applyTimeToLive(ctx.clients.dynamodb, move.definition, target)
      if (note) notes.push(note)
    } else if (move.definition) {
      for (const note of heldBackSettings(move.definition, targetInfo)) {
        core.warning(note)
        notes.push(note)
      }
    }
    report.status = 'verified'
    core.notice(
      `${move.verb} ${itemCount(pass.digest.count)} ${source.name} -> ${target}; verified by ${report.verification === 'digest' ? 'count and content digest' : 'key lookup'}.`
    )
    if (move.checkpoint) await finishCheckpoints(saver, move.checkpoint.store)
  } catch (error) {
    throw await withResumeHint(error, saver, move.checkpoint?.store)
  } finally {
    report.written = writer.stats.written
  }
}

/** Once the copy is proven, its checkpoint has served: a later re-run starts afresh. */
async function finishCheckpoints(
  saver: CheckpointSaver | undefined,
  store: CheckpointStore
): Promise<void> {
  await saver?.flush()
  try {
    await deleteCheckpoint(store)
  } catch (error) {
    core.warning(
      `The copy is done, but its checkpoint ${describeStore(store)} could not be deleted (${errorMessage(error)}); delete it, or a re-run with 'resume: true' of this run would find it.`
    )
  }
}

/**
 * A copy that fails after saving a checkpoint says how to go on: a re-run of the job with
 * `resume: true` continues from it (a run's attempts share GITHUB_RUN_ID).
 */
async function withResumeHint(
  error: unknown,
  saver: CheckpointSaver | undefined,
  store: CheckpointStore | undefined
): Promise<unknown> {
  if (!saver || !store) return error
  await saver.flush()
  if (saver.saved === 0 || !(error instanceof ActionError) || error.code === 'verify.mismatch') {
    return error
  }
  return new ActionError(
    error.code,
    `${error.message} Run the job again ("Re-run failed jobs") with 'resume: true': it resumes from the checkpoint at ${describeStore(store)}.`,
    { cause: error }
  )
}

/** What the pass consumed and met, with the caps in force and where throttling lowered concurrency. */
function capacityReport(
  ctx: RunContext,
  pass: PassResult,
  sourceTable: string | undefined,
  target: string
): NonNullable<PairReport['capacity']> {
  const capacity: NonNullable<PairReport['capacity']> = {
    read: pass.readCapacity,
    write: pass.writeCapacity,
    throttled: pass.throttled
  }
  const lowered: NonNullable<typeof capacity.lowered> = {}
  const { scan, write } = pass.lowestInFlight
  if (scan !== undefined && scan < ctx.inputs.totalSegments) {
    lowered.scan = { lowest: scan, of: ctx.inputs.totalSegments }
  }
  if (write !== undefined && write < ctx.inputs.writesInFlight) {
    lowered.write = { lowest: write, of: ctx.inputs.writesInFlight }
  }
  if (lowered.scan || lowered.write) capacity.lowered = lowered
  const caps: NonNullable<typeof capacity.caps> = {}
  const sourceCaps = sourceTable === undefined ? {} : ctx.caps.capsOf(sourceTable)
  const targetCaps = ctx.caps.capsOf(target)
  if (Object.keys(sourceCaps).length > 0) caps.source = sourceCaps
  if (Object.keys(targetCaps).length > 0) caps.target = targetCaps
  if (caps.source || caps.target) capacity.caps = caps
  return capacity
}
