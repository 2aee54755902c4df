import { describe, expect, it } from '@jest/globals'
import { Slots } from '../../../src/util/slots.js'

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('slots.ts', () => {
  it('lets at most `size` holders in, the rest in arrival order', async () => {
    const slots = new Slots(2)
    const order: number[] = []
    const take = (n: number): Promise<void> => slots.acquire().then(() => void order.push(n))
    const all = [take(1), take(2), take(3), take(4)]
    await settle()
    expect(order).toEqual([1, 2])
    expect(slots.inUse).toBe(2)
    slots.release()
    await settle()
    expect(order).toEqual([1, 2, 3])
    slots.release()
    slots.release()
    await Promise.all(all)
    expect(order).toEqual([1, 2, 3, 4])
    expect(slots.inUse).toBe(1)
  })

  it('resizes while in use: more lets waiters in at once, fewer waits for releases', async () => {
    const slots = new Slots(1)
    let admitted = 0
    for (let i = 0; i < 4; i++) void slots.acquire().then(() => admitted++)
    await settle()
    expect(admitted).toBe(1)
    slots.resize(3)
    await settle()
    expect(admitted).toBe(3)
    slots.resize(1)
    slots.release()
    slots.release()
    await settle()
    // Two released, but only one may hold a slot now: the fourth still waits.
    expect(admitted).toBe(3)
    slots.release()
    await settle()
    expect(admitted).toBe(4)
  })

  it('refuses a size below one and a release without an acquire', () => {
    expect(() => new Slots(0, 'pages')).toThrow('pages needs 1 or more slots')
    expect(() => new Slots(1.5)).toThrow(RangeError)
    expect(() => new Slots(1).release()).toThrow('release without acquire')
  })
})
