import * as core from '@actions/core'
import * as path from 'node:path'
import * as os from 'node:os'
import { InputError } from './errors.js'
import type { CapSettings, UnitsCap } from './engine/caps.js'
import { MODES, type Mode, type S3Location, type TablePair } from './types.js'

/** Every input of action.yml, by the name the workflow uses (a test checks them against action.yml). */
export const INPUTS = {
  mode: 'mode',
  planFor: 'plan-for',
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
  totalSegments: 'total-segments',
  /** Deprecated alias of total-segments: still read, with a warning. */
  scanSegments: 'scan-segments',
  writesInFlight: 'writes-in-flight',
  retryTimeoutSeconds: 'retry-timeout-seconds',
  maxReadUnits: 'max-read-units',
  maxWriteUnits: 'max-write-units',
  maxItemsPerSecond: 'max-items-per-second',
  resume: 'resume',
  checkpointSeconds: 'checkpoint-seconds',
  roleToAssume: 'role-to-assume',
  roleDurationSeconds: 'role-duration-seconds'
} as const

export const DEFAULTS = {
  totalSegments: 16,
  writesInFlight: 32,
  retryTimeoutSeconds: 600
} as const

/** What `plan` plans: a copy (table pairs) or a restore (backup locations into tables). */
export type PlanFor = 'copy' | 'restore'

