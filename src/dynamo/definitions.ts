/**
 * Table definitions as structured data: what a table is (keys, indexes, billing, settings),
 * whoever says so. `toDefinition` reads it from DynamoDB's description of a live table (or a
 * backup's copy of one); an IaC template maps to the same structure, with `'unknown'` where
 * the template does not say. Definitions are compared field by field, rendered for people
 * from the structure, and turned into CreateTable input. Pure: no I/O.
 */
import type {
  BillingMode,
  CreateTableCommandInput,
  KeySchemaElement,
  OnDemandThroughput,
  ProjectionType,
  ProvisionedThroughputDescription,
  ScalarAttributeType,
  StreamViewType,
  TableClass,
  TableDescription,
  Tag
} from '@aws-sdk/client-dynamodb'
import { ActionError } from '../errors.js'

/** A table as describeTable reads it (or a backup recorded it): its description, TTL, PITR, tags. */
export interface TableInfo {
  name: string
  description: TableDescription
  /** `unsupported` when the endpoint lacks the API (DynamoDB Local lacks PITR and tags). */
  timeToLive: { enabled: boolean; attributeName?: string } | 'unsupported'
  pointInTimeRecovery: boolean | 'unsupported'
  tags: Tag[] | 'unsupported'
}

// --- The structure ---------------------------------------------------------------------------

/** What a field holds when its source does not say (an endpoint without the API, a template). */
export const UNKNOWN = 'unknown'
export type Unknown = typeof UNKNOWN
export type Known<T> = T | Unknown

export interface KeyAttribute {
  name: string
  /** From the attribute definitions. */
  type: Known<ScalarAttributeType>
}

export interface KeySchema {
  hash: KeyAttribute
  /** Null when there is no sort key. */
  range: KeyAttribute | null
}

export interface IndexProjection {
  type: Known<ProjectionType>
  /** INCLUDE's attributes, sorted: their order means nothing. */
  nonKeyAttributes: string[]
}

/**
 * Capacity under the table's billing mode: provisioned read and write units under
 * PROVISIONED; the on-demand maxima under PAY_PER_REQUEST, null when there is none.
 */
export interface Capacity {
  read: Known<number | null>
  write: Known<number | null>
}

export interface SecondaryIndex {
  name: string
  keys: Known<KeySchema>
  projection: IndexProjection
}

export interface GlobalIndex extends SecondaryIndex {
  capacity: Capacity
}

export type Encryption =
  /** DynamoDB's default: a key AWS owns (the description carries no SSE). */
  | { type: 'AWS_OWNED' }
  /** A KMS key: the AWS managed one or the customer's, as its ARN. */
  | { type: 'KMS'; kmsKey: Known<string> }

export interface TableTag {
  key: string
  value: string
}

/** A table's definition. Indexes and tags are sorted, so their order never matters. */
export interface Definition {
  /** Not compared: two tables of one definition differ by name. */
  name: string
  keys: Known<KeySchema>
  billingMode: Known<BillingMode>
  capacity: Capacity
  globalIndexes: GlobalIndex[]
  localIndexes: SecondaryIndex[]
  /** The stream's view type, null when there is no stream. */
  stream: Known<StreamViewType | null>
  encryption: Known<Encryption>
  tableClass: Known<TableClass>
  deletionProtection: Known<boolean>
  /** Null when TTL is off. */
  timeToLive: Known<{ attributeName: string } | null>
  pointInTimeRecovery: Known<boolean>
  /** The tags a user sets: `aws:` tags belong to AWS (CloudFormation's stack tags, say). */
  tags: Known<TableTag[]>
}

// --- From DynamoDB's description -------------------------------------------------------------

/** A table's billing mode; old provisioned tables' descriptions may lack the summary. */
export function billingMode(description: TableDescription): BillingMode {
  return (
    description.BillingModeSummary?.BillingMode ??
    ((description.ProvisionedThroughput?.ReadCapacityUnits ?? 0) > 0
      ? 'PROVISIONED'
      : 'PAY_PER_REQUEST')
  )
}

