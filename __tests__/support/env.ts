// Helpers for integration and e2e tests: emulator endpoints (set by global-setup.ts, or by the
// caller), SDK clients with fake credentials, and unique resource names.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll } from '@jest/globals'
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb'
import { CreateBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { STSClient, type STSClientConfig } from '@aws-sdk/client-sts'

export const LOCAL_REGION = 'us-east-1'

/**
 * Fake credentials: DynamoDB Local (run with -sharedDb) and moto accept any key. A new object
 * each time: the SDK writes attribution metadata into the credentials object it is given.
 */
export function fakeCredentials(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: 'test', secretAccessKey: 'test' }
}

function requireEndpoint(name: 'DDB_LOCAL_ENDPOINT' | 'MOTO_ENDPOINT', what: string): string {
  const value = process.env[name]
  if (!value) {
    throw new Error(
      `${name} is not set, so there is no ${what} to test against. Integration and e2e tests get ` +
        'it from __tests__/support/global-setup.ts: run them with `npm run test:integration` (or ' +
        '`jest --selectProjects integration`), or start the emulators with ' +
        '`node scripts/emulators.mjs start` and export the variables it prints.'
    )
  }
  return value
}

/** DynamoDB Local's endpoint, e.g. http://127.0.0.1:8000. */
export function ddbEndpoint(): string {
  return requireEndpoint('DDB_LOCAL_ENDPOINT', 'DynamoDB Local')
}

/** moto_server's endpoint (S3, STS, CloudFormation, DynamoDB, ... on one port). */
export function motoEndpoint(): string {
  return requireEndpoint('MOTO_ENDPOINT', 'moto server')
}

/**
 * A DynamoDB client for DynamoDB Local (or for `endpoint`, e.g. a fault proxy or moto).
 * `overrides` is merged last, e.g. `{ maxAttempts: 1 }`.
 */
export function localDynamoClient(
  endpoint: string = ddbEndpoint(),
  overrides: Partial<DynamoDBClientConfig> = {}
): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: fakeCredentials(),
    ...overrides
  })
}

/** An S3 client for moto's S3 (path-style addressing). */
export function localS3Client(overrides: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint: motoEndpoint(),
    region: LOCAL_REGION,
    credentials: fakeCredentials(),
    forcePathStyle: true,
    ...overrides
  })
}

/** An STS client for moto's STS. */
export function localStsClient(overrides: Partial<STSClientConfig> = {}): STSClient {
  return new STSClient({
    endpoint: motoEndpoint(),
    region: LOCAL_REGION,
    credentials: fakeCredentials(),
    ...overrides
  })
}

let counter = 0

/**
 * A name unique to this test run, valid both as a DynamoDB table name (3-255 of [A-Za-z0-9_.-])
 * and as an S3 bucket name (3-63 of [a-z0-9-], starting and ending with a letter or digit, not
 * starting with `xn--` or `sthree-`). The prefix is lower-cased and cleaned up.
 */
export function uniqueName(prefix: string): string {
  let base = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 30)
    .replace(/-$/, '')
  if (!/^[a-z]/.test(base) || base.startsWith('xn--') || base.startsWith('sthree-')) {
    base = base ? `t-${base}` : 't'
  }
  counter += 1
  const suffix = [
    process.pid.toString(36),
    Date.now().toString(36),
    counter.toString(36),
    randomBytes(3).toString('hex')
  ].join('-')
  return `${base}-${suffix}`
}

/**
 * The one emulator fixture of an integration test file: a DynamoDB Local client, an S3
 * client for moto and a backup bucket of its own, created before the file's tests and the
 * clients destroyed after them.
 */
export function useEmulators(bucketPrefix: string): {
  ddb: DynamoDBClient
  s3: S3Client
  bucket: string
} {
  const ddb = localDynamoClient()
  const s3 = localS3Client()
  const bucket = uniqueName(bucketPrefix)
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  })
  afterAll(() => {
    ddb.destroy()
    s3.destroy()
  })
  return { ddb, s3, bucket }
}
