-- Session revocations made while Redis was unreachable, kept until an instance has written them
-- there: without this, Redis comes back without them and the revoked access tokens work again.
-- Rows hold session ids only and every instance must read all of them, so like idempotency_keys
-- this table has no row-level security.
create table revocation_backlog (
  session_id text primary key,
  revoked_until timestamptz not null,
  created_at timestamptz not null default now()
);

create index revocation_backlog_created_at_idx on revocation_backlog (created_at);

grant select, insert, update, delete on revocation_backlog to inference_app;
