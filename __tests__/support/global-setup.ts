// Jest global setup (root level, runs once per `jest` run in the main process).
//
// Starts DynamoDB Local and moto once for the whole run, but only when the run includes the
// `integration` or `e2e` projects; a unit-only run (`npm run test:unit`) starts nothing.
// The endpoints reach the test workers through process.env (workers are forked after this
// function returns and inherit it): DDB_LOCAL_ENDPOINT and MOTO_ENDPOINT.
//
// Overrides:
//   DDB_LOCAL_ENDPOINT / MOTO_ENDPOINT already set  -> reuse them, start nothing for that one
//   TEST_EMULATORS=off                              -> never start emulators
//   TEST_EMULATORS=on                               -> always start them (even for unit runs)
import { readdirSync } from 'node:fs'
import path from 'node:path'
import type { Config } from '@jest/types'

/** Projects (jest displayName) whose tests need the emulators. */
export const EMULATOR_PROJECTS: readonly string[] = ['integration', 'e2e']

/** Where global-setup leaves the running emulators for global-teardown (same process). */
export const EMULATOR_STATE_KEY = Symbol.for('dynamodb-table-mover.test-emulators')

export interface RunningEmulator {
  endpoint: string
  port: number
  pid: number
  stop(): Promise<void>
}

export interface EmulatorState {
  started: RunningEmulator[]
  /** Environment variables this setup set, so that teardown can remove them again. */
  setVariables: string[]
}

interface EmulatorsModule {
  startDynamoDbLocal(options?: { port?: number; timeoutMs?: number }): Promise<RunningEmulator>
  startMoto(options?: { port?: number; timeoutMs?: number }): Promise<RunningEmulator>
}

export interface EmulatorDecision {
  start: boolean
  reason: string
}

/**
 * Values of a jest CLI option in argv, in both `--opt a b` and `--opt=a` forms.
 * Returns undefined when the option is absent.
 */
export function readArrayOption(argv: readonly string[], name: string): string[] | undefined {
  let values: string[] | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    if (arg === `--${name}`) {
      values ??= []
      for (let j = i + 1; j < argv.length; j++) {
        const value = argv[j] ?? ''
        if (value.startsWith('-')) break
        values.push(value)
        i = j
      }
    } else if (arg.startsWith(`--${name}=`)) {
      values ??= []
      values.push(arg.slice(name.length + 3))
    }
  }
  return values
}

function listTestFiles(dir: string): string[] {
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  return entries.flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return listTestFiles(full)
    return entry.isFile() && entry.name.endsWith('.test.ts') ? [full] : []
  })
}

/**
 * Does this jest run include tests of the integration or e2e projects?
 *
 * Jest passes no list of selected projects to a root-level globalSetup, so this reads, in order:
 * TEST_EMULATORS; the project of the first scheduled test (jest passes its config as
 * `projectConfig`); `--selectProjects`/`--ignoreProjects` from the command line; and the
 * positional test path patterns, matched against the files under __tests__/integration and
 * __tests__/e2e. When in doubt it answers "start".
 */
