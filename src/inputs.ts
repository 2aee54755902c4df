import * as core from '@actions/core'
import * as path from 'node:path'
import * as os from 'node:os'
import { InputError } from './errors.js'
import { MODES, type Mode, type S3Location, type TablePair } from './types.js'

/** Every input of action.yml, by the name the workflow uses (a test checks them against action.yml). */
export const INPUTS = {
  mode: 'mode',
  tables: 'tables',
  region: 'region',
  backupS3Uri: 'backup-s3-uri',
  backupArtifact: 'backup-artifact',
  backupDir: 'backup-dir',
  createTarget: 'create-target',
  allowNonEmptyTarget: 'allow-non-empty-target',
  approvalEnvironment: 'approval-environment',
  confirmDelete: 'confirm-delete',
  expectedAccountId: 'expected-account-id',
  githubToken: 'github-token',
  dynamodbEndpoint: 'dynamodb-endpoint',
  s3Endpoint: 's3-endpoint',
  scanSegments: 'scan-segments',
  writesInFlight: 'writes-in-flight',
  retryTimeoutSeconds: 'retry-timeout-seconds'
} as const

export const DEFAULTS = {
  scanSegments: 16,
  writesInFlight: 32,
  retryTimeoutSeconds: 600
} as const

export interface ActionInputs {
  mode: Mode
  pairs: TablePair[]
  region: string
  backupS3?: S3Location
  backupArtifact: boolean
  backupDir: string
  createTarget: boolean
  allowNonEmptyTarget: boolean
  approvalEnvironment: string
  confirmDelete: string[]
  expectedAccountId: string
  githubToken: string
  dynamodbEndpoint: string
  s3Endpoint: string
  scanSegments: number
  writesInFlight: number
  retryTimeoutMs: number
}

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/

export function parseMode(value: string): Mode {
  const mode = value.trim().toLowerCase()
  if (mode === '') {
    throw new InputError(
      'input.missingMode',
      `Input 'mode' is required: one of ${MODES.join(', ')}.`
    )
  }
  if (!(MODES as readonly string[]).includes(mode)) {
    throw new InputError(
      'input.unknownMode',
      `Unknown mode '${value.trim()}'. Use one of: ${MODES.join(', ')}.`
    )
  }
  return mode as Mode
}

export function validateTableName(name: string, where: string): void {
  if (!TABLE_NAME.test(name)) {
    throw new InputError(
      'input.badTableName',
      `${where}: '${name}' is not a valid DynamoDB table name (3-255 characters: letters, digits, '_', '-', '.').`
    )
  }
}

/**
 * Parses the `tables` input: one `SOURCE -> TARGET` pair a line, commas also separate,
 * blank lines and `#` comments ignored. In `backup` a bare SOURCE is allowed; in `restore`
 * the SOURCE is a backup location rather than a table name.
 */
export function parseTablePairs(text: string, mode: Mode): TablePair[] {
  const entries: { text: string; line: number }[] = []
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const withoutComment = rawLine.replace(/#.*$/, '')
    // A restore source may be a local path; commas only separate outside of it.
    const parts = mode === 'restore' ? [withoutComment] : withoutComment.split(',')
    for (const part of parts) {
      if (part.trim() !== '') entries.push({ text: part.trim(), line: index + 1 })
    }
  })
  if (entries.length === 0) {
    throw new InputError(
      'input.noTables',
      "Input 'tables' lists no table pairs. Write one 'SOURCE -> TARGET' pair a line, e.g. 'order-tracking-qa -> qa-order-tracking'."
    )
  }

  const pairs: TablePair[] = []
  const seen = new Map<string, number>()
  const remember = (name: string, line: number): void => {
    const before = seen.get(name)
    if (before !== undefined) {
      throw new InputError(
        'input.duplicateTable',
        `Input 'tables' line ${line}: table '${name}' already appears on line ${before}. Each table may appear in one pair only.`
      )
    }
    seen.set(name, line)
  }

  for (const entry of entries) {
    const where = `Input 'tables' line ${entry.line}`
    const sides = entry.text.split('->').map((side) => side.trim())
    let pair: TablePair
    if (sides.length === 1 && mode === 'backup') {
      pair = { source: sides[0] ?? '' }
    } else if (sides.length !== 2 || sides[0] === '' || sides[1] === '') {
      const expected =
        mode === 'backup'
          ? "'SOURCE -> TARGET' or a bare 'SOURCE'"
          : mode === 'restore'
            ? "'BACKUP -> TARGET'"
            : "'SOURCE -> TARGET'"
      throw new InputError(
        'input.malformedPair',
        `${where}: '${entry.text}' is not of the form ${expected}.`
      )
    } else {
      pair = { source: sides[0] ?? '', target: sides[1] ?? '' }
    }

    if (mode === 'restore') {
      validateBackupLocation(pair.source, where)
    } else {
      validateTableName(pair.source, where)
      remember(pair.source, entry.line)
    }
    if (pair.target !== undefined) {
      validateTableName(pair.target, where)
      if (pair.target === pair.source) {
        throw new InputError(
          'input.sameTable',
          `${where}: source and target are both '${pair.source}'. A table cannot be copied onto itself.`
        )
      }
      remember(pair.target, entry.line)
    }
    pairs.push(pair)
  }
  return pairs
}

