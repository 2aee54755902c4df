import { beforeEach, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { mockClient } from 'aws-sdk-client-mock'
import { LocalStore, S3Store, StoreRefusal, checkRelativePath } from '../../../src/backup/store.js'

const tempRoot = (): string => mkdtempSync(path.join(tmpdir(), 'store-'))

async function text(stream: Readable): Promise<string> {
  let out = ''
  for await (const chunk of stream as AsyncIterable<Buffer>) out += chunk.toString()
  return out
}

/** A backup folder: root/run/AWSDynamoDB/x/{data/a.json, m.json}, and a secret outside it. */
function folder(): { root: string; outside: string } {
  const outside = tempRoot()
  writeFileSync(path.join(outside, 'secret.json'), 'secret')
  mkdirSync(path.join(outside, 'dir'))
  writeFileSync(path.join(outside, 'dir', 'inner.json'), 'inner')
  const root = tempRoot()
  mkdirSync(path.join(root, 'run', 'AWSDynamoDB', 'x', 'data'), { recursive: true })
  writeFileSync(path.join(root, 'run', 'AWSDynamoDB', 'x', 'data', 'a.json'), 'a')
  writeFileSync(path.join(root, 'run', 'AWSDynamoDB', 'x', 'm.json'), 'm')
  return { root, outside }
}

describe('store.ts', () => {
  describe('checkRelativePath', () => {
    it.each([
      ['', /is empty/],
      ['/etc/passwd', /is absolute/],
      ['a/../b', /'\.\.' part/],
      ['a/./b', /'\.\.' part/],
      ['a//b', /empty, '\.' or '\.\.' part/],
      ['a/', /empty/],
      ['a\\..\\b', /backslash/],
      ['a\u0000b', /control character/],
      ['a\nb', /control character/]
    ])('refuses %j', (relative, why) => {
      expect(() => checkRelativePath(relative)).toThrow(StoreRefusal)
      expect(() => checkRelativePath(relative)).toThrow(why)
    })

    it('accepts plain relative paths, spaces and percent signs included', () => {
      for (const ok of ['a', 'a/b.json', 'orders scan/x%2e.json', '..a/b..'])
        expect(() => checkRelativePath(ok)).not.toThrow()
    })

    it('escapes what it quotes', () => {
      expect(() => checkRelativePath('a/\n::error::x/..')).toThrow("'a/\\u000a::error::x/..'")
    })
  })

  describe('LocalStore', () => {
    it('lists regular files and follows no symbolic link, in or out', async () => {
      const { root, outside } = folder()
      symlinkSync(path.join(outside, 'dir'), path.join(root, 'run', 'out-dir'))
      symlinkSync(path.join(outside, 'secret.json'), path.join(root, 'run', 'out.json'))
      symlinkSync(path.join(root, 'run', 'AWSDynamoDB'), path.join(root, 'again'))
      symlinkSync(path.join(root, 'run', 'AWSDynamoDB', 'x', 'm.json'), path.join(root, 'in.json'))
      expect((await new LocalStore(root).list()).sort()).toEqual([
        'run/AWSDynamoDB/x/data/a.json',
        'run/AWSDynamoDB/x/m.json'
      ])
    })

    it('opens and reads files inside the folder they must be in', async () => {
      const { root } = folder()
      const store = new LocalStore(root)
      expect(
        await text(await store.open('run/AWSDynamoDB/x/data/a.json', 'run/AWSDynamoDB/x'))
      ).toBe('a')
      expect(await store.readText('run/AWSDynamoDB/x/m.json', 10, 'run')).toBe('m')
      expect(await store.readText('run/AWSDynamoDB/x/m.json', 10)).toBe('m')
    })

    it('follows a link that stays inside the folder', async () => {
      const { root } = folder()
      symlinkSync('../m.json', path.join(root, 'run', 'AWSDynamoDB', 'x', 'data', 'b.json'))
      const store = new LocalStore(root)
      expect(await store.readText('run/AWSDynamoDB/x/data/b.json', 10, 'run/AWSDynamoDB/x')).toBe(
        'm'
      )
    })

    it('refuses a file outside the folder named, lexically or through a link', async () => {
      const { root, outside } = folder()
      const store = new LocalStore(root)
      await expect(store.open('run/m.json', 'run/AWSDynamoDB/x')).rejects.toThrow(/is outside/)
      symlinkSync(
        path.join(outside, 'secret.json'),
        path.join(root, 'run', 'AWSDynamoDB', 'x', 'data', 's.json')
      )
      await expect(
        store.open('run/AWSDynamoDB/x/data/s.json', 'run/AWSDynamoDB/x')
      ).rejects.toThrow(/symbolic link .* to a file outside/)
      // Out of the root too, with no folder named.
      await expect(store.open('run/AWSDynamoDB/x/data/s.json')).rejects.toThrow(StoreRefusal)
      // Into a sibling folder inside the root: still outside the folder named.
      mkdirSync(path.join(root, 'run', 'AWSDynamoDB', 'y'))
      writeFileSync(path.join(root, 'run', 'AWSDynamoDB', 'y', 'z.json'), 'z')
      symlinkSync('../../y/z.json', path.join(root, 'run', 'AWSDynamoDB', 'x', 'data', 'z.json'))
      await expect(
        store.open('run/AWSDynamoDB/x/data/z.json', 'run/AWSDynamoDB/x')
      ).rejects.toThrow(StoreRefusal)
    })

    it('refuses a folder reached through a symbolic link', async () => {
      const { root } = folder()
      symlinkSync(
        path.join(root, 'run', 'AWSDynamoDB', 'x'),
        path.join(root, 'run', 'AWSDynamoDB', 'l')
      )
      await expect(
        new LocalStore(root).open('run/AWSDynamoDB/l/m.json', 'run/AWSDynamoDB/l')
      ).rejects.toThrow(/reached through a symbolic link/)
    })

    it('refuses what is not a regular file, without blocking on a FIFO', async () => {
      const { root } = folder()
      const store = new LocalStore(root)
      await expect(store.open('run/AWSDynamoDB/x/data', 'run')).rejects.toThrow(
        /not a regular file/
      )
      execFileSync('mkfifo', [path.join(root, 'run', 'fifo.json')])
      await expect(store.open('run/fifo.json', 'run')).rejects.toThrow(/not a regular file/)
    })

    it('refuses a file over the size given to readText', async () => {
      const { root } = folder()
      writeFileSync(path.join(root, 'big.json'), 'x'.repeat(100))
      await expect(new LocalStore(root).readText('big.json', 99)).rejects.toThrow(
        "'big.json' is larger than 99 bytes"
      )
      expect(await new LocalStore(root).readText('big.json', 100)).toHaveLength(100)
    })

    it('refuses text that is not UTF-8 with a code, not the bytes', async () => {
      const { root } = folder()
      writeFileSync(path.join(root, 'bad.json'), Buffer.from([0x7b, 0xff, 0x7d]))
      await expect(new LocalStore(root).readText('bad.json', 100)).rejects.toMatchObject({
        code: 'ERR_ENCODING_INVALID_ENCODED_DATA'
      })
    })
  })

  describe('S3Store', () => {
    const s3 = mockClient(S3Client)
    beforeEach(() => {
      s3.reset()
    })

    it('refuses a bad path before asking S3 for anything', async () => {
      const store = new S3Store(new S3Client({}), 'b', 'p')
      await expect(store.open('a/../../other/x', 'a')).rejects.toThrow(StoreRefusal)
      await expect(store.readText('b/x.json', 10, 'a')).rejects.toThrow(/is outside 'a\/'/)
      expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0)
    })

    it('reads small files under the prefix and refuses large ones', async () => {
      s3.on(GetObjectCommand, { Key: 'p/a/small.json' }).resolves({
        Body: Readable.from([Buffer.from('{}')]) as never,
        ContentLength: 2
      })
      s3.on(GetObjectCommand, { Key: 'p/a/said-large.json' }).resolves({
        Body: Readable.from([Buffer.from('{}')]) as never,
        ContentLength: 5000
      })
      s3.on(GetObjectCommand, { Key: 'p/a/is-large.json' }).resolves({
        Body: Readable.from([Buffer.alloc(600), Buffer.alloc(600)]) as never
      })
      const store = new S3Store(new S3Client({}), 'b', 'p')
      expect(await store.readText('a/small.json', 1000, 'a')).toBe('{}')
      await expect(store.readText('a/said-large.json', 1000, 'a')).rejects.toThrow(
        /larger than 1,000 bytes/
      )
      await expect(store.readText('a/is-large.json', 1000, 'a')).rejects.toThrow(
        /larger than 1,000 bytes/
      )
    })

    it('pins a file to its ETag: S3 itself refuses another version, and no ETag is refused', async () => {
      s3.on(GetObjectCommand, { Key: 'p/a/d.json' }).resolves({
        Body: Readable.from([Buffer.from('x')]) as never,
        ETag: '"v1"'
      })
      s3.on(GetObjectCommand, { Key: 'p/a/d.json', IfMatch: '"v1"' }).rejects(
        Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
          name: 'PreconditionFailed',
          $metadata: { httpStatusCode: 412 }
        })
      )
      s3.on(GetObjectCommand, { Key: 'p/a/none.json' }).resolves({
        Body: Readable.from([Buffer.from('x')]) as never
      })
      const store = new S3Store(new S3Client({}), 'b', 'p')
      const pins = new Map<string, string>()
      await store.openPinned('a/d.json', 'a', pins)
      expect(pins.get('a/d.json')).toBe('"v1"')
      await expect(store.openPinned('a/d.json', 'a', pins)).rejects.toThrow(
        /changed after it was checked/
      )
      await expect(store.openPinned('a/none.json', 'a', new Map())).rejects.toThrow(/no ETag/)
    })
  })
})
