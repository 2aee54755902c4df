import * as core from '@actions/core'
import type { getOctokit } from '@actions/github'
import { GateError, errorMessage } from '../errors.js'

/** The slice of Octokit the gate uses (tests pass the real client pointed at a local server). */
export type GitHubClient = ReturnType<typeof getOctokit>

export interface Approver {
  /** The approver's login, made safe for one log line (see safeLogText). */
  login: string
  /** The approver's comment, made safe for one log line (see safeLogText). */
  comment: string
}

export interface ApprovalResult {
  environment: string
  approvers: Approver[]
  /** Whether the job's OIDC token proved that this very job runs in the environment. */
  oidc: 'environment matches' | 'not available'
  /** The environment's required reviewers (user logins, team slugs or names), log-safe. */
  reviewers: string[]
}

export interface ApprovalContext {
  /**
   * The REST client, made on first use: Octokit's modules are loaded only by a run that
   * deletes (they sit in a chunk of dist/ of their own), which keeps every other run's start-up
   * short.
   */
  client: () => Promise<GitHubClient>
  owner: string
  repo: string
  runId: number
  /** GITHUB_RUN_ATTEMPT, when the runner set it: the OIDC token's run_attempt must match it. */
  runAttempt?: number
  /** A GitHub OIDC token for this job, or undefined when the job may not request one. */
  idToken: () => Promise<string | undefined>
}

/** The longest comment (in characters) a log line or refusal message quotes. */
export const MAX_COMMENT_LENGTH = 300
const MAX_NAME_LENGTH = 100

/**
 * Makes text that came from users (logins, review comments, claims) safe to put on one log
 * line: line breaks and other control characters become spaces, runs of blanks collapse,
 * bidirectional-override characters go, and the result is cut to `maxLength` characters
 * (with "…"). The runner reads a line starting with `::` (after blanks) as a workflow
 * command, and `##[` anywhere in a line as a legacy one, so every `::` becomes `: :` and
 * every `##[` becomes `# #[`: wherever the text lands in a line, it cannot start a command.
 */
export function safeLogText(value: unknown, maxLength = MAX_COMMENT_LENGTH): string {
  if (typeof value !== 'string') return ''
  const text = value
    .replace(/[\p{Cc}\u2028\u2029]/gu, ' ')
    .replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/:(?=:)/g, ': ')
    .replace(/#(?=#\[)/g, '# ')
  // Cut after escaping (removing characters cannot form `::` or `##[` again), by code point.
  const chars = Array.from(text)
  return chars.length > maxLength ? `${chars.slice(0, maxLength - 1).join('')}…` : text
}

/** Reads owner/repo/run from the runner's variables; missing ones refuse the gate. */
export function approvalContextFromEnv(
  token: string,
  env: NodeJS.ProcessEnv = process.env
): ApprovalContext {
  const [owner, repo, extra] = (env.GITHUB_REPOSITORY ?? '').split('/')
  const runId = Number(env.GITHUB_RUN_ID ?? '')
  if (!owner || !repo || extra !== undefined || !Number.isInteger(runId) || runId <= 0) {
    throw new GateError(
      'gate.noRunContext',
      'The approval gate needs GITHUB_REPOSITORY and GITHUB_RUN_ID, which the GitHub runner sets. delete-source only runs inside a GitHub Actions job.'
    )
  }
  const attemptText = env.GITHUB_RUN_ATTEMPT ?? ''
  const runAttempt = attemptText === '' ? undefined : Number(attemptText)
  if (runAttempt !== undefined && (!Number.isInteger(runAttempt) || runAttempt <= 0)) {
    throw new GateError(
      'gate.noRunContext',
      `GITHUB_RUN_ATTEMPT is '${safeLogText(attemptText, MAX_NAME_LENGTH)}', not a run attempt number, so the approval gate cannot tell which attempt of run ${runId} this is.`
    )
  }
  if (token === '') {
    throw new GateError(
      'gate.noToken',
      "Input 'github-token' is empty: the approval gate cannot read this run's approvals."
    )
  }
  let client: Promise<GitHubClient> | undefined
  return {
    client: () =>
      (client ??= import('@actions/github').then((github) =>
        github.getOctokit(token, env.GITHUB_API_URL ? { baseUrl: env.GITHUB_API_URL } : {})
      )),
    owner,
    repo,
    runId,
    ...(runAttempt !== undefined ? { runAttempt } : {}),
    idToken: async () => {
      if (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) return undefined
      return core.getIDToken()
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A non-blank string, or undefined. */
function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined
}

/** What a value is, in words, without quoting it (an HTML page must not end up in a message). */
function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'empty'
  if (Array.isArray(value)) return 'a list'
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return 'binary data'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/** What GitHub answered, in words: Octokit hands over text it could not parse as JSON. */
function describeAnswer(data: unknown): string {
  if (typeof data === 'string') return data.trim() === '' ? 'empty' : 'text, not JSON'
  return describeValue(data)
}

function status(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const value = (error as { status?: unknown }).status
  return typeof value === 'number' ? value : undefined
}

function apiFailure(
  what: string,
  error: unknown,
  notFound = 'GitHub answered 404 Not Found'
): GateError {
  const code = status(error)
  // Octokit reports a request that got no answer at all (DNS, refused or dropped connection)
  // as status 500 without a response: that is not GitHub answering 500.
  const answered =
    typeof error === 'object' &&
    error !== null &&
    (error as { response?: unknown }).response !== undefined
  if (code === 500 && !answered) {
    const cause = (error as { cause?: unknown }).cause
    return new GateError(
      'gate.apiError',
      `Could not ${what}: the GitHub API could not be reached (${safeLogText(errorMessage(cause ?? error))}). Check GITHUB_API_URL and the runner's network. Nothing was deleted.`,
      { cause: error }
    )
  }
  const why =
    code === 401
      ? "GitHub rejected the token (401): check input 'github-token'"
      : code === 403
        ? "GitHub denied access (403): give the job 'permissions: actions: read'"
        : code === 404
          ? notFound
          : code !== undefined && code >= 500
            ? `GitHub answered ${code}; try again later`
            : safeLogText(errorMessage(error))
  return new GateError('gate.apiError', `Could not ${what}: ${why}. Nothing was deleted.`, {
    cause: error
  })
}

/** Decodes a JWT's claims (no signature check: the token comes straight from the runner's token service). */
export function decodeJwtClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1]
  if (!payload) throw new Error('not a JWT')
  const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  if (!isRecord(claims)) throw new Error('JWT claims are not an object')
  return claims
}

