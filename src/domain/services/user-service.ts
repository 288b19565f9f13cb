import { notFound, requireOrgAdmin, requireScope } from '../authorization.js';
import { AppError, validationError } from '../errors.js';
import type { Role, User } from '../identity/model.js';
import {
  toListResult,
  toPageRequest,
  type ListQuery,
  type ListResult,
} from '../identity/paging.js';
import type {
  CursorCodec,
  IdentityStore,
  PasswordHasher,
  RevocationList,
} from '../identity/ports.js';
import type { Principal } from '../principal.js';
import { tenantOf } from './tenancy.js';

export interface CreateUserInput {
  email: string;
  password: string;
  role: Role;
  organizationId?: string;
}

/** Org admins manage their own organization's users; platform admins any organization's. */
export class UserService {
  constructor(
    private readonly store: IdentityStore,
    private readonly passwords: PasswordHasher,
    private readonly revocations: RevocationList,
    private readonly cursors: CursorCodec,
    private readonly revocationHorizon: () => Date,
  ) {}

  private authorize(principal: Principal): void {
    requireScope(principal, 'users:write');
    requireOrgAdmin(principal);
  }

  async create(principal: Principal, input: CreateUserInput): Promise<User> {
    this.authorize(principal);
    let organizationId: string;
    if (principal.organizationId === null) {
      if (input.organizationId === undefined) {
        throw validationError('organization_id', 'Is required for a platform admin');
      }
      if (!(await this.store.getOrganization(input.organizationId))) {
        throw validationError('organization_id', 'No such organization');
      }
      organizationId = input.organizationId;
    } else {
      if (input.organizationId !== undefined && input.organizationId !== principal.organizationId) {
        throw new AppError('FORBIDDEN', {
          message: 'You can only create users in your own organization',
        });
      }
      organizationId = principal.organizationId;
    }
    const passwordHash = await this.passwords.hash(input.password);
    return this.store.inTenant(organizationId, (tx) =>
      tx.createUser({ email: input.email.trim().toLowerCase(), role: input.role, passwordHash }),
    );
  }

  async list(
    principal: Principal,
    query: ListQuery & { organizationId?: string },
  ): Promise<ListResult<User>> {
    this.authorize(principal);
    const organizationId = principal.organizationId ?? query.organizationId;
    if (organizationId === undefined) {
      throw validationError('organization_id', 'Is required for a platform admin');
    }
    if (
      principal.organizationId !== null &&
      query.organizationId !== undefined &&
      query.organizationId !== organizationId
    ) {
      throw new AppError('FORBIDDEN', {
        message: "You can only list your own organization's users",
      });
    }
    const request = toPageRequest(this.cursors, `users:${organizationId}`, query);
    const page = await this.store.inTenant(organizationId, (tx) => tx.listUsers(request));
    return toListResult(this.cursors, `users:${organizationId}`, query, page);
  }

  async get(principal: Principal, id: string): Promise<User> {
    this.authorize(principal);
    const organizationId = await tenantOf(this.store, principal, 'user', id);
    const user = await this.store.inTenant(organizationId, (tx) => tx.getUser(id));
    if (!user) throw notFound('User');
    return user;
  }

  async update(
    principal: Principal,
    id: string,
    patch: { role?: Role; password?: string },
  ): Promise<User> {
    this.authorize(principal);
    if (patch.role !== undefined && id === principal.userId) {
      throw new AppError('FORBIDDEN', { message: 'You cannot change your own role' });
    }
    const organizationId = await tenantOf(this.store, principal, 'user', id);
    const passwordHash =
      patch.password === undefined ? undefined : await this.passwords.hash(patch.password);
    const { user, revoked } = await this.store.inTenant(organizationId, async (tx) => {
      const current = await tx.getUser(id);
      if (!current) throw notFound('User');
      if (
        current.role === 'admin' &&
        patch.role !== undefined &&
        patch.role !== 'admin' &&
        (await tx.countAdmins()) <= 1
      ) {
        throw new AppError('CONFLICT', { message: 'An organization must keep at least one admin' });
      }
      const updated = await tx.updateUser(id, {
        ...(patch.role === undefined ? {} : { role: patch.role }),
        ...(passwordHash === undefined ? {} : { passwordHash }),
      });
      if (!updated) throw notFound('User');
      // New credentials or a new role end existing sessions, so tokens never outlive the change.
      const changed =
        (patch.role !== undefined && patch.role !== current.role) || passwordHash !== undefined;
      return { user: updated, revoked: changed ? await tx.revokeUserSessions(id) : [] };
    });
    if (revoked.length > 0)
      await this.revocations.revokeSessions(revoked, this.revocationHorizon());
    return user;
  }

  async delete(principal: Principal, id: string): Promise<void> {
    this.authorize(principal);
    const organizationId = await tenantOf(this.store, principal, 'user', id);
    const revoked = await this.store.inTenant(organizationId, async (tx) => {
      const current = await tx.getUser(id);
      if (!current) throw notFound('User');
      if (current.role === 'admin' && (await tx.countAdmins()) <= 1) {
        throw new AppError('CONFLICT', { message: 'An organization must keep at least one admin' });
      }
      const sessions = await tx.revokeUserSessions(id);
      await tx.revokeUserApiKeys(id, new Date());
      await tx.deleteUser(id);
      return sessions;
    });
    // Access tokens of the deleted user stop working on the next request, on every instance.
    if (revoked.length > 0)
      await this.revocations.revokeSessions(revoked, this.revocationHorizon());
  }
}
