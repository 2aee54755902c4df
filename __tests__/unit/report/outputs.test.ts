import { afterEach, describe, expect, it } from '@jest/globals'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import {
  OUTPUT_BUDGET,
  backupLocationsOutput,
  clipText,
  outputBytes,
  reportFilePath,
  reportJson,
  setOutputs,
  writeReportFile
} from '../../../src/report/outputs.js'
import { parseTablePairs } from '../../../src/inputs.js'
import type { PairReport, Report } from '../../../src/types.js'

const ONE_MB = 1_000_000
const LONG = `Throttled <again> & "again": ${'the request rate is too high; '.repeat(200)}`

const name = (i: number): string => `orders-${String(i).padStart(4, '0')}`

/** `count` pairs; every `failEvery`-th fails with a long message, the rest verified. */
function bigReport(count: number, failEvery: number): Report {
  const pairs: PairReport[] = Array.from({ length: count }, (_, i) => {
    const failed = i % failEvery === 0
    return {
      source: name(i),
      target: `qa-${name(i)}`,
      status: failed ? 'failed' : 'verified',
      scanned: 1000,
      written: 1000,
      sourceCount: 1000,
      targetCount: 1000,
      sourceDigest: `sha256-sum:${'a'.repeat(64)}`,
      targetDigest: `sha256-sum:${'a'.repeat(64)}`,
      verified: !failed,
      backupLocations: [
        `s3://backups/team#1/dynamodb/${name(i)}/20260101T000000Z-run1-1/`,
        `/home/runner/work/_temp/dynamodb-backups/${name(i)}/20260101T000000Z-run1-1`
      ],
      notes: Array.from({ length: 30 }, (_, n) => `note ${n}: ${'x'.repeat(300)}`),
      differences: Array.from({ length: 50 }, (_, n) => ({
        kind: 'missing-in-target' as const,
        key: `pk="user-${n}"`
      })),
      durationMs: 1000,
      ...(failed ? { error: LONG, errorCode: 'write.gaveUp' } : {})
    }
  })
  return { mode: 'copy', pairs, error: 'some pairs failed', durationMs: 60_000 }
}

interface Parsed {
  truncated: boolean
  reportFile?: string
  pairCount?: number
  omittedPairs?: number
  statusCounts?: Record<string, number>
  pairs: {
    index?: number
    source: string
    status: string
    error?: string
    notes?: string[]
    notesOmitted?: number
    differences: unknown[]
    differencesOmitted?: number
  }[]
}

