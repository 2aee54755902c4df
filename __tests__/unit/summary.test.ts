import { describe, expect, it } from '@jest/globals'
import { escapeHtml, renderSummary } from '../../src/report/summary.js'
import { backupLocations, isVerified, reportJson } from '../../src/report/outputs.js'
import type { Report } from '../../src/types.js'

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