export function decideEmulators(
  globalConfig: Pick<Config.GlobalConfig, 'rootDir' | 'testPathPatterns'>,
  projectConfig: Pick<Config.ProjectConfig, 'displayName'> | undefined,
  argv: readonly string[] = process.argv,
  env: NodeJS.ProcessEnv = process.env
): EmulatorDecision {
  const override = (env.TEST_EMULATORS ?? '').trim().toLowerCase()
  if (['off', '0', 'false', 'no'].includes(override)) {
    return { start: false, reason: 'TEST_EMULATORS=off' }
  }
  if (['on', '1', 'true', 'yes'].includes(override)) {
    return { start: true, reason: 'TEST_EMULATORS=on' }
  }

  const firstProject = projectConfig?.displayName?.name
  if (firstProject !== undefined && EMULATOR_PROJECTS.includes(firstProject)) {
    return { start: true, reason: `the run includes ${firstProject} tests` }
  }

  const selected = readArrayOption(argv, 'selectProjects')
  const ignored = readArrayOption(argv, 'ignoreProjects') ?? []
  const wanted = EMULATOR_PROJECTS.filter(
    (name) => (selected === undefined || selected.includes(name)) && !ignored.includes(name)
  )
  if (wanted.length === 0) {
    return { start: false, reason: 'no integration or e2e project selected' }
  }

  const patterns = globalConfig.testPathPatterns
  if (patterns?.isSet?.() === true) {
    const executor = patterns.toExecutor({ rootDir: globalConfig.rootDir })
    const candidates = wanted.flatMap((name) =>
      listTestFiles(path.join(globalConfig.rootDir, '__tests__', name))
    )
    let matches = true
    try {
      matches = candidates.some((file) => executor.isMatch(file))
    } catch {
      matches = true // an invalid pattern: jest reports it; do not guess here
    }
    if (!matches) {
      return { start: false, reason: 'the test path patterns match no integration or e2e test' }
    }
  }
  return { start: true, reason: `the run may include ${wanted.join('/')} tests` }
}

async function loadEmulators(rootDir: string): Promise<EmulatorsModule> {
  // An absolute path (not a file:// URL) works whether ts-jest leaves import() as is or turns it
  // into require() (Node >= 20.19 can require an ES module without top-level await).
  const modulePath = path.join(rootDir, 'scripts', 'emulators.mjs')
  const loaded: EmulatorsModule = await import(modulePath)
  return loaded
}

export default async function globalSetup(
  globalConfig: Config.GlobalConfig,
  projectConfig: Config.ProjectConfig | undefined
): Promise<void> {
  const decision = decideEmulators(globalConfig, projectConfig)
  if (!decision.start) return

  const needDdb = !process.env.DDB_LOCAL_ENDPOINT
  const needMoto = !process.env.MOTO_ENDPOINT
  if (!needDdb && !needMoto) return

  const startedAt = Date.now()
  const { startDynamoDbLocal, startMoto } = await loadEmulators(globalConfig.rootDir)
  const [ddb, moto] = await Promise.allSettled([
    needDdb ? startDynamoDbLocal() : Promise.resolve(undefined),
    needMoto ? startMoto() : Promise.resolve(undefined)
  ])
  const state: EmulatorState = { started: [], setVariables: [] }
  for (const result of [ddb, moto]) {
    if (result.status === 'fulfilled' && result.value) state.started.push(result.value)
  }
  if (ddb.status === 'rejected' || moto.status === 'rejected') {
    await Promise.all(state.started.map((emulator) => emulator.stop()))
    const reasons = [ddb, moto]
      .filter((result): result is PromiseRejectedResult => result.status === 'rejected')
      .map((result) =>
        result.reason instanceof Error ? result.reason.message : String(result.reason)
      )
    throw new Error(
      `Could not start the emulators that the integration/e2e tests need (${decision.reason}).\n` +
        `${reasons.join('\n')}\n` +
        'Run only the unit tests with `npm run test:unit`, or start the emulators yourself ' +
        '(`node scripts/emulators.mjs start`) and export DDB_LOCAL_ENDPOINT and MOTO_ENDPOINT.'
    )
  }
  if (ddb.status === 'fulfilled' && ddb.value) {
    process.env.DDB_LOCAL_ENDPOINT = ddb.value.endpoint
    state.setVariables.push('DDB_LOCAL_ENDPOINT')
  }
  if (moto.status === 'fulfilled' && moto.value) {
    process.env.MOTO_ENDPOINT = moto.value.endpoint
    state.setVariables.push('MOTO_ENDPOINT')
  }
  ;(globalThis as Record<symbol, unknown>)[EMULATOR_STATE_KEY] = state
  process.stderr.write(
    `\nEmulators up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s: ` +
      `DDB_LOCAL_ENDPOINT=${process.env.DDB_LOCAL_ENDPOINT ?? ''} ` +
      `MOTO_ENDPOINT=${process.env.MOTO_ENDPOINT ?? ''}\n`
  )
}
