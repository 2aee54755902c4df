import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { CreateBucketCommand } from '@aws-sdk/client-s3'
import {
  DescribeContinuousBackupsCommand,
  DescribeImportCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ImportTableCommand,
  ListTagsOfResourceCommand,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand
} from '@aws-sdk/client-dynamodb'
import {
  ddbEndpoint,
  localDynamoClient,
  localS3Client,
  motoEndpoint,
  uniqueName
} from '../support/env.js'
import {
  canonicalContents,
  createTable,
  indexedDefinition,
  seed,
  tableDefinition
} from '../support/tables.js'
import { listKeys } from '../support/backups.js'
import { runAction } from '../support/action.js'
import { sizedItem } from '../../__fixtures__/items.js'

// moto has what DynamoDB Local lacks: tags, PITR, SSE with KMS keys, STS, ImportTable.
let moto: ReturnType<typeof localDynamoClient>
const s3 = localS3Client()
const bucket = uniqueName('moto-backups')

beforeAll(async () => {
  moto = localDynamoClient(motoEndpoint())
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
})

afterAll(() => {
  moto.destroy()
  s3.destroy()
})

describe('against moto', () => {
  it('clones tags, PITR, TTL, SSE and deletion protection with create-target', async () => {
    const source = uniqueName('m-src')
    const target = uniqueName('m-dst')
    await createTable(
      moto,
      indexedDefinition(source, {
        Tags: [{ Key: 'team', Value: 'orders' }],
        SSESpecification: {
          Enabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: 'arn:aws:kms:us-east-1:123456789012:key/test-key'
        },
        DeletionProtectionEnabled: true,
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' }
      })
    )
    await moto.send(
      new UpdateTimeToLiveCommand({
        TableName: source,
        TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' }
      })
    )
    await moto.send(
      new UpdateContinuousBackupsCommand({
        TableName: source,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }
      })
    )
    await seed(
      moto,
      source,
      Array.from({ length: 30 }, (_, i) => sizedItem(`m${i}`, i)),
      motoEndpoint()
    )

    const result = await runAction({
      mode: 'copy',
      tables: `${source} -> ${target}`,
      'create-target': 'true',
      'dynamodb-endpoint': motoEndpoint(),
      's3-endpoint': motoEndpoint(),
      'backup-s3-uri': `s3://${bucket}/m`
    })
    expect(result.report.error).toBeUndefined()
    expect(result.outputs.verified).toBe('true')

    const created = (await moto.send(new DescribeTableCommand({ TableName: target }))).Table!
    expect(created.DeletionProtectionEnabled).toBe(true)
    expect(created.SSEDescription?.SSEType).toBe('KMS')
    expect(created.SSEDescription?.KMSMasterKeyArn).toContain('test-key')
    expect(created.StreamSpecification).toEqual({
      StreamEnabled: true,
      StreamViewType: 'KEYS_ONLY'
    })
    const tags = await moto.send(new ListTagsOfResourceCommand({ ResourceArn: created.TableArn }))
    expect(tags.Tags).toEqual([{ Key: 'team', Value: 'orders' }])
    const ttl = await moto.send(new DescribeTimeToLiveCommand({ TableName: target }))
    expect(ttl.TimeToLiveDescription).toMatchObject({
      TimeToLiveStatus: 'ENABLED',
      AttributeName: 'expiresAt'
    })
    const pitr = await moto.send(new DescribeContinuousBackupsCommand({ TableName: target }))
    expect(
      pitr.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus
    ).toBe('ENABLED')
    expect(await canonicalContents(moto, target, motoEndpoint())).toEqual(
      await canonicalContents(moto, source, motoEndpoint())
    )
  })

  it('plans advisory differences in tags and PITR', async () => {
    const source = uniqueName('m-src')
    const target = uniqueName('m-dst')
    await createTable(moto, tableDefinition(source, { Tags: [{ Key: 'team', Value: 'a' }] }))
    await createTable(moto, tableDefinition(target))
    await moto.send(
      new UpdateContinuousBackupsCommand({
        TableName: source,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }
      })
    )
    const result = await runAction({
      mode: 'plan',
      tables: `${source} -> ${target}`,
      'dynamodb-endpoint': motoEndpoint()
    })
    const plan = result.report.pairs[0]!.plan as { differences: { advisory: string[] } }
    expect(plan.differences.advisory).toEqual([
      'point-in-time recovery: source enabled; target disabled',
      'tags: source team=a; target none'
    ])
  })

  it('honours AWS_ENDPOINT_URL_<SERVICE> and passes the account guard for the right account', async () => {
    const source = uniqueName('e-src')
    await createTable(moto, tableDefinition(source))
    await seed(moto, source, [sizedItem('a', 1)], motoEndpoint())
    const result = await runAction(
      {
        mode: 'backup',
        tables: source,
        'backup-s3-uri': `s3://${bucket}/env`,
        'expected-account-id': '123456789012'
      },
      {
        env: {
          AWS_ENDPOINT_URL_DYNAMODB: motoEndpoint(),
          AWS_ENDPOINT_URL_S3: motoEndpoint(),
          AWS_ENDPOINT_URL_STS: motoEndpoint()
        }
      }
    )
    expect(result.report.error).toBeUndefined()
    expect(result.log).toContain('AWS account 123456789012 matches expected-account-id')
    expect(result.report.pairs[0]!.counts.scanned).toBe(1)
  })

  it('refuses to run at all in another account', async () => {
    const source = uniqueName('g-src')
    const target = uniqueName('g-dst')
    await createTable(moto, tableDefinition(source))
    await seed(moto, source, [sizedItem('a', 1)], motoEndpoint())
    const result = await runAction(
      {
        mode: 'copy',
        tables: `${source} -> ${target}`,
        'create-target': 'true',
        'backup-s3-uri': `s3://${bucket}/guard`,
        'expected-account-id': '111122223333'
      },
      {
        env: {
          AWS_ENDPOINT_URL_DYNAMODB: motoEndpoint(),
          AWS_ENDPOINT_URL_S3: motoEndpoint(),
          AWS_ENDPOINT_URL_STS: motoEndpoint()
        }
      }
    )
    expect(result.failed).toBe(true)
    expect(result.report.errorCode).toBe('gate.wrongAccount')
    expect(result.report.error).toContain('belong to account 123456789012')
    await expect(moto.send(new DescribeTableCommand({ TableName: target }))).rejects.toThrow()
    expect(await listKeys(s3, bucket, `guard/`)).toEqual([])
  })

  it("writes a backup that DynamoDB's ImportTable reads without this action", async () => {
    const source = uniqueName('i-src')
    const imported = uniqueName('i-imported')
    const ddb = localDynamoClient(ddbEndpoint())
    await createTable(ddb, tableDefinition(source))
    // moto's reader keeps JSON escapes literally, so these items avoid them.
    const items = Array.from({ length: 120 }, (_, i) => ({
      ...sizedItem(`imp${i % 9}`, i, 200),
      n: { N: '12345678901234567890123456789012345678' },
      tags: { SS: ['a', 'b'] },
      blob: { B: Buffer.from([1, 2, 3, i % 256]).toString('base64') },
      nested: { M: { list: { L: [{ N: '1' }, { S: 'x' }] } } }
    }))
    await seed(ddb, source, items)
    const result = await runAction({
      mode: 'backup',
      tables: source,
      'dynamodb-endpoint': ddbEndpoint(),
      's3-endpoint': motoEndpoint(),
      'backup-s3-uri': `s3://${bucket}/import`
    })
    expect(result.report.error).toBeUndefined()
    const folder = result.report.pairs[0]!.backupLocations[0]!.replace(`s3://${bucket}/`, '')
    const dataKey = (await listKeys(s3, bucket, folder)).find((k) => k.includes('/data/'))!
    const importArn = (
      await moto.send(
        new ImportTableCommand({
          S3BucketSource: {
            S3Bucket: bucket,
            S3KeyPrefix: dataKey.slice(0, dataKey.lastIndexOf('/') + 1)
          },
          InputFormat: 'DYNAMODB_JSON',
          InputCompressionType: 'GZIP',
          TableCreationParameters: {
            TableName: imported,
            AttributeDefinitions: tableDefinition(imported).AttributeDefinitions,
            KeySchema: tableDefinition(imported).KeySchema,
            BillingMode: 'PAY_PER_REQUEST'
          }
        })
      )
    ).ImportTableDescription!.ImportArn
    for (let i = 0; i < 50; i++) {
      const status = (await moto.send(new DescribeImportCommand({ ImportArn: importArn })))
        .ImportTableDescription?.ImportStatus
      if (status !== 'IN_PROGRESS') break
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(await canonicalContents(moto, imported, motoEndpoint())).toEqual(
      await canonicalContents(ddb, source, ddbEndpoint())
    )
    ddb.destroy()
  })
})
