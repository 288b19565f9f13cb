import { requireScope } from '../authorization.js';
import { AppError, validationError } from '../errors.js';
import type { ListQuery, ListResult } from '../identity/paging.js';
import type { CursorCodec } from '../identity/ports.js';
import type { ModelDescriptor } from '../ports.js';
import type { Principal } from '../principal.js';
import type { ModelRouter } from '../routing/model-router.js';

const LIST = 'models';

/** The models that can be served right now, as the router sees them. */
export class ModelService {
  constructor(
    private readonly router: ModelRouter,
    private readonly cursors: CursorCodec,
  ) {}

  /** Pages over the routing table's order; the cursor names the last model of the page before. */
  list(principal: Principal, query: ListQuery): ListResult<ModelDescriptor> {
    requireScope(principal, 'models:read');
    const all = this.router.list();
    let start = 0;
    if (query.cursor !== undefined) {
      const { id } = this.cursors.decode(query.cursor, LIST);
      const index = all.findIndex((model) => model.id === id);
      if (index === -1) throw validationError('cursor', 'Cursor is invalid or expired');
      start = index + 1;
    }
    const items = all.slice(start, start + query.limit);
    const last = items.at(-1);
    const hasMore = start + query.limit < all.length;
    return {
      items,
      limit: query.limit,
      nextCursor: hasMore && last ? this.cursors.encode(LIST, { id: last.id }) : null,
    };
  }

  get(principal: Principal, id: string): ModelDescriptor {
    requireScope(principal, 'models:read');
    const model = this.router.get(id);
    if (!model) throw new AppError('NOT_FOUND', { message: `Model ${id} not found` });
    return model;
  }
}
