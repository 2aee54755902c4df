import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import * as path from 'node:path'
import fc from 'fast-check'
import {
  INPUTS,
  MAX_S3_PREFIX_BYTES,
  MAX_TABLE_PAIRS,
  commentStart,
  getInputs,
  parseBoolean,
  parseMode,
  parsePlanFor,
  parseNameList,
  parseS3Uri,
  parseTablePairs,
  parseTotalSegments,
  parseUnitsCap,
  resolveRegion,
  stripComment
} from '../../src/inputs.js'
import { InputError } from '../../src/errors.js'
import { joinKey, s3Uri } from '../../src/backup/s3.js'

const inputEnv = (name: string): string => `INPUT_${name.replace(/ /g, '_').toUpperCase()}`

function setInputs(values: Record<string, string>): void {
  for (const [name, value] of Object.entries(values)) process.env[inputEnv(name)] = value
}

describe('inputs.ts', () => {
  const saved = { ...process.env }
  beforeEach(() => {
    for (const key of Object.keys(process.env))
      if (key.startsWith('INPUT_')) delete process.env[key]
  })
  afterEach(() => {
    process.env = { ...saved }
  })

  it('declares exactly the inputs of action.yml', () => {
    const yml = readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')
    const section = yml.slice(yml.indexOf('\ninputs:'), yml.indexOf('\noutputs:'))
    const declared = [...section.matchAll(/^ {2}([a-z0-9-]+):\s*$/gm)].map((m) => m[1]).sort()
    expect(declared).toEqual(Object.values(INPUTS).sort())
  })

  it('documents exactly the inputs of action.yml in the README', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    const table = readme.slice(
      readme.indexOf('<!-- inputs:start -->'),
      readme.indexOf('<!-- inputs:end -->')
    )
    const documented = [...table.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]).sort()
    expect(documented).toEqual(Object.values(INPUTS).sort())
  })

  it('parses pairs, commas, comments and blank lines', () => {
    const pairs = parseTablePairs(
      '# move QA tables\norder-tracking-qa -> qa-order-tracking\n\n   \nusers-qa->qa-users, carts-qa -> qa-carts # trailing\n',
      'copy'
    )
    expect(pairs).toEqual([
      { source: 'order-tracking-qa', target: 'qa-order-tracking' },
      { source: 'users-qa', target: 'qa-users' },
      { source: 'carts-qa', target: 'qa-carts' }
    ])
  })

  it('accepts a bare source in backup only', () => {
    expect(parseTablePairs('orders', 'backup')).toEqual([{ source: 'orders' }])
    expect(() => parseTablePairs('orders', 'copy')).toThrow(
      /line 1: 'orders' is not of the form 'SOURCE -> TARGET'/
    )
  })

  it.each([
    ['a -> b -> c', 'copy', 'input.malformedPair'],
    ['abc -> ', 'copy', 'input.malformedPair'],
    ['abc -> abc', 'copy', 'input.sameTable'],
    ['abc -> def\nghi -> abc', 'copy', 'input.duplicateTable'],
    ['abc -> def\nabc -> xyz', 'copy', 'input.duplicateTable'],
    ['a! -> bcd', 'copy', 'input.badTableName'],
    ['ab -> bcd', 'copy', 'input.badTableName'],
    ['# nothing here\n\n', 'copy', 'input.noTables']
  ])('rejects %j with %s', (text, mode, code) => {
    try {
      parseTablePairs(text, mode as 'copy')
      throw new Error('expected an error')
    } catch (error) {
      expect(error).toBeInstanceOf(InputError)
      expect((error as InputError).code).toBe(code)
    }
  })

  it('takes backup locations as restore sources', () => {
    expect(
      parseTablePairs('s3://bucket/backups/orders/x -> orders\n./backup, dir -> users', 'restore')
    ).toEqual([
      { source: 's3://bucket/backups/orders/x', target: 'orders' },
      { source: './backup, dir', target: 'users' }
    ])
    expect(() => parseTablePairs('s3://B_AD -> orders', 'restore')).toThrow(/not an S3 location/)
  })

  it('parses modes, booleans, S3 URIs, name lists and regions', () => {
    expect(parseMode(' Copy ')).toBe('copy')
    expect(() => parseMode('rename')).toThrow(
      "Unknown mode 'rename'. Use one of: plan, backup, copy, verify, delete-source, restore."
    )
    expect(() => parseMode('')).toThrow(/required/)
    expect(parseBoolean('TRUE', 'x', false)).toBe(true)
    expect(parseBoolean('', 'x', true)).toBe(true)
    expect(() => parseBoolean('yes', 'create-target', false)).toThrow(
      "Input 'create-target' must be true or false, not 'yes'."
    )
    expect(parseS3Uri('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' })
    expect(parseS3Uri('s3://my-bucket/a/b/')).toEqual({ bucket: 'my-bucket', prefix: 'a/b' })
    expect(() => parseS3Uri('https://my-bucket/x')).toThrow(/s3:\/\/bucket/)
    expect(parseNameList('a-table, b-table\nc-table  # comment')).toEqual([
      'a-table',
      'b-table',
      'c-table'
    ])
    expect(resolveRegion('', { AWS_REGION: 'eu-west-1' })).toBe('eu-west-1')
    expect(resolveRegion('', { AWS_DEFAULT_REGION: 'us-east-2' })).toBe('us-east-2')
    expect(() => resolveRegion('', {})).toThrow(/No AWS region/)
  })

  it('reads every input from INPUT_ variables with hyphens kept', () => {
    setInputs({
      mode: 'copy',
      tables: 'order-tracking-qa -> qa-order-tracking',
      region: 'eu-west-1',
      'backup-s3-uri': 's3://backups/dynamodb',
      'backup-artifact': 'true',
      'create-target': 'false',
      'allow-non-empty-target': 'true',
      'confirm-delete': 'order-tracking-qa',
      'expected-account-id': '123456789012',
      'github-token': 'ghs_token',
      'total-segments': '4',
      'writes-in-flight': '16',
      'retry-timeout-seconds': '30'
    })
    const inputs = getInputs({ RUNNER_TEMP: '/runner/tmp' })
    expect(inputs).toMatchObject({
      mode: 'copy',
      pairs: [{ source: 'order-tracking-qa', target: 'qa-order-tracking' }],
      region: 'eu-west-1',
      backupS3: { bucket: 'backups', prefix: 'dynamodb' },
      backupArtifact: true,
      backupDir: '/runner/tmp/dynamodb-backups',
      createTarget: false,
      allowNonEmptyTarget: true,
      confirmDelete: ['order-tracking-qa'],
      expectedAccountId: '123456789012',
      totalSegments: 4,
      writesInFlight: 16,
      retryTimeoutMs: 30_000
    })
  })

  it('refuses a bad account id and bad tuning values', () => {
    setInputs({
      mode: 'plan',
      tables: 'abc -> def',
      region: 'eu-west-1',
      'expected-account-id': '1234'
    })
    expect(() => getInputs({})).toThrow(/12-digit/)
    setInputs({ 'expected-account-id': '', 'total-segments': '0' })
    expect(() => getInputs({})).toThrow(
      "Input 'total-segments' must be a whole number from 1 to 1000, not '0'."
    )
  })

  it("reads 'scan-segments' as the deprecated name of 'total-segments', with a warning", () => {
    const log = captureStdout(() => {
      expect(parseTotalSegments('16', '4')).toBe(4)
      expect(parseTotalSegments('', '4')).toBe(4)
      expect(parseTotalSegments('4', '4')).toBe(4)
    })
    expect(log).toContain("::warning::Input 'scan-segments' is deprecated")
    expect(captureStdout(() => expect(parseTotalSegments('8', '')).toBe(8))).toBe('')
    const error = inputError(() => parseTotalSegments('8', '4'))
    expect(error.code).toBe('input.conflictingSegments')
    expect(error.message).toContain("set only 'total-segments'")
    expect(inputError(() => parseTotalSegments('16', '0')).message).toContain(
      "Input 'scan-segments' must be a whole number"
    )
  })

  it('reads capacity caps as units or a share, and items a second; empty means no cap', () => {
    setInputs({ mode: 'copy', tables: 'abc -> def', region: 'eu-west-1' })
    expect(getInputs({}).caps).toEqual({})
    setInputs({
      'max-read-units': '50%',
      'max-write-units': '12.5',
      'max-items-per-second': '800'
    })
    expect(getInputs({}).caps).toEqual({
      readUnits: { percent: 50 },
      writeUnits: { units: 12.5 },
      itemsPerSecond: 800
    })
    expect(parseUnitsCap(' 100 ', 'max-read-units')).toEqual({ units: 100 })
    expect(parseUnitsCap('100%', 'max-read-units')).toEqual({ percent: 100 })
    for (const bad of ['0', '0%', '150%', '-5', 'fast', '50 %', '1e3', '%', '2000000']) {
      const error = inputError(() => parseUnitsCap(bad, 'max-write-units'))
      expect(error.code).toBe('input.badCap')
      expect(error.message).toContain("Input 'max-write-units'")
    }
    setInputs({ 'max-read-units': '', 'max-write-units': '', 'max-items-per-second': '0' })
    expect(() => getInputs({})).toThrow("Input 'max-items-per-second' must be a whole number")
  })
})

