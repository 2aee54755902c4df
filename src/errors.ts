import type { ErrorCode } from './error-codes.js'

/**
 * Every failure the action reports goes through ActionError: a dotted code that tests and
 * the report can match on, and a plain-language message that says what was wrong and what
 * to do next. The original error is kept as `cause` (its stack goes to core.debug only).
 */
export class ActionError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ActionError'
    this.code = code
  }
}

/** Bad input: raised before anything is written. */
export class InputError extends ActionError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'InputError'
  }
}

/** A safety gate refused: nothing destructive was done. */
export class GateError extends ActionError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'GateError'
  }
}

/** Reads a message from anything thrown, without ever stringifying SDK payloads. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  if (typeof error === 'string') return error
  return 'unknown error'
}

/** The error's name (SDK exception classes set it to the service's error code). */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : ''
}

export function isNamed(error: unknown, ...names: string[]): boolean {
  return names.includes(errorName(error))
}

/** Anything thrown, as an Error (kept as is when it already is one). */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(errorMessage(error))
}
