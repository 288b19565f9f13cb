import { requireScope } from '../authorization.js';
import { AppError, validationError } from '../errors.js';
import type { ModelDescriptor } from '../ports.js';
import type { Principal } from '../principal.js';
import type { ModelRouter } from '../routing/model-router.js';

export interface ModelPage {
  data: ModelDescriptor[];
  nextAfter: string | null;
}

/** The models that can be served right now, as the router sees them. */
export class ModelService {
  constructor(private readonly router: ModelRouter) {}

  list(principal: Principal, page: { limit: number; after?: string }): ModelPage {
    requireScope(principal, 'models:read');
    const all = this.router.list();
    let start = 0;
    if (page.after !== undefined) {
      const index = all.findIndex((model) => model.id === page.after);
      if (index === -1) throw validationError('cursor', 'Cursor is invalid or expired');
      start = index + 1;
    }
    const data = all.slice(start, start + page.limit);
    const last = data.at(-1);
    const hasMore = start + page.limit < all.length;
    return { data, nextAfter: hasMore && last ? last.id : null };
  }

  get(principal: Principal, id: string): ModelDescriptor {
    requireScope(principal, 'models:read');
    const model = this.router.get(id);
    if (!model) throw new AppError('NOT_FOUND', { message: `Model ${id} not found` });
    return model;
  }
}
