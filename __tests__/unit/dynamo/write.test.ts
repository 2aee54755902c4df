import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  BatchWriteItemCommand,
  DynamoDBClient,
  InternalServerError,
  ProvisionedThroughputExceededException,
  type BatchWriteItemCommandOutput
} from '@aws-sdk/client-dynamodb'
import { mockClient } from 'aws-sdk-client-mock'
import { BatchWriter, MAX_BATCH_BYTES } from '../../../src/dynamo/write.js'
import { everyTypeItem, largeItem, sizedItem, SENTINEL } from '../../../__fixtures__/items.js'
import type { Item } from '../../../src/types.js'
import {
  capturingClient,
  numberOf,
  putItem,
  textOf,
  wireAnswer,
  wireInput,
  type WireWriteRequest
} from '../../support/wire-mock.js'

const client = new DynamoDBClient({ region: 'us-east-1' })
// This client only: capturingClient's clients send through their own HTTP handler.
const ddb = mockClient(client)

/** BatchWriteItem's wire request, as the product handed it to the command. */
interface WireBatchWrite {
  RequestItems: Record<string, WireWriteRequest[]>
  ReturnConsumedCapacity?: string
}

const inputOf = (call: number): WireBatchWrite =>
  wireInput<WireBatchWrite>(ddb.commandCalls(BatchWriteItemCommand)[call]!)

function requestsOf(call: number): WireWriteRequest[] {
  return inputOf(call).RequestItems.t ?? []
}

function pkOf(request: WireWriteRequest): string {
  return textOf(putItem(request)?.pk) ?? ''
}

/** A BatchWriteItem answer in wire form. */
const answer = (
  unprocessed: Record<string, WireWriteRequest[]> = {}
): BatchWriteItemCommandOutput =>
  wireAnswer<BatchWriteItemCommandOutput>({ UnprocessedItems: unprocessed })

const puts = (list: readonly Item[]): WireWriteRequest[] =>
  list.map((Item) => ({ PutRequest: { Item } }))

/** Bytes of a JSON text, as it goes on the wire (UTF-8). */
const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value))

