import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PagePosition } from '../../../src/domain/identity/model.js';
import { SCOPES } from '../../../src/domain/principal.js';
import type { Storage } from '../../../src/domain/ports.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { engines } from './engines.js';
import type { Engine, StorageHarness } from './engines.js';
import {
  inOneHour,
  newApiKey,
  newUser,
  openWithExecutor,
  seedOrganization,
  unique,
} from './identity-fixtures.js';

function tokenHash(): string {
  return randomBytes(32).toString('hex');
}

/** Rows written in one transaction share created_at, and the id tie-break is the database's. */
function sortedById<T extends { id: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function identityStoreSuite(engine: Engine): void {
  let harness: StorageHarness;
  let storage: Storage;
  let executor: SqlExecutor;

  beforeAll(async () => {
    harness = await engine.create();
    ({ storage, executor } = await openWithExecutor(harness));
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  async function countAs(sql: string, params: string[] = []): Promise<number> {
    const { rows } = await executor.query<{ count: number }>(sql, params);
    return rows[0]?.count ?? -1;
  }

  describe('organizations', () => {
    it('creates, reads and lists organizations', async () => {
      const name = unique('Acme Corp');
      const created = await storage.identity.createOrganization({ name });
      expect(created).toEqual({ id: expect.any(String), name, createdAt: expect.any(Date) });
      expect(created.id).toMatch(/^org_[A-Za-z0-9_-]{22}$/);
      expect(Math.abs(created.createdAt.getTime() - Date.now())).toBeLessThan(60_000);

      expect(await storage.identity.getOrganization(created.id)).toEqual(created);
      expect(await storage.identity.getOrganization('org_missing00000')).toBeNull();
      expect(await storage.identity.getOrganization('')).toBeNull();

      const listed = await storage.identity.listOrganizations({ limit: 1000 });
      expect(listed.hasMore).toBe(false);
      expect(listed.items).toContainEqual(created);
    });

    it('refuses a taken name with CONFLICT and writes nothing', async () => {
      const { organization } = await seedOrganization(storage);
      const before = await countAs('select count(*)::int as count from organizations');

      const duplicate = storage.identity.createOrganization({ name: organization.name });
      await expect(duplicate).rejects.toMatchObject({
        code: 'CONFLICT',
        message: 'An organization with this name already exists',
      });
      expect(await countAs('select count(*)::int as count from organizations')).toBe(before);
    });

    it('pages through organizations oldest first', async () => {
      for (let i = 0; i < 3; i += 1)
        await storage.identity.createOrganization({ name: unique('P') });
      const all = await storage.identity.listOrganizations({ limit: 1000 });
      const walked = [];
      let page = await storage.identity.listOrganizations({ limit: 2 });
      walked.push(...page.items);
      while (page.hasMore) {
        const last = page.items.at(-1);
        if (!last) throw new Error('a page with hasMore has items');
        page = await storage.identity.listOrganizations({ limit: 2, after: last });
        walked.push(...page.items);
      }
      expect(walked).toEqual(all.items);
    });
  });

  describe('users', () => {
    it('creates a user with the email lower-cased, reads, updates and counts admins', async () => {
      const { organization, admin } = await seedOrganization(storage);
      const input = newUser({ email: `Mixed.Case-${unique('x')}@Example.COM`, role: 'viewer' });

      const user = await storage.identity.inTenant(organization.id, (tx) => tx.createUser(input));
      expect(user).toEqual({
        id: expect.stringMatching(/^user_[A-Za-z0-9_-]{22}$/),
        organizationId: organization.id,
        email: input.email.toLowerCase(),
        role: 'viewer',
        passwordHash: input.passwordHash,
        createdAt: expect.any(Date),
      });

      await storage.identity.inTenant(organization.id, async (tx) => {
        expect(tx.organizationId).toBe(organization.id);
        expect(await tx.getUser(user.id)).toEqual(user);
        expect(await tx.getUser('user_missing000000')).toBeNull();
        expect(await tx.countAdmins()).toBe(1);

        const promoted = await tx.updateUser(user.id, { role: 'admin' });
        expect(promoted).toEqual({ ...user, role: 'admin' });
        const rehashed = await tx.updateUser(user.id, { passwordHash: 'new-hash' });
        expect(rehashed).toEqual({ ...user, role: 'admin', passwordHash: 'new-hash' });
        expect(await tx.updateUser(user.id, {})).toEqual(rehashed);
        expect(await tx.updateUser('user_missing000000', { role: 'viewer' })).toBeNull();
        expect(await tx.countAdmins()).toBe(2);

        const listed = await tx.listUsers({ limit: 10 });
        expect(listed.hasMore).toBe(false);
        expect(sortedById(listed.items)).toEqual(
          sortedById([admin, { ...user, role: 'admin', passwordHash: 'new-hash' }]),
        );
      });
    });

    it('finds a user by email whatever its case, across organizations', async () => {
      const { organization, admin } = await seedOrganization(storage);
      expect(await storage.identity.findUserByEmail(admin.email.toUpperCase())).toEqual(admin);
      expect(await storage.identity.findUserByEmail(admin.email)).toMatchObject({
        organizationId: organization.id,
      });
      expect(await storage.identity.findUserByEmail('nobody@example.com')).toBeNull();
    });

    it('refuses a taken email in any case mix, in any organization, and writes nothing', async () => {
      const first = await seedOrganization(storage);
      const second = await seedOrganization(storage);
      const before = await countAs('select count(*)::int as count from users');
      const spelled = first.admin.email.replace(/^./, (c) => c.toUpperCase()).toUpperCase();

      const sameTenant = storage.identity.inTenant(first.organization.id, async (tx) => {
        // Written first in the same transaction: rolled back with it.
        await tx.createUser(newUser());
        return await tx.createUser(newUser({ email: spelled }));
      });
      await expect(sameTenant).rejects.toMatchObject({
        code: 'CONFLICT',
        message: 'A user with this email already exists',
      });
      const otherTenant = storage.identity.inTenant(second.organization.id, (tx) =>
        tx.createUser(newUser({ email: first.admin.email })),
      );
      await expect(otherTenant).rejects.toMatchObject({ code: 'CONFLICT' });

      expect(await countAs('select count(*)::int as count from users')).toBe(before);
    });

    it('does not commit a transaction whose callback swallowed a failed statement', async () => {
      const { organization, admin } = await seedOrganization(storage);
      const kept = newUser();

      const swallowing = storage.identity.inTenant(organization.id, async (tx) => {
        await tx.createUser(kept);
        await tx.createUser(newUser({ email: admin.email })).catch(() => undefined);
        return 'done';
      });
      await expect(swallowing).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await storage.identity.findUserByEmail(kept.email)).toBeNull();
    });

    it('refuses a user for an organization that does not exist', async () => {
      await expect(
        storage.identity.inTenant('org_missing00000', (tx) => tx.createUser(newUser())),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('deletes a user together with their sessions, refresh tokens and API keys', async () => {
      const { organization } = await seedOrganization(storage);
      const hash = tokenHash();
      const { user, session, key } = await storage.identity.inTenant(
        organization.id,
        async (tx) => {
          const created = await tx.createUser(newUser());
          const opened = await tx.createSession({ userId: created.id, expiresAt: inOneHour() });
          await tx.insertRefreshToken({
            tokenHash: hash,
            sessionId: opened.id,
            userId: created.id,
            expiresAt: inOneHour(),
          });
          const apiKey = await tx.createApiKey(newApiKey(created.id));
          return { user: created, session: opened, key: apiKey };
        },
      );
      expect(await storage.revocations.isSessionRevoked(session.id)).toBe(false);

      await storage.identity.inTenant(organization.id, async (tx) => {
        expect(await tx.deleteUser(user.id)).toBe(true);
        expect(await tx.deleteUser(user.id)).toBe(false);
        expect(await tx.getUser(user.id)).toBeNull();
        expect(await tx.getSession(session.id)).toBeNull();
        expect(await tx.getApiKey(key.id)).toBeNull();
      });
      expect(await storage.identity.findRefreshToken(hash)).toBeNull();
      expect(await storage.identity.findApiKeyByPrefix(key.prefix)).toBeNull();
      expect(await storage.identity.getSessionForAuth(session.id)).toBeNull();
      expect(await storage.revocations.isSessionRevoked(session.id)).toBe(true);
    });

    it('keeps keyset pages stable while rows are inserted and deleted between pages', async () => {
      const { organization } = await seedOrganization(storage);
      const list = (after?: PagePosition) =>
        storage.identity.inTenant(organization.id, (tx) =>
          tx.listUsers(after ? { limit: 3, after } : { limit: 3 }),
        );
      await storage.identity.inTenant(organization.id, async (tx) => {
        for (let i = 0; i < 6; i += 1) await tx.createUser(newUser());
      });
      const before = await storage.identity.inTenant(organization.id, (tx) =>
        tx.listUsers({ limit: 100 }),
      );
      const page1 = await list();
      expect(page1).toEqual({ items: before.items.slice(0, 3), hasMore: true });

      // Between pages: one row already shown and one not yet shown go, two new rows arrive (each
      // in its own later millisecond, so they sort last and in this order).
      const [, seenVictim, , unseenVictim] = before.items;
      const added = [];
      await storage.identity.inTenant(organization.id, async (tx) => {
        await tx.deleteUser(seenVictim?.id ?? '');
        await tx.deleteUser(unseenVictim?.id ?? '');
      });
      for (let i = 0; i < 2; i += 1) {
        await sleep(5);
        added.push(
          await storage.identity.inTenant(organization.id, (tx) => tx.createUser(newUser())),
        );
      }

      const rest = [];
      let page = page1;
      while (page.hasMore) {
        page = await list(page.items.at(-1));
        rest.push(...page.items);
      }
      expect(rest).toEqual([...before.items.slice(4), ...added]);
    });

    it('refuses a nonsensical page size', async () => {
      const { organization } = await seedOrganization(storage);
      await expect(
        storage.identity.inTenant(organization.id, (tx) => tx.listUsers({ limit: 0 })),
      ).rejects.toBeInstanceOf(RangeError);
    });
  });

  describe('sessions', () => {
    it('creates, reads, touches, lists and revokes sessions', async () => {
      const { organization, admin } = await seedOrganization(storage);
      const expiresAt = inOneHour();
      await storage.identity.inTenant(organization.id, async (tx) => {
        const session = await tx.createSession({ userId: admin.id, expiresAt });
        expect(session).toEqual({
          id: expect.stringMatching(/^sess_[A-Za-z0-9_-]{22}$/),
          userId: admin.id,
          organizationId: organization.id,
          createdAt: expect.any(Date),
          lastUsedAt: expect.any(Date),
          expiresAt,
          revokedAt: null,
        });
        expect(await tx.getSession(session.id)).toEqual(session);

        const touchedAt = new Date(Date.now() + 1_000);
        await tx.touchSession(session.id, touchedAt);
        expect(await tx.getSession(session.id)).toEqual({ ...session, lastUsedAt: touchedAt });

        const second = await tx.createSession({ userId: admin.id, expiresAt });
        const expired = await tx.createSession({
          userId: admin.id,
          expiresAt: new Date(Date.now() - 1_000),
        });
        const listed = await tx.listSessions(admin.id, { limit: 10 });
        expect(sortedById(listed.items).map((item) => item.id)).toEqual(
          sortedById([session, second]).map((item) => item.id),
        );
        expect(listed.hasMore).toBe(false);

        expect(await tx.revokeSession(session.id)).toEqual([session.id]);
        expect(await tx.revokeSession(session.id)).toEqual([]);
        expect(await tx.revokeSession('sess_missing000000')).toEqual([]);
        expect((await tx.getSession(session.id))?.revokedAt).toBeInstanceOf(Date);
        expect((await tx.listSessions(admin.id, { limit: 10 })).items).toHaveLength(1);

        expect(new Set(await tx.revokeUserSessions(admin.id))).toEqual(
          new Set([second.id, expired.id]),
        );
        expect(await tx.revokeUserSessions(admin.id)).toEqual([]);
      });
    });

    it('answers authentication and revocation lookups across tenants', async () => {
      const { organization, admin } = await seedOrganization(storage);
      const [live, revoked, expired] = await storage.identity.inTenant(
        organization.id,
        async (tx) => {
          const sessions = [
            await tx.createSession({ userId: admin.id, expiresAt: inOneHour() }),
            await tx.createSession({ userId: admin.id, expiresAt: inOneHour() }),
            await tx.createSession({ userId: admin.id, expiresAt: new Date(Date.now() - 1) }),
          ];
          await tx.revokeSession(sessions[1]?.id ?? '');
          return sessions;
        },
      );
      if (!live || !revoked || !expired) throw new Error('created above');

      expect(await storage.identity.getSessionForAuth(live.id)).toEqual(live);
      expect(await storage.identity.getSessionForAuth('sess_missing000000')).toBeNull();

      // A no-op by design: the rows were revoked by the tenant store already.
      await storage.revocations.revokeSessions([live.id], inOneHour());
      expect(await storage.revocations.isSessionRevoked(live.id)).toBe(false);
      expect(await storage.revocations.isSessionRevoked(revoked.id)).toBe(true);
      expect(await storage.revocations.isSessionRevoked(expired.id)).toBe(true);
      expect(await storage.revocations.isSessionRevoked('sess_missing000000')).toBe(true);
    });

    it('refuses a session for a user of another organization', async () => {
      const mine = await seedOrganization(storage);
      const theirs = await seedOrganization(storage);
      await expect(
        storage.identity.inTenant(mine.organization.id, (tx) =>
          tx.createSession({ userId: theirs.admin.id, expiresAt: inOneHour() }),
        ),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });

  describe('refresh tokens', () => {
    it('stores, finds and spends a refresh token exactly once', async () => {
      const { organization, admin } = await seedOrganization(storage);
      const hash = tokenHash();
      const expiresAt = inOneHour();
      const session = await storage.identity.inTenant(organization.id, async (tx) => {
        const opened = await tx.createSession({ userId: admin.id, expiresAt });
        await tx.insertRefreshToken({
          tokenHash: hash,
          sessionId: opened.id,
          userId: admin.id,
          expiresAt,
        });
        return opened;
      });
      const stored = {
        tokenHash: hash,
        sessionId: session.id,
        organizationId: organization.id,
        userId: admin.id,
        expiresAt,
        spentAt: null,
      };
      expect(await storage.identity.findRefreshToken(hash)).toEqual(stored);
      expect(await storage.identity.findRefreshToken(tokenHash())).toBeNull();

      const spentAt = new Date();
      await storage.identity.inTenant(organization.id, async (tx) => {
        expect(await tx.spendRefreshToken(hash, spentAt)).toEqual({ ...stored, spentAt });
        expect(await tx.spendRefreshToken(hash, new Date())).toBeNull();
        expect(await tx.spendRefreshToken(tokenHash(), new Date())).toBeNull();
      });
      expect(await storage.identity.findRefreshToken(hash)).toEqual({ ...stored, spentAt });
    });

    it('lets exactly one of ten concurrent spends of one token succeed', async () => {
      const { organization, admin } = await seedOrganization(storage);
      const hash = tokenHash();
      await storage.identity.inTenant(organization.id, async (tx) => {
        const session = await tx.createSession({ userId: admin.id, expiresAt: inOneHour() });
        await tx.insertRefreshToken({
          tokenHash: hash,
          sessionId: session.id,
          userId: admin.id,
          expiresAt: inOneHour(),
        });
      });

      const spends = await Promise.all(
        Array.from({ length: 10 }, () =>
          storage.identity.inTenant(organization.id, (tx) =>
            tx.spendRefreshToken(hash, new Date()),
          ),
        ),
      );
      expect(spends.filter((spent) => spent !== null)).toHaveLength(1);
    });

    it('refuses a duplicate token and a token naming another user than its session', async () => {
      const { organization, admin } = await seedOrganization(storage);
      const hash = tokenHash();
      const { other, token } = await storage.identity.inTenant(organization.id, async (tx) => {
        const session = await tx.createSession({ userId: admin.id, expiresAt: inOneHour() });
        const stored = { tokenHash: hash, sessionId: session.id, expiresAt: inOneHour() };
        await tx.insertRefreshToken({ ...stored, userId: admin.id });
        return { other: await tx.createUser(newUser()), token: stored };
      });

      await expect(
        storage.identity.inTenant(organization.id, (tx) =>
          tx.insertRefreshToken({ ...token, userId: admin.id }),
        ),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(
        storage.identity.inTenant(organization.id, (tx) =>
          tx.insertRefreshToken({ ...token, tokenHash: tokenHash(), userId: other.id }),
        ),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });

  describe('API keys', () => {
    it('creates, reads, lists, touches and revokes API keys', async () => {
      const { organization, admin } = await seedOrganization(storage);
      const expiresAt = inOneHour();
      const input = newApiKey(admin.id, {
        scopes: ['models:read', 'usage:read'],
        expiresAt,
        rateLimit: { requestsPerMinute: 60, tokensPerMinute: 20_000 },
      });
      const { key, member, memberKey } = await storage.identity.inTenant(
        organization.id,
        async (tx) => {
          const created = await tx.createApiKey(input);
          const user = await tx.createUser(newUser());
          return {
            key: created,
            member: user,
            memberKey: await tx.createApiKey(newApiKey(user.id)),
          };
        },
      );
      expect(key).toEqual({
        id: expect.stringMatching(/^key_[A-Za-z0-9_-]{22}$/),
        organizationId: organization.id,
        userId: admin.id,
        name: input.name,
        prefix: input.prefix,
        secretHash: input.secretHash,
        scopes: ['models:read', 'usage:read'],
        platformAdmin: false,
        expiresAt,
        rateLimit: { requestsPerMinute: 60, tokensPerMinute: 20_000 },
        lastUsedAt: null,
        createdAt: expect.any(Date),
        revokedAt: null,
      });
      expect(memberKey).toMatchObject({ rateLimit: null, expiresAt: null });

      const usedAt = new Date();
      await storage.identity.touchApiKey(key.id, usedAt);
      const touched = { ...key, lastUsedAt: usedAt };
      expect(await storage.identity.findApiKeyByPrefix(key.prefix)).toEqual(touched);
      expect(await storage.identity.findApiKeyByPrefix('sk-missing')).toBeNull();

      await storage.identity.inTenant(organization.id, async (tx) => {
        expect(await tx.getApiKey(key.id)).toEqual(touched);
        const listed = await tx.listApiKeys({}, { limit: 10 });
        expect(listed.hasMore).toBe(false);
        expect(sortedById(listed.items)).toEqual(sortedById([touched, memberKey]));
        expect((await tx.listApiKeys({ userId: member.id }, { limit: 10 })).items).toEqual([
          memberKey,
        ]);

        const revokedAt = new Date();
        expect(await tx.revokeApiKey(key.id, revokedAt)).toBe(true);
        expect(await tx.revokeApiKey(key.id, new Date())).toBe(false);
        expect(await tx.revokeApiKey('key_missing0000000', new Date())).toBe(false);
        expect(await tx.getApiKey(key.id)).toBeNull();
        expect((await tx.listApiKeys({}, { limit: 10 })).items).toEqual([memberKey]);

        await tx.revokeUserApiKeys(member.id, new Date());
        expect(await tx.getApiKey(memberKey.id)).toBeNull();
        expect((await tx.listApiKeys({}, { limit: 10 })).items).toEqual([]);
      });
      // The authentication lookup still finds a revoked key, so the caller can tell why it fails.
      expect(await storage.identity.findApiKeyByPrefix(key.prefix)).toMatchObject({
        id: key.id,
        revokedAt: expect.any(Date),
      });
    });

    it('refuses a taken prefix with CONFLICT', async () => {
      const { organization, admin } = await seedOrganization(storage);
      const input = newApiKey(admin.id);
      await storage.identity.inTenant(organization.id, (tx) => tx.createApiKey(input));
      await expect(
        storage.identity.inTenant(organization.id, (tx) => tx.createApiKey(input)),
      ).rejects.toMatchObject({
        code: 'CONFLICT',
        message: 'An API key with this prefix already exists',
      });
    });

    it('keeps exactly one platform-admin key however often and concurrently it is set', async () => {
      const first = { prefix: unique('admin'), secretHash: tokenHash() };
      await Promise.all(
        Array.from({ length: 5 }, () => storage.identity.upsertPlatformAdminKey(first)),
      );
      const stored = await storage.identity.findApiKeyByPrefix(first.prefix);
      expect(stored).toMatchObject({
        organizationId: null,
        userId: null,
        secretHash: first.secretHash,
        scopes: [...SCOPES],
        platformAdmin: true,
        revokedAt: null,
      });

      const rotated = { prefix: unique('admin'), secretHash: tokenHash() };
      await storage.identity.upsertPlatformAdminKey(rotated);
      expect(await storage.identity.findApiKeyByPrefix(first.prefix)).toBeNull();
      expect(await storage.identity.findApiKeyByPrefix(rotated.prefix)).toMatchObject({
        id: stored?.id,
        secretHash: rotated.secretHash,
      });
      expect(
        await countAs('select count(*)::int as count from api_keys where platform_admin'),
      ).toBe(1);
      expect(await storage.identity.organizationOf('api_key', stored?.id ?? '')).toBeNull();
    });

    it('revokes the platform-admin key once, and brings it back when it is set again', async () => {
      const key = { prefix: unique('admin'), secretHash: tokenHash() };
      await storage.identity.upsertPlatformAdminKey(key);
      const at = new Date();
      expect(await storage.identity.revokePlatformAdminKey(at)).toBe(true);
      expect(await storage.identity.revokePlatformAdminKey(new Date())).toBe(false);
      expect((await storage.identity.findApiKeyByPrefix(key.prefix))?.revokedAt).toEqual(at);

      await storage.identity.upsertPlatformAdminKey(key);
      expect((await storage.identity.findApiKeyByPrefix(key.prefix))?.revokedAt).toBeNull();
    });
  });

  describe('tenant boundaries', () => {
    it("returns null, false or nothing for another organization's rows", async () => {
      const mine = await seedOrganization(storage);
      const theirs = await seedOrganization(storage);
      const { session, key } = await storage.identity.inTenant(
        theirs.organization.id,
        async (tx) => ({
          session: await tx.createSession({ userId: theirs.admin.id, expiresAt: inOneHour() }),
          key: await tx.createApiKey(newApiKey(theirs.admin.id)),
        }),
      );

      await storage.identity.inTenant(mine.organization.id, async (tx) => {
        expect(await tx.getUser(theirs.admin.id)).toBeNull();
        expect(await tx.getSession(session.id)).toBeNull();
        expect(await tx.getApiKey(key.id)).toBeNull();
        expect(await tx.updateUser(theirs.admin.id, { role: 'viewer' })).toBeNull();
        expect(await tx.deleteUser(theirs.admin.id)).toBe(false);
        expect(await tx.revokeSession(session.id)).toEqual([]);
        expect(await tx.revokeUserSessions(theirs.admin.id)).toEqual([]);
        expect(await tx.revokeApiKey(key.id, new Date())).toBe(false);
        await tx.revokeUserApiKeys(theirs.admin.id, new Date());
        await tx.touchSession(session.id, new Date(0));
        expect((await tx.listSessions(theirs.admin.id, { limit: 10 })).items).toEqual([]);
        expect((await tx.listApiKeys({ userId: theirs.admin.id }, { limit: 10 })).items).toEqual(
          [],
        );
        expect((await tx.listUsers({ limit: 100 })).items).toEqual([mine.admin]);
      });

      await storage.identity.inTenant(theirs.organization.id, async (tx) => {
        expect(await tx.getUser(theirs.admin.id)).toEqual(theirs.admin);
        expect(await tx.getSession(session.id)).toEqual(session);
        expect(await tx.getApiKey(key.id)).toEqual(key);
      });
    });

    it('tells a platform admin which organization owns a resource', async () => {
      const { organization, admin } = await seedOrganization(storage);
      const { session, key } = await storage.identity.inTenant(organization.id, async (tx) => ({
        session: await tx.createSession({ userId: admin.id, expiresAt: inOneHour() }),
        key: await tx.createApiKey(newApiKey(admin.id)),
      }));

      expect(await storage.identity.organizationOf('user', admin.id)).toBe(organization.id);
      expect(await storage.identity.organizationOf('session', session.id)).toBe(organization.id);
      expect(await storage.identity.organizationOf('api_key', key.id)).toBe(organization.id);
      expect(await storage.identity.organizationOf('user', 'user_missing000000')).toBeNull();

      await storage.identity.inTenant(organization.id, (tx) => tx.revokeApiKey(key.id, new Date()));
      expect(await storage.identity.organizationOf('api_key', key.id)).toBeNull();
    });
  });
}

describe.each(engines)('identity store on $name', (engine) => {
  identityStoreSuite(engine);
});
