import type { TableCaps } from '../engine/caps.js'
import { appendFile } from 'node:fs/promises'
import * as core from '@actions/core'
import type { PairPlan, PlanReport, RestorePairPlan } from './plan-report.js'
import type { PairReport, Report } from '../types.js'
import { formatDuration } from '../util/progress.js'
import { clipText, needsAttention, statusCounts, writeReportFile } from './outputs.js'

/** core.summary escapes nothing: every table name, key and message passes through here. */
export function escapeHtml(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&#39;')
      // A line break inside an HTML block: in GitHub's Markdown a blank line would end the
      // block and let the rest be read as Markdown (headings, images). As a character
      // reference it stays text.
      .replace(/\r\n|\r|\n/g, '&#10;')
  )
}

const STATUS_ICON: Record<string, string> = {
  verified: '✅',
  'backed-up': '✅',
  planned: '📝',
  copied: '⚠️',
  deleted: '🗑️',
  restored: '✅',
  mismatch: '❌',
  failed: '❌',
  skipped: '⏭️',
  refused: '⛔',
  pending: '⏳'
}

/**
 * GitHub drops a step summary over 1 MiB (1,048,576 bytes of UTF-8); ours stays under
 * 900 KiB, leaving room for the runner's masking and for anything else the step appends.
 */
export const SUMMARY_BUDGET_BYTES = 900 * 1024
/** At most this many pairs get a full section (the `tables` limit, so normally all). */
export const DETAILED_PAIRS = 100
/** A pair's section above this size is rendered shorter. */
const PAIR_SECTION_BYTES = 24 * 1024
/** Caps of the parts that do not belong to a pair. */
const ERROR_BYTES = 32 * 1024
const GATES_BYTES = 64 * 1024
/** Share of the room left after the fixed parts that full pair sections may take. */
const DETAIL_SHARE = 0.6

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8')

interface Limits {
  /** Characters of one message, note or value. */
  text: number
  /** Entries of one list (notes, differing keys, plan differences). */
  items: number
  /** Characters of a table name or backup location. */
  name: number
  plan: boolean
}

const FULL: Limits = { text: 2000, items: 20, name: 1200, plan: true }
const REDUCED: Limits = { text: 400, items: 5, name: 600, plan: true }
const COMPACT: Limits = { text: 300, items: 0, name: 300, plan: false }

/** Renders texts and lists within limits, escaped, and notes whether anything was cut. */
class Writer {
  shortened = false
  constructor(readonly limits: Limits) {}

  text(text: string, max = this.limits.text): string {
    const clipped = clipText(text, max)
    if (clipped !== text) this.shortened = true
    return escapeHtml(clipped)
  }

  /** `<li>` items for the first entries, then one counting the rest. */
  items<T>(list: readonly T[], render: (item: T) => string, what: string): string {
    const shown = list.slice(0, this.limits.items).map((item) => `<li>${render(item)}</li>`)
    const rest = list.length - shown.length
    if (rest > 0) {
      this.shortened = true
      shown.push(`<li>… ${count(rest)} more ${escapeHtml(what)} in the full report</li>`)
    }
    return shown.join('')
  }
}

function row(label: string, value: string): string {
  return `<tr><th align="left">${escapeHtml(label)}</th><td>${value}</td></tr>`
}

function count(value: number | undefined): string {
  return value === undefined ? '—' : value.toLocaleString('en-US')
}

function renderPlan(plan: PlanReport, w: Writer): string {
  return 'restore' in plan ? renderRestorePlan(plan, w) : renderCopyPlan(plan, w)
}

function listOf(w: Writer, title: string, items: readonly string[]): string {
  return items.length > 0
    ? `<p><b>${escapeHtml(title)}</b></p><ul>${w.items(items, (i) => w.text(i), 'entries')}</ul>`
    : ''
}

function renderRestorePlan(plan: RestorePairPlan, w: Writer): string {
  const r = plan.restore
  let html = `<p><b>restore would:</b> ${w.text(r.action)}</p>`
  if (r.items !== undefined) {
    html += `<p>The backup (${w.text(r.backupKind ?? 'backup')}) holds ${count(r.items)} items, each checked against DynamoDB's rules and for duplicate keys.</p>`
  }
  return html + listOf(w, 'restore would refuse because', r.refusals)
}

