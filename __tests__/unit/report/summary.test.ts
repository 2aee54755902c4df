import { afterEach, describe, expect, it } from '@jest/globals'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import {
  DETAILED_PAIRS,
  SUMMARY_BUDGET_BYTES,
  escapeHtml,
  renderSummary,
  throughputChart,
  writeSummary
} from '../../../src/report/summary.js'
import { backupLocations, isVerified, reportJson } from '../../../src/report/outputs.js'
import type { Report } from '../../../src/types.js'

const report: Report = {
  mode: 'copy',
  durationMs: 5000,
  pairs: [
    {
      source: 'orders<qa>',
      target: 'qa-orders',
      status: 'verified',
      scanned: 3000,
      written: 3000,
      sourceCount: 3000,
      targetCount: 3000,
      sourceDigest: 'sha256-sum:ab',
      targetDigest: 'sha256-sum:ab',
      verified: true,
      verification: 'digest',
      backupLocations: ['s3://b/p/orders/x/', '/tmp/backups/orders/x'],
      durationMs: 2000
    },
    {
      source: 'users-qa',
      target: 'qa-users',
      status: 'mismatch',
      verified: false,
      differences: [{ kind: 'missing-in-target', key: 'pk="<script>"' }],
      error: 'differ & fail'
    }
  ],
  error: 'one pair failed'
}

