import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb'
import { ddbEndpoint, motoEndpoint, uniqueName, useEmulators } from '../support/env.js'
import {
  canonicalContents,
  createTable,
  indexedDefinition,
  seed,
  tableDefinition
} from '../support/tables.js'
import { listKeys } from '../support/backups.js'
import { FakeArtifacts, runAction } from '../support/action.js'
import {
  everyTypeItem,
  largeItem,
  prototypeNamesItem,
  sizedItem,
  SENTINEL
} from '../../__fixtures__/items.js'
import type { Item } from '../../src/types.js'

const { ddb, s3, bucket } = useEmulators('restore-backups')
const endpoints = (): Record<string, string> => ({
  'dynamodb-endpoint': ddbEndpoint(),
  's3-endpoint': motoEndpoint()
})

function items(): Item[] {
  return [
    ...Array.from({ length: 250 }, (_, i) => sizedItem(`r${i % 11}`, i, 300)),
    everyTypeItem('every-1'),
    everyTypeItem('every-2'),
    prototypeNamesItem('prototype-names'),
    largeItem('large-s', 'S'),
    largeItem('large-b', 'B')
  ]
}

async function sourceTable(): Promise<{ source: string; expected: Map<string, string> }> {
  const source = uniqueName('restore-src')
  await createTable(ddb, indexedDefinition(source))
  await seed(ddb, source, items())
  return { source, expected: await canonicalContents(ddb, source) }
}

async function restore(backup: string, target: string, extra: Record<string, string> = {}) {
  return runAction({ mode: 'restore', tables: `${backup} -> ${target}`, ...endpoints(), ...extra })
}

function lines(list: Item[]): string {
  return list.map((item) => `${JSON.stringify({ Item: item })}\n`).join('')
}

