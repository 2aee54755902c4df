// resume against DynamoDB Local and moto: what a re-run finds (no checkpoint, a damaged one)
// and what a failed copy says. The SIGKILL case runs the bundle: __tests__/e2e/resume.test.ts.
import { describe, expect, it } from '@jest/globals'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { ddbEndpoint, motoEndpoint, uniqueName, useEmulators } from '../support/env.js'
import { canonicalContents, createTable, seed, tableDefinition } from '../support/tables.js'
import { runAction } from '../support/action.js'
import { startFaultProxy } from '../support/fault-proxy.js'
import { sizedItem } from '../../__fixtures__/items.js'
import { ContentDigest } from '../../src/verify/digest.js'

const { ddb, s3, bucket } = useEmulators('resume')

function inputs(source: string, target: string, extra: Record<string, string> = {}) {
  return {
    mode: 'copy',
    tables: `${source} -> ${target}`,
    'dynamodb-endpoint': ddbEndpoint(),
    's3-endpoint': motoEndpoint(),
    'backup-s3-uri': `s3://${bucket}/moves`,
    'checkpoint-seconds': '1',
    ...extra
  }
}

async function pair(items: number): Promise<{ source: string; target: string }> {
  const source = uniqueName('resume-src')
  const target = uniqueName('resume-dst')
  await createTable(ddb, tableDefinition(source))
  await createTable(ddb, tableDefinition(target))
  await seed(
    ddb,
    source,
    Array.from({ length: items }, (_, i) => sizedItem(`r${i % 7}`, i, 300))
  )
  return { source, target }
}

describe('resume', () => {
  it('copies from the start when there is no checkpoint, so a workflow may always pass it', async () => {
    const { source, target } = await pair(50)
    const result = await runAction(inputs(source, target, { resume: 'true' }))
    expect(result.report.error).toBeUndefined()
    expect(result.log).toContain(`resume: no checkpoint of '${source}' -> '${target}'`)
    expect(result.report.pairs[0]!.verified).toBe(true)
  })

  it('refuses a damaged checkpoint before any write, naming it', async () => {
    const { source, target } = await pair(20)
    const key = `moves/${source}/_resume/runlocal-to-${target}.json`
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"version":1,"source":"x"}' })
    )
    const result = await runAction(inputs(source, target, { resume: 'true' }))
    expect(result.failed).toBe(true)
    expect(result.report.errorCode).toBe('resume.badCheckpoint')
    expect(result.report.error).toContain(`s3://${bucket}/${key}`)
    expect(result.report.error).toContain('Delete it to copy from the start.')
    expect((await canonicalContents(ddb, target)).size).toBe(0)
  })

  it('refuses a well-formed checkpoint whose positions are not keys of the source', async () => {
    const { source, target } = await pair(10)
    const key = `moves/${source}/_resume/runlocal-to-${target}.json`
    const planted = {
      version: 1,
      source,
      target,
      totalSegments: 16,
      targetWasEmpty: true,
      backup: {
        runLabel: '20261203T120000Z',
        exportId: '01796332308333-5d2540f1',
        startTime: '2026-12-03T12:00:00.000Z'
      },
      files: [],
      positions: [{ segment: 3, done: false, lastEvaluatedKey: { owner: { S: 'someone' } } }],
      items: 0,
      digest: new ContentDigest().state(),
      savedAt: '2026-12-03T12:00:01.000Z'
    }
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(planted) }))
    const result = await runAction(inputs(source, target, { resume: 'true' }))
    expect(result.failed).toBe(true)
    expect(result.report.errorCode).toBe('resume.badCheckpoint')
    expect(result.report.error).toContain(`its scan positions are not keys of '${source}'`)
    expect(result.report.error).not.toContain('someone')
    expect((await canonicalContents(ddb, target)).size).toBe(0)
  })

  it('does not let a planted checkpoint pass a copy off as proven', async () => {
    const { source, target } = await pair(40)
    const key = `moves/${source}/_resume/runlocal-to-${target}.json`
    // Every segment "done", nothing in the backup, an empty digest: true to its own shape.
    const planted = {
      version: 1,
      source,
      target,
      totalSegments: 16,
      targetWasEmpty: true,
      backup: {
        runLabel: '20261203T120000Z',
        exportId: '01796332308333-5d2540f1',
        startTime: '2026-12-03T12:00:00.000Z'
      },
      files: [],
      positions: Array.from({ length: 16 }, (_, segment) => ({ segment, done: true })),
      items: 0,
      digest: new ContentDigest().state(),
      savedAt: '2026-12-03T12:00:01.000Z'
    }
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(planted) }))
    const result = await runAction(inputs(source, target, { resume: 'true' }))
    expect(result.failed).toBe(true)
    expect(result.report.pairs[0]!.errorCode).toBe('resume.mismatch')
    expect(result.report.pairs[0]!.verified).not.toBe(true)
    expect(result.log).toContain('does not add up to a fresh scan of the source (40 items)')
  })

  it('says how to go on when a copy fails after a checkpoint, and a re-run finishes it', async () => {
    const { source, target } = await pair(900)
    const proxy = await startFaultProxy({ target: ddbEndpoint() })
    let writes = 0
    proxy.setHook((operation) => {
      // After 750 of 900 items, DynamoDB throttles every write for good.
      if (operation === 'BatchWriteItem' && ++writes === 30) {
        proxy.setFaults({ BatchWriteItem: { throttle: 1 } })
      }
    })
    let failed
    try {
      failed = await runAction(
        inputs(source, target, {
          'dynamodb-endpoint': proxy.endpoint,
          'max-items-per-second': '300',
          'retry-timeout-seconds': '2'
        })
      )
    } finally {
      await proxy.stop()
    }
    expect(failed.failed).toBe(true)
    expect(failed.report.errorCode).toBe('write.gaveUp')
    const hint = `Run the job again ("Re-run failed jobs") with 'resume: true': it resumes from the checkpoint at s3://${bucket}/moves/${source}/_resume/`
    expect(failed.report.pairs[0]!.error).toContain(hint)
    expect(failed.log).toContain(hint)

    // Resuming writes into the target the stopped attempt filled part-way.
    const refused = await runAction(inputs(source, target, { resume: 'true' }))
    expect(refused.report.errorCode).toBe('preflight.targetNotEmpty')
    const resumed = await runAction(
      inputs(source, target, { resume: 'true', 'allow-non-empty-target': 'true' })
    )
    expect(resumed.report.error).toBeUndefined()
    expect(resumed.log).toContain('resume: going on from the checkpoint')
    const done = resumed.report.pairs[0]!
    expect(done.verified).toBe(true)
    expect(done.counts.source).toBe(900)
    const kept = Number(
      /checkpoint saved \S+ \(([\d,]+) items? done/.exec(resumed.log)?.[1]?.replace(/,/g, '')
    )
    expect(kept).toBeGreaterThan(0)
    // What was left, plus at most the pages in flight at the checkpoint.
    expect(done.counts.scanned).toBeLessThanOrEqual(900 - kept + 400)
    expect(done.counts.scanned).toBeLessThan(900)
    expect(await canonicalContents(ddb, target)).toEqual(await canonicalContents(ddb, source))
  })
})
