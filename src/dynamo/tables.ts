import {
  CreateTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ListTagsOfResourceCommand,
  ScanCommand,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type KeySchemaElement,
  type Projection,
  type TableDescription,
  type Tag
} from '@aws-sdk/client-dynamodb'
import { ActionError, errorMessage, isNamed } from '../errors.js'
import { sleep as realSleep, type Sleep } from '../util/retry.js'

/** Everything plan, copy and create-target need to know about a table. */
export interface TableInfo {
  name: string
  description: TableDescription
  /** `unsupported` when the endpoint lacks the API (DynamoDB Local lacks PITR and tags). */
  timeToLive: { enabled: boolean; attributeName?: string } | 'unsupported'
  pointInTimeRecovery: boolean | 'unsupported'
  tags: Tag[] | 'unsupported'
}

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

export function keyAttributeNames(description: TableDescription): string[] {
  const schema = description.KeySchema ?? []
  const hash = schema.find((k) => k.KeyType === 'HASH')?.AttributeName
  const range = schema.find((k) => k.KeyType === 'RANGE')?.AttributeName
  return [hash, range].filter((n): n is string => n !== undefined)
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

// --- Comparing definitions ------------------------------------------------------------------

export interface DefinitionDifferences {
  /** Differences that make a copy wrong or impossible: keys, index keys and projections. */
  blocking: string[]
  /** Differences worth knowing that do not change the data: billing, TTL, PITR, tags… */
  advisory: string[]
}

function attributeType(description: TableDescription, name: string): string {
  return (
    description.AttributeDefinitions?.find((a: AttributeDefinition) => a.AttributeName === name)
      ?.AttributeType ?? '?'
  )
}

function describeKeySchema(description: TableDescription, schema: KeySchemaElement[] = []): string {
  return schema
    .map(
      (k) =>
        `${k.AttributeName}:${attributeType(description, k.AttributeName ?? '')} (${k.KeyType})`
    )
    .join(', ')
}

function describeProjection(projection: Projection | undefined): string {
  const type = projection?.ProjectionType ?? 'ALL'
  const extra = [...(projection?.NonKeyAttributes ?? [])].sort()
  return extra.length > 0 ? `${type} [${extra.join(', ')}]` : type
}

interface IndexShape {
  IndexName?: string | undefined
  KeySchema?: KeySchemaElement[] | undefined
  Projection?: Projection | undefined
}

function compareIndexes(
  kind: string,
  source: TableDescription,
  target: TableDescription,
  sourceIndexes: IndexShape[] = [],
  targetIndexes: IndexShape[] = [],
  out: string[]
): void {
  const targetByName = new Map(targetIndexes.map((i) => [i.IndexName ?? '', i]))
  for (const index of sourceIndexes) {
    const name = index.IndexName ?? ''
    const other = targetByName.get(name)
    if (!other) {
      out.push(`${kind} '${name}' exists on the source but not on the target`)
      continue
    }
    const sourceKeys = describeKeySchema(source, index.KeySchema)
    const targetKeys = describeKeySchema(target, other.KeySchema)
    if (sourceKeys !== targetKeys) {
      out.push(`${kind} '${name}' keys differ: source ${sourceKeys}; target ${targetKeys}`)
    }
    const sourceProjection = describeProjection(index.Projection)
    const targetProjection = describeProjection(other.Projection)
    if (sourceProjection !== targetProjection) {
      out.push(
        `${kind} '${name}' projection differs: source ${sourceProjection}; target ${targetProjection}`
      )
    }
    targetByName.delete(name)
  }
  for (const name of targetByName.keys()) {
    out.push(`${kind} '${name}' exists on the target but not on the source`)
  }
}

export function billingMode(description: TableDescription): string {
  return (
    description.BillingModeSummary?.BillingMode ??
    ((description.ProvisionedThroughput?.ReadCapacityUnits ?? 0) > 0
      ? 'PROVISIONED'
      : 'PAY_PER_REQUEST')
  )
}

function describeCapacity(description: TableDescription): string {
  const mode = billingMode(description)
  if (mode !== 'PROVISIONED') return mode
  const t = description.ProvisionedThroughput
  return `PROVISIONED (${t?.ReadCapacityUnits ?? 0} RCU, ${t?.WriteCapacityUnits ?? 0} WCU)`
}

function describeStream(description: TableDescription): string {
  const s = description.StreamSpecification
  return s?.StreamEnabled ? `enabled (${s.StreamViewType ?? '?'})` : 'disabled'
}

function describeSse(description: TableDescription): string {
  const sse = description.SSEDescription
  if (!sse || !['ENABLED', 'ENABLING', 'UPDATING'].includes(sse.Status ?? ''))
    return 'AWS owned key'
  return `${sse.SSEType ?? 'KMS'}${sse.KMSMasterKeyArn ? ` (${sse.KMSMasterKeyArn})` : ''}`
}

function describeTtl(info: TableInfo): string {
  if (info.timeToLive === 'unsupported') return 'unknown'
  return info.timeToLive.enabled
    ? `enabled on '${info.timeToLive.attributeName ?? ''}'`
    : 'disabled'
}

function describeTags(info: TableInfo): string {
  if (info.tags === 'unsupported') return 'unknown'
  return (
    userTags(info.tags)
      .map((t) => `${t.Key}=${t.Value}`)
      .sort()
      .join(', ') || 'none'
  )
}

/** Tags a caller may set: `aws:` tags belong to AWS (CloudFormation's stack tags, say). */
export function userTags(tags: Tag[]): Tag[] {
  return tags.filter((t) => !(t.Key ?? '').startsWith('aws:'))
}

/** The table's settings as plain text, for plan and the summary. */
export function describeSettings(info: TableInfo): Record<string, string> {
  const d = info.description
  return {
    status: d.TableStatus ?? '?',
    keys: describeKeySchema(d, d.KeySchema),
    gsis:
      (d.GlobalSecondaryIndexes ?? [])
        .map(
          (i) =>
            `${i.IndexName} (${describeKeySchema(d, i.KeySchema)}; ${describeProjection(i.Projection)})`
        )
        .join('; ') || 'none',
    lsis:
      (d.LocalSecondaryIndexes ?? [])
        .map(
          (i) =>
            `${i.IndexName} (${describeKeySchema(d, i.KeySchema)}; ${describeProjection(i.Projection)})`
        )
        .join('; ') || 'none',
    billing: describeCapacity(d),
    stream: describeStream(d),
    ttl: describeTtl(info),
    pitr:
      info.pointInTimeRecovery === 'unsupported'
        ? 'unknown'
        : info.pointInTimeRecovery
          ? 'enabled'
          : 'disabled',
    sse: describeSse(d),
    tableClass: d.TableClassSummary?.TableClass ?? 'STANDARD',
    deletionProtection: d.DeletionProtectionEnabled ? 'on' : 'off',
    tags: describeTags(info),
    approximateItems: String(d.ItemCount ?? 0),
    approximateBytes: String(d.TableSizeBytes ?? 0)
  }
}

/** Splits the differences between two table definitions into blocking and advisory ones. */
export function compareDefinitions(source: TableInfo, target: TableInfo): DefinitionDifferences {
  const blocking: string[] = []
  const s = source.description
  const t = target.description
  const sourceKeys = describeKeySchema(s, s.KeySchema)
  const targetKeys = describeKeySchema(t, t.KeySchema)
  if (sourceKeys !== targetKeys) {
    blocking.push(`primary keys differ: source ${sourceKeys}; target ${targetKeys}`)
  }
  compareIndexes(
    'global secondary index',
    s,
    t,
    s.GlobalSecondaryIndexes,
    t.GlobalSecondaryIndexes,
    blocking
  )
  compareIndexes(
    'local secondary index',
    s,
    t,
    s.LocalSecondaryIndexes,
    t.LocalSecondaryIndexes,
    blocking
  )

  const advisory: string[] = []
  const sourceSettings = describeSettings(source)
  const targetSettings = describeSettings(target)
  const labels: Record<string, string> = {
    billing: 'billing mode',
    stream: 'stream',
    ttl: 'TTL',
    pitr: 'point-in-time recovery',
    sse: 'encryption',
    tableClass: 'table class',
    deletionProtection: 'deletion protection',
    tags: 'tags'
  }
  for (const [field, label] of Object.entries(labels)) {
    const a = sourceSettings[field]
    const b = targetSettings[field]
    if (a !== b && a !== 'unknown' && b !== 'unknown') {
      advisory.push(`${label}: source ${a}; target ${b}`)
    }
  }
  return { blocking, advisory }
}

// --- Cloning ---------------------------------------------------------------------------------

/** CreateTable input that clones the source's whole definition under a new name. */
export function cloneCreateTableInput(
  info: TableInfo,
  targetName: string
): CreateTableCommandInput {
  const d = info.description
  const provisioned = billingMode(d) === 'PROVISIONED'
  const throughput = (t?: {
    ReadCapacityUnits?: number | undefined
    WriteCapacityUnits?: number | undefined
  }) => ({
    ReadCapacityUnits: Math.max(1, t?.ReadCapacityUnits ?? 1),
    WriteCapacityUnits: Math.max(1, t?.WriteCapacityUnits ?? 1)
  })
  const onDemand = (o?: {
    MaxReadRequestUnits?: number | undefined
    MaxWriteRequestUnits?: number | undefined
  }) =>
    o && ((o.MaxReadRequestUnits ?? 0) > 0 || (o.MaxWriteRequestUnits ?? 0) > 0) ? o : undefined

  const input: CreateTableCommandInput = {
    TableName: targetName,
    AttributeDefinitions: d.AttributeDefinitions,
    KeySchema: d.KeySchema,
    BillingMode: provisioned ? 'PROVISIONED' : 'PAY_PER_REQUEST'
  }
  if (provisioned) input.ProvisionedThroughput = throughput(d.ProvisionedThroughput)
  const tableOnDemand = onDemand(d.OnDemandThroughput)
  if (!provisioned && tableOnDemand) input.OnDemandThroughput = tableOnDemand
  if (d.GlobalSecondaryIndexes?.length) {
    input.GlobalSecondaryIndexes = d.GlobalSecondaryIndexes.map((gsi) => {
      const index: NonNullable<CreateTableCommandInput['GlobalSecondaryIndexes']>[number] = {
        IndexName: gsi.IndexName,
        KeySchema: gsi.KeySchema,
        Projection: gsi.Projection
      }
      if (provisioned) index.ProvisionedThroughput = throughput(gsi.ProvisionedThroughput)
      const gsiOnDemand = onDemand(gsi.OnDemandThroughput)
      if (!provisioned && gsiOnDemand) index.OnDemandThroughput = gsiOnDemand
      return index
    })
  }
  if (d.LocalSecondaryIndexes?.length) {
    input.LocalSecondaryIndexes = d.LocalSecondaryIndexes.map((lsi) => ({
      IndexName: lsi.IndexName,
      KeySchema: lsi.KeySchema,
      Projection: lsi.Projection
    }))
  }
  if (d.StreamSpecification?.StreamEnabled) {
    input.StreamSpecification = {
      StreamEnabled: true,
      StreamViewType: d.StreamSpecification.StreamViewType
    }
  }
  const sse = d.SSEDescription
  if (
    sse &&
    ['ENABLED', 'ENABLING', 'UPDATING'].includes(sse.Status ?? '') &&
    sse.SSEType === 'KMS'
  ) {
    input.SSESpecification = { Enabled: true, SSEType: 'KMS' }
    if (sse.KMSMasterKeyArn) input.SSESpecification.KMSMasterKeyId = sse.KMSMasterKeyArn
  }
  if (d.TableClassSummary?.TableClass) input.TableClass = d.TableClassSummary.TableClass
  if (d.DeletionProtectionEnabled) input.DeletionProtectionEnabled = true
  if (info.tags !== 'unsupported' && userTags(info.tags).length > 0)
    input.Tags = userTags(info.tags)
  return input
}

export interface CreateOptions {
  sleep?: Sleep
  now?: () => number
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
  try {
    await client.send(new CreateTableCommand(cloneCreateTableInput(source, targetName)))
  } catch (error) {
    throw new ActionError(
      'aws.createTable',
      `Could not create target table '${targetName}': ${errorMessage(error)}`,
      { cause: error }
    )
  }
  await waitForActive(client, targetName, options)
  if (source.pointInTimeRecovery === true) {
    try {
      await client.send(
        new UpdateContinuousBackupsCommand({
          TableName: targetName,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }
        })
      )
    } catch (error) {
      if (!isUnsupported(error)) throw error
      notes.push('point-in-time recovery could not be enabled: the endpoint does not support it')
    }
  }
  return notes
}

