import { AppError } from './errors.js';
import type { Principal, Scope } from './principal.js';

/** Services call these themselves so that a route that forgets a hook still cannot act. */
export function requireScope(principal: Principal, scope: Scope): void {
  if (!principal.scopes.has(scope)) {
    throw new AppError('FORBIDDEN', { message: `This credential lacks the ${scope} scope` });
  }
}

export function requirePlatformAdmin(principal: Principal): void {
  if (principal.kind !== 'platform_admin') {
    throw new AppError('FORBIDDEN', { message: 'Only a platform admin may do this' });
  }
}

/** Platform admins act in any organization; everyone else only in their own. */
export function isPlatformAdmin(
  principal: Principal,
): principal is Extract<Principal, { kind: 'platform_admin' }> {
  return principal.kind === 'platform_admin';
}

/** Organization admins of their own organization, and platform admins. */
export function requireOrgAdmin(principal: Principal): void {
  if (principal.kind === 'platform_admin') return;
  if (principal.role !== 'admin') {
    throw new AppError('FORBIDDEN', { message: 'Only an organization admin may do this' });
  }
}

export function notFound(what: string): AppError {
  return new AppError('NOT_FOUND', { message: `${what} not found` });
}