/** The InputError a call throws (fails the test when it throws nothing or something else). */
function inputError(call: () => unknown): InputError {
  try {
    call()
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    return error as InputError
  }
  throw new Error('expected an InputError')
}

const RUN_LABEL = '20260101T000000Z-run123-1'
const EXPORT_ID = '01767225600000-1a2b3c4d'

/** Every form in which the action reports a backup under an S3 prefix or a local folder. */
function reportedS3Locations(bucket: string, prefix: string, table: string): string[] {
  return [
    s3Uri(bucket, `${joinKey(prefix, table, RUN_LABEL)}/`),
    s3Uri(bucket, joinKey(prefix, table, RUN_LABEL, 'AWSDynamoDB', EXPORT_ID))
  ]
}
function reportedLocalLocations(dir: string, table: string): string[] {
  return [
    path.join(dir, table, RUN_LABEL),
    path.join(dir, table, RUN_LABEL, 'AWSDynamoDB', EXPORT_ID)
  ]
}

/** A restore line naming `location` reads back as exactly that location. */
function expectRoundTrip(location: string): void {
  for (const line of [
    `${location} -> restored-table`,
    `  ${location}   ->   restored-table   # restored from the run above`,
    `# a comment line\n${location}->restored-table\n`
  ]) {
    expect(parseTablePairs(line, 'restore')).toEqual([
      { source: location, target: 'restored-table' }
    ])
  }
}

