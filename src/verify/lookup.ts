import {
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  type DynamoDBClient
} from '@aws-sdk/client-dynamodb'
import { ActionError, errorMessage, errorName, toError } from '../errors.js'
import type { Item, KeyDifference } from '../types.js'
import { describeKey, extractKey } from '../util/redact.js'
import { backoffDelay, isRetryableAwsError, sleep as realSleep, type Sleep } from '../util/retry.js'
import { itemHash, keyText } from './digest.js'
import { sendWire } from '../dynamo/wire.js'

interface WireBatchGetOutput {
  Responses?: Record<string, Item[]>
  UnprocessedKeys?: Record<string, { Keys?: Item[] }>
}

/** BatchGetItem takes at most 100 keys a call. */
export const MAX_GET_KEYS = 100

export interface LookupOptions {
  /** The table looked in. */
  table: string
  keyAttributes: readonly string[]
  maxInFlight: number
  retryTimeoutMs: number
  /** What a key missing from `table` means for the caller. */
  missingKind: KeyDifference['kind']
  /** Stop recording examples after this many (counting goes on). */
  exampleLimit: number
  /** Whether items found with other content count (false: only missing keys do). */
  reportDiffering?: boolean
  sleep?: Sleep
  now?: () => number
  random?: () => number
}

interface Expected {
  key: Item
  hash: Buffer
}

/**
 * Checks items by key in another table: for each item given, BatchGetItem (100 keys a call,
 * several calls in flight, strongly consistent) fetches the item with the same key and
 * compares its content hash. Counts what is missing or different and keeps up to
 * `exampleLimit` keys as examples (keys only, never values). UnprocessedKeys and retryable
 * errors are retried with backoff.
 */
export class KeyLookup {
  checked = 0
  missing = 0
  differing = 0
  readonly examples: KeyDifference[] = []
  private batch: Expected[] = []
  private readonly calls = new Set<Promise<void>>()
  private failure: Error | undefined
  private readonly wait: Sleep
  private readonly now: () => number

  constructor(
    private readonly client: DynamoDBClient,
    private readonly options: LookupOptions
  ) {
    this.wait = options.sleep ?? realSleep
    this.now = options.now ?? Date.now
  }

  get differences(): number {
    return this.missing + this.differing
  }

  /** Queues items to look up; waits while `maxInFlight` calls are running. */
  async check(items: readonly Item[], hashes?: readonly Buffer[]): Promise<void> {
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as Item
      this.batch.push({
        key: extractKey(item, this.options.keyAttributes),
        hash: hashes?.[i] ?? itemHash(item)
      })
      if (this.batch.length >= MAX_GET_KEYS) await this.dispatch()
    }
  }

  async finish(): Promise<void> {
    if (this.batch.length > 0) await this.dispatch()
    while (this.calls.size > 0) await Promise.allSettled([...this.calls])
    if (this.failure !== undefined) throw this.failure
  }

  private async dispatch(): Promise<void> {
    if (this.failure !== undefined) throw this.failure
    const batch = this.batch
    this.batch = []
    while (this.calls.size >= this.options.maxInFlight) await Promise.race(this.calls)
    const call: Promise<void> = this.lookup(batch)
      .catch((error: unknown) => {
        this.failure ??= toError(error)
      })
      .finally(() => this.calls.delete(call))
    this.calls.add(call)
  }

  private keyText(item: Item): string {
    return keyText(item, this.options.keyAttributes)
  }

  private record(kind: KeyDifference['kind'], key: Item): void {
    if (kind === 'differs') this.differing++
    else this.missing++
    if (this.examples.length < this.options.exampleLimit) {
      this.examples.push({ kind, key: describeKey(key, this.options.keyAttributes) })
    }
  }

  private async lookup(batch: Expected[]): Promise<void> {
    const { table } = this.options
    const expected = new Map(batch.map((e) => [this.keyText(e.key), e]))
    let keys = batch.map((e) => e.key)
    let lastProgress = this.now()
    for (let attempt = 0; keys.length > 0; attempt++) {
      try {
        const request = { RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }
        const result = await sendWire<WireBatchGetOutput>(
          this.client,
          new BatchGetItemCommand(request as unknown as BatchGetItemCommandInput),
          { RequestItems: { [table]: { Keys: [] } } }
        )
        for (const found of result.Responses?.[table] ?? []) {
          const text = this.keyText(found)
          const want = expected.get(text)
          if (!want) continue
          expected.delete(text)
          this.checked++
          if (this.options.reportDiffering !== false && !itemHash(found).equals(want.hash))
            this.record('differs', want.key)
        }
        const unprocessed = result.UnprocessedKeys?.[table]?.Keys ?? []
        if (unprocessed.length < keys.length) lastProgress = this.now()
        keys = unprocessed
        if (keys.length === 0) break
      } catch (error) {
        if (!isRetryableAwsError(error)) {
          throw new ActionError(
            'lookup.failed',
            `Looking up items by key in table '${table}' failed (${errorName(error) || 'error'}: ${errorMessage(error)}).`,
            { cause: error }
          )
        }
      }
      const delay = backoffDelay(attempt, undefined, this.options.random)
      if (this.now() + delay - lastProgress > this.options.retryTimeoutMs) {
        throw new ActionError(
          'lookup.gaveUp',
          `Gave up looking up ${keys.length} key(s) in table '${table}' after ${attempt + 1} attempts without progress.`
        )
      }
      await this.wait(delay)
    }
    // Whatever DynamoDB did not return does not exist in the table.
    for (const want of expected.values()) {
      this.checked++
      this.record(this.options.missingKind, want.key)
    }
  }
}