function environmentMalformed(environment: string, why: string): GateError {
  return new GateError(
    'gate.environmentMalformed',
    `GitHub's answer for environment '${environment}' was not the expected environment description (${why}), so the gate cannot tell whether it requires reviewers. Nothing was deleted; if this repeats, check that GITHUB_API_URL points at the GitHub API.`
  )
}

/** The identifier of one required reviewer: a user's login, or a team's slug or name. */
function reviewerName(entry: unknown): string | undefined {
  if (!isRecord(entry) || !isRecord(entry.reviewer)) return undefined
  const { reviewer } = entry
  const login = text(reviewer.login)
  const team = text(reviewer.slug) ?? text(reviewer.name)
  // GitHub types each entry User or Team; an entry with no type is read as either.
  const name =
    entry.type === 'User'
      ? login
      : entry.type === 'Team'
        ? team
        : entry.type === undefined
          ? (login ?? team)
          : undefined
  return name === undefined ? undefined : safeLogText(name, MAX_NAME_LENGTH)
}

/**
 * Reads the required reviewers from GitHub's answer for GET /environments/{name}. Refuses an
 * answer of the wrong shape (gate.environmentMalformed), an environment with no
 * required-reviewers rule (gate.noRequiredReviewers) and a rule naming no reviewer that can
 * be identified (gate.noReviewers).
 */
export function readRequiredReviewers(environment: string, data: unknown): string[] {
  if (!isRecord(data)) throw environmentMalformed(environment, `it was ${describeAnswer(data)}`)
  const rules = data.protection_rules ?? []
  if (!Array.isArray(rules)) {
    throw environmentMalformed(environment, `its protection_rules were ${describeValue(rules)}`)
  }
  if (!rules.every(isRecord)) {
    throw environmentMalformed(environment, 'a protection rule was not an object')
  }
  const reviewRules = rules.filter((rule) => rule.type === 'required_reviewers')
  if (reviewRules.length === 0) {
    throw new GateError(
      'gate.noRequiredReviewers',
      `GitHub environment '${environment}' has no required reviewers, so nobody approved this deletion. Add required reviewers to it (on private repositories this needs a GitHub plan that offers them).`
    )
  }
  const entries: unknown[] = []
  for (const rule of reviewRules) {
    const list = rule.reviewers ?? []
    if (!Array.isArray(list)) {
      throw environmentMalformed(
        environment,
        `the reviewers of its required-reviewers rule were ${describeValue(list)}`
      )
    }
    entries.push(...(list as unknown[]))
  }
  const reviewers = [
    ...new Set(entries.map(reviewerName).filter((r): r is string => r !== undefined))
  ]
  if (reviewers.length === 0) {
    throw new GateError(
      'gate.noReviewers',
      `GitHub environment '${environment}' has a required-reviewers rule, but ${
        entries.length === 0
          ? 'it lists no reviewers'
          : `none of its ${entries.length} reviewer entries names a user (login) or a team (slug or name)`
      }, so no known person could have approved this deletion. Check the required reviewers under Settings → Environments → ${environment}.`
    )
  }
  return reviewers
}

