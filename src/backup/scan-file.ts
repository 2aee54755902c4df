/**
 * Splits the JSON that `aws dynamodb scan --output json` writes (one object: `Items`,
 * `Count`, `ScannedCount`, maybe `NextToken`, `LastEvaluatedKey`, `ConsumedCapacity`; often
 * pretty-printed, possibly huge) without building it: a linear, character-level state machine
 * that tracks depth, strings and escapes, finds the top-level `Items` array and hands on each
 * element's text, to be parsed (and checked) one at a time.
 *
 * What it hands on is the element's text with the whitespace between tokens dropped (a space
 * is kept where two tokens would otherwise run together), so a pretty-printed item is held in
 * the same compact form as a line of an export, and the same cap applies to it. Strings are
 * copied as they are. The grammar of the top level is checked here (one object, members
 * separated by commas, nothing after it); each element and member value is checked by
 * JSON.parse afterwards. Messages name a line and a member or element, never the text.
 */
import { MAX_ITEM_LINE_BYTES } from './lines.js'
import { formatBytes } from './safe-text.js'

/**
 * The longest element of `Items`, in characters of its compact text: the cap of a line of an
 * export (a character of text is at least one byte of UTF-8, so this is no looser).
 */
export const MAX_SCAN_ELEMENT_CHARS = MAX_ITEM_LINE_BYTES

/**
 * The longest value of a top-level member other than `Items`, in characters of its compact
 * text: `Count` and `ScannedCount` are numbers, `LastEvaluatedKey` a key (a few KB at most),
 * `ConsumedCapacity` a small object even with many indexes. A longer one is not a scan's.
 */
export const MAX_SCAN_MEMBER_CHARS = 64 * 1024

/** A scan's output has at most six top-level members; more than this is not a scan. */
export const MAX_SCAN_MEMBERS = 64

/** Longest top-level member name read (escapes included); a longer one is kept unnamed. */
const MAX_NAME_CHARS = 256

/** Member names that may be quoted in messages. */
const KNOWN_MEMBERS = new Set([
  'Items',
  'Count',
  'ScannedCount',
  'NextToken',
  'LastEvaluatedKey',
  'ConsumedCapacity'
])

/** The file is not the JSON of a scan. The message names a line, never the text. */
export class ScanFileSyntaxError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ScanFileSyntaxError'
  }
}

/** A value read from the top level: an element of `Items` or a member's value, as compact text. */
export interface ScanElement {
  text: string
  /** The element's 0-based index in `Items`. */
  index: number
  /** The line its text starts on (1-based). */
  line: number
}

export interface ScanMember {
  /** The member's name; undefined when it is too long to read. */
  name: string | undefined
  text: string
  line: number
}

const enum State {
  Start,
  FirstName,
  NextName,
  Name,
  AfterName,
  Value,
  AfterMember,
  FirstElement,
  NextElement,
  AfterElement,
  Capture,
  Done
}

const TAB = 0x09
const LF = 0x0a
const CR = 0x0d
const SPACE = 0x20
const QUOTE = 0x22
const COMMA = 0x2c
const COLON = 0x3a
const BACKSLASH = 0x5c
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d

const isSpace = (c: number): boolean => c === SPACE || c === LF || c === CR || c === TAB

/** Characters of literals and numbers: two of them must not be joined when a space is dropped. */
const isWordChar = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) ||
  (c >= 0x41 && c <= 0x5a) ||
  (c >= 0x61 && c <= 0x7a) ||
  c === 0x2b ||
  c === 0x2d ||
  c === 0x2e

/** A member name that may appear in a message. */
const shownName = (name: string | undefined): string =>
  name !== undefined && KNOWN_MEMBERS.has(name) ? `'${name}'` : 'a member'

/**
 * Feed it the file's text piece by piece with `write`, take the completed `Items` elements
 * after each piece with `take`, call `end` at the end; `members` and `itemsArrays` then say
 * what else the top level held. Every element and member is held only as long as it is read
 * (and under its cap); memory does not grow with the file.
 */
export class ScanFileSplitter {
  /** The top-level members other than `Items`, in order. */
  readonly members: ScanMember[] = []
  /** How many `Items` arrays the top level holds (JSON.parse would keep only the last). */
  itemsArrays = 0

