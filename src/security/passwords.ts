import { hash, parseOptions, verify, type Algorithm, type Options } from '@node-rs/argon2';
import type { PasswordHasher } from '../domain/identity/ports.js';

// Algorithm is an ambient const enum, which isolatedModules cannot reference by name.
const ARGON2ID = 2 as Algorithm;

/** OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 passes, 1 lane. */
export const ARGON2_OPTIONS: Readonly<Options> = {
  algorithm: ARGON2ID,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
};

/**
 * A hash of a random password nobody knows, made with ARGON2_OPTIONS, so verifying against it
 * costs exactly what verifying a real user's password does.
 */
export const DUMMY_PASSWORD_HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$Vx4ouE4HfVXLBJXzMtmMug$HQKVTrHmd1q1nmP+l1NCeouMpe/A1xiPtgx9LzK8mo8';

async function verifyOrFalse(hashed: string, password: string): Promise<boolean> {
  try {
    return await verify(hashed, password);
  } catch {
    // A malformed hash is a failed login, not a server error.
    return false;
  }
}

export function createPasswordHasher(): PasswordHasher {
  return {
    hash: (password) => hash(password, ARGON2_OPTIONS),
    verify: verifyOrFalse,
  };
}

/**
 * Spends the time of a real password check and returns false: call it when the email is unknown,
 * so response time does not tell which accounts exist.
 */
export async function dummyPasswordVerify(password = ''): Promise<false> {
  await verifyOrFalse(DUMMY_PASSWORD_HASH, password);
  return false;
}

/** True when `hashed` was made with other parameters than today's (rehash it after a login). */
export function needsRehash(hashed: string): boolean {
  try {
    const used = parseOptions(hashed);
    return (
      used.algorithm !== ARGON2_OPTIONS.algorithm ||
      used.memoryCost !== ARGON2_OPTIONS.memoryCost ||
      used.timeCost !== ARGON2_OPTIONS.timeCost ||
      used.parallelism !== ARGON2_OPTIONS.parallelism
    );
  } catch {
    return true;
  }
}
