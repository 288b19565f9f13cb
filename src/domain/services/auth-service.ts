import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { InferenceObserver } from '../observability.js';
import type { ApiKey, User } from '../identity/model.js';
import type {
  AccessTokenIssuer,
  IdentityStore,
  LoginThrottle,
  PasswordHasher,
  RevocationList,
  TenantStore,
} from '../identity/ports.js';
import type { ApiKeySecrets } from '../identity/secrets.js';
import { ROLE_SCOPES, SCOPES, type Principal, type Scope } from '../principal.js';

export interface TokenPair {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
}

export interface AuthServiceDeps {
  store: IdentityStore;
  tokens: AccessTokenIssuer;
  passwords: PasswordHasher & { dummyVerify(): Promise<void> };
  revocations: RevocationList;
  /** Failed sign-ins per (account, address) and per account. */
  throttle: LoginThrottle;
  /** Failed sign-ins per address, over every account tried from it: a laxer policy. */
  addressThrottle: LoginThrottle;
  secrets: ApiKeySecrets;
  logger: Logger;
  /** How long a session may be kept alive by refreshing. */
  sessionTtlSeconds?: number;
  now?: () => Date;
  observer?: InferenceObserver;
}

const INVALID_LOGIN = 'Invalid email or password';
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
// last_used_at is informational; writing it on every request would make each call a write.
const TOUCH_INTERVAL_MS = 60_000;

function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

function unauthorized(message = 'Invalid credentials'): AppError {
  return new AppError('UNAUTHORIZED', { message });
}

/** Credentials in, Principal out; sign-in, refresh rotation with reuse detection, and logout. */
export class AuthService {
  private readonly now: () => Date;
  private readonly sessionTtlMs: number;

  constructor(private readonly deps: AuthServiceDeps) {
    this.now = deps.now ?? (() => new Date());
    this.sessionTtlMs = (deps.sessionTtlSeconds ?? 30 * 24 * 3600) * 1000;
  }

  /**
   * Makes ADMIN_API_KEY a stored platform-admin key, found and compared like any other. The row
   * follows the setting: a new value replaces the old secret, and no value revokes the row, since
   * unsetting the setting is how an operator retires a leaked key.
   */
  async bootstrapAdminKey(adminApiKey: string | undefined): Promise<void> {
    const { secrets } = this.deps;
    if (!adminApiKey) {
      if (await this.deps.store.revokePlatformAdminKey(this.now())) {
        this.deps.logger.warn(
          { component: 'auth' },
          'ADMIN_API_KEY is not set: the stored platform-admin key is revoked',
        );
      }
      return;
    }
    await this.deps.store.upsertPlatformAdminKey({
      prefix: secrets.prefixOf(adminApiKey),
      secretHash: secrets.hash(adminApiKey),
    });
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const credential = parseBearer(authorization);
    if (!credential.startsWith('sk-') && JWT_SHAPE.test(credential)) {
      return this.authenticateAccessToken(credential);
    }
    return this.authenticateApiKey(credential);
  }

  private async authenticateAccessToken(token: string): Promise<Principal> {
    const claims = await this.deps.tokens.verify(token);
    if (await this.deps.revocations.isSessionRevoked(claims.sessionId)) {
      throw unauthorized('Session has been revoked');
    }
    return {
      kind: 'user',
      id: claims.sub,
      userId: claims.sub,
      organizationId: claims.organizationId,
      role: claims.role,
      scopes: new Set(ROLE_SCOPES[claims.role]),
      credential: {
        type: 'access_token',
        sessionId: claims.sessionId,
        jti: claims.jti,
        expiresAt: claims.expiresAt,
      },
      rateLimit: null,
    };
  }

