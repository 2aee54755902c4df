import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  ScanCommand,
  type ScanCommandOutput
} from '@aws-sdk/client-dynamodb'
import { mockClient } from 'aws-sdk-client-mock'
import {
  DEFAULT_PAGE_BYTES,
  PageSizer,
  defaultPagesInFlight,
  scanTable,
  type ScanPage
} from '../../../src/dynamo/scan.js'
import type { Item } from '../../../src/types.js'
import { RateCap } from '../../../src/util/rate.js'
import { everyTypeItem } from '../../../__fixtures__/items.js'
import { capturingClient, textOf, wireAnswer, wireInput } from '../../support/wire-mock.js'

/** Scan's wire request, as the product handed it to the command. */
interface WireScan {
  TableName: string
  ConsistentRead?: boolean
  ExclusiveStartKey?: Item
  Segment?: number
  TotalSegments?: number
  ReturnConsumedCapacity?: string
}

/** A Scan answer in wire form (binary as base64 text). */
const page = (Items: Item[], LastEvaluatedKey?: Item): ScanCommandOutput =>
  wireAnswer<ScanCommandOutput>(LastEvaluatedKey ? { Items, LastEvaluatedKey } : { Items })

const client = new DynamoDBClient({ region: 'us-east-1' })
// This client only: capturingClient's clients send through their own HTTP handler.
const ddb = mockClient(client)
const noSleep = async (): Promise<void> => undefined