interface Review {
  state: 'approved' | 'rejected' | 'pending'
  environments: string[]
  /** The reviewer's login; undefined for a rejection whose reviewer GitHub did not name. */
  login: string | undefined
  comment: string
}

function approvalsMalformed(runId: number, why: string): GateError {
  return new GateError(
    'gate.approvalsMalformed',
    `GitHub's answer for this run's approvals was not the expected list of reviews (${why}), so the gate cannot tell who approved run ${runId}. Nothing was deleted; if this repeats, check that GITHUB_API_URL points at the GitHub API.`
  )
}

/**
 * Reads GitHub's answer for GET /actions/runs/{id}/approvals. An answer that is not a list
 * refuses (gate.approvalsMalformed). An entry without a known state, a list of environments
 * and (unless it is a rejection) the reviewer's login is not counted, so it can never approve;
 * a rejection whose environments cannot be read refuses, since it may reject this one.
 */
export function readReviews(runId: number, data: unknown): { reviews: Review[]; ignored: number } {
  if (!Array.isArray(data)) throw approvalsMalformed(runId, `it was ${describeAnswer(data)}`)
  const reviews: Review[] = []
  let ignored = 0
  for (const entry of data as unknown[]) {
    const state = isRecord(entry) ? entry.state : undefined
    if (!isRecord(entry) || (state !== 'approved' && state !== 'rejected' && state !== 'pending')) {
      ignored++
      continue
    }
    const login = isRecord(entry.user) ? text(entry.user.login) : undefined
    if (!Array.isArray(entry.environments)) {
      if (state === 'rejected') {
        throw approvalsMalformed(runId, 'a rejection does not say which environments it rejected')
      }
      ignored++
      continue
    }
    if (login === undefined && state !== 'rejected') {
      ignored++
      continue
    }
    const names = (entry.environments as unknown[]).map((e) =>
      isRecord(e) ? text(e.name) : undefined
    )
    if (state === 'rejected' && names.some((name) => name === undefined)) {
      // It might reject this environment: refuse rather than guess.
      throw approvalsMalformed(runId, 'a rejection names an environment that cannot be read')
    }
    reviews.push({
      state,
      login,
      comment: typeof entry.comment === 'string' ? entry.comment : '',
      environments: names.filter((name): name is string => name !== undefined)
    })
  }
  return { reviews, ignored }
}

function quoteComment(comment: string): string {
  const safe = safeLogText(comment)
  return safe === '' ? '' : ` ("${safe}")`
}

/**
 * Decides from GitHub's answer for this run's approvals whether `environment` was approved:
 * refuses a rejection (gate.rejected, naming who and their comment), and refuses when no
 * readable approval names the environment (gate.noApproval). Returns the approvers, log-safe.
 */
export function checkReviews(environment: string, runId: number, data: unknown): Approver[] {
  const { reviews, ignored } = readReviews(runId, data)
  const forEnvironment = reviews.filter((r) => r.environments.includes(environment))
  const rejections = forEnvironment.filter((r) => r.state === 'rejected')
  if (rejections.length > 0) {
    const who = rejections
      .map(
        (r) =>
          `${r.login === undefined ? 'a reviewer GitHub did not name' : safeLogText(r.login, MAX_NAME_LENGTH)}${quoteComment(r.comment)}`
      )
      .join(', ')
    throw new GateError(
      'gate.rejected',
      `Environment '${environment}' was rejected in this run by ${who}. Nothing was deleted; start a new run to ask again.`
    )
  }
  const approvals = forEnvironment.filter((r) => r.state === 'approved')
  if (approvals.length === 0) {
    const others = reviews
      .filter((r) => r.state === 'approved')
      .flatMap((r) => r.environments.filter((e) => e !== environment))
      .map((e) => safeLogText(e, MAX_NAME_LENGTH))
    const pending = forEnvironment.some((r) => r.state === 'pending')
    const notes = [
      ...(pending ? [`its review for '${environment}' is still pending`] : []),
      ...(others.length > 0 ? [`it has approvals for: ${[...new Set(others)].join(', ')}`] : []),
      ...(ignored > 0
        ? [
            `${ignored} ${ignored === 1 ? 'entry' : 'entries'} of GitHub's answer had no readable state, environments or reviewer and ${ignored === 1 ? 'was' : 'were'} not counted`
          ]
        : [])
    ]
    throw new GateError(
      'gate.noApproval',
      `This run has no approval for environment '${environment}'${notes.length > 0 ? ` (${notes.join('; ')})` : ''}. Run delete-source in a job with 'environment: ${environment}' so a required reviewer must approve it.`
    )
  }
  return approvals.map((a) => ({
    login: safeLogText(a.login, MAX_NAME_LENGTH),
    comment: safeLogText(a.comment)
  }))
}

