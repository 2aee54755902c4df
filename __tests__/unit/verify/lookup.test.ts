import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  BatchGetItemCommand,
  DynamoDBClient,
  type BatchGetItemCommandOutput
} from '@aws-sdk/client-dynamodb'
import { mockClient } from 'aws-sdk-client-mock'
import { KeyLookup } from '../../../src/verify/lookup.js'
import type { Item } from '../../../src/types.js'
import { everyTypeItem, SENTINEL } from '../../../__fixtures__/items.js'
import { textOf, wireAnswer, wireInput } from '../../support/wire-mock.js'

/** BatchGetItem's wire request, as the product handed it to the command. */
interface WireBatchGet {
  RequestItems: Record<string, { Keys: Item[]; ConsistentRead?: boolean }>
}

/** A BatchGetItem answer in wire form. */
const answer = (found: Item[], unprocessed?: Item[]): BatchGetItemCommandOutput =>
  wireAnswer<BatchGetItemCommandOutput>({
    Responses: { target: found },
    ...(unprocessed ? { UnprocessedKeys: { target: { Keys: unprocessed } } } : {})
  })

const ddb = mockClient(DynamoDBClient)
const client = new DynamoDBClient({ region: 'us-east-1' })

const item = (i: number, extra = ''): Item => ({
  pk: { S: `k${i}` },
  v: { S: `${SENTINEL}${extra}` }
})

function lookup(): KeyLookup {
  return new KeyLookup(client, {
    table: 'target',
    keyAttributes: ['pk'],
    maxInFlight: 2,
    retryTimeoutMs: 10_000,
    missingKind: 'missing-in-target',
    exampleLimit: 20,
    sleep: async () => undefined
  })
}

describe('lookup.ts', () => {
  beforeEach(() => {
    ddb.reset()
  })

  it('looks keys up 100 at a time and finds missing and different items', async () => {
    const source = Array.from({ length: 150 }, (_, i) => item(i))
    ddb.on(BatchGetItemCommand).callsFake((input: WireBatchGet) => {
      const keys = input.RequestItems.target?.Keys ?? []
      const found = keys
        .map((k) => Number((textOf(k.pk) ?? '').slice(1)))
        .filter((i) => i !== 7)
        .map((i) => (i === 120 ? item(i, 'changed') : item(i)))
      return answer(found)
    })
    const check = lookup()
    await check.check(source)
    await check.finish()
    const calls = ddb.commandCalls(BatchGetItemCommand).map((c) => wireInput<WireBatchGet>(c))
    expect(calls.map((c) => c.RequestItems.target?.Keys.length)).toEqual([100, 50])
    expect(calls[0]?.RequestItems.target?.ConsistentRead).toBe(true)
    // Keys only, in wire form, in the order given.
    expect(calls.flatMap((c) => c.RequestItems.target?.Keys ?? [])).toEqual(
      source.map((s) => ({ pk: s.pk }))
    )
    expect(check.checked).toBe(150)
    expect(check.missing).toBe(1)
    expect(check.differing).toBe(1)
    expect(check.examples).toEqual([
      { kind: 'missing-in-target', key: 'pk="k7"' },
      { kind: 'differs', key: 'pk="k120"' }
    ])
    expect(JSON.stringify(check.examples)).not.toContain(SENTINEL)
  })

  it('retries UnprocessedKeys until answered', async () => {
    const source = [item(1), item(2)]
    ddb
      .on(BatchGetItemCommand)
      .resolvesOnce(answer([item(1)], [{ pk: { S: 'k2' } }]))
      .resolves(answer([item(2)]))
    const check = lookup()
    await check.check(source)
    await check.finish()
    expect(ddb.commandCalls(BatchGetItemCommand)).toHaveLength(2)
    expect(
      wireInput<WireBatchGet>(ddb.commandCalls(BatchGetItemCommand)[1]!).RequestItems.target?.Keys
    ).toEqual([{ pk: { S: 'k2' } }])
    expect(check.differences).toBe(0)
  })

  it('compares items in wire form: binary keys, __proto__ attributes, respelled numbers', async () => {
    // A binary partition key, found as the wire carries it; one item differs only in an
    // attribute named `__proto__`, one only in how a number is spelled (equal by value).
    const b64 = (i: number): string => Buffer.from([0, 255, i]).toString('base64')
    const key = (i: number): Item => ({ pk: { B: b64(i) } })
    const proto = (value: string): Item =>
      JSON.parse(`{"pk":${JSON.stringify(key(2).pk)},"__proto__":{"S":"${value}"}}`) as Item
    const source: Item[] = [
      { ...everyTypeItem('x'), ...key(1) },
      proto('before'),
      { ...key(3), n: { N: '1.50' } }
    ]
    const target: Item[] = [
      { ...everyTypeItem('x'), ...key(1) },
      proto('after'),
      { ...key(3), n: { N: '15E-1' } }
    ]
    ddb.on(BatchGetItemCommand).resolves(answer(target))
    const check = new KeyLookup(client, {
      table: 'target',
      keyAttributes: ['pk'],
      maxInFlight: 1,
      retryTimeoutMs: 10_000,
      missingKind: 'missing-in-target',
      exampleLimit: 20,
      sleep: async () => undefined
    })
    await check.check(source)
    await check.finish()
    expect(
      wireInput<WireBatchGet>(ddb.commandCalls(BatchGetItemCommand)[0]!).RequestItems.target?.Keys
    ).toEqual([key(1), key(2), key(3)])
    expect(check.missing).toBe(0)
    expect(check.differing).toBe(1)
    expect(check.examples).toEqual([{ kind: 'differs', key: `pk=b64:${b64(2)}` }])
    expect(JSON.stringify(check.examples)).not.toContain(SENTINEL)
  })
})
