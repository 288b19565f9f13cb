import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const PREFIX_LENGTH = 12;
const RANDOM_BYTES = 32;
/**
 * `sk-<prefix>_<random>`. The prefix alphabet has no `_`, so the first `_` after `sk-` ends it even
 * though the base64url random part may itself contain `_`.
 */
const GENERATED = /^sk-([A-Za-z0-9]{12})_[A-Za-z0-9_-]{43}$/;

export interface GeneratedApiKeySecret {
  /** Shown to the user once; only its hash is stored. */
  secret: string;
  /** Stored in clear to find the key; 12 base62 characters. */
  prefix: string;
}

export function generateApiKeySecret(): GeneratedApiKeySecret {
  let prefix = '';
  // randomInt is uniform (rejection sampling), unlike a byte modulo 62.
  for (let i = 0; i < PREFIX_LENGTH; i += 1) prefix += BASE62[randomInt(BASE62.length)];
  return { secret: `sk-${prefix}_${randomBytes(RANDOM_BYTES).toString('base64url')}`, prefix };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * The lookup prefix of a presented secret: the embedded prefix of a generated key, else one derived
 * from the hash (how a free-form ADMIN_API_KEY is found). Derived prefixes are 16 characters and
 * generated ones 12, so the two kinds never collide.
 */
export function prefixOf(secret: string): string {
  const generated = GENERATED.exec(secret);
  if (generated?.[1] !== undefined) return generated[1];
  return `h${hashSecret(secret).slice(0, 15)}`;
}

/** Constant-time comparison of a stored SHA-256 hex hash with the hash of `secret`. */
export function secretMatches(storedHash: string, secret: string): boolean {
  const expected = Buffer.from(storedHash, 'utf8');
  const actual = Buffer.from(hashSecret(secret), 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
