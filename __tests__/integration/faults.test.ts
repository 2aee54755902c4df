import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { ddbEndpoint, motoEndpoint, uniqueName, useEmulators } from '../support/env.js'
import { canonicalContents, createTable, indexedDefinition, seed } from '../support/tables.js'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js'
import { readS3Backup } from '../support/backups.js'
import { runAction } from '../support/action.js'
import { everyTypeItem, largeItem, sizedItem, SENTINEL } from '../../__fixtures__/items.js'

const { ddb, s3, bucket } = useEmulators('fault-backups')
let proxy: FaultProxy

beforeAll(async () => {
  proxy = await startFaultProxy({ target: ddbEndpoint(), seed: 7 })
})

afterAll(async () => {
  await proxy.stop()
})

describe('copy through a fault-injecting proxy', () => {
  it('loses, duplicates and alters nothing under unprocessed items, throttling, 500s and dropped connections', async () => {
    const source = uniqueName('faulty-src')
    const target = uniqueName('faulty-dst')
    await createTable(ddb, indexedDefinition(source))
    await createTable(ddb, indexedDefinition(target))
    const items = [
      ...Array.from({ length: 2000 }, (_, i) => sizedItem(`k${i % 113}`, i, 200)),
      everyTypeItem('every-type'),
      largeItem('large', 'B')
    ]
    await seed(ddb, source, items)

    proxy.resetStats()
    proxy.setFaults({
      BatchWriteItem: {
        unprocessed: 0.35,
        throttle: 0.1,
        serverError: 0.05,
        drop: 0.03,
        dropAfterForward: 0.05
      },
      Scan: { throttle: 0.1, serverError: 0.05, drop: 0.05 },
      BatchGetItem: { unprocessed: 0.3, throttle: 0.1 }
    })
    const result = await runAction({
      mode: 'copy',
      tables: `${source} -> ${target}`,
      'dynamodb-endpoint': proxy.endpoint,
      's3-endpoint': motoEndpoint(),
      'backup-s3-uri': `s3://${bucket}/x`,
      'total-segments': '4',
      'writes-in-flight': '8'
    })
    proxy.setFaults({})

    // The faults really happened, on every path.
    const injected = proxy.stats.injectedByOperation
    expect(injected.BatchWriteItem?.unprocessed ?? 0).toBeGreaterThan(5)
    expect(injected.BatchWriteItem?.throttle ?? 0).toBeGreaterThan(0)
    expect(injected.BatchWriteItem?.serverError ?? 0).toBeGreaterThan(0)
    expect(injected.BatchWriteItem?.drop ?? 0).toBeGreaterThan(0)
    expect(injected.BatchWriteItem?.dropAfterForward ?? 0).toBeGreaterThan(0)
    expect(
      (injected.Scan?.throttle ?? 0) +
        (injected.Scan?.serverError ?? 0) +
        (injected.Scan?.drop ?? 0)
    ).toBeGreaterThan(0)

    expect(result.report.pairs[0]?.error).toBeUndefined()
    expect(result.report.error).toBeUndefined()
    expect(result.outputs.verified).toBe('true')
    const pair = result.report.pairs[0]!
    expect(pair.counts).toEqual({
      scanned: items.length,
      written: items.length,
      source: items.length,
      target: items.length
    })
    const expected = await canonicalContents(ddb, source)
    expect(await canonicalContents(ddb, target)).toEqual(expected)
    const backup = await readS3Backup(s3, pair.backupLocations[0]!)
    expect(backup.items).toEqual(expected)
    expect(result.log).toMatch(
      /unprocessed item\(s\) and \d+ throttled or failed call\(s\); all were retried until written/
    )
    expect(result.log).not.toContain(SENTINEL)
  })

  it('fails plainly, naming keys only, when writes never get through', async () => {
    const source = uniqueName('stuck-src')
    const target = uniqueName('stuck-dst')
    await createTable(ddb, indexedDefinition(source))
    await createTable(ddb, indexedDefinition(target))
    await seed(
      ddb,
      source,
      Array.from({ length: 30 }, (_, i) => sizedItem(`s${i}`, i, 100))
    )
    proxy.setFaults({ BatchWriteItem: { throttle: 1 } })
    const result = await runAction({
      mode: 'copy',
      tables: `${source} -> ${target}`,
      'dynamodb-endpoint': proxy.endpoint,
      's3-endpoint': motoEndpoint(),
      'backup-s3-uri': `s3://${bucket}/x`,
      'retry-timeout-seconds': '2'
    })
    proxy.setFaults({})
    expect(result.failed).toBe(true)
    expect(result.report.errorCode).toBe('write.gaveUp')
    const pairError = result.report.pairs[0]?.error
    expect(pairError).toMatch(/Gave up writing \d+ item\(s\) to table '.*' after \d+ attempts/)
    expect(pairError).toMatch(/pk="s\d+", sk=\d+/)
    expect(result.report.error).toMatch(/^1 of 1 pair failed/)
    // One error annotation with the reason (the pair's), not the same text twice.
    expect(result.log.match(/^::error::.*Gave up writing/gm)).toHaveLength(1)
    expect(JSON.stringify(result.report)).not.toContain(SENTINEL)
    expect(result.outputs.verified).toBe('false')
  })
})
