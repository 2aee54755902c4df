import {
  isRetryableByTrait,
  isServerError,
  isThrottlingError,
  isTransientError
} from '@smithy/core/retry'
import type { SdkError } from '@smithy/types'

export interface BackoffOptions {
  /** First delay ceiling in ms. */
  baseMs: number
  /** Largest delay ceiling in ms. */
  capMs: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 25, capMs: 10_000 }

/**
 * Capped exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff
 * And Jitter"): a uniform draw between 0 and min(cap, base * 2^attempt).
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random
): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}

export type Sleep = (ms: number) => Promise<void>
export const sleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Whether an AWS call may be repeated: throttling, 5xx, timeouts and dropped connections.
 * Validation errors, missing tables and access denials are final.
 */
export function isRetryableAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const sdkError = error as SdkError
  return (
    isThrottlingError(sdkError) ||
    isTransientError(sdkError) ||
    isServerError(sdkError) ||
    isRetryableByTrait(sdkError) ||
    WRAPPED_CONNECTION_ERROR.test(error.message)
  )
}

/** Whether the service throttled the call (counted apart from other retried errors). */
export function isThrottling(error: unknown): boolean {
  return error instanceof Error && isThrottlingError(error as SdkError)
}

/**
 * The SDK's retry middleware turns a thrown value that is not `instanceof Error` (an error
 * from another JavaScript realm, as under a test runner's VM) into a bare Error whose message
 * is all that is left of it: "AWS SDK error wrapper for TimeoutError: socket hang up". A
 * dropped connection or timeout named there is as retryable as the unwrapped error.
 */
const WRAPPED_CONNECTION_ERROR =
  /^AWS SDK error wrapper for (?:TimeoutError|Error)\b.*(?:socket hang up|ECONNRESET|EPIPE|ETIMEDOUT|timed out)/

export interface RetryOptions {
  /** Give up once this long has passed since the first attempt. */
  timeoutMs: number
  backoff?: BackoffOptions
  sleep?: Sleep
  now?: () => number
  random?: () => number
  isRetryable?: (error: unknown) => boolean
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void
}

/** Repeats `fn` on retryable errors with backoff until it succeeds or the time is up. */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const now = options.now ?? Date.now
  const wait = options.sleep ?? sleep
  const retryable = options.isRetryable ?? isRetryableAwsError
  const started = now()
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn()
    } catch (error) {
      if (!retryable(error)) throw error
      const delay = backoffDelay(attempt, options.backoff, options.random)
      if (now() + delay - started > options.timeoutMs) throw error
      options.onRetry?.(error, attempt + 1, delay)
      await wait(delay)
    }
  }
}
