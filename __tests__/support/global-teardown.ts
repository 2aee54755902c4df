// Jest global teardown: stops what global-setup started (nothing when it reused endpoints given
// by the caller or skipped the emulators) and removes the variables it set.
//
// Jest loads this file with plain require() (through ts-jest), outside its module resolver, so
// it imports nothing at run time from global-setup.ts: the state key is a registered Symbol.
import type { EmulatorState } from './global-setup.js'

const EMULATOR_STATE_KEY = Symbol.for('dynamodb-table-mover.test-emulators')

export default async function globalTeardown(): Promise<void> {
  const registry = globalThis as Record<symbol, unknown>
  const state = registry[EMULATOR_STATE_KEY] as EmulatorState | undefined
  if (!state) return
  delete registry[EMULATOR_STATE_KEY]
  await Promise.all(state.started.map((emulator) => emulator.stop()))
  for (const name of state.setVariables) delete process.env[name]
}
