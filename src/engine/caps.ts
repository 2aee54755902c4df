import type { TableDescription } from '@aws-sdk/client-dynamodb'
import { RateCap } from '../util/rate.js'
import type { Sleep } from '../util/retry.js'

/** A capacity cap as the input gives it: units a second, or a share of provisioned capacity. */
export type UnitsCap = { units: number } | { percent: number }

/** The caps the inputs set (`max-read-units`, `max-write-units`, `max-items-per-second`). */
export interface CapSettings {
  readUnits?: UnitsCap
  writeUnits?: UnitsCap
  itemsPerSecond?: number
}

/** One table's caps, resolved against its capacity: per second, absent when not capped. */
export interface TableCaps {
  readUnits?: number
  writeUnits?: number
  itemsPerSecond?: number
}

export interface CapProblem {
  /** The input's name. */
  input: 'max-read-units' | 'max-write-units'
  message: string
}

/** The table's provisioned units of one kind, or undefined for an on-demand table. */
function provisioned(description: TableDescription, kind: 'read' | 'write'): number | undefined {
  const onDemand = description.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST'
  const units =
    kind === 'read'
      ? description.ProvisionedThroughput?.ReadCapacityUnits
      : description.ProvisionedThroughput?.WriteCapacityUnits
  return onDemand || !units ? undefined : units
}

/**
 * A table's caps per second from the inputs and its description: a percentage is of the
 * table's own provisioned capacity (not its indexes'). A percentage of an on-demand table,
 * which has no provisioned capacity, is a problem for the caller to refuse.
 */
export function resolveCaps(
  settings: CapSettings,
  table: string,
  description: TableDescription
): { caps: TableCaps; problems: CapProblem[] } {
  const caps: TableCaps = {}
  const problems: CapProblem[] = []
  for (const kind of ['read', 'write'] as const) {
    const cap = kind === 'read' ? settings.readUnits : settings.writeUnits
    if (!cap) continue
    const input = kind === 'read' ? 'max-read-units' : 'max-write-units'
    let units: number
    if ('units' in cap) units = cap.units
    else {
      const total = provisioned(description, kind)
      if (total === undefined) {
        problems.push({
          input,
          message: `Input '${input}' is ${cap.percent}%, but table '${table}' is on-demand and has no provisioned ${kind} capacity to take a share of. Give ${kind} units a second instead (e.g. '${input}: 100'), or cap items with 'max-items-per-second'.`
        })
        continue
      }
      // At least one unit a second: a share that rounds to nothing would never finish.
      units = Math.max(1, Math.floor((total * cap.percent) / 100))
    }
    if (kind === 'read') caps.readUnits = units
    else caps.writeUnits = units
  }
  if (settings.itemsPerSecond !== undefined) caps.itemsPerSecond = settings.itemsPerSecond
  return { caps, problems }
}

/** The rate caps of one table, shared by every pass and call on it during the run. */
export interface TableLimiters {
  read?: RateCap
  write?: RateCap
  items?: RateCap
}

/**
 * The run's rate caps, one set per table: passes that touch the same table (a copy's writes
 * and its verifying scan, a verify's two scans) share its caps, so a table never sees more
 * than its cap whatever the action runs on it at once.
 */
export class CapRegistry {
  private readonly caps = new Map<string, TableCaps>()
  private readonly limiters = new Map<string, TableLimiters>()

  constructor(private readonly options: { now?: () => number; sleep?: Sleep } = {}) {}

  /** Records a table's resolved caps (preflight, once it has described the table). */
  set(table: string, caps: TableCaps): void {
    this.caps.set(table, caps)
    this.limiters.delete(table)
  }

  capsOf(table: string): TableCaps {
    return this.caps.get(table) ?? {}
  }

  /** The caps on reading `table` (read units, items), as scan and batch settings take them. */
  reading(table: string): { caps?: { units?: RateCap; items?: RateCap } } {
    const { read, items } = this.for(table)
    return read || items
      ? { caps: { ...(read ? { units: read } : {}), ...(items ? { items } : {}) } }
      : {}
  }

  /** The caps on writing to `table` (write units, items), as batch settings take them. */
  writing(table: string): { caps?: { units?: RateCap; items?: RateCap } } {
    const { write, items } = this.for(table)
    return write || items
      ? { caps: { ...(write ? { units: write } : {}), ...(items ? { items } : {}) } }
      : {}
  }

  for(table: string): TableLimiters {
    let limiters = this.limiters.get(table)
    if (!limiters) {
      const caps = this.capsOf(table)
      const cap = (perSecond: number | undefined): RateCap | undefined =>
        perSecond === undefined ? undefined : new RateCap(perSecond, this.options)
      limiters = {}
      const read = cap(caps.readUnits)
      const write = cap(caps.writeUnits)
      const items = cap(caps.itemsPerSecond)
      if (read) limiters.read = read
      if (write) limiters.write = write
      if (items) limiters.items = items
      this.limiters.set(table, limiters)
    }
    return limiters
  }
}
