import type { Role, Scope } from './access.js';
import type { RateLimitSetting } from './identity/model.js';

export { ROLE_SCOPES, SCOPES, type Role, type Scope } from './access.js';

export type Credential =
  | { type: 'api_key'; keyId: string; expiresAt: Date | null }
  | { type: 'access_token'; sessionId: string; jti: string; expiresAt: Date };

/** Who is calling, built once per request by authentication and passed into every service call. */
export type Principal =
  | {
      kind: 'platform_admin';
      id: string;
      userId: null;
      organizationId: null;
      role: null;
      scopes: ReadonlySet<Scope>;
      credential: Credential;
      rateLimit: RateLimitSetting | null;
    }
  | {
      kind: 'user';
      /** The user's id. */
      id: string;
      userId: string;
      organizationId: string;
      role: Role;
      scopes: ReadonlySet<Scope>;
      credential: Credential;
      rateLimit: RateLimitSetting | null;
    };
