// Hostile data and damaged backups, end to end against DynamoDB Local and moto's S3: every
// attribute name DynamoDB accepts survives; an answer that does not decode to what the wire
// carried fails the run; a hostile backup is refused before anything is written (no table
// created, target still empty); and no planted value reaches the log, summary or outputs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import {
  DeleteTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand
} from '@aws-sdk/client-dynamodb'
import { ddbEndpoint, motoEndpoint, uniqueName, useEmulators } from '../support/env.js'
import {
  canonicalContents,
  createTable,
  scanAll,
  seed,
  tableDefinition
} from '../support/tables.js'
import { readS3Backup } from '../support/backups.js'
import { FakeArtifacts, runAction, type ActionResult } from '../support/action.js'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js'
import { prototypeNamesItem, sizedItem } from '../../__fixtures__/items.js'
import type { Item, WireValue } from '../../src/types.js'

const HOSTILE = 'SENTINEL-VALUE-hostile-41b'
const { ddb, s3, bucket } = useEmulators('hostile-backups')
let proxy: FaultProxy

/** Attribute names DynamoDB accepts that trip up code building objects by assignment. */
const ODD_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'a.b',
  'x#y',
  'colon:name',
  ' leading space',
  'quote"name',
  'back\\slash',
  'new\nline',
  'Ünïcödé 名前 🎉',
  'n'.repeat(1000)
]

function hostileItem(index: number): Item {
  const attributes: [string, WireValue][] = ODD_NAMES.map((name, i) => [
    name,
    i % 2 === 0
      ? { S: `${HOSTILE}-${index}-${i}` }
      : { M: Object.fromEntries([[name, { N: String(i) }]]) }
  ])
  return Object.fromEntries<WireValue>([
    ['pk', { S: `hostile-${index % 7}` }],
    ['sk', { N: String(index) }],
    ...attributes
  ])
}

function expectNoLeak(result: ActionResult): void {
  for (const text of [result.log, result.summary, JSON.stringify(result.outputs)])
    expect(text).not.toContain(HOSTILE)
}

async function tableExists(name: string): Promise<boolean> {
  return ddb.send(new DescribeTableCommand({ TableName: name })).then(
    () => true,
    () => false
  )
}

function base(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'dynamodb-endpoint': ddbEndpoint(),
    's3-endpoint': motoEndpoint(),
    ...extra
  }
}

beforeAll(async () => {
  proxy = await startFaultProxy({ target: ddbEndpoint() })
})

afterAll(async () => {
  await proxy.stop()
})

describe('every attribute name survives', () => {
  it('copies, backs up, verifies and restores items with odd attribute names exactly', async () => {
    const source = uniqueName('odd-names-src')
    const target = uniqueName('odd-names-dst')
    await createTable(ddb, tableDefinition(source))
    const items = [
      ...Array.from({ length: 60 }, (_, i) => hostileItem(i)),
      prototypeNamesItem('proto', 1)
    ]
    await seed(ddb, source, items)
    const expected = await canonicalContents(ddb, source)
    // The oracle read what DynamoDB holds: every odd name is there before the copy.
    expect([...expected.values()].every((text) => text.includes('"__proto__"'))).toBe(true)

    const copy = await runAction({
      mode: 'copy',
      tables: `${source} -> ${target}`,
      'create-target': 'true',
      'backup-s3-uri': `s3://${bucket}/odd`,
      ...base()
    })
    expect(copy.report.error).toBeUndefined()
    expect(copy.outputs.verified).toBe('true')
    expect(await canonicalContents(ddb, target)).toEqual(expected)
    expectNoLeak(copy)

    // The backup holds every attribute: read back by the tests' own reader.
    const backup = await readS3Backup(s3, copy.report.pairs[0]!.backupLocations[0]!)
    const backedUp = backup.items
    expect(backedUp).toEqual(expected)

    const restored = uniqueName('odd-names-restored')
    const restore = await runAction({
      mode: 'restore',
      tables: `${copy.report.pairs[0]!.backupLocations[0]!} -> ${restored}`,
      'create-target': 'true',
      ...base()
    })
    expect(restore.report.error).toBeUndefined()
    expect(restore.outputs.verified).toBe('true')
    expect(await canonicalContents(ddb, restored)).toEqual(expected)

    const verify = await runAction({
      mode: 'verify',
      tables: `${source} -> ${restored}`,
      ...base()
    })
    expect(verify.outputs.verified).toBe('true')
    expectNoLeak(restore)
    expectNoLeak(verify)
  })

  it('copies into tables named after members of Object.prototype', async () => {
    for (const name of ['constructor', '__proto__', 'toString']) {
      const source = uniqueName('proto-table-src')
      await createTable(ddb, tableDefinition(source))
      await seed(ddb, source, [plain('a', '1'), prototypeNamesItem('p', 2)])
      await ddb.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined)
      const copy = await runAction({
        mode: 'copy',
        tables: `${source} -> ${name}`,
        'create-target': 'true',
        'backup-s3-uri': `s3://${bucket}/named`,
        ...base()
      })
      expect(copy.report.error).toBeUndefined()
      expect(copy.outputs.verified).toBe('true')
      expect(await canonicalContents(ddb, name)).toEqual(await canonicalContents(ddb, source))
      await ddb.send(new DeleteTableCommand({ TableName: name }))
    }
  })

  it('does not call a copy verified when the target lost an attribute named __proto__', async () => {
    const source = uniqueName('proto-src')
    const target = uniqueName('proto-dst')
    await createTable(ddb, tableDefinition(source))
    await createTable(ddb, tableDefinition(target))
    const item = prototypeNamesItem('lost', 1)
    await seed(ddb, source, [item])
    // The target holds the item as a lossy copy would have written it.
    const lossy = Object.fromEntries(Object.entries(item).filter(([name]) => name !== '__proto__'))
    await seed(ddb, target, [lossy])
    const verify = await runAction({ mode: 'verify', tables: `${source} -> ${target}`, ...base() })
    expect(verify.outputs.verified).toBe('false')
    expect(verify.report.pairs[0]!.differences).toEqual([
      { key: 'pk="lost", sk=1', kind: 'differs' }
    ])
  })
})

