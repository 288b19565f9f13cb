-- One row per finished generation request, written once and never updated.
-- Ids are text with a type prefix (usage_…) so they stay opaque to clients and let later tables
-- (organizations, users, api keys) follow the same pattern without a serial or uuid migration.
create table usage_records (
  id text not null,
  request_id text not null,
  -- Who was billed. Deliberately no foreign key yet: principals (platform admins today, api keys
  -- and users later) do not all live in a table; a later migration can add tenant columns.
  principal_id text not null,
  model text not null,
  endpoint text not null,
  prompt_tokens integer not null,
  completion_tokens integer not null,
  outcome text not null,
  duration_ms integer not null,
  stream boolean not null,
  created_at timestamptz not null default now(),
  constraint usage_records_pkey primary key (id),
  constraint usage_records_request_id_key unique (request_id),
  constraint usage_records_id_format check (id ~ '^usage_[A-Za-z0-9_-]{8,64}$'),
  constraint usage_records_request_id_length check (char_length(request_id) between 1 and 200),
  constraint usage_records_principal_id_length check (char_length(principal_id) between 1 and 200),
  constraint usage_records_model_length check (char_length(model) between 1 and 200),
  constraint usage_records_endpoint_check check (endpoint in ('completions', 'chat.completions')),
  constraint usage_records_prompt_tokens_check check (prompt_tokens >= 0),
  constraint usage_records_completion_tokens_check check (completion_tokens >= 0),
  constraint usage_records_outcome_check check (outcome in ('completed', 'cancelled', 'failed')),
  constraint usage_records_duration_ms_check check (duration_ms >= 0)
);

-- Serves the newest-first keyset listing:
--   where (created_at, id) < (…) order by created_at desc, id desc
create index usage_records_created_at_id_idx on usage_records (created_at desc, id desc);
