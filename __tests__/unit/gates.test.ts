import { describe, expect, it, jest } from '@jest/globals'
import { checkConfirmList, checkDeletionProtection } from '../../src/gates.js'
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb'
import { decodeJwtClaims } from '../../src/github/approvals.js'
import { Progress, formatDuration, itemCount, withHeartbeat } from '../../src/util/progress.js'
import { backoffDelay, isRetryableAwsError } from '../../src/util/retry.js'
import type { TableInfo } from '../../src/dynamo/tables.js'

describe('gates.ts', () => {
  it('accepts confirm-delete naming exactly the sources, in any order', () => {
    expect(() => checkConfirmList(['b-table', 'a-table'], ['a-table', 'b-table'])).not.toThrow()
  })

  it('refuses confirm-delete with a table too many or too few', () => {
    expect(() => checkConfirmList(['a-table', 'c-table'], ['a-table'])).toThrow(
      "Input 'confirm-delete' must list exactly the source tables to delete (a-table), but it names 'c-table', which is not a source of 'tables'."
    )
    expect(() => checkConfirmList([], ['a-table', 'b-table'])).toThrow(
      "it does not name 'a-table', 'b-table'"
    )
  })

  it('refuses a table with deletion protection and says how to turn it off', () => {
    const info = { name: 'orders', description: { DeletionProtectionEnabled: true } } as TableInfo
    expect(() => checkDeletionProtection(info)).toThrow(
      'aws dynamodb update-table --table-name orders --no-deletion-protection-enabled'
    )
    expect(() => checkDeletionProtection({ ...info, description: {} })).not.toThrow()
  })
})

describe('approvals.ts', () => {
  it('reads the claims of a JWT', () => {
    const payload = Buffer.from(JSON.stringify({ environment: 'prod', run_id: '1' })).toString(
      'base64url'
    )
    expect(decodeJwtClaims(`h.${payload}.s`)).toEqual({ environment: 'prod', run_id: '1' })
    expect(() => decodeJwtClaims('not-a-jwt')).toThrow('not a JWT')
  })
})

describe('progress.ts and retry.ts', () => {
  it('reports items, rate and ETA', () => {
    let now = 0
    const progress = new Progress(
      'copy a -> b',
      1000,
      () => undefined,
      () => now,
      0
    )
    progress.add(250)
    now = 10_000
    expect(progress.line()).toBe('copy a -> b: 250 items, 25 items/s, ~25% of ~1,000, ETA 30s')
    expect(formatDuration(3_725_000)).toBe('1h 2m')
  })

  it('logs a progress line on its interval', () => {
    const lines: string[] = []
    const realSetInterval = global.setInterval
    let tick: (() => void) | undefined
    global.setInterval = (fn: () => void) => {
      tick = fn
      return { unref: () => undefined } as unknown as NodeJS.Timeout
    }
    try {
      let now = 0
      const progress = new Progress(
        'scan t',
        0,
        (line) => lines.push(line),
        () => now,
        10_000
      )
      progress.add(70)
      now = 10_000
      tick?.()
      expect(lines).toEqual(['scan t: 70 items, 7 items/s'])
      progress.stop()
    } finally {
      global.setInterval = realSetInterval
    }
  })

  it('backs off exponentially with full jitter, capped', () => {
    expect(backoffDelay(0, { baseMs: 100, capMs: 1000 }, () => 0.999)).toBe(99)
    expect(backoffDelay(3, { baseMs: 100, capMs: 1000 }, () => 0.5)).toBe(400)
    expect(backoffDelay(20, { baseMs: 100, capMs: 1000 }, () => 0.5)).toBe(500)
    expect(backoffDelay(5, { baseMs: 100, capMs: 1000 }, () => 0)).toBe(0)
  })

  it('retries throttling, 5xx and dropped connections, and nothing else', () => {
    const aws = (name: string, status: number) =>
      new DynamoDBServiceException({
        name,
        $fault: status >= 500 ? 'server' : 'client',
        $metadata: { httpStatusCode: status },
        message: name
      })
    const connection = (code: string) =>
      Object.assign(new Error(`read ${code}`), { code, name: 'Error' })
    for (const retryable of [
      aws('ProvisionedThroughputExceededException', 400),
      aws('ThrottlingException', 400),
      aws('InternalServerError', 500),
      aws('ServiceUnavailable', 503),
      connection('ECONNRESET'),
      connection('EPIPE'),
      new Error('AWS SDK error wrapper for TimeoutError: socket hang up'),
      new Error('AWS SDK error wrapper for Error: read ECONNRESET')
    ])
      expect([retryable.message, isRetryableAwsError(retryable)]).toEqual([retryable.message, true])
    for (const final of [
      aws('ValidationException', 400),
      aws('ResourceNotFoundException', 400),
      aws('AccessDeniedException', 400),
      aws('ExpiredTokenException', 400),
      new Error('AWS SDK error wrapper for Error: something else'),
      new Error('socket hang up'),
      'socket hang up'
    ])
      expect([String(final), isRetryableAwsError(final)]).toEqual([String(final), false])
  })

  it('logs a heartbeat while a step that counts no items runs, and stops with it', async () => {
    jest.useFakeTimers()
    try {
      const lines: string[] = []
      let finish: (value: string) => void = () => undefined
      let clock = 0
      const work = withHeartbeat(
        new Promise<string>((resolve) => (finish = resolve)),
        10_000,
        (line) => lines.push(line),
        (elapsed) => `still uploading (${elapsed})`,
        () => clock
      )
      clock = 10_000
      await jest.advanceTimersByTimeAsync(10_000)
      clock = 20_000
      await jest.advanceTimersByTimeAsync(10_000)
      finish('done')
      await expect(work).resolves.toBe('done')
      await jest.advanceTimersByTimeAsync(30_000)
      expect(lines).toEqual(['still uploading (10s)', 'still uploading (20s)'])
    } finally {
      jest.useRealTimers()
    }
  })

  it('counts items in words', () => {
    expect([0, 1, 2, 3000].map(itemCount)).toEqual(['0 items', '1 item', '2 items', '3,000 items'])
  })
})
