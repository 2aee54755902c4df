// role-to-assume against moto's STS (AssumeRoleWithWebIdentity) and a local stand-in for
// GitHub's OIDC token endpoint: the real core.getIDToken() and the real STS client make real
// requests. moto issues credentials for any duration, so a copy of a few seconds spans several
// sets of 3-second credentials (real STS would refuse under 900 s; the action lets STS decide).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb'
import { ddbEndpoint, motoEndpoint, uniqueName, useEmulators } from '../support/env.js'
import { canonicalContents, createTable, seed, tableDefinition } from '../support/tables.js'
import { runAction } from '../support/action.js'
import { startGitHubApi, type GitHubApi } from '../support/github-api.js'
import { sizedItem } from '../../__fixtures__/items.js'

const { ddb, bucket } = useEmulators('role')
let github: GitHubApi

beforeAll(async () => {
  github = await startGitHubApi({
    oidcClaims: { sub: 'repo:acme/shop:environment:production', aud: 'sts.amazonaws.com' }
  })
})

afterAll(async () => {
  await github.stop()
})

describe('role-to-assume', () => {
  it('copies on credentials it assumes itself, refreshing them as they run out', async () => {
    const source = uniqueName('role-src')
    const target = uniqueName('role-dst')
    await createTable(ddb, tableDefinition(source))
    await createTable(ddb, tableDefinition(target))
    await seed(
      ddb,
      source,
      Array.from({ length: 600 }, (_, i) => sizedItem(`r${i % 13}`, i, 300))
    )
    github.requests.length = 0
    const result = await runAction(
      {
        mode: 'copy',
        tables: `${source} -> ${target}`,
        'dynamodb-endpoint': ddbEndpoint(),
        's3-endpoint': motoEndpoint(),
        'backup-s3-uri': `s3://${bucket}/role`,
        'role-to-assume': 'arn:aws:iam::123456789012:role/dynamodb-table-mover',
        'role-duration-seconds': '2',
        'expected-account-id': '123456789012',
        // About 4 s to copy and 4 s to verify: several sets of credentials.
        'max-items-per-second': '150'
      },
      {
        env: {
          ...github.env(),
          AWS_ENDPOINT_URL_STS: motoEndpoint(),
          // The job's own credentials are not these: only the assumed role's may be used.
          AWS_ACCESS_KEY_ID: 'not-the-role',
          AWS_SECRET_ACCESS_KEY: 'not-the-role'
        }
      }
    )
    expect(result.report.error).toBeUndefined()
    expect(result.report.pairs[0]!.verified).toBe(true)
    expect(await canonicalContents(ddb, target)).toEqual(await canonicalContents(ddb, source))
    // GetCallerIdentity answered for the assumed role's account.
    expect(result.log).toContain('AWS account 123456789012 matches expected-account-id')
    expect(result.log).toMatch(
      /Assumed role 'arn:aws:iam::123456789012:role\/dynamodb-table-mover' \(credentials 1,/
    )
    const refreshes = [...result.log.matchAll(/Refreshed role '[^']+' \(credentials (\d+),/g)]
    expect(refreshes.length).toBeGreaterThanOrEqual(3)
    // A new OIDC token for every set of credentials.
    const tokenRequests = github.requests.filter((r) => r.path === '/oidc/token')
    expect(tokenRequests.length).toBe(refreshes.length + 1)
    expect(tokenRequests.every((r) => r.authorization === 'Bearer runtime-token')).toBe(true)
  })

  it('fails before any write, saying what to fix, when the job cannot get an OIDC token', async () => {
    const source = uniqueName('role-fail-src')
    const target = uniqueName('role-fail-dst')
    await createTable(ddb, tableDefinition(source))
    await seed(ddb, source, [sizedItem('a', 1)])
    const result = await runAction(
      {
        mode: 'copy',
        tables: `${source} -> ${target}`,
        'create-target': 'true',
        'dynamodb-endpoint': ddbEndpoint(),
        's3-endpoint': motoEndpoint(),
        'backup-s3-uri': `s3://${bucket}/role`,
        'role-to-assume': 'arn:aws:iam::123456789012:role/dynamodb-table-mover'
      },
      { env: { ...github.env({ oidc: false }), AWS_ENDPOINT_URL_STS: motoEndpoint() } }
    )
    expect(result.failed).toBe(true)
    expect(result.report.errorCode).toBe('credentials.noIdToken')
    expect(result.report.error).toContain("'permissions: id-token: write'")
    const created = await ddb.send(new DescribeTableCommand({ TableName: target })).then(
      () => true,
      () => false
    )
    expect(created).toBe(false)
  })
})
