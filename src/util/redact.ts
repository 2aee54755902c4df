import type { Item, WireValue } from '../types.js'

const MAX_KEY_PART = 120

function describeKeyValue(value: WireValue | undefined): string {
  if (value === undefined) return '?'
  if ('S' in value && typeof value.S === 'string') return JSON.stringify(truncate(value.S))
  if ('N' in value && typeof value.N === 'string') return truncate(value.N)
  if ('B' in value && typeof value.B === 'string') return `b64:${truncate(value.B)}`
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
  return keyAttributes
    .map(
      (name) => `${name}=${describeKeyValue(Object.hasOwn(item, name) ? item[name] : undefined)}`
    )
    .join(', ')
}

/** The key attributes of an item, as a new map (for BatchGetItem and DeleteRequest). */
export function extractKey(item: Item, keyAttributes: readonly string[]): Item {
  // fromEntries, not assignment: a key attribute may be named `__proto__`.
  return Object.fromEntries<WireValue>(
    keyAttributes.flatMap((name) => {
      const value = Object.hasOwn(item, name) ? item[name] : undefined
      return value === undefined ? [] : [[name, value] as const]
    })
  )
}
