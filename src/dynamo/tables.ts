/**
 * DynamoDB's table calls: describe (with TTL, PITR and tags), the one-item emptiness check,
 * create a clone and wait for it, and the settings applied after a copy. What a definition is,
 * and how two compare, is pure and lives in definitions.ts.
 */
import {
  CreateTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ListTagsOfResourceCommand,
  ResourceNotFoundException,
  ScanCommand,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
  type DescribeTableCommandInput,
  type DynamoDBClient,
  type TableDescription,
  type Tag
} from '@aws-sdk/client-dynamodb'
import { createWaiter, WaiterState, type WaiterResult } from '@smithy/core/client'
import { ActionError, errorMessage, isNamed } from '../errors.js'
import { formatDuration } from '../util/progress.js'
import { buildCreateTableInput, toDefinition, UNKNOWN, type TableInfo } from './definitions.js'

// Callers that read definitions import these from here too; new code imports definitions.js.
export {
  billingMode,
  compareDefinitions,
  heldBackSettings,
  keyAttributeNames,
  type DefinitionDifferences,
  type TableInfo
} from './definitions.js'

const UNSUPPORTED = ['UnknownOperationException', 'UnrecognizedClientException']

function isUnsupported(error: unknown): boolean {
  // DynamoDB Local answers tagging calls with a plain 400 "not currently supported".
  return isNamed(error, ...UNSUPPORTED) || /not (currently )?supported/i.test(errorMessage(error))
}

/** Describes a table with its TTL, PITR and tags; null when the table does not exist. */
export async function describeTable(
  client: DynamoDBClient,
  name: string
): Promise<TableInfo | null> {
  let description: TableDescription | undefined
  try {
    description = (await client.send(new DescribeTableCommand({ TableName: name }))).Table
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return null
    throw new ActionError(
      'aws.describeTable',
      `Could not describe table '${name}': ${errorMessage(error)}`,
      {
        cause: error
      }
    )
  }
  if (!description) return null

  const info: TableInfo = {
    name,
    description,
    timeToLive: 'unsupported',
    pointInTimeRecovery: 'unsupported',
    tags: 'unsupported'
  }
  const [ttl, pitr, tags] = await Promise.allSettled([
    client.send(new DescribeTimeToLiveCommand({ TableName: name })),
    client.send(new DescribeContinuousBackupsCommand({ TableName: name })),
    listAllTags(client, description.TableArn ?? '')
  ])
  if (ttl.status === 'fulfilled') {
    const ttlDescription = ttl.value.TimeToLiveDescription
    const enabled = ['ENABLED', 'ENABLING'].includes(ttlDescription?.TimeToLiveStatus ?? '')
    info.timeToLive = enabled
      ? { enabled, attributeName: ttlDescription?.AttributeName ?? '' }
      : { enabled }
  } else if (!isUnsupported(ttl.reason)) throw describeFailure(name, 'TTL', ttl.reason)
  if (pitr.status === 'fulfilled') {
    info.pointInTimeRecovery =
      pitr.value.ContinuousBackupsDescription?.PointInTimeRecoveryDescription
        ?.PointInTimeRecoveryStatus === 'ENABLED'
  } else if (!isUnsupported(pitr.reason)) throw describeFailure(name, 'PITR', pitr.reason)
  if (tags.status === 'fulfilled') info.tags = tags.value
  else if (!isUnsupported(tags.reason)) throw describeFailure(name, 'tags', tags.reason)
  return info
}

function describeFailure(name: string, what: string, cause: unknown): ActionError {
  return new ActionError(
    'aws.describeTable',
    `Could not read the ${what} of table '${name}': ${errorMessage(cause)}`,
    { cause }
  )
}

async function listAllTags(client: DynamoDBClient, arn: string): Promise<Tag[]> {
  const tags: Tag[] = []
  let nextToken: string | undefined
  do {
    const page = await client.send(
      new ListTagsOfResourceCommand({ ResourceArn: arn, NextToken: nextToken })
    )
    tags.push(...(page.Tags ?? []))
    nextToken = page.NextToken
  } while (nextToken)
  return tags
}

/** True when a Scan for one item finds none. Reads no attribute value into any output. */
export async function isTableEmpty(client: DynamoDBClient, name: string): Promise<boolean> {
  let startKey: Record<string, never> | undefined
  // A Limit-1 scan can come back empty with a LastEvaluatedKey; follow it a few times.
  for (let i = 0; i < 20; i++) {
    const page = await client.send(
      new ScanCommand({ TableName: name, Limit: 1, ExclusiveStartKey: startKey })
    )
    if ((page.Count ?? 0) > 0) return false
    if (!page.LastEvaluatedKey) return true
    startKey = page.LastEvaluatedKey as Record<string, never>
  }
  return false
}

export interface CreateOptions {
  /** How long to wait for the table and its indexes to become ACTIVE; 30 minutes by default. */
  timeoutMs?: number
  log?: (message: string) => void
}

