import { describe, expect, it } from '@jest/globals'
import { AdaptiveConcurrency } from '../../../src/util/adaptive.js'
import { Slots } from '../../../src/util/slots.js'

describe('adaptive.ts', () => {
  it('halves the calls in flight on throttling, once per burst, never below 1', () => {
    let t = 0
    const slots = new Slots(32)
    const adaptive = new AdaptiveConcurrency(slots, () => t, 1000)
    adaptive.throttled()
    expect(slots.size).toBe(16)
    // A burst of throttles within the settling time lowers it once.
    adaptive.throttled()
    adaptive.throttled()
    expect(slots.size).toBe(16)
    for (let i = 0; i < 10; i++) {
      t += 1000
      adaptive.throttled()
    }
    expect(slots.size).toBe(1)
    expect(adaptive.stats).toEqual({ max: 32, lowest: 1, current: 1, decreases: 5 })
  })

  it('raises it by one for every run of unthrottled calls as long as the limit, up to the max', () => {
    const t = 0
    const slots = new Slots(8)
    const adaptive = new AdaptiveConcurrency(slots, () => t)
    adaptive.throttled()
    expect(slots.size).toBe(4)
    for (let i = 0; i < 3; i++) adaptive.succeeded()
    expect(slots.size).toBe(4)
    adaptive.succeeded()
    expect(slots.size).toBe(5)
    for (let i = 0; i < 100; i++) adaptive.succeeded()
    expect(slots.size).toBe(8)
    expect(adaptive.stats).toEqual({ max: 8, lowest: 4, current: 8, decreases: 1 })
  })

  it('starts counting unthrottled calls again after a throttle', () => {
    let t = 0
    const slots = new Slots(4)
    const adaptive = new AdaptiveConcurrency(slots, () => t, 0)
    adaptive.throttled()
    adaptive.succeeded()
    t += 1
    adaptive.throttled()
    expect(slots.size).toBe(1)
    adaptive.succeeded()
    expect(slots.size).toBe(2)
  })
})
