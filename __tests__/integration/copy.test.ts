import { describe, expect, it } from '@jest/globals'
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand
} from '@aws-sdk/client-dynamodb'
import { ddbEndpoint, motoEndpoint, uniqueName, useEmulators } from '../support/env.js'
import {
  canonicalContents,
  createTable,
  indexedDefinition,
  seed,
  tableDefinition
} from '../support/tables.js'
import { readS3Backup, listKeys } from '../support/backups.js'
import { runAction } from '../support/action.js'
import { startFaultProxy } from '../support/fault-proxy.js'
import {
  everyTypeItem,
  largeItem,
  prototypeNamesItem,
  sizedItem,
  SENTINEL
} from '../../__fixtures__/items.js'
import type { Item } from '../../src/types.js'

const { ddb, s3, bucket } = useEmulators('backups')

function sourceItems(count: number): Item[] {
  return [
    ...Array.from({ length: count }, (_, i) =>
      sizedItem(`order-${i % 97}`, i, 300 + (i % 7) * 100)
    ),
    everyTypeItem('every-type-1'),
    everyTypeItem('every-type-2'),
    prototypeNamesItem('prototype-names'),
    largeItem('large-s', 'S'),
    largeItem('large-b', 'B')
  ]
}

function baseInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    mode: 'copy',
    'dynamodb-endpoint': ddbEndpoint(),
    's3-endpoint': motoEndpoint(),
    'backup-s3-uri': `s3://${bucket}/dynamodb`,
    ...extra
  }
}

