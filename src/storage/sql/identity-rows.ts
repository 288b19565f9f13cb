import type {
  ApiKey,
  Organization,
  RefreshToken,
  Role,
  Session,
  User,
} from '../../domain/identity/model.js';
import { SCOPES } from '../../domain/principal.js';
import type { Scope } from '../../domain/principal.js';
import { toDate, toNullableDate } from './row-values.js';

/** Column lists and row mappers of the identity tables (migration 002). */

export const ORGANIZATION_COLUMNS = 'id, name, created_at';

export interface OrganizationRow {
  id: string;
  name: string;
  created_at: Date | string;
}

export function toOrganization(row: OrganizationRow): Organization {
  return { id: row.id, name: row.name, createdAt: toDate(row.created_at) };
}

export const USER_COLUMNS = 'id, organization_id, email, role, password_hash, created_at';

export interface UserRow {
  id: string;
  organization_id: string;
  email: string;
  role: string;
  password_hash: string;
  created_at: Date | string;
}

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    organizationId: row.organization_id,
    email: row.email,
    role: roleOf(row.role),
    passwordHash: row.password_hash,
    createdAt: toDate(row.created_at),
  };
}

export const SESSION_COLUMNS =
  'id, organization_id, user_id, created_at, last_used_at, expires_at, revoked_at';

export interface SessionRow {
  id: string;
  organization_id: string;
  user_id: string;
  created_at: Date | string;
  last_used_at: Date | string;
  expires_at: Date | string;
  revoked_at: Date | string | null;
}

export function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.user_id,
    organizationId: row.organization_id,
    createdAt: toDate(row.created_at),
    lastUsedAt: toDate(row.last_used_at),
    expiresAt: toDate(row.expires_at),
    revokedAt: toNullableDate(row.revoked_at),
  };
}

export const REFRESH_TOKEN_COLUMNS =
  'token_hash, session_id, organization_id, user_id, expires_at, spent_at';

export interface RefreshTokenRow {
  token_hash: string;
  session_id: string;
  organization_id: string;
  user_id: string;
  expires_at: Date | string;
  spent_at: Date | string | null;
}

export function toRefreshToken(row: RefreshTokenRow): RefreshToken {
  return {
    tokenHash: row.token_hash,
    sessionId: row.session_id,
    organizationId: row.organization_id,
    userId: row.user_id,
    expiresAt: toDate(row.expires_at),
    spentAt: toNullableDate(row.spent_at),
  };
}

export const API_KEY_COLUMNS =
  'id, organization_id, user_id, name, prefix, secret_hash, scopes, platform_admin, expires_at, ' +
  'rate_limit_rpm, rate_limit_tpm, last_used_at, created_at, revoked_at';

export interface ApiKeyRow {
  id: string;
  organization_id: string | null;
  user_id: string | null;
  name: string;
  prefix: string;
  secret_hash: string;
  scopes: string[];
  platform_admin: boolean;
  expires_at: Date | string | null;
  rate_limit_rpm: number | null;
  rate_limit_tpm: number | null;
  last_used_at: Date | string | null;
  created_at: Date | string;
  revoked_at: Date | string | null;
}

export function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    organizationId: row.organization_id,
    userId: row.user_id,
    name: row.name,
    prefix: row.prefix,
    secretHash: row.secret_hash,
    scopes: row.scopes.map(scopeOf),
    platformAdmin: row.platform_admin,
    expiresAt: toNullableDate(row.expires_at),
    // The CHECK constraint sets both or neither.
    rateLimit:
      row.rate_limit_rpm === null || row.rate_limit_tpm === null
        ? null
        : { requestsPerMinute: row.rate_limit_rpm, tokensPerMinute: row.rate_limit_tpm },
    lastUsedAt: toNullableDate(row.last_used_at),
    createdAt: toDate(row.created_at),
    revokedAt: toNullableDate(row.revoked_at),
  };
}

const ROLES: ReadonlySet<string> = new Set<Role>(['admin', 'member', 'viewer']);
const KNOWN_SCOPES: ReadonlySet<string> = new Set<string>(SCOPES);

// The CHECK constraints make these unreachable unless the schema and this code drift apart.
function roleOf(value: string): Role {
  if (!ROLES.has(value)) throw new Error(`Unexpected user role in database: ${value}`);
  return value as Role;
}

function scopeOf(value: string): Scope {
  if (!KNOWN_SCOPES.has(value)) throw new Error(`Unexpected API key scope in database: ${value}`);
  return value as Scope;
}
