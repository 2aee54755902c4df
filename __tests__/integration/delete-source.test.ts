import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CreateBucketCommand } from '@aws-sdk/client-s3'
import { DescribeTableCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb'
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
  putItem,
  seed
} from '../support/tables.js'
import { listKeys } from '../support/backups.js'
import { startFaultProxy } from '../support/fault-proxy.js'
import { FakeArtifacts, runAction, type ActionResult } from '../support/action.js'
import {
  approval,
  protectedEnvironment,
  RUN_ID,
  startGitHubApi,
  type GitHubApi,
  type Scenario
} from '../support/github-api.js'
import { everyTypeItem, prototypeNamesItem, sizedItem, SENTINEL } from '../../__fixtures__/items.js'

const ENV = 'prod-delete'
const ddb = localDynamoClient()
const s3 = localS3Client()
const bucket = uniqueName('delete-backups')
let github: GitHubApi

function passingScenario(): Scenario {
  return {
    environment: { status: 200, body: protectedEnvironment(ENV, ['alice', 'carol']) },
    approvals: {
      status: 200,
      body: [
        approval('staging', 'approved', 'dave'),
        approval(ENV, 'approved', 'alice', 'ship it <b>now</b>')
      ]
    },
    oidcClaims: {
      environment: ENV,
      repository: 'acme/shop',
      run_id: String(RUN_ID),
      sub: `repo:acme/shop:environment:${ENV}`
    }
  }
}

/** A source and a target holding its items (plus one the application wrote). */
async function copiedPair(): Promise<{ source: string; target: string }> {
  const source = uniqueName('old-orders')
  const target = uniqueName('new-orders')
  await createTable(ddb, indexedDefinition(source))
  await createTable(ddb, indexedDefinition(target))
  const items = [
    ...Array.from({ length: 300 }, (_, i) => sizedItem(`d${i % 17}`, i, 200)),
    everyTypeItem('every'),
    prototypeNamesItem('proto')
  ]
  await seed(ddb, source, items)
  await seed(ddb, target, [...items, sizedItem('written-by-the-app', 1)])
  return { source, target }
}

interface RunOptions {
  scenario?: Scenario
  inputs?: Record<string, string>
  oidc?: boolean
  env?: Record<string, string>
  artifacts?: FakeArtifacts
}

async function deleteSource(
  source: string,
  target: string,
  options: RunOptions = {}
): Promise<ActionResult> {
  github.scenario = options.scenario ?? passingScenario()
  github.requests.length = 0
  return runAction(
    {
      mode: 'delete-source',
      tables: `${source} -> ${target}`,
      'approval-environment': ENV,
      'confirm-delete': source,
      'github-token': 'ghs_secret_token',
      'backup-s3-uri': `s3://${bucket}/backups`,
      'dynamodb-endpoint': ddbEndpoint(),
      's3-endpoint': motoEndpoint(),
      ...options.inputs
    },
    {
      env: { ...github.env({ oidc: options.oidc ?? true }), ...options.env },
      ...(options.artifacts ? { artifacts: options.artifacts } : {})
    }
  )
}

/** A backup of `source` on the runner's disk only, as a backup step without S3 leaves it. */
async function localBackup(source: string): Promise<{ dir: string; backup: ActionResult }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'local-backup-'))
  const backup = await runAction({
    mode: 'backup',
    tables: source,
    'backup-dir': dir,
    'dynamodb-endpoint': ddbEndpoint()
  })
  return { dir, backup }
}

async function exists(table: string): Promise<boolean> {
  return ddb.send(new DescribeTableCommand({ TableName: table })).then(
    () => true,
    () => false
  )
}

async function expectRefused(
  result: ActionResult,
  source: string,
  code: string,
  items: Map<string, string>
): Promise<void> {
  expect(result.failed).toBe(true)
  expect(result.report.errorCode).toBe(code)
  expect(result.log).toContain('::error::')
  expect(await exists(source)).toBe(true)
  expect(await canonicalContents(ddb, source)).toEqual(items)
  expect(result.report.pairs.every((p) => p.status === 'skipped')).toBe(true)
  expect(result.report.pairs.some((p) => p.verified === true)).toBe(false)
  expect(result.summary).toContain('❌ refused')
}

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  github = await startGitHubApi()
})

afterAll(async () => {
  await github.stop()
  ddb.destroy()
  s3.destroy()
})