const bucketName = fc
  .stringMatching(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/)
  .filter((b) => !b.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(b))
const tableName = fc.stringMatching(/^[A-Za-z0-9_.-]{3,40}$/)
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/

describe('inputs.ts: one grammar for comments and backup locations', () => {
  const saved = { ...process.env }
  const setInputs = (values: Record<string, string>): void => {
    for (const key of Object.keys(process.env))
      if (key.startsWith('INPUT_')) delete process.env[key]
    for (const [name, value] of Object.entries(values))
      process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  }
  afterEach(() => {
    process.env = { ...saved }
  })

  it.each([
    ['# a whole-line comment', ''],
    ['   # indented comment', '   '],
    ['orders -> qa-orders # trailing', 'orders -> qa-orders '],
    ['orders -> qa-orders\t# after a tab', 'orders -> qa-orders\t'],
    ['s3://bucket/pre#fix -> orders', 's3://bucket/pre#fix -> orders'],
    ['s3://bucket/a#b#c', 's3://bucket/a#b#c'],
    ['s3://bucket/pre#fix -> orders # note', 's3://bucket/pre#fix -> orders ']
  ])('reads %j as %j: a # starts a comment only at the start or after a space', (line, kept) => {
    expect(stripComment(line)).toBe(kept)
    expect(commentStart(line)).toBe(kept.length === line.length ? -1 : kept.length)
  })

  it('keeps a # inside an S3 key in restore lines and backup-s3-uri alike', () => {
    expect(
      parseTablePairs('s3://bucket/pre#fix/AWSDynamoDB/x -> orders # from run 12', 'restore')
    ).toEqual([{ source: 's3://bucket/pre#fix/AWSDynamoDB/x', target: 'orders' }])
    expect(parseS3Uri('s3://bucket/team#1')).toEqual({
      bucket: 'bucket',
      prefix: 'team#1'
    })
    expect(parseS3Uri('s3://bucket/my backups/q#1')).toEqual({
      bucket: 'bucket',
      prefix: 'my backups/q#1'
    })
    setInputs({
      mode: 'backup',
      tables: 'orders',
      region: 'eu-west-1',
      'backup-s3-uri': 's3://backups/team#1/dynamodb'
    })
    expect(getInputs({}).backupS3).toEqual({ bucket: 'backups', prefix: 'team#1/dynamodb' })
  })

  it('says a # after a space began a comment when the rest of the line is then malformed', () => {
    const error = inputError(() => parseTablePairs('s3://bucket/my #1 -> orders', 'restore'))
    expect(error.code).toBe('input.malformedPair')
    expect(error.message).toBe(
      "Input 'tables' line 1: 's3://bucket/my' is not of the form 'BACKUP -> TARGET' (a '#' at the start of a line or after a space starts a comment, so the rest of the line was ignored)."
    )
  })

  it.each([
    ['s3://bucket/my #1', "has a '#' at its start or after a space"],
    ['s3://bucket/a->b', "contains '->'"],
    ['s3://bucket/a\tb', 'control character'],
    ['s3://bucket/a/../b', "'.' or '..' folder"],
    ['s3://bucket/./b', "'.' or '..' folder"],
    ['s3://bucket/back\\slash', 'backslash'],
    ['s3://Bucket/x', 'is not an S3 location'],
    ['s3://bu..cket/x', 'is not an S3 location'],
    ['s3://192.168.1.1/x', 'is not an S3 location']
  ])('refuses backup-s3-uri %j, naming the input (%s)', (uri, why) => {
    setInputs({ mode: 'backup', tables: 'orders', region: 'eu-west-1', 'backup-s3-uri': uri })
    const error = inputError(() => getInputs({}))
    expect(error.code).toBe('input.badS3Uri')
    expect(error.message).toContain("Input 'backup-s3-uri'")
    expect(error.message).toContain(why)
  })

  it('refuses an S3 prefix longer than 512 bytes, counted in UTF-8', () => {
    const prefix = 'é'.repeat(MAX_S3_PREFIX_BYTES / 2 + 1) // 514 bytes, 257 characters
    setInputs({
      mode: 'backup',
      tables: 'orders',
      region: 'eu-west-1',
      'backup-s3-uri': `s3://bucket/${prefix}`
    })
    expect(() => getInputs({})).toThrow(
      "Input 'backup-s3-uri': the prefix is 514 bytes long; at most 512 are allowed"
    )
  })

  it.each([
    ['/tmp/my #1', "has a '#' at its start or after a space"],
    ['./#backups', "has a '#' at its start or after a space"],
    ['/tmp/a->b', "contains '->', which separates"]
  ])('refuses backup-dir %j, naming the input (%s)', (dir, why) => {
    setInputs({ mode: 'backup', tables: 'orders', region: 'eu-west-1', 'backup-dir': dir })
    const error = inputError(() => getInputs({}))
    expect(error.code).toBe('input.badBackupDir')
    expect(error.message).toContain(
      `Input 'backup-dir': '${dir}' cannot be used: it ${why.replace(/^it /, '')}`
    )
  })

  it('reads confirm-delete with the same comments and refuses names that are not tables', () => {
    expect(parseNameList('orders-qa # the old one\n# users-qa\ncarts-qa,pay-qa')).toEqual([
      'orders-qa',
      'carts-qa',
      'pay-qa'
    ])
    const error = inputError(() => parseNameList('orders-qa, pay#ments'))
    expect(error.code).toBe('input.badTableName')
    expect(error.message).toContain("Input 'confirm-delete': 'pay#ments' is not a valid")
  })

  it('round-trips every reported S3 location through a restore line (property)', () => {
    const unit = fc.constantFrom(...'aZ0-_.#/ >!é😀%?+=&\'"\t'.split(/(?:)/u), '\u2028', '\u0085')
    fc.assert(
      fc.property(
        bucketName,
        fc.string({ unit, maxLength: 40 }),
        tableName,
        (bucket, prefix, table) => {
          const uri = prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}`
          setInputs({ mode: 'backup', tables: table, region: 'eu-west-1', 'backup-s3-uri': uri })
          const text = uri.trim() // as @actions/core reads it
          const key = text.slice(`s3://${bucket}`.length).replace(/^\/+|\/+$/g, '')
          const refused =
            CONTROL.test(text) ||
            /(^|\s)#/.test(text) ||
            text.includes('->') ||
            key.includes('\\') ||
            key.split('/').some((part) => part === '.' || part === '..')
          if (refused) {
            const error = inputError(() => getInputs({}))
            expect(error.code).toBe('input.badS3Uri')
            expect(error.message).toContain("Input 'backup-s3-uri'")
            return
          }
          const location = getInputs({}).backupS3
          expect(location).toEqual({ bucket, prefix: key })
          for (const reported of reportedS3Locations(bucket, key, table)) {
            expectRoundTrip(reported)
            expect(parseS3Uri(reported)).toEqual({
              bucket,
              prefix: reported.slice(`s3://${bucket}/`.length).replace(/\/+$/, '')
            })
          }
        }
      ),
      { numRuns: 300 }
    )
  })

  it('accepts # and spaces inside S3 keys and round-trips them (property)', () => {
    const word = fc
      .string({
        unit: fc.constantFrom(...'aZ0-_#>!é😀%?+=&'.split(/(?:)/u)),
        minLength: 1,
        maxLength: 8
      })
      .filter((w) => !w.startsWith('#') && !w.includes('->'))
    const segment = fc.array(word, { minLength: 1, maxLength: 3 }).map((w) => w.join(' '))
    const prefix = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'))
    fc.assert(
      fc.property(bucketName, prefix, tableName, (bucket, key, table) => {
        expect(parseS3Uri(`s3://${bucket}/${key}`)).toEqual({ bucket, prefix: key })
        for (const reported of reportedS3Locations(bucket, key, table)) expectRoundTrip(reported)
      }),
      { numRuns: 300 }
    )
  })

  it('round-trips every reported local backup folder through a restore line (property)', () => {
    const unit = fc.constantFrom(...'aZ0-_./# >é,'.split(/(?:)/u))
    fc.assert(
      fc.property(fc.string({ unit, minLength: 1, maxLength: 30 }), tableName, (dir, table) => {
        setInputs({ mode: 'backup', tables: table, region: 'eu-west-1', 'backup-dir': dir })
        const text = dir.trim()
        const refused = [text, path.normalize(text)].some(
          (d) => /(^|\s)#/.test(d) || d.includes('->') || d !== d.trim()
        )
        if (text === '') return
        if (refused) {
          expect(inputError(() => getInputs({})).code).toBe('input.badBackupDir')
          return
        }
        const backupDir = getInputs({}).backupDir
        expect(backupDir).toBe(text)
        for (const reported of reportedLocalLocations(backupDir, table)) expectRoundTrip(reported)
      }),
      { numRuns: 300 }
    )
  })
})

