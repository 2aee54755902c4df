import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import type { Item } from '../types.js'

const MAX_KEY_PART = 120

function describeKeyValue(value: AttributeValue | undefined): string {
  if (value === undefined) return '?'
  if (value.S !== undefined) return JSON.stringify(truncate(value.S))
  if (value.N !== undefined) return value.N
  if (value.B !== undefined) return `b64:${truncate(Buffer.from(value.B).toString('base64'))}`
  return '?'
}

function truncate(text: string): string {
  return text.length > MAX_KEY_PART ? `${text.slice(0, MAX_KEY_PART)}…` : text
}

/**
 * Renders only an item's key attributes (`pk="a", sk=3`). This is the only way item content
 * may reach logs, errors, the summary or outputs: attribute values never do.
 */
export function describeKey(item: Item, keyAttributes: readonly string[]): string {
  return keyAttributes.map((name) => `${name}=${describeKeyValue(item[name])}`).join(', ')
}

/** The key attributes of an item, as a new map (for BatchGetItem and DeleteRequest). */
export function extractKey(item: Item, keyAttributes: readonly string[]): Item {
  // fromEntries, not assignment: a key attribute may be named `__proto__`.
  return Object.fromEntries<AttributeValue>(
    keyAttributes.flatMap((name) => {
      const value = Object.hasOwn(item, name) ? item[name] : undefined
      return value === undefined ? [] : [[name, value] as const]
    })
  )
}
