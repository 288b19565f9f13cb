import { requirePlatformAdmin } from '../authorization.js';
import type { Organization } from '../identity/model.js';
import {
  toListResult,
  toPageRequest,
  type ListQuery,
  type ListResult,
} from '../identity/paging.js';
import type { CursorCodec, IdentityStore } from '../identity/ports.js';
import type { Principal } from '../principal.js';

export class OrganizationService {
  constructor(
    private readonly store: IdentityStore,
    private readonly cursors: CursorCodec,
  ) {}

  async create(principal: Principal, input: { name: string }): Promise<Organization> {
    requirePlatformAdmin(principal);
    return this.store.createOrganization({ name: input.name.trim() });
  }

  async list(principal: Principal, query: ListQuery): Promise<ListResult<Organization>> {
    requirePlatformAdmin(principal);
    const page = await this.store.listOrganizations(
      toPageRequest(this.cursors, 'organizations', query),
    );
    return toListResult(this.cursors, 'organizations', query, page);
  }
}
