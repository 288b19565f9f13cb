import { randomBytes } from 'node:crypto';
import { silentLogger } from '../../../src/domain/logger.js';
import type { NewApiKey, NewUser } from '../../../src/domain/identity/ports.js';
import type { Organization, User } from '../../../src/domain/identity/model.js';
import type { Storage } from '../../../src/domain/ports.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { migrate } from '../../../src/storage/migrate.js';
import { createSqlStorage } from '../../../src/storage/sql-storage.js';
import type { StorageHarness } from './engines.js';

/** Storage and the raw executor under it (a superuser connection, outside row-level security). */
export interface StorageWithExecutor {
  storage: Storage;
  executor: SqlExecutor;
}

/** PGlite allows one instance per directory, so raw SQL has to share the storage's executor. */
export async function openWithExecutor(harness: StorageHarness): Promise<StorageWithExecutor> {
  const executor = await harness.openExecutor();
  await migrate(executor, { logger: silentLogger });
  return { storage: createSqlStorage(executor), executor };
}

export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

export function newUser(overrides: Partial<NewUser> = {}): NewUser {
  return {
    email: `${unique('user')}@example.com`,
    role: 'member',
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
    ...overrides,
  };
}

export function newApiKey(userId: string, overrides: Partial<NewApiKey> = {}): NewApiKey {
  return {
    userId,
    name: 'CI pipeline',
    prefix: unique('sk'),
    secretHash: randomBytes(32).toString('hex'),
    scopes: ['models:read', 'completions:write'],
    expiresAt: null,
    rateLimit: null,
    ...overrides,
  };
}

export function inOneHour(): Date {
  return new Date(Date.now() + 3_600_000);
}

/** An organization with one admin. */
export async function seedOrganization(
  storage: Storage,
): Promise<{ organization: Organization; admin: User }> {
  const organization = await storage.identity.createOrganization({ name: unique('Org') });
  const admin = await storage.identity.inTenant(organization.id, (tx) =>
    tx.createUser(newUser({ role: 'admin' })),
  );
  return { organization, admin };
}
