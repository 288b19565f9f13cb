import type { Scope } from '../access.js';
import type {
  ApiKey,
  Organization,
  Page,
  PageRequest,
  RateLimitSetting,
  RefreshToken,
  Role,
  Session,
  User,
} from './model.js';

/**
 * Identity storage. Methods on IdentityStore itself are the few that must look across tenants
 * (finding the credential presented, platform-admin views); everything else runs inside
 * `inTenant`, where row-level security limits every query to one organization's rows.
 *
 * Unique violations surface as AppError('CONFLICT'); a missing row as `null` (never an error).
 */
export interface IdentityStore {
  createOrganization(input: { name: string }): Promise<Organization>;
  listOrganizations(page: PageRequest): Promise<Page<Organization>>;
  getOrganization(id: string): Promise<Organization | null>;

  /** Authentication lookups (cross-tenant by necessity). */
  findUserByEmail(email: string): Promise<User | null>;
  findApiKeyByPrefix(prefix: string): Promise<ApiKey | null>;
  findRefreshToken(tokenHash: string): Promise<RefreshToken | null>;
  /** Creates or updates the platform-admin key (ADMIN_API_KEY) so exactly one exists. */
  upsertPlatformAdminKey(input: { prefix: string; secretHash: string }): Promise<void>;
  /** Revokes the stored platform-admin key (ADMIN_API_KEY unset); false when none was live. */
  revokePlatformAdminKey(at: Date): Promise<boolean>;
  /** Sessions are checked on every request carrying an access token. */
  getSessionForAuth(sessionId: string): Promise<Session | null>;
  /** The organization owning a tenant resource, for platform admins who belong to none. */
  organizationOf(resource: TenantResource, id: string): Promise<string | null>;
  /** Best-effort, off the request's critical path. */
  touchApiKey(id: string, at: Date): Promise<void>;

  /** Runs `fn` in one transaction as `organizationId`; RLS confines every statement to it. */
  inTenant<T>(organizationId: string, fn: (tx: TenantStore) => Promise<T>): Promise<T>;
}

export type TenantResource = 'user' | 'session' | 'api_key';

export interface NewUser {
  email: string;
  role: Role;
  passwordHash: string;
}

export interface NewApiKey {
  userId: string;
  name: string;
  prefix: string;
  secretHash: string;
  scopes: Scope[];
  expiresAt: Date | null;
  rateLimit: RateLimitSetting | null;
}

/** Everything here is confined to the transaction's organization by the database itself. */
export interface TenantStore {
  readonly organizationId: string;

  createUser(input: NewUser): Promise<User>;
  listUsers(page: PageRequest): Promise<Page<User>>;
  getUser(id: string): Promise<User | null>;
  updateUser(id: string, patch: { role?: Role; passwordHash?: string }): Promise<User | null>;
  /** Deletes the user; their sessions and API keys are revoked in the same transaction. */
  deleteUser(id: string): Promise<boolean>;
  /**
   * Locks the organization's admins until the transaction ends, so that of two concurrent
   * demotions or deletions of admins the second counts after the first has committed.
   */
  countAdmins(): Promise<number>;

  createSession(input: { userId: string; expiresAt: Date }): Promise<Session>;
  listSessions(userId: string, page: PageRequest): Promise<Page<Session>>;
  getSession(id: string): Promise<Session | null>;
  touchSession(id: string, at: Date): Promise<void>;
  /** Returns the ids of sessions newly revoked. */
  revokeSession(id: string): Promise<string[]>;
  revokeUserSessions(userId: string): Promise<string[]>;

  insertRefreshToken(input: {
    tokenHash: string;
    sessionId: string;
    userId: string;
    expiresAt: Date;
  }): Promise<void>;
  /** Atomically marks the token spent; null when it was already spent (a reuse) or is unknown. */
  spendRefreshToken(tokenHash: string, at: Date): Promise<RefreshToken | null>;

  createApiKey(input: NewApiKey): Promise<ApiKey>;
  /** `userId` limits the list to one user's keys. Revoked keys are not listed. */
  listApiKeys(filter: { userId?: string }, page: PageRequest): Promise<Page<ApiKey>>;
  getApiKey(id: string): Promise<ApiKey | null>;
  revokeApiKey(id: string, at: Date): Promise<boolean>;
  revokeUserApiKeys(userId: string, at: Date): Promise<void>;
}

