import { verify } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import {
  createPasswordHasher,
  DUMMY_PASSWORD_HASH,
  dummyPasswordVerify,
  needsRehash,
} from '../../../src/security/passwords.js';

const OWASP_PHC_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';

describe('password hasher', () => {
  const hasher = createPasswordHasher();

  it('hashes with argon2id at the OWASP parameters, salted', async () => {
    const [a, b] = await Promise.all([hasher.hash('correct horse'), hasher.hash('correct horse')]);
    expect(a.startsWith(OWASP_PHC_PREFIX)).toBe(true);
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct horse');
    expect(needsRehash(a)).toBe(false);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const hashed = await hasher.hash('correct horse');
    await expect(hasher.verify(hashed, 'correct horse')).resolves.toBe(true);
    await expect(hasher.verify(hashed, 'correct horsf')).resolves.toBe(false);
    await expect(hasher.verify(hashed, '')).resolves.toBe(false);
  });

  it.each([
    '',
    'not a hash',
    '$argon2id$v=19$m=19456,t=2,p=1$abc',
    '$2b$12$abcdefghijklmnopqrstuuM5kZ6h3y4m6m9lW2f7oE0H2n1q3g6pK',
    OWASP_PHC_PREFIX,
  ])('returns false, not an error, for a malformed hash %#', async (hashed) => {
    await expect(hasher.verify(hashed, 'password')).resolves.toBe(false);
  });

  it('flags hashes made with other parameters for rehashing', () => {
    expect(
      needsRehash('$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA'),
    ).toBe(true);
    expect(needsRehash('garbage')).toBe(true);
  });

  it('offers a dummy check that fails after the full work of a real one', async () => {
    await expect(dummyPasswordVerify('secret')).resolves.toBe(false);
    await expect(dummyPasswordVerify()).resolves.toBe(false);
    // Same parameters means the same cost; a malformed dummy hash would fail fast instead.
    expect(DUMMY_PASSWORD_HASH.startsWith(OWASP_PHC_PREFIX)).toBe(true);
    expect(needsRehash(DUMMY_PASSWORD_HASH)).toBe(false);
    await expect(verify(DUMMY_PASSWORD_HASH, 'secret')).resolves.toBe(false);
  });
});