describe('restore', () => {
  it("restores this action's S3 backup into a new table created from its description", async () => {
    const { source, expected } = await sourceTable()
    const backup = await runAction({
      mode: 'backup',
      tables: source,
      'backup-s3-uri': `s3://${bucket}/b`,
      ...endpoints()
    })
    const target = uniqueName('restored')
    const result = await restore(backup.report.pairs[0]!.backupLocations[0]!, target, {
      'create-target': 'true'
    })
    expect(result.report.error).toBeUndefined()
    expect(result.outputs.verified).toBe('true')
    expect(result.report.pairs[0]!.counts.written).toBe(expected.size)
    expect(await canonicalContents(ddb, target)).toEqual(expected)
    const created = (await ddb.send(new DescribeTableCommand({ TableName: target }))).Table!
    expect(created.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['byName'])
    expect(result.log).not.toContain(SENTINEL)
  })

  it('restores a local folder (a downloaded artifact) into an existing empty table', async () => {
    const { source, expected } = await sourceTable()
    const dir = mkdtempSync(path.join(tmpdir(), 'artifact-'))
    const backup = await runAction(
      {
        mode: 'backup',
        tables: source,
        'backup-dir': dir,
        'backup-artifact': 'true',
        ...endpoints()
      },
      { artifacts: new FakeArtifacts() }
    )
    const folder = backup.report.pairs[0]!.backupLocations.find((l) => l.startsWith(dir))!
    const target = uniqueName('restored')
    await createTable(ddb, indexedDefinition(target))
    const result = await restore(folder, target)
    expect(result.report.error).toBeUndefined()
    expect(await canonicalContents(ddb, target)).toEqual(expected)
  })

  it('restores a DynamoDB native export to S3', async () => {
    const list = items()
    const exportId = '01700000000000-abcdef12'
    const prefix = `native/${uniqueName('exp')}`
    const entries: string[] = []
    for (const [index, part] of [list.slice(0, 100), list.slice(100)].entries()) {
      const body = gzipSync(lines(part))
      const key = `${prefix}/AWSDynamoDB/${exportId}/data/file${index}.json.gz`
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
      entries.push(
        JSON.stringify({
          itemCount: part.length,
          md5Checksum: createHash('md5').update(body).digest('base64'),
          etag: 'x',
          dataFileS3Key: key
        })
      )
    }
    const summary = {
      version: '2020-06-30',
      exportArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/t/export/x',
      itemCount: list.length,
      outputFormat: 'DYNAMODB_JSON',
      manifestFilesS3Key: `${prefix}/AWSDynamoDB/${exportId}/manifest-files.json`
    }
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${prefix}/AWSDynamoDB/${exportId}/manifest-files.json`,
        Body: `${entries.join('\n')}\n`
      })
    )
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${prefix}/AWSDynamoDB/${exportId}/manifest-summary.json`,
        Body: JSON.stringify(summary)
      })
    )
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${prefix}/AWSDynamoDB/${exportId}/_started`,
        Body: Buffer.alloc(0)
      })
    )

    const target = uniqueName('from-export')
    await createTable(ddb, indexedDefinition(target))
    const result = await restore(`s3://${bucket}/${prefix}`, target)
    expect(result.report.error).toBeUndefined()
    expect(result.summary).toContain('dynamodb-export')
    const seeded = uniqueName('expected')
    await createTable(ddb, indexedDefinition(seeded))
    await seed(ddb, seeded, list)
    expect(await canonicalContents(ddb, target)).toEqual(await canonicalContents(ddb, seeded))
  })

  it.each(['local', 's3'])(
    "restores an 'aws dynamodb scan --output json' file (%s)",
    async (where) => {
      const list = items()
      const json = JSON.stringify(
        {
          Items: list,
          Count: list.length,
          ScannedCount: list.length,
          ConsumedCapacity: null
        },
        null,
        4
      )
      let location: string
      if (where === 'local') {
        location = path.join(mkdtempSync(path.join(tmpdir(), 'scan-')), 'orders scan.json')
        writeFileSync(location, json)
      } else {
        const key = `scans/${uniqueName('scan')}.json`
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: json }))
        location = `s3://${bucket}/${key}`
      }
      const target = uniqueName('from-scan')
      await createTable(ddb, indexedDefinition(target))
      const result = await restore(location, target)
      expect(result.report.error).toBeUndefined()
      expect(result.outputs.verified).toBe('true')
      const seeded = uniqueName('expected')
      await createTable(ddb, indexedDefinition(seeded))
      await seed(ddb, seeded, list)
      expect(await canonicalContents(ddb, target)).toEqual(await canonicalContents(ddb, seeded))
    }
  )

  it('refuses a scan file when the target is missing, even with create-target', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'scan-')), 'scan.json')
    writeFileSync(file, JSON.stringify({ Items: [sizedItem('a', 1)], Count: 1 }))
    const result = await restore(file, uniqueName('missing'), { 'create-target': 'true' })
    expect(result.report.errorCode).toBe('restore.noDescription')
    expect(result.report.error).toContain('carries no table description')
  })

  it('refuses a non-empty target and an ambiguous prefix before writing', async () => {
    const { source } = await sourceTable()
    await runAction({
      mode: 'backup',
      tables: source,
      'backup-s3-uri': `s3://${bucket}/amb`,
      ...endpoints()
    })
    await new Promise((r) => setTimeout(r, 1100))
    await runAction({
      mode: 'backup',
      tables: source,
      'backup-s3-uri': `s3://${bucket}/amb`,
      ...endpoints()
    })
    const target = uniqueName('busy')
    await createTable(ddb, indexedDefinition(target))
    await seed(ddb, target, [sizedItem('app', 1)])
    const ambiguous = await restore(`s3://${bucket}/amb/${source}`, target)
    expect(ambiguous.report.errorCode).toBe('restore.backupAmbiguous')
    const folder = (await listKeys(s3, bucket, `amb/${source}/`))
      .find((k) => k.endsWith('table-description.json'))!
      .replace('/table-description.json', '')
    const busy = await restore(`s3://${bucket}/${folder}`, target)
    expect(busy.report.errorCode).toBe('preflight.targetNotEmpty')
    expect((await canonicalContents(ddb, target)).size).toBe(1)
    const allowed = await restore(`s3://${bucket}/${folder}`, target, {
      'allow-non-empty-target': 'true'
    })
    expect(allowed.report.error).toBeUndefined()
    expect(allowed.summary).toContain('every source item found unchanged by key')
  })

  it('refuses a damaged backup before writing anything', async () => {
    const { source } = await sourceTable()
    const backup = await runAction({
      mode: 'backup',
      tables: source,
      'backup-s3-uri': `s3://${bucket}/dmg`,
      ...endpoints()
    })
    const folder = backup.report.pairs[0]!.backupLocations[0]!.replace(`s3://${bucket}/`, '')
    const dataKey = (await listKeys(s3, bucket, folder)).find((k) => k.includes('/data/'))!
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: dataKey,
        Body: gzipSync(lines([sizedItem('forged', 1)]))
      })
    )
    const target = uniqueName('never-written')
    await createTable(ddb, tableDefinition(target, indexedDefinition(target)))
    const result = await restore(`s3://${bucket}/${folder}`, target)
    expect(result.report.errorCode).toBe('backup.corrupt')
    expect(result.report.error).toMatch(/does not match the SHA-256 and size in its manifest/)
    expect((await canonicalContents(ddb, target)).size).toBe(0)
  })

  const badScanFiles: [string, () => unknown, RegExp][] = [
    ['a JSON object without Items', () => ({ foo: 1 }), /no 'Items' array/],
    ['a JSON array', () => [], /top level is not a JSON object/],
    [
      "a 'describe-table' file",
      () => ({ Table: { TableName: 't', KeySchema: [] } }),
      /no 'Items' array/
    ],
    [
      'a file whose Count is larger than its items',
      () => ({ Items: [sizedItem('a', 1)], Count: 2, ScannedCount: 2 }),
      /holds 1 item, but its Count says 2/
    ],
    [
      'a file whose Count is not a number',
      () => ({ Items: [sizedItem('a', 1)], Count: '1' }),
      /'Count' is not a number/
    ],
    [
      'a file with two Items arrays',
      () => `{"Items": [], "Count": 0, "Items": ${JSON.stringify([sizedItem('a', 1)])}}`,
      /more than one 'Items' array/
    ],
    [
      'a file with an empty set, which DynamoDB would reject mid-write',
      () => ({ Items: [{ ...sizedItem('a', 1), tags: { SS: [] } }], Count: 1 }),
      /Items\[0\].*attribute tags is an empty string set \(SS\)/
    ],
    [
      'a scan cut short by --max-items (NextToken)',
      () => ({ Items: [sizedItem('a', 1)], Count: 1, NextToken: 'eyJ4Ijo' }),
      /only part of a scan .*NextToken/
    ],
    [
      'a scan cut short by --no-paginate (LastEvaluatedKey)',
      () => ({
        Items: [sizedItem('a', 1)],
        Count: 1,
        LastEvaluatedKey: { pk: { S: 'a' }, sk: { N: '1' } }
      }),
      /only part of a scan .*LastEvaluatedKey/
    ]
  ]

  it.each(badScanFiles)('refuses %s and writes nothing', async (_label, content, message) => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'bad-scan-')), 'scan.json')
    const body = content()
    writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body))
    const target = uniqueName('not-from-bad-scan')
    await createTable(ddb, indexedDefinition(target))
    const result = await restore(file, target)
    expect(result.failed).toBe(true)
    expect(result.report.errorCode).toBe('backup.corrupt')
    expect(result.report.error).toMatch(message)
    expect(result.outputs.verified).toBe('false')
    expect((await canonicalContents(ddb, target)).size).toBe(0)
  })

  it('refuses a backup holding an item without the target key, before writing any', async () => {
    const good = Array.from({ length: 600 }, (_, i) => sizedItem(`k${i % 7}`, i, 100))
    const keyless: Item = { ...sizedItem('x', 1), secret: { S: SENTINEL } }
    delete keyless.sk
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'keyless-')), 'scan.json')
    const list = [...good, keyless]
    writeFileSync(file, JSON.stringify({ Items: list, Count: list.length }))
    const target = uniqueName('keyed')
    await createTable(ddb, indexedDefinition(target))
    const result = await restore(file, target)
    expect(result.report.errorCode).toBe('restore.keyMismatch')
    expect(result.report.error).toContain('1 item of backup')
    expect(result.report.error).toContain("it has no key attribute 'sk'")
    expect(result.log).not.toContain(SENTINEL)
    expect((await canonicalContents(ddb, target)).size).toBe(0)
  })

  it('restores from the export folder that an ambiguous prefix lists (S3 and local)', async () => {
    const { source, expected } = await sourceTable()
    const dir = mkdtempSync(path.join(tmpdir(), 'two-backups-'))
    for (let i = 0; i < 2; i++) {
      await runAction({
        mode: 'backup',
        tables: source,
        'backup-s3-uri': `s3://${bucket}/two`,
        'backup-artifact': 'true',
        'backup-dir': dir,
        ...endpoints()
      })
      await new Promise((r) => setTimeout(r, 1100))
    }
    for (const prefix of [`s3://${bucket}/two/${source}`, path.join(dir, source)]) {
      const target = uniqueName('picked')
      await createTable(ddb, indexedDefinition(target))
      const ambiguous = await restore(prefix, target)
      expect(ambiguous.report.errorCode).toBe('restore.backupAmbiguous')
      const listed = /name one of them: ([^,]+),/.exec(ambiguous.report.error ?? '')?.[1]
      expect(listed).toMatch(/AWSDynamoDB\/[^/]+$/)
      const picked = await restore(listed!, target)
      expect(picked.report.error).toBeUndefined()
      expect(picked.report.pairs[0]!.notes?.[0]).toContain(listed!)
      expect(await canonicalContents(ddb, target)).toEqual(expected)
    }
  })

  describe('plan-for: restore', () => {
    const plan = (backup: string, target: string, extra: Record<string, string> = {}) =>
      runAction({
        mode: 'plan',
        'plan-for': 'restore',
        tables: `${backup} -> ${target}`,
        ...endpoints(),
        ...extra
      })
    interface RestorePlanned {
      restore: { action: string; refusals: string[]; items?: number; backupKind?: string }
    }
    const planOf = (result: Awaited<ReturnType<typeof plan>>): RestorePlanned =>
      result.report.pairs[0]?.plan as RestorePlanned

    it('reports what restore would do, writing nothing', async () => {
      const list = items()
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'plan-scan-')), 'scan.json')
      writeFileSync(file, JSON.stringify({ Items: list, Count: list.length }))
      const target = uniqueName('plan-restore')
      await createTable(ddb, indexedDefinition(target))
      const result = await plan(file, target)
      expect(result.failed).toBe(false)
      expect(planOf(result).restore).toEqual({
        action: 'restore',
        refusals: [],
        items: list.length,
        backupKind: 'scan-json'
      })
      expect(result.summary).toContain('restore would:')
      expect((await canonicalContents(ddb, target)).size).toBe(0)
    })

    it('reports exactly the refusals restore makes with the same inputs', async () => {
      // Two problems at once: a duplicated key in the backup, and a target that holds items.
      const dup = sizedItem('dup', 1)
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'plan-scan-')), 'scan.json')
      writeFileSync(file, JSON.stringify({ Items: [dup, sizedItem('x', 2), dup], Count: 3 }))
      const target = uniqueName('plan-restore-full')
      await createTable(ddb, indexedDefinition(target))
      await seed(ddb, target, [sizedItem('already', 9)])
      const planned = await plan(file, target)
      const refusals = planOf(planned).restore.refusals
      expect(planOf(planned).restore.action).toBe('refuse')
      expect(refusals).toHaveLength(2)
      expect(refusals.join(' ')).toContain('already holds items')
      expect(refusals.join(' ')).toContain('more than once by primary key')

      const restored = await restore(file, target)
      expect(restored.failed).toBe(true)
      // restore's own words: each of plan's refusals, nothing else.
      expect(restored.report.pairs[0]?.error).toBe(refusals.join(' '))
      expect((await canonicalContents(ddb, target)).size).toBe(1)
    })

    it("refuses plan-for: restore outside mode 'plan'", async () => {
      const result = await runAction({
        mode: 'copy',
        'plan-for': 'restore',
        tables: 'a-table -> b-table',
        ...endpoints()
      })
      expect(result.report.errorCode).toBe('input.planForWithoutPlan')
    })
  })
})
