import type { Page, PageRequest } from '../../domain/identity/model.js';
import type { SqlParam, SqlSession } from '../executor.js';

export interface KeysetQuery {
  /** `select … from …`, without where, order or limit. */
  select: string;
  /** Conditions joined with `and`, using $1… for `params`; at least one. */
  where: string[];
  params: SqlParam[];
}

/**
 * One page of a list in ascending (created_at, id) order. The position is compared as a row value,
 * so rows inserted or deleted between two pages neither shift nor repeat the rest; one row more
 * than asked for is fetched to know whether another page follows.
 */
export async function keysetPage<Row extends object, T>(
  session: SqlSession,
  query: KeysetQuery,
  page: PageRequest,
  toItem: (row: Row) => T,
): Promise<Page<T>> {
  if (!Number.isInteger(page.limit) || page.limit < 1) {
    throw new RangeError(`page limit must be a positive integer, got ${page.limit}`);
  }
  const params = [...query.params];
  const where = [...query.where];
  if (page.after) {
    params.push(page.after.createdAt, page.after.id);
    where.push(`(created_at, id) > ($${params.length - 1}, $${params.length})`);
  }
  params.push(page.limit + 1);
  const sql =
    `${query.select} where ${where.join(' and ')} ` +
    `order by created_at, id limit $${params.length}`;
  const { rows } = await session.query<Row>(sql, params);
  return { items: rows.slice(0, page.limit).map(toItem), hasMore: rows.length > page.limit };
}
