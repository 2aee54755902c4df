import * as core from '@actions/core'
import type { RunContext } from '../context.js'
import { ActionError, errorMessage } from '../errors.js'
import type { TableInfo } from '../dynamo/tables.js'
import { artifactName } from './artifact.js'
import { withHeartbeat } from '../util/progress.js'
import type { DigestSummary } from '../types.js'
import { BackupWriter, type BackupResult } from './writer.js'
import type { Checkpoint } from '../engine/checkpoint.js'

/**
 * Opens the backup of one source with the run's destinations. A copy cuts a data file every
 * `checkpoint-seconds`, so that its checkpoints advance that often; `resume` goes on with
 * the backup a checkpoint names.
 */
export function openBackup(
  ctx: RunContext,
  source: TableInfo,
  options: { checkpointing?: boolean; resume?: Checkpoint } = {}
): Promise<BackupWriter> {
  const { inputs, clients } = ctx
  const resume = options.resume
  return BackupWriter.open({
    ...(options.checkpointing ? { maxFileAgeMs: inputs.checkpointMs } : {}),
    ...(resume
      ? {
          resume: {
            exportId: resume.backup.exportId,
            startTime: new Date(resume.backup.startTime),
            files: resume.files
          }
        }
      : {}),
    source,
    localRoot: inputs.backupDir,
    // The local copy is the backup itself when there is no S3 destination, and the
    // artifact's content when one is asked for; otherwise the data streams straight to S3
    // and backup-dir holds only the small files, until the backup is finished.
    keepLocal: inputs.backupArtifact || !inputs.backupS3,
    ...(inputs.backupS3 ? { s3: { client: clients.s3, location: inputs.backupS3 } } : {}),
    runLabel: resume?.backup.runLabel ?? ctx.runLabel
  })
}

/** Closes the backup (last parts, proofs, manifests), with a log line every interval. */
export function finishBackup(
  ctx: RunContext,
  writer: BackupWriter,
  table: string,
  digest: DigestSummary
): Promise<BackupResult> {
  return withHeartbeat(
    writer.finish(digest),
    ctx.progressIntervalMs,
    (line) => core.info(line),
    (elapsed) =>
      `Finishing the backup of '${table}': last upload, checks and manifests (${elapsed} so far)`
  )
}

/** Uploads the verified local backup as a workflow artifact when asked; returns its locations. */
export async function publishBackup(
  ctx: RunContext,
  table: string,
  result: Pick<BackupResult, 'locations' | 'localDir' | 'localFiles'>
): Promise<string[]> {
  const locations = [...result.locations]
  if (ctx.inputs.backupArtifact && result.localDir) {
    const name = artifactName(table, ctx.runLabel)
    try {
      const uploaded = await ctx.artifacts.upload(name, result.localFiles, result.localDir)
      core.info(
        `Uploaded backup of '${table}' as artifact '${name}' (${uploaded.size ?? '?'} bytes).`
      )
      locations.push(`artifact:${name}`)
    } catch (error) {
      throw new ActionError(
        'backup.artifactFailed',
        `Uploading the backup of '${table}' as workflow artifact '${name}' failed: ${errorMessage(error)}`,
        { cause: error }
      )
    }
  }
  return locations
}
