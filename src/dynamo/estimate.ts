import type { TableDescription } from '@aws-sdk/client-dynamodb'
import { billingMode } from './tables.js'

/** On-demand tables start able to serve 12,000 reads and 4,000 writes a second (their warm throughput). */
export const ON_DEMAND_READS_PER_SECOND = 12_000
export const ON_DEMAND_WRITES_PER_SECOND = 4_000
/** What one runner with the default settings sustains (see `npm run bench`); a rough ceiling. */
export const CLIENT_ITEMS_PER_SECOND = 5_000

export interface CopyEstimate {
  items: number
  bytes: number
  /** RCUs of the copy's strongly consistent scan of the source. */
  sourceReadUnits: number
  /** RCUs of the verification scan of the target. */
  targetReadUnits: number
  /** WCUs of writing every item to the target and its global secondary indexes. */
  writeUnits: number
  seconds: number
}

/**
 * Rough capacity and duration of a copy, from DescribeTable's approximate size (updated
 * about every six hours). Reads: 1 RCU per 4 KB scanned, strongly consistent. Writes: 1 WCU
 * per started KB of each item, once for the table and once per GSI. Duration: the slowest of
 * the target's write rate, the source's read rate and the runner's own ceiling.
 */
export function estimateCopy(
  source: TableDescription,
  target?: TableDescription | null
): CopyEstimate {
  const items = source.ItemCount ?? 0
  const bytes = source.TableSizeBytes ?? 0
  const averageItem = items > 0 ? bytes / items : 0
  const gsis = (target ?? source).GlobalSecondaryIndexes?.length ?? 0
  const sourceReadUnits = Math.ceil(bytes / 4096)
  const writeUnits = items * Math.max(1, Math.ceil(averageItem / 1024)) * (1 + gsis)
  const writeTable = target ?? source
  const writeRate =
    billingMode(writeTable) === 'PROVISIONED'
      ? Math.max(1, writeTable.ProvisionedThroughput?.WriteCapacityUnits ?? 1)
      : ON_DEMAND_WRITES_PER_SECOND
  const readRate =
    billingMode(source) === 'PROVISIONED'
      ? Math.max(1, source.ProvisionedThroughput?.ReadCapacityUnits ?? 1)
      : ON_DEMAND_READS_PER_SECOND
  const copySeconds = Math.max(
    writeUnits / writeRate,
    sourceReadUnits / readRate,
    items / CLIENT_ITEMS_PER_SECOND
  )
  const verifySeconds = Math.max(sourceReadUnits / readRate, items / (CLIENT_ITEMS_PER_SECOND * 2))
  return {
    items,
    bytes,
    sourceReadUnits,
    targetReadUnits: sourceReadUnits,
    writeUnits,
    seconds: Math.ceil(copySeconds + verifySeconds)
  }
}
