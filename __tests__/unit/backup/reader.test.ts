import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { createGzip, gzipSync } from 'node:zlib'
import {
  MAX_MANIFEST_LINE_BYTES,
  findExports,
  keyInExport,
  openBackupSource,
  scanJsonSource,
  splitExportPath,
  type BackupSource
} from '../../../src/backup/reader.js'
import { MAX_ITEM_LINE_BYTES } from '../../../src/backup/lines.js'
import { LocalStore } from '../../../src/backup/store.js'
import { BackupWriter } from '../../../src/backup/writer.js'
import type { S3Client } from '@aws-sdk/client-s3'
import type { Item } from '../../../src/types.js'

// Every hostile file below holds this value; no message may ever quote it.
const SENTINEL = 'SENTINEL-VALUE-7c1'
const ID = '01700000000000-abcd1234'
const OTHER_ID = '01700000000001-ffff0000'
// Local sources never touch S3.
const noS3 = {} as S3Client

/** Items in wire form, each holding the sentinel as a value. */
function wireItems(count: number, from = 0): Item[] {
  return Array.from({ length: count }, (_, i) => ({
    pk: { S: `k${from + i}` },
    n: { N: String(from + i) },
    secret: { S: `${SENTINEL} of ${from + i}` },
    pad: { S: 'x'.repeat(200) }
  }))
}

const lineOf = (item: unknown): string => `{"Item":${JSON.stringify(item)}}\n`

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('base64')
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

interface DataFileSpec {
  /** File name below data/ (`.gz` means gzip). */
  name: string
  /** The file's bytes. */
  body: Buffer
  itemCount: number
}

interface ExportSpec {
  id?: string
  files?: DataFileSpec[]
  /** Rewrites the manifest-files.json entries before they are written. */
  entries?: (entries: Record<string, unknown>[]) => unknown[]
  /** Rewrites manifest-summary.json before it is written. */
  summary?: (summary: Record<string, unknown>) => unknown
  /** Writes the manifests' text as given instead. */
  manifestFilesText?: string
  summaryText?: string
}

/** Writes an export folder, DynamoDB's layout, below `root`; returns its folder. */
function writeExport(root: string, spec: ExportSpec = {}): string {
  const id = spec.id ?? ID
  const dir = path.join(root, 'AWSDynamoDB', id)
  mkdirSync(path.join(dir, 'data'), { recursive: true })
  const files = spec.files ?? [
    {
      name: 'part-0.json.gz',
      body: gzipSync(wireItems(30).map(lineOf).join('')),
      itemCount: 30
    }
  ]
  let entries: unknown[] = files.map((file) => {
    writeFileSync(path.join(dir, 'data', file.name), file.body)
    return {
      itemCount: file.itemCount,
      md5Checksum: md5(file.body),
      etag: 'x',
      dataFileS3Key: `backups/t/AWSDynamoDB/${id}/data/${file.name}`,
      sha256: sha256(file.body),
      size: file.body.length
    }
  })
  if (spec.entries) entries = spec.entries(entries as Record<string, unknown>[])
  writeFileSync(
    path.join(dir, 'manifest-files.json'),
    spec.manifestFilesText ?? entries.map((e) => `${JSON.stringify(e)}\n`).join('')
  )
  let summary: unknown = {
    version: '2020-06-30',
    exportArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/t/export/x',
    exportTime: '2024-01-01T00:00:00.000Z',
    itemCount: files.reduce((sum, f) => sum + f.itemCount, 0),
    manifestFilesS3Key: `backups/t/AWSDynamoDB/${id}/manifest-files.json`,
    outputFormat: 'DYNAMODB_JSON'
  }
  if (spec.summary) summary = spec.summary(summary as Record<string, unknown>)
  writeFileSync(
    path.join(dir, 'manifest-summary.json'),
    spec.summaryText ?? JSON.stringify(summary)
  )
  return dir
}

const tempRoot = (): string => mkdtempSync(path.join(tmpdir(), 'reader-'))

/** The single export under `root`. */
async function theExport(root: string, store = new LocalStore(root)): Promise<BackupSource> {
  const found = await findExports(store)
  expect(found).toHaveLength(1)
  return found[0]!
}

async function readAll(source: BackupSource): Promise<Item[]> {
  const out: Item[] = []
  await source.read(async (items) => {
    out.push(...items)
  })
  return out
}

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise
  } catch (error) {
    return error as Error & { code?: string }
  }
  throw new Error('expected a rejection')
}

/** Rejects with `backup.corrupt` (or `code`), a message matching `pattern`, and no sentinel. */
async function expectRefused(
  promise: Promise<unknown>,
  pattern: RegExp,
  code = 'backup.corrupt'
): Promise<Error> {
  const error = await rejection(promise)
  expect(error.message).toMatch(pattern)
  expect(error.message).not.toContain(SENTINEL)
  expect(error.code).toBe(code)
  return error
}

/** Serves the real files, except that data files break off after `bytes` bytes. */
class BreakingStore extends LocalStore {
  constructor(
    root: string,
    private readonly bytes: number
  ) {
    super(root)
  }

  override async openPinned(
    relative: string,
    within: string,
    pins: Map<string, string>
  ): Promise<Readable> {
    return this.breaking(relative, await super.openPinned(relative, within, pins))
  }

  override async open(relative: string, within?: string): Promise<Readable> {
    return this.breaking(relative, await super.open(relative, within))
  }

  private breaking(relative: string, real: Readable): Readable {
    if (!relative.includes('/data/')) return real
    let sent = 0
    const limit = this.bytes
    return Readable.from(
      (async function* () {
        for await (const chunk of real as AsyncIterable<Buffer>) {
          const room = limit - sent
          if (chunk.length >= room) {
            yield chunk.subarray(0, room)
            throw Object.assign(new Error(`socket hang up ${SENTINEL}`), { code: 'ECONNRESET' })
          }
          sent += chunk.length
          yield chunk
        }
      })()
    )
  }
}

