import type { Clients } from './aws/clients.js'
import type { ArtifactUploader } from './backup/artifact.js'
import type { CapRegistry } from './engine/caps.js'
import type { ActionInputs } from './inputs.js'
import type { Report } from './types.js'
import type { Sleep } from './util/retry.js'

/** What every mode gets: validated inputs, AWS clients and the report it fills in. */
export interface RunContext {
  inputs: ActionInputs
  clients: Clients
  report: Report
  /** Unique per run attempt; names backup folders and artifacts. */
  runLabel: string
  artifacts: ArtifactUploader
  /** Each table's rate caps, resolved by preflight from the cap inputs. */
  caps: CapRegistry
  /** Progress-line interval (tests shorten it). */
  progressIntervalMs: number
  sleep?: Sleep
}

export function runLabelFor(env: NodeJS.ProcessEnv, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  const run = env.GITHUB_RUN_ID ? `-run${env.GITHUB_RUN_ID}-${env.GITHUB_RUN_ATTEMPT ?? '1'}` : ''
  return `${stamp}${run}`
}
