import { describe, expect, it } from '@jest/globals'
import type {
  GlobalSecondaryIndexDescription,
  LocalSecondaryIndexDescription,
  TableDescription
} from '@aws-sdk/client-dynamodb'
import {
  MEASURED_COPY_ITEMS_PER_SECOND,
  MEASURED_VERIFY_ITEMS_PER_SECOND,
  estimateCopy,
  indexWriteUnits,
  writeUnitsFor
} from '../../../src/dynamo/estimate.js'

const onDemand = { BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' as const } }

function provisioned(read: number, write: number): Partial<TableDescription> {
  return {
    BillingModeSummary: { BillingMode: 'PROVISIONED' },
    ProvisionedThroughput: { ReadCapacityUnits: read, WriteCapacityUnits: write }
  }
}

/** A table of `items` items of `itemBytes` bytes each. */
function table(
  items: number,
  itemBytes: number,
  extra: Partial<TableDescription> = {}
): TableDescription {
  return {
    TableName: 't',
    TableStatus: 'ACTIVE',
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    ItemCount: items,
    TableSizeBytes: items * itemBytes,
    ...onDemand,
    ...extra
  }
}

function gsi(
  name: string,
  type: 'ALL' | 'KEYS_ONLY' | 'INCLUDE',
  extra: Partial<GlobalSecondaryIndexDescription> = {}
): GlobalSecondaryIndexDescription {
  return {
    IndexName: name,
    KeySchema: [{ AttributeName: name, KeyType: 'HASH' }],
    Projection:
      type === 'INCLUDE'
        ? { ProjectionType: 'INCLUDE', NonKeyAttributes: ['a'] }
        : { ProjectionType: type },
    ...extra
  }
}

function lsi(name: string, type: 'ALL' | 'KEYS_ONLY'): LocalSecondaryIndexDescription {
  return {
    IndexName: name,
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: name, KeyType: 'RANGE' }
    ],
    Projection: { ProjectionType: type }
  }
}

