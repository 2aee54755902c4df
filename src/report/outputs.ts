import { mkdirSync, writeFileSync } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as core from '@actions/core'
import { errorMessage } from '../errors.js'
import type { PairReport, PairStatus, Report } from '../types.js'

/** Modes whose success means the data was proven equal. */
const VERIFYING_MODES = ['copy', 'verify', 'restore', 'delete-source']

/**
 * Byte budgets of the outputs. GitHub allows 1 MB of outputs per job, sized as UTF-16, and
 * other steps of the job share it; ours stay under 640 KiB together, measured both as UTF-8
 * and as UTF-16 (see outputBytes).
 */
export const OUTPUT_BUDGET = {
  report: 512 * 1024,
  backupLocation: 128 * 1024
} as const

/** Statuses that mean a pair did what was asked; every other one needs attention. */
const DONE: readonly PairStatus[] = ['verified', 'backed-up', 'planned', 'deleted', 'restored']

export function needsAttention(pair: PairReport): boolean {
  return !DONE.includes(pair.status)
}

/** A text's size as GitHub may count it: the larger of its UTF-8 and UTF-16 encodings. */
export function outputBytes(text: string): number {
  return Math.max(Buffer.byteLength(text, 'utf8'), Buffer.byteLength(text, 'utf16le'))
}

/** At most `max` UTF-16 units of `text`, never half a surrogate pair, with '…' when cut. */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text
  let end = Math.max(0, max - 1)
  const last = text.charCodeAt(end - 1)
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end -= 1
  return `${text.slice(0, end)}…`
}

/** How many pairs have each status, in a stable order. */
export function statusCounts(pairs: readonly PairReport[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const pair of pairs) counts[pair.status] = (counts[pair.status] ?? 0) + 1
  return counts
}

type PairJson = Record<string, unknown>

function pairJson(p: PairReport): PairJson {
  return {
    source: p.source,
    target: p.target ?? null,
    status: p.status,
    counts: {
      scanned: p.scanned ?? null,
      written: p.written ?? null,
      source: p.sourceCount ?? null,
      target: p.targetCount ?? null
    },
    digests: { source: p.sourceDigest ?? null, target: p.targetDigest ?? null },
    verified: p.verified ?? false,
    verification: p.verification ?? null,
    differences: p.differences ?? [],
    backupLocations: p.backupLocations ?? [],
    durationMs: p.durationMs ?? null,
    ...(p.phases ? { phases: p.phases } : {}),
    ...(p.capacity ? { capacity: p.capacity } : {}),
    ...(p.notes?.length ? { notes: p.notes } : {}),
    ...(p.error ? { error: p.error, errorCode: p.errorCode } : {}),
    ...(p.plan ? { plan: p.plan } : {})
  }
}

/** Caps of one pair in a truncated `report` output (the report file keeps everything). */
const CAPS = { error: 300, notes: 3, note: 200, differences: 5, key: 200, planBytes: 2048 }
/** The share of the budget that capped entries may take; brief entries use the rest. */
const CAPPED_SHARE = 0.5

/** One pair with its lists and texts capped, and counts of what was left out. */
function compactPairJson(p: PairReport, index: number): PairJson {
  const json: PairJson = { index, ...pairJson(p) }
  const differences = p.differences ?? []
  json.differences = differences
    .slice(0, CAPS.differences)
    .map((d) => ({ kind: d.kind, key: clipText(d.key, CAPS.key) }))
  if (differences.length > CAPS.differences)
    json.differencesOmitted = differences.length - CAPS.differences
  const notes = p.notes ?? []
  if (notes.length > 0) json.notes = notes.slice(0, CAPS.notes).map((n) => clipText(n, CAPS.note))
  if (notes.length > CAPS.notes) json.notesOmitted = notes.length - CAPS.notes
  if (p.error) json.error = clipText(p.error, CAPS.error)
  if (p.plan && outputBytes(JSON.stringify(p.plan)) > CAPS.planBytes) {
    delete json.plan
    json.planOmitted = true
  }
  return json
}

/** One pair in a line: where it is in `tables`, what it is, and why it failed. */
function briefPairJson(p: PairReport, index: number): PairJson {
  return {
    index,
    brief: true,
    source: clipText(p.source, 300),
    target: p.target ?? null,
    status: p.status,
    verified: p.verified ?? false,
    ...(p.error ? { error: clipText(p.error, 200), errorCode: p.errorCode } : {})
  }
}

function reportHeader(report: Report, reportFile: string | undefined): PairJson {
  return {
    mode: report.mode,
    ...(report.error ? { error: report.error, errorCode: report.errorCode } : {}),
    durationMs: report.durationMs,
    truncated: false,
    ...(reportFile ? { reportFile } : {})
  }
}

/** The full report, every pair and every text whole: the content of the report file. */
export function fullReportJson(report: Report, reportFile?: string): string {
  return JSON.stringify({ ...reportHeader(report, reportFile), pairs: report.pairs.map(pairJson) })
}

/**
 * The `report` output: mode and, per pair, what happened (never an attribute value). When
 * the whole report would exceed `budget` bytes (see outputBytes), it is cut down: pairs
 * that need attention first, then the rest in order, each with its `index` in `tables`;
 * texts and lists capped (`notesOmitted`, `differencesOmitted`, `planOmitted`) for as many
 * as fit in half the budget, then `brief` entries (names, status, error) while room lasts.
 * `truncated: true`, `pairCount`, `statusCounts` and `omittedPairs` say what is missing,
 * and `reportFile` where the full report is.
 */
