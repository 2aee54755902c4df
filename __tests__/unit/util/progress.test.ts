import { describe, expect, it } from '@jest/globals'
import { MAX_SAMPLES, Progress, formatDuration } from '../../../src/util/progress.js'

describe('progress.ts', () => {
  it('logs items, rate, share, ETA and what the pass adds; records each interval', () => {
    let t = 0
    const lines: string[] = []
    const progress = new Progress(
      'copy a -> b',
      1000,
      (line) => lines.push(line),
      () => t,
      0,
      () => '40 read units + 100 write units consumed, 3 throttled'
    )
    t = 10_000
    progress.add(100)
    progress.tick()
    t = 20_000
    progress.add(300)
    progress.tick()
    expect(lines[1]).toBe(
      'copy a -> b: 400 items, 20 items/s, ~40% of ~1,000, ETA 30s, 40 read units + 100 write units consumed, 3 throttled'
    )
    expect(progress.throughput()).toEqual([
      { seconds: 10, itemsPerSecond: 10 },
      { seconds: 20, itemsPerSecond: 30 }
    ])
  })

  it('keeps a bounded number of samples, merging neighbours by time', () => {
    let t = 0
    const progress = new Progress(
      'p',
      0,
      () => undefined,
      () => t,
      0
    )
    for (let i = 1; i <= 1000; i++) {
      t = i * 1000
      progress.add(i % 2 === 0 ? 20 : 0)
      progress.tick()
    }
    const samples = progress.throughput()
    expect(samples.length).toBeLessThanOrEqual(2 * MAX_SAMPLES)
    expect(samples.at(-1)?.seconds).toBe(1000)
    // Merged points are time-weighted means: the whole run averages 10 items/s.
    let from = 0
    let items = 0
    for (const s of samples) {
      items += s.itemsPerSecond * (s.seconds - from)
      from = s.seconds
    }
    expect(items).toBeCloseTo(10_000, 6)
  })

  it('formats durations', () => {
    expect(formatDuration(5_400)).toBe('5s')
    expect(formatDuration(125_000)).toBe('2m 5s')
    expect(formatDuration(3_720_000)).toBe('1h 2m')
  })
})
