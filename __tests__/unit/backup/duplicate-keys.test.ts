import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import {
  DuplicateKeyFinder,
  inMemoryCheckBytes,
  MAX_DESCRIBED_BYTES,
  type DuplicateKeyFinderOptions,
  type DuplicateKeyReport
} from '../../../src/backup/duplicate-keys.js'
import { ActionError } from '../../../src/errors.js'

let root: string

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'duplicate-keys-test-'))
})

afterEach(() => {
  rmSync(root, { recursive: true, force: true })
})

/** Adds every key (described as `k=<key>`), finishes and closes; returns the report. */
async function findDuplicates(
  keys: Iterable<string>,
  options: Partial<DuplicateKeyFinderOptions> = {}
): Promise<DuplicateKeyReport> {
  const finder = new DuplicateKeyFinder({ dir: path.join(root, 'scratch'), ...options })
  try {
    for (const key of keys) await finder.add(key, `k=${key}`)
    return await finder.finish()
  } finally {
    await finder.close()
  }
}

/** What the finder should report, computed with a Set: extra occurrences and first repeats. */
function naiveReport(keys: string[]): DuplicateKeyReport {
  const counts = new Map<string, number>()
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1)
  const examples = [...counts]
    .filter(([, count]) => count > 1)
    .slice(0, 5)
    .map(([key]) => `k=${key}`)
  return { keys: keys.length, duplicates: keys.length - new Set(keys).size, examples }
}

function* distinctKeys(count: number): Generator<string> {
  for (let index = 0; index < count; index++) yield `pk="user#${index}", sk=${index % 97}`
}