function validateBackupLocation(location: string, where: string): void {
  if (location.startsWith('s3://')) {
    parseS3Uri(location, where)
  } else if (location.trim() === '') {
    throw new InputError('input.malformedPair', `${where}: the backup location is empty.`)
  }
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/** Parses `s3://bucket[/prefix]`. */
export function parseS3Uri(uri: string, where = "Input 'backup-s3-uri'"): S3Location {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri.trim())
  if (!match || !BUCKET.test(match[1] ?? '')) {
    throw new InputError(
      'input.badS3Uri',
      `${where}: '${uri}' is not an S3 location. Write it as s3://bucket or s3://bucket/prefix.`
    )
  }
  return { bucket: match[1] ?? '', prefix: (match[2] ?? '').replace(/^\/+|\/+$/g, '') }
}

export function parseBoolean(value: string, name: string, fallback: boolean): boolean {
  const text = value.trim()
  if (text === '') return fallback
  if (/^true$/i.test(text)) return true
  if (/^false$/i.test(text)) return false
  throw new InputError('input.badBoolean', `Input '${name}' must be true or false, not '${text}'.`)
}

export function parseInteger(
  value: string,
  name: string,
  fallback: number,
  min: number,
  max: number
): number {
  const text = value.trim()
  if (text === '') return fallback
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new InputError(
      'input.badNumber',
      `Input '${name}' must be a whole number from ${min} to ${max}, not '${text}'.`
    )
  }
  return Number(text)
}

/** `confirm-delete`: table names separated by newlines, commas or spaces. */
export function parseNameList(value: string): string[] {
  return value
    .replace(/#.*$/gm, '')
    .split(/[\s,]+/)
    .map((name) => name.trim())
    .filter((name) => name !== '')
}

export function resolveRegion(input: string, env: NodeJS.ProcessEnv): string {
  const region = input.trim() || env.AWS_REGION || env.AWS_DEFAULT_REGION || ''
  if (region === '') {
    throw new InputError(
      'input.noRegion',
      "No AWS region: set input 'region', or AWS_REGION (aws-actions/configure-aws-credentials sets it)."
    )
  }
  if (!/^[a-z]{2}(-[a-z0-9]+)+-\d+$/.test(region)) {
    throw new InputError(
      'input.badRegion',
      `'${region}' is not an AWS region name (e.g. eu-west-1).`
    )
  }
  return region
}

/** Reads and validates every input. The only caller of core.getInput. */
export function getInputs(env: NodeJS.ProcessEnv = process.env): ActionInputs {
  const read = (name: string): string => core.getInput(name)
  const mode = parseMode(read(INPUTS.mode))
  const pairs = parseTablePairs(read(INPUTS.tables), mode)
  const backupUri = read(INPUTS.backupS3Uri)
  const githubToken = read(INPUTS.githubToken)
  if (githubToken !== '') core.setSecret(githubToken)
  const inputs: ActionInputs = {
    mode,
    pairs,
    region: resolveRegion(read(INPUTS.region), env),
    backupArtifact: parseBoolean(read(INPUTS.backupArtifact), INPUTS.backupArtifact, false),
    backupDir:
      read(INPUTS.backupDir) || path.join(env.RUNNER_TEMP || os.tmpdir(), 'dynamodb-backups'),
    createTarget: parseBoolean(read(INPUTS.createTarget), INPUTS.createTarget, false),
    allowNonEmptyTarget: parseBoolean(
      read(INPUTS.allowNonEmptyTarget),
      INPUTS.allowNonEmptyTarget,
      false
    ),
    approvalEnvironment: read(INPUTS.approvalEnvironment),
    confirmDelete: parseNameList(read(INPUTS.confirmDelete)),
    expectedAccountId: read(INPUTS.expectedAccountId),
    githubToken,
    dynamodbEndpoint: read(INPUTS.dynamodbEndpoint),
    s3Endpoint: read(INPUTS.s3Endpoint),
    scanSegments: parseInteger(
      read(INPUTS.scanSegments),
      INPUTS.scanSegments,
      DEFAULTS.scanSegments,
      1,
      1000
    ),
    writesInFlight: parseInteger(
      read(INPUTS.writesInFlight),
      INPUTS.writesInFlight,
      DEFAULTS.writesInFlight,
      1,
      256
    ),
    retryTimeoutMs:
      parseInteger(
        read(INPUTS.retryTimeoutSeconds),
        INPUTS.retryTimeoutSeconds,
        DEFAULTS.retryTimeoutSeconds,
        1,
        21_600
      ) * 1000
  }
  if (backupUri !== '') inputs.backupS3 = parseS3Uri(backupUri)
  if (inputs.expectedAccountId !== '' && !/^\d{12}$/.test(inputs.expectedAccountId)) {
    throw new InputError(
      'input.badAccountId',
      `Input 'expected-account-id' must be a 12-digit AWS account id, not '${inputs.expectedAccountId}'.`
    )
  }
  for (const endpoint of [INPUTS.dynamodbEndpoint, INPUTS.s3Endpoint] as const) {
    const value = read(endpoint)
    if (value !== '' && !/^https?:\/\/[^\s]+$/.test(value)) {
      throw new InputError(
        'input.badEndpoint',
        `Input '${endpoint}' must be an http(s) URL, not '${value}'.`
      )
    }
  }
  return inputs
}
