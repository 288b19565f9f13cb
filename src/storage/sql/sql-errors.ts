/** Both engines report server errors with the SQLSTATE in `code` and the violated constraint's name. */

interface DatabaseErrorShape {
  code?: unknown;
  constraint?: unknown;
}

const UNIQUE_VIOLATION = '23505';

export function isUniqueViolation(error: unknown, constraint: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const shape = error as DatabaseErrorShape;
  return shape.code === UNIQUE_VIOLATION && shape.constraint === constraint;
}