/** A claim's value as text (GitHub sends strings; a number is read too), else undefined. */
function claimText(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}

function describeClaim(value: unknown): string {
  const claim = claimText(value)
  return claim === undefined ? describeValue(value) : `'${safeLogText(claim, MAX_NAME_LENGTH)}'`
}

/**
 * Checks the claims of the job's OIDC token: `environment` must be the approval environment
 * (so this very job is the gated one), and `repository`, `run_id` and `run_attempt`, when the
 * token carries them, must be this repository, run and attempt (run_attempt only when the
 * runner set GITHUB_RUN_ATTEMPT). Anything else refuses (gate.wrongEnvironment).
 */
export function checkOidcClaims(
  claims: Record<string, unknown>,
  environment: string,
  expected: { owner: string; repo: string; runId: number; runAttempt?: number }
): void {
  if (claims.environment !== environment) {
    throw new GateError(
      'gate.wrongEnvironment',
      `This job runs in environment ${claims.environment === undefined ? "'none'" : describeClaim(claims.environment)} (its OIDC token says so), not in '${environment}'. Put 'environment: ${environment}' on the job that runs delete-source.`
    )
  }
  const repository = `${expected.owner}/${expected.repo}`
  if (claims.repository !== undefined && claimText(claims.repository) !== repository) {
    throw new GateError(
      'gate.wrongEnvironment',
      `The job's OIDC token is for repository ${describeClaim(claims.repository)}, not ${repository}, so it does not prove that this job is the gated one.`
    )
  }
  if (claims.run_id !== undefined && claimText(claims.run_id) !== String(expected.runId)) {
    throw new GateError(
      'gate.wrongEnvironment',
      `The job's OIDC token is for run ${describeClaim(claims.run_id)}, not run ${expected.runId}, so it does not prove that this run is the approved one.`
    )
  }
  if (
    claims.run_attempt !== undefined &&
    expected.runAttempt !== undefined &&
    claimText(claims.run_attempt) !== String(expected.runAttempt)
  ) {
    throw new GateError(
      'gate.wrongEnvironment',
      `The job's OIDC token is for attempt ${describeClaim(claims.run_attempt)} of run ${expected.runId}, not attempt ${expected.runAttempt}, so it does not prove that this attempt is the approved one.`
    )
  }
}

/**
 * The approval gate of delete-source. Passes only when all of these hold, and refuses on any
 * doubt (a missing value, an API error, an unexpected answer):
 * - the environment exists and has a required-reviewers rule naming at least one reviewer
 *   that can be identified (GitHub creates a missing environment, unprotected, when a job
 *   names it);
 * - this run has an `approved` review naming the environment, and no rejection of it;
 * - when the job can get an OIDC token, its `environment` claim is the environment (so this
 *   very job is the gated one), and its repository, run and attempt match.
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

  let environmentData: unknown
  try {
    const response = await (
      await ctx.client()
    ).rest.repos.getEnvironment({
      ...repo,
      environment_name: environment
    })
    environmentData = response.data
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
  const reviewers = readRequiredReviewers(environment, environmentData)

  let reviewsData: unknown
  try {
    reviewsData = (
      await (await ctx.client()).rest.actions.getReviewsForRun({ ...repo, run_id: ctx.runId })
    ).data
  } catch (error) {
    throw apiFailure(
      `read the approvals of run ${ctx.runId}`,
      error,
      `GitHub answered 404 Not Found: run ${ctx.runId} of ${ctx.owner}/${ctx.repo} is not visible to this token`
    )
  }
  const approvers = checkReviews(environment, ctx.runId, reviewsData)

  let oidc: ApprovalResult['oidc'] = 'not available'
  let token: string | undefined
  try {
    token = await ctx.idToken()
  } catch (error) {
    throw new GateError(
      'gate.oidcFailed',
      `The job may request an OIDC token but getting one failed (${safeLogText(errorMessage(error))}), so the gate cannot prove which environment this job runs in.`,
      { cause: error }
    )
  }
  if (token !== undefined) {
    let claims: Record<string, unknown>
    try {
      claims = decodeJwtClaims(token)
    } catch (error) {
      throw new GateError(
        'gate.oidcFailed',
        `The job's OIDC token could not be read: ${safeLogText(errorMessage(error))}.`,
        { cause: error }
      )
    }
    checkOidcClaims(claims, environment, {
      owner: ctx.owner,
      repo: ctx.repo,
      runId: ctx.runId,
      ...(ctx.runAttempt !== undefined ? { runAttempt: ctx.runAttempt } : {})
    })
    oidc = 'environment matches'
  }

  return { environment, reviewers, oidc, approvers }
}
