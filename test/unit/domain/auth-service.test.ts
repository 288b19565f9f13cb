import { describe, expect, it } from 'vitest';
import type { AppError } from '../../../src/domain/errors.js';
import { AuthService } from '../../../src/domain/services/auth-service.js';

const KEY = 'sk-admin-0123456789abcdefghijklmnopqrstuv';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as AppError).code;
  }
  return 'none';
}

describe('AuthService', () => {
  const auth = new AuthService({ adminApiKey: KEY });

  it('authenticates the admin key as a platform admin with every scope', () => {
    const principal = auth.authenticate(`Bearer ${KEY}`);
    expect(principal.kind).toBe('platform_admin');
    expect(principal.scopes.has('completions:write')).toBe(true);
    expect(auth.authenticate(`bearer ${KEY}`).id).toBe(principal.id);
  });

  it.each([
    undefined,
    '',
    'Bearer',
    `Basic ${KEY}`,
    `Bearer ${KEY}x`,
    `Bearer ${KEY.slice(0, -1)}`,
    `Bearer ${KEY} extra`,
  ])('refuses %s', (header) => {
    expect(codeOf(() => auth.authenticate(header))).toBe('UNAUTHORIZED');
  });

  it('refuses everything when no admin key is configured', () => {
    expect(codeOf(() => new AuthService({}).authenticate(`Bearer ${KEY}`))).toBe('UNAUTHORIZED');
  });
});