describe('summary.ts', () => {
  it("charts the copy's throughput as a Mermaid line chart, with nothing that can leave it", () => {
    const pair = {
      ...report.pairs[0]!,
      source: 's3://b/"x`y"/orders\n```',
      throughput: [
        { seconds: 10, itemsPerSecond: 2500.4 },
        { seconds: 20, itemsPerSecond: 3100 },
        { seconds: 25.5, itemsPerSecond: 900 }
      ]
    }
    const chart = throughputChart(pair)
    expect(chart).toContain('```mermaid\nxychart-beta\n')
    expect(chart).toContain('  x-axis "seconds" [10, 20, 26]\n')
    expect(chart).toContain('  line [2500, 3100, 900]\n')
    const title = chart.split('\n').find((l) => l.includes('title'))!
    expect(title).toBe('  title "s3://b/ x y /orders to qa-orders: items/s"')
    expect(chart.match(/```/g)).toHaveLength(2)
    const html = renderSummary({ mode: 'copy', pairs: [pair] })
    expect(html).toContain('xychart-beta')
    // Long runs in minutes.
    const long = throughputChart({
      ...pair,
      throughput: [
        { seconds: 600, itemsPerSecond: 1 },
        { seconds: 1230, itemsPerSecond: 2 }
      ]
    })
    expect(long).toContain('x-axis "minutes" [10.0, 20.5]')
  })

  it("keeps a refusal's one-problem-a-line list on separate lines, escaped", () => {
    const html = renderSummary({
      mode: 'copy',
      pairs: [],
      error:
        "2 problems, nothing was written:\n- Target 'a<b>' holds items.\n- No backup destination."
    })
    expect(html).toContain(
      '<b>Error:</b> 2 problems, nothing was written:<br>- Target &#39;a&lt;b&gt;&#39; holds items.<br>- No backup destination.'
    )
  })

  it('escapes HTML in names, keys and messages', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;'
    )
    const html = renderSummary(report)
    expect(html).not.toContain('<script>')
    expect(html).toContain('orders&lt;qa&gt; → qa-orders')
    expect(html).toContain('differ &amp; fail')
    expect(html).toContain('1,500')
    expect(html).toContain('❌ failed')
    expect(html).toContain('missing-in-target: <code>pk=&quot;&lt;script&gt;&quot;</code>')
  })

  it('keeps line breaks from a backup inside its HTML, so no Markdown can follow them', () => {
    const injected = 'index SENT\n\n# INJ_HEADING ![x](https://example.invalid/p.png)\n\n'
    const html = renderSummary({
      mode: 'restore',
      pairs: [{ source: 'backup', target: 't', status: 'refused', error: injected }],
      error: injected
    })
    // Every source line holding the injected text is inside HTML, none is Markdown of its own.
    const lines = html.split('\n').filter((line) => line.includes('INJ_HEADING'))
    expect(lines).toHaveLength(2)
    for (const line of lines) expect(line).toMatch(/^<.*>$/)
    expect(html).toContain('&#10;&#10;# INJ_HEADING')
  })

  it('builds the outputs', () => {
    const json = JSON.parse(reportJson(report)) as {
      pairs: { counts: unknown; verified: boolean }[]
    }
    expect(json.pairs[0]?.counts).toEqual({
      scanned: 3000,
      written: 3000,
      source: 3000,
      target: 3000
    })
    expect(isVerified(report)).toBe(false)
    expect(isVerified({ mode: 'copy', pairs: [report.pairs[0]!] })).toBe(true)
    expect(isVerified({ mode: 'backup', pairs: [{ ...report.pairs[0]!, verified: true }] })).toBe(
      false
    )
    expect(backupLocations(report)).toBe('s3://b/p/orders/x/\n/tmp/backups/orders/x')
  })
})

const ONE_MIB = 1024 * 1024
const LONG = `Throttled <again> & "again": ${'the request rate is too high; '.repeat(200)}`
const FILE = '/home/runner/work/_temp/dynamodb-table-mover/report-move.json'
const name = (i: number): string => `orders-${String(i).padStart(4, '0')}`

/** `count` pairs; every `failEvery`-th fails with a long message, the rest verified. */
function bigReport(count: number, failEvery: number): Report {
  return {
    mode: 'copy',
    durationMs: 60_000,
    error: 'some pairs failed',
    pairs: Array.from({ length: count }, (_, i) => {
      const failed = i % failEvery === 0
      return {
        source: name(i),
        target: `qa<${name(i)}>`,
        status: failed ? ('failed' as const) : ('verified' as const),
        scanned: 1000,
        written: 1000,
        verified: !failed,
        backupLocations: [`s3://backups/team#1/${name(i)}/20260101T000000Z/`],
        notes: Array.from({ length: 30 }, (_, n) => `note ${n}: ${'x'.repeat(300)}`),
        differences: Array.from({ length: 50 }, (_, n) => ({
          kind: 'missing-in-target' as const,
          key: `pk="<user-${n}>"`
        })),
        durationMs: 1000,
        ...(failed ? { error: LONG } : {})
      }
    })
  }
}

const title = (i: number): string => `${name(i)} → qa&lt;${name(i)}&gt;`

describe('summary.ts: the 1 MiB cap', () => {
  it('keeps the summary under 1 MiB with 2,000 pairs', () => {
    const html = renderSummary(bigReport(2000, 10), { reportFile: FILE })
    expect(Buffer.byteLength(html, 'utf8')).toBeLessThan(ONE_MIB)
    expect(Buffer.byteLength(html, 'utf8')).toBeLessThanOrEqual(SUMMARY_BUDGET_BYTES)
    // Every failed pair is named, in a full section or a line of its own.
    for (let i = 0; i < 2000; i += 10) expect(html).toContain(title(i))
    expect(html).toContain('2,000 pairs: 200 ❌ failed · 1,800 ✅ verified.')
    const notShown = /<p>Not shown: ([\d,]+) pairs: ([\d,]+) ✅ verified\.<\/p>/.exec(html)
    expect(notShown).not.toBeNull()
    const sections = (html.match(/<h3>orders-/g) ?? []).length
    expect(sections).toBeLessThanOrEqual(DETAILED_PAIRS)
    const lines = (html.match(/<li>❌ orders-/g) ?? []).length
    expect(sections + lines + Number(notShown?.[1]?.replace(/,/g, ''))).toBe(2000)
    expect(html).toContain(`The full report (JSON, every pair) is <code>${FILE}</code>`)
    expect(html).not.toMatch(/<user-|<orders|"again"/)
  })

  it('names failed pairs up to the budget and counts the rest when all 2,000 fail', () => {
    const html = renderSummary(bigReport(2000, 1), { reportFile: FILE })
    expect(Buffer.byteLength(html, 'utf8')).toBeLessThanOrEqual(SUMMARY_BUDGET_BYTES)
    const sections = (html.match(/<h3>orders-/g) ?? []).length
    const lines = (html.match(/<li>❌ orders-/g) ?? []).length
    const notShown = /<p>Not shown: ([\d,]+) pairs: ([\d,]+) ❌ failed\.<\/p>/.exec(html)
    const counted = Number(notShown?.[1]?.replace(/,/g, '') ?? '0')
    expect(sections + lines).toBeGreaterThan(500)
    expect(sections + lines + counted).toBe(2000)
    // Named in the order of `tables`: the ones counted are the last.
    expect(html).toContain(title(sections + lines - 1))
    expect(html).not.toContain(title(sections + lines))
  })

  it("caps one pair's notes and differing keys", () => {
    const report: Report = {
      mode: 'verify',
      pairs: [
        {
          source: 'orders-qa',
          target: 'qa-orders',
          status: 'mismatch',
          notes: Array.from({ length: 10_000 }, (_, n) => `note ${n}`),
          differences: Array.from({ length: 10_000 }, (_, n) => ({
            kind: 'differs' as const,
            key: `pk="${n}"`
          }))
        }
      ]
    }
    const html = renderSummary(report, { reportFile: FILE })
    expect(Buffer.byteLength(html, 'utf8')).toBeLessThan(32 * 1024)
    expect(html).toContain('<li>… 9,980 more notes in the full report</li>')
    expect(html).toContain('(first 20; keys only)')
    expect(html).toContain('<li>… 9,980 more differing keys in the full report</li>')
    expect(html).toContain(FILE)
  })

  it('caps a long error and a long gate record, keeping refused gates', () => {
    const report: Report = {
      mode: 'delete-source',
      pairs: [],
      error: Array.from({ length: 5000 }, (_, n) => `- Table 't-${n}<x>' is not empty.`).join('\n'),
      gates: Array.from({ length: 5000 }, (_, n) => ({
        gate: `backup: t-${n}`,
        passed: n !== 4999,
        detail: 'd'.repeat(200)
      }))
    }
    const html = renderSummary(report, { reportFile: FILE, env: {} })
    expect(Buffer.byteLength(html, 'utf8')).toBeLessThan(128 * 1024)
    expect(html).toContain('more line(s) in the full report')
    expect(html).toContain('<td>backup: t-4999</td><td>❌ refused</td>')
    expect(html).toMatch(/… [\d,]+ more gate\(s\) \([\d,]+ passed, 0 refused\) in the full report/)
    expect(html).not.toContain("'t-0<x>'")
  })

  it('leaves a small report whole, with no pointer to the report file', () => {
    const html = renderSummary(report, { reportFile: FILE })
    expect(html).not.toContain(FILE)
    expect(html).not.toContain('Not shown')
  })

  describe('writeSummary', () => {
    const saved = { ...process.env }
    afterEach(() => {
      process.env = { ...saved }
    })

    it('writes the report file and a summary under 1 MiB that names it', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'summary-'))
      const summary = path.join(dir, 'summary.md')
      writeFileSync(summary, '')
      const env = { RUNNER_TEMP: dir, GITHUB_ACTION: 'move', GITHUB_STEP_SUMMARY: summary }
      await writeSummary(bigReport(2000, 7), env)
      const file = path.join(dir, 'dynamodb-table-mover', 'report-move.json')
      expect(existsSync(file)).toBe(true)
      const text = readFileSync(summary, 'utf8')
      expect(Buffer.byteLength(text, 'utf8')).toBeLessThan(ONE_MIB)
      expect(text).toContain(`<code>${file}</code>`)
    })
  })
})
