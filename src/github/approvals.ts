import * as core from '@actions/core'
import { getOctokit } from '@actions/github'
import { GateError, errorMessage } from '../errors.js'

/** The slice of Octokit the gate uses (tests pass the real client pointed at a local server). */
export type GitHubClient = ReturnType<typeof getOctokit>

export interface Approver {
  login: string
  comment: string
}

export interface ApprovalResult {
  environment: string
  approvers: Approver[]
  /** Whether the job's OIDC token proved that this very job runs in the environment. */
  oidc: 'environment matches' | 'not available'
  reviewers: string[]
}

export interface ApprovalContext {
  client: GitHubClient
  owner: string
  repo: string
  runId: number
  /** A GitHub OIDC token for this job, or undefined when the job may not request one. */
  idToken: () => Promise<string | undefined>
}

/** Reads owner/repo/run from the runner's variables; missing ones refuse the gate. */
export function approvalContextFromEnv(
  token: string,
  env: NodeJS.ProcessEnv = process.env
): ApprovalContext {
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/')
  const runId = Number(env.GITHUB_RUN_ID ?? '')
  if (!owner || !repo || !Number.isInteger(runId) || runId <= 0) {
    throw new GateError(
      'gate.noRunContext',
      'The approval gate needs GITHUB_REPOSITORY and GITHUB_RUN_ID, which the GitHub runner sets. delete-source only runs inside a GitHub Actions job.'
    )
  }
  if (token === '') {
    throw new GateError(
      'gate.noToken',
      "Input 'github-token' is empty: the approval gate cannot read this run's approvals."
    )
  }
  return {
    client: getOctokit(token, env.GITHUB_API_URL ? { baseUrl: env.GITHUB_API_URL } : {}),
    owner,
    repo,
    runId,
    idToken: async () => {
      if (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) return undefined
      return core.getIDToken()
    }
  }
}

function status(error: unknown): number | undefined {
  const value = (error as { status?: unknown }).status
  return typeof value === 'number' ? value : undefined
}

function apiFailure(what: string, error: unknown): GateError {
  const code = status(error)
  const why =
    code === 401
      ? "GitHub rejected the token (401): check input 'github-token'"
      : code === 403
        ? "GitHub denied access (403): give the job 'permissions: actions: read'"
        : code === 404
          ? 'GitHub answered 404 Not Found'
          : code !== undefined && code >= 500
            ? `GitHub answered ${code}; try again later`
            : errorMessage(error)
  return new GateError('gate.apiError', `Could not ${what}: ${why}. Nothing was deleted.`, {
    cause: error
  })
}

/** Decodes a JWT's claims (no signature check: the token comes straight from the runner's token service). */
export function decodeJwtClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1]
  if (!payload) throw new Error('not a JWT')
  const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  if (claims === null || typeof claims !== 'object') throw new Error('JWT claims are not an object')
  return claims as Record<string, unknown>
}

interface EnvironmentRule {
  type?: string
  reviewers?: {
    type?: string
    reviewer?: { login?: string; name?: string; slug?: string } | null
  }[]
}

/**
 * The approval gate of delete-source. Passes only when all of these hold, and refuses on any
 * doubt (a missing value, an API error, an unexpected answer):
 * - the environment exists and has a required-reviewers rule with at least one reviewer
 *   (GitHub creates a missing environment, unprotected, when a job names it);
 * - this run has an `approved` review naming the environment, and no rejection of it;
 * - when the job can get an OIDC token, its `environment` claim is the environment (so this
 *   very job is the gated one), and its repository and run match.
 */