function renderCopyPlan(plan: PairPlan, w: Writer): string {
  const fields = Object.keys(plan.source ?? plan.target ?? {})
  const rows = fields
    .map((field) => {
      const a = plan.source?.[field] ?? '—'
      const b = plan.target?.[field] ?? '—'
      const mark = plan.source && plan.target && a !== b ? ' ≠' : ''
      return `<tr><td>${w.text(field)}${mark}</td><td>${w.text(a)}</td><td>${w.text(b)}</td></tr>`
    })
    .join('')
  let html = `<table><tr><th>setting</th><th>source</th><th>target</th></tr>${rows}</table>`
  const list = (title: string, items: readonly string[]): string => listOf(w, title, items)
  html += list('Blocking differences', plan.differences.blocking)
  html += list('Advisory differences', plan.differences.advisory)
  html += `<p><b>copy would:</b> ${w.text(plan.copy.action)}</p>`
  html += list('copy would refuse because', plan.copy.refusals)
  const e = plan.copy.estimate
  if (e) {
    html += `<p>Estimate: ~${count(e.items)} items, ~${count(e.bytes)} bytes; source scan ~${count(e.sourceReadUnits)} RCU, writes ~${count(e.writeUnits)} WCU, verification ~${count(e.targetReadUnits)} RCU; ~${escapeHtml(formatDuration(e.seconds * 1000))}.</p>`
  }
  return html
}

function pairTitle(pair: PairReport): string {
  return pair.target ? `${pair.source} → ${pair.target}` : pair.source
}

function renderPairWith(pair: PairReport, w: Writer): string {
  const icon = STATUS_ICON[pair.status] ?? ''
  const rows: string[] = [row('Status', `${icon} ${escapeHtml(pair.status)}`)]
  if (pair.scanned !== undefined) rows.push(row('Items scanned', count(pair.scanned)))
  if (pair.written !== undefined) rows.push(row('Items written', count(pair.written)))
  if (pair.sourceCount !== undefined) rows.push(row('Source items', count(pair.sourceCount)))
  if (pair.targetCount !== undefined) rows.push(row('Target items', count(pair.targetCount)))
  if (pair.sourceDigest)
    rows.push(row('Source digest', `<code>${w.text(pair.sourceDigest, 200)}</code>`))
  if (pair.targetDigest)
    rows.push(row('Target digest', `<code>${w.text(pair.targetDigest, 200)}</code>`))
  if (pair.verified !== undefined) {
    const how =
      pair.verification === 'by-key'
        ? 'every source item found unchanged by key'
        : 'count and content digest'
    rows.push(row('Verified', pair.verified ? `yes (${how})` : `<b>no</b> (${how})`))
  }
  if (pair.backupLocations?.length) {
    const shown = pair.backupLocations
      .slice(0, 3)
      .map((l) => `<code>${w.text(l, w.limits.name)}</code>`)
    if (pair.backupLocations.length > 3) {
      w.shortened = true
      shown.push(`… ${count(pair.backupLocations.length - 3)} more in the full report`)
    }
    rows.push(row('Backup', shown.join('<br>')))
  }
  if (pair.capacity) {
    const { read, write, throttled, lowered, caps } = pair.capacity
    const parts = [
      `${count(Math.round(read))} read units, ${count(Math.round(write))} write units, ${count(throttled)} throttled calls`
    ]
    const loweredText = [
      lowered?.scan ? `scans to ${count(lowered.scan.lowest)} of ${count(lowered.scan.of)}` : '',
      lowered?.write ? `writes to ${count(lowered.write.lowest)} of ${count(lowered.write.of)}` : ''
    ].filter(Boolean)
    if (loweredText.length > 0) {
      parts.push(`throttling lowered the calls in flight: ${loweredText.join(', ')}`)
    }
    const capText = [...capsText('source', caps?.source), ...capsText('target', caps?.target)]
    if (capText.length > 0) parts.push(`capped at ${capText.join(', ')}`)
    rows.push(row('Capacity', escapeHtml(parts.join('; '))))
  }
  if (pair.durationMs !== undefined) {
    rows.push(row('Duration', escapeHtml(formatDuration(pair.durationMs))))
    const items = pair.written ?? pair.scanned
    if (items !== undefined && pair.durationMs > 0) {
      rows.push(row('Items/s', count(Math.round(items / (pair.durationMs / 1000)))))
    }
  }
  if (pair.error) rows.push(row('Reason', w.text(pair.error)))
  let html = `<h3>${w.text(pairTitle(pair), w.limits.name)}</h3><table>${rows.join('')}</table>`
  if (pair.notes?.length) html += `<ul>${w.items(pair.notes, (n) => w.text(n), 'notes')}</ul>`
  if (pair.differences?.length) {
    const shown = Math.min(pair.differences.length, w.limits.items)
    html += `<p><b>Differing keys</b> (first ${shown}; keys only):</p><ul>${w.items(
      pair.differences,
      (d) => `${escapeHtml(d.kind)}: <code>${w.text(d.key, Math.min(w.limits.text, 500))}</code>`,
      'differing keys'
    )}</ul>`
  }
  if (pair.plan) {
    if (w.limits.plan) html += renderPlan(pair.plan, w)
    else w.shortened = true
  }
  if (pair.throughput && pair.throughput.length >= 2) {
    if (w.limits.plan) html += throughputChart(pair)
    else w.shortened = true
  }
  return html
}