describe('inputs.ts: the tables limit', () => {
  const saved = { ...process.env }
  afterEach(() => {
    process.env = { ...saved }
  })
  const lines = (n: number): string =>
    Array.from({ length: n }, (_, i) => `table-${i} -> copy-${i}`).join('\n')

  it(`takes up to ${MAX_TABLE_PAIRS} pairs`, () => {
    expect(parseTablePairs(lines(MAX_TABLE_PAIRS), 'copy')).toHaveLength(MAX_TABLE_PAIRS)
  })

  it('refuses more pairs than the limit in getInputs, before any other input is checked', () => {
    for (const key of Object.keys(process.env))
      if (key.startsWith('INPUT_')) delete process.env[key]
    process.env.INPUT_MODE = 'copy'
    // Commas count too, and a bad line further down is not what is reported.
    process.env.INPUT_TABLES = `${lines(100)}\nx-1 -> y-1, x! -> y`
    process.env.INPUT_REGION = 'not a region'
    const error = inputError(() => getInputs({}))
    expect(error.code).toBe('input.tooManyTables')
    expect(error.message).toBe(
      "Input 'tables' lists 102 pairs; the limit is 100 a run. Split them over several steps or a matrix of jobs, each with at most 100 pairs."
    )
  })

  it('takes plan-for: restore in plan only, and copy (the default) everywhere', () => {
    expect(parsePlanFor('', 'plan')).toBe('copy')
    expect(parsePlanFor('copy', 'delete-source')).toBe('copy')
    expect(parsePlanFor(' Restore ', 'plan')).toBe('restore')
    expect(() => parsePlanFor('restore', 'copy')).toThrow(
      "Input 'plan-for: restore' is for mode 'plan' only (this run's mode is 'copy')"
    )
    expect(() => parsePlanFor('backup', 'plan')).toThrow("Input 'plan-for' is 'backup'; use 'copy'")
  })
})

/** What `call` printed to stdout (the runner's workflow commands). */
function captureStdout(call: () => void): string {
  let out = ''
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = (chunk: string | Uint8Array): boolean => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()
    return true
  }
  try {
    call()
  } finally {
    process.stdout.write = write
  }
  return out
}
