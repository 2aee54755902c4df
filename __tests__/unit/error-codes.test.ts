import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { ERROR_CODES } from '../../src/error-codes.js'

/** Every .ts file below src/. */
function sources(dir = 'src'): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    return statSync(full).isDirectory() ? sources(full) : full.endsWith('.ts') ? [full] : []
  })
}

describe('error-codes.ts', () => {
  it('names every code as area.problem with a meaning', () => {
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[a-z][a-zA-Z]*\.[a-z][a-zA-Z0-9]*$/)
      expect(meaning.length).toBeGreaterThan(5)
    }
  })

  it('lists no code that the action cannot raise', () => {
    const text = sources()
      .filter((file) => !file.endsWith('error-codes.ts'))
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n')
    // Codes built from a template: `${kind}.gaveUp` (write, lookup), `preflight.missing${role}`.
    const dynamic = new Set([
      'write.rejected',
      'write.gaveUp',
      'lookup.rejected',
      'lookup.gaveUp',
      'preflight.missingSource',
      'preflight.missingTarget'
    ])
    const unused = Object.keys(ERROR_CODES).filter(
      (code) => !dynamic.has(code) && !text.includes(`'${code}'`)
    )
    expect(unused).toEqual([])
    expect(text).toContain('`${kind}.rejected`')
    expect(text).toContain('`preflight.missing${role}`')
  })
})
