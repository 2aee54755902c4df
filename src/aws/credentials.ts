import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types'
import { ActionError, errorMessage, errorName } from '../errors.js'

/** The audience aws-actions/configure-aws-credentials asks GitHub's OIDC tokens for. */
export const STS_AUDIENCE = 'sts.amazonaws.com'

export interface RoleSettings {
  roleArn: string
  /** How long each set of credentials lasts (STS DurationSeconds). */
  durationSeconds: number
  sessionName: string
  region: string
  /** STS endpoint (tests); empty: the SDK's own resolution (AWS_ENDPOINT_URL_STS too). */
  stsEndpoint?: string
  /** A fresh GitHub OIDC token for the audience (core.getIDToken). */
  idToken: (audience: string) => Promise<string>
  now?: () => number
  /** Says, without secrets, when credentials were obtained or a refresh failed. */
  log?: (line: string) => void
  /** Masks a secret in the job's log (core.setSecret). */
  mask?: (secret: string) => void
}

/** Refresh this long before credentials expire: a third of their life, at most 5 minutes. */
export function refreshMarginMs(durationSeconds: number): number {
  return Math.min(5 * 60_000, (durationSeconds * 1000) / 3)
}

/**
 * Credentials for the role, from GitHub's OIDC token through STS AssumeRoleWithWebIdentity
 * (which needs no credentials of its own), obtained again before they expire so that a copy
 * can run for hours: every AWS client of the run takes this provider. A new OIDC token is
 * asked for at every refresh (they are short-lived). Refreshes are shared by concurrent
 * callers. A refresh that fails while the credentials in hand are still valid keeps them and
 * tries again at the next call; once they have expired, the failure is the call's.
 */
export function webIdentityCredentials(settings: RoleSettings): AwsCredentialIdentityProvider {
  const now = settings.now ?? Date.now
  const margin = refreshMarginMs(settings.durationSeconds)
  const sts = new STSClient({
    region: settings.region,
    ...(settings.stsEndpoint ? { endpoint: settings.stsEndpoint } : {})
  })
  let current: AwsCredentialIdentity | undefined
  let refreshing: Promise<AwsCredentialIdentity> | undefined
  let obtained = 0
  // After a failed refresh, the credentials in hand are used without asking again for a while.
  let quietUntil = 0

  const assume = async (): Promise<AwsCredentialIdentity> => {
    let token: string
    try {
      token = await settings.idToken(STS_AUDIENCE)
    } catch (error) {
      throw new ActionError(
        'credentials.noIdToken',
        `Input 'role-to-assume' is set, but GitHub's OIDC token could not be had (${errorMessage(error)}). The job needs 'permissions: id-token: write'.`,
        { cause: error }
      )
    }
    let answer
    try {
      answer = await sts.send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: settings.roleArn,
          RoleSessionName: settings.sessionName,
          WebIdentityToken: token,
          DurationSeconds: settings.durationSeconds
        })
      )
    } catch (error) {
      throw new ActionError(
        'credentials.assumeRoleFailed',
        `Could not assume role '${settings.roleArn}' with the job's OIDC token (${errorName(error) || 'error'}: ${errorMessage(error).slice(0, 300)}). Check the role's trust policy (see the README's role-to-assume section) and 'role-duration-seconds' (at least 900, at most the role's maximum session duration).`,
        { cause: error }
      )
    }
    const c = answer.Credentials
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new ActionError(
        'credentials.assumeRoleFailed',
        `STS answered AssumeRoleWithWebIdentity for '${settings.roleArn}' without complete credentials.`
      )
    }
    settings.mask?.(c.SecretAccessKey)
    settings.mask?.(c.SessionToken)
    obtained++
    settings.log?.(
      `${obtained === 1 ? 'Assumed' : 'Refreshed'} role '${settings.roleArn}' (credentials ${obtained}, valid until ${c.Expiration.toISOString()}).`
    )
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: c.Expiration
    }
  }

  const fresh = (c: AwsCredentialIdentity | undefined): c is AwsCredentialIdentity =>
    c !== undefined && (c.expiration?.getTime() ?? Infinity) - now() > margin
  const valid = (c: AwsCredentialIdentity | undefined): c is AwsCredentialIdentity =>
    c !== undefined && (c.expiration?.getTime() ?? Infinity) > now()

  return async () => {
    if (fresh(current) || (valid(current) && now() < quietUntil)) return current
    refreshing ??= assume().finally(() => {
      refreshing = undefined
    })
    try {
      current = await refreshing
      // Credentials that come back already inside the margin (a skewed clock, a short
      // session) are used for a while before STS is asked again, not at every call.
      if (!fresh(current)) quietUntil = now() + Math.min(5_000, margin / 4)
      return current
    } catch (error) {
      if (valid(current)) {
        quietUntil = now() + Math.min(10_000, margin / 4)
        settings.log?.(
          `Refreshing the role's credentials failed (${errorMessage(error)}); the current ones stay in use until ${current.expiration?.toISOString() ?? '?'}.`
        )
        return current
      }
      throw error
    }
  }
}
