import type { Item } from '../types.js'
import { itemHash, keyText } from '../verify/digest.js'
import type { ScanAnswer } from './scan-answer.js'

const sameAttributes = (a: readonly string[], b: readonly string[]): boolean =>
  a === b || (a.length === b.length && a.every((name, i) => name === b[i]))

/**
 * One page of items as the engine hands it to its consumers. Each item is there in whichever
 * forms its source gave (the parsed item, the wire's JSON text, its content hash, its key
 * text) and the others are made once, on first use, and shared: a Scan answer read by
 * `readScanAnswer` gives text, hash and key text, and a page that is only backed up, written
 * and digested never builds its items at all; a backup reader gives parsed items, whose text
 * is made once for both the backup and the target.
 */
export class PageItems {
  private constructor(
    readonly length: number,
    private readonly items: (Item | undefined)[],
    private readonly texts: (string | undefined)[],
    private readonly hashes: (Buffer | undefined)[],
    private readonly keys?: { attributes: readonly string[]; texts: readonly string[] }
  ) {}

  /** Parsed items (their texts are made from them when asked for). */
  static of(items: readonly Item[]): PageItems {
    return new PageItems(items.length, items.slice(), [], [])
  }

  /** A Scan answer read from the wire's text: texts, hashes and (if asked) key texts. */
  static fromAnswer(answer: ScanAnswer, keyAttributes?: readonly string[]): PageItems {
    const keys =
      keyAttributes && answer.keyTexts
        ? { attributes: keyAttributes, texts: answer.keyTexts }
        : undefined
    return new PageItems(answer.texts.length, [], answer.texts, answer.hashes, keys)
  }

  /** The item, parsed from its text if the page has only that (the text carries it whole). */
  item(i: number): Item {
    let item = this.items[i]
    if (item === undefined) {
      item = JSON.parse(this.texts[i] as string) as Item
      this.items[i] = item
    }
    return item
  }

  /** The item's JSON text: the wire's own, or JSON.stringify of the item (own names only). */
  text(i: number): string {
    let text = this.texts[i]
    if (text === undefined) {
      text = JSON.stringify(this.items[i])
      this.texts[i] = text
    }
    return text
  }

  /** SHA-256 of the item's canonical text (`itemHash`). */
  hash(i: number): Buffer {
    let hash = this.hashes[i]
    if (hash === undefined) {
      hash = itemHash(this.item(i))
      this.hashes[i] = hash
    }
    return hash
  }

  /** The item's key text (`keyText`) for these key attributes. */
  keyText(i: number, keyAttributes: readonly string[]): string {
    const keys = this.keys
    if (keys && sameAttributes(keys.attributes, keyAttributes)) return keys.texts[i] as string
    return keyText(this.item(i), keyAttributes)
  }

  /** Every item, parsed. */
  all(): Item[] {
    return Array.from({ length: this.length }, (_, i) => this.item(i))
  }
}
