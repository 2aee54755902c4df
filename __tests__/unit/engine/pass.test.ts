import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  BatchWriteItemCommand,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  ScanCommand,
  type BatchWriteItemCommandOutput,
  type ScanCommandOutput
} from '@aws-sdk/client-dynamodb'
import { mockClient } from 'aws-sdk-client-mock'
import { runPass, type DurableProgress } from '../../../src/engine/pass.js'
import { BatchWriter } from '../../../src/dynamo/write.js'
import { ContentDigest } from '../../../src/verify/digest.js'
import type { Item } from '../../../src/types.js'
import { wireAnswer } from '../../support/wire-mock.js'

const ddb = mockClient(DynamoDBClient)
const client = new DynamoDBClient({ region: 'us-east-1' })
const noSleep = async (): Promise<void> => undefined
const item = (pk: string, n: number): Item => ({ pk: { S: pk }, n: { N: String(n) } })

describe('engine/pass.ts', () => {
  beforeEach(() => {
    ddb.reset()
  })

  it('feeds every page of a parallel scan to the writer and the digest, and reports what happened', async () => {
    const segment0 = [item('a', 1), item('b', 2)]
    const segment1 = [item('c', 3)]
    ddb
      .on(ScanCommand, { Segment: 0 })
      .resolvesOnce(
        wireAnswer<ScanCommandOutput>({
          Items: segment0.slice(0, 1),
          LastEvaluatedKey: { pk: { S: 'a' } },
          ConsumedCapacity: { CapacityUnits: 1.5 }
        })
      )
      .resolvesOnce(
        wireAnswer<ScanCommandOutput>({
          Items: segment0.slice(1),
          ConsumedCapacity: { CapacityUnits: 0.5 }
        })
      )
      .on(ScanCommand, { Segment: 1 })
      .rejectsOnce(
        new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} })
      )
      .resolvesOnce(wireAnswer<ScanCommandOutput>({ Items: segment1 }))
    ddb
      .on(BatchWriteItemCommand)
      .rejectsOnce(
        new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} })
      )
      .resolves(
        wireAnswer<BatchWriteItemCommandOutput>({
          UnprocessedItems: {},
          ConsumedCapacity: [{ CapacityUnits: 1 }]
        })
      )
    const writer = new BatchWriter(client, {
      table: 'target',
      keyAttributes: ['pk'],
      maxInFlight: 1,
      retryTimeoutMs: 10_000,
      sleep: noSleep
    })
    let handed = 0
    const result = await runPass(
      { kind: 'table', client, table: 'source', totalSegments: 2 },
      { writer },
      { retryTimeoutMs: 10_000, sleep: noSleep, onItems: (n) => (handed += n) }
    )
    const expected = new ContentDigest()
    for (const i of [...segment0, ...segment1]) expected.add(i)
    expect(result.digest.summary()).toEqual(expected.summary())
    expect(result).toMatchObject({
      items: 3,
      pages: 3,
      readCapacity: 2,
      scanRetries: 1,
      // The throttled scan page and the throttled write.
      throttled: 2,
      writesRetried: 1,
      lowestInFlight: { scan: 1, write: 1 }
    })
    expect(result.writeCapacity).toBeGreaterThan(0)
    expect(handed).toBe(3)
    expect(result.positions).toEqual([
      { segment: 0, done: true },
      { segment: 1, done: true }
    ])
    const written = ddb
      .commandCalls(BatchWriteItemCommand)
      .flatMap((c) => (c.args[0].input.RequestItems?.target ?? []) as unknown[])
    // The three items went out in one batch, which was throttled and sent again whole.
    expect(written.length).toBe(6)
  })

  it('reads a backup source and starts a table source where a checkpoint left it', async () => {
    const fromBackup = await runPass(
      {
        kind: 'reader',
        name: 'backup',
        read: async (onPage) => {
          await onPage([item('x', 1)])
          await onPage([item('y', 2)])
          return 2
        }
      },
      {},
      { retryTimeoutMs: 1_000 }
    )
    expect(fromBackup).toMatchObject({ items: 2, pages: 2, positions: [] })

    ddb.on(ScanCommand).resolves(wireAnswer<ScanCommandOutput>({ Items: [item('z', 3)] }))
    const resumed = await runPass(
      {
        kind: 'table',
        client,
        table: 'source',
        totalSegments: 2,
        startKeys: [null, { pk: { S: 'y' } }]
      },
      {},
      { retryTimeoutMs: 1_000, sleep: noSleep }
    )
    expect(resumed.items).toBe(1)
    const calls = ddb.commandCalls(ScanCommand).map((c) => c.args[0].input)
    expect(calls).toEqual([
      expect.objectContaining({
        Segment: 1,
        TotalSegments: 2,
        ExclusiveStartKey: { pk: { S: 'y' } }
      })
    ])
  })

  it('counts pages durable only once the target has acknowledged their writes', async () => {
    ddb
      .on(ScanCommand, { Segment: 0 })
      .resolvesOnce(
        wireAnswer<ScanCommandOutput>({
          Items: [item('a', 1)],
          LastEvaluatedKey: { pk: { S: 'a' } }
        })
      )
      .resolvesOnce(wireAnswer<ScanCommandOutput>({ Items: [item('b', 2)] }))
      .on(ScanCommand, { Segment: 1 })
      .resolves(wireAnswer<ScanCommandOutput>({ Items: [item('c', 3)] }))
    // Every write waits until the test lets it through.
    let release = (): void => undefined
    const gate = new Promise<void>((resolve) => (release = resolve))
    ddb.on(BatchWriteItemCommand).callsFake(async () => {
      await gate
      return wireAnswer<BatchWriteItemCommandOutput>({ UnprocessedItems: {} })
    })
    const writer = new BatchWriter(client, {
      table: 'target',
      keyAttributes: ['pk'],
      maxInFlight: 4,
      retryTimeoutMs: 1_000,
      sleep: noSleep
    })
    const updates: number[] = []
    let last: DurableProgress | undefined
    const running = runPass(
      { kind: 'table', client, table: 'source', totalSegments: 2 },
      { writer },
      {
        retryTimeoutMs: 1_000,
        sleep: noSleep,
        onDurable: (progress) => {
          updates.push(progress.items)
          last = progress
        }
      }
    )
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(updates).toEqual([])
    release()
    const result = await running
    await new Promise((resolve) => setImmediate(resolve))
    expect(updates.at(-1)).toBe(3)
    expect(last?.positions).toEqual([
      { segment: 0, done: true },
      { segment: 1, done: true }
    ])
    expect(last?.digest.digest).toBe(result.digest.digest)
  })
})
