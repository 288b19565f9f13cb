-- Organizations (tenants), their users, sign-in sessions, refresh tokens and API keys, plus the
-- Idempotency-Key records; tenant isolation enforced by row-level security.
--
-- Every statement of the application runs as the role inference_app (`set local role` at the
-- start of each transaction, see src/storage/sql/row-scope.ts), which is neither superuser nor
-- BYPASSRLS, so the policies below hold even though the connecting user may be a superuser (as on
-- PGlite, always). A transaction sees one organization's rows (app.organization_id) or, for the
-- few authentication and platform-level lookups, every organization's (app.cross_tenant = 'on').
--
-- created_at columns are timestamptz(3): list cursors carry a JavaScript Date, which has
-- millisecond precision, so a microsecond timestamp would make a page boundary repeat its row.

-- Roles are shared by every database of the cluster, and several databases (tests, or staging next
-- to production) may run this migration at the same moment: the loser of the race sees
-- duplicate_object if the winner has committed, unique_violation on pg_authid if it has not.
do $$
begin
  create role inference_app nologin nosuperuser nobypassrls noinherit;
exception
  when duplicate_object or unique_violation then null;
end
$$;

do $$
begin
  -- Someone may have created the role by hand; with either attribute the policies would be void.
  if exists (
    select 1 from pg_roles where rolname = 'inference_app' and (rolsuper or rolbypassrls)
  ) then
    raise exception 'role inference_app must be NOSUPERUSER NOBYPASSRLS for row-level security';
  end if;
  -- A superuser may SET ROLE to anything; any other migrating user needs membership to do so.
  if not exists (select 1 from pg_roles where rolname = current_user and rolsuper) then
    begin
      grant inference_app to current_user;
    exception
      when duplicate_object or unique_violation then null;
    end;
  end if;
end
$$;

create table organizations (
  id text not null,
  name text not null,
  created_at timestamptz(3) not null default now(),
  constraint organizations_pkey primary key (id),
  constraint organizations_name_key unique (name),
  constraint organizations_id_format check (id ~ '^org_[A-Za-z0-9_-]{8,64}$'),
  constraint organizations_name_length check (char_length(name) between 1 and 200)
);

create index organizations_created_at_id_idx on organizations (created_at, id);

create table users (
  id text not null,
  organization_id text not null,
  -- Stored lower-cased by the application; the unique index below compares lower() anyway, so a
  -- row written by hand cannot slip a second spelling of an address in.
  email text not null,
  role text not null,
  password_hash text not null,
  created_at timestamptz(3) not null default now(),
  constraint users_pkey primary key (id),
  -- Target of the composite foreign keys that keep sessions and keys in their user's organization.
  constraint users_id_organization_id_key unique (id, organization_id),
  constraint users_organization_id_fkey foreign key (organization_id) references organizations (id),
  constraint users_id_format check (id ~ '^user_[A-Za-z0-9_-]{8,64}$'),
  constraint users_email_length check (char_length(email) between 3 and 320),
  constraint users_role_check check (role in ('admin', 'member', 'viewer')),
  constraint users_password_hash_length check (char_length(password_hash) between 1 and 1000)
);

-- Unique across the platform, not per organization: sign-in finds the user by email alone.
create unique index users_email_lower_key on users (lower(email));
create index users_organization_id_created_at_id_idx on users (organization_id, created_at, id);

create table sessions (
  id text not null,
  organization_id text not null,
  user_id text not null,
  created_at timestamptz(3) not null default now(),
  last_used_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  constraint sessions_pkey primary key (id),
  constraint sessions_id_user_id_organization_id_key unique (id, user_id, organization_id),
  -- Deleting a user deletes their sessions, which is what revokes them for good.
  constraint sessions_user_fkey foreign key (user_id, organization_id)
    references users (id, organization_id) on delete cascade,
  constraint sessions_id_format check (id ~ '^sess_[A-Za-z0-9_-]{8,64}$')
);

create index sessions_user_id_created_at_id_idx on sessions (user_id, created_at, id);
create index sessions_organization_id_created_at_id_idx
  on sessions (organization_id, created_at, id);

create table refresh_tokens (
  token_hash text not null,
  session_id text not null,
  organization_id text not null,
  user_id text not null,
  expires_at timestamptz not null,
  spent_at timestamptz,
  created_at timestamptz(3) not null default now(),
  constraint refresh_tokens_pkey primary key (token_hash),
  -- One key over all three columns, so a token can only name its own session's user and tenant.
  constraint refresh_tokens_session_fkey foreign key (session_id, user_id, organization_id)
    references sessions (id, user_id, organization_id) on delete cascade,
  constraint refresh_tokens_token_hash_length check (char_length(token_hash) between 1 and 200)
);

create index refresh_tokens_session_id_idx on refresh_tokens (session_id);

