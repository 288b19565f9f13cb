-- Usage was keyed on request_id, the client's X-Request-Id, unique platform-wide and inserted with
-- ON CONFLICT DO NOTHING: a client reusing one id metered a single request however many it made,
-- and one sending another tenant's id had that tenant's record skipped. The key is now the
-- completion id the server makes for every response (cmpl-…, chatcmpl-…); request_id stays, as a
-- correlation field that any number of records may share.
--
-- Instances of an earlier release cannot write usage once this has run (their batch INSERT names
-- ON CONFLICT (request_id), which no longer has a unique index): upgrade every instance together.

alter table usage_records add column completion_id text;

-- Records written so far: their own id is unique and, prefixed usage_, never equals a completion
-- id. Forced row-level security binds a migrating user that owns the table without being a
-- superuser, so the update sees every organization's rows through the cross-tenant switch.
select set_config('app.cross_tenant', 'on', true);
update usage_records set completion_id = id;
select set_config('app.cross_tenant', 'off', true);

alter table usage_records alter column completion_id set not null;
alter table usage_records
  add constraint usage_records_completion_id_key unique (completion_id);
alter table usage_records
  add constraint usage_records_completion_id_length
  check (char_length(completion_id) between 1 and 200);

alter table usage_records drop constraint usage_records_request_id_key;
-- Looking a request up by the id its caller logged (support, tests) stays an index scan.
create index usage_records_request_id_idx on usage_records (request_id);
