import type { Redis } from 'ioredis';
import type { RevocationList } from '../../domain/identity/ports.js';

export interface RedisRevocationListOptions {
  keyPrefix?: string;
  /**
   * Kept this long past `until`, because verifiers accept a token a little after its `exp` (clock
   * tolerance) and clocks of instances and Redis differ.
   */
  graceMs?: number;
}

/** `<prefix>revoked:session:<id>` exists until the session's last access token has expired. */
export class RedisRevocationList implements RevocationList {
  private readonly prefix: string;
  private readonly graceMs: number;

  constructor(
    private readonly client: Redis,
    options: RedisRevocationListOptions = {},
  ) {
    this.prefix = `${options.keyPrefix ?? ''}revoked:session:`;
    this.graceMs = options.graceMs ?? 60_000;
  }

  async revokeSessions(sessionIds: string[], until: Date): Promise<void> {
    if (sessionIds.length === 0) return;
    // PXAT in the past deletes the key at once, which is right: such tokens are already dead.
    const expireAt = Math.max(1, until.getTime() + this.graceMs);
    const transaction = this.client.multi();
    for (const id of sessionIds) transaction.set(this.prefix + id, '1', 'PXAT', expireAt);
    const results = await transaction.exec();
    const failure = results?.find(([error]) => error !== null)?.[0];
    if (results === null || failure) throw failure ?? new Error('Redis transaction aborted');
  }

  async isSessionRevoked(sessionId: string): Promise<boolean> {
    return (await this.client.exists(this.prefix + sessionId)) === 1;
  }
}
