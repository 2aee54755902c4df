import { describe, expect, it } from '@jest/globals'
import { getHeapStatistics } from 'node:v8'
import { HeapGuard } from '../../../src/util/heap.js'

const TB = 2 ** 40

describe('heap.ts', () => {
  it('collects only once the heap in use passes the threshold', () => {
    let collections = 0
    const guard = new HeapGuard(TB, () => collections++)
    guard.check(TB - 1)
    expect(collections).toBe(0)
    guard.check(TB)
    expect(collections).toBe(1)
    expect(guard.collections).toBe(1)
    // What is live now is far below the budget: the threshold stays at the budget.
    expect(guard.thresholdBytes).toBe(TB)
  })

  it('raises the threshold to 1.5 times what stays live, so a large live set is not collected over and over', () => {
    const guard = new HeapGuard(100, () => undefined)
    guard.collected(600)
    expect(guard.thresholdBytes).toBe(900)
    guard.collected(10)
    expect(guard.thresholdBytes).toBe(100)
  })

  it("gets V8's own full collection without a command-line flag", () => {
    // The real collector: a threshold of 1 byte collects at once, and frees what is dead.
    const guard = new HeapGuard(1)
    let garbage: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i }))
    const before = getHeapStatistics().used_heap_size
    expect(garbage.length).toBe(200_000)
    garbage = undefined
    guard.check()
    expect(guard.collections).toBe(1)
    expect(getHeapStatistics().used_heap_size).toBeLessThan(before)
    // The next collection waits for more than what stayed live.
    expect(guard.thresholdBytes).toBeGreaterThan(getHeapStatistics().used_heap_size)
  })

  it('does nothing where no collector can be had', () => {
    const guard = new HeapGuard(1, null)
    guard.check(TB)
    expect(guard.collections).toBe(0)
  })
})