/** The partition key's name, then the sort key's when there is one. */
export function keyAttributeNames(description: TableDescription): string[] {
  const schema = description.KeySchema ?? []
  const hash = schema.find((k) => k.KeyType === 'HASH')?.AttributeName
  const range = schema.find((k) => k.KeyType === 'RANGE')?.AttributeName
  return [hash, range].filter((n): n is string => n !== undefined)
}

/** Tags a caller may set: `aws:` tags belong to AWS (CloudFormation's stack tags, say). */
function userTags(tags: Tag[]): Tag[] {
  return tags.filter((t) => !(t.Key ?? '').startsWith('aws:'))
}

const ENCRYPTED = ['ENABLED', 'ENABLING', 'UPDATING']

/** The definition DynamoDB describes; 'unknown' for what the endpoint could not tell. */
export function toDefinition(info: TableInfo): Definition {
  const d = info.description
  const types = new Map(
    (d.AttributeDefinitions ?? []).map((a) => [a.AttributeName ?? '', a.AttributeType])
  )
  const keysOf = (schema: KeySchemaElement[] | undefined): Known<KeySchema> => {
    const attribute = (keyType: string): KeyAttribute | null => {
      const name = schema?.find((k) => k.KeyType === keyType)?.AttributeName
      return name === undefined ? null : { name, type: types.get(name) ?? UNKNOWN }
    }
    const hash = attribute('HASH')
    return hash ? { hash, range: attribute('RANGE') } : UNKNOWN
  }
  const mode = billingMode(d)
  const projectionOf = (
    p: { ProjectionType?: ProjectionType | undefined; NonKeyAttributes?: string[] | undefined } = {}
  ): IndexProjection => ({
    // DynamoDB's default for an index without a projection.
    type: p.ProjectionType ?? 'ALL',
    nonKeyAttributes: sorted(p.NonKeyAttributes ?? [])
  })
  const sse = d.SSEDescription
  const ttl = info.timeToLive
  return {
    name: info.name,
    keys: keysOf(d.KeySchema),
    billingMode: mode,
    capacity: capacityOf(mode, d.ProvisionedThroughput, d.OnDemandThroughput),
    globalIndexes: byName(
      (d.GlobalSecondaryIndexes ?? []).map((i) => ({
        name: i.IndexName ?? '',
        keys: keysOf(i.KeySchema),
        projection: projectionOf(i.Projection),
        capacity: capacityOf(mode, i.ProvisionedThroughput, i.OnDemandThroughput)
      }))
    ),
    localIndexes: byName(
      (d.LocalSecondaryIndexes ?? []).map((i) => ({
        name: i.IndexName ?? '',
        keys: keysOf(i.KeySchema),
        projection: projectionOf(i.Projection)
      }))
    ),
    stream: d.StreamSpecification?.StreamEnabled
      ? (d.StreamSpecification.StreamViewType ?? UNKNOWN)
      : null,
    // AES256 is the old name of the AWS owned key.
    encryption:
      sse && ENCRYPTED.includes(sse.Status ?? '') && sse.SSEType !== 'AES256'
        ? { type: 'KMS', kmsKey: sse.KMSMasterKeyArn ?? UNKNOWN }
        : { type: 'AWS_OWNED' },
    // DynamoDB leaves out the summary of a table that was always STANDARD.
    tableClass: d.TableClassSummary?.TableClass ?? 'STANDARD',
    deletionProtection: d.DeletionProtectionEnabled === true,
    timeToLive:
      ttl === 'unsupported'
        ? UNKNOWN
        : ttl.enabled
          ? { attributeName: ttl.attributeName ?? '' }
          : null,
    pointInTimeRecovery:
      info.pointInTimeRecovery === 'unsupported' ? UNKNOWN : info.pointInTimeRecovery,
    tags:
      info.tags === 'unsupported'
        ? UNKNOWN
        : userTags(info.tags)
            .map((t) => ({ key: t.Key ?? '', value: t.Value ?? '' }))
            .sort((a, b) => compareText(a.key, b.key))
  }
}

