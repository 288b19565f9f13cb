import type { ApiKey, Organization, Session, User } from '../../../domain/identity/model.js';
import type { ListResult } from '../../../domain/identity/paging.js';

/** The API speaks unix seconds, like the OpenAI API. */
export function unix(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

export function unixOrNull(date: Date | null): number | null {
  return date === null ? null : unix(date);
}

export function listBody<T, R>(result: ListResult<T>, present: (item: T) => R) {
  return {
    object: 'list' as const,
    data: result.items.map(present),
    pagination: {
      cursor: result.nextCursor,
      has_more: result.nextCursor !== null,
      limit: result.limit,
    },
  };
}

export function organizationBody(org: Organization) {
  return { id: org.id, object: 'organization', name: org.name, created_at: unix(org.createdAt) };
}

export function userBody(user: User) {
  return {
    id: user.id,
    object: 'user',
    organization_id: user.organizationId,
    email: user.email,
    role: user.role,
    created_at: unix(user.createdAt),
  };
}

export function sessionBody(session: Session, currentSessionId: string | null) {
  return {
    id: session.id,
    object: 'session',
    user_id: session.userId,
    created_at: unix(session.createdAt),
    last_used_at: unix(session.lastUsedAt),
    expires_at: unix(session.expiresAt),
    current: session.id === currentSessionId,
  };
}

export function apiKeyBody(key: ApiKey) {
  return {
    id: key.id,
    object: 'api_key',
    name: key.name,
    prefix: key.prefix,
    scopes: key.scopes,
    expires_at: unixOrNull(key.expiresAt),
    rate_limit: key.rateLimit && {
      requests_per_minute: key.rateLimit.requestsPerMinute,
      tokens_per_minute: key.rateLimit.tokensPerMinute,
    },
    last_used_at: unixOrNull(key.lastUsedAt),
    created_at: unix(key.createdAt),
    user_id: key.userId,
    organization_id: key.organizationId,
  };
}

export function deletedBody(id: string, object: string) {
  return { id, object: `${object}.deleted`, deleted: true as const };
}
