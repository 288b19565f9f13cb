import { notFound, requireScope } from '../authorization.js';
import { AppError } from '../errors.js';
import type { Session } from '../identity/model.js';
import {
  toListResult,
  toPageRequest,
  type ListQuery,
  type ListResult,
} from '../identity/paging.js';
import type { CursorCodec, IdentityStore, RevocationList } from '../identity/ports.js';
import type { Principal } from '../principal.js';
import { tenantOf } from './tenancy.js';

/**
 * A user sees and ends their own sessions; org admins (and platform admins) anyone's. Sessions are
 * credentials, so they take the credentials scope, `api_keys:write`, as API keys do: every role
 * holds it, and a key cut down to, say, `models:read` cannot sign anyone out.
 */
export class SessionService {
  constructor(
    private readonly store: IdentityStore,
    private readonly revocations: RevocationList,
    private readonly cursors: CursorCodec,
    private readonly revocationHorizon: () => Date,
  ) {}

  private mayManage(principal: Principal, userId: string): boolean {
    return (
      principal.kind === 'platform_admin' ||
      principal.role === 'admin' ||
      principal.userId === userId
    );
  }

  async listForUser(
    principal: Principal,
    userId: string,
    query: ListQuery,
  ): Promise<ListResult<Session>> {
    requireScope(principal, 'api_keys:write');
    const organizationId = await tenantOf(this.store, principal, 'user', userId);
    const list = `sessions:${userId}`;
    const request = toPageRequest(this.cursors, list, query);
    const page = await this.store.inTenant(organizationId, async (tx) => {
      if (!(await tx.getUser(userId))) throw notFound('User');
      if (!this.mayManage(principal, userId)) {
        throw new AppError('FORBIDDEN', {
          message: "Only the user or an admin may see a user's sessions",
        });
      }
      return tx.listSessions(userId, request);
    });
    return toListResult(this.cursors, list, query, page);
  }

  async revoke(principal: Principal, sessionId: string): Promise<void> {
    requireScope(principal, 'api_keys:write');
    const organizationId = await tenantOf(this.store, principal, 'session', sessionId);
    const revoked = await this.store.inTenant(organizationId, async (tx) => {
      const session = await tx.getSession(sessionId);
      if (!session) throw notFound('Session');
      if (!this.mayManage(principal, session.userId)) throw notFound('Session');
      return tx.revokeSession(sessionId);
    });
    await this.revocations.revokeSessions(
      revoked.length > 0 ? revoked : [sessionId],
      this.revocationHorizon(),
    );
  }
}
