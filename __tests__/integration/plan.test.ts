// plan against DynamoDB Local and moto's S3: it reports every reason copy would refuse (and
// copy, run with the same inputs, does refuse), estimates honestly, and writes nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import zlib from 'node:zlib'
import {
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type ProjectionType
} from '@aws-sdk/client-dynamodb'
import { CreateBucketCommand, HeadBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3'
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
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js'
import { runAction, type ActionResult } from '../support/action.js'
import { everyTypeItem, sizedItem, SENTINEL } from '../../__fixtures__/items.js'

interface Plan {
  source: Record<string, string> | null
  target: Record<string, string> | null
  differences: {
    blocking: string[]
    advisory: string[]
    differences: {
      field: string
      index?: string
      source: string
      target: string
      blocking: boolean
    }[]
  }
  differing: string[]
  copy: {
    action: string
    refusals: string[]
    estimate?: { items: number; writeUnits: number; seconds: number; basis: string[] }
  }
}

/** DynamoDB operations that only read. */
const READS = [
  'DescribeTable',
  'DescribeTimeToLive',
  'DescribeContinuousBackups',
  'ListTagsOfResource',
  'Scan'
]

const ddb = localDynamoClient()
const s3 = localS3Client()
const bucket = uniqueName('plan-backups')
const missingBucket = uniqueName('plan-no-such-bucket')
let recorder: FaultProxy
let statusProxy: StatusProxy
let inputs: Record<string, string>

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  // A pass-through proxy that records every DynamoDB operation plan sends.
  recorder = await startFaultProxy({ target: ddbEndpoint() })
  statusProxy = await startStatusProxy(ddbEndpoint())
  inputs = {
    'dynamodb-endpoint': recorder.endpoint,
    's3-endpoint': motoEndpoint(),
    'backup-s3-uri': `s3://${bucket}/plans`
  }
})

afterAll(async () => {
  await recorder.stop()
  await statusProxy.stop()
  ddb.destroy()
  s3.destroy()
})

async function plan(
  extra: Record<string, string>
): Promise<{ result: ActionResult; plans: Plan[] }> {
  recorder.resetStats()
  const result = await runAction({ mode: 'plan', ...inputs, ...extra })
  const operations = recorder.stats.events.map((e) => e.operation)
  expect(operations).toContain('DescribeTable')
  expect(operations.filter((op) => !READS.includes(op))).toEqual([])
  expect(await listKeys(s3, bucket, '')).toEqual([])
  for (const text of [result.log, result.summary, JSON.stringify(result.outputs)])
    expect(text).not.toContain(SENTINEL)
  return { result, plans: result.report.pairs.map((p) => p.plan as Plan) }
}

/**
 * copy with the same inputs: it must refuse, before any write, with `code`, and (given plan's
 * refusals for the first pair) with exactly those words.
 */
async function expectCopyRefuses(
  extra: Record<string, string>,
  code: string,
  refusals?: string[]
): Promise<void> {
  const result = await runAction({ mode: 'copy', ...inputs, ...extra })
  expect(result.failed).toBe(true)
  expect(result.report.errorCode).toBe(code)
  if (refusals) expect(result.report.pairs[0]?.error).toBe(refusals.join(' '))
  expect(await listKeys(s3, bucket, '')).toEqual([])
}

async function sourceWithItems(count = 40): Promise<string> {
  const source = uniqueName('plan-src')
  await createTable(ddb, tableDefinition(source))
  await seed(ddb, source, [
    ...Array.from({ length: count - 1 }, (_, i) => sizedItem('p', i, 300)),
    everyTypeItem('every')
  ])
  return source
}

async function exists(table: string): Promise<boolean> {
  try {
    await ddb.send(new DescribeTableCommand({ TableName: table }))
    return true
  } catch {
    return false
  }
}