  private state = State.Start
  /** 1-based line of the character being read. */
  private line = 1
  private readonly names = new Set<string>()
  private nameRaw = ''
  private nameLong = false
  private nameEscaped = false
  private name: string | undefined
  private elements = 0
  private ready: ScanElement[] = []

  // The value being captured.
  private target: 'element' | 'member' = 'element'
  private limit = 0
  private parts: string[] = []
  private length = 0
  private depth = 0
  private inString = false
  private escaped = false
  private started = false
  private spaceDropped = false
  private lastChar = 0
  private startLine = 0

  constructor(
    private readonly maxElementChars = MAX_SCAN_ELEMENT_CHARS,
    private readonly maxMemberChars = MAX_SCAN_MEMBER_CHARS
  ) {}

  /** The elements completed so far (each handed out once). */
  take(): ScanElement[] {
    const out = this.ready
    this.ready = []
    return out
  }

  private fail(what: string, line = this.line): never {
    throw new ScanFileSyntaxError(`line ${line}: ${what}`)
  }

  private startCapture(target: 'element' | 'member'): void {
    this.state = State.Capture
    this.target = target
    this.limit = target === 'element' ? this.maxElementChars : this.maxMemberChars
    this.parts = []
    this.length = 0
    this.depth = 0
    this.inString = false
    this.escaped = false
    this.started = false
    this.spaceDropped = false
    this.lastChar = 0
    this.startLine = this.line
  }

  /** Keeps a piece of the value being captured, within its cap. */
  private append(piece: string): void {
    if (piece === '') return
    this.length += piece.length
    if (this.length > this.limit) {
      this.fail(
        this.target === 'element'
          ? `Items[${this.elements}] is longer than ${formatBytes(this.limit)} of JSON`
          : `its top-level ${shownName(this.name)} is longer than ${formatBytes(this.limit)} of JSON`,
        this.startLine
      )
    }
    this.parts.push(piece)
  }

  private endCapture(): void {
    if (!this.started) this.fail('a value is missing')
    const text = this.parts.join('')
    this.parts = []
    this.length = 0
    if (this.target === 'element') {
      this.ready.push({ text, index: this.elements++, line: this.startLine })
      this.state = State.AfterElement
    } else {
      this.members.push({ name: this.name, text, line: this.startLine })
      this.state = State.AfterMember
    }
  }

