// Test helpers for real tables: create, seed and read back (tests only; reading a whole
// table into memory is fine for the small tables tests use).
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  ScanCommand,
  waitUntilTableExists,
  type CreateTableCommandInput,
  type DynamoDBClient
} from '@aws-sdk/client-dynamodb'
import { itemKey, oracleText } from './oracle.js'
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

/** Plain seeding loop (not the code under test), retrying what comes back unprocessed. */
export async function seed(client: DynamoDBClient, table: string, items: Item[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let requests = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }))
    while (requests.length > 0) {
      const result = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [table]: requests } })
      )
      requests = (result.UnprocessedItems?.[table] ?? []) as typeof requests
    }
  }
}

export async function scanAll(client: DynamoDBClient, table: string): Promise<Item[]> {
  const items: Item[] = []
  let startKey: Item | undefined
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true })
    )
    items.push(...((page.Items ?? []) as Item[]))
    startKey = page.LastEvaluatedKey
  } while (startKey)
  return items
}

/**
 * The table's items in the oracle's normal form (not the product's canonical form), keyed by
 * pk|sk, for exact comparisons. Two items on one key would hide each other: that throws.
 */
export async function canonicalContents(
  client: DynamoDBClient,
  table: string
): Promise<Map<string, string>> {
  const map = new Map<string, string>()
  for (const item of await scanAll(client, table)) {
    const key = itemKey(item)
    if (map.has(key)) throw new Error(`canonicalContents(${table}): two items on key ${key}`)
    map.set(key, oracleText(item))
  }
  return map
}
