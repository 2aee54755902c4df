import { beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ddbEndpoint, motoEndpoint, uniqueName, useEmulators } from '../support/env.js'
import {
  canonicalContents,
  createTable,
  deleteItem,
  indexedDefinition,
  putItem,
  seed,
  tableDefinition
} from '../support/tables.js'
import { readLocalBackup, readS3Backup } from '../support/backups.js'
import { FakeArtifacts, runAction } from '../support/action.js'
import { everyTypeItem, sizedItem, SENTINEL } from '../../__fixtures__/items.js'

const { ddb, s3, bucket } = useEmulators('mode-backups')
const endpoints = { 'dynamodb-endpoint': '', 's3-endpoint': '' }

beforeAll(() => {
  endpoints['dynamodb-endpoint'] = ddbEndpoint()
  endpoints['s3-endpoint'] = motoEndpoint()
})

async function twinTables(count: number): Promise<[string, string]> {
  const source = uniqueName('v-src')
  const target = uniqueName('v-dst')
  await createTable(ddb, indexedDefinition(source))
  await createTable(ddb, indexedDefinition(target))
  const items = [
    ...Array.from({ length: count }, (_, i) => sizedItem(`p${i % 31}`, i, 150)),
    everyTypeItem('every')
  ]
  await seed(ddb, source, items)
  // The target gets the same items written in another order.
  await seed(ddb, target, [...items].reverse())
  return [source, target]
}

describe('verify', () => {
  it('verifies equal tables by count and digest', async () => {
    const [source, target] = await twinTables(500)
    const result = await runAction({
      mode: 'verify',
      tables: `${source} -> ${target}`,
      ...endpoints
    })
    expect(result.report.error).toBeUndefined()
    expect(result.outputs.verified).toBe('true')
    const pair = result.report.pairs[0]!
    expect(pair.counts.source).toBe(501)
    expect(pair.counts.target).toBe(501)
    expect(pair.digests.source).toBe(pair.digests.target)
  })

  it('names the differing keys (and never values) when tables differ', async () => {
    const [source, target] = await twinTables(500)
    await putItem(ddb, target, { ...sizedItem('p3', 3, 150), name: { S: `changed ${SENTINEL}` } })
    await deleteItem(ddb, target, { pk: { S: 'p10' }, sk: { N: '10' } })
    await putItem(ddb, target, sizedItem('extra', 9999, 150))
    const result = await runAction({
      mode: 'verify',
      tables: `${source} -> ${target}`,
      ...endpoints
    })
    expect(result.failed).toBe(true)
    expect(result.outputs.verified).toBe('false')
    const pair = result.report.pairs[0]!
    expect(pair.status).toBe('mismatch')
    expect(pair.differences).toEqual(
      expect.arrayContaining([
        { kind: 'differs', key: 'pk="p3", sk=3' },
        { kind: 'missing-in-target', key: 'pk="p10", sk=10' },
        { kind: 'only-in-target', key: 'pk="extra", sk=9999' }
      ])
    )
    expect(pair.differences).toHaveLength(3)
    expect(result.summary).toContain('pk=&quot;p10&quot;, sk=10')
    for (const text of [result.log, result.summary, JSON.stringify(result.outputs)])
      expect(text).not.toContain(SENTINEL)
  })

  it('lists at most 20 differing keys', async () => {
    const [source, target] = await twinTables(300)
    for (let i = 0; i < 40; i++) {
      await deleteItem(ddb, target, { pk: { S: `p${i % 31}` }, sk: { N: String(i) } })
    }
    const result = await runAction({
      mode: 'verify',
      tables: `${source} -> ${target}`,
      ...endpoints
    })
    expect(result.report.pairs[0]!.differences).toHaveLength(20)
    expect(result.report.pairs[0]!.counts.target).toBe(261)
  })

  it('refuses tables whose keys differ', async () => {
    const source = uniqueName('v-src')
    const target = uniqueName('v-dst')
    await createTable(ddb, tableDefinition(source))
    await createTable(
      ddb,
      tableDefinition(target, {
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }]
      })
    )
    const result = await runAction({
      mode: 'verify',
      tables: `${source} -> ${target}`,
      ...endpoints
    })
    expect(result.report.errorCode).toBe('preflight.definitionMismatch')
  })
})

