import { describe, expect, it } from '@jest/globals'
import type { TableDescription } from '@aws-sdk/client-dynamodb'
import {
  buildCreateTableInput,
  compareDefinitions,
  DEFINITION_FIELDS,
  describeDefinition,
  diffDefinitions,
  differingRows,
  heldBackSettings,
  keyAttributeNames,
  toDefinition,
  type Definition,
  type DefinitionField,
  type TableInfo
} from '../../../src/dynamo/definitions.js'

/** A DescribeTable answer with every setting the definition covers. */
function table(name: string, overrides: Partial<TableDescription> = {}): TableDescription {
  return {
    TableName: name,
    TableArn: `arn:aws:dynamodb:eu-west-1:123456789012:table/${name}`,
    TableStatus: 'ACTIVE',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'N' },
      { AttributeName: 'status', AttributeType: 'S' },
      { AttributeName: 'at', AttributeType: 'N' }
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' }
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: 'byStatus',
        KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['b', 'a'] },
        IndexStatus: 'ACTIVE',
        ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 6 }
      },
      {
        IndexName: 'all',
        KeySchema: [{ AttributeName: 'sk', KeyType: 'HASH' }],
        Projection: { ProjectionType: 'KEYS_ONLY' },
        IndexStatus: 'ACTIVE',
        ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 2 }
      }
    ],
    LocalSecondaryIndexes: [
      {
        IndexName: 'byTime',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'at', KeyType: 'RANGE' }
        ],
        Projection: { ProjectionType: 'ALL' }
      }
    ],
    BillingModeSummary: { BillingMode: 'PROVISIONED' },
    ProvisionedThroughput: {
      ReadCapacityUnits: 10,
      WriteCapacityUnits: 20,
      NumberOfDecreasesToday: 0
    },
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    SSEDescription: {
      Status: 'ENABLED',
      SSEType: 'KMS',
      KMSMasterKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/abc'
    },
    TableClassSummary: { TableClass: 'STANDARD_INFREQUENT_ACCESS' },
    DeletionProtectionEnabled: true,
    ItemCount: 1000,
    TableSizeBytes: 2_048_000,
    ...overrides
  }
}

/** The same table on demand, as DynamoDB describes one. */
const onDemand: Partial<TableDescription> = {
  BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
  ProvisionedThroughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 0 },
  OnDemandThroughput: { MaxReadRequestUnits: -1, MaxWriteRequestUnits: -1 },
  GlobalSecondaryIndexes: table('x').GlobalSecondaryIndexes?.map((i) => ({
    ...i,
    ProvisionedThroughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 0 }
  }))
}

function info(description: TableDescription, extra: Partial<TableInfo> = {}): TableInfo {
  return {
    name: description.TableName ?? '',
    description,
    timeToLive: { enabled: true, attributeName: 'expiresAt' },
    pointInTimeRecovery: true,
    tags: [
      { Key: 'team', Value: 'orders' },
      { Key: 'aws:cloudformation:stack-name', Value: 'old' },
      { Key: 'cost', Value: 'c1' }
    ],
    ...extra
  }
}

const definition = (description: TableDescription, extra: Partial<TableInfo> = {}): Definition =>
  toDefinition(info(description, extra))

