-- An in-progress record is now a lease held by one request: the token names that request, so one
-- whose lease lapsed (its retry has claimed the key since) can neither store its answer over the
-- new claim nor release it.
alter table idempotency_keys add column claim_token text;

-- Claims taken before leases existed would block their key for the rest of their 24 hours; give
-- them the same ten minutes a new claim gets, counted from now.
update idempotency_keys
set expires_at = least(expires_at, now() + interval '10 minutes')
where state = 'in_progress';
