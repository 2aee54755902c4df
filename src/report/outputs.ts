import * as core from '@actions/core'
import type { Report } from '../types.js'

/** Modes whose success means the data was proven equal. */
const VERIFYING_MODES = ['copy', 'verify', 'restore', 'delete-source']

/** The `report` output: mode and, per pair, what happened (never an attribute value). */
export function reportJson(report: Report): string {
  return JSON.stringify({
    mode: report.mode,
    ...(report.error ? { error: report.error, errorCode: report.errorCode } : {}),
    durationMs: report.durationMs,
    pairs: report.pairs.map((p) => ({
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
      ...(p.notes?.length ? { notes: p.notes } : {}),
      ...(p.error ? { error: p.error, errorCode: p.errorCode } : {}),
      ...(p.plan ? { plan: p.plan } : {})
    }))
  })
}

export function isVerified(report: Report): boolean {
  return (
    report.error === undefined &&
    VERIFYING_MODES.includes(report.mode) &&
    report.pairs.length > 0 &&
    report.pairs.every((p) => p.verified === true)
  )
}

export function backupLocations(report: Report): string {
  return report.pairs.flatMap((p) => p.backupLocations ?? []).join('\n')
}

export function setOutputs(report: Report): void {
  core.setOutput('report', reportJson(report))
  core.setOutput('verified', isVerified(report) ? 'true' : 'false')
  core.setOutput('backup-location', backupLocations(report))
}