describe('proofs count what the wire carried', () => {
  const repeatName = (body: string): string =>
    body.replace('"pk":{', `"extra":{"S":"${HOSTILE}"},"extra":{"S":"${HOSTILE}"},"pk":{`)

  async function copyThroughProxy(extra: Record<string, string> = {}): Promise<{
    result: ActionResult
    target: string
    expected: Map<string, string>
  }> {
    const source = uniqueName('wire-src')
    const target = uniqueName('wire-dst')
    await createTable(ddb, tableDefinition(source))
    await createTable(ddb, tableDefinition(target))
    await seed(
      ddb,
      source,
      Array.from({ length: 40 }, (_, i) => sizedItem(`w${i % 3}`, i, 200))
    )
    const expected = await canonicalContents(ddb, source)
    const result = await runAction({
      mode: 'copy',
      tables: `${source} -> ${target}`,
      'backup-s3-uri': `s3://${bucket}/wire`,
      'total-segments': '1',
      ...base({ 'dynamodb-endpoint': proxy.endpoint, ...extra })
    })
    return { result, target, expected }
  }

  it('fails a copy whose scan answers repeat an attribute name, writing nothing', async () => {
    proxy.setResponseRewrite((operation, body) =>
      operation === 'Scan' && body.includes('"Items":[{') ? { body: repeatName(body) } : undefined
    )
    try {
      const { result, target } = await copyThroughProxy({ 'retry-timeout-seconds': '1' })
      expect(result.failed).toBe(true)
      expect(result.outputs.verified).toBe('false')
      expect(result.report.pairs[0]!.error).toMatch(/a name repeats, so an attribute would be lost/)
      expect(await scanAll(ddb, target)).toEqual([])
      expectNoLeak(result)
    } finally {
      proxy.setResponseRewrite(undefined)
    }
  })

  it('asks again when one answer does not match its CRC32 or repeats a name, then verifies', async () => {
    let tampered = 0
    proxy.setResponseRewrite((operation, body) => {
      if (operation !== 'Scan' || !body.includes('"Items":[{') || tampered >= 2) return undefined
      tampered++
      return tampered === 1
        ? { body: body.replace('"pk":{"S":"w', '"pk":{"S":"W'), keepCrc: true }
        : { body: repeatName(body) }
    })
    try {
      const { result, target, expected } = await copyThroughProxy()
      expect(tampered).toBe(2)
      expect(result.report.error).toBeUndefined()
      expect(result.outputs.verified).toBe('true')
      expect(await canonicalContents(ddb, target)).toEqual(expected)
    } finally {
      proxy.setResponseRewrite(undefined)
    }
  })
})

