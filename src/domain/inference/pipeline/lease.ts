import type { GenerationGate } from '../../load/generation-gate.js';
import type { Logger } from '../../logger.js';
import type { Tracing } from '../../observability.js';
import type { GenerationCapacity } from '../../ports.js';
import type { RateLimitService } from '../../rate-limit/rate-limit-service.js';
import type { CompletionContext } from './types.js';

/** What a generation holds while it runs: reserved tokens and a slot behind a gate. */
export interface Lease {
  /** Gives the slot back and settles the reservation to what was used; only the first call counts. */
  end(actualTokens: number): void;
}

export interface LeaseDeps {
  limits: RateLimitService;
  gates: Record<GenerationCapacity, GenerationGate>;
  logger: Logger;
  tracing: Tracing;
}

/**
 * Reserves the most the request can use (RATE_LIMITED when over a limit), then waits for a slot
 * (OVERLOADED when the queue is full or the wait too long); a refused slot frees the reservation.
 */
export async function takeLease(
  deps: LeaseDeps,
  ctx: CompletionContext,
  request: { id: string; tokens: number; capacity: GenerationCapacity },
): Promise<Lease> {
  const settle = await deps.tracing.span(
    'rate limit token reservation',
    { 'inference.reserved_tokens': request.tokens },
    () => deps.limits.reserveTokens(ctx.principal, request.tokens, request.id),
  );
  let release: () => void;
  try {
    release = await deps.gates[request.capacity].acquire(ctx.signal);
  } catch (error) {
    await settle(0);
    throw error;
  }
  let ended = false;
  return {
    end(actualTokens) {
      if (ended) return;
      ended = true;
      release();
      settle(actualTokens).catch((error: unknown) =>
        deps.logger.warn(
          { err: error, request_id: ctx.requestId },
          'could not settle token reservation',
        ),
      );
    },
  };
}
