import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateApiKeySecret,
  hashSecret,
  prefixOf,
  secretMatches,
} from '../../../src/security/api-key-secret.js';

describe('API key secrets', () => {
  it('look like sk-<12 base62>_<base64url> and carry at least 256 random bits', () => {
    const { secret, prefix } = generateApiKeySecret();
    expect(prefix).toMatch(/^[A-Za-z0-9]{12}$/);
    expect(secret.startsWith(`sk-${prefix}_`)).toBe(true);
    const random = secret.slice(`sk-${prefix}_`.length);
    expect(random).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(random, 'base64url').length * 8).toBeGreaterThanOrEqual(256);
  });

  it('are all different', () => {
    const secrets = Array.from({ length: 200 }, () => generateApiKeySecret());
    expect(new Set(secrets.map((s) => s.secret)).size).toBe(200);
    expect(new Set(secrets.map((s) => s.prefix)).size).toBe(200);
  });

  it('parse back to their prefix, even when the random part contains "_"', () => {
    for (let i = 0; i < 200; i += 1) {
      const { secret, prefix } = generateApiKeySecret();
      expect(prefixOf(secret)).toBe(prefix);
    }
    const withUnderscores = `sk-AbCdEfGhIjKl_${'_'.repeat(10)}${'a'.repeat(33)}`;
    expect(prefixOf(withUnderscores)).toBe('AbCdEfGhIjKl');
  });

  it('derive a hash-based lookup prefix for free-form secrets', () => {
    const adminKey = 'sk-test-admin-0123456789abcdefghijklmnopqrstuvwxyz';
    const expected = `h${createHash('sha256').update(adminKey).digest('hex').slice(0, 15)}`;
    expect(prefixOf(adminKey)).toBe(expected);
    expect(prefixOf(adminKey)).toHaveLength(16);
    // Almost the generated form, but not quite: still derived, never a wrong parse.
    for (const almost of [
      'sk-AbCdEfGhIjKl_short',
      'sk-AbCdEfGhIjK_' + 'a'.repeat(43),
      'sk-AbCdEfGhIj-l_' + 'a'.repeat(43),
      'SK-AbCdEfGhIjKl_' + 'a'.repeat(43),
      '',
    ]) {
      expect(prefixOf(almost)).toMatch(/^h[0-9a-f]{15}$/);
    }
  });

  it('hash to SHA-256 hex and compare by hash', () => {
    const { secret } = generateApiKeySecret();
    const hash = hashSecret(secret);
    expect(hash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(secretMatches(hash, secret)).toBe(true);
    expect(secretMatches(hash, `${secret}x`)).toBe(false);
    expect(secretMatches(hashSecret('other'), secret)).toBe(false);
  });

  it('compare false, without throwing, against a stored hash of another length', () => {
    const { secret } = generateApiKeySecret();
    const hash = hashSecret(secret);
    expect(secretMatches(hash.slice(0, 10), secret)).toBe(false);
    expect(secretMatches(`${hash}00`, secret)).toBe(false);
    expect(secretMatches('', secret)).toBe(false);
  });
});
