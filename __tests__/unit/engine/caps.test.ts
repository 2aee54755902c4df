import { describe, expect, it } from '@jest/globals'
import type { TableDescription } from '@aws-sdk/client-dynamodb'
import { CapRegistry, resolveCaps } from '../../../src/engine/caps.js'

const provisioned: TableDescription = {
  TableName: 'orders',
  BillingModeSummary: { BillingMode: 'PROVISIONED' },
  ProvisionedThroughput: { ReadCapacityUnits: 400, WriteCapacityUnits: 3 }
}
const onDemand: TableDescription = {
  TableName: 'orders',
  BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
  ProvisionedThroughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 0 }
}

describe('caps.ts', () => {
  it('takes units as given and a share of the provisioned capacity, at least one unit', () => {
    expect(
      resolveCaps(
        { readUnits: { percent: 50 }, writeUnits: { percent: 10 }, itemsPerSecond: 500 },
        'orders',
        provisioned
      )
    ).toEqual({ caps: { readUnits: 200, writeUnits: 1, itemsPerSecond: 500 }, problems: [] })
    expect(resolveCaps({ readUnits: { units: 2.5 } }, 'orders', onDemand)).toEqual({
      caps: { readUnits: 2.5 },
      problems: []
    })
    expect(resolveCaps({}, 'orders', provisioned)).toEqual({ caps: {}, problems: [] })
  })

  it('refuses a share of an on-demand table, naming the input and the table', () => {
    const { caps, problems } = resolveCaps(
      { readUnits: { percent: 50 }, writeUnits: { units: 10 } },
      'orders',
      onDemand
    )
    expect(caps).toEqual({ writeUnits: 10 })
    expect(problems).toHaveLength(1)
    expect(problems[0]?.input).toBe('max-read-units')
    expect(problems[0]?.message).toContain("Input 'max-read-units' is 50%")
    expect(problems[0]?.message).toContain("table 'orders' is on-demand")
  })

  it('shares one set of limiters per table between every pass on it', () => {
    const registry = new CapRegistry()
    registry.set('a', { readUnits: 10, writeUnits: 5, itemsPerSecond: 100 })
    registry.set('b', { writeUnits: 7 })
    expect(registry.for('a')).toBe(registry.for('a'))
    expect(registry.reading('a').caps?.units?.perSecond).toBe(10)
    expect(registry.reading('a').caps?.items).toBe(registry.writing('a').caps?.items)
    expect(registry.writing('a').caps?.units?.perSecond).toBe(5)
    expect(registry.reading('b')).toEqual({})
    expect(registry.writing('b').caps?.units?.perSecond).toBe(7)
    expect(registry.reading('unknown')).toEqual({})
    expect(registry.capsOf('b')).toEqual({ writeUnits: 7 })
  })
})
