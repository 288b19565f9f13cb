import type { Role, Scope } from '../access.js';

export type { Role } from '../access.js';

export interface Organization {
  id: string;
  name: string;
  createdAt: Date;
}

export interface User {
  id: string;
  organizationId: string;
  email: string;
  role: Role;
  /** argon2id PHC string; never leaves the domain. */
  passwordHash: string;
  createdAt: Date;
}

export interface Session {
  id: string;
  userId: string;
  organizationId: string;
  createdAt: Date;
  lastUsedAt: Date;
  /** When the refresh chain ends at the latest. */
  expiresAt: Date;
  revokedAt: Date | null;
}

export interface RefreshToken {
  /** SHA-256 (hex) of the opaque token; the token itself is never stored. */
  tokenHash: string;
  sessionId: string;
  organizationId: string;
  userId: string;
  expiresAt: Date;
  spentAt: Date | null;
}

export interface RateLimitSetting {
  requestsPerMinute: number;
  tokensPerMinute: number;
}

export interface ApiKey {
  id: string;
  /** null only for the platform-admin key from ADMIN_API_KEY. */
  organizationId: string | null;
  userId: string | null;
  name: string;
  /** Public part of the secret used to find the key; unique. */
  prefix: string;
  /** SHA-256 (hex) of the whole secret. */
  secretHash: string;
  scopes: Scope[];
  platformAdmin: boolean;
  expiresAt: Date | null;
  rateLimit: RateLimitSetting | null;
  lastUsedAt: Date | null;
  createdAt: Date;
  revokedAt: Date | null;
}

/** Keyset position of a list: rows are ordered by (createdAt, id) ascending. */
export interface PagePosition {
  createdAt: Date;
  id: string;
}

export interface PageRequest {
  limit: number;
  after?: PagePosition;
}

export interface Page<T> {
  items: T[];
  hasMore: boolean;
}