describe('outputs.ts', () => {
  const saved = { ...process.env }
  afterEach(() => {
    process.env = { ...saved }
  })

  it('keeps the report output under 1 MB with 2,000 pairs', () => {
    const report = bigReport(2000, 10)
    const json = reportJson(report, '/runner/tmp/dynamodb-table-mover/report-move.json')
    expect(Buffer.byteLength(json, 'utf8')).toBeLessThan(ONE_MB)
    expect(Buffer.byteLength(json, 'utf16le')).toBeLessThan(ONE_MB)
    expect(outputBytes(json)).toBeLessThanOrEqual(OUTPUT_BUDGET.report)
    const parsed = JSON.parse(json) as Parsed
    expect(parsed).toMatchObject({
      truncated: true,
      reportFile: '/runner/tmp/dynamodb-table-mover/report-move.json',
      pairCount: 2000,
      statusCounts: { failed: 200, verified: 1800 }
    })
    expect(parsed.omittedPairs).toBe(2000 - parsed.pairs.length)
    // Every failed pair is there (they come first), in the order of `tables`.
    const failed = parsed.pairs.filter((p) => p.status === 'failed')
    expect(failed.map((p) => p.source)).toEqual(Array.from({ length: 200 }, (_, k) => name(k * 10)))
    const indexes = parsed.pairs.map((p) => p.index ?? -1)
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b))
    // Lists and texts capped, with what was left out counted.
    expect(failed[0]).toMatchObject({ notesOmitted: 27, differencesOmitted: 45 })
    expect(failed[0]?.notes).toHaveLength(3)
    expect(failed[0]?.error?.length).toBeLessThanOrEqual(300)
  })

  it('counts every pair when not even the failed ones all fit', () => {
    const report = bigReport(2000, 1)
    const json = reportJson(report, '/tmp/r.json')
    expect(outputBytes(json)).toBeLessThanOrEqual(OUTPUT_BUDGET.report)
    const parsed = JSON.parse(json) as Parsed
    expect(parsed.statusCounts).toEqual({ failed: 2000 })
    expect(parsed.pairs.length).toBeGreaterThan(100)
    expect(parsed.pairs.length + (parsed.omittedPairs ?? 0)).toBe(2000)
  })

  it('keeps a report that fits whole, untruncated', () => {
    const report = bigReport(3, 2)
    const parsed = JSON.parse(reportJson(report)) as Parsed
    expect(parsed.truncated).toBe(false)
    expect(parsed.pairs).toHaveLength(3)
    expect(parsed.pairs[0]?.notes).toHaveLength(30)
    expect(parsed.pairs[0]?.index).toBeUndefined()
  })

  it('keeps whole backup locations within the budget, each one a restore source', () => {
    const report = bigReport(2000, 10)
    const { text, omitted } = backupLocationsOutput(report)
    expect(outputBytes(text)).toBeLessThanOrEqual(OUTPUT_BUDGET.backupLocation)
    const lines = text.split('\n')
    expect(lines.length + omitted).toBe(4000)
    for (const location of lines) {
      expect(parseTablePairs(`${location} -> restored`, 'restore')).toEqual([
        { source: location, target: 'restored' }
      ])
    }
  })

  it('clips text without splitting a surrogate pair', () => {
    expect(clipText('abcdef', 10)).toBe('abcdef')
    expect(clipText('abcdef', 4)).toBe('abc…')
    expect(clipText('ab😀cd', 4)).toBe('ab…')
  })

  it('writes the full report to a file in RUNNER_TEMP and names it in the outputs', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outputs-'))
    const outputFile = path.join(dir, 'output')
    writeFileSync(outputFile, '')
    const env = { RUNNER_TEMP: dir, GITHUB_ACTION: 'move tables' }
    process.env.GITHUB_OUTPUT = outputFile
    const stdout = process.stdout.write.bind(process.stdout)
    let log = ''
    process.stdout.write = (chunk: string | Uint8Array): boolean => {
      log += String(chunk)
      return true
    }
    const report = bigReport(2000, 10)
    try {
      setOutputs(report, env)
    } finally {
      process.stdout.write = stdout
    }
    const file = reportFilePath(env)
    expect(file).toBe(path.join(dir, 'dynamodb-table-mover', 'report-move-tables.json'))
    const full = JSON.parse(readFileSync(file, 'utf8')) as Parsed
    expect(full.truncated).toBe(false)
    expect(full.pairs).toHaveLength(2000)
    expect(full.pairs[0]?.notes).toHaveLength(30)
    expect(full.pairs[0]?.error).toBe(LONG)
    const written = readFileSync(outputFile, 'utf8')
    expect(Buffer.byteLength(written, 'utf8')).toBeLessThan(ONE_MB)
    expect(Buffer.byteLength(written, 'utf16le')).toBeLessThan(ONE_MB)
    expect(written).toContain(`report-file<<`)
    expect(written).toContain(`\n${file}\n`)
    expect(log).toContain(`::warning::The 'report' output holds part of the report only`)
    // The same report again: the file is not rewritten, the same path comes back.
    expect(writeReportFile(report, env)).toBe(file)
  })

  it('warns and carries on when the report file cannot be written', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outputs-'))
    writeFileSync(path.join(dir, 'dynamodb-table-mover'), 'a file in the way')
    const stdout = process.stdout.write.bind(process.stdout)
    let log = ''
    process.stdout.write = (chunk: string | Uint8Array): boolean => {
      log += String(chunk)
      return true
    }
    try {
      expect(writeReportFile(bigReport(1, 1), { RUNNER_TEMP: dir })).toBeUndefined()
    } finally {
      process.stdout.write = stdout
    }
    expect(log).toContain('::warning::Could not write the full report to')
  })
})