/** Revoked sessions, visible to every instance on the next request. */
export interface RevocationList {
  revokeSessions(sessionIds: string[], until: Date): Promise<void>;
  isSessionRevoked(sessionId: string): Promise<boolean>;
}

export interface PendingRevocation {
  sessionId: string;
  until: Date;
}

/**
 * Revocations the shared list (Redis) could not take when they were made, kept durably (in the
 * database) until some instance has written them there.
 */
export interface RevocationBacklog {
  add(sessionIds: string[], until: Date): Promise<void>;
  /** The oldest entries whose `until` has not passed. */
  pending(limit: number): Promise<PendingRevocation[]>;
  /** Forgets published entries (unless re-added since with a later `until`) and lapsed ones. */
  remove(published: PendingRevocation[]): Promise<void>;
}

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type IdempotencyBegin =
  /** `claim` identifies this request's hold on the key in complete and release. */
  | { state: 'started'; claim: string }
  | { state: 'replay'; response: StoredResponse }
  | { state: 'in_progress' }
  | { state: 'mismatch' };

/** How long records live, chosen by the domain (IdempotencyService). */
export interface IdempotencyTimes {
  /** An unfinished claim lapses this long after it was taken, so a crashed request frees its key. */
  leaseSeconds: number;
  /** A stored response is replayed this long after the first request. */
  retentionSeconds: number;
}

/** Idempotency-Key records, per credential. */
export interface IdempotencyStore {
  /**
   * Claims (scope, key) for this request, atomically: concurrent duplicates see in_progress. A
   * record past its expiry (a lapsed claim or an old response) is claimed as if it were absent.
   */
  begin(
    scope: string,
    key: string,
    requestHash: string,
    times: IdempotencyTimes,
  ): Promise<IdempotencyBegin>;
  /** Stores the response; does nothing when `claim` lapsed and another request holds the key. */
  complete(
    scope: string,
    key: string,
    claim: string,
    response: StoredResponse,
    times: IdempotencyTimes,
  ): Promise<void>;
  /** Forgets a claim whose outcome must not be replayed; as complete, only while it is `claim`'s. */
  release(scope: string, key: string, claim: string): Promise<void>;
  /** Deletes expired records, `batchSize` per statement, until none is left or `signal` aborts. */
  purgeExpired(options: { batchSize: number; signal?: AbortSignal }): Promise<{ deleted: number }>;
}

export interface LoginThrottleDecision {
  allowed: boolean;
  retryAfterSeconds: number;
}

/** Slows and then refuses repeated failed logins per account and per address. */
export interface LoginThrottle {
  check(keys: string[]): Promise<LoginThrottleDecision>;
  recordFailure(keys: string[]): Promise<void>;
  /** Ends a checked attempt that succeeded without forgetting the keys' earlier failures. */
  release(keys: string[]): Promise<void>;
  reset(keys: string[]): Promise<void>;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Constant-time; false for a malformed hash. */
  verify(hash: string, password: string): Promise<boolean>;
}

export interface AccessTokenClaims {
  /** User id. */
  sub: string;
  sessionId: string;
  organizationId: string;
  role: Role;
  jti: string;
  expiresAt: Date;
}

export interface AccessTokenIssuer {
  readonly ttlSeconds: number;
  issue(
    claims: Omit<AccessTokenClaims, 'jti' | 'expiresAt'>,
  ): Promise<{ token: string; jti: string; expiresAt: Date }>;
  /** Throws AppError('UNAUTHORIZED') for anything but a valid, current token of ours. */
  verify(token: string): Promise<AccessTokenClaims>;
  /** Public keys of every active signing key (for GET /.well-known/jwks.json). */
  jwks(): { keys: Record<string, unknown>[] };
}

/** Opaque, tamper-evident list cursors. */
export interface CursorCodec {
  /** `list` names the list (e.g. 'users'), so a cursor of one list is refused by another. */
  encode(list: string, payload: Record<string, unknown>): string;
  /** Throws AppError('VALIDATION_ERROR', param 'cursor') if malformed, forged or of another list. */
  decode(cursor: string, list: string): Record<string, unknown>;
}
