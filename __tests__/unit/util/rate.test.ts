import { describe, expect, it } from '@jest/globals'
import { CostEstimate, RateCap } from '../../../src/util/rate.js'

/** A clock that only moves when the cap sleeps: every wait is exact and instant. */
function fakeClock(): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let t = 1_000_000
  const slept: number[] = []
  return {
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms)
      t += ms
    },
    slept
  }
}

describe('rate.ts', () => {
  it('lets a second of the cap through at once, then spaces calls to the cap', async () => {
    const clock = fakeClock()
    const cap = new RateCap(100, clock)
    const started = clock.now()
    // 40 calls of 25 units each: 1,000 units at 100 a second.
    for (let i = 0; i < 40; i++) {
      const reserved = await cap.reserve(25)
      cap.settle(reserved, 25)
    }
    const seconds = (clock.now() - started) / 1000
    // The first second's worth (100) goes at once; the other 900 take 9 s (the last call
    // reserves as soon as the debt is paid, so the time is 900 minus one call's units).
    expect(seconds).toBeGreaterThanOrEqual((1000 - 100 - 25) / 100)
    expect(seconds).toBeLessThanOrEqual((1000 - 100) / 100 + 0.1)
    expect(cap.spent).toBe(1000)
  })

  it('holds the rate when calls cost more than they reserved, by making later calls wait', async () => {
    const clock = fakeClock()
    const cap = new RateCap(10, clock)
    const started = clock.now()
    let spent = 0
    for (let i = 0; i < 20; i++) {
      const reserved = await cap.reserve(1)
      cap.settle(reserved, 5)
      spent += 5
    }
    const elapsed = (clock.now() - started) / 1000
    // Spent never runs ahead of the cap by more than a second's worth plus the last call.
    expect(spent).toBeLessThanOrEqual(10 * elapsed + 10 + 5)
    expect(spent / elapsed).toBeLessThanOrEqual(10 * 1.25)
  })

  it('gives back what a failed call reserved', async () => {
    const clock = fakeClock()
    const cap = new RateCap(10, clock)
    for (let i = 0; i < 50; i++) cap.settle(await cap.reserve(10), 0)
    expect(clock.slept).toEqual([])
    expect(cap.spent).toBe(0)
  })

  it('serves reservations in arrival order, each waiting its turn', async () => {
    const clock = fakeClock()
    const cap = new RateCap(10, clock)
    const order: number[] = []
    await Promise.all(
      [0, 1, 2, 3, 4].map((n) =>
        cap.reserve(10).then((reserved) => {
          order.push(n)
          cap.settle(reserved, 10)
        })
      )
    )
    expect(order).toEqual([0, 1, 2, 3, 4])
    // 10 a second, a second's worth at once: the first two go (the second into debt), each
    // later one waits for the debt to be paid: 3 s of waiting in all.
    expect(clock.slept.reduce((a, b) => a + b, 0)).toBe(3000)
  })

  it('refuses a cap that is not a positive number', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new RateCap(bad)).toThrow(RangeError)
    }
  })

  it('estimates a call from the mean cost per request so far', () => {
    const estimate = new CostEstimate(0.25)
    expect(estimate.expected(100)).toBe(25)
    estimate.record(10, 20)
    estimate.record(10, 0)
    expect(estimate.expected(25)).toBe(25)
    estimate.record(0, 99)
    expect(estimate.expected(25)).toBe(25)
  })
})
