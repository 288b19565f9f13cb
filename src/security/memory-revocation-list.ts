import type { RevocationList } from '../domain/identity/ports.js';

/** For a single instance without Redis: revocations live in this process only. */
export class MemoryRevocationList implements RevocationList {
  private readonly revokedUntil = new Map<string, number>();

  constructor(
    private readonly graceMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async revokeSessions(sessionIds: string[], until: Date): Promise<void> {
    this.sweep();
    for (const id of sessionIds) {
      const expiresAt = until.getTime() + this.graceMs;
      this.revokedUntil.set(id, Math.max(expiresAt, this.revokedUntil.get(id) ?? 0));
    }
  }

  async isSessionRevoked(sessionId: string): Promise<boolean> {
    const until = this.revokedUntil.get(sessionId);
    return until !== undefined && until > this.now();
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, until] of this.revokedUntil) if (until <= now) this.revokedUntil.delete(id);
  }
}
