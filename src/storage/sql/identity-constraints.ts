import type { ConstraintMeaning } from './sql-errors.js';

/**
 * What a violated constraint of the identity tables tells the caller. Foreign keys fail when the
 * row referred to is gone or belongs to another organization (the keys include the tenant), which
 * to the caller is the same thing: it does not exist.
 */
export const IDENTITY_CONSTRAINTS: Readonly<Record<string, ConstraintMeaning>> = {
  organizations_name_key: {
    code: 'CONFLICT',
    message: 'An organization with this name already exists',
  },
  users_email_lower_key: { code: 'CONFLICT', message: 'A user with this email already exists' },
  api_keys_prefix_key: { code: 'CONFLICT', message: 'An API key with this prefix already exists' },
  refresh_tokens_pkey: { code: 'CONFLICT', message: 'This refresh token is already stored' },
  users_organization_id_fkey: { code: 'NOT_FOUND', message: 'Organization not found' },
  sessions_user_fkey: { code: 'NOT_FOUND', message: 'User not found in this organization' },
  api_keys_user_fkey: { code: 'NOT_FOUND', message: 'User not found in this organization' },
  refresh_tokens_session_fkey: {
    code: 'NOT_FOUND',
    message: 'Session not found for this user in this organization',
  },
};
