import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import {
  CreateTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTagsOfResourceCommand,
  ResourceNotFoundException,
  ScanCommand,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
  type TableDescription
} from '@aws-sdk/client-dynamodb'
import { mockClient } from 'aws-sdk-client-mock'
import {
  applyTimeToLive,
  createTableClone,
  describeTable,
  isTableEmpty,
  waitUntilTableActive
} from '../../../src/dynamo/tables.js'
import type { TableInfo } from '../../../src/dynamo/definitions.js'

const client = new DynamoDBClient({ region: 'us-east-1' })
const ddb = mockClient(client)

const notFound = (): ResourceNotFoundException =>
  new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: {} })

/** How DynamoDB Local answers the APIs it lacks. */
function unsupported(name: string, message = 'not supported'): Error {
  const error = new Error(message)
  error.name = name
  return error
}

function described(status: string, indexStatus = 'ACTIVE'): TableDescription {
  return {
    TableName: 't',
    TableArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/t',
    TableStatus: status as TableDescription['TableStatus'],
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'g', AttributeType: 'N' }
    ],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
    GlobalSecondaryIndexes: [
      {
        IndexName: 'byG',
        KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
        Projection: { ProjectionType: 'ALL' },
        IndexStatus: indexStatus as 'ACTIVE'
      }
    ]
  }
}

function source(extra: Partial<TableInfo> = {}): TableInfo {
  return {
    name: 'src',
    description: { ...described('ACTIVE'), TableName: 'src' },
    timeToLive: { enabled: true, attributeName: 'expiresAt' },
    pointInTimeRecovery: true,
    tags: [{ Key: 'team', Value: 'orders' }],
    ...extra
  }
}