function capacityOf(
  mode: BillingMode,
  provisioned: ProvisionedThroughputDescription | undefined,
  onDemand: OnDemandThroughput | undefined
): Capacity {
  if (mode === 'PROVISIONED') {
    return {
      read: provisioned?.ReadCapacityUnits ?? UNKNOWN,
      write: provisioned?.WriteCapacityUnits ?? UNKNOWN
    }
  }
  // DynamoDB reports "no maximum" as -1 (or leaves it out).
  const maximum = (units: number | undefined): number | null =>
    units !== undefined && units > 0 ? units : null
  return {
    read: maximum(onDemand?.MaxReadRequestUnits),
    write: maximum(onDemand?.MaxWriteRequestUnits)
  }
}

/** Code-unit order: the same on every machine, whatever its locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function sorted(values: readonly string[]): string[] {
  return [...values].sort(compareText)
}

function byName<T extends { name: string }>(indexes: T[]): T[] {
  return indexes.sort((a, b) => compareText(a.name, b.name))
}

// --- Comparing, field by field ---------------------------------------------------------------

/**
 * Every field two definitions can differ in, and whether a difference blocks a copy: keys,
 * index keys and projections decide which items and queries the table serves, so a copy into
 * a table that differs there is not the same table. The rest does not change the data.
 */
export const DEFINITION_FIELDS = {
  keys: { blocking: true, label: 'primary keys' },
  billingMode: { blocking: false, label: 'billing mode' },
  capacity: { blocking: false, label: 'capacity' },
  globalIndexes: { blocking: true, label: 'global secondary index' },
  'globalIndexes.keys': { blocking: true, label: 'keys' },
  'globalIndexes.projection': { blocking: true, label: 'projection' },
  'globalIndexes.capacity': { blocking: false, label: 'capacity' },
  localIndexes: { blocking: true, label: 'local secondary index' },
  'localIndexes.keys': { blocking: true, label: 'keys' },
  'localIndexes.projection': { blocking: true, label: 'projection' },
  stream: { blocking: false, label: 'stream' },
  timeToLive: { blocking: false, label: 'TTL' },
  pointInTimeRecovery: { blocking: false, label: 'point-in-time recovery' },
  encryption: { blocking: false, label: 'encryption' },
  tableClass: { blocking: false, label: 'table class' },
  deletionProtection: { blocking: false, label: 'deletion protection' },
  tags: { blocking: false, label: 'tags' }
} as const satisfies Record<string, { blocking: boolean; label: string }>

export type DefinitionField = keyof typeof DEFINITION_FIELDS

/** What an index field's value is when the index exists on one side only. */
export const ABSENT = 'absent'

/** One field that differs, with both sides rendered for people. */
export interface Difference {
  field: DefinitionField
  /** The index, for the `globalIndexes…` and `localIndexes…` fields. */
  index?: string
  source: string
  target: string
  blocking: boolean
}

export interface DefinitionDifferences {
  /** Differences that make a copy wrong or impossible: keys, index keys and projections. */
  blocking: string[]
  /** Differences worth knowing that do not change the data: billing, TTL, PITR, tags… */
  advisory: string[]
}

export interface DefinitionComparison extends DefinitionDifferences {
  /** The differences field by field; `blocking` and `advisory` are their messages. */
  differences: Difference[]
}

/** Compares two live tables' definitions (see `diffDefinitions`). */
export function compareDefinitions(source: TableInfo, target: TableInfo): DefinitionComparison {
  return diffDefinitions(toDefinition(source), toDefinition(target))
}

/**
 * Compares two definitions field by field. A field that one side does not know is not
 * compared (nothing is claimed about it); indexes are matched by name, in any order.
 */
