// The approval gate against a local GitHub API: the real Octokit client (getOctokit from
// @actions/github, through approvalContextFromEnv) and the real core.getIDToken() make real
// HTTP requests, so these tests check what the gate sends and how it reads every answer.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { GateError } from '../../src/errors.js'
import {
  approvalContextFromEnv,
  checkApproval,
  type ApprovalResult
} from '../../src/github/approvals.js'
import {
  approval,
  protectedEnvironment,
  RUN_ID,
  startGitHubApi,
  type CannedResponse,
  type GitHubApi,
  type Scenario
} from '../support/github-api.js'

const ENV = 'prod-delete'
const TOKEN = 'ghs_approvals_token'
const ENV_PATH = `/repos/acme/shop/environments/${ENV}`
const APPROVALS_PATH = `/repos/acme/shop/actions/runs/${RUN_ID}/approvals`
let github: GitHubApi
const savedEnv: Record<string, string | undefined> = {}

function passingScenario(): Scenario {
  return {
    environment: { status: 200, body: protectedEnvironment(ENV, ['alice', 'carol']) },
    approvals: {
      status: 200,
      body: [approval('staging', 'approved', 'dave'), approval(ENV, 'approved', 'alice')]
    },
    oidcClaims: {
      environment: ENV,
      repository: 'acme/shop',
      run_id: String(RUN_ID),
      run_attempt: '1',
      sub: `repo:acme/shop:environment:${ENV}`
    }
  }
}

function withReviewers(reviewers: unknown): Scenario {
  return {
    ...passingScenario(),
    environment: {
      status: 200,
      body: {
        id: 1,
        name: ENV,
        protection_rules: [{ id: 11, type: 'required_reviewers', reviewers }]
      }
    }
  }
}

function withApprovals(approvals: CannedResponse): Scenario {
  return { ...passingScenario(), approvals }
}

function withClaims(claims: Record<string, unknown>): Scenario {
  const scenario = passingScenario()
  return { ...scenario, oidcClaims: { ...scenario.oidcClaims, ...claims } }
}

/** Runs the gate against the scenario with the runner's variables (plus overrides). */
async function runGate(
  scenario: Scenario,
  env: Record<string, string> = {}
): Promise<ApprovalResult> {
  github.scenario = scenario
  return checkApproval(approvalContextFromEnv(TOKEN, { ...github.env(), ...env }), ENV)
}

/** Runs the gate and returns the GateError it refuses with. */
async function refusal(scenario: Scenario, env: Record<string, string> = {}): Promise<GateError> {
  const error = await runGate(scenario, env).then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(GateError)
  return error as GateError
}

/** The GitHub API paths the gate called; every call carried the token. */
function apiCalls(): string[] {
  const calls = github.requests.filter((r) => r.path.startsWith('/repos/'))
  expect(calls.length).toBeGreaterThan(0)
  for (const call of calls) expect(call.authorization).toBe(`token ${TOKEN}`)
  return calls.map((r) => r.path)
}

function oidcRequested(): boolean {
  return github.requests.some(
    (r) => r.path === '/oidc/token' && r.authorization === 'Bearer runtime-token'
  )
}

beforeAll(async () => {
  github = await startGitHubApi()
  // core.getIDToken() reads the token service's URL and token from process.env.
  for (const [key, value] of Object.entries(github.env())) {
    if (!key.startsWith('ACTIONS_ID_TOKEN_')) continue
    savedEnv[key] = process.env[key]
    process.env[key] = value
  }
})

afterAll(async () => {
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  await github.stop()
})

beforeEach(() => {
  github.requests.length = 0
})