/**
 * Turns TTL on for a cloned table as the source has it, after its items are copied and
 * verified (source items past their expiry that DynamoDB has not yet deleted are copied
 * too; the target's TTL then deletes them as the source's would). Returns a note, if any.
 */
/**
 * What a copy into a table it did not create leaves unapplied: the action changes no setting
 * of a table it did not make (the IaC owns it), so TTL that is on in the source and off in
 * the target is reported with the command that turns it on. This is also what finishes a
 * `create-target` copy that was interrupted before its proof and run again.
 */
export function heldBackSettings(source: TableInfo, target: TableInfo): string[] {
  if (source.timeToLive === 'unsupported' || !source.timeToLive.enabled) return []
  if (target.timeToLive === 'unsupported' || target.timeToLive.enabled) return []
  const attribute = source.timeToLive.attributeName ?? ''
  return [
    `TTL is on in '${source.name}' (attribute '${attribute}') but off in '${target.name}', and this run did not create '${target.name}', so it left TTL off. Turn it on in your IaC, or: aws dynamodb update-time-to-live --table-name ${target.name} --time-to-live-specification Enabled=true,AttributeName=${attribute}`
  ]
}

export async function applyTimeToLive(
  client: DynamoDBClient,
  source: TableInfo,
  targetName: string
): Promise<string | undefined> {
  if (source.timeToLive === 'unsupported' || !source.timeToLive.enabled) return undefined
  const attribute = source.timeToLive.attributeName ?? ''
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

export async function waitForActive(
  client: DynamoDBClient,
  name: string,
  options: CreateOptions = {}
): Promise<TableDescription> {
  const now = options.now ?? Date.now
  const wait = options.sleep ?? realSleep
  const deadline = now() + (options.timeoutMs ?? 30 * 60_000)
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    const table = (await client.send(new DescribeTableCommand({ TableName: name }))).Table
    const indexesActive = (table?.GlobalSecondaryIndexes ?? []).every(
      (i) => i.IndexStatus === 'ACTIVE'
    )
    if (table?.TableStatus === 'ACTIVE' && indexesActive) return table
    if (now() > deadline) {
      throw new ActionError(
        'aws.tableNotActive',
        `Table '${name}' did not become ACTIVE in time (status ${table?.TableStatus ?? 'unknown'}).`
      )
    }
    options.log?.(`Waiting for table '${name}' to become ACTIVE (now ${table?.TableStatus ?? '?'})`)
    await wait(delay)
  }
}
