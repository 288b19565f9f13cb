-- Daily totals per organization, UTC day and model, so GET /v1/usage reads a few rows per day and
-- model instead of summing every raw record of the range. They are also what survives retention:
-- pruning deletes raw usage_records only (USAGE_RETENTION_DAYS), never these.
--
-- A statement-level trigger adds each INSERT's rows to the totals, in that statement and so in its
-- transaction: one aggregated upsert per batch, and the raw rows and their totals commit or roll
-- back together. In the database rather than in the application so that no writer can leave them
-- behind: batches, single records, and above all instances of the previous release, which keep
-- inserting raw records during a rolling deploy after this migration has run.
--
-- Raw records are never updated (usage_records: "written once and never updated"); an UPDATE of
-- one would not be reflected here.
--
-- Time index on usage_records(created_at): 001's usage_records_created_at_id_idx
-- (created_at desc, id desc) already serves ranges and pruning, a btree reads either way.

create table usage_daily (
  -- null: the platform admin's usage, which belongs to no organization.
  organization_id text,
  day date not null,
  model text not null,
  requests bigint not null,
  prompt_tokens bigint not null,
  completion_tokens bigint not null,
  constraint usage_daily_requests_check check (requests >= 0),
  constraint usage_daily_prompt_tokens_check check (prompt_tokens >= 0),
  constraint usage_daily_completion_tokens_check check (completion_tokens >= 0)
)
-- Every batch updates today's rows; room on each page lets those updates stay HOT (no new index
-- entries), so the hot rows do not bloat the indexes between vacuums.
with (fillfactor = 70);

-- One row per (organization or none, day, model), the arbiter of the trigger's upsert. coalesce
-- rather than NULLS NOT DISTINCT (PostgreSQL 15+), so the platform admin's null organization is
-- one key too on older servers; '' is no organization id (those match org_…).
create unique index usage_daily_key on usage_daily ((coalesce(organization_id, '')), day, model);
-- A tenant's reads. Not served by the key above: under row-level security the planner turns only
-- leakproof conditions into index conditions, and it counts coalesce as possibly leaky.
create index usage_daily_organization_id_day_model_idx on usage_daily (organization_id, day, model);
-- The platform admin's reads, across organizations.
create index usage_daily_day_model_idx on usage_daily (day, model);

create function usage_daily_add_inserted() returns trigger
language plpgsql
as $$
begin
  insert into usage_daily as daily
    (organization_id, day, model, requests, prompt_tokens, completion_tokens)
  select organization_id, (created_at at time zone 'UTC')::date, model, count(*),
    sum(prompt_tokens), sum(completion_tokens)
  from inserted_usage
  group by 1, 2, 3
  -- The same order for every writer: two batches touching the same days and models lock those
  -- rows in one sequence and queue instead of deadlocking.
  order by coalesce(organization_id, ''), 2, 3
  on conflict ((coalesce(organization_id, '')), day, model) do update set
    requests = daily.requests + excluded.requests,
    prompt_tokens = daily.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = daily.completion_tokens + excluded.completion_tokens;
  return null;
end
$$;

-- The transition table holds only the rows actually inserted: those skipped by
-- ON CONFLICT (request_id) DO NOTHING, e.g. a batch sent again after a lost commit, add nothing.
create trigger usage_records_add_to_daily
  after insert on usage_records
  referencing new table as inserted_usage
  for each statement execute function usage_daily_add_inserted();

-- Same shape as every tenant table of 002. The trigger runs as the inserting role, so a tenant's
-- insert can only add to its own organization's totals.
alter table usage_daily enable row level security;
alter table usage_daily force row level security;
create policy usage_daily_tenant_isolation on usage_daily
  using (organization_id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on')
  with check (organization_id = current_setting('app.organization_id', true)
    or current_setting('app.cross_tenant', true) = 'on');

-- Backfill from the records written so far. Forced row-level security binds a migrating user that
-- owns the tables without being a superuser, so it reads every organization's records through the
-- cross-tenant switch, for this part of the migration only.
select set_config('app.cross_tenant', 'on', true);
insert into usage_daily (organization_id, day, model, requests, prompt_tokens, completion_tokens)
select organization_id, (created_at at time zone 'UTC')::date, model, count(*),
  sum(prompt_tokens), sum(completion_tokens)
from usage_records
group by 1, 2, 3;
select set_config('app.cross_tenant', 'off', true);

grant select, insert, update on usage_daily to inference_app;
-- Retention deletes raw records (in bounded batches, see SqlUsageRepository.pruneUsage).
grant delete on usage_records to inference_app;
