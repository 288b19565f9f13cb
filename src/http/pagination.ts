import { validationError } from '../domain/errors.js';

/**
 * Cursors are opaque to clients. The position they carry is checked by the service that reads it
 * (a cursor naming something that does not exist is refused), so a forged one gets a 422.
 */
export function encodeCursor(position: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after: position }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      (parsed as { v?: unknown }).v === 1 &&
      typeof (parsed as { after?: unknown }).after === 'string'
    ) {
      return (parsed as { after: string }).after;
    }
  } catch {
    // fall through to the one error below
  }
  throw validationError('cursor', 'Cursor is malformed');
}
