import { describe, expect, it } from '@jest/globals'
import { DurableLedger, FileCutLedger, type DurableProgress } from '../../../src/engine/ledger.js'
import { ContentDigest, itemHash } from '../../../src/verify/digest.js'
import type { Item } from '../../../src/types.js'

const item = (pk: string): Item => ({ pk: { S: pk } })
const key = (pk: string): Item => ({ pk: { S: pk } })

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve = (): void => undefined
  let reject = (_: Error): void => undefined
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function digestOf(items: Item[]): string {
  const digest = new ContentDigest()
  items.forEach((i) => digest.add(i))
  return digest.digest
}

describe('engine/ledger.ts', () => {
  it('counts a page done only after every earlier page of its segment, whatever order they finish in', async () => {
    const updates: DurableProgress[] = []
    const ledger = new DurableLedger((p) => updates.push({ ...p, positions: [...p.positions] }))
    const pages = [
      { items: [item('a'), item('b')], last: key('b'), stored: deferred() },
      { items: [item('c')], last: key('c'), stored: deferred() },
      { items: [item('d')], last: undefined, stored: deferred() }
    ]
    for (const p of pages) ledger.page(0, p.last, p.items.map(itemHash), p.stored.promise)

    // The second and third pages are stored first: nothing is durable yet.
    pages[1]?.stored.resolve()
    pages[2]?.stored.resolve()
    await settle()
    expect(updates).toHaveLength(0)
    expect(ledger.progress().items).toBe(0)

    // The first page lands: all three are now durable, in one update.
    pages[0]?.stored.resolve()
    await settle()
    expect(updates).toHaveLength(1)
    const progress = ledger.progress()
    expect(progress.items).toBe(4)
    expect(progress.positions).toEqual([{ segment: 0, done: true }])
    expect(progress.digest.digest).toBe(digestOf(pages.flatMap((p) => p.items)))
  })

  it('keeps segments apart and the digest to exactly the durable pages', async () => {
    const ledger = new DurableLedger()
    const s0 = deferred()
    const s1first = deferred()
    const s1second = deferred()
    ledger.page(0, key('a'), [itemHash(item('a'))], s0.promise)
    ledger.page(1, key('x'), [itemHash(item('x'))], s1first.promise)
    ledger.page(1, key('y'), [itemHash(item('y'))], s1second.promise)
    s0.resolve()
    s1second.resolve()
    await settle()
    const progress = ledger.progress()
    expect(progress.positions).toEqual([{ segment: 0, lastEvaluatedKey: key('a'), done: false }])
    expect(progress.items).toBe(1)
    expect(progress.digest.digest).toBe(digestOf([item('a')]))
    s1first.resolve()
    await settle()
    expect(ledger.progress().positions).toEqual([
      { segment: 0, lastEvaluatedKey: key('a'), done: false },
      { segment: 1, lastEvaluatedKey: key('y'), done: false }
    ])
    expect(ledger.progress().digest.digest).toBe(digestOf([item('a'), item('x'), item('y')]))
  })

  it('never counts a page whose consumers failed, nor any page after it', async () => {
    const ledger = new DurableLedger()
    const failed = deferred()
    const later = deferred()
    ledger.page(0, key('a'), [itemHash(item('a'))], failed.promise)
    ledger.page(0, key('b'), [itemHash(item('b'))], later.promise)
    failed.reject(new Error('write failed'))
    later.resolve()
    await settle()
    expect(ledger.progress()).toMatchObject({ items: 0, positions: [] })
  })
})

describe('engine/ledger.ts: FileCutLedger', () => {
  const hash = (n: number): Buffer => Buffer.alloc(32, n)
  const hashes = (from: number, count: number): Buffer[] =>
    Array.from({ length: count }, (_, i) => hash(from + i))
  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

  it('cuts only at data files whose every page the target holds, whatever order pages finish in', async () => {
    let stored = 0
    const cuts: DurableProgress[] = []
    const ledger = new FileCutLedger(
      (p) => cuts.push(p),
      () => stored
    )
    // File 0 holds page A (segment 0) and page B (segment 1); file 1 holds page C (segment 2).
    const a = ledger.page(0, { pk: { S: 'a' } }, hashes(0, 10), 0)
    const b = ledger.page(1, { pk: { S: 'b' } }, hashes(10, 10), 0)
    const c = ledger.page(2, undefined, hashes(20, 10), 1)
    let writeA: () => void = () => undefined
    a.written(new Promise<void>((resolve) => (writeA = resolve)))
    b.written(Promise.resolve())
    c.written(Promise.resolve())
    stored = 2
    ledger.fileStored()
    await settle()
    // A is not written yet: no cut, though B and C (20 items) are done.
    expect(cuts).toEqual([])
    writeA()
    await settle()
    const last = cuts.at(-1)!
    expect(last.files).toBe(2)
    expect(last.items).toBe(30)
    expect(last.positions).toEqual([
      { segment: 0, lastEvaluatedKey: { pk: { S: 'a' } }, done: false },
      { segment: 1, lastEvaluatedKey: { pk: { S: 'b' } }, done: false },
      { segment: 2, done: true }
    ])
    const all = new ContentDigest()
    for (const h of hashes(0, 30)) all.addHash(h)
    expect(last.digest.summary()).toEqual(all.summary())
  })

  it('stops cutting rather than cut wrong when a page arrives for a file already behind the cut', async () => {
    let stored = 0
    const cuts: DurableProgress[] = []
    const ledger = new FileCutLedger(
      (p) => cuts.push(p),
      () => stored
    )
    ledger.page(0, { pk: { S: 'a' } }, hashes(0, 5), 0).written(Promise.resolve())
    stored = 1
    await settle()
    ledger.fileStored()
    expect(cuts.at(-1)?.files).toBe(1)
    ledger.page(1, { pk: { S: 'b' } }, hashes(5, 5), 0).written(Promise.resolve())
    ledger.page(1, undefined, hashes(10, 5), 1).written(Promise.resolve())
    stored = 2
    await settle()
    ledger.fileStored()
    expect(cuts).toHaveLength(1)
  })
})