describe('tables.ts', () => {
  beforeEach(() => {
    ddb.reset()
  })

  afterEach(() => {
    jest.useRealTimers()
  })

  describe('describeTable', () => {
    it('returns null for a table that does not exist', async () => {
      ddb.on(DescribeTableCommand).rejects(notFound())
      expect(await describeTable(client, 'missing')).toBeNull()
    })

    it('reads TTL, PITR and every page of tags', async () => {
      ddb.on(DescribeTableCommand).resolves({ Table: described('ACTIVE') })
      ddb.on(DescribeTimeToLiveCommand).resolves({
        TimeToLiveDescription: { TimeToLiveStatus: 'ENABLING', AttributeName: 'expiresAt' }
      })
      ddb.on(DescribeContinuousBackupsCommand).resolves({
        ContinuousBackupsDescription: {
          ContinuousBackupsStatus: 'ENABLED',
          PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'ENABLED' }
        }
      })
      ddb
        .on(ListTagsOfResourceCommand)
        .resolvesOnce({ Tags: [{ Key: 'a', Value: '1' }], NextToken: 'next' })
        .resolvesOnce({ Tags: [{ Key: 'b', Value: '2' }] })
      const info = await describeTable(client, 't')
      expect(info).toMatchObject({
        name: 't',
        timeToLive: { enabled: true, attributeName: 'expiresAt' },
        pointInTimeRecovery: true,
        tags: [
          { Key: 'a', Value: '1' },
          { Key: 'b', Value: '2' }
        ]
      })
      expect(ddb.commandCalls(ListTagsOfResourceCommand)[1]?.args[0].input).toEqual({
        ResourceArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/t',
        NextToken: 'next'
      })
    })

    it('marks what the endpoint does not support, as DynamoDB Local answers', async () => {
      ddb.on(DescribeTableCommand).resolves({ Table: described('ACTIVE') })
      ddb.on(DescribeTimeToLiveCommand).resolves({
        TimeToLiveDescription: { TimeToLiveStatus: 'DISABLED' }
      })
      ddb.on(DescribeContinuousBackupsCommand).rejects(unsupported('UnknownOperationException'))
      ddb
        .on(ListTagsOfResourceCommand)
        .rejects(unsupported('ValidationException', 'Tagging is not currently supported'))
      expect(await describeTable(client, 't')).toMatchObject({
        timeToLive: { enabled: false },
        pointInTimeRecovery: 'unsupported',
        tags: 'unsupported'
      })
    })

    it('names the table and the setting when a read fails', async () => {
      ddb.on(DescribeTableCommand).rejects(unsupported('AccessDeniedException', 'denied'))
      await expect(describeTable(client, 't')).rejects.toMatchObject({
        code: 'aws.describeTable',
        message: "Could not describe table 't': denied"
      })
      ddb.on(DescribeTableCommand).resolves({ Table: described('ACTIVE') })
      ddb.on(DescribeTimeToLiveCommand).rejects(unsupported('AccessDeniedException', 'no TTL'))
      await expect(describeTable(client, 't')).rejects.toThrow(
        "Could not read the TTL of table 't': no TTL"
      )
    })
  })

  describe('isTableEmpty', () => {
    it('follows empty Limit-1 pages until an item or the end', async () => {
      ddb
        .on(ScanCommand)
        .resolvesOnce({ Count: 0, LastEvaluatedKey: { pk: { S: 'a' } } })
        .resolvesOnce({ Count: 1 })
      expect(await isTableEmpty(client, 't')).toBe(false)
      expect(ddb.commandCalls(ScanCommand)[1]?.args[0].input).toEqual({
        TableName: 't',
        Limit: 1,
        ExclusiveStartKey: { pk: { S: 'a' } }
      })
      ddb.reset()
      ddb.on(ScanCommand).resolves({ Count: 0 })
      expect(await isTableEmpty(client, 't')).toBe(true)
    })
  })

  describe('waitUntilTableActive', () => {
    it('waits for the table and its indexes, through a moment of not finding it', async () => {
      jest.useFakeTimers()
      ddb
        .on(DescribeTableCommand)
        .rejectsOnce(notFound())
        .resolvesOnce({ Table: described('CREATING', 'CREATING') })
        .resolvesOnce({ Table: described('ACTIVE', 'CREATING') })
        .resolves({ Table: described('ACTIVE') })
      const log: string[] = []
      const done = waitUntilTableActive(client, 't', { log: (line) => log.push(line) })
      await jest.advanceTimersByTimeAsync(60_000)
      expect((await done).TableStatus).toBe('ACTIVE')
      expect(ddb.commandCalls(DescribeTableCommand)).toHaveLength(4)
      expect(log).toEqual([
        "Waiting for table 't' to become ACTIVE (now not found yet)",
        "Waiting for table 't' to become ACTIVE (now CREATING; indexes not yet ACTIVE: byG)",
        "Waiting for table 't' to become ACTIVE (now ACTIVE; indexes not yet ACTIVE: byG)"
      ])
    })

    it('gives up after the timeout, naming the last status', async () => {
      jest.useFakeTimers()
      ddb.on(DescribeTableCommand).resolves({ Table: described('CREATING') })
      const done = waitUntilTableActive(client, 't', { timeoutMs: 20_000 })
      const failed = expect(done).rejects.toMatchObject({
        code: 'aws.tableNotActive',
        message:
          "Table 't' did not become ACTIVE within 20s (status CREATING). Check it in the console, then run again."
      })
      await jest.advanceTimersByTimeAsync(30_000)
      await failed
    })

    it('stops at once on an error other than not found', async () => {
      ddb.on(DescribeTableCommand).rejects(unsupported('AccessDeniedException', 'denied'))
      await expect(waitUntilTableActive(client, 't')).rejects.toMatchObject({
        code: 'aws.describeTable',
        message: "Could not describe table 't' while waiting for it: denied"
      })
      expect(ddb.commandCalls(DescribeTableCommand)).toHaveLength(1)
    })
  })

  describe('createTableClone', () => {
    it('creates the clone from the definition, waits, then turns PITR on; TTL waits', async () => {
      ddb.on(CreateTableCommand).resolves({})
      ddb.on(DescribeTableCommand).resolves({ Table: described('ACTIVE') })
      ddb.on(UpdateContinuousBackupsCommand).resolves({})
      expect(await createTableClone(client, source(), 't')).toEqual([])
      expect(ddb.commandCalls(CreateTableCommand)[0]?.args[0].input).toEqual({
        TableName: 't',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'g', AttributeType: 'N' }
        ],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byG',
            KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' }
          }
        ],
        Tags: [{ Key: 'team', Value: 'orders' }]
      })
      expect(ddb.commandCalls(UpdateContinuousBackupsCommand)[0]?.args[0].input).toEqual({
        TableName: 't',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }
      })
      expect(ddb.commandCalls(UpdateTimeToLiveCommand)).toHaveLength(0)
    })

    it('notes PITR the endpoint cannot turn on, and fails on any other PITR error', async () => {
      ddb.on(CreateTableCommand).resolves({})
      ddb.on(DescribeTableCommand).resolves({ Table: described('ACTIVE') })
      ddb.on(UpdateContinuousBackupsCommand).rejects(unsupported('UnknownOperationException'))
      expect(await createTableClone(client, source(), 't')).toEqual([
        'point-in-time recovery could not be enabled: the endpoint does not support it'
      ])
      ddb.on(UpdateContinuousBackupsCommand).rejects(unsupported('AccessDeniedException', 'no'))
      await expect(createTableClone(client, source(), 't')).rejects.toMatchObject({
        code: 'aws.updateContinuousBackups'
      })
      ddb.resetHistory()
      await createTableClone(client, source({ pointInTimeRecovery: 'unsupported' }), 't')
      expect(ddb.commandCalls(UpdateContinuousBackupsCommand)).toHaveLength(0)
    })

    it('names the target when CreateTable fails', async () => {
      ddb.on(CreateTableCommand).rejects(unsupported('LimitExceededException', 'too many'))
      await expect(createTableClone(client, source(), 't')).rejects.toMatchObject({
        code: 'aws.createTable',
        message: "Could not create target table 't': too many"
      })
      expect(ddb.commandCalls(DescribeTableCommand)).toHaveLength(0)
    })
  })

  describe('applyTimeToLive', () => {
    it('turns TTL on as the source has it, and only then', async () => {
      ddb.on(UpdateTimeToLiveCommand).resolves({})
      expect(await applyTimeToLive(client, source(), 't')).toBe(
        "TTL turned on (attribute 'expiresAt') after the copy"
      )
      expect(ddb.commandCalls(UpdateTimeToLiveCommand)[0]?.args[0].input).toEqual({
        TableName: 't',
        TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' }
      })
      expect(await applyTimeToLive(client, source({ timeToLive: { enabled: false } }), 't')).toBe(
        undefined
      )
      expect(await applyTimeToLive(client, source({ timeToLive: 'unsupported' }), 't')).toBe(
        undefined
      )
      expect(ddb.commandCalls(UpdateTimeToLiveCommand)).toHaveLength(1)
    })

    it('says the items are safe and how to finish when TTL cannot be turned on', async () => {
      ddb.on(UpdateTimeToLiveCommand).rejects(unsupported('AccessDeniedException', 'denied'))
      await expect(applyTimeToLive(client, source(), 't')).rejects.toMatchObject({
        code: 'aws.updateTimeToLive',
        message: expect.stringContaining(
          'aws dynamodb update-time-to-live --table-name t --time-to-live-specification Enabled=true,AttributeName=expiresAt'
        )
      })
    })
  })
})
