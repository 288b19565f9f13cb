// What GET /v1/usage costs as usage_records grows: loads 10 million raw usage records into a fresh
// PostgreSQL database, builds the daily totals with migration 003, then times the repository's
// real summary SQL against the same aggregation over the raw table. See docs/benchmarks.md.
//
//   node --import tsx tools/bench/usage-query.mjs
//
// tsx, so the repository, the migrations and the row-level-security scope run from src/ exactly
// as the server runs them. BENCH_POSTGRES_URL (a superuser on the maintenance database, default
// postgres://postgres@127.0.0.1:5432/postgres), BENCH_USAGE_ROWS (10000000), BENCH_RUNS (7);
// BENCH_NO_REPORT=1 prints the section without writing it. Each run saves its results in the
// temporary directory; --from <results.json> renders those again without loading anything. The
// database is dropped at the end, also after a failure.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { table, writeSection } from './markdown.mjs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { loadMigrations, migrate } from '../../src/storage/migrate.js';
import { PostgresExecutor } from '../../src/storage/postgres/postgres-executor.js';
import { CROSS_TENANT, inScope, tenant } from '../../src/storage/sql/row-scope.js';
import { SqlUsageRepository } from '../../src/storage/sql/usage-repository.js';
import { summaryStatement } from '../../src/storage/sql/usage-summary.js';