export async function checkApproval(
  ctx: ApprovalContext,
  environment: string
): Promise<ApprovalResult> {
  if (environment.trim() === '') {
    throw new GateError(
      'gate.noEnvironment',
      "Input 'approval-environment' is not set. delete-source runs only in a job whose GitHub environment requires reviewers, and only after one approved this run."
    )
  }
  const repo = { owner: ctx.owner, repo: ctx.repo }

  let rules: EnvironmentRule[]
  try {
    const response = await ctx.client.rest.repos.getEnvironment({
      ...repo,
      environment_name: environment
    })
    rules = (response.data.protection_rules ?? []) as EnvironmentRule[]
  } catch (error) {
    if (status(error) === 404) {
      throw new GateError(
        'gate.environmentMissing',
        `GitHub environment '${environment}' does not exist in ${ctx.owner}/${ctx.repo}. GitHub creates a missing or misspelt environment without any protection when a job names it, so it approves nothing. Create it with required reviewers (Settings → Environments).`,
        { cause: error }
      )
    }
    throw apiFailure(`read environment '${environment}'`, error)
  }
  const reviewRule = rules.find((rule) => rule.type === 'required_reviewers')
  const reviewers = (reviewRule?.reviewers ?? []).map(
    (r) => r.reviewer?.login ?? r.reviewer?.slug ?? r.reviewer?.name ?? '?'
  )
  if (!reviewRule || reviewers.length === 0) {
    throw new GateError(
      'gate.noRequiredReviewers',
      `GitHub environment '${environment}' has no required reviewers, so nobody approved this deletion. Add required reviewers to it (on private repositories this needs a GitHub plan that offers them).`
    )
  }

  let reviews: {
    state?: string
    comment?: string | null
    user?: { login?: string } | null
    environments?: { name?: string }[]
  }[]
  try {
    reviews = (await ctx.client.rest.actions.getReviewsForRun({ ...repo, run_id: ctx.runId })).data
  } catch (error) {
    throw apiFailure(`read the approvals of run ${ctx.runId}`, error)
  }
  const forEnvironment = reviews.filter((r) =>
    (r.environments ?? []).some((e) => e.name === environment)
  )
  if (forEnvironment.some((r) => r.state === 'rejected')) {
    throw new GateError(
      'gate.rejected',
      `A reviewer rejected environment '${environment}' in this run. Nothing was deleted; start a new run to ask again.`
    )
  }
  const approvals = forEnvironment.filter((r) => r.state === 'approved')
  if (approvals.length === 0) {
    const others = reviews
      .filter((r) => r.state === 'approved')
      .flatMap((r) => (r.environments ?? []).map((e) => e.name ?? '?'))
    throw new GateError(
      'gate.noApproval',
      `This run has no approval for environment '${environment}'${others.length > 0 ? ` (it has approvals for: ${[...new Set(others)].join(', ')})` : ''}. Run delete-source in a job with 'environment: ${environment}' so a required reviewer must approve it.`
    )
  }

  let oidc: ApprovalResult['oidc'] = 'not available'
  let token: string | undefined
  try {
    token = await ctx.idToken()
  } catch (error) {
    throw new GateError(
      'gate.oidcFailed',
      `The job may request an OIDC token but getting one failed (${errorMessage(error)}), so the gate cannot prove which environment this job runs in.`,
      {
        cause: error
      }
    )
  }
  if (token !== undefined) {
    let claims: Record<string, unknown>
    try {
      claims = decodeJwtClaims(token)
    } catch (error) {
      throw new GateError(
        'gate.oidcFailed',
        `The job's OIDC token could not be read: ${errorMessage(error)}.`,
        { cause: error }
      )
    }
    if (claims.environment !== environment) {
      throw new GateError(
        'gate.wrongEnvironment',
        `This job runs in environment '${typeof claims.environment === 'string' ? claims.environment : 'none'}' (its OIDC token says so), not in '${environment}'. Put 'environment: ${environment}' on the job that runs delete-source.`
      )
    }
    if (claims.repository !== undefined && claims.repository !== `${ctx.owner}/${ctx.repo}`) {
      throw new GateError(
        'gate.wrongEnvironment',
        `The job's OIDC token is for repository '${JSON.stringify(claims.repository)}', not ${ctx.owner}/${ctx.repo}.`
      )
    }
    if (
      claims.run_id !== undefined &&
      JSON.stringify(claims.run_id).replace(/"/g, '') !== String(ctx.runId)
    ) {
      throw new GateError(
        'gate.wrongEnvironment',
        `The job's OIDC token is for run ${JSON.stringify(claims.run_id)}, not run ${ctx.runId}.`
      )
    }
    oidc = 'environment matches'
  }

  return {
    environment,
    reviewers,
    oidc,
    approvers: approvals.map((a) => ({ login: a.user?.login ?? '?', comment: a.comment ?? '' }))
  }
}