create table api_keys (
  id text not null,
  -- Both null only for the platform-admin key (ADMIN_API_KEY), which belongs to no organization.
  organization_id text,
  user_id text,
  name text not null,
  prefix text not null,
  secret_hash text not null,
  scopes text[] not null,
  platform_admin boolean not null default false,
  expires_at timestamptz,
  rate_limit_rpm integer,
  rate_limit_tpm integer,
  last_used_at timestamptz,
  created_at timestamptz(3) not null default now(),
  revoked_at timestamptz,
  constraint api_keys_pkey primary key (id),
  constraint api_keys_prefix_key unique (prefix),
  -- Keys vanish with their user: deletion is the strongest revocation.
  constraint api_keys_user_fkey foreign key (user_id, organization_id)
    references users (id, organization_id) on delete cascade,
  constraint api_keys_owner_check
    check (platform_admin or (organization_id is not null and user_id is not null)),
  constraint api_keys_platform_admin_owner_check
    check (not platform_admin or (organization_id is null and user_id is null)),
  constraint api_keys_id_format check (id ~ '^key_[A-Za-z0-9_-]{8,64}$'),
  constraint api_keys_name_length check (char_length(name) between 1 and 200),
  constraint api_keys_prefix_length check (char_length(prefix) between 1 and 100),
  constraint api_keys_secret_hash_length check (char_length(secret_hash) between 1 and 200),
  constraint api_keys_scopes_check check (
    scopes <@ array['models:read', 'completions:write', 'usage:read', 'api_keys:write',
      'users:write']::text[]
    and array_position(scopes, null) is null
  ),
  constraint api_keys_rate_limit_check check (
    (rate_limit_rpm is null) = (rate_limit_tpm is null)
    and coalesce(rate_limit_rpm, 1) > 0
    and coalesce(rate_limit_tpm, 1) > 0
  )
);

create unique index api_keys_one_platform_admin_key on api_keys (platform_admin)
  where platform_admin;
create index api_keys_organization_id_created_at_id_idx
  on api_keys (organization_id, created_at, id);
create index api_keys_user_id_created_at_id_idx on api_keys (user_id, created_at, id);

-- Scoped per principal by the application (the scope string names the credential), which already
-- confines a record to its owner; there is no tenant to filter on for the platform admin, so this
-- table has no row-level security.
create table idempotency_keys (
  scope text not null,
  key text not null,
  request_hash text not null,
  state text not null,
  response_status integer,
  response_headers jsonb,
  response_body text,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  constraint idempotency_keys_pkey primary key (scope, key),
  constraint idempotency_keys_state_check check (state in ('in_progress', 'completed')),
  constraint idempotency_keys_response_check check (
    (state = 'completed') = (response_status is not null)
    and (response_status is null) = (response_headers is null)
    and (response_status is null) = (response_body is null)
  )
);

-- For a periodic purge of expired records; until then an expired record is replaced on reuse.
create index idempotency_keys_expires_at_idx on idempotency_keys (expires_at);

-- Filled by the application from now on; older rows and the platform admin's stay null, which no
-- tenant sees (only the cross-tenant path does).
alter table usage_records add column organization_id text;
create index usage_records_organization_id_created_at_id_idx
  on usage_records (organization_id, created_at desc, id desc);

-- Tenant isolation. `current_setting(…, true)` is null when the setting was never made in this
-- session and '' after a transaction that made it ended; neither equals an id, so a transaction
-- that chose no tenant sees no tenant rows at all.
alter table organizations enable row level security;
alter table organizations force row level security;
create policy organizations_tenant_isolation on organizations
  using (id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on')
  with check (id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on');

alter table users enable row level security;
alter table users force row level security;
create policy users_tenant_isolation on users
  using (organization_id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on')
  with check (organization_id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on');

alter table sessions enable row level security;
alter table sessions force row level security;
create policy sessions_tenant_isolation on sessions
  using (organization_id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on')
  with check (organization_id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on');

alter table refresh_tokens enable row level security;
alter table refresh_tokens force row level security;
create policy refresh_tokens_tenant_isolation on refresh_tokens
  using (organization_id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on')
  with check (organization_id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on');

alter table api_keys enable row level security;
alter table api_keys force row level security;
create policy api_keys_tenant_isolation on api_keys
  using (organization_id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on')
  with check (organization_id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on');

alter table usage_records enable row level security;
alter table usage_records force row level security;
create policy usage_records_tenant_isolation on usage_records
  using (organization_id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on')
  with check (organization_id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on');

-- Only what the application does; no DELETE where rows are never deleted, no grant at all on
-- schema_migrations.
grant select, insert on organizations to inference_app;
grant select, insert, update, delete on users to inference_app;
grant select, insert, update, delete on sessions to inference_app;
grant select, insert, update, delete on refresh_tokens to inference_app;
grant select, insert, update, delete on api_keys to inference_app;
grant select, insert, update on usage_records to inference_app;
grant select, insert, update, delete on idempotency_keys to inference_app;
