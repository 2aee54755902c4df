import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  BatchWriteItemCommand,
  DynamoDBClient,
  InternalServerError,
  ProvisionedThroughputExceededException,
  type BatchWriteItemCommandInput,
  type WriteRequest
} from '@aws-sdk/client-dynamodb'
import { mockClient } from 'aws-sdk-client-mock'
import { BatchWriter, MAX_BATCH_BYTES, requestWireSize } from '../../src/dynamo/write.js'
import { largeItem, sizedItem, SENTINEL } from '../../__fixtures__/items.js'
import type { Item } from '../../src/types.js'

const ddb = mockClient(DynamoDBClient)
const client = new DynamoDBClient({ region: 'us-east-1' })

function requestsOf(call: number): WriteRequest[] {
  const input = ddb.commandCalls(BatchWriteItemCommand)[call]?.args[0]
    .input as BatchWriteItemCommandInput
  return input.RequestItems?.t ?? []
}

function pkOf(request: WriteRequest): string {
  return request.PutRequest?.Item?.pk?.S ?? ''
}

function makeWriter(overrides: Partial<ConstructorParameters<typeof BatchWriter>[1]> = {}) {
  const sleeps: number[] = []
  let clock = 0
  const writer = new BatchWriter(client, {
    table: 't',
    keyAttributes: ['pk', 'sk'],
    maxInFlight: 4,
    retryTimeoutMs: 60_000,
    sleep: async (ms) => {
      sleeps.push(ms)
      clock += ms
    },
    now: () => clock,
    random: () => 0.5,
    ...overrides
  })
  return { writer, sleeps }
}

const items = (n: number, prefix = 'k'): Item[] =>
  Array.from({ length: n }, (_, i) => sizedItem(`${prefix}${i}`, i, 100))

