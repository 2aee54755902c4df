import { describe, expect, it } from '@jest/globals'
import {
  approvalContextFromEnv,
  checkOidcClaims,
  checkReviews,
  decodeJwtClaims,
  readRequiredReviewers,
  readReviews,
  safeLogText
} from '../../../src/github/approvals.js'
import { GateError } from '../../../src/errors.js'

const ENV = 'prod-delete'
const RUN = 4242

/** Runs fn and returns the GateError it throws (fails the test when it throws none). */
function gateError(fn: () => unknown): GateError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(GateError)
    return error as GateError
  }
  throw new Error('expected a GateError, but nothing was thrown')
}

function review(
  state: string,
  login: string | null = 'alice',
  comment: string | null = 'ok',
  environments: unknown = [{ id: 1, name: ENV }]
): Record<string, unknown> {
  // login null: an entry without a user
  return { state, comment, environments, ...(login === null ? {} : { user: { login } }) }
}

function environmentWith(reviewers: unknown): unknown {
  return {
    name: ENV,
    protection_rules: [
      { type: 'wait_timer', wait_timer: 0 },
      { type: 'required_reviewers', reviewers }
    ]
  }
}

describe('approvals.ts', () => {
  describe('safeLogText', () => {
    it('puts text on one line, collapsing line breaks and control characters', () => {
      expect(safeLogText('looks good\r\n\n  to me\tand\u2028you\u0000!')).toBe(
        'looks good to me and you !'
      )
    })

    it('neutralises workflow commands wherever the text lands', () => {
      const comment = 'fine\n::set-env name=X::1\n::error::boom ##[set-output name=a]b'
      const safe = safeLogText(comment)
      expect(safe).not.toContain('\n')
      expect(safe).not.toContain('::')
      expect(safe).not.toContain('##[')
      expect(safe).toBe('fine : :set-env name=X: :1 : :error: :boom # #[set-output name=a]b')
      expect(safeLogText(':::x')).toBe(': : :x')
      // A line made of the text alone is no command for the runner (it trims leading blanks).
      expect(safeLogText('  ::add-mask::secret').trimStart().startsWith('::')).toBe(false)
    })

    it('cuts long text to the limit, marking the cut', () => {
      const safe = safeLogText('x'.repeat(1000))
      expect(Array.from(safe)).toHaveLength(300)
      expect(safe.endsWith('…')).toBe(true)
      expect(safeLogText('abcdef', 4)).toBe('abc…')
      expect(Array.from(safeLogText('😀'.repeat(400)))).toHaveLength(300)
    })

    it('drops bidirectional overrides and turns non-text into nothing', () => {
      expect(safeLogText('a\u202eb\u2066c')).toBe('abc')
      expect(safeLogText(undefined)).toBe('')
      expect(safeLogText({ login: 'x' })).toBe('')
    })
  })

  describe('readRequiredReviewers', () => {
    it('returns users by login and teams by slug or name', () => {
      expect(
        readRequiredReviewers(
          ENV,
          environmentWith([
            { type: 'User', reviewer: { login: 'alice', id: 1 } },
            { type: 'Team', reviewer: { slug: 'dba', name: 'DBA team' } },
            { type: 'Team', reviewer: { name: 'Ops' } }
          ])
        )
      ).toEqual(['alice', 'dba', 'Ops'])
    })

    it('refuses an environment without a required-reviewers rule', () => {
      const error = gateError(() =>
        readRequiredReviewers(ENV, { name: ENV, protection_rules: [{ type: 'wait_timer' }] })
      )
      expect(error.code).toBe('gate.noRequiredReviewers')
      expect(gateError(() => readRequiredReviewers(ENV, { name: ENV })).code).toBe(
        'gate.noRequiredReviewers'
      )
    })

    it('refuses a required-reviewers rule with no reviewers', () => {
      for (const reviewers of [[], undefined]) {
        const error = gateError(() => readRequiredReviewers(ENV, environmentWith(reviewers)))
        expect(error.code).toBe('gate.noReviewers')
        expect(error.message).toContain('it lists no reviewers')
      }
    })

    it('refuses a rule whose reviewers cannot be identified, saying why', () => {
      for (const reviewers of [
        [{}],
        [{ type: 'User', reviewer: null }],
        [{ type: 'User', reviewer: { id: 7 } }],
        [{ type: 'User', reviewer: { login: '' } }],
        [{ type: 'User', reviewer: { slug: 'not-a-user' } }],
        [{ type: 'Team', reviewer: { login: 'not-a-team' } }],
        [{ type: 'Bot', reviewer: { login: 'robot' } }],
        [null, 'alice', 7]
      ]) {
        const error = gateError(() => readRequiredReviewers(ENV, environmentWith(reviewers)))
        expect(error.code).toBe('gate.noReviewers')
        expect(error.message).toContain('names a user (login) or a team (slug or name)')
      }
    })

    it('counts only the identifiable reviewers', () => {
      expect(
        readRequiredReviewers(
          ENV,
          environmentWith([{}, { type: 'User', reviewer: { login: 'bob' } }])
        )
      ).toEqual(['bob'])
    })

    it('says a malformed environment answer is malformed', () => {
      for (const [data, why] of [
        ['<html>Bad gateway</html>', 'it was text, not JSON'],
        [[], 'it was a list'],
        [null, 'it was empty'],
        [{ name: ENV, protection_rules: 'none' }, 'its protection_rules were a string'],
        [{ name: ENV, protection_rules: [null] }, 'a protection rule was not an object'],
        [environmentWith({ login: 'alice' }), 'the reviewers of its required-reviewers rule']
      ] as const) {
        const error = gateError(() => readRequiredReviewers(ENV, data))
        expect(error.code).toBe('gate.environmentMalformed')
        expect(error.message).toContain(why)
        expect(error.message).not.toContain('no required reviewers')
        expect(error.message).not.toContain('<html>')
      }
    })
  })

  describe('checkReviews', () => {
    it('returns the approvers of the environment, safe for one log line', () => {
      expect(
        checkReviews(ENV, RUN, [
          review('approved', 'dave', 'other', [{ name: 'staging' }]),
          review('approved', 'alice', 'ship it\n::warning::fake'),
          review('approved', 'carol', null)
        ])
      ).toEqual([
        { login: 'alice', comment: 'ship it : :warning: :fake' },
        { login: 'carol', comment: '' }
      ])
    })

    it('refuses a rejection, naming who rejected it and their comment', () => {
      const error = gateError(() =>
        checkReviews(ENV, RUN, [
          review('approved', 'alice'),
          review('rejected', 'carol', 'backup is stale,\n::error::do not delete')
        ])
      )
      expect(error.code).toBe('gate.rejected')
      expect(error.message).toContain(
        `Environment '${ENV}' was rejected in this run by carol ("backup is stale, : :error: :do not delete")`
      )
      expect(error.message).not.toContain('\n')
    })

    it('cuts a long rejection comment', () => {
      const error = gateError(() =>
        checkReviews(ENV, RUN, [review('rejected', 'carol', 'no '.repeat(500))])
      )
      expect(error.message).toMatch(/by carol \("(no ){99}no…"\)/)
    })

    it('refuses a rejection that does not name its reviewer', () => {
      const error = gateError(() =>
        checkReviews(ENV, RUN, [review('approved'), review('rejected', null)])
      )
      expect(error.code).toBe('gate.rejected')
      expect(error.message).toContain('by a reviewer GitHub did not name')
    })

    it('refuses a rejection whose environments cannot be read', () => {
      const error = gateError(() =>
        checkReviews(ENV, RUN, [review('approved'), review('rejected', 'carol', 'no', null)])
      )
      expect(error.code).toBe('gate.approvalsMalformed')
    })

    it('refuses when the review of the environment is only pending', () => {
      const error = gateError(() => checkReviews(ENV, RUN, [review('pending')]))
      expect(error.code).toBe('gate.noApproval')
      expect(error.message).toContain(`its review for '${ENV}' is still pending`)
    })

    it('refuses when only another environment was approved, naming it', () => {
      const error = gateError(() =>
        checkReviews(ENV, RUN, [review('approved', 'dave', 'ok', [{ name: 'staging' }])])
      )
      expect(error.code).toBe('gate.noApproval')
      expect(error.message).toContain('it has approvals for: staging')
    })

    it('does not count entries with missing or unexpected fields as approvals', () => {
      for (const entry of [
        {},
        { state: 'approved' },
        review('APPROVED'),
        review('approved', null),
        { ...review('approved'), user: null },
        { ...review('approved'), user: { login: '' } },
        review('approved', 'alice', 'ok', { name: ENV }),
        review('approved', 'alice', 'ok', [ENV]),
        review('approved', 'alice', 'ok', [{ id: 1 }]),
        null,
        'approved'
      ]) {
        const error = gateError(() => checkReviews(ENV, RUN, [entry]))
        expect(error.code).toBe('gate.noApproval')
      }
      const error = gateError(() => checkReviews(ENV, RUN, [{ state: 'approved' }, null]))
      expect(error.message).toContain(
        "2 entries of GitHub's answer had no readable state, environments or reviewer and were not counted"
      )
    })

    it('refuses a rejection whose environments cannot all be read, even beside an approval', () => {
      const data = [
        { state: 'approved', user: { login: 'alice' }, environments: [{ name: 'prod-delete' }] },
        { state: 'rejected', user: { login: 'bob' }, environments: [{}], comment: 'no' }
      ]
      const error = gateError(() => checkReviews('prod-delete', RUN, data))
      expect(error.code).toBe('gate.approvalsMalformed')
      expect(error.message).toContain('a rejection names an environment that cannot be read')
    })

    it('refuses an answer that is not a list, saying it is malformed', () => {
      for (const [data, what] of [
        [{ state: 'approved' }, 'an object'],
        ['<!DOCTYPE html><html>Sign in</html>', 'text, not JSON'],
        ['[{"state": "approved",', 'text, not JSON'],
        [null, 'empty'],
        [42, 'a number']
      ] as const) {
        const error = gateError(() => readReviews(RUN, data))
        expect(error.code).toBe('gate.approvalsMalformed')
        expect(error.message).toContain(
          `GitHub's answer for this run's approvals was not the expected list of reviews (it was ${what})`
        )
        expect(error.message).not.toContain('<html>')
      }
    })
  })

  describe('checkOidcClaims', () => {
    const expected = { owner: 'acme', repo: 'shop', runId: RUN, runAttempt: 2 }
    const good = {
      environment: ENV,
      repository: 'acme/shop',
      run_id: String(RUN),
      run_attempt: '2'
    }

    it('accepts claims of this environment, repository, run and attempt', () => {
      expect(() => checkOidcClaims(good, ENV, expected)).not.toThrow()
      expect(() =>
        checkOidcClaims({ ...good, run_id: RUN, run_attempt: 2 }, ENV, expected)
      ).not.toThrow()
      // Claims the token does not carry are not compared.
      expect(() => checkOidcClaims({ environment: ENV }, ENV, expected)).not.toThrow()
    })

    it('refuses another environment or none', () => {
      expect(
        gateError(() => checkOidcClaims({ ...good, environment: 'staging' }, ENV, expected)).code
      ).toBe('gate.wrongEnvironment')
      const noEnvironment = { repository: 'acme/shop', run_id: String(RUN) }
      const error = gateError(() => checkOidcClaims(noEnvironment, ENV, expected))
      expect(error.message).toContain("This job runs in environment 'none'")
    })

    it('refuses a token of another repository', () => {
      const error = gateError(() =>
        checkOidcClaims({ ...good, repository: 'evil/shop' }, ENV, expected)
      )
      expect(error.code).toBe('gate.wrongEnvironment')
      expect(error.message).toContain("repository 'evil/shop', not acme/shop")
      expect(
        gateError(() => checkOidcClaims({ ...good, repository: null }, ENV, expected)).code
      ).toBe('gate.wrongEnvironment')
    })

    it('refuses a token of another run', () => {
      const error = gateError(() => checkOidcClaims({ ...good, run_id: '1' }, ENV, expected))
      expect(error.code).toBe('gate.wrongEnvironment')
      expect(error.message).toContain(`run '1', not run ${RUN}`)
      expect(gateError(() => checkOidcClaims({ ...good, run_id: [RUN] }, ENV, expected)).code).toBe(
        'gate.wrongEnvironment'
      )
    })

    it('refuses a token of another attempt, when the runner names the attempt', () => {
      const error = gateError(() => checkOidcClaims({ ...good, run_attempt: '1' }, ENV, expected))
      expect(error.code).toBe('gate.wrongEnvironment')
      expect(error.message).toContain(`attempt '1' of run ${RUN}, not attempt 2`)
      const noAttempt = { owner: 'acme', repo: 'shop', runId: RUN }
      expect(() => checkOidcClaims({ ...good, run_attempt: '1' }, ENV, noAttempt)).not.toThrow()
    })

    it('keeps claim text safe for the log', () => {
      const error = gateError(() =>
        checkOidcClaims({ ...good, environment: 'x\n::error::y' }, ENV, expected)
      )
      expect(error.message).toContain("environment 'x : :error: :y'")
    })
  })

  describe('approvalContextFromEnv', () => {
    const env = { GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '4242' }

    it('reads repository, run and attempt from the runner variables', async () => {
      const ctx = approvalContextFromEnv('ghs_token', { ...env, GITHUB_RUN_ATTEMPT: '3' })
      expect([ctx.owner, ctx.repo, ctx.runId, ctx.runAttempt]).toEqual(['acme', 'shop', 4242, 3])
      expect(approvalContextFromEnv('ghs_token', env).runAttempt).toBeUndefined()
      // Without the OIDC request variables the job cannot get a token.
      await expect(ctx.idToken()).resolves.toBeUndefined()
    })

    it('refuses missing or malformed run variables and an empty token', () => {
      for (const bad of [
        {},
        { ...env, GITHUB_REPOSITORY: 'acme' },
        { ...env, GITHUB_REPOSITORY: 'acme/shop/x' },
        { ...env, GITHUB_RUN_ID: 'abc' },
        { ...env, GITHUB_RUN_ATTEMPT: 'first' },
        { ...env, GITHUB_RUN_ATTEMPT: '0' }
      ]) {
        expect(gateError(() => approvalContextFromEnv('ghs_token', bad)).code).toBe(
          'gate.noRunContext'
        )
      }
      expect(gateError(() => approvalContextFromEnv('', env)).code).toBe('gate.noToken')
    })
  })

  it('reads the claims of a JWT and refuses anything else', () => {
    const part = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
    expect(decodeJwtClaims(`h.${part({ environment: ENV })}.s`)).toEqual({ environment: ENV })
    expect(() => decodeJwtClaims('not-a-jwt')).toThrow('not a JWT')
    expect(() => decodeJwtClaims(`h.${part([1])}.s`)).toThrow('JWT claims are not an object')
  })
})
