/**
 * An independent count of what a piece of JSON text carries, for proofs that must not share
 * the step they prove: JSON.parse keeps one of two equal names in an object, and code that
 * copies a parsed object by assignment loses a name such as `__proto__`. Counting the object
 * keys in the text itself and in the parsed value, and requiring the two to be equal, shows
 * that nothing was merged or dropped on the way from the wire.
 */

const BACKSLASH = 0x5c
const COLON = 0x3a

/**
 * The number of object keys (names followed by `:`) anywhere in JSON text, found by a linear
 * scan of the characters, without parsing. Inside a string a quote is always escaped, so
 * every unescaped quote opens or closes a string, and a string followed by a colon is a key.
 */
export function countJsonKeys(text: string): number {
  let keys = 0
  const length = text.length
  let i = 0
  while (i < length) {
    const at = text.indexOf('"', i)
    if (at < 0) break
    // Find the closing quote: the next quote not preceded by an odd run of backslashes.
    let end = at + 1
    for (;;) {
      end = text.indexOf('"', end)
      if (end < 0) return keys
      let slashes = 0
      for (let j = end - 1; text.charCodeAt(j) === BACKSLASH; j--) slashes++
      if (slashes % 2 === 0) break
      end++
    }
    let next = end + 1
    let code = text.charCodeAt(next)
    while (code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09)
      code = text.charCodeAt(++next)
    if (code === COLON) keys++
    i = end + 1
  }
  return keys
}

/** The number of own keys of every object inside a parsed JSON value (arrays walked too). */
export function countParsedKeys(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0
  let keys = 0
  if (Array.isArray(value)) {
    for (const element of value as unknown[]) keys += countParsedKeys(element)
    return keys
  }
  for (const name of Object.keys(value)) {
    keys++
    keys += countParsedKeys((value as Record<string, unknown>)[name])
  }
  return keys
}