describe('write.ts', () => {
  beforeEach(() => {
    ddb.reset()
  })

  it('writes in batches of at most 25', async () => {
    ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} })
    const { writer } = makeWriter()
    await writer.put(items(60))
    await writer.flush()
    const sizes = ddb
      .commandCalls(BatchWriteItemCommand)
      .map((c) => c.args[0].input.RequestItems?.t?.length)
    expect(sizes).toEqual([25, 25, 10])
    expect(writer.stats.written).toBe(60)
  })

  it('retries UnprocessedItems with backoff until none remain', async () => {
    const batch = items(25)
    ddb
      .on(BatchWriteItemCommand)
      .resolvesOnce({
        UnprocessedItems: { t: batch.slice(5).map((Item) => ({ PutRequest: { Item } })) }
      })
      .resolvesOnce({
        UnprocessedItems: { t: batch.slice(20).map((Item) => ({ PutRequest: { Item } })) }
      })
      .resolves({ UnprocessedItems: {} })
    const { writer, sleeps } = makeWriter()
    await writer.put(batch)
    await writer.flush()
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(3)
    expect(requestsOf(1).map(pkOf)).toEqual(batch.slice(5).map((i) => i.pk?.S))
    expect(requestsOf(2).map(pkOf)).toEqual(batch.slice(20).map((i) => i.pk?.S))
    // Full jitter with random()=0.5: half of 25 ms * 2^attempt.
    expect(sleeps).toEqual([12, 25])
    expect(writer.stats.written).toBe(25)
    expect(writer.stats.unprocessedRetried).toBe(25)
  })

  it('retries throttling and 5xx errors', async () => {
    ddb
      .on(BatchWriteItemCommand)
      .rejectsOnce(
        new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} })
      )
      .rejectsOnce(new InternalServerError({ message: 'oops', $metadata: { httpStatusCode: 500 } }))
      .resolves({ UnprocessedItems: {} })
    const { writer, sleeps } = makeWriter()
    await writer.put(items(3))
    await writer.flush()
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(3)
    expect(requestsOf(2)).toHaveLength(3)
    expect(sleeps).toHaveLength(2)
    expect(writer.stats.errorsRetried).toBe(2)
    expect(writer.stats.written).toBe(3)
  })

  it('retries a dropped connection', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    ddb.on(BatchWriteItemCommand).rejectsOnce(reset).resolves({ UnprocessedItems: {} })
    const { writer } = makeWriter()
    await writer.put(items(2))
    await writer.flush()
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(2)
  })

  it('fails at once on a validation error, naming the key but no value', async () => {
    ddb.on(BatchWriteItemCommand).rejects(
      Object.assign(new Error('Type mismatch for key'), {
        name: 'ValidationException',
        $metadata: { httpStatusCode: 400 }
      })
    )
    const { writer } = makeWriter()
    await writer.put(items(2))
    const error = await writer.flush().then(
      () => undefined,
      (e: unknown) => e as Error
    )
    expect(error?.message).toMatch(
      /rejected a write to table 't' \(ValidationException: Type mismatch for key\)/
    )
    expect(error?.message).toContain('pk="k0", sk=0')
    expect(error?.message).not.toContain(SENTINEL)
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(1)
  })

  it('gives up after the retry timeout without progress and names the keys', async () => {
    const batch = items(2)
    ddb
      .on(BatchWriteItemCommand)
      .resolves({ UnprocessedItems: { t: batch.map((Item) => ({ PutRequest: { Item } })) } })
    const { writer, sleeps } = makeWriter({ retryTimeoutMs: 5_000 })
    await writer.put(batch)
    const error = await writer.flush().then(
      () => undefined,
      (e: unknown) => e as Error
    )
    expect(error?.message).toMatch(/Gave up writing 2 item\(s\) to table 't'/)
    expect(error?.message).toContain('pk="k0", sk=0; pk="k1", sk=1')
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(5_000)
    expect(sleeps.length).toBeGreaterThan(3)
  })

  it('never puts one key twice in a batch and keeps their order', async () => {
    ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} })
    const { writer } = makeWriter()
    const first = sizedItem('same', 1, 100)
    const second = { ...sizedItem('same', 1, 100), name: { S: 'second' } }
    await writer.put([first, sizedItem('other', 2, 100), second])
    await writer.flush()
    const calls = ddb.commandCalls(BatchWriteItemCommand)
    expect(calls).toHaveLength(2)
    for (let i = 0; i < calls.length; i++) {
      const keys = requestsOf(i).map((r) => `${pkOf(r)}|${r.PutRequest?.Item?.sk?.N}`)
      expect(new Set(keys).size).toBe(keys.length)
    }
    expect(requestsOf(1)[0]?.PutRequest?.Item?.name?.S).toBe('second')
  })

  it('keeps a request under 16 MB', async () => {
    ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} })
    const { writer } = makeWriter()
    // Strings of characters that JSON escapes to six bytes each: 25 of them would be ~60 MB.
    const escaped: Item[] = Array.from({ length: 25 }, (_, i) => ({
      pk: { S: `e${i}` },
      sk: { N: '1' },
      payload: { S: '\u0001'.repeat(390 * 1024) }
    }))
    await writer.put([...escaped, largeItem('l1', 'B'), largeItem('l2', 'S')])
    await writer.flush()
    const calls = ddb.commandCalls(BatchWriteItemCommand)
    expect(calls.length).toBeGreaterThan(1)
    for (const call of calls) {
      const size = Buffer.byteLength(
        JSON.stringify(call.args[0].input, (_k, v: unknown) =>
          v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v
        )
      )
      expect(size).toBeLessThan(MAX_BATCH_BYTES)
    }
    expect(writer.stats.written).toBe(27)
  })

  it('estimates the wire size of an item from above', () => {
    for (const item of [
      sizedItem('a', 1),
      largeItem('b', 'B'),
      largeItem('c', 'S'),
      { pk: { S: '\u0001'.repeat(100) } }
    ]) {
      const exact = Buffer.byteLength(
        JSON.stringify(item, (_k, v: unknown) =>
          v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v
        )
      )
      expect(requestWireSize(item)).toBeGreaterThanOrEqual(exact)
    }
  })

  it('keeps at most maxInFlight calls running', async () => {
    let running = 0
    let peak = 0
    ddb.on(BatchWriteItemCommand).callsFake(async () => {
      running++
      peak = Math.max(peak, running)
      await new Promise((resolve) => setTimeout(resolve, 5))
      running--
      return { UnprocessedItems: {} }
    })
    const { writer } = makeWriter({ maxInFlight: 3 })
    await writer.put(items(250))
    await writer.flush()
    expect(peak).toBe(3)
    expect(writer.stats.written).toBe(250)
  })
})
