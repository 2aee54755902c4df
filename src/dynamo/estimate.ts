import type { Projection, TableDescription } from '@aws-sdk/client-dynamodb'
import type { TableCaps } from '../engine/caps.js'
import { billingMode } from './tables.js'

/**
 * The copy pass's rate (scan, digest, backup, writes) that `npm run bench` measured for the
 * action with its default settings: about 2,400-3,500 items/s against DynamoDB Local on a
 * 2-core machine. The estimate takes the low end.
 */
export const MEASURED_COPY_ITEMS_PER_SECOND = 2_400
/** The verification pass only reads; taken as twice the copy pass. */
export const MEASURED_VERIFY_ITEMS_PER_SECOND = 2 * MEASURED_COPY_ITEMS_PER_SECOND

const KB = 1024
const RCU_BYTES = 4 * KB

export interface CopyEstimate {
  items: number
  bytes: number
  averageItemBytes: number
  /** WCUs one item costs: the table, each LSI and each GSI. */
  writeUnitsPerItem: number
  /** RCUs of the copy's strongly consistent scan of the source (twice when the target holds items). */
  sourceReadUnits: number
  /** RCUs of the verification's reads of the target. */
  targetReadUnits: number
  /** WCUs of writing every item to the target, its LSIs and its GSIs. */
  writeUnits: number
  /** The copy pass's rate: the runner's measured rate, or a lower capacity cap. */
  itemsPerSecond: number
  /** What sets that rate, in plain language. */
  limitedBy: string
  /** Copy pass plus verification. */
  seconds: number
  /** The assumptions behind the numbers, one sentence each. */
  basis: string[]
}

export interface EstimateOptions {
  /**
   * The target already holds items: verification then scans the source again, looks every
   * item up in the target and scans the whole target.
   */
  targetHoldsItems?: boolean
  /** The run's caps on the source and the target (`max-read-units` etc., per second). */
  caps?: { source?: TableCaps; target?: TableCaps }
}

/** WCUs to write `bytes`: one per started KB, at least one. */
export function writeUnitsFor(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / KB))
}

/**
 * WCUs of one item's entry in an index. ALL projects the whole item. KEYS_ONLY projects the
 * keys, taken as under 1 KB. INCLUDE projects the keys and some attributes whose size the
 * description does not tell: counted as the whole item, an upper bound.
 */
export function indexWriteUnits(projection: Projection | undefined, itemBytes: number): number {
  return projection?.ProjectionType === 'KEYS_ONLY' ? 1 : writeUnitsFor(itemBytes)
}

interface Limit {
  what: string
  seconds: number
}

/** The read or write capacity that caps a table or GSI, if any: provisioned, or an on-demand maximum. */
function capacity(
  description: Pick<TableDescription, 'ProvisionedThroughput' | 'OnDemandThroughput'>,
  provisioned: boolean,
  kind: 'read' | 'write'
): { units: number; label: string } | undefined {
  const units = provisioned
    ? kind === 'read'
      ? description.ProvisionedThroughput?.ReadCapacityUnits
      : description.ProvisionedThroughput?.WriteCapacityUnits
    : kind === 'read'
      ? description.OnDemandThroughput?.MaxReadRequestUnits
      : description.OnDemandThroughput?.MaxWriteRequestUnits
  if (units === undefined || units <= 0) return undefined
  const unit =
    kind === 'read' ? (provisioned ? 'RCU' : 'read units/s') : provisioned ? 'WCU' : 'write units/s'
  return {
    units,
    label: `${provisioned ? 'provisioned' : 'maximum on-demand'} ${kind} capacity (${units} ${unit})`
  }
}

function slowest(limits: Limit[]): Limit {
  return limits.reduce((a, b) => (b.seconds > a.seconds ? b : a))
}

