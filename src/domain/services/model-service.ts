import { requireScope } from '../authorization.js';
import { AppError, validationError } from '../errors.js';
import type { ModelDescriptor, ModelProvider } from '../ports.js';
import type { Principal } from '../principal.js';

export interface ModelPage {
  data: ModelDescriptor[];
  nextAfter: string | null;
}

/** The models that can be served right now, and which provider serves each. */
export class ModelService {
  private readonly byId = new Map<string, { model: ModelDescriptor; provider: ModelProvider }>();

  constructor(providers: ModelProvider[]) {
    for (const provider of providers) {
      for (const model of provider.models()) {
        if (!this.byId.has(model.id)) this.byId.set(model.id, { model, provider });
      }
    }
  }

  list(principal: Principal, page: { limit: number; after?: string }): ModelPage {
    requireScope(principal, 'models:read');
    const all = [...this.byId.values()].map((entry) => entry.model);
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
    const entry = this.byId.get(id);
    if (!entry) throw new AppError('NOT_FOUND', { message: `Model ${id} not found` });
    return entry.model;
  }

  /** For inference: an unknown model is a bad field value, not a missing resource. */
  providerFor(id: string): ModelProvider {
    const entry = this.byId.get(id);
    if (!entry) throw validationError('model', `Unknown model "${id}"; see GET /v1/models`);
    return entry.provider;
  }
}
