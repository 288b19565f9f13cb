import type { Storage } from '../domain/ports.js';
import type { SqlExecutor } from './executor.js';
import { SqlIdempotencyStore } from './sql/idempotency-store.js';
import { SqlIdentityStore } from './sql/identity-store.js';
import { SqlRevocationBacklog } from './sql/revocation-backlog.js';
import { DatabaseRevocationList } from './sql/revocation-list.js';
import { SqlUsageRepository } from './sql/usage-repository.js';

/** The same repositories on either engine; only the executor differs. */
const noPool = { total: 0, idle: 0, waiting: 0 };

export function createSqlStorage(executor: SqlExecutor): Storage {
  return {
    kind: executor.kind,
    usage: new SqlUsageRepository(executor),
    identity: new SqlIdentityStore(executor),
    revocations: new DatabaseRevocationList(executor),
    revocationBacklog: new SqlRevocationBacklog(executor),
    idempotency: new SqlIdempotencyStore(executor),
    ping: async () => {
      await executor.query('select 1', [], { idempotent: true });
    },
    close: () => executor.close(),
    ...(executor.poolStats ? { poolStats: () => executor.poolStats?.() ?? noPool } : {}),
  };
}