const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROWS = Number(process.env.BENCH_USAGE_ROWS ?? 10_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const WRITE_REPORT = process.env.BENCH_NO_REPORT === undefined;
const DAYS = 365;
const ORGANIZATIONS = 50;
const MODELS = ['claude-3-5-sonnet', 'gpt-4o', 'gpt-4o-mini', 'llama-3-70b', 'tiny-wordnet'];
const CHUNK = 1_000_000;
const PAGE = 100; // the API's largest page
const REPORT = 'docs/benchmarks.md';

// The summary as it was before migration 003 (git history of usage-repository.ts): a GROUP BY
// over every raw record of the range, with row-level security choosing the organization.
const RAW_SUMMARY = `
  select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as date, model,
    count(*) as requests, sum(prompt_tokens) as prompt_tokens,
    sum(completion_tokens) as completion_tokens
  from usage_records
  where created_at >= $1::timestamptz and created_at < $2::timestamptz + interval '1 day'
    and ($3::text is null or model = $3::text)
  group by 1, 2
  having $4::text is null or (to_char(created_at at time zone 'UTC', 'YYYY-MM-DD'), model) > ($4::text, $5::text)
  order by 1, 2
  limit $6`;

// Rows in time order, as an append-only table fills; organization, model and numbers from a hash
// of the row number, so every organization and model is spread over the whole year. 1 % of the
// rows are the platform admin's (no organization).
const LOAD_CHUNK = `
  insert into usage_records (id, completion_id, request_id, principal_id, organization_id, model,
    endpoint, prompt_tokens, completion_tokens, outcome, duration_ms, stream, created_at)
  select 'usage_' || lpad(g::text, 10, '0'), 'cmpl-bench' || g, 'req_bench_' || g,
    'user_bench' || lpad((h % 500)::text, 3, '0'),
    case when (h / 50) % 100 = 0 then null else 'org_bench' || lpad((h % ${ORGANIZATIONS})::text, 3, '0') end,
    ($4::text[])[(1 + (h / 5000) % ${MODELS.length})::int],
    case when h % 3 = 0 then 'completions' else 'chat.completions' end,
    1 + (h / 7) % 2000, 1 + (h / 11) % 1000,
    case when h % 97 = 0 then 'failed' when h % 89 = 0 then 'cancelled' else 'completed' end,
    (h / 13) % 30000, h % 2 = 0,
    $3::timestamptz + (g - 1) * ($5::bigint * interval '1 microsecond')
  from (select g, abs(hashint8(g)::bigint) as h from generate_series($1::bigint, $2::bigint) as g) as s`;

const log = (message) => console.error(`[usage-query] ${message}`);
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const day = (time) => new Date(time).toISOString().slice(0, 10);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function timed(fn) {
  const started = performance.now();
  const result = await fn();
  return { ms: performance.now() - started, result };
}

async function withClient(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The primary key, unique constraint and indexes of usage_records, to rebuild after loading. */
async function dropRawIndexes(client) {
  const { rows: constraints } = await client.query(
    `select conname, pg_get_constraintdef(oid) as def from pg_constraint
     where conrelid = 'usage_records'::regclass and contype in ('p', 'u')`,
  );
  for (const c of constraints)
    await client.query(`alter table usage_records drop constraint ${c.conname}`);
  const { rows: indexes } = await client.query(
    `select indexrelid::regclass::text as name, pg_get_indexdef(indexrelid) as def from pg_index
     where indrelid = 'usage_records'::regclass`,
  );
  for (const i of indexes) await client.query(`drop index ${i.name}`);
  return [
    ...constraints.map((c) => `alter table usage_records add constraint ${c.conname} ${c.def}`),
    ...indexes.map((i) => i.def),
  ];
}

async function load(client, start) {
  const stepUs = Math.floor((DAYS * 86_400_000_000) / ROWS);
  await client.query(`set synchronous_commit = off`);
  for (let from = 1; from <= ROWS; from += CHUNK) {
    const to = Math.min(ROWS, from + CHUNK - 1);
    await client.query(LOAD_CHUNK, [from, to, start.toISOString(), MODELS, stepUs]);
    log(`loaded ${to.toLocaleString('en')} rows`);
  }
}

/** The lines of a plan a reader needs: nodes that read tables or indexes, buffers, time. */
function planSummary(plan) {
  const lines = plan.map((row) => row['QUERY PLAN']);
  const wanted = lines.filter(
    (line, index) =>
      index === 0 ||
      /Scan|Aggregate|Sort Method|Rows Removed|Execution Time|Planning Time/.test(line) ||
      (index === 1 && /Buffers/.test(line)),
  );
  return wanted.map((line) =>
    line
      .replace(/\s+$/, '')
      .replace(/^\s*->\s*/, '  -> ')
      .trim(),
  );
}

async function measure(executor, name, scope, sql, params, runs, call) {
  await call(); // warm-up: plans and pages cached as on a server that has been up a while
  const times = [];
  let rows = 0;
  for (let i = 0; i < runs; i += 1) {
    const { ms, result } = await timed(call);
    times.push(ms);
    rows = result;
  }
  const plan = await inScope(executor, scope, (session) =>
    session.query(`explain (analyze, buffers) ${sql}`, params),
  );
  log(`${name}: median ${median(times).toFixed(2)} ms over ${runs} runs`);
  return { medianMs: median(times), minMs: Math.min(...times), rows, plan: planSummary(plan.rows) };
}

function firstMatch(file, pattern) {
  try {
    return pattern.exec(readFileSync(file, 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const speedUp = (ratio) =>
  `${ratio < 10 ? ratio.toFixed(1) : Math.round(ratio).toLocaleString('en')}×`;

function render({ machine, steps, sizes, shapes, writes }) {
  const ms = (value) => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
  const rows = shapes.map((s) => [
    s.label,
    `${s.days}`,
    s.rawRows.toLocaleString('en'),
    ms(s.daily.medianMs),
    ms(s.raw.medianMs),
    speedUp(s.raw.medianMs / s.daily.medianMs),
  ]);
  const plans = shapes
    .map(
      (s) =>
        `**${s.label}, ${s.days} days.** Daily totals:\n\n\`\`\`text\n${s.daily.plan.join('\n')}\n\`\`\`\n\n` +
        `Raw records:\n\n\`\`\`text\n${s.raw.plan.join('\n')}\n\`\`\``,
    )
    .join('\n\n');
  const executions = shapes.map((s) =>
    Number(/Execution Time: ([\d.]+)/.exec(s.daily.plan.join('\n'))?.[1]),
  );
  return `## Usage query

What \`GET /v1/usage\` costs as raw usage grows. A fresh database holds
${ROWS.toLocaleString('en')} usage records spread evenly over ${DAYS} days,
${ORGANIZATIONS} organizations (1 % of the rows are the platform admin's) and ${MODELS.length} models;
their daily totals (\`usage_daily\`, migration 003) are ${sizes.dailyRows.toLocaleString('en')} rows.
Each query asks for the API's largest page (${PAGE} buckets) and runs as the server runs it:
\`SqlUsageRepository.summarize\`, one transaction as \`inference_app\` under row-level security,
in the organization's scope or the platform admin's cross-tenant one. "Raw records" is the summary
as it was before migration 003, a GROUP BY over \`usage_records\`, in the same scope.

${table(['Query', 'Days', 'Raw rows in range', 'Daily totals', 'Raw records', 'Faster'], rows, [
  'l',
  'r',
  'r',
  'r',
  'r',
  'r',
])}

Medians of ${RUNS} runs after one warm-up run, wall time in the client. Pages are warm: the raw
table (${sizes.rawTable}, indexes ${sizes.rawIndexes}) fits in this machine's page cache, not in
PostgreSQL's ${sizes.sharedBuffers} of \`shared_buffers\`.

- **Daily totals** read one organization's slice of \`usage_daily\` through
  \`(organization_id, day, model)\`, or every organization's days through \`(day, model)\`.
  Wall time includes the transaction around the query (BEGIN, entering the scope, COMMIT);
  PostgreSQL's own execution time is ${Math.min(...executions).toFixed(2)}–${Math.max(...executions).toFixed(2)} ms (plans below).
- **Raw records** leave the organization to row-level security, whose condition
  (\`organization_id = … or\` the cross-tenant switch) no index can serve, so even one
  organization's month reads the whole table; and they sum every request of the range.

Writes on the full table: one ${writes.batch}-row \`recordMany\` (one INSERT, the daily totals
updated in the same statement by the trigger) took ${ms(writes.batchMedianMs)}, median of
${writes.batches} batches: ${ms(writes.batchMedianMs / writes.batch)} per record. A single \`record\` took
${ms(writes.singleMedianMs)}, median of ${writes.singles}. \`pruneUsage\` deleted the
${writes.pruned.toLocaleString('en')} raw records older than ${DAYS - 1} days, 5,000 per transaction, in
${seconds(writes.pruneMs)}.

Setup: loading took ${seconds(steps.load)} (\`INSERT … SELECT\` from \`generate_series\`,
${CHUNK.toLocaleString('en')} rows per statement, no indexes), rebuilding the primary key, the unique key
and the indexes ${seconds(steps.indexes)}, \`VACUUM ANALYZE\` ${seconds(steps.vacuum)}. Migration 003,
whose backfill is one \`INSERT … SELECT … GROUP BY\` over all ${ROWS.toLocaleString('en')} rows, took
${seconds(steps.migration)}: the one-off cost of upgrading a database of this size.

${plans}

Machine: ${machine.cpus} CPUs (\`nproc\`), ${machine.cpuModel}, ${machine.memoryGiB} GiB memory,
${machine.postgres}, Node ${machine.node}. Shared with other work, so single runs vary. Run
${machine.date}.

Command: \`node --import tsx tools/bench/usage-query.mjs\` (${seconds(steps.total)} in all).`;
}

async function main() {
  const began = performance.now();
  const name = `inference_bench_usage_${randomBytes(4).toString('hex')}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  await withClient(ADMIN_URL, (client) => client.query(`create database ${name}`));
  log(`created database ${name}`);
  const logger = {
    debug() {},
    info() {},
    warn: (o, m) => log(`warn: ${m}`),
    error: (o, m) => log(`error: ${m}`),
  };
  const executor = new PostgresExecutor({
    url: url.toString(),
    poolSize: 2,
    connectionTimeoutMs: 10_000,
    statementTimeoutMs: 0,
    logger,
  });
  try {
    const shipped = await loadMigrations();
    await migrate(executor, { logger, migrations: shipped.filter((m) => m.version <= 2) });
    const today = Date.parse(`${day(Date.now())}T00:00:00Z`);
    const start = new Date(today - (DAYS - 1) * 86_400_000);
    const steps = {};
    const sizes = {};
    await withClient(url.toString(), async (client) => {
      const rebuild = await dropRawIndexes(client);
      steps.load = (await timed(() => load(client, start))).ms;
      await client.query(`set maintenance_work_mem = '1GB'`);
      steps.indexes = (
        await timed(async () => {
          for (const statement of rebuild) await client.query(statement);
        })
      ).ms;
      log(`indexes rebuilt in ${seconds(steps.indexes)}`);
      steps.vacuum = (await timed(() => client.query('vacuum analyze usage_records'))).ms;
    });
    steps.migration = (await timed(() => migrate(executor, { logger }))).ms;
    log(`migration 003 in ${seconds(steps.migration)}`);
    await withClient(url.toString(), async (client) => {
      await client.query('vacuum analyze usage_daily');
      const { rows } = await client.query(
        `select (select count(*) from usage_daily)::int as daily_rows,
           pg_size_pretty(pg_table_size('usage_records')) as raw_table,
           pg_size_pretty(pg_indexes_size('usage_records')) as raw_indexes,
           current_setting('shared_buffers') as shared_buffers, version() as version`,
      );
      Object.assign(sizes, {
        dailyRows: rows[0].daily_rows,
        rawTable: rows[0].raw_table,
        rawIndexes: rows[0].raw_indexes,
        sharedBuffers: rows[0].shared_buffers,
      });
      sizes.postgres = rows[0].version.split(' on ')[0];
    });

    const repository = new SqlUsageRepository(executor);
    const org = 'org_bench007';
    const shapes = [];
    for (const [label, organizationId, days] of [
      ['One organization', org, 30],
      ['One organization', org, 366],
      ['Platform (all organizations)', null, 30],
    ]) {
      const query = {
        organizationId,
        startDate: day(today - (days - 1) * 86_400_000),
        endDate: day(today),
        limit: PAGE,
      };
      const scope = organizationId === null ? CROSS_TENANT : tenant(organizationId);
      const daily = summaryStatement(query);
      const rawParams = [
        `${query.startDate}T00:00:00Z`,
        `${query.endDate}T00:00:00Z`,
        null,
        null,
        null,
        PAGE + 1,
      ];
      const { rows: counted } = await inScope(executor, scope, (session) =>
        session.query(
          `select count(*)::int as n from usage_records
           where created_at >= $1::timestamptz and created_at < $2::timestamptz + interval '1 day'`,
          rawParams.slice(0, 2),
        ),
      );
      const what = `${label}, ${days} days`;
      shapes.push({
        label,
        days,
        rawRows: counted[0].n,
        daily: await measure(
          executor,
          `${what}, daily`,
          scope,
          daily.sql,
          daily.params,
          RUNS,
          async () => (await repository.summarize(query)).items.length,
        ),
        raw: await measure(
          executor,
          `${what}, raw`,
          scope,
          RAW_SUMMARY,
          rawParams,
          RUNS,
          async () =>
            (
              await inScope(executor, scope, (s) => s.query(RAW_SUMMARY, rawParams), {
                readOnly: true,
              })
            ).rows.length,
        ),
      });
    }

    const writes = { batch: 500, batches: 9, singles: 200 };
    const record = (organizationId) => ({
      completionId: `cmpl-${randomUUID()}`,
      requestId: `req_${randomUUID()}`,
      principalId: 'user_bench000',
      organizationId,
      model: MODELS[0],
      endpoint: 'chat.completions',
      promptTokens: 100,
      completionTokens: 50,
      outcome: 'completed',
      durationMs: 800,
      stream: true,
      createdAt: new Date(),
    });
    const batchTimes = [];
    for (let b = 0; b < writes.batches; b += 1) {
      const batch = Array.from({ length: writes.batch }, (_, i) =>
        record(`org_bench${String(i % ORGANIZATIONS).padStart(3, '0')}`),
      );
      batchTimes.push((await timed(() => repository.recordMany(batch))).ms);
    }
    writes.batchMedianMs = median(batchTimes);
    const singleTimes = [];
    for (let i = 0; i < writes.singles; i += 1) {
      singleTimes.push((await timed(() => repository.record(record(org)))).ms);
    }
    writes.singleMedianMs = median(singleTimes);
    const pruned = await timed(() =>
      repository.pruneUsage({ olderThanDays: DAYS - 1, batchSize: 5000 }),
    );
    writes.pruneMs = pruned.ms;
    writes.pruned = pruned.result.deleted;

    steps.total = performance.now() - began;
    const machine = {
      cpus: execFileSync('nproc', { encoding: 'utf8' }).trim(),
      cpuModel: firstMatch('/proc/cpuinfo', /^model name\s*:\s*(.+)$/m),
      memoryGiB: (os.totalmem() / 2 ** 30).toFixed(1),
      postgres: sizes.postgres,
      node: process.version,
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    const results = { machine, steps, sizes, shapes, writes };
    const saved = path.join(os.tmpdir(), `${name}.json`);
    writeFileSync(saved, JSON.stringify(results, null, 2));
    log(`results saved in ${saved} (re-render with --from)`);
    publish(results);
  } finally {
    await executor.close();
    await withClient(ADMIN_URL, (client) =>
      client.query(`drop database if exists ${name} with (force)`),
    );
    log(`dropped database ${name}`);
  }
}

function publish(results) {
  const section = render(results);
  if (WRITE_REPORT) writeSection(REPORT, 'usage-query', section);
  console.log(section);
}

// --from <file>: the section again from a saved run, e.g. after editing the text above.
const from = process.argv.indexOf('--from');
if (from === -1) await main();
else publish(JSON.parse(readFileSync(process.argv[from + 1] ?? '', 'utf8')));