describe('plan', () => {
  it('predicts a copy, with an estimate that states its basis, and writes nothing', async () => {
    const source = await sourceWithItems()
    const target = uniqueName('plan-dst')
    await createTable(ddb, tableDefinition(target))
    const { result, plans } = await plan({ tables: `${source} -> ${target}` })
    expect(result.failed).toBe(false)
    const [p] = plans as [Plan]
    expect(p.copy).toMatchObject({ action: 'copy', refusals: [] })
    expect(p.source).toMatchObject({
      status: 'ACTIVE',
      keys: 'pk:S (HASH), sk:N (RANGE)',
      attributes: 'pk:S, sk:N',
      billing: 'PAY_PER_REQUEST',
      gsiCapacity: 'none'
    })
    expect(p.copy.estimate?.items).toBe(40)
    expect(p.copy.estimate?.basis.join(' ')).toContain('npm run bench')
    // The estimate's assumptions reach the job summary.
    expect(result.summary).toContain('the low end of what npm run bench measured')
    expect(result.log).toMatch(
      /copy would copy \(~40 items, .*~1s at ~2,400 items\/s, limited by the runner; an estimate\)/
    )
    expect(await canonicalContents(ddb, target)).toEqual(new Map())
  })

  it('reports a non-empty target as a refusal, as copy refuses it', async () => {
    const source = await sourceWithItems()
    const target = uniqueName('plan-full')
    await createTable(ddb, tableDefinition(target))
    await seed(ddb, target, [sizedItem('already', 1, 100)])
    const before = await canonicalContents(ddb, target)
    const tables = { tables: `${source} -> ${target}` }

    const { result, plans } = await plan(tables)
    expect(result.failed).toBe(false)
    expect(plans[0]?.copy.action).toBe('refuse')
    expect(plans[0]?.copy.refusals).toEqual([
      `Target table '${target}' already holds items. Copying into it would mix data; empty it, or set 'allow-non-empty-target: true' if that is intended (items with the same key are overwritten).`
    ])
    expect(result.log).toContain(`::warning::${source} -> ${target}: copy would refuse: Target`)
    expect(result.summary).toContain('copy would refuse because')
    await expectCopyRefuses(tables, 'preflight.targetNotEmpty', plans[0]?.copy.refusals)
    expect(await canonicalContents(ddb, target)).toEqual(before)

    // Allowed: copy would copy, and verification then costs a lookup per item.
    const allowed = await plan({ ...tables, 'allow-non-empty-target': 'true' })
    expect(allowed.plans[0]?.copy).toMatchObject({ action: 'copy', refusals: [] })
    expect(allowed.plans[0]?.copy.estimate?.basis.join(' ')).toContain(
      'looks every item up in the target'
    )
  })

  it('reports differing keys as a refusal, as copy refuses them', async () => {
    const source = await sourceWithItems()
    const target = uniqueName('plan-keys')
    await createTable(
      ddb,
      tableDefinition(target, {
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }]
      })
    )
    const tables = { tables: `${source} -> ${target}` }
    const { plans } = await plan(tables)
    const blocking = 'primary keys differ: source pk:S (HASH), sk:N (RANGE); target id:S (HASH)'
    expect(plans[0]?.differences.blocking).toEqual([blocking])
    expect(plans[0]?.differences.differences).toEqual([
      {
        field: 'keys',
        source: 'pk:S (HASH), sk:N (RANGE)',
        target: 'id:S (HASH)',
        blocking: true
      }
    ])
    expect(plans[0]?.differing).toEqual(['keys', 'attributes'])
    expect(plans[0]?.copy.action).toBe('refuse')
    expect(plans[0]?.copy.refusals).toEqual([
      expect.stringContaining(`differ, so the copy would not be the same table: ${blocking}.`)
    ])
    expect(plans[0]?.target?.attributes).toBe('id:S')
    await expectCopyRefuses(tables, 'preflight.definitionMismatch', plans[0]?.copy.refusals)
  })

  it('compares definitions field by field: index order does not matter, each field is named', async () => {
    const bySk = {
      IndexName: 'bySk',
      KeySchema: [{ AttributeName: 'sk', KeyType: 'HASH' as const }],
      Projection: { ProjectionType: 'ALL' as const }
    }
    /** indexedDefinition with a second GSI, in either order, and byName's projection. */
    const withIndexes = (
      name: string,
      reversed: boolean,
      projection: ProjectionType = 'KEYS_ONLY'
    ): CreateTableCommandInput => {
      const byName = {
        IndexName: 'byName',
        KeySchema: [{ AttributeName: 'name', KeyType: 'HASH' as const }],
        Projection: { ProjectionType: projection }
      }
      return indexedDefinition(name, {
        GlobalSecondaryIndexes: reversed ? [byName, bySk] : [bySk, byName]
      })
    }
    const source = uniqueName('plan-idx-src')
    await createTable(ddb, withIndexes(source, false))
    await ddb.send(
      new UpdateTimeToLiveCommand({
        TableName: source,
        TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' }
      })
    )
    const same = uniqueName('plan-idx-same')
    await createTable(ddb, withIndexes(same, true))

    const { plans } = await plan({ tables: `${source} -> ${same}` })
    expect(plans[0]?.source?.gsis).toBe(
      'byName (name:S (HASH); KEYS_ONLY); bySk (sk:N (HASH); ALL)'
    )
    expect(plans[0]?.target?.gsis).toBe(plans[0]?.source?.gsis)
    expect(plans[0]?.differences).toEqual({
      blocking: [],
      advisory: ["TTL: source enabled on 'expiresAt'; target disabled"],
      differences: [
        {
          field: 'timeToLive',
          source: "enabled on 'expiresAt'",
          target: 'disabled',
          blocking: false
        }
      ]
    })
    expect(plans[0]?.differing).toEqual(['ttl'])
    expect(plans[0]?.copy).toMatchObject({ action: 'copy', refusals: [] })

    const other = uniqueName('plan-idx-other')
    await createTable(ddb, withIndexes(other, true, 'ALL'))
    const { plans: refused } = await plan({ tables: `${source} -> ${other}` })
    const projection =
      "global secondary index 'byName' projection differs: source KEYS_ONLY; target ALL"
    expect(refused[0]?.differences.differences).toContainEqual({
      field: 'globalIndexes.projection',
      index: 'byName',
      source: 'KEYS_ONLY',
      target: 'ALL',
      blocking: true
    })
    expect(refused[0]?.copy.refusals).toEqual([expect.stringContaining(`: ${projection}. Fix`)])
    await expectCopyRefuses(
      { tables: `${source} -> ${other}` },
      'preflight.definitionMismatch',
      refused[0]?.copy.refusals
    )
  })

  it('reports a missing target as a refusal, and plans its creation with create-target', async () => {
    const source = await sourceWithItems()
    const target = uniqueName('plan-missing')
    const tables = { tables: `${source} -> ${target}` }

    const { plans } = await plan(tables)
    expect(plans[0]?.target).toBeNull()
    expect(plans[0]?.copy.action).toBe('refuse')
    expect(plans[0]?.copy.refusals).toEqual([
      `Target table '${target}' does not exist in us-east-1. Create it with your IaC first, or set 'create-target: true' to clone the source's definition.`
    ])
    await expectCopyRefuses(tables, 'preflight.missingTarget', plans[0]?.copy.refusals)

    const create = await plan({ ...tables, 'create-target': 'true' })
    expect(create.plans[0]?.copy).toMatchObject({ action: 'create target and copy', refusals: [] })
    expect(create.plans[0]?.copy.estimate?.items).toBe(40)
    expect(await exists(target)).toBe(false)
  })

  it('reports a backup bucket it cannot reach as a refusal, without creating it', async () => {
    const source = await sourceWithItems()
    const target = uniqueName('plan-dst')
    await createTable(ddb, tableDefinition(target))
    const unreachable = {
      tables: `${source} -> ${target}`,
      'backup-s3-uri': `s3://${missingBucket}/backups`
    }
    const bucketsBefore = (await s3.send(new ListBucketsCommand({}))).Buckets?.length

    const { plans } = await plan(unreachable)
    expect(plans[0]?.copy.action).toBe('refuse')
    expect(plans[0]?.copy.refusals).toEqual([
      `Backup bucket '${missingBucket}' cannot be used: it does not exist. Check 'backup-s3-uri' and the role's S3 permissions.`
    ])
    await expect(s3.send(new HeadBucketCommand({ Bucket: missingBucket }))).rejects.toThrow()
    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.length).toBe(bucketsBefore)
    await expectCopyRefuses(unreachable, 'backup.bucketUnavailable')

    const none = await plan({ tables: `${source} -> ${target}`, 'backup-s3-uri': '' })
    expect(none.plans[0]?.copy.refusals).toEqual([
      expect.stringMatching(/^No backup destination: set 'backup-s3-uri'/)
    ])
  })

  it('reports a table that is not ACTIVE as a refusal, as copy refuses it', async () => {
    const source = await sourceWithItems()
    const target = uniqueName('plan-creating')
    await createTable(ddb, tableDefinition(target))
    statusProxy.creating.add(target)
    const viaProxy = { tables: `${source} -> ${target}`, 'dynamodb-endpoint': statusProxy.endpoint }

    const result = await runAction({ mode: 'plan', ...inputs, ...viaProxy })
    const p = result.report.pairs[0]?.plan as Plan
    expect(p.target?.status).toBe('CREATING')
    expect(p.copy.action).toBe('refuse')
    expect(p.copy.refusals).toEqual([`Target table '${target}' is CREATING, not ACTIVE.`])
    await expectCopyRefuses(viaProxy, 'preflight.tableNotActive', p.copy.refusals)
    expect(await canonicalContents(ddb, target)).toEqual(new Map())
  })

  it('lists every reason at once, and refuses the other pairs as copy would', async () => {
    const source = await sourceWithItems()
    const good = uniqueName('plan-good')
    await createTable(ddb, tableDefinition(good))
    const tables = {
      tables: `${source} -> ${good}\n${source}-none -> ${good}-none`,
      'backup-s3-uri': `s3://${missingBucket}/x`
    }
    const { plans } = await plan(tables)
    const [first, second] = plans as [Plan, Plan]
    expect(second.copy.refusals).toEqual([
      expect.stringContaining(`Source table '${source}-none' does not exist`),
      expect.stringContaining(`Target table '${good}-none' does not exist`),
      expect.stringContaining(`Backup bucket '${missingBucket}' cannot be used`)
    ])
    expect(first.copy.action).toBe('refuse')

    const withBucket = await plan({ tables: tables.tables })
    const [alone] = withBucket.plans as [Plan]
    expect(alone.copy.action).toBe('refuse')
    expect(alone.copy.refusals).toEqual([
      `copy checks every pair before it writes anything, and it would refuse ${source}-none -> ${good}-none`
    ])
    await expectCopyRefuses({ tables: tables.tables }, 'preflight.missingSource')
    expect(await canonicalContents(ddb, good)).toEqual(new Map())
  })
})