/** gzip of `megabytes` MiB of 'a' with no newline, built without holding it: ~1 KB per MiB. */
async function gzipBomb(megabytes: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 })
  const out: Buffer[] = []
  gzip.on('data', (chunk: Buffer) => out.push(chunk))
  const ended = new Promise((resolve) => gzip.on('end', resolve))
  const chunk = Buffer.alloc(1024 * 1024, 'a')
  for (let i = 0; i < megabytes; i++) {
    if (!gzip.write(chunk)) await new Promise((resolve) => gzip.once('drain', resolve))
  }
  gzip.end()
  await ended
  return Buffer.concat(out)
}

describe('reader.ts', () => {
  describe('exports', () => {
    it('refuses to read a data file again once it changed after the first read', async () => {
      const root = tempRoot()
      const dir = writeExport(root)
      const backup = await theExport(root)
      expect(await readAll(backup)).toHaveLength(30)
      // Replaced between the check and the restore, with the same manifest entries.
      const file = path.join(dir, 'data', 'part-0.json.gz')
      writeFileSync(file, gzipSync(wireItems(30, 100).map(lineOf).join('')))
      const error = await rejection(readAll(backup))
      expect(error.message).toMatch(/part-0\.json\.gz.*changed after it was checked/)
    })

    it('reads a data file again when it was only touched, or rewritten with the same bytes', async () => {
      const root = tempRoot()
      const dir = writeExport(root)
      const backup = await theExport(root)
      expect(await readAll(backup)).toHaveLength(30)
      const file = path.join(dir, 'data', 'part-0.json.gz')
      writeFileSync(file, readFileSync(file))
      const later = new Date(Date.now() + 60_000)
      utimesSync(file, later, later)
      expect(await readAll(backup)).toHaveLength(30)
    })

    it('reads a scan file named through a symbolic link to another folder', async () => {
      const real = tempRoot()
      const links = tempRoot()
      writeFileSync(path.join(real, 'scan.json'), JSON.stringify({ Items: wireItems(2), Count: 2 }))
      symlinkSync(path.join(real, 'scan.json'), path.join(links, 'scan.json'))
      const backup = await openBackupSource(path.join(links, 'scan.json'), noS3)
      expect(await readAll(backup)).toHaveLength(2)
    })

    it('refuses a scan file that changed after the first read', async () => {
      const root = tempRoot()
      const file = path.join(root, 'scan.json')
      writeFileSync(file, JSON.stringify({ Items: wireItems(3), Count: 3 }))
      const backup = await openBackupSource(file, noS3)
      expect(await readAll(backup)).toHaveLength(3)
      writeFileSync(file, JSON.stringify({ Items: wireItems(3, 50), Count: 3 }))
      const error = await rejection(readAll(backup))
      expect(error.message).toMatch(/changed after it was checked/)
    })

    it('reads every item of an export in pages and checks it against its manifests', async () => {
      const root = tempRoot()
      const items = wireItems(1200)
      writeExport(root, {
        files: [
          {
            name: 'a.json.gz',
            body: gzipSync(items.slice(0, 700).map(lineOf).join('')),
            itemCount: 700
          },
          {
            name: 'b.json',
            body: Buffer.from(items.slice(700).map(lineOf).join('')),
            itemCount: 500
          }
        ]
      })
      const backup = await theExport(root)
      expect(backup).toMatchObject({
        kind: 'dynamodb-export',
        exportId: ID,
        itemCount: 1200,
        exportTime: '2024-01-01T00:00:00.000Z'
      })
      const pages: number[] = []
      const read: Item[] = []
      const total = await backup.read(async (page) => {
        pages.push(page.length)
        read.push(...page)
      })
      expect(total).toBe(1200)
      expect(read).toEqual(items)
      expect(Math.max(...pages)).toBeLessThanOrEqual(500)
    })

    it('fails, rather than hanging or crashing, when a data file breaks off mid-read', async () => {
      const root = tempRoot()
      writeExport(root)
      const backup = await theExport(root, new BreakingStore(root, 300))
      await expectRefused(
        readAll(backup),
        /cannot be read \(the connection was reset \(ECONNRESET\)\)/
      )
    })

    it('reports a bad line as itself, not as the pipeline torn down after it', async () => {
      const root = tempRoot()
      const body = gzipSync(`${lineOf({ pk: { S: 'a' } })}{"Item":{"pk":{"X":"${SENTINEL}"}}}\n`)
      writeExport(root, { files: [{ name: 'p.json.gz', body, itemCount: 2 }] })
      await expectRefused(
        readAll(await theExport(root)),
        /data file AWSDynamoDB\/.*\/data\/p\.json\.gz line 2: attribute pk /
      )
    })

    it('passes a failure of the consumer of pages through unchanged', async () => {
      const root = tempRoot()
      writeExport(root, {
        files: [
          { name: 'p.json.gz', body: gzipSync(wireItems(600).map(lineOf).join('')), itemCount: 600 }
        ]
      })
      const backup = await theExport(root)
      const failure = new Error('the target rejected a write')
      await expect(
        backup.read(async () => {
          throw failure
        })
      ).rejects.toBe(failure)
    })

    it('names one export by its folder, with or without the manifest or a slash', () => {
      for (const location of [
        's3b/prefix/t/run/AWSDynamoDB/0170-ab',
        's3b/prefix/t/run/AWSDynamoDB/0170-ab/',
        's3b/prefix/t/run/AWSDynamoDB/0170-ab/manifest-summary.json'
      ]) {
        expect(splitExportPath(location)).toEqual({ root: 's3b/prefix/t/run', exportId: '0170-ab' })
      }
      expect(splitExportPath('s3b/prefix/t/run/')).toEqual({ root: 's3b/prefix/t/run' })
    })

    it("reads back, item for item, a backup this action's writer wrote", async () => {
      const localRoot = tempRoot()
      const writer = await BackupWriter.open({
        source: {
          name: 'orders',
          description: {
            TableName: 'orders',
            TableArn: 'arn:aws:dynamodb:us-east-1:1:table/orders'
          },
          timeToLive: 'unsupported',
          pointInTimeRecovery: 'unsupported',
          tags: 'unsupported'
        },
        localRoot,
        keepLocal: true,
        runLabel: 'run-1',
        maxFileBytes: 20_000
      })
      const items: Item[] = [
        ...wireItems(300),
        JSON.parse(`{"pk":{"S":"p"},"__proto__":{"M":{"__proto__":{"B":"AP8="}}}}`) as Item
      ]
      // The writer starts a new data file between writes once one passes maxFileBytes.
      for (let at = 0; at < items.length; at += 50) await writer.write(items.slice(at, at + 50))
      const digest = { count: items.length, digest: `sha256-sum:${'1'.repeat(64)}` }
      const result = await writer.finish(digest)
      expect(result.files.length).toBeGreaterThan(1)
      const backup = await theExport(path.join(localRoot, 'orders', 'run-1'))
      expect(backup).toMatchObject({ kind: 'action', itemCount: items.length, digest })
      expect(backup.description?.table.TableName).toBe('orders')
      expect(JSON.stringify(await readAll(backup))).toBe(JSON.stringify(items))
    })

    it('reads the table description of its own backups, next to AWSDynamoDB/', async () => {
      const root = tempRoot()
      writeExport(root, {
        summary: (s) => ({
          ...s,
          dynamodbTableMover: {
            tool: 'dynamodb-table-mover',
            table: 't',
            contentDigest: { count: 30, digest: `sha256-sum:${'0'.repeat(64)}` },
            tableDescriptionFile: 'table-description.json'
          }
        })
      })
      writeFileSync(
        path.join(root, 'table-description.json'),
        JSON.stringify({ table: { TableName: 'orders' } })
      )
      const backup = await theExport(root)
      expect(backup.kind).toBe('action')
      expect(backup.description).toEqual({ table: { TableName: 'orders' } })
      expect(backup.digest).toEqual({ count: 30, digest: `sha256-sum:${'0'.repeat(64)}` })
    })
  })

  describe('table descriptions', () => {
    it.each([
      [{ TableName: 'a\nb' }, 'names its table'],
      [
        { GlobalSecondaryIndexes: [{ IndexName: 'SENT\n\n# INJ', KeySchema: [] }] },
        'names an index'
      ],
      [{ KeySchema: [{ AttributeName: 'pk\u0007', KeyType: 'HASH' }] }, 'names an attribute'],
      [{ KeySchema: [{ AttributeName: 'pk', KeyType: 'SIDEWAYS' }] }, 'has a KeyType'],
      [{ StreamSpecification: { StreamViewType: 'SENT\n::warning::x' } }, 'has a StreamViewType']
    ])(
      'refuses a description whose names or modes DynamoDB would not hold (%j)',
      async (table, why) => {
        const root = tempRoot()
        writeExport(root, {
          summary: (s) => ({
            ...s,
            dynamodbTableMover: {
              tool: 'dynamodb-table-mover',
              table: 't',
              contentDigest: { count: 30, digest: `sha256-sum:${'0'.repeat(64)}` },
              tableDescriptionFile: 'table-description.json'
            }
          })
        })
        writeFileSync(path.join(root, 'table-description.json'), JSON.stringify({ table }))
        const error = await rejection(findExports(new LocalStore(root)))
        expect(error.message).toContain(`its table description ${why}`)
        expect(error.message).not.toMatch(/SENT|INJ/)
        expect(error.message).not.toContain('\u0007')
      }
    )
  })

  describe('paths a manifest names', () => {
    it.each([
      [
        'a .. part',
        `AWSDynamoDB/${ID}/../${OTHER_ID}/data/part-0.json.gz`,
        /has a '\.' or '\.\.' part/
      ],
      [
        'a climb out',
        `AWSDynamoDB/${ID}/data/../../../../../../etc/passwd`,
        /has a '\.' or '\.\.' part/
      ],
      ['a . part', `AWSDynamoDB/${ID}/./data/part-0.json.gz`, /has a '\.' or '\.\.' part/],
      ['an absolute key', '/etc/passwd', /is absolute/],
      [
        'an absolute key into the folder',
        `/tmp/AWSDynamoDB/${ID}/data/part-0.json.gz`,
        /is absolute/
      ],
      [
        'a sibling export',
        `AWSDynamoDB/${OTHER_ID}/data/part-0.json.gz`,
        /is not in its export folder/
      ],
      ['no export folder', 'data/part-0.json.gz', /is not in its export folder/],
      ['a backslash', `AWSDynamoDB/${ID}/data\\..\\..\\x.json.gz`, /holds a backslash/],
      ['percent escapes', `AWSDynamoDB/${ID}/data/%2e%2e/%2e%2e/x.json.gz`, /by names of letters/],
      ['a doubled slash', `AWSDynamoDB/${ID}//data/part-0.json.gz`, /by names of letters/],
      ['the folder itself', `AWSDynamoDB/${ID}/`, /by names of letters/],
      [
        'a control character',
        `AWSDynamoDB/${ID}/data/x\n::error::y.json.gz`,
        /holds a control character/
      ]
    ])('refuses a data file key with %s, naming the manifest and the key', async (_, key, why) => {
      const root = tempRoot()
      // A real sibling export whose data a hostile key might reach for.
      writeExport(root, { id: OTHER_ID })
      writeExport(root, {
        entries: (entries) => entries.map((e) => ({ ...e, dataFileS3Key: key }))
      })
      const error = await expectRefused(
        findExports(new LocalStore(root), ID),
        /its manifest-files\.json line 1 names data file '.*', which /
      )
      expect(error.message).toMatch(why)
      expect(error.message).not.toContain('\n')
    })

    it('cuts a very long key short in the message', async () => {
      const root = tempRoot()
      const key = `AWSDynamoDB/${'z'.repeat(5000)}`
      writeExport(root, {
        entries: (entries) => entries.map((e) => ({ ...e, dataFileS3Key: key }))
      })
      const error = await expectRefused(findExports(new LocalStore(root)), /names data file 'A/)
      expect(error.message.length).toBeLessThan(600)
    })

    it('refuses a manifestFilesS3Key outside its export folder', async () => {
      const root = tempRoot()
      writeExport(root, { id: OTHER_ID })
      writeExport(root, {
        summary: (s) => ({
          ...s,
          manifestFilesS3Key: `AWSDynamoDB/${OTHER_ID}/manifest-files.json`
        })
      })
      await expectRefused(
        findExports(new LocalStore(root), ID),
        /its manifest-summary\.json names its manifest-files as '.*', which is not in its export folder/
      )
    })

    it('accepts a key with any prefix before AWSDynamoDB/<id>/ (the backup may have moved)', () => {
      expect(keyInExport(`a b/c%20d//AWSDynamoDB/${ID}/data/x.json.gz`, ID)).toBe('data/x.json.gz')
      expect(keyInExport(`AWSDynamoDB/${ID}/data/x.json.gz`, ID)).toBe('data/x.json.gz')
      expect(() => keyInExport(`xAWSDynamoDB/${ID}/data/x.json.gz`, ID)).toThrow(
        /not in its export/
      )
    })

    it('refuses a data file that is a symbolic link to a file outside the backup', async () => {
      const outside = tempRoot()
      const secret = gzipSync(wireItems(30).map(lineOf).join(''))
      writeFileSync(path.join(outside, 'secret.json.gz'), secret)
      const root = tempRoot()
      const dir = writeExport(root, {
        files: [{ name: 'part-0.json.gz', body: secret, itemCount: 30 }]
      })
      rmSync(path.join(dir, 'data', 'part-0.json.gz'))
      symlinkSync(path.join(outside, 'secret.json.gz'), path.join(dir, 'data', 'part-0.json.gz'))
      const backup = await theExport(root)
      await expectRefused(
        readAll(backup),
        /is a symbolic link \(or is reached through one\) to a file outside/
      )
    })

    it('refuses a data file linked into a sibling export', async () => {
      const root = tempRoot()
      const sibling = writeExport(root, { id: OTHER_ID })
      const dir = writeExport(root)
      rmSync(path.join(dir, 'data', 'part-0.json.gz'))
      symlinkSync(
        path.join(sibling, 'data', 'part-0.json.gz'),
        path.join(dir, 'data', 'part-0.json.gz')
      )
      const [mine] = await findExports(new LocalStore(root), ID)
      await expectRefused(readAll(mine!), /symbolic link/)
    })

    it('refuses a data folder that is a symbolic link out of the export folder', async () => {
      const outside = tempRoot()
      const elsewhere = writeExport(outside)
      const root = tempRoot()
      const dir = writeExport(root)
      rmSync(path.join(dir, 'data'), { recursive: true })
      symlinkSync(path.join(elsewhere, 'data'), path.join(dir, 'data'))
      await expectRefused(readAll(await theExport(root)), /symbolic link/)
    })

    it('does not find an export folder that is a symbolic link out of the backup', async () => {
      const outside = tempRoot()
      const real = writeExport(outside)
      const root = tempRoot()
      mkdirSync(path.join(root, 'AWSDynamoDB'))
      symlinkSync(real, path.join(root, 'AWSDynamoDB', ID))
      expect(await findExports(new LocalStore(root))).toEqual([])
      await expect(
        openBackupSource(path.join(root, 'AWSDynamoDB', ID), noS3)
      ).rejects.toMatchObject({ code: 'restore.backupMissing' })
      // Nor an AWSDynamoDB folder that is a link.
      const root2 = tempRoot()
      symlinkSync(path.join(outside, 'AWSDynamoDB'), path.join(root2, 'AWSDynamoDB'))
      expect(await findExports(new LocalStore(root2))).toEqual([])
    })

    it('refuses a manifest-files.json that is a symbolic link out of the export folder', async () => {
      const outside = tempRoot()
      const elsewhere = writeExport(outside)
      const root = tempRoot()
      const dir = writeExport(root)
      rmSync(path.join(dir, 'manifest-files.json'))
      symlinkSync(
        path.join(elsewhere, 'manifest-files.json'),
        path.join(dir, 'manifest-files.json')
      )
      await expectRefused(
        findExports(new LocalStore(root)),
        /manifest-files\.json cannot be read \(.*symbolic link/
      )
    })

    it('refuses an export folder whose name holds a line break, without printing it raw', async () => {
      const root = tempRoot()
      writeExport(path.join(root, 'run\n::error::forged'))
      const error = await expectRefused(
        findExports(new LocalStore(root)),
        /a path with a control character/
      )
      expect(error.message).not.toContain('\n')
    })

    it('refuses a tableDescriptionFile that is not a plain file name', async () => {
      const root = tempRoot()
      writeExport(root, {
        summary: (s) => ({
          ...s,
          dynamodbTableMover: {
            contentDigest: { count: 30, digest: `sha256-sum:${'0'.repeat(64)}` },
            tableDescriptionFile: '../../../etc/passwd'
          }
        })
      })
      await expectRefused(
        findExports(new LocalStore(root)),
        /tableDescriptionFile that is not a plain file name/
      )
    })
  })

  describe('manifests', () => {
    it.each([
      ['no itemCount', { itemCount: undefined }, /has no itemCount/],
      ['a negative itemCount', { itemCount: -1 }, /has no itemCount/],
      ['a fractional itemCount', { itemCount: 1.5 }, /has no itemCount/],
      ['itemCount as text', { itemCount: '30' }, /has no itemCount/],
      ['itemCount past 2^53', { itemCount: 2 ** 53 }, /has no itemCount/],
      ['no manifestFilesS3Key', { manifestFilesS3Key: undefined }, /has no manifestFilesS3Key/],
      ['no outputFormat', { outputFormat: undefined }, /has no outputFormat 'DYNAMODB_JSON'/],
      ['another outputFormat', { outputFormat: 'CSV' }, /has no outputFormat 'DYNAMODB_JSON'/]
    ])('refuses a manifest-summary.json with %s', async (_, change, why) => {
      const root = tempRoot()
      writeExport(root, { summary: (s) => ({ ...s, ...change, secret: SENTINEL }) })
      await expectRefused(findExports(new LocalStore(root)), why)
    })

    it('refuses an export in Amazon Ion format as not supported', async () => {
      const root = tempRoot()
      writeExport(root, { summary: (s) => ({ ...s, outputFormat: 'ION' }) })
      await expectRefused(
        findExports(new LocalStore(root)),
        /Amazon Ion format .* not supported/,
        'backup.unsupportedFormat'
      )
    })

    it('refuses an incremental export', async () => {
      const root = tempRoot()
      writeExport(root, { summary: (s) => ({ ...s, exportType: 'INCREMENTAL_EXPORT' }) })
      await expectRefused(
        findExports(new LocalStore(root)),
        /not a full export/,
        'backup.unsupportedFormat'
      )
    })

    it.each([
      ['no itemCount', { itemCount: undefined }, /has no itemCount/],
      ['a negative itemCount', { itemCount: -3 }, /has no itemCount/],
      ['no md5Checksum', { md5Checksum: undefined }, /has no md5Checksum/],
      ['a malformed md5Checksum', { md5Checksum: SENTINEL }, /has no md5Checksum/],
      ['no dataFileS3Key', { dataFileS3Key: undefined }, /has no dataFileS3Key/],
      ['a numeric dataFileS3Key', { dataFileS3Key: 7 }, /has no dataFileS3Key/],
      ['a malformed sha256', { sha256: SENTINEL }, /sha256 that is not a SHA-256/],
      ['a negative size', { size: -1 }, /size that is not a whole number/]
    ])('refuses a manifest-files.json line with %s', async (_, change, why) => {
      const root = tempRoot()
      writeExport(root, { entries: (entries) => entries.map((e) => ({ ...e, ...change })) })
      await expectRefused(findExports(new LocalStore(root)), why)
    })

    it('refuses manifests that are not JSON without quoting them', async () => {
      const root = tempRoot()
      writeExport(root, { summaryText: `{"itemCount": 1, "x": "${SENTINEL}` })
      await expectRefused(
        findExports(new LocalStore(root)),
        /manifest-summary\.json is not valid JSON/
      )
      const root2 = tempRoot()
      writeExport(root2, { manifestFilesText: `{"itemCount":1,"md5Checksum":"${SENTINEL}\n` })
      await expectRefused(
        findExports(new LocalStore(root2)),
        /manifest-files\.json line 1 is not valid JSON/
      )
      const root3 = tempRoot()
      writeExport(root3, { manifestFilesText: `[1,"${SENTINEL}"]\n` })
      await expectRefused(findExports(new LocalStore(root3)), /line 1 is not a JSON object/)
    })

    it('refuses a manifest-summary.json over 1 MiB before reading it all', async () => {
      const root = tempRoot()
      writeExport(root, {
        summary: (s) => ({ ...s, padding: `${SENTINEL}${'x'.repeat(2 * 1024 * 1024)}` })
      })
      await expectRefused(
        findExports(new LocalStore(root)),
        /manifest-summary\.json' is larger than 1 MiB/
      )
    })

    it('refuses a manifest-files.json line over its cap', async () => {
      const root = tempRoot()
      writeExport(root, {
        entries: (entries) =>
          entries.map((e) => ({ ...e, etag: SENTINEL.repeat(MAX_MANIFEST_LINE_BYTES / 10) }))
      })
      await expectRefused(
        findExports(new LocalStore(root)),
        /manifest-files\.json cannot be read \(line 1 is longer than 64 KiB\)/
      )
    })

    it('refuses a data file listed twice, however it is spelled', async () => {
      for (const second of [
        (key: string) => key,
        (key: string) => key.replace('backups/t/', 'elsewhere/'),
        (key: string) => key.replace('part-0', 'PART-0')
      ]) {
        const root = tempRoot()
        writeExport(root, {
          entries: (entries) => [
            ...entries,
            { ...entries[0], dataFileS3Key: second(String(entries[0]!.dataFileS3Key)) }
          ],
          summary: (s) => ({ ...s, itemCount: 60 })
        })
        await expectRefused(
          findExports(new LocalStore(root)),
          /line 2 names data file '.*' a second time/
        )
      }
    })

    it('refuses manifests whose counts disagree', async () => {
      const root = tempRoot()
      writeExport(root, { summary: (s) => ({ ...s, itemCount: 31 }) })
      await expectRefused(
        findExports(new LocalStore(root)),
        /manifest-files\.json lists 30 items, its manifest-summary\.json says 31/
      )
    })

    it('refuses a data file whose bytes do not match its MD5', async () => {
      const root = tempRoot()
      writeExport(root, {
        entries: (entries) =>
          entries.map((e) => ({
            ...e,
            sha256: undefined,
            size: undefined,
            md5Checksum: md5(Buffer.from('other'))
          }))
      })
      await expectRefused(readAll(await theExport(root)), /does not match the MD5 in its manifest/)
    })

    it('stops at the first item a data file holds beyond its manifest count', async () => {
      const root = tempRoot()
      const body = gzipSync(wireItems(30).map(lineOf).join(''))
      writeExport(root, {
        files: [{ name: 'p.json.gz', body, itemCount: 10 }]
      })
      let passed = 0
      await expectRefused(
        (await theExport(root)).read(async (items) => {
          passed += items.length
        }),
        /holds more than the 10 items its manifest says/
      )
      expect(passed).toBe(0)
    })
  })

  describe('data file lines', () => {
    it('refuses a small gzip file inflating to one endless line, at the line cap', async () => {
      const bomb = await gzipBomb(200)
      expect(bomb.length).toBeLessThan(1024 * 1024)
      const root = tempRoot()
      writeExport(root, { files: [{ name: 'bomb.json.gz', body: bomb, itemCount: 1 }] })
      const before = process.memoryUsage().rss
      await expectRefused(
        readAll(await theExport(root)),
        /data file .*bomb\.json\.gz line 1 is longer than 8 MiB, longer than any item DynamoDB stores/
      )
      // Bounded memory: nowhere near the 200 MiB the line would take.
      expect(process.memoryUsage().rss - before).toBeLessThan(150 * 1024 * 1024)
    })

    it('accepts a line just under the cap and refuses one just over it', async () => {
      const fill = (length: number): string => {
        const head = '{"Item":{"pk":{"S":"a"},"v":{"S":"'
        const tail = '"}}}'
        return `${head}${'b'.repeat(length - head.length - tail.length)}${tail}`
      }
      const ok = tempRoot()
      const line = fill(MAX_ITEM_LINE_BYTES)
      writeExport(ok, { files: [{ name: 'p.json', body: Buffer.from(`${line}\n`), itemCount: 1 }] })
      // The line is within the cap, the item (8 MiB) over DynamoDB's limit.
      await expectRefused(
        readAll(await theExport(ok)),
        /line 1: the item is .* over DynamoDB's item size limit/
      )
      const over = tempRoot()
      writeExport(over, {
        files: [{ name: 'p.json', body: Buffer.from(fill(MAX_ITEM_LINE_BYTES + 1)), itemCount: 1 }]
      })
      await expectRefused(readAll(await theExport(over)), /line 1 is longer than 8 MiB/)
    })

    it('refuses a line that repeats an attribute name, at the top or nested', async () => {
      for (const line of [
        `{"Item":{"pk":{"S":"a"},"v":{"S":"${SENTINEL}"},"v":{"S":"b"}}}`,
        `{"Item":{"pk":{"S":"a"},"m":{"M":{"x":{"S":"${SENTINEL}"},"x":{"N":"1"}}}}}`,
        `{"Item":{"pk":{"S":"a"},"v":{"S":"${SENTINEL}","S":"b"}}}`,
        `{"Item":{"pk":{"S":"a"}},"Item":{"pk":{"S":"${SENTINEL}"}}}`
      ]) {
        const root = tempRoot()
        writeExport(root, {
          files: [{ name: 'p.json', body: Buffer.from(`${line}\n`), itemCount: 1 }]
        })
        await expectRefused(
          readAll(await theExport(root)),
          /line 1 repeats a name inside one JSON object/
        )
      }
    })

    it('refuses an item nested deeper than DynamoDB allows, without overflowing the stack', async () => {
      const depth = 200_000
      const line = `{"Item":{"pk":{"S":"a"},"v":${'{"M":{"a":'.repeat(depth)}{"S":"${SENTINEL}"}${'}}'.repeat(depth)}}}`
      const root = tempRoot()
      writeExport(root, { files: [{ name: 'p.json', body: Buffer.from(line), itemCount: 1 }] })
      await expectRefused(
        readAll(await theExport(root)),
        /line 1: attribute v(\.a)+ nests lists and maps more than 32 levels/
      )
      const scan = `{"Items":[{"pk":{"S":"a"},"v":${'{"L":['.repeat(depth)}{"S":"${SENTINEL}"}${']}'.repeat(depth)}}]}`
      await expectRefused(
        readAll(scanJsonSource('scan.json', async () => Readable.from([Buffer.from(scan)]))),
        /Items\[0\] \(line 1\): attribute v(\[0\])+ nests lists and maps more than 32 levels/
      )
    })

    it('keeps attributes named __proto__, at the top level and nested', async () => {
      const line = `{"Item":{"pk":{"S":"a"},"__proto__":{"S":"${SENTINEL}"},"m":{"M":{"__proto__":{"N":"1"},"constructor":{"L":[{"M":{"__proto__":{"BOOL":true}}}]}}}}}`
      const root = tempRoot()
      writeExport(root, {
        files: [{ name: 'p.json.gz', body: gzipSync(`${line}\n`), itemCount: 1 }]
      })
      const [item] = await readAll(await theExport(root))
      expect(Object.hasOwn(item!, '__proto__')).toBe(true)
      expect(Object.getPrototypeOf(item)).toBe(Object.prototype)
      expect(Object.keys(item!)).toEqual(['pk', '__proto__', 'm'])
      expect(lineOf(item).trim()).toBe(line)
    })

    it('refuses lines that are not UTF-8, not JSON or not an item line, naming only the line', async () => {
      const cases: [Buffer, RegExp][] = [
        [
          Buffer.concat([
            Buffer.from(`{"Item":{"pk":{"S":"${SENTINEL}`),
            Buffer.from([0xff, 0xfe]),
            Buffer.from('"}}}')
          ]),
          /line 1 is not UTF-8 text/
        ],
        [Buffer.from(`{"Item":{"pk":{"S":"${SENTINEL}"}}`), /line 1 is not valid JSON/],
        [
          Buffer.from(`{"Item":{"pk":{"S":"a"}},"Other":"${SENTINEL}"}`),
          /line 1 is not a DynamoDB JSON item/
        ],
        [Buffer.from(`{"pk":{"S":"${SENTINEL}"}}`), /line 1 is not a DynamoDB JSON item/],
        [Buffer.from(`\ufeff{"Item":{"pk":{"S":"${SENTINEL}"}}}`), /line 1 is not valid JSON/]
      ]
      for (const [body, why] of cases) {
        const root = tempRoot()
        writeExport(root, { files: [{ name: 'p.json', body, itemCount: 1 }] })
        await expectRefused(readAll(await theExport(root)), why)
      }
    })

    it('describes gzip damage in its own words', async () => {
      const good = gzipSync(wireItems(200).map(lineOf).join(''))
      const cases: [Buffer, RegExp][] = [
        [Buffer.from(`${SENTINEL} not gzip`), /cannot be read \(it is not valid gzip data\)/],
        [good.subarray(0, good.length - 100), /cannot be read \(its gzip data ends early/]
      ]
      for (const [body, why] of cases) {
        const root = tempRoot()
        writeExport(root, { files: [{ name: 'p.json.gz', body, itemCount: 200 }] })
        await expectRefused(readAll(await theExport(root)), why)
      }
    })

    it('never quotes a damaged line and never hangs (truncations and byte flips)', async () => {
      const items = wireItems(4)
      const text = Buffer.from(items.map(lineOf).join(''))
      const root = tempRoot()
      const dir = writeExport(root, { files: [{ name: 'p.json', body: text, itemCount: 4 }] })
      const file = path.join(dir, 'data', 'p.json')
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: text.length }),
          fc.array(
            fc.record({ at: fc.nat({ max: text.length - 1 }), byte: fc.nat({ max: 255 }) }),
            {
              maxLength: 4
            }
          ),
          fc.boolean(),
          async (cut, flips, gzip) => {
            const damaged = Buffer.from(text.subarray(0, Math.max(cut, 1)))
            for (const { at, byte } of flips) if (at < damaged.length) damaged[at] = byte
            // The manifest matches the damaged bytes, so the lines themselves are read.
            const body = gzip ? gzipSync(damaged) : damaged
            writeFileSync(file, body)
            const entry = JSON.parse(readFileSync(path.join(dir, 'manifest-files.json'), 'utf8'))
            writeFileSync(
              path.join(dir, 'manifest-files.json'),
              JSON.stringify({
                ...entry,
                md5Checksum: md5(body),
                sha256: sha256(body),
                size: body.length
              })
            )
            try {
              await readAll(await theExport(root))
            } catch (error) {
              expect((error as Error).message).not.toContain('SENTINEL')
            }
          }
        ),
        { numRuns: 300 }
      )
    })

    it('reads the data files again on every read, and says when one is gone', async () => {
      const root = tempRoot()
      const dir = writeExport(root)
      const backup = await theExport(root)
      expect(await readAll(backup)).toHaveLength(30)
      const file = path.join(dir, 'data', 'part-0.json.gz')
      renameSync(file, `${file}.gone`)
      await expectRefused(readAll(backup), /cannot be read \(it does not exist\)/)
    })
  })

  describe('scan files', () => {
    const scanText = (
      items: unknown[],
      extra: Record<string, unknown> = {},
      indent?: number
    ): string =>
      JSON.stringify(
        { Items: items, Count: items.length, ScannedCount: items.length, ...extra },
        null,
        indent
      )

    function scanFile(text: string | Buffer): string {
      const file = path.join(tempRoot(), 'orders scan.json')
      writeFileSync(file, text)
      return file
    }

    /** A scan source over `text`, served in chunks of `size` bytes. */
    function chunkedScan(text: string, size: number, warnings: string[] = []): BackupSource {
      const bytes = Buffer.from(text)
      return scanJsonSource(
        'scan.json',
        async () =>
          Readable.from(
            (function* () {
              for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size)
            })()
          ),
        (message) => warnings.push(message)
      )
    }

    it('reads a pretty-printed scan file, keeping __proto__ attributes', async () => {
      const items = [
        ...wireItems(3),
        JSON.parse(
          `{"pk":{"S":"p"},"__proto__":{"S":"${SENTINEL}"},"m":{"M":{"__proto__":{"L":[{"N":"1"},{"BOOL":false},{"NULL":true}]}}}}`
        )
      ]
      const file = scanFile(scanText(items, { ConsumedCapacity: null }, 4))
      const source = await openBackupSource(file, noS3)
      expect(source.kind).toBe('scan-json')
      const read = await readAll(source)
      expect(JSON.stringify(read)).toBe(JSON.stringify(items))
      const last = read[3]!
      expect(Object.hasOwn(last, '__proto__')).toBe(true)
      expect(Object.hasOwn((last.m as { M: object }).M, '__proto__')).toBe(true)
    })

    it('reads the same items however the file is cut into chunks', async () => {
      const items = [
        ...wireItems(5),
        { pk: { S: 'é😀\\"\n' }, l: { L: [{ N: '-1.5e3' }, { SS: ['a b', ' '] }] } }
      ]
      for (const indent of [undefined, 2]) {
        const text = scanText(items, {}, indent)
        for (const size of [1, 2, 3, 7, 64, 100000]) {
          expect(await readAll(chunkedScan(text, size))).toEqual(items)
        }
      }
    })

    it('refuses an element that repeats an attribute name', async () => {
      const text = `{"Items":[{"pk":{"S":"a"}},{"pk":{"S":"b"},"v":{"S":"${SENTINEL}"},"v":{"N":"1"}}],"Count":2}`
      await expectRefused(
        readAll(await openBackupSource(scanFile(text), noS3)),
        /Items\[1\] \(line 1\) repeats a name inside one JSON object/
      )
    })

    it('refuses an element that is not an item, naming its index and line', async () => {
      const text = `{\n"Items": [\n{"pk": {"S": "a"}},\n{"pk": {"X": "${SENTINEL}"}}\n]}`
      await expectRefused(readAll(chunkedScan(text, 5)), /Items\[1\] \(line 4\): attribute pk /)
    })

    it.each([
      ['a top-level array', `[{"pk":{"S":"${SENTINEL}"}}]`, /top level is not a JSON object/],
      ['no Items', `{"Other":[{"pk":{"S":"${SENTINEL}"}}]}`, /has no 'Items' array/],
      [
        'two Items arrays',
        `{"Items":[{"pk":{"S":"a"}}],"Items":[{"pk":{"S":"${SENTINEL}"}}]}`,
        /more than one 'Items' array/
      ],
      ['Items not an array', `{"Items":{"pk":{"S":"${SENTINEL}"}}}`, /'Items' is not an array/],
      ['Count not a number', `{"Items":[],"Count":"${SENTINEL}"}`, /'Count' is not a number/],
      ['Count twice', `{"Items":[],"Count":0,"Count":0}`, /'Count' more than once/],
      [
        'text after the object',
        `{"Items":[]} {"x":"${SENTINEL}"}`,
        /more after its top-level object/
      ],
      [
        'a cut-short file',
        `{"Items":[{"pk":{"S":"${SENTINEL}"}}`,
        /ends before its top-level object does/
      ],
      ['an empty file', '  \n', /it is empty/],
      [
        'a missing element',
        `{"Items":[{"pk":{"S":"${SENTINEL}"}},,]}`,
        /an element of 'Items' is missing/
      ],
      [
        'a bad member value',
        `{"Items":[],"X":[1 2],"Y":"${SENTINEL}"}`,
        /top-level member's value is not valid JSON/
      ],
      [
        'a bare word',
        `{"Items":[],"X":tru,"Y":"${SENTINEL}"}`,
        /top-level member's value is not valid JSON/
      ],
      [
        'bad bytes',
        Buffer.concat([
          Buffer.from(`{"Items":[{"pk":{"S":"${SENTINEL}`),
          Buffer.from([0xc3, 0x28]),
          Buffer.from('"}}]}')
        ]),
        /not UTF-8 text/
      ]
    ])('refuses a scan file with %s', async (_, text, why) => {
      await expectRefused(readAll(await openBackupSource(scanFile(text), noS3)), why)
    })

    it('refuses a scan cut short by --max-items or --no-paginate', async () => {
      for (const extra of [{ NextToken: 'abc' }, { LastEvaluatedKey: { pk: { S: SENTINEL } } }]) {
        await expectRefused(
          readAll(await openBackupSource(scanFile(scanText(wireItems(2), extra)), noS3)),
          /holds only part of a scan/
        )
      }
    })

    it("refuses a file whose Count is not its items' number", async () => {
      await expectRefused(
        readAll(await openBackupSource(scanFile(scanText(wireItems(2), { Count: 3 })), noS3)),
        /holds 2 items, but its Count says 3/
      )
    })

    it('warns once that a filtered scan restores only what it holds', async () => {
      const warnings: string[] = []
      const source = chunkedScan(scanText(wireItems(2), { ScannedCount: 10 }), 50, warnings)
      expect(await readAll(source)).toHaveLength(2)
      expect(await readAll(source)).toHaveLength(2)
      expect(warnings).toEqual([expect.stringMatching(/holds 2 of the 10 items its scan read/)])
    })

    it('refuses an element over the cap, pretty-printing aside', async () => {
      const big = { pk: { S: 'a' }, v: { S: 'b'.repeat(MAX_ITEM_LINE_BYTES) } }
      await expectRefused(
        readAll(chunkedScan(scanText([big]), 65536)),
        /Items\[0\] is longer than 8 MiB of JSON/
      )
      // Deep indentation does not count: it is dropped as the element is read.
      let deep: unknown = { S: SENTINEL }
      for (let i = 0; i < 30; i++) deep = { M: { a: deep } }
      const items = [{ pk: { S: 'a' }, deep }]
      expect(await readAll(chunkedScan(scanText(items, {}, 1000), 65536))).toEqual(items)
    })

    it('never quotes a damaged scan file and never hangs (truncations and byte flips)', async () => {
      const items = [
        ...wireItems(3),
        JSON.parse(`{"pk":{"S":"q"},"__proto__":{"SS":["${SENTINEL}"]}}`)
      ]
      const text = Buffer.from(scanText(items, {}, 2))
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: text.length }),
          fc.array(
            fc.record({ at: fc.nat({ max: text.length - 1 }), byte: fc.nat({ max: 255 }) }),
            {
              maxLength: 4
            }
          ),
          fc.integer({ min: 1, max: 300 }),
          async (cut, flips, chunk) => {
            const damaged = Buffer.from(text.subarray(0, cut))
            for (const { at, byte } of flips) if (at < damaged.length) damaged[at] = byte
            try {
              await readAll(chunkedScan(damaged.toString('latin1'), chunk))
            } catch (error) {
              expect((error as Error).message).not.toContain('SENTINEL')
            }
            const source = scanJsonSource(
              'scan.json',
              async () => Readable.from([damaged]),
              () => undefined
            )
            try {
              await readAll(source)
            } catch (error) {
              expect((error as Error).message).not.toContain('SENTINEL')
            }
          }
        ),
        { numRuns: 300 }
      )
    })
  })
})