describe('approvals.ts against a local GitHub API', () => {
  it('passes an approved run, naming reviewers and approvers, with the OIDC token checked', async () => {
    const result = await runGate(passingScenario())
    expect(result).toEqual({
      environment: ENV,
      reviewers: ['alice', 'carol'],
      approvers: [{ login: 'alice', comment: 'ship it' }],
      oidc: 'environment matches'
    })
    expect(apiCalls()).toEqual([ENV_PATH, APPROVALS_PATH])
    expect(oidcRequested()).toBe(true)
  })

  it('returns approver logins and comments safe for one log line', async () => {
    const result = await runGate(
      withApprovals({
        status: 200,
        body: [
          approval(
            ENV,
            'approved',
            'alice',
            `fine by me\n::error::fake failure\n${'x'.repeat(400)}`
          )
        ]
      })
    )
    const comment = result.approvers[0]?.comment ?? ''
    expect(comment.startsWith('fine by me : :error: :fake failure x')).toBe(true)
    expect(comment).not.toContain('\n')
    expect(Array.from(comment)).toHaveLength(300)
  })

  describe('the environment', () => {
    it('refuses a required-reviewers rule with zero reviewers', async () => {
      const error = await refusal(withReviewers([]))
      expect(error.code).toBe('gate.noReviewers')
      expect(error.message).toContain('it lists no reviewers')
      expect(apiCalls()).toEqual([ENV_PATH])
    })

    it.each([
      ['an empty entry', [{}]],
      ['a null reviewer', [{ type: 'User', reviewer: null }]],
      ['a reviewer without login, name or slug', [{ type: 'User', reviewer: { id: 7 } }]],
      ['a team without slug or name', [{ type: 'Team', reviewer: { id: 8 } }]]
    ])('refuses reviewers that cannot be identified: %s', async (_label, reviewers) => {
      const error = await refusal(withReviewers(reviewers))
      expect(error.code).toBe('gate.noReviewers')
      expect(error.message).toContain(
        `none of its 1 reviewer entries names a user (login) or a team`
      )
      expect(apiCalls()).toEqual([ENV_PATH])
    })

    it('counts a team reviewer by its slug', async () => {
      const result = await runGate(
        withReviewers([{ type: 'Team', reviewer: { slug: 'dba', id: 3 } }])
      )
      expect(result.reviewers).toEqual(['dba'])
    })

    it('says an HTML answer for the environment is malformed, not unprotected', async () => {
      const error = await refusal({
        ...passingScenario(),
        environment: {
          status: 200,
          raw: '<html><body>Login</body></html>',
          contentType: 'text/html'
        }
      })
      expect(error.code).toBe('gate.environmentMalformed')
      expect(error.message).toContain(
        `GitHub's answer for environment '${ENV}' was not the expected environment description (it was text, not JSON)`
      )
      expect(apiCalls()).toEqual([ENV_PATH])
    })

    it.each([
      [403, "GitHub denied access (403): give the job 'permissions: actions: read'"],
      [500, 'GitHub answered 500; try again later']
    ])('refuses a %i from the environment endpoint', async (status, why) => {
      const error = await refusal({ ...passingScenario(), environment: { status } })
      expect(error.code).toBe('gate.apiError')
      expect(error.message).toBe(
        `Could not read environment '${ENV}': ${why}. Nothing was deleted.`
      )
      expect(apiCalls()).toEqual([ENV_PATH])
    })
    it('says the API could not be reached when nothing answers, not that GitHub answered 500', async () => {
      github.scenario = passingScenario()
      // A port nothing listens on: the request gets no answer at all.
      const error = await checkApproval(
        approvalContextFromEnv(TOKEN, { ...github.env(), GITHUB_API_URL: 'http://127.0.0.1:9' }),
        ENV
      ).then(
        () => undefined,
        (e: unknown) => e
      )
      expect(error).toBeInstanceOf(GateError)
      expect((error as GateError).code).toBe('gate.apiError')
      expect((error as GateError).message).toMatch(
        /^Could not read environment 'prod-delete': the GitHub API could not be reached \(.+\)\. Check GITHUB_API_URL/
      )
      expect((error as GateError).message).not.toContain('answered 500')
    })
  })

  describe("the run's approvals", () => {
    it('refuses an approval that is only pending', async () => {
      const error = await refusal(
        withApprovals({ status: 200, body: [approval(ENV, 'pending', 'alice', '')] })
      )
      expect(error.code).toBe('gate.noApproval')
      expect(error.message).toContain(`its review for '${ENV}' is still pending`)
      expect(apiCalls()).toEqual([ENV_PATH, APPROVALS_PATH])
    })

    it.each([
      [
        'an object',
        { status: 200, body: { total_count: 1, approvals: [approval(ENV)] } },
        'an object'
      ],
      [
        'an HTML page',
        { status: 200, raw: '<!DOCTYPE html><html>Unicorn!</html>', contentType: 'text/html' },
        'text, not JSON'
      ],
      ['invalid JSON', { status: 200, raw: '[{"state": "approved", "user": ' }, 'text, not JSON'],
      ['an empty body', { status: 200, raw: '' }, 'empty']
    ])('refuses a malformed answer: %s', async (_label, approvals, what) => {
      const error = await refusal(withApprovals(approvals))
      expect(error.code).toBe('gate.approvalsMalformed')
      expect(error.message).toContain(
        `GitHub's answer for this run's approvals was not the expected list of reviews (it was ${what})`
      )
      expect(apiCalls()).toEqual([ENV_PATH, APPROVALS_PATH])
    })

    it('does not count entries missing state, environments or user', async () => {
      const without = (field: string): unknown =>
        Object.fromEntries(
          Object.entries(approval(ENV) as Record<string, unknown>).filter(([k]) => k !== field)
        )
      const body = [without('state'), without('environments'), without('user')]
      const error = await refusal(withApprovals({ status: 200, body }))
      expect(error.code).toBe('gate.noApproval')
      expect(error.message).toContain("3 entries of GitHub's answer had no readable state")
      expect(apiCalls()).toEqual([ENV_PATH, APPROVALS_PATH])
    })

    it.each([
      [
        404,
        `GitHub answered 404 Not Found: run ${RUN_ID} of acme/shop is not visible to this token`
      ],
      [401, "GitHub rejected the token (401): check input 'github-token'"]
    ])('refuses a %i from the approvals endpoint', async (status, why) => {
      const error = await refusal(withApprovals({ status }))
      expect(error.code).toBe('gate.apiError')
      expect(error.message).toBe(
        `Could not read the approvals of run ${RUN_ID}: ${why}. Nothing was deleted.`
      )
      expect(apiCalls()).toEqual([ENV_PATH, APPROVALS_PATH])
    })

    it('refuses a rejection, naming who rejected it and their comment on one line', async () => {
      const error = await refusal(
        withApprovals({
          status: 200,
          body: [
            approval(ENV, 'approved', 'alice'),
            approval(
              ENV,
              'rejected',
              'carol',
              'The backup is a week old.\n::warning::fake\r\nRedo it.'
            )
          ]
        })
      )
      expect(error.code).toBe('gate.rejected')
      expect(error.message).toBe(
        `Environment '${ENV}' was rejected in this run by carol ("The backup is a week old. : :warning: :fake Redo it."). Nothing was deleted; start a new run to ask again.`
      )
      expect(apiCalls()).toEqual([ENV_PATH, APPROVALS_PATH])
    })
  })

  describe('the OIDC token', () => {
    it.each([
      ['another run', { run_id: '1' }, `run '1', not run ${RUN_ID}`],
      ['another repository', { repository: 'evil/shop' }, "repository 'evil/shop', not acme/shop"],
      ['another attempt', { run_attempt: '2' }, `attempt '2' of run ${RUN_ID}, not attempt 1`],
      ['another environment', { environment: 'staging' }, "environment 'staging'"]
    ])('refuses a token of %s', async (_label, claims, why) => {
      const error = await refusal(withClaims(claims))
      expect(error.code).toBe('gate.wrongEnvironment')
      expect(error.message).toContain(why)
      expect(apiCalls()).toEqual([ENV_PATH, APPROVALS_PATH])
      expect(oidcRequested()).toBe(true)
    })

    it('compares run_attempt only when the runner names the attempt', async () => {
      const result = await runGate(withClaims({ run_attempt: '2' }), { GITHUB_RUN_ATTEMPT: '' })
      expect(result.oidc).toBe('environment matches')
    })
  })
})