export function diffDefinitions(source: Definition, target: Definition): DefinitionComparison {
  const differences: Difference[] = []
  const add = (field: DefinitionField, a: string, b: string, index?: string): void => {
    const { blocking } = DEFINITION_FIELDS[field]
    differences.push({
      field,
      ...(index === undefined ? {} : { index }),
      source: a,
      target: b,
      blocking
    })
  }
  if (!matches(source.keys, target.keys, sameKeys)) {
    add('keys', renderKeys(source.keys), renderKeys(target.keys))
  }
  if (!matches(source.billingMode, target.billingMode, Object.is)) {
    add('billingMode', renderBilling(source), renderBilling(target))
  }
  // Capacities mean something else under another billing mode: compared only under the same.
  const mode = source.billingMode === target.billingMode ? known(source.billingMode) : undefined
  if (mode && !sameCapacity(source.capacity, target.capacity)) {
    add('capacity', renderCapacity(mode, source.capacity), renderCapacity(mode, target.capacity))
  }
  for (const [a, b, name] of pairIndexes(source.globalIndexes, target.globalIndexes)) {
    if (!a || !b) {
      add('globalIndexes', a ? renderIndex(a) : ABSENT, b ? renderIndex(b) : ABSENT, name)
      continue
    }
    compareIndex('globalIndexes', a, b, add)
    if (mode && !sameCapacity(a.capacity, b.capacity)) {
      const render = (c: Capacity): string => renderCapacity(mode, c)
      add('globalIndexes.capacity', render(a.capacity), render(b.capacity), name)
    }
  }
  for (const [a, b, name] of pairIndexes(source.localIndexes, target.localIndexes)) {
    if (!a || !b)
      add('localIndexes', a ? renderIndex(a) : ABSENT, b ? renderIndex(b) : ABSENT, name)
    else compareIndex('localIndexes', a, b, add)
  }
  const setting = <F extends SettingField>(
    field: F,
    same: (a: KnownValue<F>, b: KnownValue<F>) => boolean
  ): void => {
    const a = source[field]
    const b = target[field]
    if (a === UNKNOWN || b === UNKNOWN) return
    if (!same(a as KnownValue<F>, b as KnownValue<F>)) {
      add(field, renderSetting(source, field), renderSetting(target, field))
    }
  }
  setting('stream', Object.is)
  setting('timeToLive', (a, b) =>
    a === null || b === null ? a === b : a.attributeName === b.attributeName
  )
  setting('pointInTimeRecovery', Object.is)
  setting('encryption', (a, b) =>
    a.type === 'KMS' && b.type === 'KMS'
      ? matches(a.kmsKey, b.kmsKey, Object.is)
      : a.type === b.type
  )
  setting('tableClass', Object.is)
  setting('deletionProtection', Object.is)
  setting(
    'tags',
    (a, b) =>
      a.length === b.length && a.every((t, i) => t.key === b[i]?.key && t.value === b[i]?.value)
  )
  return {
    blocking: differences.filter((d) => d.blocking).map(describeDifference),
    advisory: differences.filter((d) => !d.blocking).map(describeDifference),
    differences
  }
}

type SettingField =
  | 'stream'
  | 'timeToLive'
  | 'pointInTimeRecovery'
  | 'encryption'
  | 'tableClass'
  | 'deletionProtection'
  | 'tags'

type KnownValue<F extends SettingField> = Exclude<Definition[F], Unknown>

/** True when either side is unknown, or both are known and the same. */
function matches<T>(a: Known<T>, b: Known<T>, same: (a: T, b: T) => boolean): boolean {
  return a === UNKNOWN || b === UNKNOWN || same(a, b)
}

function known<T>(value: Known<T>): T | undefined {
  return value === UNKNOWN ? undefined : value
}

function sameKeyAttribute(a: KeyAttribute, b: KeyAttribute): boolean {
  return a.name === b.name && matches(a.type, b.type, Object.is)
}

