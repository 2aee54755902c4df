// Capacity caps and throttling, against DynamoDB Local (through the fault-injecting proxy where
// DynamoDB must throttle: Local never does). Whether a cap holds its rate over time is measured
// in `npm run bench -- --caps`, never here: these tests check what the caps and the throttling
// do to the copy, the report and the refusals.
import { describe, expect, it } from '@jest/globals'
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb'
import { ddbEndpoint, motoEndpoint, uniqueName, useEmulators } from '../support/env.js'
import { canonicalContents, createTable, seed, tableDefinition } from '../support/tables.js'
import { runAction } from '../support/action.js'
import { startFaultProxy } from '../support/fault-proxy.js'
import { everyTypeItem, largeItem, sizedItem } from '../../__fixtures__/items.js'
import type { Item } from '../../src/types.js'

const { ddb, bucket } = useEmulators('caps')

function items(count: number): Item[] {
  return [
    ...Array.from({ length: count }, (_, i) => sizedItem(`c${i % 31}`, i, 200 + (i % 5) * 100)),
    everyTypeItem('every-type'),
    largeItem('large', 'S')
  ]
}

const provisioned = (name: string, read: number, write: number) =>
  tableDefinition(name, {
    BillingMode: 'PROVISIONED',
    ProvisionedThroughput: { ReadCapacityUnits: read, WriteCapacityUnits: write }
  })

function copyInputs(extra: Record<string, string>): Record<string, string> {
  return {
    mode: 'copy',
    'dynamodb-endpoint': ddbEndpoint(),
    's3-endpoint': motoEndpoint(),
    'backup-s3-uri': `s3://${bucket}/caps`,
    ...extra
  }
}

async function exists(table: string): Promise<boolean> {
  return ddb.send(new DescribeTableCommand({ TableName: table })).then(
    () => true,
    () => false
  )
}

describe('caps and throttling', () => {
  it('backs off when DynamoDB throttles, lowers its calls in flight, and loses nothing', async () => {
    const source = uniqueName('throttled-src')
    const target = uniqueName('throttled-dst')
    await createTable(ddb, tableDefinition(source))
    await createTable(ddb, tableDefinition(target))
    await seed(ddb, source, items(600))
    const writeFaults = { BatchWriteItem: { throttle: 0.2, unprocessed: 0.25 } }
    const proxy = await startFaultProxy({ target: ddbEndpoint(), seed: 7, faults: writeFaults })
    // The copy's first two parallel Scan calls are throttled for certain (the checks before
    // it scan too, with the SDK's own retries: they are left alone).
    let scanning = false
    proxy.setHook((operation, body) => {
      if (operation !== 'Scan' || body.TotalSegments === undefined || scanning) return
      scanning = true
      proxy.setFaults({
        ...writeFaults,
        Scan: { throttle: 1, onlyFirstN: 2, throttleType: 'ThrottlingException' }
      })
    })
    let result
    try {
      result = await runAction(
        copyInputs({
          tables: `${source} -> ${target}`,
          'dynamodb-endpoint': proxy.endpoint,
          'total-segments': '4',
          'writes-in-flight': '8'
        })
      )
    } finally {
      await proxy.stop()
    }
    expect(proxy.stats.injected.throttle).toBeGreaterThan(0)
    expect(result.report.error).toBeUndefined()
    const pair = result.report.pairs[0]!
    expect(pair.verified).toBe(true)
    expect(await canonicalContents(ddb, target)).toEqual(await canonicalContents(ddb, source))
    const capacity = pair.capacity!
    expect(capacity.throttled).toBeGreaterThan(0)
    expect(capacity.lowered?.write?.of).toBe(8)
    expect(capacity.lowered?.write?.lowest).toBeLessThan(8)
    expect(capacity.lowered?.scan).toEqual({ lowest: 2, of: 4 })
    expect(result.summary).toContain('throttling lowered the calls in flight')
    // The progress lines carry the consumed capacity and the throttled calls.
    expect(result.log).toMatch(/read units \+ [\d,]+ write units consumed, [1-9][\d,]* throttled/)
  })

  it('resolves a share of provisioned capacity per table and reports the caps in force', async () => {
    const source = uniqueName('capped-src')
    const target = uniqueName('capped-dst')
    await createTable(ddb, provisioned(source, 400, 8))
    await createTable(ddb, provisioned(target, 200, 1000))
    const seeded = items(150)
    await seed(ddb, source, seeded)
    const result = await runAction(
      copyInputs({
        tables: `${source} -> ${target}`,
        'max-read-units': '50%',
        'max-write-units': '50%',
        'max-items-per-second': '5000'
      })
    )
    expect(result.report.error).toBeUndefined()
    const pair = result.report.pairs[0]!
    expect(pair.verified).toBe(true)
    expect(pair.capacity?.caps).toEqual({
      source: { readUnits: 200, writeUnits: 4, itemsPerSecond: 5000 },
      target: { readUnits: 100, writeUnits: 500, itemsPerSecond: 5000 }
    })
    // The caps are metered with what DynamoDB says each call consumed.
    expect(pair.capacity!.read).toBeGreaterThan(0)
    expect(pair.capacity!.write).toBeGreaterThanOrEqual(seeded.length)
    expect(result.summary).toContain('capped at source 200 read units/s')
    expect(await canonicalContents(ddb, target)).toEqual(await canonicalContents(ddb, source))
  })

  it('refuses a share of an on-demand table before any write, naming the input', async () => {
    const source = uniqueName('ondemand-src')
    const target = uniqueName('ondemand-dst')
    await createTable(ddb, tableDefinition(source))
    await seed(ddb, source, items(5))
    const result = await runAction(
      copyInputs({
        tables: `${source} -> ${target}`,
        'create-target': 'true',
        'max-write-units': '25%'
      })
    )
    expect(result.failed).toBe(true)
    expect(result.report.errorCode).toBe('preflight.capNeedsProvisioned')
    expect(result.report.error).toContain("Input 'max-write-units' is 25%")
    expect(result.report.error).toContain(`table '${source}' is on-demand`)
    // Refused before the first write: the target was not even created.
    expect(await exists(target)).toBe(false)
  })

  it('plans the duration the caps imply', async () => {
    const source = uniqueName('plan-caps-src')
    const target = uniqueName('plan-caps-dst')
    await createTable(ddb, tableDefinition(source))
    await createTable(ddb, tableDefinition(target))
    await seed(ddb, source, items(50))
    const result = await runAction(
      copyInputs({
        mode: 'plan',
        tables: `${source} -> ${target}`,
        'max-items-per-second': '2'
      })
    )
    expect(result.report.error).toBeUndefined()
    const plan = result.report.pairs[0]!.plan as { copy: { estimate?: { limitedBy: string } } }
    expect(plan.copy.estimate?.limitedBy).toBe("'max-items-per-second' (2 items/s)")
    expect(result.log).toContain("limited by 'max-items-per-second' (2 items/s)")
  })
})
