import type { TableCaps } from './engine/caps.js'
import type { ErrorCode } from './error-codes.js'
import type { ThroughputSample } from './util/progress.js'
import type { PlanReport } from './report/plan-report.js'

export const MODES = ['plan', 'backup', 'copy', 'verify', 'delete-source', 'restore'] as const
export type Mode = (typeof MODES)[number]

/**
 * One attribute value exactly as DynamoDB's wire protocol carries it (DynamoDB JSON): numbers
 * stay strings, so all 38 digits survive, and binary stays base64 text. The same shape as
 * DynamoDB's export to S3 and `aws dynamodb scan` write.
 */
export type WireValue =
  | { S: string }
  | { N: string }
  | { B: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: string[] }
  | { L: WireValue[] }
  | { M: Record<string, WireValue> }

/**
 * One DynamoDB item as the wire carried it: parsed by JSON.parse (own properties only, so an
 * attribute named `__proto__` stays an attribute) and never converted. The action reads,
 * hashes, backs up and writes items in this one form; nothing decodes them into another.
 */
export type Item = Record<string, WireValue>

/** One `SOURCE -> TARGET` line of the `tables` input. */
export interface TablePair {
  /** A table name, or in `restore` a backup location. */
  source: string
  /** Absent only for a bare `SOURCE` in `backup`. */
  target?: string
}

export interface S3Location {
  bucket: string
  /** Key prefix without leading or trailing slash; '' for the bucket root. */
  prefix: string
}

export type PairStatus =
  | 'pending'
  | 'planned'
  | 'backed-up'
  | 'copied'
  | 'verified'
  | 'mismatch'
  | 'deleted'
  | 'restored'
  | 'failed'
  | 'skipped'
  | 'refused'

export interface DigestSummary {
  /** Items counted. */
  count: number
  /** Order-independent content digest: `sha256-sum:<64 hex>`. */
  digest: string
}

export interface KeyDifference {
  /** The item's key, rendered by describeKey (key attributes only). */
  key: string
  kind: 'missing-in-target' | 'differs' | 'only-in-target'
}

export interface PairReport {
  source: string
  target?: string
  status: PairStatus
  /** Items read from the source by this run's scan. */
  scanned?: number
  /** Items written to the target by this run. */
  written?: number
  /** Items counted in the source / target by a full scan. */
  sourceCount?: number
  targetCount?: number
  sourceDigest?: string
  targetDigest?: string
  verified?: boolean
  /** How the copy was proven: equal digests, or every source item found by key. */
  verification?: 'digest' | 'by-key'
  differences?: KeyDifference[]
  backupLocations?: string[]
  durationMs?: number
  /** Time of each phase in ms (e.g. copy: the pass that backs up and writes; verify). */
  phases?: Record<string, number>
  /**
   * What the pass that moved the items cost and met: capacity units it consumed reading the
   * source and writing the target (as DynamoDB reported them), and calls throttled.
   */
  capacity?: {
    read: number
    write: number
    throttled: number
    /**
     * Where throttling lowered the calls in flight (adaptive concurrency): the fewest it came
     * down to, of how many. Absent when nothing was lowered.
     */
    lowered?: { scan?: { lowest: number; of: number }; write?: { lowest: number; of: number } }
    /** The caps in force, per second (`max-read-units` etc. resolved per table). */
    caps?: { source?: TableCaps; target?: TableCaps }
  }
  /** The copy pass's items/s over each progress interval (for the summary's chart). */
  throughput?: ThroughputSample[]
  /** Plain-language reason when status is failed or skipped. */
  error?: string
  errorCode?: ErrorCode
  /** Mode-specific details rendered in the summary (plan, gates). */
  notes?: string[]
  plan?: PlanReport
}

export interface Report {
  mode: Mode | 'unknown'
  pairs: PairReport[]
  /** The audit record of a destructive mode: each gate and what it found. */
  gates?: { gate: string; passed: boolean; detail: string }[]
  error?: string
  errorCode?: ErrorCode
  durationMs?: number
}
