import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  ScanCommand,
  type ScanCommandOutput
} from '@aws-sdk/client-dynamodb'
import { mockClient } from 'aws-sdk-client-mock'
import { scanTable, type ScanPage } from '../../../src/dynamo/scan.js'
import type { Item } from '../../../src/types.js'
import { everyTypeItem } from '../../../__fixtures__/items.js'
import { textOf, wireAnswer, wireInput } from '../../support/wire-mock.js'

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

const ddb = mockClient(DynamoDBClient)
const client = new DynamoDBClient({ region: 'us-east-1' })
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
    expect(pages.map((p) => textOf(p.items[0]?.pk)).sort()).toEqual(['a', 'b', 'c'])
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
    expect(pages.flatMap((p) => p.items)).toEqual([first, everyTypeItem('b')])
    expect(pages[0]?.items[0]).toBe(first)
    const calls = ddb.commandCalls(ScanCommand).map((c) => wireInput<WireScan>(c))
    expect(calls[0]).toEqual({
      TableName: 't',
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL'
    })
    expect(calls[0]).not.toHaveProperty('ExclusiveStartKey')
    expect(calls[1]?.ExclusiveStartKey).toBe(key)
    expect(Object.keys(calls[1]?.ExclusiveStartKey ?? {})).toEqual(['__proto__', 'b'])
    expect(JSON.stringify(calls[1])).toContain(
      '"ExclusiveStartKey":{"__proto__":{"S":"p"},"b":{"B":"AP8="}}'
    )
  })
})
