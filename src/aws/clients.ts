import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { S3Client } from '@aws-sdk/client-s3'
import { STSClient } from '@aws-sdk/client-sts'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import type { AwsCredentialIdentityProvider } from '@smithy/types'

export interface Clients {
  /** Table-level calls (describe, create, delete, settings), with the SDK's standard retries. */
  dynamodb: DynamoDBClient
  /**
   * Item calls (Scan, BatchWriteItem, BatchGetItem), with the SDK's retries off: the engine
   * retries them itself (unprocessed requests, throttling, 5xx, bad answers) in one loop, so
   * no retry loop runs inside another.
   */
  dynamodbItems: DynamoDBClient
  s3: S3Client
  sts: STSClient
}

export interface ClientSettings {
  region: string
  /** Explicit endpoints from the inputs; empty means the SDK's own resolution, which honours
   * AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>. */
  dynamodbEndpoint?: string
  s3Endpoint?: string
  /** Sockets per client: at least the calls the action keeps in flight. */
  maxSockets?: number
  /** Credentials for every client (role-to-assume); absent: the SDK's default chain. */
  credentials?: AwsCredentialIdentityProvider
}

export const USER_AGENT: [string, string] = ['dynamodb-table-mover', '0.1.0']

/** Builds the AWS clients with one region, keep-alive sockets and the SDK's standard retries. */
export function createClients(
  settings: ClientSettings,
  env: NodeJS.ProcessEnv = process.env
): Clients {
  const maxSockets = settings.maxSockets ?? 64
  const requestHandler = () =>
    new NodeHttpHandler({
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
      connectionTimeout: 10_000,
      requestTimeout: 120_000
    })
  const common = {
    region: settings.region,
    maxAttempts: 3,
    retryMode: 'standard',
    customUserAgent: [USER_AGENT],
    ...(settings.credentials ? { credentials: settings.credentials } : {})
  }
  const s3EndpointFromEnv = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || ''
  const dynamodbEndpoint = settings.dynamodbEndpoint ? { endpoint: settings.dynamodbEndpoint } : {}
  return {
    dynamodb: new DynamoDBClient({
      ...common,
      requestHandler: requestHandler(),
      ...dynamodbEndpoint
    }),
    dynamodbItems: new DynamoDBClient({
      ...common,
      maxAttempts: 1,
      requestHandler: requestHandler(),
      ...dynamodbEndpoint
    }),
    s3: new S3Client({
      ...common,
      requestHandler: requestHandler(),
      ...(settings.s3Endpoint ? { endpoint: settings.s3Endpoint } : {}),
      // Custom S3 endpoints (moto, MinIO, LocalStack) want path-style addressing.
      forcePathStyle: Boolean(settings.s3Endpoint || s3EndpointFromEnv)
    }),
    sts: new STSClient({ ...common })
  }
}

export function destroyClients(clients: Clients): void {
  clients.dynamodb.destroy()
  clients.dynamodbItems.destroy()
  clients.s3.destroy()
  clients.sts.destroy()
}