/** A backup folder in DynamoDB's export layout, with manifests that match its files. */
function exportFolder(
  files: { name: string; text: string }[],
  tamper: {
    dataKey?: (name: string) => string
    summary?: Record<string, unknown>
    description?: boolean
  } = {}
): string {
  const root = mkdtempSync(path.join(tmpdir(), 'hostile-export-'))
  const exportId = '01700000000000-deadbeef'
  const dir = path.join(root, 'AWSDynamoDB', exportId)
  mkdirSync(path.join(dir, 'data'), { recursive: true })
  const entries = files.map(({ name, text }) => {
    const body = gzipSync(text)
    writeFileSync(path.join(dir, 'data', name), body)
    return JSON.stringify({
      itemCount: text.split('\n').filter((l) => l !== '').length,
      md5Checksum: createHash('md5').update(body).digest('base64'),
      etag: 'x',
      dataFileS3Key: tamper.dataKey?.(name) ?? `AWSDynamoDB/${exportId}/data/${name}`
    })
  })
  writeFileSync(path.join(dir, 'manifest-files.json'), `${entries.join('\n')}\n`)
  const itemCountTotal = files.reduce(
    (n, f) => n + f.text.split('\n').filter((l) => l !== '').length,
    0
  )
  writeFileSync(
    path.join(dir, 'manifest-summary.json'),
    JSON.stringify({
      version: '2020-06-30',
      exportArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/t/export/x',
      startTime: '2026-12-01T00:00:00Z',
      endTime: '2026-12-01T00:01:00Z',
      tableArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/t',
      tableId: 'x',
      exportTime: '2026-12-01T00:00:00Z',
      s3Bucket: 'b',
      s3Prefix: null,
      s3SseAlgorithm: 'AES256',
      s3SseKmsKeyId: null,
      manifestFilesS3Key: `AWSDynamoDB/${exportId}/manifest-files.json`,
      billedSizeBytes: 1,
      itemCount: itemCountTotal,
      outputFormat: 'DYNAMODB_JSON',
      ...tamper.summary
    })
  )
  return root
}

const line = (item: Item): string => `${JSON.stringify({ Item: item })}\n`
const plain = (pk: string, sk: string): Item => ({
  pk: { S: pk },
  sk: { N: sk },
  secret: { S: HOSTILE }
})

