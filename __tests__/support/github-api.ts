// A local stand-in for the GitHub REST API endpoints the approval gate reads, and for the
// runner's OIDC token service, so the real Octokit client and core.getIDToken() make real
// HTTP requests in tests. Every request is recorded (with its Authorization header).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * One canned answer: a status with a JSON body (sent only for 200; other statuses answer
 * GitHub's `{ message }`), or `raw` text sent as is (an HTML page, broken JSON) with
 * `contentType` (default application/json), whatever the status.
 */
export interface CannedResponse {
  status: number
  body?: unknown
  raw?: string
  contentType?: string
}

export interface Scenario {
  /** GET /repos/{o}/{r}/environments/{name}: a status, or the environment's body. */
  environment?: CannedResponse
  /** GET /repos/{o}/{r}/actions/runs/{id}/approvals. */
  approvals?: CannedResponse
  /** Claims of the OIDC token; absent: the token service answers 500. */
  oidcClaims?: Record<string, unknown> | undefined
}

export interface RecordedRequest {
  method: string
  path: string
  authorization: string | undefined
}

export interface GitHubApi {
  url: string
  requests: RecordedRequest[]
  scenario: Scenario
  stop(): Promise<void>
  /** Environment variables a job gets: API URL, repository, run, OIDC request URL and token. */
  env(options?: { oidc?: boolean }): Record<string, string>
}

export const OWNER = 'acme'
export const REPO = 'shop'
export const RUN_ID = 4242

export function protectedEnvironment(name: string, reviewers: string[] = ['alice']): unknown {
  return {
    id: 1,
    name,
    protection_rules: [
      { id: 10, type: 'wait_timer', wait_timer: 0 },
      {
        id: 11,
        type: 'required_reviewers',
        prevent_self_review: true,
        reviewers: reviewers.map((login) => ({ type: 'User', reviewer: { login, id: 7 } }))
      }
    ]
  }
}

export function approval(
  environment: string,
  state: 'approved' | 'rejected' | 'pending' = 'approved',
  login = 'alice',
  comment = 'ship it'
): unknown {
  return { state, comment, user: { login, id: 7 }, environments: [{ id: 1, name: environment }] }
}

export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.signature`
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body ?? { message: `status ${status}` }))
}

function answer(res: ServerResponse, r: CannedResponse, errorMessage: string): void {
  if (r.raw !== undefined) {
    res.writeHead(r.status, { 'content-type': r.contentType ?? 'application/json' })
    res.end(r.raw)
    return
  }
  send(res, r.status, r.status === 200 ? r.body : { message: errorMessage })
}

export async function startGitHubApi(scenario: Scenario = {}): Promise<GitHubApi> {
  const requests: RecordedRequest[] = []
  const api: Partial<GitHubApi> = { requests, scenario }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      authorization: req.headers.authorization
    })
    const s = api.scenario as Scenario
    if (url.pathname === '/oidc/token') {
      if (!s.oidcClaims) return send(res, 500, { message: 'no token' })
      return send(res, 200, { value: fakeJwt(s.oidcClaims) })
    }
    if (url.pathname.startsWith(`/repos/${OWNER}/${REPO}/environments/`)) {
      return answer(res, s.environment ?? { status: 404 }, 'Not Found')
    }
    if (url.pathname === `/repos/${OWNER}/${REPO}/actions/runs/${RUN_ID}/approvals`) {
      return answer(res, s.approvals ?? { status: 200, body: [] }, 'error')
    }
    send(res, 404, { message: 'Not Found' })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return Object.assign(api, {
    url,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
    env: (options: { oidc?: boolean } = {}) => ({
      GITHUB_API_URL: url,
      GITHUB_REPOSITORY: `${OWNER}/${REPO}`,
      GITHUB_RUN_ID: String(RUN_ID),
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_ACTOR: 'bob',
      ...(options.oidc === false
        ? {}
        : {
            ACTIONS_ID_TOKEN_REQUEST_URL: `${url}/oidc/token?api-version=2.0`,
            ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runtime-token'
          })
    })
  }) as GitHubApi
}
