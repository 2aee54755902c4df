import { appendFile } from 'node:fs/promises'
import * as core from '@actions/core'
import type { PairPlan } from '../modes/plan.js'
import type { PairReport, Report } from '../types.js'
import { formatDuration } from '../util/progress.js'

/** core.summary escapes nothing: every table name, key and message passes through here. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
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

function row(label: string, value: string): string {
  return `<tr><th align="left">${escapeHtml(label)}</th><td>${value}</td></tr>`
}

function count(value: number | undefined): string {
  return value === undefined ? '—' : value.toLocaleString('en-US')
}

function renderPlan(plan: PairPlan): string {
  const fields = Object.keys(plan.source ?? plan.target ?? {})
  const rows = fields
    .map((field) => {
      const a = plan.source?.[field] ?? '—'
      const b = plan.target?.[field] ?? '—'
      const mark = plan.source && plan.target && a !== b ? ' ≠' : ''
      return `<tr><td>${escapeHtml(field)}${mark}</td><td>${escapeHtml(a)}</td><td>${escapeHtml(b)}</td></tr>`
    })
    .join('')
  let html = `<table><tr><th>setting</th><th>source</th><th>target</th></tr>${rows}</table>`
  const list = (title: string, items: string[]): string =>
    items.length > 0
      ? `<p><b>${escapeHtml(title)}</b></p><ul>${items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>`
      : ''
  html += list('Blocking differences', plan.differences.blocking)
  html += list('Advisory differences', plan.differences.advisory)
  html += `<p><b>copy would:</b> ${escapeHtml(plan.copy.action)}</p>`
  html += list('copy would refuse because', plan.copy.refusals)
  const e = plan.copy.estimate
  if (e) {
    html += `<p>Estimate: ~${count(e.items)} items, ~${count(e.bytes)} bytes; source scan ~${count(e.sourceReadUnits)} RCU, writes ~${count(e.writeUnits)} WCU, verification ~${count(e.targetReadUnits)} RCU; ~${escapeHtml(formatDuration(e.seconds * 1000))}.</p>`
  }
  return html
}

function renderPair(pair: PairReport): string {
  const title = pair.target ? `${pair.source} → ${pair.target}` : pair.source
  const icon = STATUS_ICON[pair.status] ?? ''
  const rows: string[] = [row('Status', `${icon} ${escapeHtml(pair.status)}`)]
  if (pair.scanned !== undefined) rows.push(row('Items scanned', count(pair.scanned)))
  if (pair.written !== undefined) rows.push(row('Items written', count(pair.written)))
  if (pair.sourceCount !== undefined) rows.push(row('Source items', count(pair.sourceCount)))
  if (pair.targetCount !== undefined) rows.push(row('Target items', count(pair.targetCount)))
  if (pair.sourceDigest)
    rows.push(row('Source digest', `<code>${escapeHtml(pair.sourceDigest)}</code>`))
  if (pair.targetDigest)
    rows.push(row('Target digest', `<code>${escapeHtml(pair.targetDigest)}</code>`))
  if (pair.verified !== undefined) {
    const how =
      pair.verification === 'by-key'
        ? 'every source item found unchanged by key'
        : 'count and content digest'
    rows.push(row('Verified', pair.verified ? `yes (${how})` : `<b>no</b> (${how})`))
  }
  if (pair.backupLocations?.length) {
    rows.push(
      row('Backup', pair.backupLocations.map((l) => `<code>${escapeHtml(l)}</code>`).join('<br>'))
    )
  }
  if (pair.durationMs !== undefined) {
    rows.push(row('Duration', escapeHtml(formatDuration(pair.durationMs))))
    const items = pair.written ?? pair.scanned
    if (items !== undefined && pair.durationMs > 0) {
      rows.push(row('Items/s', count(Math.round(items / (pair.durationMs / 1000)))))
    }
  }
  if (pair.error) rows.push(row('Reason', escapeHtml(pair.error)))
  let html = `<h3>${escapeHtml(title)}</h3><table>${rows.join('')}</table>`
  if (pair.notes?.length)
    html += `<ul>${pair.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`
  if (pair.differences?.length) {
    html += `<p><b>Differing keys</b> (first ${pair.differences.length}; keys only):</p><ul>${pair.differences
      .map((d) => `<li>${escapeHtml(d.kind)}: <code>${escapeHtml(d.key)}</code></li>`)
      .join('')}</ul>`
  }
  if (pair.plan) html += renderPlan(pair.plan as PairPlan)
  return html
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
    ? `<p>${facts.map(([k, v]) => `${escapeHtml(k)}: <code>${escapeHtml(v)}</code>`).join(' · ')}</p>`
    : ''
}

/** The whole job summary as HTML (pure). */
export function renderSummary(report: Report): string {
  const failed = report.error !== undefined
  const heading = `<h2>DynamoDB table mover: ${escapeHtml(report.mode)} ${failed ? '❌ failed' : '✅ succeeded'}</h2>`
  // Line breaks kept: a refusal lists one problem a line, and HTML would run them together.
  const error = report.error
    ? `<p><b>Error:</b> ${escapeHtml(report.error).replace(/\n/g, '<br>')}</p>`
    : ''
  const gates = report.gates?.length
    ? `<h3>Gates (audit record)</h3><table><tr><th>gate</th><th>result</th><th>detail</th></tr>${report.gates
        .map(
          (g) =>
            `<tr><td>${escapeHtml(g.gate)}</td><td>${g.passed ? '✅ passed' : '❌ refused'}</td><td>${escapeHtml(g.detail)}</td></tr>`
        )
        .join('')}</table>\n${auditContext()}`
    : ''
  const pairs = report.pairs.map(renderPair).join('\n')
  const duration =
    report.durationMs !== undefined
      ? `<p>Total time: ${escapeHtml(formatDuration(report.durationMs))}</p>`
      : ''
  return `${heading}\n${error}\n${gates}\n${pairs}\n${duration}\n`
}

/**
 * Appends the summary to GITHUB_STEP_SUMMARY, as core.summary.write() does; read from the
 * environment each time (core.summary keeps the first path it saw for the process).
 */
export async function writeSummary(
  report: Report,
  env: NodeJS.ProcessEnv = process.env
): Promise<void> {
  const file = env.GITHUB_STEP_SUMMARY
  if (!file) {
    core.debug('GITHUB_STEP_SUMMARY is not set; no job summary written.')
    return
  }
  await appendFile(file, renderSummary(report), 'utf8')
}
