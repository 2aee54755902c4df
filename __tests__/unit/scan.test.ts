import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  ScanCommand
} from '@aws-sdk/client-dynamodb'
import { mockClient } from 'aws-sdk-client-mock'
import { scanTable, type ScanPage } from '../../src/dynamo/scan.js'

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
      .resolvesOnce({ Items: [{ pk: { S: 'a' } }], LastEvaluatedKey: { pk: { S: 'a' } } })
      .resolves({ Items: [{ pk: { S: 'b' } }] })
    ddb.on(ScanCommand, { Segment: 1 }).resolves({ Items: [{ pk: { S: 'c' } }] })
    const pages: ScanPage[] = []
    const totals = await scanTable(
      client,
      { table: 't', segments: 2, retryTimeoutMs: 1000, sleep: noSleep },
      async (p) => {
        pages.push(p)
      }
    )
    expect(totals.items).toBe(3)
    expect(pages.map((p) => p.items[0]?.pk?.S).sort()).toEqual(['a', 'b', 'c'])
    const calls = ddb.commandCalls(ScanCommand).map((c) => c.args[0].input)
    expect(calls.every((i) => i.TotalSegments === 2 && i.ConsistentRead === true)).toBe(true)
    expect(calls.find((i) => i.ExclusiveStartKey)?.ExclusiveStartKey).toEqual({ pk: { S: 'a' } })
  })

  it('retries a throttled page', async () => {
    ddb
      .on(ScanCommand)
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: 'slow', $metadata: {} }))
      .resolves({ Items: [{ pk: { S: 'a' } }] })
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
    ddb.on(ScanCommand).resolves({ Items: [] })
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
    const calls = ddb.commandCalls(ScanCommand).map((c) => c.args[0].input)
    expect(calls.map((c) => c.Segment).sort()).toEqual([1, 2])
    expect(calls.find((c) => c.Segment === 1)?.ExclusiveStartKey).toEqual({ pk: { S: 'x' } })
  })
})
