import { randomBytes } from 'node:crypto';

/** `usage_3q2…`: a type prefix keeps ids self-describing in logs; 128 random bits keep them unguessable. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`;
}
