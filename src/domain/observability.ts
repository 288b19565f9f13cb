/**
 * What the domain reports about its work, for metrics. Implemented with prom-client outside the
 * domain; `silentObserver` where nothing listens. Label values passed here are bounded: model ids
 * come from the routing table, organization ids from the database, never from raw input.
 */
export interface InferenceObserver {
  generationFinished(event: {
    model: string;
    organizationId: string | null;
    endpoint: 'completions' | 'chat.completions';
    stream: boolean;
    outcome: 'completed' | 'cancelled' | 'failed';
    cache: 'hit' | 'miss' | 'bypass';
    promptTokens: number;
    completionTokens: number;
    /** Time to the first text, when there was one. */
    timeToFirstTokenMs: number | null;
    durationMs: number;
  }): void;
  upstreamAttempt(event: {
    provider: string;
    target: string;
    model: string;
    outcome: 'completed' | 'failed_over' | 'failed' | 'cancelled';
    fallback: boolean;
    retryOf?: number;
    durationMs: number;
    errorCode?: string;
  }): void;
  rateLimited(limit: 'requests' | 'tokens' | 'address' | 'sign_in'): void;
  shed(reason: 'capacity' | 'queue_timeout' | 'event_loop_lag' | 'memory'): void;
}

export const silentObserver: InferenceObserver = {
  generationFinished: () => undefined,
  upstreamAttempt: () => undefined,
  rateLimited: () => undefined,
  shed: () => undefined,
};