describe('copy (DynamoDB Local + S3)', () => {
  it('copies every item exactly, backs up to S3 and verifies', async () => {
    const source = uniqueName('order-tracking-qa')
    const target = uniqueName('qa-order-tracking')
    await createTable(ddb, indexedDefinition(source))
    await createTable(ddb, indexedDefinition(target))
    const items = sourceItems(1500)
    await seed(ddb, source, items)

    const result = await runAction(baseInputs({ tables: `${source} -> ${target}` }))
    expect(result.report.error).toBeUndefined()
    expect(result.failed).toBe(false)
    expect(result.outputs.verified).toBe('true')
    const pair = result.report.pairs[0]!
    expect(pair).toMatchObject({ source, target, status: 'verified', verified: true })
    expect(pair.counts).toEqual({
      scanned: items.length,
      written: items.length,
      source: items.length,
      target: items.length
    })
    expect(pair.digests.source).toBe(pair.digests.target)
    // What DynamoDB reported consuming: at least a unit per item written, and some reads.
    expect(pair.capacity?.write).toBeGreaterThanOrEqual(items.length)
    expect(pair.capacity?.read).toBeGreaterThan(0)
    expect(pair.capacity?.throttled).toBe(0)
    expect(result.summary).toMatch(
      /Capacity<\/th><td>[\d,]+ read units, [\d,]+ write units, 0 throttled calls/
    )

    const expected = await canonicalContents(ddb, source)
    expect(expected.size).toBe(items.length)
    // Seeded and read back raw, a top-level `__proto__` attribute is there to be compared.
    expect(expected.get('prototype-names|1')).toContain('["__proto__",["S","top proto"]]')
    expect(await canonicalContents(ddb, target)).toEqual(expected)

    // The backup, read back from S3 independently: same items, manifest count and digest.
    const s3Folder = pair.backupLocations.find((l) => l.startsWith('s3://'))!
    expect(result.outputs['backup-location']).toContain(s3Folder)
    const backup = await readS3Backup(s3, s3Folder)
    expect(backup.items).toEqual(expected)
    expect(backup.summary.itemCount).toBe(items.length)
    expect(backup.summary.dynamodbTableMover.contentDigest).toEqual({
      count: items.length,
      digest: pair.digests.source
    })
    expect(backup.files.reduce((n, f) => n + f.itemCount, 0)).toBe(items.length)
    expect(backup.description.table.TableName).toBe(source)

    // Item values never reach the log, the summary or the outputs.
    for (const text of [result.log, result.summary, JSON.stringify(result.outputs)])
      expect(text).not.toContain(SENTINEL)
    expect(result.summary).toContain('verified')
  })

  it('creates a missing target as a clone of the source', async () => {
    const source = uniqueName('clone-src')
    const target = uniqueName('clone-dst')
    await createTable(
      ddb,
      indexedDefinition(source, {
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' }
      })
    )
    await seed(ddb, source, sourceItems(50))
    const result = await runAction(
      baseInputs({ tables: `${source} -> ${target}`, 'create-target': 'true' })
    )
    expect(result.report.error).toBeUndefined()
    expect(result.outputs.verified).toBe('true')
    const created = (await ddb.send(new DescribeTableCommand({ TableName: target }))).Table!
    expect(created.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['byName'])
    expect(created.LocalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['pkByName'])
    expect(created.StreamSpecification).toEqual({
      StreamEnabled: true,
      StreamViewType: 'NEW_IMAGE'
    })
    expect(await canonicalContents(ddb, target)).toEqual(await canonicalContents(ddb, source))
  })

  it.each([
    [
      'a missing target',
      'preflight.missingTarget',
      async (_s: string, _t: string) => undefined,
      {}
    ],
    [
      'a non-empty target',
      'preflight.targetNotEmpty',
      async (_s: string, t: string) => {
        await createTable(ddb, indexedDefinition(t))
        await seed(ddb, t, [sizedItem('already-here', 1)])
      },
      {}
    ],
    [
      'a key mismatch',
      'preflight.definitionMismatch',
      async (_s: string, t: string) => {
        await createTable(
          ddb,
          tableDefinition(t, {
            AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
            KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }]
          })
        )
      },
      {}
    ],
    [
      'no backup destination',
      'preflight.noBackupDestination',
      async (_s: string, t: string) => {
        await createTable(ddb, indexedDefinition(t))
      },
      { 'backup-s3-uri': '' }
    ]
  ])('refuses %s before any write', async (_label, code, prepare, extra) => {
    const source = uniqueName('refuse-src')
    const target = uniqueName('refuse-dst')
    await createTable(ddb, indexedDefinition(source))
    await seed(ddb, source, sourceItems(10))
    await prepare(source, target)
    const before = await canonicalContents(ddb, target).catch(() => null)
    const result = await runAction(baseInputs({ tables: `${source} -> ${target}`, ...extra }))
    expect(result.failed).toBe(true)
    expect(result.outputs.verified).toBe('false')
    expect(result.report.errorCode).toBe(code)
    expect(result.log).toMatch(/::error::/)
    expect(result.summary).toContain('failed')
    // Nothing written: target unchanged (or still missing) and no backup objects.
    expect(await canonicalContents(ddb, target).catch(() => null)).toEqual(before)
    expect(await listKeys(s3, bucket, `dynamodb/${source}/`)).toEqual([])
  })

  it('reports every problem of every pair at once', async () => {
    const result = await runAction(
      baseInputs({ tables: 'missing-one -> other-one\nmissing-two -> other-two' })
    )
    expect(result.failed).toBe(true)
    expect(result.report.error).toMatch(/^4 problems, nothing was written/)
    expect(result.report.error).toContain("Source table 'missing-two' does not exist")
    // Each pair has its own section, refused for its own reasons.
    expect(result.report.pairs.map((p) => [p.source, p.status])).toEqual([
      ['missing-one', 'refused'],
      ['missing-two', 'refused']
    ])
    expect(result.report.pairs[0]!.error).toContain("'missing-one' does not exist")
    expect(result.report.pairs[0]!.error).not.toContain('missing-two')
    expect(result.summary).toContain('missing-two')
  })

  it('refuses the artifact as its only backup where the artifact service is out of reach', async () => {
    const source = uniqueName('art-src')
    const target = uniqueName('art-dst')
    await createTable(ddb, indexedDefinition(source))
    await seed(ddb, source, sourceItems(5))
    const result = await runAction(
      baseInputs({
        tables: `${source} -> ${target}`,
        'create-target': 'true',
        'backup-s3-uri': '',
        'backup-artifact': 'true'
      }),
      { env: { ACTIONS_RUNTIME_TOKEN: '', ACTIONS_RESULTS_URL: '' } }
    )
    expect(result.report.errorCode).toBe('preflight.noArtifactService')
    expect(result.report.error).toContain('ACTIONS_RUNTIME_TOKEN')
    const missing = await ddb
      .send(new DescribeTableCommand({ TableName: target }))
      .catch(() => null)
    expect(missing).toBeNull()
  })

  it("fails with the backup's error when the backup fails while the copy is being proven", async () => {
    const source = uniqueName('late-src')
    const target = uniqueName('late-dst')
    await createTable(ddb, indexedDefinition(source))
    await createTable(ddb, indexedDefinition(target))
    await seed(ddb, source, sourceItems(300))
    // The artifact upload, the backup's last step, fails after every item is written: the
    // proof's scan of the target runs beside it and must not turn the pair into 'verified'.
    const result = await runAction(
      baseInputs({
        tables: `${source} -> ${target}`,
        'backup-s3-uri': '',
        'backup-artifact': 'true'
      }),
      {
        artifacts: {
          check: async () => undefined,
          upload: async () => {
            await new Promise((resolve) => setTimeout(resolve, 50))
            throw new Error('the artifact service answered 503')
          }
        }
      }
    )
    expect(result.failed).toBe(true)
    expect(result.report.errorCode).toBe('backup.artifactFailed')
    expect(result.report.pairs[0]?.error).toContain('the artifact service answered 503')
    expect(result.report.pairs[0]?.status).not.toBe('verified')
    expect(result.outputs.verified).toBe('false')
    expect(result.log).not.toContain('verified by count and content digest')
  })

  it('turns TTL on in a created target only after the copy is verified', async () => {
    const source = uniqueName('ttl-src')
    const target = uniqueName('ttl-dst')
    await createTable(ddb, indexedDefinition(source))
    await ddb.send(
      new UpdateTimeToLiveCommand({
        TableName: source,
        TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' }
      })
    )
    // Long expired: DynamoDB has not deleted it yet, and the copy must still hold it.
    const expired = { ...sizedItem('expired', 1), expiresAt: { N: '1000000000' } }
    await seed(ddb, source, [...sourceItems(20), expired])
    const ttlCalls: string[] = []
    const proxy = await startFaultProxy({ target: ddbEndpoint() })
    proxy.setHook((operation) => {
      if (['UpdateTimeToLive', 'BatchWriteItem', 'Scan'].includes(operation))
        ttlCalls.push(operation)
    })
    try {
      const result = await runAction(
        baseInputs({
          tables: `${source} -> ${target}`,
          'create-target': 'true',
          'dynamodb-endpoint': proxy.endpoint
        })
      )
      expect(result.report.error).toBeUndefined()
      expect(result.report.pairs[0]!.notes?.join(' ')).toContain(
        "TTL turned on (attribute 'expiresAt')"
      )
    } finally {
      await proxy.stop()
    }
    // UpdateTimeToLive comes last: after every write and the verifying scans.
    expect(ttlCalls.filter((c) => c === 'UpdateTimeToLive')).toHaveLength(1)
    expect(ttlCalls[ttlCalls.length - 1]).toBe('UpdateTimeToLive')
    const ttl = await ddb.send(new DescribeTimeToLiveCommand({ TableName: target }))
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED')
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiresAt')
    expect(await canonicalContents(ddb, target)).toEqual(await canonicalContents(ddb, source))
  })

  it('copies into a non-empty target when allowed and verifies by key', async () => {
    const source = uniqueName('nonempty-src')
    const target = uniqueName('nonempty-dst')
    await createTable(ddb, indexedDefinition(source))
    await createTable(ddb, indexedDefinition(target))
    await seed(ddb, source, sourceItems(40))
    await seed(ddb, target, [sizedItem('app-wrote-this', 1)])
    const result = await runAction(
      baseInputs({ tables: `${source} -> ${target}`, 'allow-non-empty-target': 'true' })
    )
    expect(result.report.error).toBeUndefined()
    const pair = result.report.pairs[0]!
    expect(pair.verified).toBe(true)
    expect(pair.counts.target).toBe(pair.counts.source! + 1)
    expect(result.summary).toContain('every source item found unchanged by key')
  })
})
