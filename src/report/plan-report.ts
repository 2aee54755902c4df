import type { DefinitionComparison, DefinitionText } from '../dynamo/definitions.js'
import type { CopyEstimate } from '../dynamo/estimate.js'

/** What `plan` reports for a pair of tables (`plan-for: copy`). */
export interface PairPlan {
  /** Each table's rows: its state around its definition as text. */
  source: Record<string, string> | null
  target: Record<string, string> | null
  /** Field by field, with the blocking and advisory messages rendered from them. */
  differences: DefinitionComparison
  /** The rows of `source`/`target` whose definitions differ (by field, not by their text). */
  differing: (keyof DefinitionText)[]
  /** What `copy` would do with the same inputs. */
  copy: {
    action: 'copy' | 'create target and copy' | 'refuse'
    /** Every reason copy's preflight would refuse, as it checks them. */
    refusals: string[]
    estimate?: CopyEstimate
  }
}

/** What `plan` reports for a backup and its target (`plan-for: restore`). */
export interface RestorePairPlan {
  restore: {
    action: 'restore' | 'create target and restore' | 'refuse'
    /** restore's own refusals for this pair, word for word, as its preflight makes them. */
    refusals: string[]
    /** Items the backup holds, every one checked against DynamoDB's rules (when readable). */
    items?: number
    /** The backup's kind: this action's or DynamoDB's export, or an `aws dynamodb scan` file. */
    backupKind?: string
  }
}

export type PlanReport = PairPlan | RestorePairPlan