describe('hostile backups are refused before the first write', () => {
  async function refusedRestore(
    backup: string,
    why: RegExp,
    options: { createTarget?: boolean } = {}
  ): Promise<void> {
    const target = uniqueName('hostile-target')
    if (!options.createTarget) await createTable(ddb, tableDefinition(target))
    const result = await runAction({
      mode: 'restore',
      tables: `${backup} -> ${target}`,
      ...(options.createTarget ? { 'create-target': 'true' } : {}),
      ...base()
    })
    expect(result.failed).toBe(true)
    expect(result.report.pairs[0]!.status).toBe('refused')
    expect(result.report.error).toMatch(why)
    if (options.createTarget) expect(await tableExists(target)).toBe(false)
    else expect(await scanAll(ddb, target)).toEqual([])
    expectNoLeak(result)
  }

  it('refuses keys that repeat across data files, numbers equal by value included', async () => {
    const folder = exportFolder([
      { name: 'a.json.gz', text: line(plain('dup', '1')) + line(plain('other', '2')) },
      { name: 'b.json.gz', text: line(plain('dup', '1.0')) }
    ])
    await refusedRestore(folder, /more than once by primary key.*pk="dup", sk=1/)
  })

  it('refuses an item over 400 KB, naming no value', async () => {
    const big = plain('big', '1')
    big.payload = { S: `${HOSTILE}${'x'.repeat(409_600)}` }
    const folder = exportFolder([{ name: 'a.json.gz', text: line(plain('ok', '1')) + line(big) }])
    await refusedRestore(folder, /400 KB|409,600|too large/i)
  })

  it('refuses keys that differ only in lone surrogates, which DynamoDB would merge', async () => {
    const text =
      '{"Item":{"pk":{"S":"\\ud800"},"sk":{"N":"1"}}}\n{"Item":{"pk":{"S":"\\udbff"},"sk":{"N":"1"}}}\n'
    const folder = exportFolder([{ name: 'a.json.gz', text }])
    await refusedRestore(folder, /lone surrogate/)
  })

  it('refuses a small gzip file that inflates to a flood of empty lines, quickly', async () => {
    const folder = exportFolder([{ name: 'a.json.gz', text: line(plain('x', '1')) }])
    const dir = path.join(folder, 'AWSDynamoDB', '01700000000000-deadbeef')
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x0a))
    writeFileSync(path.join(dir, 'data', 'a.json.gz'), bomb)
    writeFileSync(
      path.join(dir, 'manifest-files.json'),
      `${JSON.stringify({
        itemCount: 1,
        md5Checksum: createHash('md5').update(bomb).digest('base64'),
        etag: 'x',
        dataFileS3Key: 'AWSDynamoDB/01700000000000-deadbeef/data/a.json.gz'
      })}\n`
    )
    await refusedRestore(folder, /empty lines/)
  })

  it('refuses a partition key over 2,048 bytes', async () => {
    const folder = exportFolder([
      {
        name: 'a.json.gz',
        text:
          line({ pk: { S: 'k' }, sk: { N: '1' }, long: { S: 'x'.repeat(10) } }) +
          line({ pk: { S: 'k'.repeat(2049) }, sk: { N: '2' } })
      }
    ])
    await refusedRestore(folder, /partition key|2,048|2048/)
  })

  it('refuses a manifest that names a file outside its export', async () => {
    const outside = mkdtempSync(path.join(tmpdir(), 'outside-'))
    writeFileSync(path.join(outside, 'secret.json.gz'), gzipSync(line(plain('x', '1'))))
    const folder = exportFolder([{ name: 'a.json.gz', text: line(plain('x', '1')) }], {
      dataKey: () =>
        path.relative(tmpdir(), path.join(outside, 'secret.json.gz')).replace(/^/, '../../../')
    })
    await refusedRestore(folder, /outside|not inside|escapes/i)
  })

  it('refuses a data file that is a symbolic link out of the backup', async () => {
    const outside = mkdtempSync(path.join(tmpdir(), 'outside-'))
    const text = line(plain('x', '1'))
    writeFileSync(path.join(outside, 'a.json.gz'), gzipSync(text))
    const folder = exportFolder([{ name: 'a.json.gz', text }])
    const data = path.join(folder, 'AWSDynamoDB', '01700000000000-deadbeef', 'data', 'a.json.gz')
    const { rmSync } = await import('node:fs')
    rmSync(data)
    symlinkSync(path.join(outside, 'a.json.gz'), data)
    await refusedRestore(folder, /outside|symbolic link|not inside|escapes/i)
  })

  it('refuses a manifest without per-file checksums and counts', async () => {
    const folder = exportFolder([{ name: 'a.json.gz', text: line(plain('x', '1')) }])
    const file = path.join(folder, 'AWSDynamoDB', '01700000000000-deadbeef', 'manifest-files.json')
    writeFileSync(
      file,
      `${JSON.stringify({ dataFileS3Key: 'AWSDynamoDB/01700000000000-deadbeef/data/a.json.gz' })}\n`
    )
    await refusedRestore(folder, /itemCount|md5|checksum/i)
  })

  it('refuses a small gzip file that inflates to one endless line, quickly', async () => {
    const folder = exportFolder([{ name: 'a.json.gz', text: line(plain('x', '1')) }])
    const dir = path.join(folder, 'AWSDynamoDB', '01700000000000-deadbeef')
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, HOSTILE.charCodeAt(0)))
    writeFileSync(path.join(dir, 'data', 'a.json.gz'), bomb)
    writeFileSync(
      path.join(dir, 'manifest-files.json'),
      `${JSON.stringify({
        itemCount: 1,
        md5Checksum: createHash('md5').update(bomb).digest('base64'),
        etag: 'x',
        dataFileS3Key: 'AWSDynamoDB/01700000000000-deadbeef/data/a.json.gz'
      })}\n`
    )
    await refusedRestore(folder, /line/i)
  })

  it('refuses a line that repeats an attribute name, naming file and line only', async () => {
    const text = `${line(plain('x', '1'))}{"Item":{"pk":{"S":"y"},"sk":{"N":"2"},"a":{"S":"${HOSTILE}"},"a":{"S":"${HOSTILE}"}}}\n`
    const folder = exportFolder([{ name: 'a.json.gz', text }])
    await refusedRestore(folder, /line 2/)
  })

  it('refuses a line that is not JSON without quoting it', async () => {
    const text = `${line(plain('x', '1'))}{"Item":{"pk":{"S":"${HOSTILE}"\n`
    const folder = exportFolder([{ name: 'a.json.gz', text }])
    await refusedRestore(folder, /line 2/)
  })

  it('creates no table when a backup with a description is refused', async () => {
    // A real backup of this action (it carries the table description) with a damaged line.
    const source = uniqueName('desc-src')
    await createTable(ddb, tableDefinition(source))
    await seed(ddb, source, [plain('a', '1')])
    const dir = mkdtempSync(path.join(tmpdir(), 'desc-backup-'))
    const backup = await runAction({ mode: 'backup', tables: source, 'backup-dir': dir, ...base() })
    expect(backup.report.error).toBeUndefined()
    const folder = backup.report.pairs[0]!.backupLocations[0]!
    const { readdirSync } = await import('node:fs')
    const exportDir = path.join(
      folder,
      'AWSDynamoDB',
      readdirSync(path.join(folder, 'AWSDynamoDB'))[0]!
    )
    const dataDir = path.join(exportDir, 'data')
    const dataFile = path.join(dataDir, readdirSync(dataDir)[0]!)
    writeFileSync(dataFile, gzipSync(`{"Item":{"pk":{"S":"${HOSTILE}"\n`))
    await refusedRestore(folder, /damaged|line 1|MD5|SHA-256/, { createTarget: true })
  })
})

