import { notFound, requireScope } from '../authorization.js';
import { AppError, validationError } from '../errors.js';
import type { ApiKey, RateLimitSetting } from '../identity/model.js';
import {
  toListResult,
  toPageRequest,
  type ListQuery,
  type ListResult,
} from '../identity/paging.js';
import type { CursorCodec, IdentityStore } from '../identity/ports.js';
import type { ApiKeySecrets } from '../identity/secrets.js';
import type { Principal, Scope } from '../principal.js';
import { tenantOf } from './tenancy.js';

export interface CreateApiKeyInput {
  name: string;
  scopes: Scope[];
  expiresAt?: Date;
  rateLimit?: RateLimitSetting;
}

type UserPrincipal = Extract<Principal, { kind: 'user' }>;

/**
 * A key minted with an expiring key expires no later than it, or expiry would be a limit the
 * holder lifts by minting a successor. Asking for later is refused rather than clamped, so the
 * caller never holds a key shorter-lived than it believes; asking for nothing means "as long as
 * allowed", which is the creator's expiry. An access token does not bound the key: keys exist to
 * outlive sign-in sessions.
 */
function expiryWithin(creator: UserPrincipal, requested: Date | undefined): Date | null {
  const ceiling = creator.credential.type === 'api_key' ? creator.credential.expiresAt : null;
  if (ceiling === null) return requested ?? null;
  if (requested === undefined) return ceiling;
  if (requested > ceiling) {
    throw validationError(
      'expires_at',
      `Must not be later than ${Math.floor(ceiling.getTime() / 1000)}, when the key creating it expires`,
    );
  }
  return requested;
}

/** Users manage their own keys; org admins see and revoke all keys of their organization. */
export class ApiKeyService {
  constructor(
    private readonly store: IdentityStore,
    private readonly secrets: ApiKeySecrets,
    private readonly cursors: CursorCodec,
    private readonly defaultRateLimit: RateLimitSetting,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private asUser(principal: Principal): UserPrincipal {
    requireScope(principal, 'api_keys:write');
    if (principal.kind !== 'user') {
      throw new AppError('FORBIDDEN', {
        message: 'API keys belong to users; the platform-admin key is set with ADMIN_API_KEY',
      });
    }
    return principal;
  }

  async create(
    principal: Principal,
    input: CreateApiKeyInput,
  ): Promise<{ key: ApiKey; secret: string }> {
    const user = this.asUser(principal);
    const excess = input.scopes.filter((scope) => !user.scopes.has(scope));
    if (excess.length > 0) {
      throw new AppError('FORBIDDEN', {
        message: `A key cannot hold scopes you lack: ${excess.join(', ')}`,
      });
    }
    const ceiling = user.rateLimit ?? this.defaultRateLimit;
    if (
      input.rateLimit &&
      (input.rateLimit.requestsPerMinute > ceiling.requestsPerMinute ||
        input.rateLimit.tokensPerMinute > ceiling.tokensPerMinute)
    ) {
      throw new AppError('FORBIDDEN', {
        message: 'A key cannot have higher rate limits than your own',
      });
    }
    if (input.expiresAt !== undefined && input.expiresAt <= this.now()) {
      throw validationError('expires_at', 'Must be in the future');
    }
    const expiresAt = expiryWithin(user, input.expiresAt);
    const { secret, prefix } = this.secrets.generate();
    const key = await this.store.inTenant(user.organizationId, (tx) =>
      tx.createApiKey({
        userId: user.userId,
        name: input.name,
        prefix,
        secretHash: this.secrets.hash(secret),
        scopes: [...new Set(input.scopes)],
        expiresAt,
        rateLimit: input.rateLimit ?? null,
      }),
    );
    return { key, secret };
  }

  async list(principal: Principal, query: ListQuery): Promise<ListResult<ApiKey>> {
    const user = this.asUser(principal);
    const own = user.role !== 'admin';
    const list = own ? `api_keys:${user.userId}` : `api_keys:${user.organizationId}`;
    const request = toPageRequest(this.cursors, list, query);
    const page = await this.store.inTenant(user.organizationId, (tx) =>
      tx.listApiKeys(own ? { userId: user.userId } : {}, request),
    );
    return toListResult(this.cursors, list, query, page);
  }

  async get(principal: Principal, id: string): Promise<ApiKey> {
    const user = this.asUser(principal);
    const organizationId = await tenantOf(this.store, user, 'api_key', id);
    const key = await this.store.inTenant(organizationId, (tx) => tx.getApiKey(id));
    // Another member's key is as invisible as another organization's.
    if (!key || (user.role !== 'admin' && key.userId !== user.userId)) throw notFound('API key');
    return key;
  }

  async revoke(principal: Principal, id: string): Promise<void> {
    const user = this.asUser(principal);
    await this.store.inTenant(user.organizationId, async (tx) => {
      const key = await tx.getApiKey(id);
      if (!key || (user.role !== 'admin' && key.userId !== user.userId)) throw notFound('API key');
      await tx.revokeApiKey(id, this.now());
    });
  }
}
