import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import {
  INPUTS,
  getInputs,
  parseBoolean,
  parseMode,
  parseNameList,
  parseS3Uri,
  parseTablePairs,
  resolveRegion
} from '../../src/inputs.js'
import { InputError } from '../../src/errors.js'

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
      'scan-segments': '4',
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
      scanSegments: 4,
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
    setInputs({ 'expected-account-id': '', 'scan-segments': '0' })
    expect(() => getInputs({})).toThrow(
      "Input 'scan-segments' must be a whole number from 1 to 1000, not '0'."
    )
  })
})
