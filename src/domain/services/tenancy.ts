import { notFound } from '../authorization.js';
import type { IdentityStore, TenantResource } from '../identity/ports.js';
import type { Principal } from '../principal.js';

/**
 * The organization a request acts in: the caller's own, or — for a platform admin, who belongs
 * to none — the one that owns the resource. An id that exists nowhere is a 404 either way.
 */
export async function tenantOf(
  store: IdentityStore,
  principal: Principal,
  resource: TenantResource,
  id: string,
): Promise<string> {
  if (principal.organizationId !== null) return principal.organizationId;
  const organizationId = await store.organizationOf(resource, id);
  if (organizationId === null) throw notFound(RESOURCE_NAMES[resource]);
  return organizationId;
}

export const RESOURCE_NAMES: Record<TenantResource, string> = {
  user: 'User',
  session: 'Session',
  api_key: 'API key',
};