/**
 * The copy's items/s over time as a Mermaid line chart (GitHub renders Mermaid in job
 * summaries). Only numbers and the pair's table names (letters, digits, `_ . -`) go into it.
 */
export function throughputChart(pair: PairReport): string {
  const samples = pair.throughput ?? []
  const minutes = samples[samples.length - 1]!.seconds >= 120
  const x = samples.map((s) =>
    minutes ? (s.seconds / 60).toFixed(1) : String(Math.round(s.seconds))
  )
  const y = samples.map((s) => String(Math.round(s.itemsPerSecond)))
  // Names and backup locations reduced to characters that cannot leave the quoted title or
  // the code block.
  const title = (pair.target ? `${pair.source} to ${pair.target}` : pair.source)
    .replace(/[^A-Za-z0-9_./:-]+/g, ' ')
    .slice(0, 120)
  return [
    '',
    '',
    '```mermaid',
    'xychart-beta',
    `  title "${title}: items/s"`,
    `  x-axis "${minutes ? 'minutes' : 'seconds'}" [${x.join(', ')}]`,
    '  y-axis "items/s"',
    `  line [${y.join(', ')}]`,
    '```',
    '',
    ''
  ].join('\n')
}

/**
 * A pair's section: in full when it is at most `max` bytes, else with shorter texts and
 * lists, else compact (status, counts, backups and reason only, always a few KiB).
 */
function renderPair(
  pair: PairReport,
  max = PAIR_SECTION_BYTES
): { html: string; shortened: boolean } {
  let last = { html: '', shortened: true }
  for (const limits of [FULL, REDUCED, COMPACT]) {
    const w = new Writer(limits)
    const html = renderPairWith(pair, w)
    last = { html, shortened: w.shortened }
    if (bytes(html) <= max) return last
  }
  return last
}

/** A refusal lists one problem a line: kept on separate lines, escaped, within ERROR_BYTES. */
function renderError(error: string, w: Writer): string {
  const lines = error.split('\n')
  const shown: string[] = []
  let used = 0
  for (const line of lines) {
    const html = w.text(line)
    if (used + bytes(html) + 4 > ERROR_BYTES) break
    used += bytes(html) + 4
    shown.push(html)
  }
  if (shown.length < lines.length) {
    w.shortened = true
    shown.push(`… ${count(lines.length - shown.length)} more line(s) in the full report`)
  }
  return `<p><b>Error:</b> ${shown.join('<br>')}</p>`
}

type Gate = NonNullable<Report['gates']>[number]

