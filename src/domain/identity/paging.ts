import { validationError } from '../errors.js';
import type { CursorCodec } from './ports.js';
import type { Page, PagePosition, PageRequest } from './model.js';

export interface ListQuery {
  limit: number;
  cursor?: string;
}

export interface ListResult<T> {
  items: T[];
  nextCursor: string | null;
  limit: number;
}

/** Turns a client's cursor into a keyset position of the named list; forged cursors are 422. */
export function toPageRequest(codec: CursorCodec, list: string, query: ListQuery): PageRequest {
  if (query.cursor === undefined) return { limit: query.limit };
  const payload = codec.decode(query.cursor, list);
  const { t, id } = payload as { t?: unknown; id?: unknown };
  if (typeof t !== 'number' || !Number.isFinite(t) || typeof id !== 'string') {
    throw validationError('cursor', 'Cursor is malformed or was not issued for this list');
  }
  return { limit: query.limit, after: { createdAt: new Date(t), id } };
}

export function toListResult<T extends { createdAt: Date; id: string }>(
  codec: CursorCodec,
  list: string,
  query: ListQuery,
  page: Page<T>,
): ListResult<T> {
  const last = page.items.at(-1);
  const position: PagePosition | undefined = last && { createdAt: last.createdAt, id: last.id };
  return {
    items: page.items,
    nextCursor:
      page.hasMore && position
        ? codec.encode(list, { t: position.createdAt.getTime(), id: position.id })
        : null,
    limit: query.limit,
  };
}
