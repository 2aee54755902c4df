// Proves the test infrastructure itself: the emulators that global-setup.ts starts answer real
// SDK calls, and the fault proxy really injects the faults it claims to (and nothing else).
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import zlib from 'node:zlib'
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  type AttributeValue,
  type WriteRequest
} from '@aws-sdk/client-dynamodb'
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client
} from '@aws-sdk/client-s3'
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts'
import { Upload } from '@aws-sdk/lib-storage'
import { jest } from '@jest/globals'
import {
  ddbEndpoint,
  localDynamoClient,
  localS3Client,
  localStsClient,
  motoEndpoint,
  uniqueName
} from '../support/env.js'
import { mergeUnprocessed, startFaultProxy, type FaultProxy } from '../support/fault-proxy.js'
import { callDynamo, RawDynamoError } from '../support/raw-dynamodb.js'
import {
  canonicalContents,
  deleteItem,
  putItem,
  scanAll,
  seed,
  createTable as createKeyedTable,
  tableDefinition
} from '../support/tables.js'
import { itemKey, oracleText, parseJsonItem } from '../support/oracle.js'
import {
  everyTypeItem,
  largeItem,
  prototypeNamesItem,
  sizedItem
} from '../../__fixtures__/items.js'

jest.setTimeout(60_000)

const ddb = (): DynamoDBClient => localDynamoClient()

async function createTable(client: DynamoDBClient, prefix: string): Promise<string> {
  const TableName = uniqueName(prefix)
  await client.send(
    new CreateTableCommand({
      TableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST'
    })
  )
  return TableName
}

async function itemExists(client: DynamoDBClient, TableName: string, pk: string): Promise<boolean> {
  const out = await client.send(
    new GetItemCommand({ TableName, Key: { pk: { S: pk } }, ConsistentRead: true })
  )
  return out.Item !== undefined
}

const item = (pk: string, n: number): Record<string, AttributeValue> => ({
  pk: { S: pk },
  n: { N: String(n) },
  payload: { S: `value-${pk}` }
})

/** Run `fn`, expect it to reject, and hand back what it rejected with. */
async function rejectionOf(fn: () => Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await fn()
  } catch (error) {
    if (error instanceof Error) return error as Error & Record<string, unknown>
    throw new Error(`rejected with a non-Error: ${String(error)}`)
  }
  throw new Error('expected a rejection, but the call succeeded')
}

const httpStatusOf = (error: Record<string, unknown>): number | undefined =>
  (error.$metadata as { httpStatusCode?: number } | undefined)?.httpStatusCode

describe('emulator environment', () => {
  it('exports http endpoints for DynamoDB Local and moto', () => {
    expect(new URL(ddbEndpoint()).protocol).toBe('http:')
    expect(new URL(motoEndpoint()).protocol).toBe('http:')
    expect(ddbEndpoint()).not.toBe(motoEndpoint())
  })

  it('makes unique names that are valid table and bucket names', () => {
    const names = Array.from({ length: 200 }, () => uniqueName('My_Table.Name!'))
    expect(new Set(names).size).toBe(names.length)
    for (const name of [...names, uniqueName(''), uniqueName('9lives'), uniqueName('xn--x')]) {
      expect(name).toMatch(/^[a-z][a-z0-9-]{1,61}[a-z0-9]$/)
      expect(name).not.toMatch(/--/)
    }
  })
})

describe('DynamoDB Local', () => {
  it('answers CreateTable, PutItem and Scan', async () => {
    const client = ddb()
    try {
      const TableName = await createTable(client, 'infra-basic')
      await client.send(new PutItemCommand({ TableName, Item: item('a', 1) }))
      await client.send(new PutItemCommand({ TableName, Item: item('b', 2) }))
      const scan = await client.send(new ScanCommand({ TableName, ConsistentRead: true }))
      expect(scan.Count).toBe(2)
      const byKey = Object.fromEntries((scan.Items ?? []).map((i) => [i.pk?.S, i]))
      expect(byKey).toEqual({ a: item('a', 1), b: item('b', 2) })
      await client.send(new DeleteTableCommand({ TableName }))
    } finally {
      client.destroy()
    }
  })
})

