import { AppError } from './errors.js';
import type { Principal, Scope } from './principal.js';

/** Services call this themselves so that a route that forgets a hook still cannot act. */
export function requireScope(principal: Principal, scope: Scope): void {
  if (!principal.scopes.has(scope)) {
    throw new AppError('FORBIDDEN', { message: `This credential lacks the ${scope} scope` });
  }
}
