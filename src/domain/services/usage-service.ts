import { requireScope } from '../authorization.js';
import { validationError } from '../errors.js';
import type { CursorCodec } from '../identity/ports.js';
import type { UsageBucket, UsageRepository } from '../ports.js';
import type { Principal } from '../principal.js';

const DAY_MS = 86_400_000;
const MAX_RANGE_DAYS = 366;
const DEFAULT_RANGE_DAYS = 30;

export interface UsageQuery {
  startDate?: string;
  endDate?: string;
  model?: string;
  limit: number;
  cursor?: string;
}

function day(value: string, field: string): number {
  const time = Date.parse(`${value}T00:00:00Z`);
  if (Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== value) {
    throw validationError(field, 'Must be a real calendar day, YYYY-MM-DD');
  }
  return time;
}

const iso = (time: number) => new Date(time).toISOString().slice(0, 10);

/** Tokens and requests by UTC day and model: the caller's organization, or all for a platform admin. */
export class UsageService {
  constructor(
    private readonly usage: UsageRepository,
    private readonly cursors: CursorCodec,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async summarize(principal: Principal, query: UsageQuery) {
    requireScope(principal, 'usage:read');
    const end =
      query.endDate === undefined
        ? day(iso(this.now().getTime()), 'end_date')
        : day(query.endDate, 'end_date');
    const start =
      query.startDate === undefined
        ? end - (DEFAULT_RANGE_DAYS - 1) * DAY_MS
        : day(query.startDate, 'start_date');
    if (end < start) throw validationError('end_date', 'Must not be before start_date');
    if ((end - start) / DAY_MS + 1 > MAX_RANGE_DAYS) {
      throw validationError('start_date', `The range is at most ${MAX_RANGE_DAYS} days`);
    }
    const organizationId = principal.organizationId;
    // The cursor is bound to the exact question, so it cannot be replayed against another range.
    const list = `usage:${organizationId ?? '*'}:${iso(start)}:${iso(end)}:${query.model ?? '*'}`;
    let after: { date: string; model: string } | undefined;
    if (query.cursor !== undefined) {
      const payload = this.cursors.decode(query.cursor, list);
      if (typeof payload.date !== 'string' || typeof payload.model !== 'string') {
        throw validationError('cursor', 'Cursor is malformed or was not issued for this list');
      }
      after = { date: payload.date, model: payload.model };
    }
    const page = await this.usage.summarize({
      organizationId,
      startDate: iso(start),
      endDate: iso(end),
      ...(query.model === undefined ? {} : { model: query.model }),
      ...(after ? { after } : {}),
      limit: query.limit,
    });
    const last: UsageBucket | undefined = page.items.at(-1);
    return {
      items: page.items,
      limit: query.limit,
      nextCursor:
        page.hasMore && last
          ? this.cursors.encode(list, { date: last.date, model: last.model })
          : null,
    };
  }
}