describe('delete-source', () => {
  it('deletes the source when every gate passes, with the approval as the audit record', async () => {
    const { source, target } = await copiedPair()
    const backup = await runAction({
      mode: 'backup',
      tables: source,
      'backup-s3-uri': `s3://${bucket}/backups`,
      'dynamodb-endpoint': ddbEndpoint(),
      's3-endpoint': motoEndpoint()
    })
    const backupFolder = backup.report.pairs[0]!.backupLocations[0]!
    const result = await deleteSource(source, target)
    expect(result.report.error).toBeUndefined()
    expect(result.report.pairs[0]!.status).toBe('deleted')
    expect(await exists(source)).toBe(false)
    expect(await exists(target)).toBe(true)
    // The existing backup (same digest) was read back and used; no new one was taken.
    expect(result.report.pairs[0]!.backupLocations[0]).toContain(backupFolder.replace(/\/$/, ''))
    expect(
      (await listKeys(s3, bucket, `backups/${source}/`)).filter((k) =>
        k.endsWith('manifest-summary.json')
      )
    ).toHaveLength(1)
    // The token went to GitHub on every API call; the summary names approver and comment, escaped.
    const apiCalls = github.requests.filter((r) => r.path.startsWith('/repos/'))
    expect(apiCalls.map((r) => r.path)).toEqual([
      `/repos/acme/shop/environments/${ENV}`,
      `/repos/acme/shop/actions/runs/${RUN_ID}/approvals`
    ])
    expect(apiCalls.every((r) => r.authorization === 'token ghs_secret_token')).toBe(true)
    expect(
      github.requests.some(
        (r) => r.path === '/oidc/token' && r.authorization === 'Bearer runtime-token'
      )
    ).toBe(true)
    expect(result.summary).toContain('Gates (audit record)')
    expect(result.summary).toContain('alice (&quot;ship it &lt;b&gt;now&lt;/b&gt;&quot;)')
    expect(result.summary).toContain('OIDC: environment matches')
    expect(result.summary).toContain('🗑️ deleted')
    expect(result.log).toContain('::add-mask::ghs_secret_token')
    expect(result.log).not.toContain(SENTINEL)
  })

  it('takes and reads back a fresh backup when none matches the source', async () => {
    const { source, target } = await copiedPair()
    const result = await deleteSource(source, target)
    expect(result.report.error).toBeUndefined()
    expect(await exists(source)).toBe(false)
    expect(result.report.pairs[0]!.backupLocations[0]).toMatch(
      new RegExp(`^s3://${bucket}/backups/${source}/`)
    )
    expect(
      (await listKeys(s3, bucket, `backups/${source}/`)).some((k) =>
        k.endsWith('manifest-summary.json')
      )
    ).toBe(true)
  })

  it("uploads a matching local backup (a downloaded artifact) as this run's artifact", async () => {
    const { source, target } = await copiedPair()
    const { dir } = await localBackup(source)
    const artifacts = new FakeArtifacts()
    const result = await deleteSource(source, target, {
      inputs: { 'backup-s3-uri': '', 'backup-dir': dir, 'backup-artifact': 'true' },
      artifacts
    })
    expect(result.report.error).toBeUndefined()
    expect(await exists(source)).toBe(false)
    const [local, artifact] = result.report.pairs[0]!.backupLocations
    expect(local).toContain(dir)
    expect(artifact).toMatch(/^artifact:dynamodb-backup-/)
    // The matching backup itself was uploaded (no fresh backup was taken).
    expect(artifacts.uploads).toHaveLength(1)
    expect(artifacts.uploads[0]!.rootDirectory).toBe(local)
    expect(artifacts.uploads[0]!.files.some((f) => f.endsWith('manifest-summary.json'))).toBe(true)
  })

  it('refuses a matching backup that is only on the runner disk, with no durable destination', async () => {
    const { source, target } = await copiedPair()
    const before = await canonicalContents(ddb, source)
    const { dir } = await localBackup(source)
    const result = await deleteSource(source, target, {
      inputs: { 'backup-s3-uri': '', 'backup-dir': dir }
    })
    await expectRefused(result, source, 'gate.noBackup', before)
    expect(result.report.error).toContain('backup that outlives this job')
  })

  it('passes without OIDC (no id-token permission), saying so', async () => {
    const { source, target } = await copiedPair()
    const result = await deleteSource(source, target, { oidc: false })
    expect(result.report.error).toBeUndefined()
    expect(result.summary).toContain('OIDC: not available')
    expect(result.log).toContain("::warning::The job has no 'id-token: write' permission")
  })

  const refusals: [
    string,
    string,
    (s: Scenario) => Scenario | undefined,
    Record<string, string>?,
    boolean?
  ][] = [
    ['no approval-environment', 'gate.noEnvironment', (s) => s, { 'approval-environment': '' }],
    [
      'a missing environment (404)',
      'gate.environmentMissing',
      (s) => ({ ...s, environment: { status: 404 } })
    ],
    [
      'an environment without required reviewers',
      'gate.noRequiredReviewers',
      (s) => ({
        ...s,
        environment: {
          status: 200,
          body: { name: ENV, protection_rules: [{ type: 'wait_timer', wait_timer: 5 }] }
        }
      })
    ],
    [
      'a rejected approval',
      'gate.rejected',
      (s) => ({
        ...s,
        approvals: {
          status: 200,
          body: [approval(ENV, 'approved'), approval(ENV, 'rejected', 'carol', 'no')]
        }
      })
    ],
    [
      'no approval at all',
      'gate.noApproval',
      (s) => ({ ...s, approvals: { status: 200, body: [] } })
    ],
    [
      'only another environment approved',
      'gate.noApproval',
      (s) => ({ ...s, approvals: { status: 200, body: [approval('staging')] } })
    ],
    ['a 401 from the API', 'gate.apiError', (s) => ({ ...s, environment: { status: 401 } })],
    ['a 403 from the API', 'gate.apiError', (s) => ({ ...s, approvals: { status: 403 } })],
    ['a 500 from the API', 'gate.apiError', (s) => ({ ...s, approvals: { status: 500 } })],
    [
      'an OIDC token of another environment',
      'gate.wrongEnvironment',
      (s) => ({ ...s, oidcClaims: { ...s.oidcClaims, environment: 'staging' } })
    ],
    [
      'an OIDC token of another run',
      'gate.wrongEnvironment',
      (s) => ({ ...s, oidcClaims: { ...s.oidcClaims, run_id: '1' } })
    ],
    [
      'an OIDC token service that fails',
      'gate.oidcFailed',
      (s) => ({ ...s, oidcClaims: undefined })
    ],
    [
      'confirm-delete naming another table too',
      'gate.confirmMismatch',
      (s) => s,
      { 'confirm-delete': 'SOURCE, other-table' }
    ],
    ['confirm-delete naming nothing', 'gate.confirmMismatch', (s) => s, { 'confirm-delete': '' }],
    [
      'confirm-delete naming the source twice',
      'gate.confirmMismatch',
      (s) => s,
      { 'confirm-delete': 'SOURCE, SOURCE' }
    ],
    ['no backup and no destination', 'gate.noBackup', (s) => s, { 'backup-s3-uri': '' }],
    [
      'the wrong AWS account',
      'gate.wrongAccount',
      (s) => s,
      { 'expected-account-id': '111122223333' }
    ]
  ]

  it.each(refusals)(
    'refuses %s and deletes nothing',
    async (_label, code, scenario, inputs = {}) => {
      const { source, target } = await copiedPair()
      const before = await canonicalContents(ddb, source)
      const resolved = Object.fromEntries(
        Object.entries(inputs).map(([k, v]) => [k, v.replace('SOURCE', source)])
      )
      const result = await deleteSource(source, target, {
        scenario: scenario(passingScenario()) ?? {},
        inputs: { ...resolved, 'backup-dir': mkdtempSync(path.join(tmpdir(), 'empty-')) },
        env: { AWS_ENDPOINT_URL_STS: motoEndpoint() }
      })
      await expectRefused(result, source, code, before)
    }
  )

  it('refuses when an item is missing from the target, naming its key only', async () => {
    const { source, target } = await copiedPair()
    const before = await canonicalContents(ddb, source)
    await putItem(ddb, source, { ...sizedItem('only-in-source', 1), secret: { S: SENTINEL } })
    before.clear()
    for (const [k, v] of await canonicalContents(ddb, source)) before.set(k, v)
    const result = await deleteSource(source, target)
    await expectRefused(result, source, 'gate.notInTarget', before)
    expect(result.report.error).toContain('missing-in-target pk="only-in-source", sk=1')
    expect(result.log).not.toContain(SENTINEL)
  })

  it('refuses when an item differs in the target', async () => {
    const { source, target } = await copiedPair()
    const before = await canonicalContents(ddb, source)
    await putItem(ddb, target, { ...sizedItem('d3', 3, 200), name: { S: 'changed' } })
    const result = await deleteSource(source, target)
    await expectRefused(result, source, 'gate.notInTarget', before)
    expect(result.report.error).toContain('differs pk="d3", sk=3')
  })

  it('refuses when the target lost an attribute named __proto__', async () => {
    const { source, target } = await copiedPair()
    const before = await canonicalContents(ddb, source)
    // The target's copy of the item as a copy through the SDK's decoder would have left it.
    const lossy = Object.fromEntries(
      Object.entries(prototypeNamesItem('proto')).filter(([name]) => name !== '__proto__')
    )
    await putItem(ddb, target, lossy)
    const result = await deleteSource(source, target)
    await expectRefused(result, source, 'gate.notInTarget', before)
    expect(result.report.error).toContain('differs pk="proto", sk=1')
  })

  it('refuses while deletion protection is on, saying how to turn it off', async () => {
    const { source, target } = await copiedPair()
    const before = await canonicalContents(ddb, source)
    await ddb.send(new UpdateTableCommand({ TableName: source, DeletionProtectionEnabled: true }))
    const result = await deleteSource(source, target)
    await expectRefused(result, source, 'gate.deletionProtection', before)
    expect(result.report.error).toContain(`--no-deletion-protection-enabled`)
  })

  it('does not use a damaged backup, and refuses when it cannot take another', async () => {
    const { source, target } = await copiedPair()
    const { dir, backup } = await localBackup(source)
    const { readdirSync } = await import('node:fs')
    const folder = backup.report.pairs[0]!.backupLocations[0]!
    const exportDir = path.join(
      folder,
      'AWSDynamoDB',
      readdirSync(path.join(folder, 'AWSDynamoDB'))[0]!,
      'data'
    )
    writeFileSync(path.join(exportDir, readdirSync(exportDir)[0]!), 'not gzip')
    const before = await canonicalContents(ddb, source)
    const failing = new FakeArtifacts()
    failing.upload = () => Promise.reject(new Error('artifact service down'))
    const result = await deleteSource(source, target, {
      inputs: { 'backup-s3-uri': '', 'backup-dir': dir, 'backup-artifact': 'true' },
      artifacts: failing
    })
    await expectRefused(result, source, 'backup.artifactFailed', before)
    expect(result.log).toContain('could not be read back')
  })

  it('checks every pair before deleting any', async () => {
    const first = await copiedPair()
    const second = await copiedPair()
    await putItem(ddb, second.target, { ...sizedItem('d5', 5, 200), name: { S: 'changed' } })
    const result = await deleteSource(first.source, first.target, {
      inputs: {
        tables: `${first.source} -> ${first.target}\n${second.source} -> ${second.target}`,
        'confirm-delete': `${first.source}\n${second.source}`
      }
    })
    expect(result.report.errorCode).toBe('gate.notInTarget')
    expect(await exists(first.source)).toBe(true)
    expect(await exists(second.source)).toBe(true)
  })

  it('refuses when a source is written to after its checks, before the deletes', async () => {
    const first = await copiedPair()
    const second = await copiedPair()
    const proxy = await startFaultProxy({ target: ddbEndpoint() })
    let wrote = false
    // The first source's gates have passed once the second target is looked up by key:
    // the application writes to the first source just then.
    proxy.setHook(async (operation, body) => {
      const tables = Object.keys(body.RequestItems ?? {})
      if (!wrote && operation === 'BatchGetItem' && tables.includes(second.target)) {
        wrote = true
        await putItem(ddb, first.source, sizedItem('late-write', 1))
      }
    })
    try {
      const result = await deleteSource(first.source, first.target, {
        inputs: {
          tables: `${first.source} -> ${first.target}\n${second.source} -> ${second.target}`,
          'confirm-delete': `${first.source}\n${second.source}`,
          'dynamodb-endpoint': proxy.endpoint
        }
      })
      expect(wrote).toBe(true)
      expect(result.report.errorCode).toBe('gate.sourceChanged')
      expect(result.report.error).toContain(first.source)
      expect(result.report.error).not.toContain(second.source)
      expect(await exists(first.source)).toBe(true)
      expect(await exists(second.source)).toBe(true)
      expect(result.report.pairs.every((p) => p.status === 'skipped')).toBe(true)
    } finally {
      await proxy.stop()
    }
  })

  it('does not count a backup on the runner disk when backup-s3-uri is set: it takes one in S3', async () => {
    const { source, target } = await copiedPair()
    const { dir } = await localBackup(source)
    const prefix = uniqueName('fresh')
    const result = await deleteSource(source, target, {
      inputs: { 'backup-dir': dir, 'backup-s3-uri': `s3://${bucket}/${prefix}` }
    })
    expect(result.report.error).toBeUndefined()
    expect(await exists(source)).toBe(false)
    const locations = result.report.pairs[0]!.backupLocations
    expect(locations).toHaveLength(1)
    expect(locations[0]).toMatch(new RegExp(`^s3://${bucket}/${prefix}/${source}/`))
    expect(
      (await listKeys(s3, bucket, `${prefix}/${source}/`)).some((k) =>
        k.endsWith('manifest-summary.json')
      )
    ).toBe(true)
  })
})
