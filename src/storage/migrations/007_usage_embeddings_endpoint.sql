-- POST /v1/embeddings is metered like completions (input tokens, no completion tokens). Without
-- this the CHECK constraint refuses its rows, and since usage is written in batches, one embedding
-- would have the whole batch refused, every completion in it included.
--
-- NOT VALID: every existing row passed the narrower check it replaces, so scanning the table again
-- under the migration's exclusive lock would prove nothing. New rows are checked all the same.
alter table usage_records drop constraint usage_records_endpoint_check;
alter table usage_records
  add constraint usage_records_endpoint_check
  check (endpoint in ('completions', 'chat.completions', 'embeddings')) not valid;
