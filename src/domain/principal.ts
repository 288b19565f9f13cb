export const SCOPES = [
  'models:read',
  'completions:write',
  'usage:read',
  'api_keys:write',
  'users:write',
] as const;

export type Scope = (typeof SCOPES)[number];

/** Who is calling, built once per request by authentication and passed into every service call. */
export interface Principal {
  id: string;
  kind: 'platform_admin';
  scopes: ReadonlySet<Scope>;
}
