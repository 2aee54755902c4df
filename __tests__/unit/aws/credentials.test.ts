import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { mockClient } from 'aws-sdk-client-mock'
import {
  STS_AUDIENCE,
  refreshMarginMs,
  webIdentityCredentials
} from '../../../src/aws/credentials.js'
import { warnIfCredentialsExpireFirst } from '../../../src/preflight.js'
import type { RunContext } from '../../../src/context.js'

const sts = mockClient(STSClient)

function answer(n: number, expiresAt: number) {
  return {
    Credentials: {
      AccessKeyId: `ASIA${n}`,
      SecretAccessKey: `secret-${n}`,
      SessionToken: `token-${n}`,
      Expiration: new Date(expiresAt)
    }
  }
}

describe('aws/credentials.ts', () => {
  let t = 1_000_000
  const tokens: string[] = []
  const settings = (extra = {}) => ({
    roleArn: 'arn:aws:iam::123456789012:role/mover',
    durationSeconds: 900,
    sessionName: 'run-1',
    region: 'us-east-1',
    now: () => t,
    idToken: async (audience: string) => {
      tokens.push(audience)
      return `oidc-${tokens.length}`
    },
    ...extra
  })

  beforeEach(() => {
    sts.reset()
    tokens.length = 0
    t = 1_000_000
  })

  it('refreshes 5 minutes (or a third of the life) before expiry, with a new OIDC token each time', async () => {
    expect(refreshMarginMs(3600)).toBe(300_000)
    expect(refreshMarginMs(900)).toBe(300_000)
    expect(refreshMarginMs(3)).toBe(1000)
    let n = 0
    sts.on(AssumeRoleWithWebIdentityCommand).callsFake(() => answer(++n, t + 900_000))
    const masked: string[] = []
    const provider = webIdentityCredentials(settings({ mask: (s: string) => masked.push(s) }))
    expect((await provider()).accessKeyId).toBe('ASIA1')
    // The secret and the session token are masked in the job's log as soon as they exist.
    expect(masked).toEqual(['secret-1', 'token-1'])
    t += 500_000
    expect((await provider()).accessKeyId).toBe('ASIA1')
    t += 100_001 // 299,999 ms left: inside the margin
    expect((await provider()).accessKeyId).toBe('ASIA2')
    expect(tokens).toEqual([STS_AUDIENCE, STS_AUDIENCE])
    const input = sts.commandCalls(AssumeRoleWithWebIdentityCommand)[1]!.args[0].input
    expect(input).toEqual({
      RoleArn: 'arn:aws:iam::123456789012:role/mover',
      RoleSessionName: 'run-1',
      WebIdentityToken: 'oidc-2',
      DurationSeconds: 900
    })
  })

  it('shares one refresh between callers', async () => {
    sts.on(AssumeRoleWithWebIdentityCommand).resolves(answer(1, t + 900_000))
    const provider = webIdentityCredentials(settings())
    const all = await Promise.all([provider(), provider(), provider()])
    expect(new Set(all.map((c) => c.accessKeyId))).toEqual(new Set(['ASIA1']))
    expect(sts.commandCalls(AssumeRoleWithWebIdentityCommand)).toHaveLength(1)
  })

  it('keeps valid credentials when a refresh fails, and fails once they have expired', async () => {
    const lines: string[] = []
    sts
      .on(AssumeRoleWithWebIdentityCommand)
      .resolvesOnce(answer(1, t + 900_000))
      .rejects(Object.assign(new Error('Not authorized'), { name: 'AccessDenied' }))
    const provider = webIdentityCredentials(settings({ log: (l: string) => lines.push(l) }))
    await provider()
    t += 700_000
    expect((await provider()).accessKeyId).toBe('ASIA1')
    expect(lines.join('\n')).toContain('the current ones stay in use')
    // Not asked again at every call while they last.
    const calls = sts.commandCalls(AssumeRoleWithWebIdentityCommand).length
    await provider()
    expect(sts.commandCalls(AssumeRoleWithWebIdentityCommand)).toHaveLength(calls)
    t += 300_000
    const error = (await provider().catch((e: unknown) => e)) as Error & { code: string }
    expect(error.code).toBe('credentials.assumeRoleFailed')
    expect(error.message).toContain('AccessDenied: Not authorized')
    expect(error.message).toContain('trust policy')
  })

  it('says the job needs id-token permission when no OIDC token can be had', async () => {
    const provider = webIdentityCredentials(
      settings({
        idToken: () => Promise.reject(new Error('Unable to get ACTIONS_ID_TOKEN_REQUEST_URL'))
      })
    )
    const error = (await provider().catch((e: unknown) => e)) as Error & { code: string }
    expect(error.code).toBe('credentials.noIdToken')
    expect(error.message).toContain("'permissions: id-token: write'")
  })
})

describe('preflight: credentials that expire before the copy ends', () => {
  const saved = { ...process.env }
  afterEach(() => {
    process.env = { ...saved }
  })

  function ctx(role = false): RunContext {
    return {
      inputs: role ? { role: { arn: 'x', durationSeconds: 900 } } : {},
      // The SDK's default chain, reading the environment as it would on a runner.
      clients: { dynamodb: new DynamoDBClient({ region: 'us-east-1' }) }
    } as unknown as RunContext
  }

  it('warns when the SDK knows they expire first, and not otherwise', async () => {
    const now = Date.parse('2026-12-03T12:00:00Z')
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_CREDENTIAL_EXPIRATION: '2026-12-03T12:30:00Z'
    })
    const warning = await warnIfCredentialsExpireFirst(ctx(), 2 * 3600, now)
    expect(warning).toContain('expire at 2026-12-03T12:30:00.000Z (in 30 min)')
    expect(warning).toContain("set 'role-to-assume'")
    expect(await warnIfCredentialsExpireFirst(ctx(), 600, now)).toBeUndefined()
    expect(await warnIfCredentialsExpireFirst(ctx(true), 2 * 3600, now)).toBeUndefined()
    delete process.env.AWS_CREDENTIAL_EXPIRATION
    expect(await warnIfCredentialsExpireFirst(ctx(), 2 * 3600, now)).toBeUndefined()
  })
})
