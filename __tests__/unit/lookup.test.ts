import { beforeEach, describe, expect, it } from '@jest/globals'
import { BatchGetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { mockClient } from 'aws-sdk-client-mock'
import { KeyLookup } from '../../src/verify/lookup.js'
import type { Item } from '../../src/types.js'
import { SENTINEL } from '../../__fixtures__/items.js'

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
    ddb
      .on(BatchGetItemCommand)
      .callsFake((input: { RequestItems: Record<string, { Keys: Item[] }> }) => {
        const keys = input.RequestItems.target?.Keys ?? []
        const found = keys
          .map((k) => Number((k.pk?.S ?? '').slice(1)))
          .filter((i) => i !== 7)
          .map((i) => (i === 120 ? item(i, 'changed') : item(i)))
        return { Responses: { target: found } }
      })
    const check = lookup()
    await check.check(source)
    await check.finish()
    const calls = ddb.commandCalls(BatchGetItemCommand)
    expect(calls.map((c) => c.args[0].input.RequestItems?.target?.Keys?.length)).toEqual([100, 50])
    expect(calls[0]?.args[0].input.RequestItems?.target?.ConsistentRead).toBe(true)
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
      .resolvesOnce({
        Responses: { target: [item(1)] },
        UnprocessedKeys: { target: { Keys: [{ pk: { S: 'k2' } }] } }
      })
      .resolves({ Responses: { target: [item(2)] } })
    const check = lookup()
    await check.check(source)
    await check.finish()
    expect(ddb.commandCalls(BatchGetItemCommand)).toHaveLength(2)
    expect(
      ddb.commandCalls(BatchGetItemCommand)[1]?.args[0].input.RequestItems?.target?.Keys
    ).toEqual([{ pk: { S: 'k2' } }])
    expect(check.differences).toBe(0)
  })
})
