import { describe, expect, it } from '@jest/globals'
import type { TableDescription } from '@aws-sdk/client-dynamodb'
import {
  cloneCreateTableInput,
  compareDefinitions,
  type TableInfo
} from '../../src/dynamo/tables.js'
import { estimateCopy } from '../../src/dynamo/estimate.js'

function table(name: string, overrides: Partial<TableDescription> = {}): TableDescription {
  return {
    TableName: name,
    TableArn: `arn:aws:dynamodb:eu-west-1:123456789012:table/${name}`,
    TableStatus: 'ACTIVE',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'N' },
      { AttributeName: 'status', AttributeType: 'S' }
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

function info(description: TableDescription, extra: Partial<TableInfo> = {}): TableInfo {
  return {
    name: description.TableName ?? '',
    description,
    timeToLive: { enabled: true, attributeName: 'expiresAt' },
    pointInTimeRecovery: true,
    tags: [
      { Key: 'team', Value: 'orders' },
      { Key: 'aws:cloudformation:stack-name', Value: 'old' }
    ],
    ...extra
  }
}

describe('tables.ts', () => {
  it('finds no differences between equal definitions', () => {
    expect(compareDefinitions(info(table('a')), info(table('b')))).toEqual({
      blocking: [],
      advisory: []
    })
  })

  it('blocks on key, index key and projection differences', () => {
    const other = table('b', {
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'status', AttributeType: 'S' }
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byStatus',
          KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' }
        },
        {
          IndexName: 'extra',
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'KEYS_ONLY' }
        }
      ]
    })
    const { blocking } = compareDefinitions(info(table('a')), info(other))
    expect(blocking).toEqual([
      'primary keys differ: source pk:S (HASH), sk:N (RANGE); target pk:S (HASH), sk:S (RANGE)',
      "global secondary index 'byStatus' projection differs: source INCLUDE [a, b]; target ALL",
      "global secondary index 'extra' exists on the target but not on the source"
    ])
  })

  it('lists billing, TTL, PITR and tags as advisory', () => {
    const target = info(
      table('b', {
        BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
        ProvisionedThroughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 0 }
      }),
      {
        timeToLive: { enabled: false },
        pointInTimeRecovery: false,
        tags: []
      }
    )
    const { blocking, advisory } = compareDefinitions(info(table('a')), target)
    expect(blocking).toEqual([])
    expect(advisory).toEqual([
      'billing mode: source PROVISIONED (10 RCU, 20 WCU); target PAY_PER_REQUEST',
      "TTL: source enabled on 'expiresAt'; target disabled",
      'point-in-time recovery: source enabled; target disabled',
      'tags: source team=orders; target none'
    ])
  })

  it('does not compare what the endpoint could not tell', () => {
    const target = info(table('b'), { pointInTimeRecovery: 'unsupported', tags: 'unsupported' })
    expect(compareDefinitions(info(table('a'), { tags: [] }), target).advisory).toEqual([])
  })

  it('clones the whole definition, without AWS-owned tags', () => {
    const input = cloneCreateTableInput(info(table('a')), 'b')
    expect(input).toEqual({
      TableName: 'b',
      AttributeDefinitions: table('a').AttributeDefinitions,
      KeySchema: table('a').KeySchema,
      BillingMode: 'PROVISIONED',
      ProvisionedThroughput: { ReadCapacityUnits: 10, WriteCapacityUnits: 20 },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byStatus',
          KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['b', 'a'] },
          ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 6 }
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
      Tags: [{ Key: 'team', Value: 'orders' }]
    })
  })

  it('clones an on-demand table without provisioned throughput', () => {
    const input = cloneCreateTableInput(
      info(
        table('a', {
          BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
          ProvisionedThroughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 0 },
          SSEDescription: undefined
        })
      ),
      'b'
    )
    expect(input.BillingMode).toBe('PAY_PER_REQUEST')
    expect(input.ProvisionedThroughput).toBeUndefined()
    expect(input.GlobalSecondaryIndexes?.[0]?.ProvisionedThroughput).toBeUndefined()
    expect(input.SSESpecification).toBeUndefined()
  })

  it('estimates capacity and time of a copy', () => {
    const estimate = estimateCopy(table('a'), table('b'))
    expect(estimate.items).toBe(1000)
    expect(estimate.sourceReadUnits).toBe(500)
    // ~2 KB items: 2 WCU each, for the table and its one GSI.
    expect(estimate.writeUnits).toBe(4000)
    // 4000 WCU at 20 WCU/s dominates.
    expect(estimate.seconds).toBeGreaterThanOrEqual(200)
  })
})