function sameKeys(a: KeySchema, b: KeySchema): boolean {
  const sameRange =
    a.range === null || b.range === null ? a.range === b.range : sameKeyAttribute(a.range, b.range)
  return sameKeyAttribute(a.hash, b.hash) && sameRange
}

function sameProjection(a: IndexProjection, b: IndexProjection): boolean {
  return (
    matches(a.type, b.type, Object.is) &&
    a.nonKeyAttributes.length === b.nonKeyAttributes.length &&
    a.nonKeyAttributes.every((name, i) => name === b.nonKeyAttributes[i])
  )
}

function sameCapacity(a: Capacity, b: Capacity): boolean {
  return matches(a.read, b.read, Object.is) && matches(a.write, b.write, Object.is)
}

/** Source and target indexes matched by name, in name order. */
function pairIndexes<T extends SecondaryIndex>(
  source: readonly T[],
  target: readonly T[]
): [T | undefined, T | undefined, string][] {
  const names = sorted([...new Set([...source, ...target].map((i) => i.name))])
  return names.map((name) => [
    source.find((i) => i.name === name),
    target.find((i) => i.name === name),
    name
  ])
}

function compareIndex(
  kind: 'globalIndexes' | 'localIndexes',
  a: SecondaryIndex,
  b: SecondaryIndex,
  add: (field: DefinitionField, a: string, b: string, index: string) => void
): void {
  if (!matches(a.keys, b.keys, sameKeys)) {
    add(`${kind}.keys`, renderKeys(a.keys), renderKeys(b.keys), a.name)
  }
  if (!sameProjection(a.projection, b.projection)) {
    add(
      `${kind}.projection`,
      renderProjection(a.projection),
      renderProjection(b.projection),
      a.name
    )
  }
}

/** A difference as one sentence, from its field and rendered values. */
export function describeDifference(d: Difference): string {
  const values = `source ${d.source}; target ${d.target}`
  const [kind, part] = d.field.split('.') as [string, string | undefined]
  if (kind !== 'globalIndexes' && kind !== 'localIndexes') {
    return d.field === 'keys'
      ? `primary keys differ: ${values}`
      : `${DEFINITION_FIELDS[d.field].label}: ${values}`
  }
  const index = `${DEFINITION_FIELDS[kind].label} '${d.index ?? ''}'`
  if (part === undefined) {
    return d.target === ABSENT
      ? `${index} exists on the source but not on the target`
      : `${index} exists on the target but not on the source`
  }
  if (part === 'keys') return `${index} keys differ: ${values}`
  if (part === 'projection') return `${index} projection differs: ${values}`
  return `${index} ${DEFINITION_FIELDS[d.field].label}: ${values}`
}

// --- Rendering for people --------------------------------------------------------------------

/** A definition as text, one entry per row of plan's table. */
export interface DefinitionText {
  keys: string
  attributes: string
  gsis: string
  lsis: string
  billing: string
  gsiCapacity: string
  stream: string
  ttl: string
  pitr: string
  sse: string
  tableClass: string
  deletionProtection: string
  tags: string
}

/** Which fields each row of `DefinitionText` shows. */
const ROW_FIELDS: Record<keyof DefinitionText, readonly DefinitionField[]> = {
  keys: ['keys'],
  attributes: ['keys', 'globalIndexes', 'globalIndexes.keys', 'localIndexes', 'localIndexes.keys'],
  gsis: ['globalIndexes', 'globalIndexes.keys', 'globalIndexes.projection'],
  lsis: ['localIndexes', 'localIndexes.keys', 'localIndexes.projection'],
  billing: ['billingMode', 'capacity'],
  gsiCapacity: ['billingMode', 'globalIndexes', 'globalIndexes.capacity'],
  stream: ['stream'],
  ttl: ['timeToLive'],
  pitr: ['pointInTimeRecovery'],
  sse: ['encryption'],
  tableClass: ['tableClass'],
  deletionProtection: ['deletionProtection'],
  tags: ['tags']
}