describe('definitions.ts', () => {
  describe('toDefinition', () => {
    it('reads every field of a DescribeTable answer, indexes and tags sorted', () => {
      expect(definition(table('a'))).toEqual({
        name: 'a',
        keys: { hash: { name: 'pk', type: 'S' }, range: { name: 'sk', type: 'N' } },
        billingMode: 'PROVISIONED',
        capacity: { read: 10, write: 20 },
        globalIndexes: [
          {
            name: 'all',
            keys: { hash: { name: 'sk', type: 'N' }, range: null },
            projection: { type: 'KEYS_ONLY', nonKeyAttributes: [] },
            capacity: { read: 1, write: 2 }
          },
          {
            name: 'byStatus',
            keys: { hash: { name: 'status', type: 'S' }, range: null },
            projection: { type: 'INCLUDE', nonKeyAttributes: ['a', 'b'] },
            capacity: { read: 5, write: 6 }
          }
        ],
        localIndexes: [
          {
            name: 'byTime',
            keys: { hash: { name: 'pk', type: 'S' }, range: { name: 'at', type: 'N' } },
            projection: { type: 'ALL', nonKeyAttributes: [] }
          }
        ],
        stream: 'NEW_AND_OLD_IMAGES',
        encryption: { type: 'KMS', kmsKey: 'arn:aws:kms:eu-west-1:123456789012:key/abc' },
        tableClass: 'STANDARD_INFREQUENT_ACCESS',
        deletionProtection: true,
        timeToLive: { attributeName: 'expiresAt' },
        pointInTimeRecovery: true,
        tags: [
          { key: 'cost', value: 'c1' },
          { key: 'team', value: 'orders' }
        ]
      })
    })

    it("fills in DynamoDB's defaults for what a description leaves out", () => {
      const bare: TableDescription = {
        TableName: 'bare',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'B' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }]
      }
      expect(definition(bare, { timeToLive: { enabled: false }, tags: [] })).toEqual({
        name: 'bare',
        keys: { hash: { name: 'id', type: 'B' }, range: null },
        billingMode: 'PAY_PER_REQUEST',
        capacity: { read: null, write: null },
        globalIndexes: [],
        localIndexes: [],
        stream: null,
        encryption: { type: 'AWS_OWNED' },
        tableClass: 'STANDARD',
        deletionProtection: false,
        timeToLive: null,
        pointInTimeRecovery: true,
        tags: []
      })
    })

    it('takes an old provisioned table without a billing summary as provisioned', () => {
      const d = definition(table('a', { BillingModeSummary: undefined }))
      expect(d.billingMode).toBe('PROVISIONED')
      expect(d.capacity).toEqual({ read: 10, write: 20 })
    })

    it('reads on-demand maxima, and -1 as no maximum', () => {
      const d = definition(
        table('a', {
          ...onDemand,
          OnDemandThroughput: { MaxReadRequestUnits: 100, MaxWriteRequestUnits: -1 }
        })
      )
      expect(d.billingMode).toBe('PAY_PER_REQUEST')
      expect(d.capacity).toEqual({ read: 100, write: null })
      expect(d.globalIndexes.map((i) => i.capacity)).toEqual([
        { read: null, write: null },
        { read: null, write: null }
      ])
    })

    it('says unknown for what the endpoint or the description could not tell', () => {
      const d = definition(
        table('a', {
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' }
          ],
          StreamSpecification: { StreamEnabled: true },
          SSEDescription: { Status: 'ENABLED', SSEType: 'KMS' }
        }),
        { timeToLive: 'unsupported', pointInTimeRecovery: 'unsupported', tags: 'unsupported' }
      )
      expect(d.keys).toEqual({
        hash: { name: 'pk', type: 'S' },
        range: { name: 'sk', type: 'unknown' }
      })
      expect(d).toMatchObject({
        stream: 'unknown',
        encryption: { type: 'KMS', kmsKey: 'unknown' },
        timeToLive: 'unknown',
        pointInTimeRecovery: 'unknown',
        tags: 'unknown'
      })
      expect(definition(table('a', { KeySchema: [] })).keys).toBe('unknown')
    })

    it('takes the old AES256 encryption and a disabled SSE as the AWS owned key', () => {
      const aes = definition(
        table('a', { SSEDescription: { Status: 'ENABLED', SSEType: 'AES256' } })
      )
      const off = definition(table('a', { SSEDescription: { Status: 'DISABLED', SSEType: 'KMS' } }))
      expect(aes.encryption).toEqual({ type: 'AWS_OWNED' })
      expect(off.encryption).toEqual({ type: 'AWS_OWNED' })
    })
  })

  describe('keyAttributeNames', () => {
    it('names the partition key, then the sort key', () => {
      expect(keyAttributeNames(table('a'))).toEqual(['pk', 'sk'])
      expect(keyAttributeNames({ KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] })).toEqual([
        'id'
      ])
    })
  })

  describe('compareDefinitions', () => {
    it('finds no differences between equal definitions', () => {
      expect(compareDefinitions(info(table('a')), info(table('b')))).toEqual({
        blocking: [],
        advisory: [],
        differences: []
      })
    })

    it('matches indexes by name, in any order, and INCLUDE attributes in any order', () => {
      const reordered = table('b', {
        GlobalSecondaryIndexes: [...(table('a').GlobalSecondaryIndexes ?? [])]
          .reverse()
          .map((i) => ({
            ...i,
            Projection: {
              ...i.Projection,
              NonKeyAttributes: [...(i.Projection?.NonKeyAttributes ?? [])].reverse()
            }
          })),
        AttributeDefinitions: [...(table('a').AttributeDefinitions ?? [])].reverse()
      })
      expect(compareDefinitions(info(table('a')), info(reordered)).differences).toEqual([])
    })

    it('blocks on key, index key and projection differences, field by field', () => {
      const other = table('b', {
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'status', AttributeType: 'S' },
          { AttributeName: 'at', AttributeType: 'N' }
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byStatus',
            KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
            ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 6 }
          },
          {
            IndexName: 'extra',
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'KEYS_ONLY' },
            ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 }
          }
        ],
        LocalSecondaryIndexes: [
          {
            IndexName: 'byTime',
            KeySchema: [
              { AttributeName: 'pk', KeyType: 'HASH' },
              { AttributeName: 'status', KeyType: 'RANGE' }
            ],
            Projection: { ProjectionType: 'ALL' }
          }
        ]
      })
      const result = compareDefinitions(info(table('a')), info(other))
      expect(result.differences).toEqual([
        {
          field: 'keys',
          source: 'pk:S (HASH), sk:N (RANGE)',
          target: 'pk:S (HASH), sk:S (RANGE)',
          blocking: true
        },
        {
          field: 'globalIndexes',
          index: 'all',
          source: 'sk:N (HASH); KEYS_ONLY',
          target: 'absent',
          blocking: true
        },
        {
          field: 'globalIndexes.projection',
          index: 'byStatus',
          source: 'INCLUDE [a, b]',
          target: 'ALL',
          blocking: true
        },
        {
          field: 'globalIndexes',
          index: 'extra',
          source: 'absent',
          target: 'pk:S (HASH); KEYS_ONLY',
          blocking: true
        },
        {
          field: 'localIndexes.keys',
          index: 'byTime',
          source: 'pk:S (HASH), at:N (RANGE)',
          target: 'pk:S (HASH), status:S (RANGE)',
          blocking: true
        }
      ])
      expect(result.blocking).toEqual([
        'primary keys differ: source pk:S (HASH), sk:N (RANGE); target pk:S (HASH), sk:S (RANGE)',
        "global secondary index 'all' exists on the source but not on the target",
        "global secondary index 'byStatus' projection differs: source INCLUDE [a, b]; target ALL",
        "global secondary index 'extra' exists on the target but not on the source",
        "local secondary index 'byTime' keys differ: source pk:S (HASH), at:N (RANGE); target pk:S (HASH), status:S (RANGE)"
      ])
      expect(result.advisory).toEqual([])
    })

    it('lists billing, TTL, PITR and tags as advisory', () => {
      const target = info(table('b', onDemand), {
        timeToLive: { enabled: false },
        pointInTimeRecovery: false,
        tags: []
      })
      const { blocking, advisory } = compareDefinitions(info(table('a')), target)
      expect(blocking).toEqual([])
      expect(advisory).toEqual([
        'billing mode: source PROVISIONED (10 RCU, 20 WCU); target PAY_PER_REQUEST',
        "TTL: source enabled on 'expiresAt'; target disabled",
        'point-in-time recovery: source enabled; target disabled',
        'tags: source cost=c1, team=orders; target none'
      ])
    })

    it('compares capacities only under the same billing mode, the GSIs one by one', () => {
      const lower = table('b', {
        ProvisionedThroughput: { ReadCapacityUnits: 10, WriteCapacityUnits: 5 },
        GlobalSecondaryIndexes: table('a').GlobalSecondaryIndexes?.map((i) =>
          i.IndexName === 'byStatus'
            ? { ...i, ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 1 } }
            : i
        )
      })
      expect(compareDefinitions(info(table('a')), info(lower)).differences).toEqual([
        { field: 'capacity', source: '10 RCU, 20 WCU', target: '10 RCU, 5 WCU', blocking: false },
        {
          field: 'globalIndexes.capacity',
          index: 'byStatus',
          source: '5 RCU, 6 WCU',
          target: '5 RCU, 1 WCU',
          blocking: false
        }
      ])
      const capped = table('b', {
        ...onDemand,
        OnDemandThroughput: { MaxReadRequestUnits: 100, MaxWriteRequestUnits: 50 }
      })
      expect(compareDefinitions(info(table('a', onDemand)), info(capped)).advisory).toEqual([
        'capacity: source no maximum; target max 100 reads/s, max 50 writes/s'
      ])
      // Another billing mode: one difference, the capacities shown with it.
      expect(compareDefinitions(info(capped), info(table('b'))).differences).toEqual([
        {
          field: 'billingMode',
          source: 'PAY_PER_REQUEST (max 100 reads/s, max 50 writes/s)',
          target: 'PROVISIONED (10 RCU, 20 WCU)',
          blocking: false
        }
      ])
    })

    it('does not compare what the endpoint could not tell', () => {
      const target = info(table('b'), {
        timeToLive: 'unsupported',
        pointInTimeRecovery: 'unsupported',
        tags: 'unsupported'
      })
      expect(compareDefinitions(info(table('a'), { tags: [] }), target).differences).toEqual([])
    })

    const settings = table('a', onDemand)
    /** The on-demand table with its GSI 'all' changed. */
    const withAll = (change: object): TableDescription =>
      table('b', {
        ...onDemand,
        GlobalSecondaryIndexes: onDemand.GlobalSecondaryIndexes?.map((i) =>
          i.IndexName === 'all' ? { ...i, ...change } : i
        )
      })
    /** Each field, a target that differs in it alone, and the message it gives. */
    const cases: [DefinitionField, TableDescription, Partial<TableInfo>, string][] = [
      [
        'keys',
        table('b', { ...onDemand, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }),
        {},
        'primary keys differ: source pk:S (HASH), sk:N (RANGE); target pk:S (HASH)'
      ],
      [
        'globalIndexes',
        table('b', {
          ...onDemand,
          GlobalSecondaryIndexes: onDemand.GlobalSecondaryIndexes?.slice(1)
        }),
        {},
        "global secondary index 'byStatus' exists on the source but not on the target"
      ],
      [
        'globalIndexes.keys',
        withAll({
          KeySchema: [
            { AttributeName: 'sk', KeyType: 'HASH' },
            { AttributeName: 'pk', KeyType: 'RANGE' }
          ]
        }),
        {},
        "global secondary index 'all' keys differ: source sk:N (HASH); target sk:N (HASH), pk:S (RANGE)"
      ],
      [
        'globalIndexes.projection',
        withAll({ Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['a'] } }),
        {},
        "global secondary index 'all' projection differs: source KEYS_ONLY; target INCLUDE [a]"
      ],
      [
        'globalIndexes.capacity',
        withAll({ OnDemandThroughput: { MaxReadRequestUnits: 7 } }),
        {},
        "global secondary index 'all' capacity: source no maximum; target max 7 reads/s"
      ],
      [
        'localIndexes',
        table('b', { ...onDemand, LocalSecondaryIndexes: [] }),
        {},
        "local secondary index 'byTime' exists on the source but not on the target"
      ],
      [
        'localIndexes.keys',
        table('b', {
          ...onDemand,
          LocalSecondaryIndexes: settings.LocalSecondaryIndexes?.map((i) => ({
            ...i,
            KeySchema: [
              { AttributeName: 'pk', KeyType: 'HASH' as const },
              { AttributeName: 'sk', KeyType: 'RANGE' as const }
            ]
          }))
        }),
        {},
        "local secondary index 'byTime' keys differ: source pk:S (HASH), at:N (RANGE); target pk:S (HASH), sk:N (RANGE)"
      ],
      [
        'localIndexes.projection',
        table('b', {
          ...onDemand,
          LocalSecondaryIndexes: settings.LocalSecondaryIndexes?.map((i) => ({
            ...i,
            Projection: { ProjectionType: 'KEYS_ONLY' as const }
          }))
        }),
        {},
        "local secondary index 'byTime' projection differs: source ALL; target KEYS_ONLY"
      ],
      [
        'billingMode',
        table('b'),
        {},
        'billing mode: source PAY_PER_REQUEST; target PROVISIONED (10 RCU, 20 WCU)'
      ],
      [
        'capacity',
        table('b', { ...onDemand, OnDemandThroughput: { MaxWriteRequestUnits: 9 } }),
        {},
        'capacity: source no maximum; target max 9 writes/s'
      ],
      [
        'stream',
        table('b', {
          ...onDemand,
          StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' }
        }),
        {},
        'stream: source enabled (NEW_AND_OLD_IMAGES); target enabled (KEYS_ONLY)'
      ],
      [
        'timeToLive',
        table('b', onDemand),
        { timeToLive: { enabled: true, attributeName: 'ttl' } },
        "TTL: source enabled on 'expiresAt'; target enabled on 'ttl'"
      ],
      [
        'pointInTimeRecovery',
        table('b', onDemand),
        { pointInTimeRecovery: false },
        'point-in-time recovery: source enabled; target disabled'
      ],
      [
        'encryption',
        table('b', { ...onDemand, SSEDescription: undefined }),
        {},
        'encryption: source KMS (arn:aws:kms:eu-west-1:123456789012:key/abc); target AWS owned key'
      ],
      [
        'tableClass',
        table('b', { ...onDemand, TableClassSummary: undefined }),
        {},
        'table class: source STANDARD_INFREQUENT_ACCESS; target STANDARD'
      ],
      [
        'deletionProtection',
        table('b', { ...onDemand, DeletionProtectionEnabled: false }),
        {},
        'deletion protection: source on; target off'
      ],
      [
        'tags',
        table('b', onDemand),
        { tags: [{ Key: 'team', Value: 'orders' }] },
        'tags: source cost=c1, team=orders; target team=orders'
      ]
    ]

    it.each(cases)(
      'reports %s alone, blocking as the field rule says',
      (field, d, extra, message) => {
        const result = compareDefinitions(info(settings), info(d, extra))
        expect(result.differences.map((x) => [x.field, x.blocking])).toEqual([
          [field, DEFINITION_FIELDS[field].blocking]
        ])
        expect(DEFINITION_FIELDS[field].blocking ? result.blocking : result.advisory).toEqual([
          message
        ])
      }
    )

    it('blocks on keys, indexes and projections, and on nothing else', () => {
      const blocking = Object.entries(DEFINITION_FIELDS)
        .filter(([, rule]) => rule.blocking)
        .map(([field]) => field)
      expect(blocking).toEqual([
        'keys',
        'globalIndexes',
        'globalIndexes.keys',
        'globalIndexes.projection',
        'localIndexes',
        'localIndexes.keys',
        'localIndexes.projection'
      ])
    })
  })

  describe('diffDefinitions', () => {
    /** What a template says: no capacity for an auto-scaled table, no KMS key ARN, no PITR. */
    const declared: Definition = {
      ...definition(table('declared')),
      capacity: { read: 'unknown', write: 'unknown' },
      encryption: { type: 'KMS', kmsKey: 'unknown' },
      pointInTimeRecovery: 'unknown',
      keys: { hash: { name: 'pk', type: 'unknown' }, range: { name: 'sk', type: 'N' } }
    }

    it("compares only what both sides say, so a template's unknowns claim nothing", () => {
      const live = definition(table('live'), { pointInTimeRecovery: false })
      expect(diffDefinitions(declared, live).differences).toEqual([])
      expect(diffDefinitions(live, declared).differences).toEqual([])
    })

    it('still compares key names where the types are unknown', () => {
      const live = definition(
        table('live', { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] })
      )
      expect(diffDefinitions(declared, live).blocking).toEqual([
        'primary keys differ: source pk:? (HASH), sk:N (RANGE); target pk:S (HASH)'
      ])
    })

    it('compares no capacity under an unknown billing mode, and no keys that are unknown', () => {
      const unknownMode: Definition = { ...declared, billingMode: 'unknown' }
      const live = definition(table('live', onDemand))
      expect(diffDefinitions(unknownMode, live).differences).toEqual([])
      expect(
        diffDefinitions({ ...declared, keys: 'unknown' }, definition(table('x'))).differences
      ).toEqual([])
    })
  })

  describe('describeDefinition', () => {
    it("renders each row of plan's table from the structure", () => {
      expect(describeDefinition(definition(table('a')))).toEqual({
        keys: 'pk:S (HASH), sk:N (RANGE)',
        attributes: 'pk:S, sk:N, status:S, at:N',
        gsis: 'all (sk:N (HASH); KEYS_ONLY); byStatus (status:S (HASH); INCLUDE [a, b])',
        lsis: 'byTime (pk:S (HASH), at:N (RANGE); ALL)',
        billing: 'PROVISIONED (10 RCU, 20 WCU)',
        gsiCapacity: 'all: 1 RCU, 2 WCU; byStatus: 5 RCU, 6 WCU',
        stream: 'enabled (NEW_AND_OLD_IMAGES)',
        ttl: "enabled on 'expiresAt'",
        pitr: 'enabled',
        sse: 'KMS (arn:aws:kms:eu-west-1:123456789012:key/abc)',
        tableClass: 'STANDARD_INFREQUENT_ACCESS',
        deletionProtection: 'on',
        tags: 'cost=c1, team=orders'
      })
    })

    it('renders an on-demand table, its maxima, and what is unknown', () => {
      const text = describeDefinition(
        definition(
          table('a', {
            ...onDemand,
            OnDemandThroughput: { MaxReadRequestUnits: 100 },
            GlobalSecondaryIndexes: [],
            LocalSecondaryIndexes: undefined,
            StreamSpecification: undefined,
            SSEDescription: undefined
          }),
          { timeToLive: 'unsupported', pointInTimeRecovery: 'unsupported', tags: 'unsupported' }
        )
      )
      expect(text).toMatchObject({
        attributes: 'pk:S, sk:N',
        gsis: 'none',
        lsis: 'none',
        billing: 'PAY_PER_REQUEST (max 100 reads/s)',
        gsiCapacity: 'none',
        stream: 'disabled',
        ttl: 'unknown',
        pitr: 'unknown',
        sse: 'AWS owned key',
        tags: 'unknown'
      })
      expect(describeDefinition(definition(table('a', onDemand))).gsiCapacity).toBe(
        'all: on demand; byStatus: on demand'
      )
    })

    it('names the rows that show a differing field', () => {
      const target = info(table('b', { ...onDemand, LocalSecondaryIndexes: [] }), { tags: [] })
      const { differences } = compareDefinitions(info(table('a')), target)
      expect(differingRows(differences)).toEqual([
        'attributes',
        'lsis',
        'billing',
        'gsiCapacity',
        'tags'
      ])
      expect(differingRows([])).toEqual([])
    })
  })

  describe('buildCreateTableInput', () => {
    it('clones the whole definition, without AWS-owned tags', () => {
      expect(buildCreateTableInput(definition(table('a')), 'b')).toEqual({
        TableName: 'b',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'N' },
          { AttributeName: 'status', AttributeType: 'S' },
          { AttributeName: 'at', AttributeType: 'N' }
        ],
        KeySchema: table('a').KeySchema,
        BillingMode: 'PROVISIONED',
        ProvisionedThroughput: { ReadCapacityUnits: 10, WriteCapacityUnits: 20 },
        GlobalSecondaryIndexes: [
          {
            IndexName: 'all',
            KeySchema: [{ AttributeName: 'sk', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'KEYS_ONLY' },
            ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 2 }
          },
          {
            IndexName: 'byStatus',
            KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['a', 'b'] },
            ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 6 }
          }
        ],
        LocalSecondaryIndexes: [
          {
            IndexName: 'byTime',
            KeySchema: table('a').LocalSecondaryIndexes?.[0]?.KeySchema,
            Projection: { ProjectionType: 'ALL' }
          }
        ],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
        SSESpecification: {
          Enabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/abc'
        },
        TableClass: 'STANDARD_INFREQUENT_ACCESS',
        DeletionProtectionEnabled: true,
        Tags: [
          { Key: 'cost', Value: 'c1' },
          { Key: 'team', Value: 'orders' }
        ]
      })
    })

    it('clones an on-demand table with its maxima and without provisioned throughput', () => {
      const input = buildCreateTableInput(
        definition(
          table('a', {
            ...onDemand,
            OnDemandThroughput: { MaxReadRequestUnits: 100, MaxWriteRequestUnits: -1 },
            SSEDescription: undefined,
            TableClassSummary: { TableClass: 'STANDARD' },
            DeletionProtectionEnabled: false
          }),
          { tags: 'unsupported' }
        ),
        'b'
      )
      expect(input.BillingMode).toBe('PAY_PER_REQUEST')
      expect(input.ProvisionedThroughput).toBeUndefined()
      expect(input.OnDemandThroughput).toEqual({ MaxReadRequestUnits: 100 })
      expect(input.GlobalSecondaryIndexes?.[0]?.ProvisionedThroughput).toBeUndefined()
      expect(input.GlobalSecondaryIndexes?.[0]?.OnDemandThroughput).toBeUndefined()
      for (const absent of [
        'SSESpecification',
        'TableClass',
        'DeletionProtectionEnabled',
        'Tags'
      ] as const)
        expect(input).not.toHaveProperty(absent)
    })

    it('provisions at least one unit where a capacity is zero or unknown', () => {
      const input = buildCreateTableInput(
        { ...definition(table('a')), capacity: { read: 0, write: 'unknown' } },
        'b'
      )
      expect(input.ProvisionedThroughput).toEqual({ ReadCapacityUnits: 1, WriteCapacityUnits: 1 })
    })

    it('refuses a definition that does not say what CreateTable needs', () => {
      const incomplete: Definition = {
        ...definition(table('a')),
        billingMode: 'unknown',
        keys: { hash: { name: 'pk', type: 'unknown' }, range: null }
      }
      expect(() => buildCreateTableInput(incomplete, 'b')).toThrow(
        "Table 'b' cannot be created from the definition of 'a': it does not say the billing mode, the type of key attribute 'pk'."
      )
    })
  })

  describe('heldBackSettings', () => {
    it('names the TTL a copy into an existing table left off, with the command', () => {
      const source = info(table('a'))
      const off = info(table('b'), { timeToLive: { enabled: false } })
      expect(heldBackSettings(source, off)).toEqual([
        "TTL is on in 'a' (attribute 'expiresAt') but off in 'b', and this run did not create 'b', so it left TTL off. Turn it on in your IaC, or: aws dynamodb update-time-to-live --table-name b --time-to-live-specification Enabled=true,AttributeName=expiresAt"
      ])
      expect(heldBackSettings(source, info(table('b')))).toEqual([])
      expect(heldBackSettings(source, info(table('b'), { timeToLive: 'unsupported' }))).toEqual([])
      expect(heldBackSettings(off, source)).toEqual([])
    })
  })
})
