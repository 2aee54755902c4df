import * as core from '@actions/core'
import { createClients, destroyClients, type Clients } from './aws/clients.js'
import { webIdentityCredentials } from './aws/credentials.js'
import { createArtifactUploader, type ArtifactUploader } from './backup/artifact.js'
import { runLabelFor, type RunContext } from './context.js'
import { CapRegistry } from './engine/caps.js'
import { ActionError, errorMessage } from './errors.js'
import { getInputs } from './inputs.js'
import { runBackup } from './modes/backup.js'
import { runCopy } from './modes/copy.js'
import { runDeleteSource } from './modes/delete-source.js'
import { runPlan } from './modes/plan.js'
import { runRestore } from './modes/restore.js'
import { runVerify } from './modes/verify.js'
import { checkAccount } from './preflight.js'
import { setOutputs } from './report/outputs.js'
import { writeSummary } from './report/summary.js'
import type { Mode, Report } from './types.js'

const MODES: Record<Mode, (ctx: RunContext) => Promise<void>> = {
  plan: runPlan,
  backup: runBackup,
  copy: runCopy,
  verify: runVerify,
  'delete-source': runDeleteSource,
  restore: runRestore
}

export interface RunOverrides {
  artifacts?: ArtifactUploader
  progressIntervalMs?: number
}

/**
 * The action: read inputs, build clients, guard the account, run the mode. One catch turns
 * any failure into a failed step; the summary and outputs are written in every outcome.
 */
export async function run(overrides: RunOverrides = {}): Promise<void> {
  const started = Date.now()
  const report: Report = { mode: 'unknown', pairs: [] }
  let clients: Clients | undefined
  try {
    const inputs = getInputs()
    report.mode = inputs.mode
    const mode = MODES[inputs.mode]
    const credentials = inputs.role
      ? webIdentityCredentials({
          roleArn: inputs.role.arn,
          durationSeconds: inputs.role.durationSeconds,
          sessionName: `dynamodb-table-mover-${process.env.GITHUB_RUN_ID ?? 'local'}`,
          region: inputs.region,
          idToken: (audience) => core.getIDToken(audience),
          log: (line) => core.info(line),
          mask: (secret) => core.setSecret(secret)
        })
      : undefined
    clients = createClients({
      ...(credentials ? { credentials } : {}),
      region: inputs.region,
      dynamodbEndpoint: inputs.dynamodbEndpoint,
      s3Endpoint: inputs.s3Endpoint,
      maxSockets: inputs.writesInFlight + inputs.totalSegments * 2 + 16
    })
    const ctx: RunContext = {
      inputs,
      clients,
      report,
      runLabel: runLabelFor(process.env, new Date(started)),
      artifacts: overrides.artifacts ?? createArtifactUploader(),
      caps: new CapRegistry(),
      progressIntervalMs: overrides.progressIntervalMs ?? 10_000
    }
    // The role's first credentials now: a job that cannot assume it fails here, plainly.
    if (credentials) await credentials()
    await checkAccount(ctx)
    await mode(ctx)
  } catch (error) {
    report.error = errorMessage(error)
    if (error instanceof ActionError) report.errorCode = error.code
    if (error instanceof Error && error.stack) core.debug(error.stack)
    core.setFailed(report.error)
  } finally {
    report.durationMs = Date.now() - started
    setOutputs(report)
    try {
      await writeSummary(report)
    } catch (error) {
      core.warning(`Could not write the job summary: ${errorMessage(error)}`)
    }
    if (clients) destroyClients(clients)
  }
}