export function reportJson(
  report: Report,
  reportFile?: string,
  budget: number = OUTPUT_BUDGET.report
): string {
  return reportOutput(report, reportFile, budget).json
}

function reportOutput(
  report: Report,
  reportFile: string | undefined,
  budget: number
): { json: string; truncated: boolean } {
  const full = fullReportJson(report, reportFile)
  if (outputBytes(full) <= budget) return { json: full, truncated: false }

  const header: PairJson = {
    ...reportHeader(report, reportFile),
    truncated: true,
    pairCount: report.pairs.length,
    statusCounts: statusCounts(report.pairs)
  }
  if (report.error) header.error = clipText(report.error, 4 * CAPS.error)
  const pairs = report.pairs.map((p, i) => ({ pair: p, index: i }))
  const order = [
    ...pairs.filter((p) => needsAttention(p.pair)),
    ...pairs.filter((p) => !needsAttention(p.pair))
  ]
  // Room for the header, the largest possible omittedPairs and the array's brackets.
  const base = JSON.stringify({ ...header, omittedPairs: report.pairs.length, pairs: [] })
  let used = outputBytes(base)
  const chosen: { index: number; text: string }[] = []
  const take = (text: string, index: number, limit: number): boolean => {
    const cost = outputBytes(text) + 2 // and its comma
    if (used + cost > limit) return false
    used += cost
    chosen.push({ index, text })
    return true
  }
  // Capped entries while they take at most CAPPED_SHARE of the budget, then brief ones,
  // pairs that need attention first each time.
  const left = new Set(order.map((p) => p.index))
  for (const { pair, index } of order) {
    if (take(JSON.stringify(compactPairJson(pair, index)), index, budget * CAPPED_SHARE))
      left.delete(index)
  }
  for (const { pair, index } of order) {
    if (left.has(index)) take(JSON.stringify(briefPairJson(pair, index)), index, budget)
  }
  chosen.sort((a, b) => a.index - b.index)
  for (;;) {
    const head = JSON.stringify({
      ...header,
      omittedPairs: report.pairs.length - chosen.length,
      pairs: []
    })
    const text = `${head.slice(0, -2)}${chosen.map((c) => c.text).join(',')}]}`
    if (outputBytes(text) <= budget || chosen.length === 0) return { json: text, truncated: true }
    chosen.pop() // not reached while the accounting above holds; a guard all the same
  }
}

export function isVerified(report: Report): boolean {
  return (
    report.error === undefined &&
    VERIFYING_MODES.includes(report.mode) &&
    report.pairs.length > 0 &&
    report.pairs.every((p) => p.verified === true)
  )
}

/**
 * The `backup-location` output: one location a line, every one of which a `restore` line
 * of `tables` takes back as is. Only whole lines are kept within `budget`; `omitted` counts
 * the rest (all are in the report file).
 */
export function backupLocationsOutput(
  report: Report,
  budget: number = OUTPUT_BUDGET.backupLocation
): { text: string; omitted: number } {
  const all = report.pairs.flatMap((p) => p.backupLocations ?? [])
  const kept: string[] = []
  let used = 0
  for (const location of all) {
    const cost = outputBytes(location) + 2
    if (used + cost > budget) break
    used += cost
    kept.push(location)
  }
  return { text: kept.join('\n'), omitted: all.length - kept.length }
}

export function backupLocations(report: Report): string {
  return backupLocationsOutput(report).text
}

/** Where the full report goes: a file in RUNNER_TEMP, one per step. */
export function reportFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const step = (env.GITHUB_ACTION || `pid${process.pid}`).replace(/[^A-Za-z0-9_.-]/g, '-')
  return path.join(env.RUNNER_TEMP || os.tmpdir(), 'dynamodb-table-mover', `report-${step}.json`)
}

const written = new WeakMap<Report, { json: string; file: string | undefined }>()

/**
 * Writes the full report (fullReportJson) to reportFilePath and returns the path, or
 * undefined, with a warning, when it cannot be written. Writing the same report again
 * does nothing. Never throws: it runs while the outputs are written, in every outcome.
 */
export function writeReportFile(
  report: Report,
  env: NodeJS.ProcessEnv = process.env
): string | undefined {
  const file = reportFilePath(env)
  const json = fullReportJson(report, file)
  const before = written.get(report)
  if (before?.json === json) return before.file
  try {
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, `${json}\n`, 'utf8')
    written.set(report, { json, file })
    return file
  } catch (error) {
    core.warning(`Could not write the full report to ${file}: ${errorMessage(error)}`)
    written.set(report, { json, file: undefined })
    return undefined
  }
}

export function setOutputs(report: Report, env: NodeJS.ProcessEnv = process.env): void {
  const file = writeReportFile(report, env)
  const { json, truncated } = reportOutput(report, file, OUTPUT_BUDGET.report)
  if (truncated) {
    core.warning(
      `The 'report' output holds part of the report only, to stay within GitHub's output limit${file ? `; the full report is in ${file}` : ''}.`
    )
  }
  core.setOutput('report', json)
  core.setOutput('verified', isVerified(report) ? 'true' : 'false')
  const locations = backupLocationsOutput(report)
  if (locations.omitted > 0) {
    core.warning(
      `The 'backup-location' output lists ${locations.omitted} fewer location(s) than were written, to stay within GitHub's output limit${file ? `; all are in ${file}` : ''}.`
    )
  }
  core.setOutput('backup-location', locations.text)
  if (file) core.setOutput('report-file', file)
}