export function describeDefinition(definition: Definition): DefinitionText {
  const attributes = keyAttributes(definition)
    .map((a) => renderKeyAttribute(a))
    .join(', ')
  const index = (i: SecondaryIndex): string => `${i.name} (${renderIndex(i)})`
  return {
    keys: renderKeys(definition.keys),
    attributes: attributes || 'none',
    gsis: definition.globalIndexes.map(index).join('; ') || 'none',
    lsis: definition.localIndexes.map(index).join('; ') || 'none',
    billing: renderBilling(definition),
    gsiCapacity:
      definition.globalIndexes
        .map((i) => `${i.name}: ${renderIndexCapacity(definition.billingMode, i.capacity)}`)
        .join('; ') || 'none',
    stream: renderSetting(definition, 'stream'),
    ttl: renderSetting(definition, 'timeToLive'),
    pitr: renderSetting(definition, 'pointInTimeRecovery'),
    sse: renderSetting(definition, 'encryption'),
    tableClass: renderSetting(definition, 'tableClass'),
    deletionProtection: renderSetting(definition, 'deletionProtection'),
    tags: renderSetting(definition, 'tags')
  }
}

/** The rows of `DefinitionText` that show a field that differs, in row order. */
export function differingRows(differences: readonly Difference[]): (keyof DefinitionText)[] {
  const fields = new Set(differences.map((d) => d.field))
  return (Object.keys(ROW_FIELDS) as (keyof DefinitionText)[]).filter((row) =>
    ROW_FIELDS[row].some((field) => fields.has(field))
  )
}

function renderKeyAttribute(a: KeyAttribute, role?: string): string {
  const type = a.type === UNKNOWN ? '?' : a.type
  return role ? `${a.name}:${type} (${role})` : `${a.name}:${type}`
}

function renderKeys(keys: Known<KeySchema>): string {
  if (keys === UNKNOWN) return UNKNOWN
  const parts = [renderKeyAttribute(keys.hash, 'HASH')]
  if (keys.range) parts.push(renderKeyAttribute(keys.range, 'RANGE'))
  return parts.join(', ')
}

function renderProjection(p: IndexProjection): string {
  return p.nonKeyAttributes.length > 0 ? `${p.type} [${p.nonKeyAttributes.join(', ')}]` : p.type
}

function renderIndex(i: SecondaryIndex): string {
  return `${renderKeys(i.keys)}; ${renderProjection(i.projection)}`
}

const units = (n: Known<number | null>): string => (n === UNKNOWN || n === null ? '?' : String(n))

function renderCapacity(mode: BillingMode, c: Capacity): string {
  if (mode === 'PROVISIONED') return `${units(c.read)} RCU, ${units(c.write)} WCU`
  const parts = [
    ...(c.read === null ? [] : [`max ${units(c.read)} reads/s`]),
    ...(c.write === null ? [] : [`max ${units(c.write)} writes/s`])
  ]
  return parts.join(', ') || 'no maximum'
}

function renderBilling(d: Definition): string {
  if (d.billingMode === UNKNOWN) return UNKNOWN
  const capacity = renderCapacity(d.billingMode, d.capacity)
  return d.billingMode === 'PROVISIONED' || capacity !== 'no maximum'
    ? `${d.billingMode} (${capacity})`
    : d.billingMode
}

function renderIndexCapacity(mode: Known<BillingMode>, c: Capacity): string {
  if (mode === UNKNOWN) return UNKNOWN
  if (mode === 'PROVISIONED') return renderCapacity(mode, c)
  const capacity = renderCapacity(mode, c)
  return capacity === 'no maximum' ? 'on demand' : `on demand (${capacity})`
}

