import {
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  type DynamoDBClient
} from '@aws-sdk/client-dynamodb'
import type { Item, KeyDifference } from '../types.js'
import { describeKey, extractKey } from '../util/redact.js'
import {
  BatchCalls,
  type BatchOutcome,
  type BatchSettings,
  type BatchStats
} from '../dynamo/batch.js'
import { itemHash, keyText } from './digest.js'
import { ownEntry, sendWire } from '../dynamo/wire.js'

interface WireBatchGetOutput {
  Responses?: Record<string, Item[]>
  UnprocessedKeys?: Record<string, { Keys?: Item[] }>
  ConsumedCapacity?: { CapacityUnits?: number }[]
}

/** BatchGetItem takes at most 100 keys a call. */
export const MAX_GET_KEYS = 100

export interface LookupOptions extends Omit<BatchSettings, 'kind'> {
  keyAttributes: readonly string[]
  /** What a key missing from `table` means for the caller. */
  missingKind: KeyDifference['kind']
  /** Stop recording examples after this many (counting goes on). */
  exampleLimit: number
  /** Whether items found with other content count (false: only missing keys do). */
  reportDiffering?: boolean
}

interface Expected {
  key: Item
  hash: Buffer
}

/**
 * Checks items by key in another table: for each item given, BatchGetItem (100 keys a call,
 * strongly consistent, on the batch primitive: several calls in flight, UnprocessedKeys and
 * retryable errors sent again with backoff) fetches the item with the same key and compares
 * its content hash. Counts what is missing or different and keeps up to `exampleLimit` keys
 * as examples (keys only, never values).
 */
export class KeyLookup {
  checked = 0
  missing = 0
  differing = 0
  readonly examples: KeyDifference[] = []
  private batch: Expected[] = []
  private readonly calls: BatchCalls<Expected>

  constructor(
    private readonly client: DynamoDBClient,
    private readonly options: LookupOptions
  ) {
    this.calls = new BatchCalls<Expected>(
      { ...options, kind: 'lookup' },
      (batch) => this.lookup(batch),
      (expected) => describeKey(expected.key, options.keyAttributes)
    )
  }

  get stats(): BatchStats {
    return this.calls.stats
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
    await this.calls.drain()
  }

  private async dispatch(): Promise<void> {
    const batch = this.batch
    this.batch = []
    await this.calls.submit(batch).started
  }

  private record(kind: KeyDifference['kind'], key: Item): void {
    if (kind === 'differs') this.differing++
    else this.missing++
    if (this.examples.length < this.options.exampleLimit) {
      this.examples.push({ kind, key: describeKey(key, this.options.keyAttributes) })
    }
  }

  /** One BatchGetItem call: judges what came back; returns the keys to ask again. */
  private async lookup(batch: Expected[]): Promise<BatchOutcome<Expected>> {
    const { table, keyAttributes } = this.options
    const request = {
      RequestItems: { [table]: { Keys: batch.map((e) => e.key), ConsistentRead: true } },
      ReturnConsumedCapacity: 'TOTAL'
    }
    const result = await sendWire<WireBatchGetOutput>(
      this.client,
      new BatchGetItemCommand(request as unknown as BatchGetItemCommandInput),
      { RequestItems: { [table]: { Keys: [] } } }
    )
    const expected = new Map(batch.map((e) => [keyText(e.key, keyAttributes), e]))
    for (const found of ownEntry(result.Responses, table) ?? []) {
      const text = keyText(found, keyAttributes)
      const want = expected.get(text)
      if (!want) continue
      expected.delete(text)
      this.checked++
      if (this.options.reportDiffering !== false && !itemHash(found).equals(want.hash))
        this.record('differs', want.key)
    }
    const unprocessed = new Set(
      (ownEntry(result.UnprocessedKeys, table)?.Keys ?? []).map((key) =>
        keyText(key, keyAttributes)
      )
    )
    const again: Expected[] = []
    for (const [text, want] of expected) {
      if (unprocessed.has(text)) again.push(want)
      else {
        // Neither returned nor handed back: the table has no item with this key.
        this.checked++
        this.record(this.options.missingKind, want.key)
      }
    }
    return {
      unprocessed: again,
      consumed: (result.ConsumedCapacity ?? []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0)
    }
  }
}
