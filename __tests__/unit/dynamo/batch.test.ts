import { describe, expect, it } from '@jest/globals'
import { BatchCalls, type BatchOutcome } from '../../../src/dynamo/batch.js'
import { RateCap } from '../../../src/util/rate.js'

/** An error the SDK would classify as throttling. */
function throttle(): Error {
  const error = new Error('Rate exceeded')
  error.name = 'ProvisionedThroughputExceededException'
  return error
}

function settings(extra: Partial<ConstructorParameters<typeof BatchCalls>[0]> = {}) {
  let clock = 0
  const delays: number[] = []
  return {
    delays,
    settings: {
      table: 't',
      kind: 'write' as const,
      maxInFlight: 2,
      retryTimeoutMs: 60_000,
      random: () => 0.5,
      now: () => clock,
      sleep: (ms: number) => {
        delays.push(ms)
        clock += ms
        return Promise.resolve()
      },
      ...extra
    }
  }
}

describe('batch.ts', () => {
  it('sends unprocessed requests again with backoff until none remain', async () => {
    const { settings: s, delays } = settings()
    const sent: number[][] = []
    const calls = new BatchCalls<number>(
      s,
      (requests): Promise<BatchOutcome<number>> => {
        sent.push(requests)
        return Promise.resolve({ unprocessed: requests.slice(1), consumed: requests.length })
      },
      String
    )
    await calls.submit([1, 2, 3]).started
    await calls.drain()
    expect(sent).toEqual([[1, 2, 3], [2, 3], [3]])
    expect(calls.stats).toMatchObject({ calls: 3, unprocessedRetried: 3, consumedCapacity: 6 })
    expect(delays).toHaveLength(2)
    expect(delays[1]).toBeGreaterThan(delays[0] as number)
  })

  it('retries throttled calls, counting them, and never more calls in flight than allowed', async () => {
    const { settings: s } = settings({ maxInFlight: 2 })
    let running = 0
    let most = 0
    let failures = 2
    const calls = new BatchCalls<number>(
      s,
      async (requests) => {
        running++
        most = Math.max(most, running)
        await new Promise((resolve) => setTimeout(resolve, 1))
        running--
        if (failures-- > 0) throw throttle()
        return { unprocessed: [], consumed: requests.length }
      },
      String
    )
    for (let i = 0; i < 6; i++) await calls.submit([i]).started
    await calls.drain()
    expect(most).toBe(2)
    expect(calls.stats.throttled).toBe(2)
    expect(calls.stats.errorsRetried).toBe(2)
    expect(calls.stats.consumedCapacity).toBe(6)
  })

  it('holds a submit back until a slot is free (backpressure)', async () => {
    const { settings: s } = settings({ maxInFlight: 1 })
    let release: () => void = () => undefined
    const calls = new BatchCalls<number>(
      s,
      () =>
        new Promise<BatchOutcome<number>>((resolve) => {
          release = () => resolve({ unprocessed: [], consumed: 0 })
        }),
      String
    )
    await calls.submit([1]).started
    let second = false
    const next = calls.submit([2]).started.then(() => {
      second = true
    })
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(second).toBe(false)
    release()
    await next
    expect(second).toBe(true)
    release()
    await calls.drain()
  })

  it('fails at once on a final error, naming the first key, and latches it', async () => {
    const { settings: s } = settings()
    const calls = new BatchCalls<number>(
      s,
      () => {
        const error = new Error('Type mismatch for key')
        error.name = 'ValidationException'
        return Promise.reject(error)
      },
      (n) => `pk=${n}`
    )
    await calls.submit([7, 8]).started
    await expect(calls.drain()).rejects.toThrow(
      "DynamoDB rejected a write to table 't' (ValidationException: Type mismatch for key). First key of the batch: pk=7."
    )
    expect(() => calls.submit([9])).toThrow('ValidationException')
  })

  it('gives up after retry-timeout without progress, naming the keys', async () => {
    const { settings: s } = settings({ retryTimeoutMs: 1_000, kind: 'lookup' })
    const calls = new BatchCalls<number>(
      s,
      () => Promise.reject(throttle()),
      (n) => `pk=${n}`
    )
    await calls.submit([1, 2]).started
    const error = await calls.drain().then(
      () => undefined,
      (e: unknown) => e as Error & { code: string }
    )
    expect(error?.code).toBe('lookup.gaveUp')
    expect(error?.message).toMatch(
      /Gave up looking up 2 item\(s\) in table 't' after \d+ attempts.*pk=1; pk=2/
    )
  })

  it('halves the calls in flight while throttled and raises them again once calls go through', async () => {
    const { settings: s } = settings({ maxInFlight: 8 })
    let throttles = 3
    let running = 0
    const inFlightSeen: number[] = []
    const calls = new BatchCalls<number>(
      s,
      async (requests) => {
        running++
        inFlightSeen.push(running)
        await new Promise((resolve) => setImmediate(resolve))
        running--
        if (throttles > 0) {
          throttles--
          throw throttle()
        }
        return { unprocessed: [], consumed: requests.length }
      },
      String
    )
    for (let i = 0; i < 8; i++) await calls.submit([i]).started
    await calls.drain()
    expect(calls.stats.throttled).toBe(3)
    expect(calls.stats.lowestInFlight).toBe(4)
    expect(calls.slots.size).toBeLessThan(8)
    // Enough unthrottled calls bring it back to the most allowed.
    for (let i = 0; i < 60; i++) await calls.submit([i]).started
    await calls.drain()
    expect(calls.slots.size).toBe(8)
  })

  it('counts a call that comes back with unprocessed requests as throttled for concurrency', async () => {
    const { settings: s } = settings({ maxInFlight: 4 })
    let first = true
    const calls = new BatchCalls<number>(
      s,
      (requests) => {
        const unprocessed = first ? requests.slice(1) : []
        first = false
        return Promise.resolve({ unprocessed, consumed: requests.length - unprocessed.length })
      },
      String
    )
    await calls.submit([1, 2, 3]).started
    await calls.drain()
    expect(calls.stats.lowestInFlight).toBe(2)
    expect(calls.stats.throttled).toBe(0)
    expect(calls.stats.unprocessedRetried).toBe(2)
  })

  it('holds a write-unit cap, metered from what each call consumed', async () => {
    let clock = 0
    const sleep = (ms: number): Promise<void> => {
      clock += ms
      return Promise.resolve()
    }
    const cap = new RateCap(50, { now: () => clock, sleep })
    const { settings: s } = settings({ maxInFlight: 4, caps: { units: cap } })
    const calls = new BatchCalls<number>(
      { ...s, now: () => clock, sleep },
      // Each item costs 2 units: the cap learns it from ConsumedCapacity.
      (requests) => Promise.resolve({ unprocessed: [], consumed: 2 * requests.length }),
      String
    )
    for (let i = 0; i < 20; i++) {
      await calls.submit(Array.from({ length: 25 }, (_, j) => i * 25 + j)).started
    }
    await calls.drain()
    expect(calls.stats.consumedCapacity).toBe(1000)
    expect(cap.spent).toBe(1000)
    // Never more spent than the cap allows: a second's worth at once, the rest at 50 a
    // second, plus the one call that goes into debt (50 units).
    expect(1000).toBeLessThanOrEqual(50 * (clock / 1000) + 50 + 50)
    expect(clock / 1000).toBeLessThanOrEqual(1000 / 50)
  })

  it('holds an items cap on requests handled, giving back what unprocessed requests reserved', async () => {
    let clock = 0
    const sleep = (ms: number): Promise<void> => {
      clock += ms
      return Promise.resolve()
    }
    const cap = new RateCap(100, { now: () => clock, sleep })
    const { settings: s } = settings({ maxInFlight: 2, caps: { items: cap } })
    let call = 0
    const calls = new BatchCalls<number>(
      { ...s, now: () => clock, sleep },
      (requests) => {
        // Every other call of several requests leaves its last one unprocessed.
        const unprocessed = requests.length > 1 && call++ % 2 === 0 ? requests.slice(-1) : []
        return Promise.resolve({ unprocessed, consumed: 0 })
      },
      String
    )
    for (let i = 0; i < 40; i++) await calls.submit(Array.from({ length: 25 }, () => i)).started
    await calls.drain()
    expect(cap.spent).toBe(1000)
    expect(1000).toBeLessThanOrEqual(100 * (clock / 1000) + 100 + 25)
  })
})