describe('raw-dynamodb.ts and the table helpers (the oracle reads tables through them)', () => {
  const client = localDynamoClient()
  afterAll(() => client.destroy())

  it('seeds and scans wire-form items back exactly: __proto__, binary, 38 digits, 400 KB', async () => {
    const table = uniqueName('infra-raw')
    await createKeyedTable(client, tableDefinition(table))
    const items = [
      everyTypeItem('every'),
      prototypeNamesItem('proto'),
      largeItem('large-b', 'B'),
      ...Array.from({ length: 60 }, (_, i) => sizedItem(`s${i % 7}`, i, 2000))
    ]
    await seed(client, table, items)
    const scanned = await scanAll(client, table)
    expect(scanned).toHaveLength(items.length)
    // What went in as JSON text comes back as equal JSON (DynamoDB normalises numbers and
    // orders sets its own way, so compare through the oracle), names and all.
    const byKey = new Map(scanned.map((item) => [itemKey(parseJsonItem(item)), item]))
    for (const item of items) {
      const back = byKey.get(itemKey(parseJsonItem(item)))!
      expect(Object.keys(back).sort()).toEqual(Object.keys(item).sort())
      expect(oracleText(parseJsonItem(back))).toBe(oracleText(parseJsonItem(item)))
    }
    const proto = byKey.get('proto|1')!
    expect(Object.hasOwn(proto, '__proto__')).toBe(true)
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype)
    expect(JSON.stringify(proto)).toContain('"__proto__":{"S":"top proto"}')
    expect(byKey.get('large-b|3')?.payload).toEqual(largeItem('x', 'B').payload)
    const contents = await canonicalContents(client, table)
    expect(contents.size).toBe(items.length)

    await putItem(client, table, { ...sizedItem('s0', 0, 100), name: { S: 'changed' } })
    await deleteItem(client, table, { pk: { S: 's1' }, sk: { N: '1' } })
    const after = await canonicalContents(client, table)
    expect(after.size).toBe(items.length - 1)
    expect(after.has('s1|1')).toBe(false)
    expect(after.get('s0|0')).toContain('["name",["S","changed"]]')
    await client.send(new DeleteTableCommand({ TableName: table }))
  })

  it('pages a scan to its end', async () => {
    const table = uniqueName('infra-pages')
    await createKeyedTable(client, tableDefinition(table))
    // ~3.2 MB: DynamoDB Local answers a Scan 1 MB at a time.
    const items = Array.from({ length: 80 }, (_, i) => largeItem(`p${i}`, 'S'))
    await seed(client, table, items)
    const pages: number[] = []
    let startKey: object | undefined
    do {
      const page = await callDynamo<{ Count: number; LastEvaluatedKey?: object }>(
        ddbEndpoint(),
        'Scan',
        { TableName: table, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }
      )
      pages.push(page.Count)
      startKey = page.LastEvaluatedKey
    } while (startKey)
    expect(pages.length).toBeGreaterThan(2)
    expect((await scanAll(client, table)).length).toBe(80)
    await client.send(new DeleteTableCommand({ TableName: table }))
  })

  it("reads moto's tables through a moto client, and names DynamoDB's error", async () => {
    const moto = localDynamoClient(motoEndpoint())
    try {
      const table = uniqueName('infra-raw-moto')
      await createKeyedTable(moto, tableDefinition(table))
      await seed(moto, table, [sizedItem('m', 1)])
      expect([...(await canonicalContents(moto, table)).keys()]).toEqual(['m|1'])
      expect(await canonicalContents(moto, table, motoEndpoint())).toEqual(
        await canonicalContents(moto, table)
      )
      // Not on DynamoDB Local: the helpers follow the client's endpoint.
      const missing = await canonicalContents(client, table).then(
        () => undefined,
        (error: unknown) => error
      )
      expect(missing).toBeInstanceOf(RawDynamoError)
      expect((missing as RawDynamoError).type).toBe('ResourceNotFoundException')
    } finally {
      moto.destroy()
    }
  })
})