describe('every refusal comes before every write', () => {
  it('refuses an unusable backup-dir before creating the target, naming the input', async () => {
    const source = uniqueName('dir-src')
    const target = uniqueName('dir-dst')
    await createTable(ddb, tableDefinition(source))
    await seed(ddb, source, [plain('a', '1')])
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'not-a-dir-')), 'file')
    writeFileSync(file, 'x')
    for (const dir of [file, path.join(file, 'below')]) {
      const result = await runAction({
        mode: 'copy',
        tables: `${source} -> ${target}`,
        'create-target': 'true',
        'backup-dir': dir,
        'backup-s3-uri': `s3://${bucket}/dir`,
        ...base()
      })
      expect(result.failed).toBe(true)
      expect(result.report.error).toMatch(/Input 'backup-dir'.*is a file/)
      expect(result.report.error).not.toMatch(/ENOTDIR|EEXIST|ENOENT/)
      expect(await tableExists(target)).toBe(false)
    }
  })

  it('refuses an artifact-only backup when the artifact service does not answer, before any write', async () => {
    const source = uniqueName('artifact-src')
    const target = uniqueName('artifact-dst')
    await createTable(ddb, tableDefinition(source))
    await seed(ddb, source, [plain('a', '1')])
    const artifacts = new FakeArtifacts()
    artifacts.unreachable = true
    const result = await runAction(
      {
        mode: 'copy',
        tables: `${source} -> ${target}`,
        'create-target': 'true',
        'backup-artifact': 'true',
        ...base()
      },
      { artifacts }
    )
    expect(result.failed).toBe(true)
    expect(result.report.error).toMatch(/artifact service did not answer/)
    expect(artifacts.checks).toBe(1)
    expect(artifacts.uploads).toEqual([])
    expect(await tableExists(target)).toBe(false)
  })

  it('refuses a bucket that does not exist before creating the target', async () => {
    const source = uniqueName('bucket-src')
    const target = uniqueName('bucket-dst')
    await createTable(ddb, tableDefinition(source))
    const result = await runAction({
      mode: 'copy',
      tables: `${source} -> ${target}`,
      'create-target': 'true',
      'backup-s3-uri': `s3://${uniqueName('no-such-bucket')}/x`,
      ...base()
    })
    expect(result.failed).toBe(true)
    expect(result.report.error).toMatch(/backup-s3-uri/)
    expect(await tableExists(target)).toBe(false)
  })
})

describe('settings held back until the proof', () => {
  it('says how to finish a clone whose TTL a re-run into the existing target did not apply', async () => {
    const source = uniqueName('ttl-src')
    const target = uniqueName('ttl-dst')
    await createTable(ddb, tableDefinition(source))
    await ddb.send(
      new UpdateTimeToLiveCommand({
        TableName: source,
        TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' }
      })
    )
    await seed(ddb, source, [plain('a', '1')])
    // What an interrupted create-target copy leaves: the clone, without its TTL yet.
    await createTable(ddb, tableDefinition(target))
    const result = await runAction({
      mode: 'copy',
      tables: `${source} -> ${target}`,
      'allow-non-empty-target': 'true',
      'backup-s3-uri': `s3://${bucket}/ttl`,
      ...base()
    })
    expect(result.outputs.verified).toBe('true')
    const hint = `aws dynamodb update-time-to-live --table-name ${target} --time-to-live-specification Enabled=true,AttributeName=expiresAt`
    expect(result.summary).toContain(hint)
    expect(result.log).toMatch(new RegExp(`::warning::.*TTL is on in '${source}'`))
  })
})
