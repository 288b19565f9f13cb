export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold?: number;
  /** How long the circuit stays open before one probe request may test the upstream. */
  cooldownMs?: number;
  /** Milliseconds clock; injectable so tests need not wait for the cool-down. */
  now?: () => number;
}

export const DEFAULT_BREAKER = { failureThreshold: 5, cooldownMs: 30_000 } as const;

/**
 * The outcome of one admitted attempt. Only the first settlement counts, except that a failure
 * after a success (a stream that broke after it had started) still counts as a failure.
 */
export interface BreakerPermit {
  succeed(): void;
  fail(): void;
  /** Neither success nor failure (the client left, or the request itself was at fault). */
  release(): void;
}

/**
 * A consecutive-failure circuit breaker for one upstream target. While open it refuses attempts
 * without touching the network, so a dead upstream costs a fallback nothing but a function call.
 */
export class CircuitBreaker {
  private readonly failureThreshold: number;
  private readonly cooldownMs: number;
  private readonly now: () => number;
  private current: 'closed' | 'open' = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probeInFlight = false;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? DEFAULT_BREAKER.failureThreshold;
    this.cooldownMs = options.cooldownMs ?? DEFAULT_BREAKER.cooldownMs;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.failureThreshold) || this.failureThreshold < 1) {
      throw new RangeError(`failureThreshold must be a positive integer`);
    }
  }

  state(): CircuitState {
    if (this.current === 'closed') return 'closed';
    return this.now() - this.openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  /** A permit for one attempt, or undefined when the circuit refuses it. */
  tryAcquire(): BreakerPermit | undefined {
    const state = this.state();
    if (state === 'closed') return this.permit(false);
    if (state === 'open' || this.probeInFlight) return undefined;
    this.probeInFlight = true;
    return this.permit(true);
  }

  private permit(probe: boolean): BreakerPermit {
    let settled: 'success' | 'failure' | 'released' | undefined;
    return {
      succeed: () => {
        if (settled) return;
        settled = 'success';
        if (probe) {
          this.probeInFlight = false;
          this.current = 'closed';
        }
        if (this.current === 'closed') this.failures = 0;
      },
      fail: () => {
        if (settled === 'failure' || settled === 'released') return;
        const first = settled === undefined;
        settled = 'failure';
        if (probe && first) {
          this.probeInFlight = false;
          this.trip();
        } else if (this.current === 'closed') {
          this.failures += 1;
          if (this.failures >= this.failureThreshold) this.trip();
        }
      },
      release: () => {
        if (settled) return;
        settled = 'released';
        if (probe) this.probeInFlight = false;
      },
    };
  }

  private trip(): void {
    this.current = 'open';
    this.openedAt = this.now();
    this.failures = 0;
  }
}

/** One breaker per upstream model of a provider, created on first use. */
export class CircuitBreakers {
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly options: CircuitBreakerOptions = {}) {}

  for(model: string): CircuitBreaker {
    let breaker = this.breakers.get(model);
    if (!breaker) {
      breaker = new CircuitBreaker(this.options);
      this.breakers.set(model, breaker);
    }
    return breaker;
  }

  /** The state of every model seen so far (for metrics). */
  states(): Record<string, CircuitState> {
    const states: Record<string, CircuitState> = {};
    for (const [model, breaker] of this.breakers) states[model] = breaker.state();
    return states;
  }
}