  /** Reads the next piece of the file. Throws ScanFileSyntaxError when it is not a scan's JSON. */
  write(text: string): void {
    const n = text.length
    // Where the part of `text` not yet kept of the value being captured starts.
    let from = 0
    let i = 0
    while (i < n) {
      const c = text.charCodeAt(i)
      if (this.state === State.Capture) {
        // One value, character by character: the hot loop. Runs of string characters and
        // of whitespace are skipped in tight inner loops.
        if (this.inString) {
          if (this.escaped) {
            this.escaped = false
            i++
            continue
          }
          let j = i
          let d = c
          while (d !== QUOTE && d !== BACKSLASH && d !== LF && ++j < n) d = text.charCodeAt(j)
          i = j
          if (i < n) {
            i++
            if (d === BACKSLASH) this.escaped = true
            else if (d === LF) this.line++
            else {
              this.inString = false
              this.lastChar = QUOTE
              if (this.depth === 0) {
                this.append(text.slice(from, i))
                from = i
                this.endCapture()
              }
            }
          }
        } else if (isSpace(c)) {
          this.append(text.slice(from, i))
          let d = c
          while (isSpace(d)) {
            if (d === LF) this.line++
            if (++i === n) break
            d = text.charCodeAt(i)
          }
          from = i
          if (this.depth === 0)
            this.endCapture() // a number or literal ends
          else this.spaceDropped = true
        } else if (this.depth === 0 && (c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT)) {
          // A number or literal ends; the delimiter belongs to the level above.
          this.append(text.slice(from, i))
          from = i
          this.endCapture()
        } else {
          if (this.spaceDropped && isWordChar(c) && isWordChar(this.lastChar)) {
            this.append(text.slice(from, i))
            this.append(' ')
            from = i
          }
          this.spaceDropped = false
          this.started = true
          this.lastChar = c
          i++
          if (c === QUOTE) this.inString = true
          else if (c === OPEN_ARRAY || c === OPEN_OBJECT) this.depth++
          else if ((c === CLOSE_ARRAY || c === CLOSE_OBJECT) && --this.depth === 0) {
            this.append(text.slice(from, i))
            from = i
            this.endCapture()
          }
        }
        // The cap holds inside one piece too: a value never grows past it unseen.
        if (this.state === State.Capture && this.length + (i - from) > this.limit) {
          this.append(text.slice(from, i))
          from = i
        }
        continue
      }

      if (c === LF) this.line++
      if (this.state === State.Name) {
        // A top-level member name: read raw, decoded by JSON.parse when it ends.
        if (this.nameEscaped) this.nameEscaped = false
        else if (c === BACKSLASH) this.nameEscaped = true
        else if (c === QUOTE) {
          this.state = State.AfterName
          this.name = undefined
          if (!this.nameLong) {
            try {
              this.name = JSON.parse(`"${this.nameRaw}"`) as string
            } catch {
              this.fail('a top-level member name is not a valid JSON string')
            }
          }
          i++
          continue
        }
        if (!this.nameLong) {
          if (this.nameRaw.length >= MAX_NAME_CHARS) this.nameLong = true
          else this.nameRaw += text.charAt(i)
        }
        i++
        continue
      }
      if (isSpace(c)) {
        i++
        continue
      }
      switch (this.state) {
        case State.Start:
          if (c !== OPEN_OBJECT) this.fail('its top level is not a JSON object')
          this.state = State.FirstName
          break
        case State.FirstName:
        case State.NextName:
          if (c === CLOSE_OBJECT && this.state === State.FirstName) {
            this.state = State.Done
            break
          }
          if (c !== QUOTE) this.fail('expected the name of a top-level member')
          if (this.members.length + this.itemsArrays >= MAX_SCAN_MEMBERS)
            this.fail(`its top-level object has more than ${MAX_SCAN_MEMBERS} members`)
          this.state = State.Name
          this.nameRaw = ''
          this.nameLong = false
          this.nameEscaped = false
          break
        case State.AfterName:
          if (c !== COLON) this.fail("expected ':' after the name of a top-level member")
          if (this.name !== undefined) {
            if (this.names.has(this.name)) {
              this.fail(
                this.name === 'Items'
                  ? "it has more than one 'Items' array"
                  : `its top-level object has ${shownName(this.name)} more than once`
              )
            }
            this.names.add(this.name)
          }
          this.state = State.Value
          break
        case State.Value:
          if (this.name === 'Items') {
            if (c !== OPEN_ARRAY) this.fail("its 'Items' is not an array")
            this.itemsArrays++
            this.state = State.FirstElement
            break
          }
          this.startCapture('member')
          from = i
          continue // the capture reads the value's first character
        case State.AfterMember:
          if (c === COMMA) this.state = State.NextName
          else if (c === CLOSE_OBJECT) this.state = State.Done
          else this.fail("expected ',' or '}' after a top-level member")
          break
        case State.FirstElement:
        case State.NextElement:
          if (c === CLOSE_ARRAY && this.state === State.FirstElement) {
            this.state = State.AfterMember
            break
          }
          if (c === CLOSE_ARRAY || c === COMMA) this.fail("an element of 'Items' is missing")
          this.startCapture('element')
          from = i
          continue
        case State.AfterElement:
          if (c === COMMA) this.state = State.NextElement
          else if (c === CLOSE_ARRAY) this.state = State.AfterMember
          else this.fail("expected ',' or ']' after an element of 'Items'")
          break
        case State.Done:
          this.fail('there is more after its top-level object')
      }
      i++
    }
    if (this.state === State.Capture) this.append(text.slice(from, n))
  }

  /** The end of the file: throws unless the top-level object was complete. */
  end(): void {
    if (this.state === State.Start) this.fail('it is empty: its top level is not a JSON object')
    if (this.state !== State.Done)
      this.fail('it ends before its top-level object does: the file is cut short')
  }
}