describe('backup', () => {
  it('backs a bare source up to S3 and as an artifact, read back', async () => {
    const source = uniqueName('b-src')
    await createTable(ddb, indexedDefinition(source))
    const items = [
      ...Array.from({ length: 700 }, (_, i) => sizedItem(`b${i % 13}`, i, 400)),
      everyTypeItem('every')
    ]
    await seed(ddb, source, items)
    const artifacts = new FakeArtifacts()
    const result = await runAction(
      {
        mode: 'backup',
        tables: source,
        ...endpoints,
        'backup-s3-uri': `s3://${bucket}/daily`,
        'backup-artifact': 'true'
      },
      { artifacts }
    )
    expect(result.report.error).toBeUndefined()
    const pair = result.report.pairs[0]!
    expect(pair.status).toBe('backed-up')
    expect(pair.counts.scanned).toBe(items.length)
    const [s3Folder, localFolder, artifact] = pair.backupLocations
    expect(s3Folder).toMatch(new RegExp(`^s3://${bucket}/daily/${source}/\\d{8}T\\d{6}Z/$`))
    expect(artifact).toMatch(/^artifact:dynamodb-backup-/)
    expect(result.outputs['backup-location']?.split('\n')).toEqual(pair.backupLocations)
    const expected = await canonicalContents(ddb, source)
    const fromS3 = await readS3Backup(s3, s3Folder!)
    const fromDisk = readLocalBackup(localFolder!)
    expect(fromS3.items).toEqual(expected)
    expect(fromDisk.items).toEqual(expected)
    expect(fromS3.summary.dynamodbTableMover.contentDigest.digest).toBe(pair.digests.source)
    expect(fromS3.summary).toMatchObject({
      version: '2020-06-30',
      outputFormat: 'DYNAMODB_JSON',
      itemCount: items.length
    })
    // The artifact gets exactly the local backup's files.
    expect(artifacts.uploads).toHaveLength(1)
    expect(artifacts.uploads[0]!.rootDirectory).toBe(localFolder)
    expect(artifacts.uploads[0]!.files.some((f) => f.endsWith('manifest-summary.json'))).toBe(true)
    expect(artifacts.uploads[0]!.files.every((f) => existsSync(f))).toBe(true)
    expect(result.log).not.toContain(SENTINEL)
  })

  it('removes the local copy once S3 holds the backup', async () => {
    const source = uniqueName('b-src')
    await createTable(ddb, tableDefinition(source))
    await seed(
      ddb,
      source,
      Array.from({ length: 50 }, (_, i) => sizedItem('x', i))
    )
    const result = await runAction({
      mode: 'backup',
      tables: source,
      ...endpoints,
      'backup-s3-uri': `s3://${bucket}/daily`
    })
    expect(result.report.pairs[0]!.backupLocations).toHaveLength(1)
    expect((await readS3Backup(s3, result.report.pairs[0]!.backupLocations[0]!)).items.size).toBe(
      50
    )
  })

  it('splits a large backup into several data files, each listed in the manifest', async () => {
    const source = uniqueName('b-src')
    await createTable(ddb, tableDefinition(source))
    const items = Array.from({ length: 300 }, (_, i) => sizedItem('x', i, 2000))
    await seed(ddb, source, items)
    const { BackupWriter } = await import('../../src/backup/writer.js')
    const { describeTable } = await import('../../src/dynamo/tables.js')
    const { ContentDigest } = await import('../../src/verify/digest.js')
    const info = (await describeTable(ddb, source))!
    const root = mkdtempSync(path.join(tmpdir(), 'split-'))
    const writer = await BackupWriter.open({
      source: info,
      localRoot: root,
      keepLocal: true,
      runLabel: 'run',
      maxFileBytes: 100_000
    })
    const digest = new ContentDigest()
    for (let i = 0; i < items.length; i += 40) {
      const page = items.slice(i, i + 40)
      page.forEach((item) => digest.add(item))
      await writer.write(page)
    }
    const result = await writer.finish(digest.summary())
    expect(result.files.length).toBeGreaterThan(3)
    expect(result.files.reduce((n, f) => n + f.itemCount, 0)).toBe(300)
    const read = readLocalBackup(result.localDir!)
    expect(read.files).toHaveLength(result.files.length)
    expect(read.items).toEqual(await canonicalContents(ddb, source))
  })
})

describe('plan', () => {
  it('describes both tables and what copy would do, writing nothing', async () => {
    const source = uniqueName('p-src')
    const target = uniqueName('p-dst')
    await createTable(ddb, indexedDefinition(source))
    await createTable(
      ddb,
      indexedDefinition(target, {
        BillingMode: 'PROVISIONED',
        ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byName',
            KeySchema: [{ AttributeName: 'name', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
            ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 }
          }
        ]
      })
    )
    await seed(
      ddb,
      source,
      Array.from({ length: 100 }, (_, i) => sizedItem('x', i))
    )
    const result = await runAction({
      mode: 'plan',
      tables: `${source} -> ${target}\n${source}-none -> ${target}-none`,
      ...endpoints
    })
    expect(result.report.error).toBeUndefined()
    const [pair, missing] = result.report.pairs as unknown as [
      {
        plan: {
          differences: { blocking: string[]; advisory: string[] }
          copy: { action: string; refusals: string[]; estimate: { items: number } }
        }
      },
      { plan: { copy: { refusals: string[] } } }
    ]
    expect(pair.plan.differences.blocking).toEqual([
      "global secondary index 'byName' projection differs: source KEYS_ONLY; target ALL"
    ])
    expect(pair.plan.differences.advisory).toEqual([
      'billing mode: source PAY_PER_REQUEST; target PROVISIONED (5 RCU, 5 WCU)'
    ])
    expect(pair.plan.copy.action).toBe('refuse')
    expect(pair.plan.copy.estimate.items).toBe(100)
    expect(missing.plan.copy.refusals).toEqual(
      expect.arrayContaining([expect.stringMatching(/Source table .* does not exist/)])
    )
    expect(result.summary).toContain('Blocking differences')
    expect(result.outputs.verified).toBe('false')
    expect((await canonicalContents(ddb, target)).size).toBe(0)
  })
})