/** The gates table: refused gates first in choosing, all shown in order, within GATES_BYTES. */
function renderGates(gates: readonly Gate[], w: Writer, env: NodeJS.ProcessEnv): string {
  const rowOf = (g: Gate): string =>
    `<tr><td>${w.text(g.gate, 300)}</td><td>${g.passed ? '✅ passed' : '❌ refused'}</td><td>${w.text(g.detail)}</td></tr>`
  const rows = gates.map(rowOf)
  const order = [
    ...gates.flatMap((g, i) => (g.passed ? [] : [i])),
    ...gates.flatMap((g, i) => (g.passed ? [i] : []))
  ]
  const chosen = new Set<number>()
  let used = 0
  for (const i of order) {
    const size = bytes(rows[i] ?? '')
    if (used + size > GATES_BYTES) continue
    used += size
    chosen.add(i)
  }
  let more = ''
  if (chosen.size < gates.length) {
    w.shortened = true
    const left = gates.filter((_, i) => !chosen.has(i))
    const refused = left.filter((g) => !g.passed).length
    more = `<p>… ${count(left.length)} more gate(s) (${count(left.length - refused)} passed, ${count(refused)} refused) in the full report.</p>`
  }
  return `<h3>Gates (audit record)</h3><table><tr><th>gate</th><th>result</th><th>detail</th></tr>${rows
    .filter((_, i) => chosen.has(i))
    .join('')}</table>${more}\n${auditContext(env)}`
}

/** Who ran what where, from the runner's variables: part of a destructive mode's audit record. */
function auditContext(env: NodeJS.ProcessEnv = process.env): string {
  const facts = [
    ['repository', env.GITHUB_REPOSITORY],
    ['workflow', env.GITHUB_WORKFLOW],
    [
      'run',
      env.GITHUB_RUN_ID
        ? `${env.GITHUB_RUN_ID} (attempt ${env.GITHUB_RUN_ATTEMPT ?? '1'})`
        : undefined
    ],
    ['job', env.GITHUB_JOB],
    ['triggered by', env.GITHUB_TRIGGERING_ACTOR ?? env.GITHUB_ACTOR],
    ['ref', env.GITHUB_REF],
    ['commit', env.GITHUB_SHA]
  ].filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '')
  return facts.length > 0
    ? `<p>${facts.map(([k, v]) => `${escapeHtml(k)}: <code>${escapeHtml(clipText(v, 500))}</code>`).join(' · ')}</p>`
    : ''
}

/** '1,990 ✅ verified · 10 ❌ failed' */
function countsLine(pairs: readonly PairReport[]): string {
  return Object.entries(statusCounts(pairs))
    .map(([status, n]) => `${count(n)} ${STATUS_ICON[status] ?? ''} ${escapeHtml(status)}`)
    .join(' · ')
}

export interface SummaryOptions {
  /** Where the full report was written (named when the summary leaves anything out). */
  reportFile?: string
  /** Bytes (UTF-8) the summary may take; SUMMARY_BUDGET_BYTES unless a test says otherwise. */
  budgetBytes?: number
  env?: NodeJS.ProcessEnv
}

/**
 * The whole job summary as HTML (pure), always within the byte budget: full sections for
 * up to DETAILED_PAIRS pairs (those that need attention first, each section capped), then
 * one line for each further pair that needs attention while room lasts, then a count by
 * status of the pairs not shown, and where the full report is.
 */