function renderSetting(d: Definition, field: SettingField): string {
  if (d[field] === UNKNOWN) return UNKNOWN
  const { stream, timeToLive, encryption, tags } = d
  switch (field) {
    case 'stream':
      return stream === null ? 'disabled' : `enabled (${stream})`
    case 'timeToLive':
      return timeToLive === null || timeToLive === UNKNOWN
        ? 'disabled'
        : `enabled on '${timeToLive.attributeName}'`
    case 'pointInTimeRecovery':
      return d.pointInTimeRecovery === true ? 'enabled' : 'disabled'
    case 'encryption':
      if (encryption === UNKNOWN || encryption.type === 'AWS_OWNED') return 'AWS owned key'
      return encryption.kmsKey === UNKNOWN ? 'KMS' : `KMS (${encryption.kmsKey})`
    case 'tableClass':
      return d.tableClass
    case 'deletionProtection':
      return d.deletionProtection === true ? 'on' : 'off'
    case 'tags':
      return (tags === UNKNOWN ? [] : tags).map((t) => `${t.key}=${t.value}`).join(', ') || 'none'
  }
}

// --- Into CreateTable ------------------------------------------------------------------------

/** The key attributes of the table and its indexes, each once: CreateTable's attributes. */
function keyAttributes(definition: Definition): KeyAttribute[] {
  const schemas = [
    definition.keys,
    ...definition.globalIndexes.map((i) => i.keys),
    ...definition.localIndexes.map((i) => i.keys)
  ]
  const attributes = new Map<string, KeyAttribute>()
  for (const schema of schemas) {
    if (schema === UNKNOWN) continue
    for (const a of schema.range ? [schema.hash, schema.range] : [schema.hash]) {
      if (!attributes.has(a.name)) attributes.set(a.name, a)
    }
  }
  return [...attributes.values()]
}

/**
 * CreateTable input for a table of this definition named `tableName`: keys, indexes,
 * billing and capacities (provisioned units at least 1), stream, KMS encryption, table class,
 * deletion protection and tags. TTL and PITR are separate calls. Throws when the definition
 * does not say what CreateTable needs (keys, their types, the billing mode, projections).
 */