describe('moto', () => {
  let s3: S3Client
  beforeAll(() => {
    s3 = localS3Client()
  })
  afterAll(() => s3.destroy())

  it('does a multipart upload with lib-storage and reads it back byte-exact', async () => {
    const Bucket = uniqueName('infra-bucket')
    const Key = 'dir/object.bin'
    await s3.send(new CreateBucketCommand({ Bucket }))
    const body = randomBytes(11 * 1024 * 1024 + 123) // 3 parts of 5 MiB, 5 MiB, ~1 MiB
    const upload = new Upload({
      client: s3,
      params: { Bucket, Key, Body: body },
      partSize: 5 * 1024 * 1024,
      queueSize: 2
    })
    const parts: number[] = []
    upload.on('httpUploadProgress', (progress) => {
      if (progress.part !== undefined) parts.push(progress.part)
    })
    await upload.done()
    expect(new Set(parts)).toEqual(new Set([1, 2, 3]))

    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }))
    expect(head.ContentLength).toBe(body.length)
    expect(head.ETag).toMatch(/-3"$/) // a multipart ETag: md5-of-md5s "-<parts>"

    const got = await s3.send(new GetObjectCommand({ Bucket, Key }))
    const bytes = Buffer.from(await got.Body!.transformToByteArray())
    expect(bytes.length).toBe(body.length)
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      createHash('sha256').update(body).digest('hex')
    )
  })

  it('answers STS GetCallerIdentity', async () => {
    const sts = localStsClient()
    try {
      const me = await sts.send(new GetCallerIdentityCommand({}))
      expect(me.Account).toBe('123456789012')
      expect(me.Arn).toMatch(/^arn:aws:(iam|sts)::123456789012:/)
    } finally {
      sts.destroy()
    }
  })
})