export interface ActionInputs {
  mode: Mode
  /** plan only: which mode's checks it runs. */
  planFor: PlanFor
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
  totalSegments: number
  writesInFlight: number
  retryTimeoutMs: number
  /** Rate caps per table (`max-read-units`, `max-write-units`, `max-items-per-second`). */
  caps: CapSettings
  /** Go on from the checkpoint an earlier attempt of this run left (copy). */
  resume: boolean
  /** How often a copy checkpoints (its backup cuts a data file as often). */
  checkpointMs: number
  /** A role the action assumes itself from GitHub's OIDC token, refreshing its credentials. */
  role?: { arn: string; durationSeconds: number }
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
 * The most pairs one run takes. Each pair costs several describe calls and checks before
 * the first write, a full scan (twice with verification) and a section of the job summary,
 * and all of it must fit in one job (at most 6 hours on GitHub-hosted runners) behind one
 * approval; more tables belong in several steps or a matrix.
 */
export const MAX_TABLE_PAIRS = 100

/**
 * The one comment rule of every input the action reads line by line (`tables`,
 * `confirm-delete`), YAML's own: a `#` starts a comment when it begins the line or follows a
 * space or tab. A `#` inside a word is text, so `s3://bucket/pre#fix` is a location.
 * Returns the index of the comment's `#`, or -1.
 */
export function commentStart(line: string): number {
  const match = /(^|\s)#/.exec(line)
  return match ? match.index + (match[1] ?? '').length : -1
}

/** The line without its comment (see commentStart). */
export function stripComment(line: string): string {
  const at = commentStart(line)
  return at === -1 ? line : line.slice(0, at)
}

// C0 and C1 controls (line breaks, tabs) and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/

/**
 * Why a backup location (an S3 URI or a local folder) could not be written on a `restore`
 * line of the `tables` input and read back as itself, or undefined when it can.
 */
export function locationProblem(location: string): string | undefined {
  if (CONTROL.test(location)) return 'it contains a line break, tab or other control character'
  if (location !== location.trim()) return 'it starts or ends with a space'
  if (commentStart(location) !== -1) {
    return "it has a '#' at its start or after a space, which starts a comment in the 'tables' input (a '#' inside a word, as in 'pre#fix', is fine)"
  }
  if (location.includes('->')) return "it contains '->', which separates SOURCE from TARGET"
  return undefined
}

/**
 * Parses the `tables` input: one `SOURCE -> TARGET` pair a line, commas also separate,
 * blank lines and comments (see commentStart) ignored. In `backup` a bare SOURCE is allowed;
 * in `restore` the SOURCE is a backup location rather than a table name. More than
 * MAX_TABLE_PAIRS pairs are refused before any line is checked.
 */
export function parseTablePairs(text: string, mode: Mode): TablePair[] {
  const entries: { text: string; line: number; comment: boolean }[] = []
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const withoutComment = stripComment(rawLine)
    const comment = withoutComment.length !== rawLine.length
    // A restore source may be a local path; commas only separate outside of it.
    const parts = mode === 'restore' ? [withoutComment] : withoutComment.split(',')
    for (const part of parts) {
      if (part.trim() !== '') entries.push({ text: part.trim(), line: index + 1, comment })
    }
  })
  if (entries.length === 0) {
    throw new InputError(
      'input.noTables',
      "Input 'tables' lists no table pairs. Write one 'SOURCE -> TARGET' pair a line, e.g. 'order-tracking-qa -> qa-order-tracking'."
    )
  }
  if (entries.length > MAX_TABLE_PAIRS) {
    throw new InputError(
      'input.tooManyTables',
      `Input 'tables' lists ${entries.length} pairs; the limit is ${MAX_TABLE_PAIRS} a run. Split them over several steps or a matrix of jobs, each with at most ${MAX_TABLE_PAIRS} pairs.`
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
      const hint = entry.comment
        ? " (a '#' at the start of a line or after a space starts a comment, so the rest of the line was ignored)"
        : ''
      throw new InputError(
        'input.malformedPair',
        `${where}: '${entry.text}' is not of the form ${expected}${hint}.`
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

/** S3's bucket naming rules (general purpose buckets): 3-63 of a-z 0-9 . -, no '..'. */
const BUCKET = /^(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/**
 * Parses `s3://bucket[/prefix]`. The prefix may hold any character a restore line can carry
 * back (see locationProblem), including '#' inside a word and spaces inside it; '.' and '..'
 * folders are refused because tools and URL handling collapse them.
 */
export function parseS3Uri(uri: string, where = `Input '${INPUTS.backupS3Uri}'`): S3Location {
  const text = uri.trim()
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/s.exec(text)
  if (!match || !BUCKET.test(match[1] ?? '')) {
    throw new InputError(
      'input.badS3Uri',
      `${where}: '${uri}' is not an S3 location. Write it as s3://bucket or s3://bucket/prefix (bucket: 3-63 lowercase letters, digits, '.' and '-').`
    )
  }
  const problem = locationProblem(text)
  if (problem !== undefined) {
    throw new InputError('input.badS3Uri', `${where}: '${uri}' cannot be used: ${problem}.`)
  }
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '')
  if (prefix.includes('\\')) {
    // Tools disagree on what a backslash in a key means (a folder separator to some), and a
    // backup's manifests name keys below the prefix: one grammar refuses it everywhere.
    throw new InputError(
      'input.badS3Uri',
      `${where}: '${uri}' cannot be used: it has a backslash, which tools read differently (some as a folder separator). Use '/' or another character.`
    )
  }
  if (prefix.split('/').some((part) => part === '.' || part === '..')) {
    throw new InputError(
      'input.badS3Uri',
      `${where}: '${uri}' cannot be used: it has a '.' or '..' folder, which many tools collapse, so the keys would not be where they seem.`
    )
  }
  return { bucket: match[1] ?? '', prefix }
}

/** S3 keys are at most 1,024 bytes; below the prefix go the table name (up to 255), the run label and the export layout. */
export const MAX_S3_PREFIX_BYTES = 512

/** `backup-s3-uri`: an S3 location whose backups' locations a restore line can name. */
export function parseBackupS3Uri(value: string): S3Location {
  const location = parseS3Uri(value)
  const bytes = Buffer.byteLength(location.prefix, 'utf8')
  if (bytes > MAX_S3_PREFIX_BYTES) {
    throw new InputError(
      'input.badS3Uri',
      `Input '${INPUTS.backupS3Uri}': the prefix is ${bytes} bytes long; at most ${MAX_S3_PREFIX_BYTES} are allowed, because S3 keys are at most 1,024 bytes and the table name, run label and export files go below it.`
    )
  }
  return location
}

/** `backup-dir`, or its default: a folder whose backups' paths a restore line can name. */
export function resolveBackupDir(value: string, env: NodeJS.ProcessEnv): string {
  const dir = value || path.join(env.RUNNER_TEMP || os.tmpdir(), 'dynamodb-backups')
  // Backups are reported under path.join(dir, …), which drops './' and collapses '..'.
  const problem = locationProblem(dir) ?? locationProblem(path.normalize(dir))
  if (problem !== undefined) {
    const what = value
      ? `Input '${INPUTS.backupDir}'`
      : `The default backup folder (from RUNNER_TEMP; set '${INPUTS.backupDir}' instead)`
    throw new InputError('input.badBackupDir', `${what}: '${dir}' cannot be used: ${problem}.`)
  }
  return dir
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

/** The most capacity units a second a cap may name: DynamoDB's own per-table maximum is 40,000 by default. */
const MAX_CAP = 1_000_000

/**
 * `max-read-units` / `max-write-units`: capacity units a second (`100`, `2.5`), or a share of
 * the table's provisioned capacity (`50%`); empty for no cap.
 */
export function parseUnitsCap(value: string, name: string): UnitsCap | undefined {
  const text = value.trim()
  if (text === '') return undefined
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(text)
  const number = match ? Number(match[1]) : NaN
  if (match?.[2] === '%') {
    if (number > 0 && number <= 100) return { percent: number }
  } else if (number > 0 && number <= MAX_CAP) return { units: number }
  throw new InputError(
    'input.badCap',
    `Input '${name}' must be capacity units a second (a number above 0, e.g. 100) or a share of the table's provisioned capacity (e.g. 50%, at most 100%), not '${text}'.`
  )
}

/**
 * `total-segments`, or its deprecated alias `scan-segments` (which warns). The runner passes
 * `total-segments`' default when the step leaves it out, so the alias wins over the default;
 * given both, with different values other than the default, the run is refused rather than
 * guessing which one was meant.
 */
export function parseTotalSegments(total: string, alias: string): number {
  const parse = (value: string, name: string): number =>
    parseInteger(value, name, DEFAULTS.totalSegments, 1, 1000)
  const totalSegments = parse(total, INPUTS.totalSegments)
  if (alias.trim() === '') return totalSegments
  const aliasSegments = parse(alias, INPUTS.scanSegments)
  if (
    total.trim() !== '' &&
    totalSegments !== DEFAULTS.totalSegments &&
    totalSegments !== aliasSegments
  ) {
    throw new InputError(
      'input.conflictingSegments',
      `Inputs 'total-segments' (${totalSegments}) and 'scan-segments' (${aliasSegments}) disagree. 'scan-segments' is the old name of 'total-segments': set only 'total-segments'.`
    )
  }
  core.warning(
    `Input 'scan-segments' is deprecated: it is now called 'total-segments' (the next releases split a table by segments across runners). Rename it in the workflow; this run uses ${aliasSegments}.`
  )
  return aliasSegments
}

/**
 * `confirm-delete`: table names separated by newlines, commas or spaces; comments as in
 * `tables` (see commentStart). Every name must be a valid table name.
 */
export function parseNameList(value: string): string[] {
  const names = value
    .split(/\r?\n/)
    .map(stripComment)
    .join('\n')
    .split(/[\s,]+/)
    .map((name) => name.trim())
    .filter((name) => name !== '')
  for (const name of names) validateTableName(name, `Input '${INPUTS.confirmDelete}'`)
  return names
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

/** `plan-for`: copy (the default) or restore; only plan takes it. */
export function parsePlanFor(value: string, mode: Mode): PlanFor {
  const planFor = value.trim().toLowerCase()
  // 'copy' is the default the runner passes to every mode.
  if (planFor === '' || planFor === 'copy') return 'copy'
  if (mode !== 'plan' && planFor === 'restore') {
    throw new InputError(
      'input.planForWithoutPlan',
      `Input 'plan-for: restore' is for mode 'plan' only (this run's mode is '${mode}'); remove it, or set 'mode: plan'.`
    )
  }
  if (planFor !== 'restore') {
    throw new InputError(
      'input.badPlanFor',
      `Input 'plan-for' is '${value.trim()}'; use 'copy' (plan a copy of table pairs) or 'restore' (plan a restore of 'BACKUP -> TARGET' lines).`
    )
  }
  return 'restore'
}

/** Reads and validates every input. The only caller of core.getInput. */
export function getInputs(env: NodeJS.ProcessEnv = process.env): ActionInputs {
  const read = (name: string): string => core.getInput(name)
  const mode = parseMode(read(INPUTS.mode))
  const planFor = parsePlanFor(read(INPUTS.planFor), mode)
  // plan-for: restore reads the lines as restore does (a backup location, then a table).
  const pairs = parseTablePairs(read(INPUTS.tables), planFor === 'restore' ? 'restore' : mode)
  const backupUri = read(INPUTS.backupS3Uri)
  const githubToken = read(INPUTS.githubToken)
  if (githubToken !== '') core.setSecret(githubToken)
  const inputs: ActionInputs = {
    mode,
    planFor,
    pairs,
    region: resolveRegion(read(INPUTS.region), env),
    backupArtifact: parseBoolean(read(INPUTS.backupArtifact), INPUTS.backupArtifact, false),
    backupDir: resolveBackupDir(read(INPUTS.backupDir), env),
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
    totalSegments: parseTotalSegments(read(INPUTS.totalSegments), read(INPUTS.scanSegments)),
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
      ) * 1000,
    caps: {},
    resume: parseBoolean(read(INPUTS.resume), INPUTS.resume, false),
    checkpointMs:
      parseInteger(read(INPUTS.checkpointSeconds), INPUTS.checkpointSeconds, 30, 1, 30) * 1000
  }
  const readUnits = parseUnitsCap(read(INPUTS.maxReadUnits), INPUTS.maxReadUnits)
  const writeUnits = parseUnitsCap(read(INPUTS.maxWriteUnits), INPUTS.maxWriteUnits)
  const itemsPerSecond = parseInteger(
    read(INPUTS.maxItemsPerSecond),
    INPUTS.maxItemsPerSecond,
    0,
    1,
    MAX_CAP
  )
  if (readUnits) inputs.caps.readUnits = readUnits
  if (writeUnits) inputs.caps.writeUnits = writeUnits
  if (itemsPerSecond > 0) inputs.caps.itemsPerSecond = itemsPerSecond
  const roleArn = read(INPUTS.roleToAssume).trim()
  const roleDuration = parseInteger(
    read(INPUTS.roleDurationSeconds),
    INPUTS.roleDurationSeconds,
    3600,
    1,
    43_200
  )
  if (roleArn !== '') {
    if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/.test(roleArn)) {
      throw new InputError(
        'input.badRole',
        `Input 'role-to-assume' must be an IAM role ARN such as arn:aws:iam::123456789012:role/dynamodb-table-mover, not '${roleArn}'.`
      )
    }
    inputs.role = { arn: roleArn, durationSeconds: roleDuration }
  }
  if (backupUri !== '') inputs.backupS3 = parseBackupS3Uri(backupUri)
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
