// A tiny DynamoDB JSON-protocol client for tests, built on fetch and nothing else: the request
// body is JSON.stringify of what the test passes, the answer is JSON.parse of what the server
// sent. It shares no code with the product's src/dynamo/wire.ts, nor with the SDK's
// (de)serialisers, which copy maps by assignment and lose an attribute named `__proto__`.
// Items go out and come back in wire form (DynamoDB JSON: numbers as strings, binary as base64
// text), as own properties of plain objects.
//
// DynamoDB Local and moto accept any signature: the Authorization header only names the
// credential scope (moto reads the region from it).

export const TARGET_PREFIX = 'DynamoDB_20120810'
const REGION = 'us-east-1'
const AUTHORIZATION = `AWS4-HMAC-SHA256 Credential=test/20260101/${REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=00`

/** Error types worth asking again for (the emulators rarely send them). */
const RETRYABLE = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable'
])
const MAX_ATTEMPTS = 5

/** An error answer: the `__type` DynamoDB sent (namespace removed) and its message. */
export class RawDynamoError extends Error {
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly type: string,
    message: string
  ) {
    super(`${operation}: HTTP ${status} ${type}: ${message}`)
    this.name = 'RawDynamoError'
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function callOnce<T>(endpoint: string, operation: string, body: string): Promise<T> {
  const response = await fetch(new URL('/', endpoint), {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `${TARGET_PREFIX}.${operation}`,
      Authorization: AUTHORIZATION
    },
    body
  })
  const text = await response.text()
  if (response.status !== 200) {
    let type = 'Unknown'
    let message = text.slice(0, 200)
    try {
      const error = JSON.parse(text) as { __type?: string; message?: string; Message?: string }
      type = (error.__type ?? type).split('#').pop() ?? type
      message = error.message ?? error.Message ?? message
    } catch {
      // Not JSON: keep the start of the text as the message.
    }
    throw new RawDynamoError(operation, response.status, type, message)
  }
  return JSON.parse(text) as T
}

/**
 * Sends one DynamoDB operation to `endpoint` and returns the parsed answer. Throttling and 5xx
 * answers are asked again a few times; any other error answer throws a RawDynamoError.
 */
export async function callDynamo<T>(
  endpoint: string,
  operation: string,
  request: object
): Promise<T> {
  const body = JSON.stringify(request)
  for (let attempt = 1; ; attempt++) {
    try {
      return await callOnce<T>(endpoint, operation, body)
    } catch (error) {
      const retryable =
        error instanceof RawDynamoError && (RETRYABLE.has(error.type) || error.status >= 500)
      if (!retryable || attempt >= MAX_ATTEMPTS) throw error
      await sleep(50 * 2 ** attempt)
    }
  }
}

/** One attribute value in wire form, as far as this client cares: a JSON object. */
export type RawItem = Record<string, object>

interface RawWriteRequest {
  PutRequest?: { Item: RawItem }
  DeleteRequest?: { Key: RawItem }
}

/**
 * Puts `items` with BatchWriteItem, 25 a call, sending what comes back in UnprocessedItems
 * again (with a short pause) until none remain.
 */
export async function rawBatchPut(
  endpoint: string,
  table: string,
  items: readonly RawItem[]
): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let requests: RawWriteRequest[] = items
      .slice(i, i + 25)
      .map((Item) => ({ PutRequest: { Item } }))
    for (let round = 0; requests.length > 0; round++) {
      if (round > 0) await sleep(Math.min(1000, 20 * 2 ** round))
      if (round > 50) throw new Error(`rawBatchPut(${table}): items stay unprocessed`)
      const answer = await callDynamo<{ UnprocessedItems?: Record<string, RawWriteRequest[]> }>(
        endpoint,
        'BatchWriteItem',
        { RequestItems: { [table]: requests } }
      )
      requests = answer.UnprocessedItems?.[table] ?? []
    }
  }
}

/** Puts one item (PutItem), replacing any item with its key. */
export async function rawPutItem(endpoint: string, table: string, item: RawItem): Promise<void> {
  await callDynamo(endpoint, 'PutItem', { TableName: table, Item: item })
}

/** Deletes the item with this key (DeleteItem); a missing item is no error. */
export async function rawDeleteItem(endpoint: string, table: string, key: RawItem): Promise<void> {
  await callDynamo(endpoint, 'DeleteItem', { TableName: table, Key: key })
}

/** Every item of `table`, page by page, with consistent reads; in wire form, as parsed. */
export async function rawScanAll(endpoint: string, table: string): Promise<RawItem[]> {
  const items: RawItem[] = []
  let startKey: RawItem | undefined
  do {
    const page = await callDynamo<{ Items?: RawItem[]; LastEvaluatedKey?: RawItem }>(
      endpoint,
      'Scan',
      {
        TableName: table,
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {})
      }
    )
    items.push(...(page.Items ?? []))
    startKey = page.LastEvaluatedKey
  } while (startKey)
  return items
}
