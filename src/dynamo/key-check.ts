import type { AttributeValue, TableDescription } from '@aws-sdk/client-dynamodb'
import type { Item } from '../types.js'
import { describeKey } from '../util/redact.js'

type KeyType = 'S' | 'N' | 'B'

export interface KeyRules {
  /** The primary key's attributes (every item must carry them) and their types. */
  primary: { name: string; type: KeyType }[]
  /** Index key attributes (optional on an item, but of this type when present). */
  indexKeys: { name: string; type: KeyType }[]
}

/** The key attributes a table's items must carry, from its key schema and definitions. */
export function keyRulesOf(description: TableDescription): KeyRules {
  const types = new Map<string, KeyType>()
  for (const d of description.AttributeDefinitions ?? []) {
    if (d.AttributeName && d.AttributeType) types.set(d.AttributeName, d.AttributeType)
  }
  const typed = (name: string) => ({ name, type: types.get(name) ?? 'S' })
  const primary = (description.KeySchema ?? []).flatMap((k) =>
    k.AttributeName ? [typed(k.AttributeName)] : []
  )
  const primaryNames = new Set(primary.map((k) => k.name))
  const indexNames = new Set<string>()
  for (const index of [
    ...(description.GlobalSecondaryIndexes ?? []),
    ...(description.LocalSecondaryIndexes ?? [])
  ]) {
    for (const k of index.KeySchema ?? []) {
      if (k.AttributeName && !primaryNames.has(k.AttributeName)) indexNames.add(k.AttributeName)
    }
  }
  return { primary, indexKeys: [...indexNames].map(typed) }
}

function typeOf(value: AttributeValue): string {
  return (
    Object.keys(value).find(
      (k) => (value as unknown as Record<string, unknown>)[k] !== undefined
    ) ?? '?'
  )
}

function isEmptyKeyValue(value: AttributeValue): boolean {
  return (
    (value.S !== undefined && value.S === '') || (value.B !== undefined && value.B.length === 0)
  )
}

/**
 * Why DynamoDB would reject this item as a put into a table with these keys, or undefined
 * when it would not: a missing primary key attribute, a key attribute of the wrong type, or
 * an empty string or binary in a key. Names attributes and types only, never values.
 */
export function keyProblem(item: Item, rules: KeyRules): string | undefined {
  for (const { name, type } of rules.primary) {
    const value = item[name]
    if (value === undefined) return `it has no key attribute '${name}'`
    if (typeOf(value) !== type)
      return `its key attribute '${name}' is of type ${typeOf(value)}, the table's is ${type}`
    if (isEmptyKeyValue(value)) return `its key attribute '${name}' is empty`
  }
  for (const { name, type } of rules.indexKeys) {
    const value = item[name]
    if (value === undefined) continue
    if (typeOf(value) !== type)
      return `its index key attribute '${name}' is of type ${typeOf(value)}, the index's is ${type}`
    if (isEmptyKeyValue(value)) return `its index key attribute '${name}' is empty`
  }
  return undefined
}

/** Counts the items a table would reject, keeping the first few as key descriptions. */
export class KeyChecker {
  rejected = 0
  readonly examples: string[] = []

  constructor(
    private readonly rules: KeyRules,
    private readonly exampleLimit = 5
  ) {}

  check(items: readonly Item[]): void {
    const keyNames = this.rules.primary.map((k) => k.name)
    for (const item of items) {
      const problem = keyProblem(item, this.rules)
      if (problem === undefined) continue
      this.rejected++
      if (this.examples.length < this.exampleLimit)
        this.examples.push(`${describeKey(item, keyNames)}: ${problem}`)
    }
  }
}
