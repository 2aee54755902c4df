import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { CreateBucketCommand } from '@aws-sdk/client-s3'
import {
  ddbEndpoint,
  localDynamoClient,
  localS3Client,
  motoEndpoint,
  uniqueName
} from '../support/env.js'
import { canonicalContents, createTable, indexedDefinition, seed } from '../support/tables.js'
import { readS3Backup } from '../support/backups.js'
import { parseOutputFile } from '../support/action.js'
import { fakeJwt, startGitHubApi, type GitHubApi } from '../support/github-api.js'
import { actionYmlDefaults } from '../../scripts/action-defaults.mjs'
import { everyTypeItem, largeItem, sizedItem, SENTINEL } from '../../__fixtures__/items.js'

const run = promisify(execFile)
const dist = path.resolve('dist/index.js')
const ddb = localDynamoClient()
const s3 = localS3Client()
const bucket = uniqueName('e2e-backups')

/** Runs the bundle as the runner does: a fresh node process, INPUT_<NAME> with hyphens kept. */
async function runDist(inputs: Record<string, string>, extraEnv: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'e2e-'))
  const output = path.join(dir, 'output')
  const summary = path.join(dir, 'summary')
  writeFileSync(output, '')
  writeFileSync(summary, '')
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    RUNNER_TEMP: dir,
    ...extraEnv
  }
  // The step's inputs over every input's action.yml default, as the runner passes them.
  for (const [name, value] of Object.entries({ ...actionYmlDefaults(), ...inputs }))
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  const result = await run(process.execPath, [dist], { env, maxBuffer: 64 * 1024 * 1024 }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({
      stdout: e.stdout,
      stderr: e.stderr,
      code: e.code
    })
  )
  const outputs = parseOutputFile(readFileSync(output, 'utf8'))
  return { ...result, outputs, summary: readFileSync(summary, 'utf8') }
}

let github: GitHubApi

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  github = await startGitHubApi()
})

afterAll(async () => {
  await github.stop()
  ddb.destroy()
  s3.destroy()
})

describe('node dist/index.js', () => {
  it('plans, copies and verifies the way the runner runs it', async () => {
    const source = uniqueName('order-tracking-qa')
    const target = uniqueName('qa-order-tracking')
    await createTable(ddb, indexedDefinition(source))
    await createTable(ddb, indexedDefinition(target))
    const items = [
      ...Array.from({ length: 1200 }, (_, i) => sizedItem(`o${i % 50}`, i, 500)),
      everyTypeItem('e2e'),
      largeItem('big', 'S')
    ]
    await seed(ddb, source, items)
    const common = {
      tables: `# the article's table\n${source} -> ${target}\n`,
      'dynamodb-endpoint': ddbEndpoint(),
      's3-endpoint': motoEndpoint(),
      'backup-s3-uri': `s3://${bucket}/prod`,
      'github-token': 'ghs_e2e_token'
    }

    const plan = await runDist({ ...common, mode: 'plan' })
    expect(plan.code).toBe(0)
    expect(plan.summary).toContain('copy would:</b> copy')

    const copy = await runDist({ ...common, mode: 'copy' })
    expect(copy.stdout).not.toMatch(/^::(error|warning)::/m)
    expect(copy.code).toBe(0)
    expect(copy.outputs.verified).toBe('true')
    const report = JSON.parse(copy.outputs.report ?? '{}') as {
      pairs: {
        counts: Record<string, number>
        backupLocations: string[]
        digests: { source: string }
      }[]
    }
    const pair = report.pairs[0]!
    expect(pair.counts).toEqual({
      scanned: items.length,
      written: items.length,
      source: items.length,
      target: items.length
    })
    expect(copy.outputs['backup-location']).toMatch(
      new RegExp(`^s3://${bucket}/prod/${source}/\\d{8}T\\d{6}Z-run4242-1/$`)
    )

    // The target, item by item, and the backup read back from S3.
    const expected = await canonicalContents(ddb, source)
    expect(await canonicalContents(ddb, target)).toEqual(expected)
    const backup = await readS3Backup(s3, copy.outputs['backup-location']!)
    expect(backup.items).toEqual(expected)
    expect(backup.summary.dynamodbTableMover.contentDigest.digest).toBe(pair.digests.source)

    const verify = await runDist({ ...common, mode: 'verify' })
    expect(verify.code).toBe(0)
    expect(verify.outputs.verified).toBe('true')

    expect(copy.stdout).toContain('::add-mask::ghs_e2e_token')
    for (const text of [
      plan.stdout,
      copy.stdout,
      verify.stdout,
      copy.summary,
      JSON.stringify(copy.outputs)
    ]) {
      expect(text).not.toContain(SENTINEL)
    }
  })

  it('fails with a plain ::error:: and a summary on bad input', async () => {
    const result = await runDist({
      mode: 'rename',
      tables: 'a-table -> b-table',
      'dynamodb-endpoint': ddbEndpoint()
    })
    expect(result.code).toBe(1)
    expect(result.stdout).toContain(
      "::error::Unknown mode 'rename'. Use one of: plan, backup, copy, verify, delete-source, restore."
    )
    expect(result.outputs.verified).toBe('false')
    expect(result.summary).toContain('❌ failed')
  })

  // Octokit and the artifact client sit in chunks of dist/ of their own, loaded only by the
  // runs that use them: these runs prove the chunks load and their clients make real requests.
  it('loads the approval gate from its own chunk and refuses without an environment', async () => {
    const source = uniqueName('old-orders')
    await createTable(ddb, indexedDefinition(source))
    github.requests.length = 0
    const result = await runDist(
      {
        mode: 'delete-source',
        tables: `${source} -> ${uniqueName('new-orders')}`,
        'approval-environment': 'production',
        'confirm-delete': source,
        'github-token': 'ghs_e2e_token',
        'backup-s3-uri': `s3://${bucket}/gate`,
        'dynamodb-endpoint': ddbEndpoint(),
        's3-endpoint': motoEndpoint()
      },
      github.env()
    )
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/^::error::.*'production'/m)
    expect(github.requests.map((r) => r.path)).toContain('/repos/acme/shop/environments/production')
    expect(github.requests[0]?.authorization).toBe('token ghs_e2e_token')
    expect(await canonicalContents(ddb, source)).toEqual(new Map())
  })

  it('loads the artifact client from its own chunk and refuses when the service does not answer', async () => {
    const source = uniqueName('orders')
    await createTable(ddb, indexedDefinition(source))
    github.requests.length = 0
    const result = await runDist(
      {
        mode: 'backup',
        tables: source,
        'backup-artifact': 'true',
        'dynamodb-endpoint': ddbEndpoint()
      },
      {
        ACTIONS_RESULTS_URL: `${github.url}/`,
        ACTIONS_RUNTIME_TOKEN: fakeJwt({ scp: 'Actions.Results:run-backend-id:job-backend-id' })
      }
    )
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/^::error::.*workflow artifact service did not answer/m)
    expect(github.requests.map((r) => r.path)).toContain(
      '/twirp/github.actions.results.api.v1.ArtifactService/ListArtifacts'
    )
  })
})