const number = (n: number): string => Math.round(n).toLocaleString('en-US')
/** A rate with one decimal below 10 (a capacity of 5 WCU may allow 2.5 items/s). */
const rate = (n: number): string =>
  n < 10 ? String(Math.round(n * 10) / 10) : Math.round(n).toLocaleString('en-US')

/**
 * Capacity and duration of a copy, estimated from DescribeTable's approximate item count and
 * size (updated about every six hours) and the average item size they imply.
 *
 * Reads: strongly consistent scans, 1 RCU per 4 KB. Writes: per item, ceil(size / 1 KB) WCU
 * for the table, plus its entry in every LSI (paid from the table's capacity) and every GSI
 * (paid from the GSI's own), assuming every item carries every index's keys. Duration: the
 * runner's measured rate, capped by the provisioned (or maximum on-demand) capacity of the
 * source's reads and the target's and its GSIs' writes; on-demand tables without a maximum
 * are assumed to keep up. `target` is the table written to (the source itself when the
 * target will be created as its clone).
 */
export function estimateCopy(
  source: TableDescription,
  target?: TableDescription | null,
  options: EstimateOptions = {}
): CopyEstimate {
  const written = target ?? source
  const items = Math.max(0, source.ItemCount ?? 0)
  const bytes = Math.max(0, source.TableSizeBytes ?? 0)
  const averageItemBytes = items > 0 ? bytes / items : 0
  const runnerRate = MEASURED_COPY_ITEMS_PER_SECOND
  const holdsItems = options.targetHoldsItems ?? false

  const tableUnits = writeUnitsFor(averageItemBytes)
  const lsiUnits = (written.LocalSecondaryIndexes ?? []).reduce(
    (sum, lsi) => sum + indexWriteUnits(lsi.Projection, averageItemBytes),
    0
  )
  const gsis = (written.GlobalSecondaryIndexes ?? []).map((gsi) => ({
    gsi,
    units: indexWriteUnits(gsi.Projection, averageItemBytes)
  }))
  const writeUnitsPerItem = tableUnits + lsiUnits + gsis.reduce((sum, g) => sum + g.units, 0)
  const scanUnits = Math.ceil(bytes / RCU_BYTES)
  // Verification of a target that held items: a second source scan, a strongly consistent
  // lookup of every item in the target, and a scan of the whole target (old items too).
  const lookupUnits = items * Math.max(1, Math.ceil(averageItemBytes / RCU_BYTES))
  const targetScanUnits = holdsItems
    ? Math.ceil((bytes + Math.max(0, target?.TableSizeBytes ?? 0)) / RCU_BYTES)
    : scanUnits
  const sourceReadUnits = holdsItems ? 2 * scanUnits : scanUnits
  const targetReadUnits = targetScanUnits + (holdsItems ? lookupUnits : 0)

  const sourceProvisioned = billingMode(source) === 'PROVISIONED'
  const writtenProvisioned = billingMode(written) === 'PROVISIONED'
  const copyLimits: Limit[] = [{ what: 'the runner', seconds: items / runnerRate }]
  const sourceReads = capacity(source, sourceProvisioned, 'read')
  if (sourceReads) {
    copyLimits.push({
      what: `the source's ${sourceReads.label}`,
      seconds: scanUnits / sourceReads.units
    })
  }
  const tableWrites = capacity(written, writtenProvisioned, 'write')
  if (tableWrites) {
    copyLimits.push({
      what: `the target's ${tableWrites.label}`,
      seconds: (items * (tableUnits + lsiUnits)) / tableWrites.units
    })
  }
  for (const { gsi, units } of gsis) {
    const gsiWrites = capacity(gsi, writtenProvisioned, 'write')
    if (gsiWrites) {
      copyLimits.push({
        what: `the target's GSI '${gsi.IndexName ?? '?'}' ${gsiWrites.label}`,
        seconds: (items * units) / gsiWrites.units
      })
    }
  }
  const sourceCaps = options.caps?.source ?? {}
  const targetCaps = options.caps?.target ?? {}
  if (sourceCaps.readUnits) {
    copyLimits.push({
      what: `'max-read-units' on the source (${rate(sourceCaps.readUnits)} read units/s)`,
      seconds: scanUnits / sourceCaps.readUnits
    })
  }
  if (targetCaps.writeUnits) {
    copyLimits.push({
      what: `'max-write-units' on the target (${rate(targetCaps.writeUnits)} write units/s)`,
      seconds: (items * writeUnitsPerItem) / targetCaps.writeUnits
    })
  }
  const itemsCap = sourceCaps.itemsPerSecond ?? targetCaps.itemsPerSecond
  if (itemsCap) {
    copyLimits.push({
      what: `'max-items-per-second' (${rate(itemsCap)} items/s)`,
      seconds: items / itemsCap
    })
  }
  const copy = slowest(copyLimits)

  const verifyLimits: Limit[] = [
    { what: 'the runner', seconds: items / MEASURED_VERIFY_ITEMS_PER_SECOND }
  ]
  const targetReads = capacity(written, writtenProvisioned, 'read')
  if (targetReads) {
    verifyLimits.push({ what: 'target reads', seconds: targetReadUnits / targetReads.units })
  }
  if (sourceReads && holdsItems) {
    verifyLimits.push({ what: 'source reads', seconds: scanUnits / sourceReads.units })
  }
  if (targetCaps.readUnits) {
    verifyLimits.push({
      what: "'max-read-units' on the target",
      seconds: targetReadUnits / targetCaps.readUnits
    })
  }
  if (sourceCaps.readUnits && holdsItems) {
    verifyLimits.push({
      what: "'max-read-units' on the source",
      seconds: scanUnits / sourceCaps.readUnits
    })
  }
  if (targetCaps.itemsPerSecond) {
    verifyLimits.push({
      what: "'max-items-per-second' on the target",
      seconds: (holdsItems ? 2 * items : items) / targetCaps.itemsPerSecond
    })
  }
  const verify = slowest(verifyLimits)
  const itemsPerSecond = copy.seconds > 0 ? items / copy.seconds : runnerRate

  const basis = [
    `Item count and size come from DescribeTable, which updates them about every six hours: ~${number(items)} items of ~${number(averageItemBytes)} bytes on average.`,
    `The copy pass is taken at about ${number(runnerRate)} items/s, the low end of what npm run bench measured for the action (2,400-3,500 items/s against DynamoDB Local on a 2-core machine); verification at about twice that.`,
    copy.what === 'the runner'
      ? 'No capacity limit is lower: on-demand tables are assumed to keep up, provisioned ones at their current capacity (auto scaling may raise it).'
      : copy.what.startsWith("'max-")
        ? `${capitalize(copy.what)} caps the copy at about ${rate(itemsPerSecond)} items/s.`
        : `${capitalize(copy.what)} caps the copy at about ${rate(itemsPerSecond)} items/s (current capacity; auto scaling may raise it).`,
    `Write units: ${tableUnits} WCU per item for the table (1 per started KB)${lsiUnits + gsis.length > 0 ? ', plus each index entry: KEYS_ONLY as 1 WCU, ALL and INCLUDE as the whole item (an upper bound), and every item assumed to carry every index key' : ''}.`,
    `Read units: strongly consistent scans at 1 RCU per 4 KB${holdsItems ? '; the target already holds items, so verification scans the source again, looks every item up in the target and scans the whole target' : ''}.`
  ]

  return {
    items,
    bytes,
    averageItemBytes: Math.round(averageItemBytes),
    writeUnitsPerItem,
    sourceReadUnits,
    targetReadUnits,
    writeUnits: items * writeUnitsPerItem,
    itemsPerSecond:
      itemsPerSecond < 10 ? Math.round(itemsPerSecond * 10) / 10 : Math.round(itemsPerSecond),
    limitedBy: copy.what,
    seconds: Math.ceil(copy.seconds + verify.seconds),
    basis
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
