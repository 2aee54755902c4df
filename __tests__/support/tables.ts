// Test helpers for real tables: create, seed and read back (tests only; reading a whole
// table into memory is fine for the small tables tests use). Items are seeded and read back
// in wire form through the tests' raw JSON-protocol client (raw-dynamodb.ts).
import {
  CreateTableCommand,
  DeleteTableCommand,
  waitUntilTableExists,
  type CreateTableCommandInput,
  type DynamoDBClient
} from '@aws-sdk/client-dynamodb'
import { ddbEndpoint } from './env.js'
import { itemKey, oracleText, parseJsonItem } from './oracle.js'
import { rawBatchPut, rawDeleteItem, rawPutItem, rawScanAll } from './raw-dynamodb.js'
import type { Item } from '../../src/types.js'

export function tableDefinition(
  name: string,
  extra: Partial<CreateTableCommandInput> = {}
): CreateTableCommandInput {
  return {
    TableName: name,
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'N' }
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' }
    ],
    BillingMode: 'PAY_PER_REQUEST',
    ...extra
  }
}

/** pk/sk table with a GSI and an LSI, as an IaC template would declare it. */
export function indexedDefinition(
  name: string,
  extra: Partial<CreateTableCommandInput> = {}
): CreateTableCommandInput {
  return tableDefinition(name, {
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'N' },
      { AttributeName: 'name', AttributeType: 'S' }
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: 'byName',
        KeySchema: [{ AttributeName: 'name', KeyType: 'HASH' }],
        Projection: { ProjectionType: 'KEYS_ONLY' }
      }
    ],
    LocalSecondaryIndexes: [
      {
        IndexName: 'pkByName',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'name', KeyType: 'RANGE' }
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['body'] }
      }
    ],
    ...extra
  })
}

export async function createTable(
  client: DynamoDBClient,
  definition: CreateTableCommandInput
): Promise<void> {
  await client.send(new CreateTableCommand(definition))
  await waitUntilTableExists(
    { client, maxWaitTime: 60, minDelay: 1 },
    { TableName: definition.TableName }
  )
}

export async function deleteTable(client: DynamoDBClient, name: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined)
}

/**
 * Where the helpers below send their requests: `endpoint` when given, else the endpoint the
 * client was made for (so a moto client reads moto), else DynamoDB Local's.
 */
async function endpointFor(client: DynamoDBClient, endpoint: string | undefined): Promise<string> {
  if (endpoint !== undefined) return endpoint
  const configured = await client.config.endpoint?.()
  if (!configured) return ddbEndpoint()
  const port = configured.port === undefined ? '' : `:${configured.port}`
  return `${configured.protocol}//${configured.hostname}${port}${configured.path}`
}

/**
 * Plain seeding loop (not the code under test): wire-form items go out as their own JSON text
 * through the tests' raw client, never through the product's wire.ts or the SDK's marshalling,
 * and what comes back unprocessed is sent again.
 */
export async function seed(
  client: DynamoDBClient,
  table: string,
  items: Item[],
  endpoint?: string
): Promise<void> {
  await rawBatchPut(await endpointFor(client, endpoint), table, items)
}

/** Puts one wire-form item, as an application writing to the table would. */
export async function putItem(
  client: DynamoDBClient,
  table: string,
  item: Item,
  endpoint?: string
): Promise<void> {
  await rawPutItem(await endpointFor(client, endpoint), table, item)
}

/** Deletes the item with this wire-form key, as an application would. */
export async function deleteItem(
  client: DynamoDBClient,
  table: string,
  key: Item,
  endpoint?: string
): Promise<void> {
  await rawDeleteItem(await endpointFor(client, endpoint), table, key)
}

/** Every item of the table (consistent reads), in wire form exactly as JSON.parse gave it. */
export async function scanAll(
  client: DynamoDBClient,
  table: string,
  endpoint?: string
): Promise<Item[]> {
  return (await rawScanAll(await endpointFor(client, endpoint), table)) as Item[]
}

/**
 * The table's items in the oracle's normal form (not the product's canonical form), keyed by
 * pk|sk, for exact comparisons. Each scanned item is parsed by the oracle's own DynamoDB JSON
 * parser (strict, `__proto__` kept as an attribute). Two items on one key would hide each
 * other: that throws.
 */
export async function canonicalContents(
  client: DynamoDBClient,
  table: string,
  endpoint?: string
): Promise<Map<string, string>> {
  const map = new Map<string, string>()
  for (const wire of await scanAll(client, table, endpoint)) {
    const item = parseJsonItem(wire, `${table} item`)
    const key = itemKey(item)
    if (map.has(key)) throw new Error(`canonicalContents(${table}): two items on key ${key}`)
    map.set(key, oracleText(item))
  }
  return map
}