describe('estimate.ts', () => {
  it('charges one WCU per started KB, at least one', () => {
    expect(writeUnitsFor(0)).toBe(1)
    expect(writeUnitsFor(1)).toBe(1)
    expect(writeUnitsFor(1024)).toBe(1)
    expect(writeUnitsFor(1025)).toBe(2)
    expect(writeUnitsFor(400 * 1024)).toBe(400)
  })

  it('prices an index entry by its projection', () => {
    expect(indexWriteUnits({ ProjectionType: 'ALL' }, 2500)).toBe(3)
    expect(indexWriteUnits(undefined, 2500)).toBe(3)
    expect(indexWriteUnits({ ProjectionType: 'KEYS_ONLY' }, 2500)).toBe(1)
    // INCLUDE: the whole item, an upper bound.
    expect(indexWriteUnits({ ProjectionType: 'INCLUDE', NonKeyAttributes: ['a'] }, 2500)).toBe(3)
  })

  it('counts a strongly consistent scan at 4 KB per RCU and one write per KB', () => {
    const e = estimateCopy(table(1000, 2048))
    expect(e.items).toBe(1000)
    expect(e.bytes).toBe(2_048_000)
    expect(e.averageItemBytes).toBe(2048)
    expect(e.sourceReadUnits).toBe(500)
    expect(e.targetReadUnits).toBe(500)
    expect(e.writeUnitsPerItem).toBe(2)
    expect(e.writeUnits).toBe(2000)
  })

  it('adds a write for every LSI and GSI of the table written to', () => {
    const indexed = table(100, 2500, {
      LocalSecondaryIndexes: [lsi('byDate', 'ALL')],
      GlobalSecondaryIndexes: [gsi('byName', 'KEYS_ONLY'), gsi('byStatus', 'INCLUDE')]
    })
    // table 3 + LSI ALL 3 + GSI KEYS_ONLY 1 + GSI INCLUDE 3
    expect(estimateCopy(indexed).writeUnitsPerItem).toBe(10)
    expect(estimateCopy(indexed).writeUnits).toBe(1000)
    // The target's indexes count, not the source's.
    expect(estimateCopy(indexed, table(0, 0)).writeUnitsPerItem).toBe(3)
    expect(estimateCopy(table(100, 2500), indexed).writeUnitsPerItem).toBe(10)
  })

  it("runs at the bench's measured rate when no capacity is lower, and says so", () => {
    const e = estimateCopy(table(24_000, 1000))
    expect(MEASURED_COPY_ITEMS_PER_SECOND).toBe(2400)
    expect(e.limitedBy).toBe('the runner')
    expect(e.itemsPerSecond).toBe(2400)
    // 10 s of copy, then verification at twice the rate.
    expect(MEASURED_VERIFY_ITEMS_PER_SECOND).toBe(4800)
    expect(e.seconds).toBe(15)
    const basis = e.basis.join('\n')
    expect(basis).toContain('about 2,400 items/s')
    expect(basis).toContain('npm run bench')
    expect(basis).toContain('about every six hours')
    expect(basis).toContain('on-demand tables are assumed to keep up')
  })

  it("is capped by the target's provisioned write capacity, counting its LSIs", () => {
    const target = table(0, 0, {
      ...provisioned(1000, 50),
      LocalSecondaryIndexes: [lsi('l', 'ALL')]
    })
    // 1 KB items: 1 WCU for the table + 1 for the LSI, both from the table's 50 WCU.
    const e = estimateCopy(table(1000, 1000), target)
    expect(e.itemsPerSecond).toBe(25)
    expect(e.limitedBy).toBe("the target's provisioned write capacity (50 WCU)")
    // 40 s of writes, then 0.25 s to verify the target at 1000 RCU.
    expect(e.seconds).toBe(41)
    expect(e.basis.join('\n')).toContain(
      "The target's provisioned write capacity (50 WCU) caps the copy at about 25 items/s"
    )
  })

  it("is capped by a GSI's own provisioned write capacity", () => {
    const target = table(0, 0, {
      ...provisioned(1000, 1000),
      GlobalSecondaryIndexes: [
        gsi('byName', 'ALL', {
          ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 }
        })
      ]
    })
    const e = estimateCopy(table(100, 2000), target)
    // 2 WCU per GSI entry at 5 WCU/s: 2.5 items/s.
    expect(e.itemsPerSecond).toBe(2.5)
    expect(e.limitedBy).toBe("the target's GSI 'byName' provisioned write capacity (5 WCU)")
    expect(e.seconds).toBe(41)
  })

  it("is capped by the source's provisioned read capacity", () => {
    const source = table(1000, 4096, provisioned(10, 10))
    const e = estimateCopy(source, table(0, 0))
    expect(e.sourceReadUnits).toBe(1000)
    expect(e.limitedBy).toBe("the source's provisioned read capacity (10 RCU)")
    expect(e.itemsPerSecond).toBe(10)
    expect(e.seconds).toBe(101)
  })

  it("is capped by 'max-write-units' on the target, index writes included", () => {
    const target = table(0, 0, { GlobalSecondaryIndexes: [gsi('byName', 'ALL')] })
    // 2,000 items of 1 KB, each a table write and a GSI write: 4,000 units at 20 a second.
    const e = estimateCopy(table(2000, 1000), target, { caps: { target: { writeUnits: 20 } } })
    expect(e.limitedBy).toBe("'max-write-units' on the target (20 write units/s)")
    expect(e.itemsPerSecond).toBe(10)
    expect(e.basis.join(' ')).toContain(
      "'max-write-units' on the target (20 write units/s) caps the copy at about 10 items/s."
    )
  })

  it("is capped by 'max-read-units' and 'max-items-per-second', in the copy and its verification", () => {
    const source = table(1000, 4096)
    const reads = estimateCopy(source, table(0, 0), {
      caps: { source: { readUnits: 10 }, target: { readUnits: 5 } }
    })
    expect(reads.limitedBy).toBe("'max-read-units' on the source (10 read units/s)")
    // 1,000 units to scan the source at 10/s, then 1,000 to scan the target at 5/s.
    expect(reads.seconds).toBe(100 + 200)
    const items = estimateCopy(source, table(0, 0), {
      caps: { source: { itemsPerSecond: 50 }, target: { itemsPerSecond: 50 } }
    })
    expect(items.limitedBy).toBe("'max-items-per-second' (50 items/s)")
    expect(items.seconds).toBe(20 + 20)
  })

  it('honours an on-demand maximum throughput', () => {
    const target = table(0, 0, { OnDemandThroughput: { MaxWriteRequestUnits: 100 } })
    const e = estimateCopy(table(10_000, 1000), target)
    expect(e.limitedBy).toBe("the target's maximum on-demand write capacity (100 write units/s)")
    expect(e.itemsPerSecond).toBe(100)
  })

  it('ignores the -1 DynamoDB reports for an on-demand table without a maximum', () => {
    const target = table(0, 0, {
      OnDemandThroughput: { MaxReadRequestUnits: -1, MaxWriteRequestUnits: -1 }
    })
    expect(estimateCopy(table(1000, 1000), target).limitedBy).toBe('the runner')
  })

  it('counts the extra verification reads when the target already holds items', () => {
    const target = table(500, 4096)
    const e = estimateCopy(table(1000, 4096), target, { targetHoldsItems: true })
    // The source is scanned twice (copy, then verification by key).
    expect(e.sourceReadUnits).toBe(2000)
    // The whole target (old and copied items) scanned, plus one lookup per copied item.
    expect(e.targetReadUnits).toBe(1500 + 1000)
    expect(e.basis.join('\n')).toContain('looks every item up in the target')
  })

  it('estimates nothing to do for an empty source', () => {
    const e = estimateCopy(table(0, 0))
    expect(e).toMatchObject({
      items: 0,
      bytes: 0,
      sourceReadUnits: 0,
      targetReadUnits: 0,
      writeUnits: 0,
      seconds: 0,
      itemsPerSecond: MEASURED_COPY_ITEMS_PER_SECOND
    })
  })
})