describe('scan.ts', () => {
  beforeEach(() => {
    ddb.reset()
  })

  it('scans every segment to its end, following LastEvaluatedKey', async () => {
    ddb
      .on(ScanCommand, { Segment: 0 })
      .resolvesOnce(page([{ pk: { S: 'a' } }], { pk: { S: 'a' } }))
      .resolves(page([{ pk: { S: 'b' } }]))
    ddb.on(ScanCommand, { Segment: 1 }).resolves(page([{ pk: { S: 'c' } }]))
    const pages: ScanPage[] = []
    const totals = await scanTable(
      client,
      { table: 't', segments: 2, retryTimeoutMs: 1000, sleep: noSleep },
      async (p) => {
        pages.push(p)
      }
    )
    expect(totals.items).toBe(3)
    expect(pages.map((p) => textOf(p.items.item(0).pk)).sort()).toEqual(['a', 'b', 'c'])
    const calls = ddb.commandCalls(ScanCommand).map((c) => wireInput<WireScan>(c))
    expect(calls.every((i) => i.TotalSegments === 2 && i.ConsistentRead === true)).toBe(true)
    expect(calls.find((i) => i.ExclusiveStartKey)?.ExclusiveStartKey).toEqual({ pk: { S: 'a' } })
  })

  it('retries a throttled page', async () => {
    ddb
      .on(ScanCommand)
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: 'slow', $metadata: {} }))
      .resolves(page([{ pk: { S: 'a' } }]))
    let retries = 0
    const totals = await scanTable(
      client,
      { table: 't', segments: 1, retryTimeoutMs: 1000, sleep: noSleep, onRetry: () => retries++ },
      async () => undefined
    )
    expect(totals.items).toBe(1)
    expect(retries).toBe(1)
  })

  it('counts throttled pages and lowers the scan calls in flight while throttled', async () => {
    ddb
      .on(ScanCommand)
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: 'slow', $metadata: {} }))
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: 'slow', $metadata: {} }))
      .resolves(page([{ pk: { S: 'a' } }]))
    const totals = await scanTable(
      client,
      { table: 't', segments: 8, retryTimeoutMs: 1000, sleep: noSleep },
      async () => undefined
    )
    expect(totals.items).toBe(8)
    expect(totals.throttled).toBe(2)
    expect(totals.lowestInFlight).toBe(4)
  })

  it('holds read-unit and item caps, metered from what each page consumed', async () => {
    let clock = 0
    const sleep = async (ms: number): Promise<void> => {
      clock += ms
    }
    let served = 0
    const { client: wire, requests } = capturingClient((request) => {
      const limit = (JSON.parse(request.body) as { Limit?: number }).Limit ?? 1000
      const count = Math.min(limit, 2000 - served)
      const items = Array.from({ length: count }, (_, i) => ({ pk: { S: `k${served + i}` } }))
      served += count
      // Each item costs half a read unit, as DynamoDB would say in ConsumedCapacity.
      const answer: Record<string, unknown> = {
        Items: items,
        Count: count,
        ScannedCount: count,
        ConsumedCapacity: { TableName: 't', CapacityUnits: count / 2 }
      }
      if (served < 2000) answer.LastEvaluatedKey = { pk: items.at(-1)?.pk }
      return JSON.stringify(answer)
    })
    const units = new RateCap(100, { now: () => clock, sleep })
    const items = new RateCap(150, { now: () => clock, sleep })
    const totals = await scanTable(
      wire,
      { table: 't', segments: 1, retryTimeoutMs: 1000, sleep, caps: { units, items } },
      async () => undefined
    )
    expect(totals.items).toBe(2000)
    expect(totals.consumedCapacity).toBe(1000)
    expect(units.spent).toBe(1000)
    expect(items.spent).toBe(2000)
    // Pages fit in about a second of the item cap.
    const limits = requests.map((r) => (JSON.parse(r.body) as { Limit?: number }).Limit ?? 0)
    expect(Math.max(...limits)).toBeLessThanOrEqual(150)
    // Under a read cap, the first page asks for one item: its size is not known yet.
    expect(limits[0]).toBe(1)
    // 2,000 items at 150 a second (the tighter cap): never more than a second's worth at
    // once plus one page ahead of the cap.
    const seconds = clock / 1000
    expect(2000).toBeLessThanOrEqual(150 * seconds + 150 + 150)
    expect(1000).toBeLessThanOrEqual(100 * seconds + 100 + 100)
  })

  it('stops every segment on a final error and reports it plainly', async () => {
    ddb.on(ScanCommand).rejects(
      Object.assign(new Error('Requested resource not found'), {
        name: 'ResourceNotFoundException'
      })
    )
    await expect(
      scanTable(
        client,
        { table: 'gone', segments: 4, retryTimeoutMs: 1000, sleep: noSleep },
        async () => undefined
      )
    ).rejects.toThrow("Scanning table 'gone' failed: Requested resource not found")
  })

  it('resumes segments from start keys and skips finished ones', async () => {
    ddb.on(ScanCommand).resolves(page([]))
    await scanTable(
      client,
      {
        table: 't',
        segments: 3,
        retryTimeoutMs: 1000,
        startKeys: [null, { pk: { S: 'x' } }, undefined]
      },
      async () => undefined
    )
    const calls = ddb.commandCalls(ScanCommand).map((c) => wireInput<WireScan>(c))
    expect(calls.map((c) => c.Segment).sort()).toEqual([1, 2])
    expect(calls.find((c) => c.Segment === 1)?.ExclusiveStartKey).toEqual({ pk: { S: 'x' } })
  })
  it('hands over items and start keys exactly as the wire carried them', async () => {
    // Parsed from JSON, as the wire's answer is: `__proto__` is an attribute, binary is text.
    const key = JSON.parse('{"__proto__":{"S":"p"},"b":{"B":"AP8="}}') as Item
    const first = { ...everyTypeItem('a'), ...key }
    ddb
      .on(ScanCommand)
      .resolvesOnce(page([first], key))
      .resolves(page([everyTypeItem('b')]))
    const pages: ScanPage[] = []
    await scanTable(
      client,
      { table: 't', segments: 1, retryTimeoutMs: 1000, sleep: noSleep },
      async (p) => {
        pages.push(p)
      }
    )
    expect(pages.flatMap((p) => p.items.all())).toEqual([first, everyTypeItem('b')])
    expect(pages[0]?.items.item(0)).toBe(first)
    const calls = ddb.commandCalls(ScanCommand).map((c) => wireInput<WireScan>(c))
    expect(calls[0]).toEqual({
      TableName: 't',
      ConsistentRead: true,
      Limit: 100,
      ReturnConsumedCapacity: 'TOTAL'
    })
    expect(calls[0]).not.toHaveProperty('ExclusiveStartKey')
    expect(calls[1]?.ExclusiveStartKey).toBe(key)
    expect(Object.keys(calls[1]?.ExclusiveStartKey ?? {})).toEqual(['__proto__', 'b'])
    expect(JSON.stringify(calls[1])).toContain(
      '"ExclusiveStartKey":{"__proto__":{"S":"p"},"b":{"B":"AP8="}}'
    )
  })

  it('sizes pages by the bytes per item the wire carried', async () => {
    // 2,000-byte items: 256 KiB pages hold 131 of them.
    const filler = 'x'.repeat(2000 - 30)
    let served = 0
    const { client: wire, requests } = capturingClient((request) => {
      const limit = (JSON.parse(request.body) as { Limit?: number }).Limit ?? 1000
      const items = Array.from({ length: limit }, (_, i) => ({
        pk: { S: `k${served + i}`.padEnd(8, '0') },
        f: { S: filler }
      }))
      served += limit
      return JSON.stringify(
        served < 1000
          ? { Items: items, LastEvaluatedKey: { pk: items.at(-1)?.pk } }
          : { Items: items }
      )
    })
    await scanTable(
      wire,
      { table: 't', segments: 1, retryTimeoutMs: 1000, sleep: noSleep },
      async () => undefined
    )
    const limits = requests.map((r) => (JSON.parse(r.body) as { Limit?: number }).Limit)
    expect(limits[0]).toBe(100)
    const perItem =
      requests.length > 1 ? JSON.stringify({ pk: { S: 'k0000000' }, f: { S: filler } }).length : 0
    expect(limits[1]).toBeGreaterThanOrEqual(Math.floor(DEFAULT_PAGE_BYTES / (perItem + 2)))
    expect(limits[1]).toBeLessThanOrEqual(Math.floor(DEFAULT_PAGE_BYTES / perItem))
    // pageBytes 0 leaves DynamoDB's own page size: no Limit at all.
    served = 0
    requests.length = 0
    await scanTable(
      wire,
      { table: 't', segments: 1, retryTimeoutMs: 1000, pageBytes: 0, sleep: noSleep },
      async () => undefined
    )
    expect(requests.map((r) => (JSON.parse(r.body) as { Limit?: number }).Limit)).toEqual([
      undefined
    ])
  })

  it("works out a Limit from what it has seen, within DynamoDB's bounds", () => {
    const sizer = new PageSizer(256 * 1024)
    expect(sizer.limit()).toBe(100)
    sizer.record(400 * 1024, 1) // one 400 KB item: one item a page
    expect(sizer.limit()).toBe(1)
    const tiny = new PageSizer(256 * 1024)
    tiny.record(1000, 100) // 10-byte items
    expect(tiny.limit()).toBe(26214)
    tiny.record(0, 0)
    expect(tiny.limit()).toBe(26214)
    const nothing = new PageSizer(256 * 1024)
    nothing.record(0, 0) // empty pages say nothing about item size
    expect(nothing.limit()).toBe(100)
    expect(defaultPagesInFlight(16)).toBe(24)
    expect(defaultPagesInFlight(1)).toBe(2)
  })

  it('never holds more pages than pagesInFlight, across all segments', async () => {
    // Every segment has pages for ever (until 12 pages each); consumers are slow.
    const pagesPerSegment = 12
    const served = new Map<number, number>()
    ddb.on(ScanCommand).callsFake((input: WireScan) => {
      const segment = input.Segment ?? 0
      const n = (served.get(segment) ?? 0) + 1
      served.set(segment, n)
      const item = { pk: { S: `${segment}-${n}` } }
      return Promise.resolve(n < pagesPerSegment ? page([item], item) : page([item]))
    })
    let done = 0
    let mostHeld = 0
    const requested = (): number => ddb.commandCalls(ScanCommand).length
    const totals = await scanTable(
      client,
      { table: 't', segments: 8, pagesInFlight: 5, retryTimeoutMs: 1000, sleep: noSleep },
      async () => {
        // Pages asked for and not yet done with, this one included.
        mostHeld = Math.max(mostHeld, requested() - done)
        await new Promise((resolve) => setTimeout(resolve, 1))
        done++
      }
    )
    expect(totals.pages).toBe(8 * pagesPerSegment)
    expect(mostHeld).toBeGreaterThan(1)
    expect(mostHeld).toBeLessThanOrEqual(5)
  })
})
