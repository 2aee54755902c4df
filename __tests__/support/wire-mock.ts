// Helpers for unit tests of the item-bearing DynamoDB calls (Scan, BatchWriteItem,
// BatchGetItem), which the product sends in wire form (src/dynamo/wire.ts):
//  - under aws-sdk-client-mock, a command's `input` is the whole wire request and a mocked
//    answer is taken as the wire answer, so mocks answer in DynamoDB JSON (binary as base64
//    text), which the SDK's types do not describe: `wireAnswer` says so once;
//  - `capturingClient` is a real DynamoDBClient whose HTTP handler records each request's
//    body and answers with JSON text, for checking the bytes that would go on the wire.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { Item, WireValue } from '../../src/types.js'

/** One request of a BatchWriteItem call, in wire form. */
export type WireWriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } }

/** A wire-form answer, typed as whatever the mock's `resolves` expects. */
export function wireAnswer<T>(answer: object): T {
  return answer as T
}

/** The wire request a mocked call was given (its command's input). */
export function wireInput<T>(call: { args: readonly [{ input: unknown }, ...unknown[]] }): T {
  return call.args[0].input as T
}

/** The text of an S value; undefined for a value of another type or none. */
export function textOf(value: WireValue | undefined): string | undefined {
  return value !== undefined && 'S' in value ? value.S : undefined
}

/** The text of an N value; undefined for a value of another type or none. */
export function numberOf(value: WireValue | undefined): string | undefined {
  return value !== undefined && 'N' in value ? value.N : undefined
}

/** The item of a put (undefined for a delete). */
export function putItem(request: WireWriteRequest | undefined): Item | undefined {
  return request !== undefined && 'PutRequest' in request ? request.PutRequest.Item : undefined
}

export interface CapturedRequest {
  target: string
  body: string
  contentLength: string | undefined
}

/**
 * A DynamoDBClient that sends nothing: each request is recorded (X-Amz-Target, body text,
 * Content-Length) and answered with status 200 and `answer(request)`'s JSON text.
 */
export function capturingClient(answer: (request: CapturedRequest) => string): {
  client: DynamoDBClient
  requests: CapturedRequest[]
} {
  const requests: CapturedRequest[] = []
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: {
        headers: Record<string, string | undefined>
        body?: unknown
      }): Promise<{ response: unknown }> => {
        const body = request.body
        const text =
          typeof body === 'string'
            ? body
            : body instanceof Uint8Array
              ? Buffer.from(body).toString('utf8')
              : ''
        const captured: CapturedRequest = {
          target: request.headers['x-amz-target'] ?? '',
          body: text,
          contentLength: request.headers['content-length']
        }
        requests.push(captured)
        return {
          response: {
            statusCode: 200,
            headers: { 'content-type': 'application/x-amz-json-1.0' },
            body: new Uint8Array(Buffer.from(answer(captured)))
          }
        }
      }
    }
  })
  return { client, requests }
}
