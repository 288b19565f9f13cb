import type { Logger } from '../domain/logger.js';
import type {
  PendingRevocation,
  RevocationBacklog,
  RevocationList,
} from '../domain/identity/ports.js';

export interface FailoverRevocationListOptions {
  /**
   * How often an instance that saw no outage itself still publishes the backlog, for revocations
   * made by an instance that alone could not reach Redis. Default 5 s.
   */
  publishEveryMs?: number;
  /** While behind, how often publishing (and so Redis) is tried again. Default 1 s. */
  retryEveryMs?: number;
  batchSize?: number;
  now?: () => number;
}

function byUntil(entries: PendingRevocation[]): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const { sessionId, until } of entries) {
    const ids = groups.get(until.getTime()) ?? [];
    ids.push(sessionId);
    groups.set(until.getTime(), ids);
  }
  return groups;
}

/**
 * Session revocations in Redis (shared, one lookup per request) backed by the database (durable).
 *
 * The tenant store has already revoked the session rows when revokeSessions is called; a
 * revocation Redis cannot take goes to the backlog in the database. Redis answers only while this
 * instance knows it holds every revocation: from a failure (and from start) until the backlog has
 * been written to it, checks go to the database, so a revocation made during an outage never
 * stops applying once Redis is back.
 */
export class FailoverRevocationList implements RevocationList {
  private readonly publishEveryMs: number;
  private readonly retryEveryMs: number;
  private readonly batchSize: number;
  private readonly now: () => number;
  /** Redis may lack revocations: at start, and from a failure until the backlog is published. */
  private behind = true;
  /** Counts failures, so a publish that overlapped one does not declare Redis complete. */
  private failures = 0;
  private outageLogged = false;
  private nextPublishAt = 0;
  private publishing: Promise<void> | undefined;

  constructor(
    private readonly shared: RevocationList,
    private readonly database: RevocationList,
    private readonly backlog: RevocationBacklog,
    private readonly logger: Logger,
    options: FailoverRevocationListOptions = {},
  ) {
    this.publishEveryMs = options.publishEveryMs ?? 5000;
    this.retryEveryMs = options.retryEveryMs ?? 1000;
    this.batchSize = options.batchSize ?? 500;
    this.now = options.now ?? Date.now;
  }

  async revokeSessions(sessionIds: string[], until: Date): Promise<void> {
    if (sessionIds.length === 0) return;
    try {
      await this.shared.revokeSessions(sessionIds, until);
    } catch (error) {
      // Backlog first: a publish running now must not declare Redis complete before it is in.
      try {
        await this.backlog.add(sessionIds, until);
      } finally {
        this.fellBehind(error);
      }
    }
  }

  async isSessionRevoked(sessionId: string): Promise<boolean> {
    if (this.now() >= this.nextPublishAt) await this.publish();
    if (this.behind) return this.database.isSessionRevoked(sessionId);
    try {
      const revoked = await this.shared.isSessionRevoked(sessionId);
      if (this.outageLogged) {
        this.outageLogged = false;
        this.logger.info(
          { component: 'session revocations' },
          'session revocations: shared store recovered, with the revocations made meanwhile',
        );
      }
      return revoked;
    } catch (error) {
      this.fellBehind(error);
      return this.database.isSessionRevoked(sessionId);
    }
  }

  private fellBehind(error: unknown): void {
    this.failures += 1;
    this.behind = true;
    this.nextPublishAt = this.now() + this.retryEveryMs;
    if (!this.outageLogged) {
      this.outageLogged = true;
      this.logger.warn(
        { err: error, component: 'session revocations' },
        'session revocations: shared store unreachable, checking the database',
      );
    }
  }

  /** One publish at a time; concurrent checks wait for the one running. */
  private publish(): Promise<void> {
    this.publishing ??= this.publishBacklog().finally(() => {
      this.publishing = undefined;
    });
    return this.publishing;
  }

  private async publishBacklog(): Promise<void> {
    const failuresBefore = this.failures;
    try {
      for (;;) {
        const batch = await this.backlog.pending(this.batchSize);
        try {
          for (const [until, ids] of byUntil(batch)) {
            await this.shared.revokeSessions(ids, new Date(until));
          }
        } catch (error) {
          this.fellBehind(error);
          return;
        }
        await this.backlog.remove(batch);
        if (batch.length < this.batchSize) break;
      }
    } catch (error) {
      // The database failed. Behind, checks stay on it (and fail with it: an unknown answer is
      // no reason to accept a token); otherwise Redis still holds every revocation.
      this.nextPublishAt = this.now() + (this.behind ? this.retryEveryMs : this.publishEveryMs);
      this.logger.warn(
        { err: error, component: 'session revocations' },
        'session revocations: could not read the revocation backlog',
      );
      return;
    }
    if (this.failures !== failuresBefore) return;
    this.nextPublishAt = this.now() + this.publishEveryMs;
    this.behind = false;
  }
}