export function renderSummary(report: Report, options: SummaryOptions = {}): string {
  const budget = options.budgetBytes ?? SUMMARY_BUDGET_BYTES
  const env = options.env ?? process.env
  const w = new Writer(FULL)
  const failed = report.error !== undefined
  const heading = `<h2>DynamoDB table mover: ${escapeHtml(report.mode)} ${failed ? '❌ failed' : '✅ succeeded'}</h2>`
  const error = report.error ? renderError(report.error, w) : ''
  const gates = report.gates?.length ? renderGates(report.gates, w, env) : ''
  const duration =
    report.durationMs !== undefined
      ? `<p>Total time: ${escapeHtml(formatDuration(report.durationMs))}</p>`
      : ''
  const fixed = `${heading}\n${error}\n${gates}\n\n${duration}\n`
  const reportFile = options.reportFile ? escapeHtml(options.reportFile) : ''
  // The overview, the count of pairs not shown and the pointer to the report file.
  const reserve = 4096 + 2 * bytes(reportFile)
  const room = budget - bytes(fixed) - reserve

  // Full sections: pairs that need attention first, then the rest in order.
  const indexed = report.pairs.map((pair, index) => ({ pair, index }))
  const order = [
    ...indexed.filter((p) => needsAttention(p.pair)),
    ...indexed.filter((p) => !needsAttention(p.pair))
  ]
  const sections = new Map<number, string>()
  let used = 0
  let shortened = w.shortened
  for (const { pair, index } of order) {
    if (sections.size >= DETAILED_PAIRS) break
    const left = Math.floor(room * DETAIL_SHARE) - used
    if (left <= 0) break
    const section = renderPair(pair, Math.min(PAIR_SECTION_BYTES, left - 1))
    const size = bytes(section.html) + 1
    if (size > left) continue
    used += size
    shortened ||= section.shortened
    sections.set(index, section.html)
  }

  // One line for each further pair that needs attention, while room lasts.
  const named: string[] = []
  const namedIndexes = new Set<number>()
  const namesHeading = '<h3>More pairs that need attention</h3><ul>'
  used += bytes(namesHeading) + bytes('</ul>\n')
  const line = new Writer(COMPACT)
  for (const { pair, index } of order) {
    if (sections.has(index) || !needsAttention(pair)) continue
    const reason = pair.error ? `: ${line.text(pair.error, 200)}` : ''
    const html = `<li>${STATUS_ICON[pair.status] ?? ''} ${line.text(pairTitle(pair))} — ${escapeHtml(pair.status)}${reason}</li>`
    if (used + bytes(html) > room) break
    used += bytes(html)
    named.push(html)
    namedIndexes.add(index)
  }
  shortened ||= line.shortened

  const shown = report.pairs
    .map((_, index) => sections.get(index))
    .filter((html) => html !== undefined)
    .join('\n')
  const rest = report.pairs.filter((_, i) => !sections.has(i) && !namedIndexes.has(i))
  const partial = sections.size < report.pairs.length
  const overview = partial
    ? `<p>${count(report.pairs.length)} pairs: ${countsLine(report.pairs)}. Full sections for ${count(sections.size)}${named.length > 0 ? `, one line each for ${count(named.length)} more that need attention` : ''}.</p>\n`
    : ''
  const names = named.length > 0 ? `${namesHeading}${named.join('')}</ul>\n` : ''
  const notShown =
    rest.length > 0 ? `<p>Not shown: ${count(rest.length)} pairs: ${countsLine(rest)}.</p>\n` : ''
  const pointer =
    partial || shortened
      ? `<p>This summary leaves details out to stay within GitHub's 1 MiB limit. ${
          reportFile
            ? `The full report (JSON, every pair) is <code>${reportFile}</code> on the runner, also named by the <code>report-file</code> output; the runner deletes it when the job ends, so upload it in a later step (e.g. actions/upload-artifact with <code>if: always()</code>) to keep it.`
            : 'The full report could not be written to a file; the step log has the warning.'
        }</p>\n`
      : ''
  const html = `${heading}\n${error}\n${gates}\n${overview}${shown}\n${names}${notShown}${pointer}${duration}\n`
  if (bytes(html) <= budget) return html
  // Not reached while the accounting above holds; never hand GitHub a summary it drops.
  const where = reportFile ? ` The full report is <code>${reportFile}</code> on the runner.` : ''
  return `${heading}\n<p>${count(report.pairs.length)} pairs: ${countsLine(report.pairs)}.${where}</p>\n${duration}\n`
}

/**
 * Writes the full report file (see writeReportFile), then appends the summary to
 * GITHUB_STEP_SUMMARY, as core.summary.write() does; read from the environment each time
 * (core.summary keeps the first path it saw for the process).
 */
export async function writeSummary(
  report: Report,
  env: NodeJS.ProcessEnv = process.env
): Promise<void> {
  const reportFile = writeReportFile(report, env)
  const file = env.GITHUB_STEP_SUMMARY
  if (!file) {
    core.debug('GITHUB_STEP_SUMMARY is not set; no job summary written.')
    return
  }
  await appendFile(
    file,
    renderSummary(report, { ...(reportFile ? { reportFile } : {}), env }),
    'utf8'
  )
}

/** A table's caps in words: `source 100 read units/s`, … */
function capsText(side: string, caps: TableCaps | undefined): string[] {
  if (!caps) return []
  const out: string[] = []
  if (caps.readUnits !== undefined) out.push(`${side} ${count(caps.readUnits)} read units/s`)
  if (caps.writeUnits !== undefined) out.push(`${side} ${count(caps.writeUnits)} write units/s`)
  if (caps.itemsPerSecond !== undefined) out.push(`${side} ${count(caps.itemsPerSecond)} items/s`)
  return out
}