describe('duplicate-keys.ts', () => {
  it('finds no duplicates among 200,000 distinct keys', async () => {
    const report = await findDuplicates(distinctKeys(200_000))

    expect(report).toEqual({ keys: 200_000, duplicates: 0, examples: [] })
  })

  it('names a key that repeats across far-apart positions', async () => {
    const keys = [...distinctKeys(100_000)]
    keys.push(keys[3] ?? '', keys[50_000] ?? '')

    const report = await findDuplicates(keys)

    expect(report).toEqual({
      keys: 100_002,
      duplicates: 2,
      examples: ['k=pk="user#3", sk=3', 'k=pk="user#50000", sk=45']
    })
  })

  it('counts a key seen three times as two duplicates and names it once', async () => {
    const report = await findDuplicates(['a', 'b', 'a', 'c', 'a'])

    expect(report).toEqual({ keys: 5, duplicates: 2, examples: ['k=a'] })
  })

  it('names the first five repeating keys in order of first occurrence', async () => {
    const keys = ['g', 'f', 'e', 'd', 'c', 'b', 'a', 'a', 'b', 'c', 'd', 'e', 'f', 'g']

    const report = await findDuplicates(keys, { buckets: 3 })

    expect(report.duplicates).toBe(7)
    expect(report.examples).toEqual(['k=g', 'k=f', 'k=e', 'k=d', 'k=c'])
  })

  it('names a repeat with the description of its first occurrence', async () => {
    // The caller canonicalises `1` and `1.0` to one text; the descriptions may still differ.
    const finder = new DuplicateKeyFinder({ dir: path.join(root, 'scratch') })
    try {
      await finder.add('pk:N:1e0', 'pk=1')
      await finder.add('pk:N:2e0', 'pk=2')
      await finder.add('pk:N:1e0', 'pk=1.0')

      expect(await finder.finish()).toEqual({ keys: 3, duplicates: 1, examples: ['pk=1'] })
    } finally {
      await finder.close()
    }
  })

  it('splits buckets under a tiny memory budget and still finds every duplicate', async () => {
    // 2 buckets of ~3,000 records: each is split 16 ways, and each part (~190 records) again,
    // before the parts (~12 records) fit in 1 KiB.
    expect(inMemoryCheckBytes(3_000 / 16)).toBeGreaterThan(1024)
    expect(inMemoryCheckBytes(3_000 / 256 + 10)).toBeLessThanOrEqual(1024)
    const keys = [...distinctKeys(6_000)]
    for (let index = 0; index < 6_000; index += 500) keys.push(keys[index] ?? '')

    const report = await findDuplicates(keys, { buckets: 2, memoryBudgetBytes: 1024 })

    expect(report).toEqual(naiveReport(keys))
    expect(report.duplicates).toBe(12)
  })

  it('counts one key repeated far beyond the memory budget without splitting it forever', async () => {
    const keys = ['first', ...Array.from({ length: 5_000 }, () => 'hot'), 'last', 'first']

    const report = await findDuplicates(keys, { buckets: 2, memoryBudgetBytes: 1024 })

    expect(report).toEqual({ keys: 5_003, duplicates: 5_000, examples: ['k=first', 'k=hot'] })
  })

  it('cuts a long description to 250 bytes at a character boundary', async () => {
    const long = `pk="${'é'.repeat(400)}"`
    const finder = new DuplicateKeyFinder({ dir: path.join(root, 'scratch') })
    try {
      await finder.add('long', long)
      await finder.add('long', long)
      const { examples } = await finder.finish()

      const example = examples[0] ?? ''
      expect(Buffer.byteLength(example)).toBeLessThanOrEqual(MAX_DESCRIBED_BYTES)
      expect(example.endsWith('é…')).toBe(true)
      expect(long.startsWith(example.slice(0, -1))).toBe(true)
    } finally {
      await finder.close()
    }
  })

  it('removes the scratch directories it created on close, and may be closed twice', async () => {
    const dir = path.join(root, 'not', 'yet')
    const finder = new DuplicateKeyFinder({ dir, buckets: 8 })
    for (const key of distinctKeys(5_000)) await finder.add(key, key)
    await finder.finish()
    expect(existsSync(dir)).toBe(true)

    await finder.close()
    await finder.close()

    expect(existsSync(path.join(root, 'not'))).toBe(false)
    expect(existsSync(root)).toBe(true)
  })

  it('removes only its own files from a scratch directory that already existed', async () => {
    const dir = path.join(root, 'shared')
    mkdirSync(dir)
    writeFileSync(path.join(dir, 'keep.txt'), 'not ours')
    const finder = new DuplicateKeyFinder({ dir, memoryBudgetBytes: 4096 })
    for (const key of distinctKeys(3_000)) await finder.add(key, key)
    expect(readdirSync(dir).length).toBe(2)

    await finder.close()

    expect(readdirSync(dir)).toEqual(['keep.txt'])
  })

  it('leaves nothing behind when closed without finishing', async () => {
    const dir = path.join(root, 'abandoned')
    const finder = new DuplicateKeyFinder({ dir, buckets: 1, memoryBudgetBytes: 1024 })
    for (const key of distinctKeys(2_000)) await finder.add(key, key)

    await finder.close()

    expect(existsSync(dir)).toBe(false)
    await expect(finder.add('late', 'late')).rejects.toThrow('after finish() or close()')
  })

  it('reports a scratch directory it cannot create in plain language, and closes cleanly', async () => {
    const blocker = path.join(root, 'a-file')
    writeFileSync(blocker, '')
    const dir = path.join(blocker, 'scratch')
    const finder = new DuplicateKeyFinder({ dir })
    await finder.add('a', 'a')

    const error = await finder.finish().catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(ActionError)
    expect((error as ActionError).code).toBe('duplicateKeys.scratchIo')
    expect((error as ActionError).message).toContain(`'${dir}'`)
    expect((error as ActionError).message).toContain('is not a directory (ENOTDIR)')
    expect((error as ActionError).message).not.toMatch(/^E[A-Z]+:/)
    await finder.close()
    await finder.close()
    expect(readdirSync(root)).toEqual(['a-file'])
  })

  it('reports a scratch directory removed while keys are added in plain language', async () => {
    const dir = path.join(root, 'removed')
    const finder = new DuplicateKeyFinder({ dir, buckets: 64, memoryBudgetBytes: 1024 })
    const keys = [...distinctKeys(2_000)]
    for (const key of keys.slice(0, 100)) await finder.add(key, key)
    rmSync(dir, { recursive: true, force: true })

    const error = await (async () => {
      for (const key of keys.slice(100)) await finder.add(key, key)
      return finder.finish()
    })().catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(ActionError)
    expect((error as ActionError).code).toBe('duplicateKeys.scratchIo')
    expect((error as ActionError).message).toContain(`in '${dir}': a file or directory was missing`)
    expect((error as ActionError).message).toContain('(ENOENT)')
    await finder.close()
    expect(existsSync(dir)).toBe(false)
  })

  it('reports no keys and touches no disk when nothing was added', async () => {
    const dir = path.join(root, 'empty')

    const report = await findDuplicates([], { dir })

    expect(report).toEqual({ keys: 0, duplicates: 0, examples: [] })
    expect(existsSync(dir)).toBe(false)
  })

  it('refuses options out of range', () => {
    expect(() => new DuplicateKeyFinder({ dir: root, buckets: 0 })).toThrow(RangeError)
    expect(() => new DuplicateKeyFinder({ dir: root, memoryBudgetBytes: 10 })).toThrow(
      'memoryBudgetBytes must be a whole number'
    )
  })

  it('counts as many duplicates as a Set does, for any multiset of keys', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ maxLength: 3, unit: fc.constantFrom('a', 'b', 'c', 'é', '😀') }), {
          maxLength: 400
        }),
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom(1024, 2048, 1 << 20),
        async (keys, buckets, memoryBudgetBytes) => {
          const report = await findDuplicates(keys, { buckets, memoryBudgetBytes })

          expect(report).toEqual(naiveReport(keys))
        }
      ),
      { numRuns: 60 }
    )
  })
})
