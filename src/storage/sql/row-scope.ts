import type { SqlExecutor, SqlSession } from '../executor.js';

/**
 * Which rows a transaction may see, as the row-level security policies of migration 002 read it.
 *
 * - `tenant`: one organization's rows; everything a request does for a tenant.
 * - `cross_tenant`: every organization's rows; only for the lookups that cannot know the tenant
 *   yet (finding the credential presented) and platform-level views. Each use names its reason.
 * - `no_tenant`: no tenant rows at all; for tables without tenants (idempotency records).
 */
export type RowScope =
  { kind: 'tenant'; organizationId: string } | { kind: 'cross_tenant' } | { kind: 'no_tenant' };

export const CROSS_TENANT: RowScope = { kind: 'cross_tenant' };
export const NO_TENANT: RowScope = { kind: 'no_tenant' };

export function tenant(organizationId: string): RowScope {
  return { kind: 'tenant', organizationId };
}

/** Neither superuser nor BYPASSRLS, so the policies apply to it; created by migration 002. */
export const APP_ROLE = 'inference_app';

// One statement instead of three: set_config('role', …) is what SET ROLE does. All three are
// transaction-local (third argument true), so nothing outlives the transaction on a pooled
// connection, and a superuser connection (the postgres user, PGlite) is stripped of its bypass.
const ENTER_SCOPE = `
  select set_config('role', '${APP_ROLE}', true),
    set_config('app.organization_id', $1, true),
    set_config('app.cross_tenant', $2, true)`;

export interface ScopeOptions {
  /** The transaction only reads: retried once if the connection breaks (PostgreSQL). */
  readOnly?: boolean;
}

/** Runs `fn` in one transaction, as the application role, confined to `scope`. */
export async function inScope<T>(
  db: SqlExecutor,
  scope: RowScope,
  fn: (session: SqlSession) => Promise<T>,
  options: ScopeOptions = {},
): Promise<T> {
  const organizationId = scope.kind === 'tenant' ? scope.organizationId : '';
  if (scope.kind === 'tenant' && organizationId === '') {
    throw new RangeError('A tenant scope needs an organization id');
  }
  const crossTenant = scope.kind === 'cross_tenant' ? 'on' : 'off';
  return await db.transaction(
    async (session) => {
      await session.query(ENTER_SCOPE, [organizationId, crossTenant]);
      return await fn(session);
    },
    { idempotent: options.readOnly === true },
  );
}