function makeWriter(
  overrides: Partial<ConstructorParameters<typeof BatchWriter>[1]> = {},
  on: DynamoDBClient = client
) {
  const sleeps: number[] = []
  let clock = 0
  const writer = new BatchWriter(on, {
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
    ddb.on(BatchWriteItemCommand).resolves(answer())
    const { writer } = makeWriter()
    const list = items(60)
    await writer.put(list)
    await writer.flush()
    const calls = ddb.commandCalls(BatchWriteItemCommand)
    expect(calls.map((_, i) => requestsOf(i).length)).toEqual([25, 25, 10])
    // The input is the whole wire request: every item as it was given, in order.
    expect(calls.flatMap((_, i) => requestsOf(i))).toEqual(puts(list))
    expect(inputOf(0)).toEqual({
      RequestItems: { t: puts(list.slice(0, 25)) },
      ReturnConsumedCapacity: 'TOTAL'
    })
    expect(writer.stats.written).toBe(60)
  })

  it('retries UnprocessedItems with backoff until none remain', async () => {
    const batch = items(25)
    ddb
      .on(BatchWriteItemCommand)
      .resolvesOnce(answer({ t: puts(batch.slice(5)) }))
      .resolvesOnce(answer({ t: puts(batch.slice(20)) }))
      .resolves(answer())
    const { writer, sleeps } = makeWriter()
    await writer.put(batch)
    await writer.flush()
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(3)
    expect(requestsOf(1).map(pkOf)).toEqual(batch.slice(5).map((i) => textOf(i.pk)))
    expect(requestsOf(2).map(pkOf)).toEqual(batch.slice(20).map((i) => textOf(i.pk)))
    expect(requestsOf(2)).toEqual(puts(batch.slice(20)))
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
      .resolves(answer())
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
    ddb.on(BatchWriteItemCommand).rejectsOnce(reset).resolves(answer())
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
    ddb.on(BatchWriteItemCommand).resolves(answer({ t: puts(batch) }))
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
    ddb.on(BatchWriteItemCommand).resolves(answer())
    const { writer } = makeWriter()
    const first = sizedItem('same', 1, 100)
    const second: Item = { ...sizedItem('same', 1, 100), name: { S: 'second' } }
    await writer.put([first, sizedItem('other', 2, 100), second])
    await writer.flush()
    const calls = ddb.commandCalls(BatchWriteItemCommand)
    expect(calls).toHaveLength(2)
    for (let i = 0; i < calls.length; i++) {
      const keys = requestsOf(i).map((r) => `${pkOf(r)}|${numberOf(putItem(r)?.sk)}`)
      expect(new Set(keys).size).toBe(keys.length)
    }
    expect(textOf(putItem(requestsOf(1)[0])?.name)).toBe('second')
  })

  it('keeps every request under 16 MB of JSON, splitting batches by bytes', async () => {
    ddb.on(BatchWriteItemCommand).resolves(answer())
    const { writer } = makeWriter()
    // Strings of characters that JSON escapes to six bytes each: 25 of them would be ~60 MB.
    const escaped: Item[] = Array.from({ length: 25 }, (_, i) => ({
      pk: { S: `e${i}` },
      sk: { N: '1' },
      payload: { S: '\u0001'.repeat(390 * 1024) }
    }))
    const list = [...escaped, largeItem('l1', 'B'), largeItem('l2', 'S')]
    await writer.put(list)
    await writer.flush()
    const calls = ddb.commandCalls(BatchWriteItemCommand)
    const sizes = calls.map((_, i) => jsonBytes(inputOf(i)))
    // The request's body is its JSON text exactly (see the next test): under 16 MB, 25 at most.
    for (const size of sizes) expect(size).toBeLessThan(MAX_BATCH_BYTES)
    for (let i = 0; i < calls.length; i++) expect(requestsOf(i).length).toBeLessThanOrEqual(25)
    // Split by bytes, not by count: 27 items, yet no call carries 25 of them ...
    expect(Math.max(...calls.map((_, i) => requestsOf(i).length))).toBeLessThan(25)
    expect(calls.length).toBeGreaterThanOrEqual(Math.ceil(jsonBytes(puts(list)) / MAX_BATCH_BYTES))
    // ... and not more than needed: a call cut short had no room for the next request.
    for (let i = 0; i + 1 < calls.length; i++) {
      const next = jsonBytes(requestsOf(i + 1)[0])
      expect(sizes[i]! + next + 1).toBeGreaterThan(MAX_BATCH_BYTES - 1024 * 1024)
    }
    expect(calls.flatMap((_, i) => requestsOf(i))).toEqual(puts(list))
    expect(writer.stats.written).toBe(27)
  })

  it('counts JSON escapes and UTF-8 bytes, not characters', async () => {
    ddb.on(BatchWriteItemCommand).resolves(answer())
    const { writer } = makeWriter()
    // Each item just under 400 KB as DynamoDB counts it, 690 KB of JSON (every quote escaped
    // as \" and every 世 three UTF-8 bytes) but only 616 K characters of it: 25 of them are
    // under 16 MB counted in characters and over it counted in bytes, as the wire counts.
    const list: Item[] = Array.from({ length: 25 }, (_, i) => ({
      pk: { S: `q${i}` },
      sk: { N: '1' },
      quotes: { S: '"'.repeat(290 * 1024) },
      wide: { S: '世'.repeat(36 * 1024) }
    }))
    const chars = JSON.stringify(puts(list)).length
    expect(chars).toBeLessThan(MAX_BATCH_BYTES - 512 * 1024)
    expect(jsonBytes(puts(list))).toBeGreaterThan(MAX_BATCH_BYTES)
    await writer.put(list)
    await writer.flush()
    const calls = ddb.commandCalls(BatchWriteItemCommand)
    expect(calls.length).toBeGreaterThan(1)
    for (let i = 0; i < calls.length; i++)
      expect(jsonBytes(inputOf(i))).toBeLessThan(MAX_BATCH_BYTES)
    expect(calls.flatMap((_, i) => requestsOf(i))).toEqual(puts(list))
  })

  it('sends the wire request as its own JSON text, __proto__ and all', async () => {
    const { client: wire, requests } = capturingClient(() => '{"UnprocessedItems":{}}')
    const { writer } = makeWriter({}, wire)
    const proto = JSON.parse(
      '{"pk":{"S":"p"},"sk":{"N":"1"},"__proto__":{"S":"kept"},"m":{"M":{"__proto__":{"B":"AP8="}}}}'
    ) as Item
    const list = [everyTypeItem('every'), proto, ...items(30)]
    await writer.put(list)
    await writer.flush()
    expect(requests.map((r) => r.target)).toEqual([
      'DynamoDB_20120810.BatchWriteItem',
      'DynamoDB_20120810.BatchWriteItem'
    ])
    const sent = requests.map((r) => JSON.parse(r.body) as WireBatchWrite)
    expect(sent.flatMap((r) => r.RequestItems.t ?? [])).toEqual(puts(list))
    expect(requests[0]!.body).toBe(
      JSON.stringify({
        RequestItems: { t: puts(list.slice(0, 25)) },
        ReturnConsumedCapacity: 'TOTAL'
      })
    )
    expect(Object.keys(sent[0]!.RequestItems.t![1]!)).toEqual(['PutRequest'])
    expect(Object.keys(putItem(sent[0]!.RequestItems.t![1])!)).toEqual([
      'pk',
      'sk',
      '__proto__',
      'm'
    ])
    for (const r of requests) {
      expect(r.contentLength).toBe(String(Buffer.byteLength(r.body)))
      expect(Buffer.byteLength(r.body)).toBeLessThan(MAX_BATCH_BYTES)
    }
    expect(writer.stats.written).toBe(32)
  })

  it('keeps a request of big escaped items under 16 MB on the wire itself', async () => {
    const { client: wire, requests } = capturingClient(() => '{}')
    const { writer } = makeWriter({}, wire)
    const list: Item[] = Array.from({ length: 25 }, (_, i) => ({
      pk: { S: `e${i}` },
      sk: { N: '1' },
      payload: { S: '\u0001'.repeat(390 * 1024) }
    }))
    await writer.put(list)
    await writer.flush()
    expect(requests.length).toBeGreaterThan(1)
    for (const r of requests) {
      expect(Buffer.byteLength(r.body)).toBeLessThan(MAX_BATCH_BYTES)
      expect(r.contentLength).toBe(String(Buffer.byteLength(r.body)))
    }
    const sent = requests.flatMap(
      (r) => (JSON.parse(r.body) as WireBatchWrite).RequestItems.t ?? []
    )
    expect(sent).toEqual(puts(list))
  })

  it('keeps at most maxInFlight calls running', async () => {
    let running = 0
    let peak = 0
    ddb.on(BatchWriteItemCommand).callsFake(async () => {
      running++
      peak = Math.max(peak, running)
      await new Promise((resolve) => setTimeout(resolve, 5))
      running--
      return answer()
    })
    const { writer } = makeWriter({ maxInFlight: 3 })
    await writer.put(items(250))
    await writer.flush()
    expect(peak).toBe(3)
    expect(writer.stats.written).toBe(250)
  })
})