interface StatusProxy {
  endpoint: string
  /** Tables DescribeTable reports as CREATING. */
  creating: Set<string>
  stop(): Promise<void>
}

/** Forwards to DynamoDB Local, reporting the tables in `creating` as CREATING. */
async function startStatusProxy(target: string): Promise<StatusProxy> {
  const upstream = new URL(target)
  const creating = new Set<string>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const headers = { ...req.headers, 'accept-encoding': 'identity' }
      const forward = http.request(
        {
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers
        },
        (answer) => {
          const parts: Buffer[] = []
          answer.on('data', (chunk: Buffer) => parts.push(chunk))
          answer.on('end', () => {
            let body = Buffer.concat(parts)
            if (String(req.headers['x-amz-target']).endsWith('.DescribeTable')) {
              const json = JSON.parse(body.toString('utf8')) as {
                Table?: { TableName?: string; TableStatus?: string }
              }
              if (json.Table && creating.has(json.Table.TableName ?? '')) {
                json.Table.TableStatus = 'CREATING'
                body = Buffer.from(JSON.stringify(json))
              }
            }
            const out: http.OutgoingHttpHeaders = {}
            for (const [name, value] of Object.entries(answer.headers)) {
              if (!['transfer-encoding', 'connection'].includes(name)) out[name] = value
            }
            out['content-length'] = String(body.length)
            out['x-amz-crc32'] = String(zlib.crc32(body))
            res.writeHead(answer.statusCode ?? 502, out)
            res.end(body)
          })
        }
      )
      forward.on('error', () => res.destroy())
      forward.end(Buffer.concat(chunks))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    creating,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