describe('fault-proxy.ts', () => {
  let direct: DynamoDBClient
  let table: string
  const proxies: FaultProxy[] = []
  const clients: DynamoDBClient[] = []

  /** A proxy in front of DynamoDB Local and a client through it with SDK retries off. */
  async function proxied(
    ...args: Parameters<typeof startFaultProxy>
  ): Promise<{ proxy: FaultProxy; client: DynamoDBClient }> {
    const proxy = await startFaultProxy(args[0])
    proxies.push(proxy)
    const client = localDynamoClient(proxy.endpoint, { maxAttempts: 1 })
    clients.push(client)
    return { proxy, client }
  }

  beforeAll(async () => {
    direct = ddb()
    table = await createTable(direct, 'infra-faults')
  })

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy()
    await Promise.all(proxies.splice(0).map((proxy) => proxy.stop()))
  })

  afterAll(() => direct.destroy())

  it('passes requests through untouched when no fault is planned', async () => {
    const { proxy, client } = await proxied({ target: ddbEndpoint() })
    await client.send(new PutItemCommand({ TableName: table, Item: item('plain', 1) }))
    const out = await client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: 'plain' } }, ConsistentRead: true })
    )
    expect(out.Item).toEqual(item('plain', 1))
    expect(proxy.stats.requests).toEqual({ PutItem: 1, GetItem: 1 })
    expect(proxy.stats.forwarded).toBe(2)
    expect(proxy.stats.events.every((event) => event.fault === null)).toBe(true)
  })

  it('moves a proper subset of a BatchWriteItem to UnprocessedItems, and writes only the rest', async () => {
    const other = await createTable(direct, 'infra-faults-b')
    const { proxy, client } = await proxied({
      target: ddbEndpoint(),
      seed: 7,
      faults: { BatchWriteItem: { unprocessed: 1 } }
    })
    const requested: Record<string, WriteRequest[]> = {
      [table]: Array.from({ length: 6 }, (_, i) => ({ PutRequest: { Item: item(`bw-${i}`, i) } })),
      [other]: Array.from({ length: 6 }, (_, i) => ({ PutRequest: { Item: item(`bw-${i}`, i) } }))
    }
    const out = await client.send(new BatchWriteItemCommand({ RequestItems: requested }))

    const unprocessed = out.UnprocessedItems ?? {}
    const returned = Object.entries(unprocessed).flatMap(([tableName, requests]) =>
      requests.map((request) => ({ tableName, request }))
    )
    expect(returned.length).toBeGreaterThanOrEqual(1)
    expect(returned.length).toBeLessThanOrEqual(11)
    // Exactly DynamoDB's shape: { table: [{ PutRequest: { Item } }] }, items unchanged.
    for (const { tableName, request } of returned) {
      expect(Object.keys(request)).toEqual(['PutRequest'])
      expect(requested[tableName]).toContainEqual(request)
    }
    expect(proxy.stats.injected.unprocessed).toBe(1)
    expect(proxy.stats.injected.unprocessedItems).toBe(returned.length)
    expect(proxy.stats.requests.BatchWriteItem).toBe(1)

    // Returned ones were not written; all the others were.
    for (const [tableName, requests] of Object.entries(requested)) {
      for (const request of requests) {
        const pk = request.PutRequest!.Item!.pk!.S!
        const wasReturned = (unprocessed[tableName] ?? []).some(
          (r) => r.PutRequest?.Item?.pk?.S === pk
        )
        expect({ tableName, pk, written: await itemExists(direct, tableName, pk) }).toEqual({
          tableName,
          pk,
          written: !wasReturned
        })
      }
    }

    // Retrying exactly the returned requests (as a client must) completes the batch.
    proxy.setFaults({})
    const retry = await client.send(new BatchWriteItemCommand({ RequestItems: unprocessed }))
    expect(retry.UnprocessedItems ?? {}).toEqual({})
    const scan = await direct.send(new ScanCommand({ TableName: other, ConsistentRead: true }))
    expect(scan.Count).toBe(6)
  })

  it('moves a proper subset of a BatchGetItem to UnprocessedKeys, keeping the table options', async () => {
    for (let i = 0; i < 8; i++) {
      await direct.send(new PutItemCommand({ TableName: table, Item: item(`bg-${i}`, i) }))
    }
    const { proxy, client } = await proxied({
      target: ddbEndpoint(),
      seed: 3,
      faults: { BatchGetItem: { unprocessed: 1 } }
    })
    const keys = Array.from({ length: 8 }, (_, i) => ({ pk: { S: `bg-${i}` } }))
    const out = await client.send(
      new BatchGetItemCommand({
        RequestItems: {
          [table]: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'pk, n' }
        }
      })
    )
    const got = (out.Responses?.[table] ?? []).map((i) => i.pk?.S)
    const pending = out.UnprocessedKeys?.[table]
    expect(pending?.ConsistentRead).toBe(true)
    expect(pending?.ProjectionExpression).toBe('pk, n')
    const pendingKeys = (pending?.Keys ?? []).map((k) => k.pk?.S)
    expect(pendingKeys.length).toBeGreaterThanOrEqual(1)
    expect(got.length).toBeGreaterThanOrEqual(1)
    expect([...got, ...pendingKeys].sort()).toEqual(keys.map((k) => k.pk.S).sort())
    expect(proxy.stats.injected.unprocessedKeys).toBe(pendingKeys.length)
    // The projection was forwarded: the payload attribute is absent.
    expect(out.Responses?.[table]?.[0]).not.toHaveProperty('payload')
  })

  it('recomputes x-amz-crc32 for a rewritten response', async () => {
    const { proxy } = await proxied({
      target: ddbEndpoint(),
      faults: { BatchWriteItem: { unprocessed: 1 } }
    })
    const body = JSON.stringify({
      RequestItems: {
        [table]: [0, 1, 2].map((i) => ({ PutRequest: { Item: item(`crc-${i}`, i) } }))
      }
    })
    const res = await new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>(
      (resolve, reject) => {
        const req = http.request(
          proxy.endpoint,
          {
            method: 'POST',
            headers: {
              'content-type': 'application/x-amz-json-1.0',
              'x-amz-target': 'DynamoDB_20120810.BatchWriteItem',
              // DynamoDB Local wants an Authorization header but does not check the signature.
              authorization:
                'AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/dynamodb/aws4_request, ' +
                'SignedHeaders=host, Signature=00'
            }
          },
          (response) => {
            const chunks: Buffer[] = []
            response.on('data', (chunk: Buffer) => chunks.push(chunk))
            response.on('end', () =>
              resolve({ headers: response.headers, body: Buffer.concat(chunks) })
            )
          }
        )
        req.on('error', reject)
        req.end(body)
      }
    )
    const parsed = JSON.parse(res.body.toString('utf8'))
    expect(parsed.UnprocessedItems[table].length).toBeGreaterThanOrEqual(1)
    expect(res.headers['content-length']).toBe(String(res.body.length))
    expect(res.headers['x-amz-crc32']).toBe(String(zlib.crc32(res.body)))
  })

  it.each([
    ['ProvisionedThroughputExceededException', undefined, 400],
    ['ThrottlingException', 'ThrottlingException' as const, 400]
  ])('throttles with %s without forwarding', async (name, throttleType, status) => {
    const { proxy, client } = await proxied({
      target: ddbEndpoint(),
      faults: { PutItem: { throttle: 1, ...(throttleType ? { throttleType } : {}) } }
    })
    const pk = uniqueName('throttled')
    const error = await rejectionOf(() =>
      client.send(new PutItemCommand({ TableName: table, Item: item(pk, 1) }))
    )
    expect(error.name).toBe(name)
    expect(httpStatusOf(error)).toBe(status)
    expect(proxy.stats.injected.throttle).toBe(1)
    expect(proxy.stats.forwarded).toBe(0)
    expect(await itemExists(direct, table, pk)).toBe(false)
  })

  it('answers InternalServerError (HTTP 500) without forwarding', async () => {
    const { proxy, client } = await proxied({
      target: ddbEndpoint(),
      faults: { '*': { serverError: 1 } }
    })
    const pk = uniqueName('five-hundred')
    const error = await rejectionOf(() =>
      client.send(new PutItemCommand({ TableName: table, Item: item(pk, 1) }))
    )
    expect(error.name).toBe('InternalServerError')
    expect(httpStatusOf(error)).toBe(500)
    expect(proxy.stats.injected.serverError).toBe(1)
    expect(await itemExists(direct, table, pk)).toBe(false)
  })

  it('drops the connection without forwarding: a network error, nothing written', async () => {
    const { proxy, client } = await proxied({
      target: ddbEndpoint(),
      faults: { PutItem: { drop: 1 } }
    })
    const pk = uniqueName('dropped')
    const error = await rejectionOf(() =>
      client.send(new PutItemCommand({ TableName: table, Item: item(pk, 1) }))
    )
    expect(httpStatusOf(error)).toBeUndefined() // no HTTP response at all
    expect(`${String(error.code)} ${error.message}`).toMatch(/ECONNRESET|socket hang up/i)
    expect(proxy.stats.injected.drop).toBe(1)
    expect(proxy.stats.forwarded).toBe(0)
    expect(await itemExists(direct, table, pk)).toBe(false)
  })

  it('drops the connection after forwarding: the write happened, the client saw an error', async () => {
    const { proxy, client } = await proxied({
      target: ddbEndpoint(),
      faults: { PutItem: { dropAfterForward: 1 } }
    })
    const pk = uniqueName('written-then-dropped')
    const error = await rejectionOf(() =>
      client.send(new PutItemCommand({ TableName: table, Item: item(pk, 1) }))
    )
    expect(httpStatusOf(error)).toBeUndefined()
    expect(`${String(error.code)} ${error.message}`).toMatch(/ECONNRESET|socket hang up/i)
    expect(proxy.stats.injected.dropAfterForward).toBe(1)
    expect(proxy.stats.forwarded).toBe(1)
    expect(await itemExists(direct, table, pk)).toBe(true)
  })

  it('bounds faults with maxFaults and onlyFirstN, so SDK retries get through', async () => {
    const proxy = await startFaultProxy({
      target: ddbEndpoint(),
      faults: { PutItem: { throttle: 1, maxFaults: 2 } }
    })
    proxies.push(proxy)
    // The SDK's standard retry strategy, 3 attempts: two throttles, then success.
    const client = localDynamoClient(proxy.endpoint, { maxAttempts: 3 })
    clients.push(client)
    const pk = uniqueName('retried')
    const out = await client.send(new PutItemCommand({ TableName: table, Item: item(pk, 1) }))
    expect(out.$metadata.attempts).toBe(3)
    expect(proxy.stats.injected.throttle).toBe(2)
    expect(proxy.stats.requests.PutItem).toBe(3)
    expect(await itemExists(direct, table, pk)).toBe(true)

    proxy.setFaults({ '*': { serverError: 1, onlyFirstN: 1 } })
    const noRetry = localDynamoClient(proxy.endpoint, { maxAttempts: 1 })
    clients.push(noRetry)
    const first = await rejectionOf(() =>
      noRetry.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } } }))
    )
    expect(first.name).toBe('InternalServerError')
    const second = await noRetry.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true })
    )
    expect(second.Item).toEqual(item(pk, 1))
  })

  it('draws faults from a seeded PRNG: same seed, same schedule', async () => {
    const schedule = async (seed: number): Promise<string> => {
      const { proxy, client } = await proxied({
        target: ddbEndpoint(),
        seed,
        faults: { GetItem: { throttle: 0.5 } }
      })
      let pattern = ''
      for (let i = 0; i < 24; i++) {
        try {
          await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'x' } } }))
          pattern += '.'
        } catch {
          pattern += 'T'
        }
      }
      expect(proxy.stats.injected.throttle).toBe(pattern.split('T').length - 1)
      return pattern
    }
    const a = await schedule(1234)
    const b = await schedule(1234)
    const c = await schedule(99)
    expect(a).toBe(b)
    expect(a).toMatch(/T/)
    expect(a).toMatch(/\./)
    expect(c).not.toBe(a)
  })

  it("merges held-back requests with DynamoDB's own UnprocessedItems and UnprocessedKeys", () => {
    const put = (pk: string) => ({ PutRequest: { Item: { pk: { S: pk } } } })
    expect(
      mergeUnprocessed(
        'BatchWriteItem',
        { UnprocessedItems: { t1: [put('own')] }, ConsumedCapacity: [] },
        { t1: [put('held')], t2: [put('held2')] }
      )
    ).toEqual({
      UnprocessedItems: { t1: [put('own'), put('held')], t2: [put('held2')] },
      ConsumedCapacity: []
    })
    expect(
      mergeUnprocessed('BatchWriteItem', { UnprocessedItems: {} }, { t1: [put('x')] })
    ).toEqual({
      UnprocessedItems: { t1: [put('x')] }
    })
    const key = (pk: string) => ({ pk: { S: pk } })
    expect(
      mergeUnprocessed(
        'BatchGetItem',
        {
          Responses: { t1: [] },
          UnprocessedKeys: { t1: { Keys: [key('own')], ConsistentRead: true } }
        },
        {
          t1: { Keys: [key('held')], ConsistentRead: true },
          t2: { Keys: [key('h2')], ProjectionExpression: 'pk' }
        }
      )
    ).toEqual({
      Responses: { t1: [] },
      UnprocessedKeys: {
        t1: { Keys: [key('own'), key('held')], ConsistentRead: true },
        t2: { Keys: [key('h2')], ProjectionExpression: 'pk' }
      }
    })
  })

  it('rejects fault rates outside [0, 1]', async () => {
    await expect(
      startFaultProxy({ target: ddbEndpoint(), faults: { Scan: { throttle: 1.5 } } })
    ).rejects.toThrow(RangeError)
  })
})
