import type { Storage } from '../domain/ports.js';
import type { SqlExecutor } from './executor.js';
import { SqlUsageRepository } from './sql/usage-repository.js';

/** The same repositories on either engine; only the executor differs. */
export function createSqlStorage(executor: SqlExecutor): Storage {
  return {
    kind: executor.kind,
    usage: new SqlUsageRepository(executor),
    ping: async () => {
      await executor.query('select 1', [], { idempotent: true });
    },
    close: () => executor.close(),
  };
}
