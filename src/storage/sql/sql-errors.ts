import { AppError } from '../../domain/errors.js';
import type { ErrorCode } from '../../domain/errors.js';

/** Both engines report server errors with the SQLSTATE in `code` and the violated constraint's name. */

interface DatabaseErrorShape {
  code?: unknown;
  constraint?: unknown;
}

const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';

export function isUniqueViolation(error: unknown, constraint: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const shape = error as DatabaseErrorShape;
  return shape.code === UNIQUE_VIOLATION && shape.constraint === constraint;
}

/** What the violation of one named unique or foreign-key constraint means to a caller. */
export interface ConstraintMeaning {
  code: ErrorCode;
  message: string;
}

/**
 * The AppError a unique or foreign-key violation stands for, when the constraint is one of
 * `known`; otherwise `error` itself. Meant for `throw translateViolation(error, …)`.
 */
export function translateViolation(
  error: unknown,
  known: Readonly<Record<string, ConstraintMeaning>>,
): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const { code, constraint } = error as DatabaseErrorShape;
  if (code !== UNIQUE_VIOLATION && code !== FOREIGN_KEY_VIOLATION) return error;
  if (typeof constraint !== 'string' || !Object.hasOwn(known, constraint)) return error;
  const meaning = known[constraint];
  if (meaning === undefined) return error;
  return new AppError(meaning.code, { message: meaning.message, cause: error });
}
