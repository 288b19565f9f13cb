export const SCOPES = [
  'models:read',
  'completions:write',
  'usage:read',
  'api_keys:write',
  'users:write',
] as const;

export type Scope = (typeof SCOPES)[number];

export type Role = 'admin' | 'member' | 'viewer';

/** What each organization role may do; a key's scopes are always cut down to its owner's. */
export const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  admin: SCOPES,
  member: ['models:read', 'completions:write', 'usage:read', 'api_keys:write'],
  viewer: ['models:read', 'usage:read', 'api_keys:write'],
};
