import type { Logger } from '../domain/logger.js';
import type { LoginThrottle, LoginThrottleDecision } from '../domain/identity/ports.js';

/**
 * Runs a call against the shared store (Redis) and, when it fails, against the local one, logging
 * once per outage. Requests never fail because Redis is down; they lose only cross-instance reach.
 */
class Failover {
  private degraded = false;

  constructor(
    private readonly what: string,
    private readonly logger: Logger,
  ) {}

  async run<T>(shared: () => Promise<T>, local: () => Promise<T>): Promise<T> {
    try {
      const result = await shared();
      if (this.degraded) {
        this.degraded = false;
        this.logger.info({ component: this.what }, `${this.what}: shared store recovered`);
      }
      return result;
    } catch (error) {
      if (!this.degraded) {
        this.degraded = true;
        this.logger.warn(
          { err: error, component: this.what },
          `${this.what}: shared store unreachable, using fallback`,
        );
      }
      return local();
    }
  }
}

/** Redis first; while it is down each instance throttles on its own. */
export class FailoverLoginThrottle implements LoginThrottle {
  private readonly failover: Failover;

  constructor(
    private readonly shared: LoginThrottle,
    private readonly local: LoginThrottle,
    logger: Logger,
    /** Names the throttle in the outage log lines when an instance runs more than one. */
    what = 'sign-in throttle',
  ) {
    this.failover = new Failover(what, logger);
  }

  check(keys: string[]): Promise<LoginThrottleDecision> {
    return this.failover.run(
      () => this.shared.check(keys),
      () => this.local.check(keys),
    );
  }

  recordFailure(keys: string[]): Promise<void> {
    return this.failover.run(
      () => this.shared.recordFailure(keys),
      () => this.local.recordFailure(keys),
    );
  }

  release(keys: string[]): Promise<void> {
    return this.failover.run(
      () => this.shared.release(keys),
      () => this.local.release(keys),
    );
  }

  reset(keys: string[]): Promise<void> {
    return this.failover.run(
      () => this.shared.reset(keys),
      () => this.local.reset(keys),
    );
  }
}
