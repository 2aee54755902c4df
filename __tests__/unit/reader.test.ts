import { describe, expect, it } from '@jest/globals'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { findExports, splitExportPath } from '../../src/backup/reader.js'
import { itemLine } from '../../src/backup/format.js'
import { LocalStore } from '../../src/backup/store.js'
import type { Item } from '../../src/types.js'

/** A DynamoDB-export-shaped folder with one gzip data file of `count` items. */
function exportFolder(count: number): string {
  const root = mkdtempSync(path.join(tmpdir(), 'reader-'))
  const dir = path.join(root, 'AWSDynamoDB', '01700000000000-abcd1234')
  mkdirSync(path.join(dir, 'data'), { recursive: true })
  const items: Item[] = Array.from({ length: count }, (_, i) => ({
    pk: { S: `k${i}` },
    n: { N: String(i) },
    pad: { S: 'x'.repeat(200) }
  }))
  writeFileSync(path.join(dir, 'data', 'part.json.gz'), gzipSync(items.map(itemLine).join('')))
  writeFileSync(
    path.join(dir, 'manifest-files.json'),
    `${JSON.stringify({ itemCount: count, dataFileS3Key: 'AWSDynamoDB/01700000000000-abcd1234/data/part.json.gz' })}\n`
  )
  writeFileSync(path.join(dir, 'manifest-summary.json'), JSON.stringify({ itemCount: count }))
  return root
}

/** Serves the real files, except that data files break off after `bytes` bytes. */
class BreakingStore extends LocalStore {
  constructor(
    root: string,
    private readonly bytes: number
  ) {
    super(root)
  }

  override async open(relative: string): Promise<Readable> {
    const real = await super.open(relative)
    if (!relative.includes('/data/')) return real
    let sent = 0
    const limit = this.bytes
    return Readable.from(
      (async function* () {
        for await (const chunk of real as AsyncIterable<Buffer>) {
          const room = limit - sent
          if (chunk.length >= room) {
            yield chunk.subarray(0, room)
            throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
          }
          sent += chunk.length
          yield chunk
        }
      })()
    )
  }
}

describe('reader.ts', () => {
  it('reads every item of an export and checks the count in its manifest', async () => {
    const [backup] = await findExports(new LocalStore(exportFolder(1200)))
    const pages: number[] = []
    const total = await backup!.read(async (items) => {
      pages.push(items.length)
    })
    expect(total).toBe(1200)
    expect(pages.reduce((a, b) => a + b, 0)).toBe(1200)
    expect(Math.max(...pages)).toBeLessThanOrEqual(500)
  })

  it('fails, rather than hanging or crashing, when a data file breaks off mid-read', async () => {
    const [backup] = await findExports(new BreakingStore(exportFolder(2000), 300))
    await expect(backup!.read(async () => undefined)).rejects.toMatchObject({
      code: 'backup.corrupt',
      message: expect.stringMatching(/cannot be read \(socket hang up\)/)
    })
  })

  it('reports a bad line as itself, not as the pipeline torn down after it', async () => {
    const root = exportFolder(10)
    const data = path.join(root, 'AWSDynamoDB', '01700000000000-abcd1234', 'data', 'part.json.gz')
    writeFileSync(data, gzipSync(`${itemLine({ pk: { S: 'a' } })}{"Item":{"pk":{"X":1}}}\n`))
    const [backup] = await findExports(new LocalStore(root))
    await expect(backup!.read(async () => undefined)).rejects.toMatchObject({
      code: 'backup.corrupt',
      message: expect.stringMatching(/line 2 is not a DynamoDB JSON item/)
    })
  })

  it('passes a failure of the consumer of pages through unchanged', async () => {
    const [backup] = await findExports(new LocalStore(exportFolder(1200)))
    const failure = new Error('the target rejected a write')
    await expect(
      backup!.read(async () => {
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
})