/**
 * Creates `targetName` as a clone of the source (keys, indexes, billing, stream, SSE, class,
 * deletion protection, tags), waits until it and its indexes are ACTIVE, then applies PITR,
 * which CreateTable cannot carry. TTL is left to `applyTimeToLive` once the copy is proven:
 * turned on now, it would let DynamoDB delete expired items from the target mid-copy.
 * Returns notes on settings the endpoint lacks.
 */
export async function createTableClone(
  client: DynamoDBClient,
  source: TableInfo,
  targetName: string,
  options: CreateOptions = {}
): Promise<string[]> {
  const notes: string[] = []
  const definition = toDefinition(source)
  const input = buildCreateTableInput(definition, targetName)
  try {
    await client.send(new CreateTableCommand(input))
  } catch (error) {
    throw new ActionError(
      'aws.createTable',
      `Could not create target table '${targetName}': ${errorMessage(error)}`,
      { cause: error }
    )
  }
  await waitUntilTableActive(client, targetName, options)
  if (definition.pointInTimeRecovery === true) {
    try {
      await client.send(
        new UpdateContinuousBackupsCommand({
          TableName: targetName,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }
        })
      )
    } catch (error) {
      if (!isUnsupported(error)) {
        throw new ActionError(
          'aws.updateContinuousBackups',
          `Created '${targetName}', but could not turn on its point-in-time recovery: ${errorMessage(error)}`,
          { cause: error }
        )
      }
      notes.push('point-in-time recovery could not be enabled: the endpoint does not support it')
    }
  }
  return notes
}

/**
 * Waits until the table and every one of its global secondary indexes are ACTIVE, with the
 * SDK's waiter (exponential backoff with jitter, from 1 s up to 10 s between DescribeTable
 * calls). The SDK's TableExists waiter looks at the table's status only, and says nothing
 * while it waits: this acceptor adds the indexes and a log line per look.
 */
export async function waitUntilTableActive(
  client: DynamoDBClient,
  name: string,
  options: CreateOptions = {}
): Promise<TableDescription> {
  const timeoutMs = options.timeoutMs ?? 30 * 60_000
  let last = 'unknown'
  const result = await createWaiter<DynamoDBClient, DescribeTableCommandInput, TableDescription>(
    { client, minDelay: 1, maxDelay: 10, maxWaitTime: Math.max(2, timeoutMs / 1000) },
    { TableName: name },
    async (c, input): Promise<WaiterResult<TableDescription>> => {
      let table: TableDescription | undefined
      try {
        table = (await c.send(new DescribeTableCommand(input))).Table
      } catch (error) {
        // Just after CreateTable, DescribeTable may not find the table yet.
        if (!(error instanceof ResourceNotFoundException)) {
          throw new ActionError(
            'aws.describeTable',
            `Could not describe table '${name}' while waiting for it: ${errorMessage(error)}`,
            { cause: error }
          )
        }
      }
      const indexes = table?.GlobalSecondaryIndexes ?? []
      if (table?.TableStatus === 'ACTIVE' && indexes.every((i) => i.IndexStatus === 'ACTIVE')) {
        return { state: WaiterState.SUCCESS, reason: table }
      }
      const waiting = indexes.filter((i) => i.IndexStatus !== 'ACTIVE').map((i) => i.IndexName)
      last = `${table?.TableStatus ?? 'not found yet'}${waiting.length > 0 ? `; indexes not yet ACTIVE: ${waiting.join(', ')}` : ''}`
      options.log?.(`Waiting for table '${name}' to become ACTIVE (now ${last})`)
      return { state: WaiterState.RETRY }
    }
  )
  if (result.state !== WaiterState.SUCCESS || !result.final) {
    throw new ActionError(
      'aws.tableNotActive',
      `Table '${name}' did not become ACTIVE within ${formatDuration(timeoutMs)} (status ${last}). Check it in the console, then run again.`
    )
  }
  return result.final
}

/**
 * Turns TTL on for a cloned table as the source has it, after its items are copied and
 * verified (source items past their expiry that DynamoDB has not yet deleted are copied
 * too; the target's TTL then deletes them as the source's would). Returns a note, if any.
 */
export async function applyTimeToLive(
  client: DynamoDBClient,
  source: TableInfo,
  targetName: string
): Promise<string | undefined> {
  const ttl = toDefinition(source).timeToLive
  if (ttl === UNKNOWN || ttl === null) return undefined
  const attribute = ttl.attributeName
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: targetName,
        TimeToLiveSpecification: { Enabled: true, AttributeName: attribute }
      })
    )
  } catch (error) {
    throw new ActionError(
      'aws.updateTimeToLive',
      `The items are copied and verified, but TTL could not be turned on for '${targetName}' (${errorMessage(error)}). Turn it on before relying on the table: aws dynamodb update-time-to-live --table-name ${targetName} --time-to-live-specification Enabled=true,AttributeName=${attribute}`,
      { cause: error }
    )
  }
  return `TTL turned on (attribute '${attribute}') after the copy`
}