export function buildCreateTableInput(
  definition: Definition,
  tableName: string
): CreateTableCommandInput {
  const missing: string[] = []
  const keySchema = (keys: Known<KeySchema>, what: string): KeySchemaElement[] => {
    if (keys === UNKNOWN) {
      missing.push(`the keys of ${what}`)
      return []
    }
    return [
      { AttributeName: keys.hash.name, KeyType: 'HASH' },
      ...(keys.range ? [{ AttributeName: keys.range.name, KeyType: 'RANGE' as const }] : [])
    ]
  }
  const projection = (
    i: SecondaryIndex
  ): NonNullable<CreateTableCommandInput['LocalSecondaryIndexes']>[number]['Projection'] => {
    if (i.projection.type === UNKNOWN) {
      missing.push(`the projection of index '${i.name}'`)
      return {}
    }
    return i.projection.nonKeyAttributes.length > 0
      ? { ProjectionType: i.projection.type, NonKeyAttributes: i.projection.nonKeyAttributes }
      : { ProjectionType: i.projection.type }
  }
  const mode = definition.billingMode
  if (mode === UNKNOWN) missing.push('the billing mode')
  const provisioned = mode === 'PROVISIONED'
  const throughput = (c: Capacity) => ({
    ReadCapacityUnits: Math.max(1, typeof c.read === 'number' ? c.read : 1),
    WriteCapacityUnits: Math.max(1, typeof c.write === 'number' ? c.write : 1)
  })
  const onDemand = (c: Capacity): OnDemandThroughput | undefined =>
    typeof c.read === 'number' || typeof c.write === 'number'
      ? {
          ...(typeof c.read === 'number' ? { MaxReadRequestUnits: c.read } : {}),
          ...(typeof c.write === 'number' ? { MaxWriteRequestUnits: c.write } : {})
        }
      : undefined

  const input: CreateTableCommandInput = {
    TableName: tableName,
    AttributeDefinitions: [],
    KeySchema: keySchema(definition.keys, 'the table'),
    BillingMode: provisioned ? 'PROVISIONED' : 'PAY_PER_REQUEST'
  }
  if (provisioned) input.ProvisionedThroughput = throughput(definition.capacity)
  const tableOnDemand = provisioned ? undefined : onDemand(definition.capacity)
  if (tableOnDemand) input.OnDemandThroughput = tableOnDemand
  if (definition.globalIndexes.length > 0) {
    input.GlobalSecondaryIndexes = definition.globalIndexes.map((gsi) => {
      const index: NonNullable<CreateTableCommandInput['GlobalSecondaryIndexes']>[number] = {
        IndexName: gsi.name,
        KeySchema: keySchema(gsi.keys, `index '${gsi.name}'`),
        Projection: projection(gsi)
      }
      if (provisioned) index.ProvisionedThroughput = throughput(gsi.capacity)
      const gsiOnDemand = provisioned ? undefined : onDemand(gsi.capacity)
      if (gsiOnDemand) index.OnDemandThroughput = gsiOnDemand
      return index
    })
  }
  if (definition.localIndexes.length > 0) {
    input.LocalSecondaryIndexes = definition.localIndexes.map((lsi) => ({
      IndexName: lsi.name,
      KeySchema: keySchema(lsi.keys, `index '${lsi.name}'`),
      Projection: projection(lsi)
    }))
  }
  input.AttributeDefinitions = keyAttributes(definition).map((a) => {
    if (a.type === UNKNOWN) missing.push(`the type of key attribute '${a.name}'`)
    return { AttributeName: a.name, AttributeType: a.type === UNKNOWN ? undefined : a.type }
  })
  if (definition.stream !== UNKNOWN && definition.stream !== null) {
    input.StreamSpecification = { StreamEnabled: true, StreamViewType: definition.stream }
  }
  const encryption = definition.encryption
  if (encryption !== UNKNOWN && encryption.type === 'KMS') {
    input.SSESpecification = { Enabled: true, SSEType: 'KMS' }
    if (encryption.kmsKey !== UNKNOWN) input.SSESpecification.KMSMasterKeyId = encryption.kmsKey
  }
  if (definition.tableClass !== UNKNOWN && definition.tableClass !== 'STANDARD') {
    input.TableClass = definition.tableClass
  }
  if (definition.deletionProtection === true) input.DeletionProtectionEnabled = true
  if (definition.tags !== UNKNOWN && definition.tags.length > 0) {
    input.Tags = definition.tags.map((t) => ({ Key: t.key, Value: t.value }))
  }
  if (missing.length > 0) {
    throw new ActionError(
      'definition.incomplete',
      `Table '${tableName}' cannot be created from the definition of '${definition.name}': it does not say ${missing.join(', ')}. Create the table first (with your IaC).`
    )
  }
  return input
}

// --- Settings a copy leaves to the IaC -------------------------------------------------------

/**
 * What a copy into a table it did not create leaves unapplied: the action changes no setting
 * of a table it did not make (the IaC owns it), so TTL that is on in the source and off in
 * the target is reported with the command that turns it on. This is also what finishes a
 * `create-target` copy that was interrupted before its proof and run again.
 */
export function heldBackSettings(source: TableInfo, target: TableInfo): string[] {
  const wanted = toDefinition(source).timeToLive
  if (wanted === UNKNOWN || wanted === null || toDefinition(target).timeToLive !== null) return []
  const attribute = wanted.attributeName
  return [
    `TTL is on in '${source.name}' (attribute '${attribute}') but off in '${target.name}', and this run did not create '${target.name}', so it left TTL off. Turn it on in your IaC, or: aws dynamodb update-time-to-live --table-name ${target.name} --time-to-live-specification Enabled=true,AttributeName=${attribute}`
  ]
}