  private async authenticateApiKey(secret: string): Promise<Principal> {
    const { store, secrets } = this.deps;
    const key = await store.findApiKeyByPrefix(secrets.prefixOf(secret));
    // The hash is compared even when the key is unusable, so timing says nothing about why.
    const matches = key !== null && secrets.matches(key.secretHash, secret);
    if (!key || !matches || key.revokedAt !== null) throw unauthorized();
    const now = this.now();
    if (key.expiresAt !== null && key.expiresAt <= now) throw unauthorized('API key has expired');
    this.touch(key, now);
    if (key.platformAdmin) {
      return {
        kind: 'platform_admin',
        id: key.id,
        userId: null,
        organizationId: null,
        role: null,
        scopes: new Set(SCOPES),
        credential: { type: 'api_key', keyId: key.id, expiresAt: key.expiresAt },
        rateLimit: key.rateLimit,
      };
    }
    const { organizationId, userId } = key;
    if (organizationId === null || userId === null) throw unauthorized();
    const user = await store.inTenant(organizationId, (tx) => tx.getUser(userId));
    if (!user) throw unauthorized();
    // A key never holds more than its owner holds now, even after the owner was demoted.
    const allowed = new Set<Scope>(ROLE_SCOPES[user.role]);
    return {
      kind: 'user',
      id: user.id,
      userId: user.id,
      organizationId: user.organizationId,
      role: user.role,
      scopes: new Set(key.scopes.filter((scope) => allowed.has(scope))),
      credential: { type: 'api_key', keyId: key.id, expiresAt: key.expiresAt },
      rateLimit: key.rateLimit,
    };
  }

  private touch(key: ApiKey, now: Date): void {
    if (key.lastUsedAt && now.getTime() - key.lastUsedAt.getTime() < TOUCH_INTERVAL_MS) return;
    this.deps.store.touchApiKey(key.id, now).catch((error: unknown) => {
      this.deps.logger.warn({ err: error, key_id: key.id }, 'could not record API key use');
    });
  }

  /**
   * Failures are throttled before the password is checked per (account, address) and per address,
   * so an attacker at one address slows only itself. Across addresses they are counted per account
   * too, but that count is consulted only after a wrong password: refusing before the check would
   * let anyone lock the owner out of their account from elsewhere.
   */
  async login(email: string, password: string, clientAddress: string): Promise<TokenPair> {
    const { store, passwords, throttle, addressThrottle } = this.deps;
    const normalized = email.trim().toLowerCase();
    const account = sha256(normalized);
    const pairKey = `login:account-ip:${account}:${clientAddress}`;
    const addressKey = `login:ip:${clientAddress}`;
    const accountKey = `login:email:${account}`;
    const gate = await throttle.check([pairKey]);
    if (!gate.allowed) throw this.signInRefused(gate.retryAfterSeconds, 'account_address');
    const addressGate = await addressThrottle.check([addressKey]);
    if (!addressGate.allowed) {
      await throttle.release([pairKey]);
      throw this.signInRefused(addressGate.retryAfterSeconds, 'address');
    }
    const user = await store.findUserByEmail(normalized);
    // Unknown emails cost one hash verification too, and get the same answer.
    const valid = user
      ? await passwords.verify(user.passwordHash, password)
      : await passwords.dummyVerify().then(() => false);
    if (!user || !valid) {
      const accountDecision = await throttle.check([accountKey]);
      await throttle.recordFailure(accountDecision.allowed ? [pairKey, accountKey] : [pairKey]);
      await addressThrottle.recordFailure([addressKey]);
      if (!accountDecision.allowed) {
        throw this.signInRefused(accountDecision.retryAfterSeconds, 'account');
      }
      throw unauthorized(INVALID_LOGIN);
    }
    await throttle.reset([pairKey]);
    // The address keeps its failures: otherwise signing in to an account of one's own between
    // guesses would clear the count for every other account tried from that address.
    await addressThrottle.release([addressKey]);
    const now = this.now();
    return store.inTenant(user.organizationId, async (tx) => {
      const session = await tx.createSession({
        userId: user.id,
        expiresAt: new Date(now.getTime() + this.sessionTtlMs),
      });
      return this.issuePair(tx, user, session.id, session.expiresAt);
    });
  }

