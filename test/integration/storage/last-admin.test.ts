import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.js';
import type { Principal } from '../../../src/domain/principal.js';
import { SCOPES } from '../../../src/domain/principal.js';
import type { Storage } from '../../../src/domain/ports.js';
import { UserService } from '../../../src/domain/services/user-service.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { createCursorCodec } from '../../../src/security/cursors.js';
import { createPasswordHasher } from '../../../src/security/passwords.js';
import { withAdminClient } from '../../support/postgres.js';
import { engines, postgres, type Engine, type StorageHarness } from './engines.js';
import { newUser, openWithExecutor, seedOrganization } from './identity-fixtures.js';

const PLATFORM_ADMIN: Principal = {
  kind: 'platform_admin',
  id: 'key_platform',
  userId: null,
  organizationId: null,
  role: null,
  scopes: new Set(SCOPES),
  credential: { type: 'api_key', keyId: 'key_platform', expiresAt: null },
  rateLimit: null,
};

interface Fixture {
  harness: StorageHarness;
  storage: Storage;
  executor: SqlExecutor;
}

async function open(engine: Engine): Promise<Fixture> {
  const harness = await engine.create();
  return { harness, ...(await openWithExecutor(harness)) };
}

/** An organization with two admins: the seeded one and a second. */
async function twoAdmins(storage: Storage) {
  const { organization, admin } = await seedOrganization(storage);
  const second = await storage.identity.inTenant(organization.id, (tx) =>
    tx.createUser(newUser({ role: 'admin' })),
  );
  return { organizationId: organization.id, first: admin.id, second: second.id };
}

describe.each(engines)('the last admin on $name', (engine) => {
  let fixture: Fixture;
  let users: UserService;

  beforeAll(async () => {
    fixture = await open(engine);
    users = new UserService(
      fixture.storage.identity,
      createPasswordHasher(),
      fixture.storage.revocations,
      await createCursorCodec({ secret: randomBytes(32) }),
      () => new Date(Date.now() + 60_000),
    );
  });

  afterAll(async () => {
    await fixture?.harness.cleanup();
  });

  it('survives two admins demoted at once: one demotion wins, the other is a conflict', async () => {
    const { organizationId, first, second } = await twoAdmins(fixture.storage);
    const outcomes = await Promise.allSettled([
      users.update(PLATFORM_ADMIN, first, { role: 'member' }),
      users.update(PLATFORM_ADMIN, second, { role: 'member' }),
    ]);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    const refused = outcomes.find((outcome) => outcome.status === 'rejected');
    expect(refused?.reason).toBeInstanceOf(AppError);
    expect((refused?.reason as AppError).code).toBe('CONFLICT');
    const admins = await fixture.storage.identity.inTenant(organizationId, (tx) =>
      tx.countAdmins(),
    );
    expect(admins).toBe(1);
  });

  it('survives a demotion and a deletion of the two admins at once', async () => {
    const { organizationId, first, second } = await twoAdmins(fixture.storage);
    const outcomes = await Promise.allSettled([
      users.update(PLATFORM_ADMIN, first, { role: 'viewer' }),
      users.delete(PLATFORM_ADMIN, second),
    ]);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    const admins = await fixture.storage.identity.inTenant(organizationId, (tx) =>
      tx.countAdmins(),
    );
    expect(admins).toBe(1);
  });
});

/** Waits until some statement in `database` is blocked on a lock another transaction holds. */
async function untilLockWait(database: string): Promise<void> {
  await withAdminClient(async (client) => {
    for (;;) {
      const { rows } = await client.query<{ waiting: number }>(
        `select count(*)::int as waiting from pg_stat_activity
         where datname = $1 and wait_event_type = 'Lock'`,
        [database],
      );
      if ((rows[0]?.waiting ?? 0) > 0) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
}

describe('the admin count on PostgreSQL', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    fixture = await open(postgres);
  });

  afterAll(async () => {
    await fixture?.harness.cleanup();
  });

  it('waits for a concurrent demotion to commit, then counts without the demoted admin', async () => {
    const { storage } = fixture;
    const { organizationId, first, second } = await twoAdmins(storage);
    const database = (
      await fixture.executor.query<{ name: string }>('select current_database() as name')
    ).rows[0]?.name;
    let secondCount: Promise<number> | undefined;
    let secondDone = false;

    const firstCount = await storage.identity.inTenant(organizationId, async (tx) => {
      const count = await tx.countAdmins();
      await tx.updateUser(first, { role: 'member' });
      // The other transaction starts while this one is open. Either its count returns now (it did
      // not wait for this demotion) or it waits on this transaction's lock.
      secondCount = storage.identity.inTenant(organizationId, async (other) => {
        const seen = await other.countAdmins();
        if (seen > 1) await other.updateUser(second, { role: 'member' });
        return seen;
      });
      void secondCount.finally(() => (secondDone = true));
      await Promise.race([secondCount, untilLockWait(database ?? '')]);
      expect(secondDone).toBe(false);
      return count;
    });

    expect(firstCount).toBe(2);
    expect(await secondCount).toBe(1);
    expect(await storage.identity.inTenant(organizationId, (tx) => tx.countAdmins())).toBe(1);
  });
});