  private signInRefused(
    retryAfter: number,
    refusedBy: 'account_address' | 'address' | 'account',
  ): AppError {
    this.deps.observer?.rateLimited('sign_in');
    const retryAfterSeconds = Math.max(1, Math.ceil(retryAfter));
    return new AppError('RATE_LIMITED', {
      message: 'Too many failed sign-in attempts; retry later',
      headers: { 'retry-after': String(retryAfterSeconds) },
      logFields: { limit: 'sign_in', refused_by: refusedBy, retry_after_s: retryAfterSeconds },
    });
  }

  private async issuePair(
    tx: TenantStore,
    user: User,
    sessionId: string,
    sessionExpiresAt: Date,
  ): Promise<TokenPair> {
    const refreshToken = `rt_${randomBytes(32).toString('base64url')}`;
    await tx.insertRefreshToken({
      tokenHash: sha256(refreshToken),
      sessionId,
      userId: user.id,
      expiresAt: sessionExpiresAt,
    });
    const access = await this.deps.tokens.issue({
      sub: user.id,
      sessionId,
      organizationId: user.organizationId,
      role: user.role,
    });
    return { accessToken: access.token, expiresIn: this.deps.tokens.ttlSeconds, refreshToken };
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const { store } = this.deps;
    const tokenHash = sha256(refreshToken);
    const record = await store.findRefreshToken(tokenHash);
    if (!record) throw unauthorized('Invalid refresh token');
    const now = this.now();
    const outcome = await store.inTenant(record.organizationId, async (tx) => {
      const spent = await tx.spendRefreshToken(tokenHash, now);
      if (!spent) {
        // A spent token presented again means it was copied: end the whole session family.
        return { reused: true as const, revoked: await tx.revokeSession(record.sessionId) };
      }
      const session = await tx.getSession(record.sessionId);
      const user = await tx.getUser(record.userId);
      if (
        !session ||
        session.revokedAt ||
        session.expiresAt <= now ||
        spent.expiresAt <= now ||
        !user
      ) {
        return { reused: false as const, pair: null };
      }
      await tx.touchSession(session.id, now);
      return {
        reused: false as const,
        pair: await this.issuePair(tx, user, session.id, session.expiresAt),
      };
    });
    if (outcome.reused) {
      await this.deps.revocations.revokeSessions(outcome.revoked, this.revocationHorizon(now));
      this.deps.logger.warn(
        { session_id: record.sessionId },
        'refresh token reuse: session revoked',
      );
      throw unauthorized('Refresh token was already used; the session has been revoked');
    }
    if (!outcome.pair) throw unauthorized('Session has ended');
    return outcome.pair;
  }

  async logout(principal: Principal): Promise<void> {
    if (principal.credential.type !== 'access_token' || principal.organizationId === null) {
      throw new AppError('FORBIDDEN', {
        message: 'Logout needs an access token; delete API keys instead',
      });
    }
    const { sessionId } = principal.credential;
    const revoked = await this.deps.store.inTenant(principal.organizationId, (tx) =>
      tx.revokeSession(sessionId),
    );
    await this.deps.revocations.revokeSessions(
      revoked.length > 0 ? revoked : [sessionId],
      this.revocationHorizon(this.now()),
    );
  }

  jwks(): { keys: Record<string, unknown>[] } {
    return this.deps.tokens.jwks();
  }

  /** Revocation entries outlive every access token that could name the session. */
  revocationHorizon(now: Date): Date {
    return new Date(now.getTime() + (this.deps.tokens.ttlSeconds + 60) * 1000);
  }
}

function parseBearer(authorization: string | undefined): string {
  if (authorization === undefined || authorization === '') {
    throw unauthorized('Missing Authorization header');
  }
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization);
  if (!match?.[1]) throw unauthorized('Authorization header must be "Bearer <credential>"');
  return match[1];
}
