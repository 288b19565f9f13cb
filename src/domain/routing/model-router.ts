import { isAppError, validationError } from '../errors.js';
import type {
  GenerationCapacity,
  GenerationEvent,
  GenerationInput,
  GenerationRequest,
  ModelDescriptor,
  ModelProvider,
  ModelRoute,
  UpstreamTarget,
} from '../ports.js';
import { silentTracing, type SpanScope, type Tracing } from '../observability.js';
import { planAttempts, type PlannedAttempt } from './attempt-order.js';

/** What the caller supplies; the router fills in the upstream model and its timeout. */
export type RoutedRequest = Omit<GenerationRequest, 'model' | 'timeoutMs'>;

/**
 * - `completed`: this upstream delivered `done`.
 * - `failed_over`: it failed before sending anything; the next one is tried.
 * - `failed`: its error (or early end) went to the caller.
 * - `cancelled`: the client went away, or the caller stopped reading.
 */
export type AttemptOutcome = 'completed' | 'failed_over' | 'failed' | 'cancelled';

export interface AttemptInfo {
  /** Public model id. */
  model: string;
  provider: string;
  /** The upstream model name. */
  target: string;
  /** 1 for the first upstream tried for this request. */
  attempt: number;
  fallback: boolean;
  outcome: AttemptOutcome;
  durationMs: number;
  error?: unknown;
}

export type AttemptListener = (info: AttemptInfo) => void;

export interface ModelRouterOptions {
  /** The whole table (see withBuiltInRoutes); ids must be unique. */
  routes: readonly ModelRoute[];
  /** Only the providers configured right now; rows naming any other are not served. */
  providers: ReadonlyMap<string, ModelProvider>;
  /** In [0, 1); injectable so tests can pin the weighted pick. */
  random?: () => number;
  /** Called once per upstream attempt, when its outcome is known (for metrics). */
  onAttempt?: AttemptListener;
  /** One client span per upstream attempt; its traceparent is forwarded upstream. */
  tracing?: Tracing;
}

export interface GenerateHooks {
  onAttempt?: AttemptListener;
  /** The span the attempt spans belong under (a stream has no current span of its own). */
  span?: SpanScope;
}

export interface RouteDescription {
  /** The route as served: only rows whose provider is configured. */
  route: ModelRoute;
  /** Rows left out because their provider is not configured. */
  unconfigured: UpstreamTarget[];
  servable: boolean;
}

/** Public model ids → upstreams, with weighted picking and fallback before the first event. */
export class ModelRouter {
  private readonly served = new Map<string, ModelRoute>();
  private readonly descriptions = new Map<string, RouteDescription>();
  private readonly providers: ReadonlyMap<string, ModelProvider>;
  private readonly random: () => number;
  private readonly onAttempt: AttemptListener | undefined;
  private readonly tracing: Tracing;

  constructor(options: ModelRouterOptions) {
    this.providers = options.providers;
    this.tracing = options.tracing ?? silentTracing;
    this.random = options.random ?? Math.random;
    this.onAttempt = options.onAttempt;
    const configured = (t: UpstreamTarget): boolean => this.providers.has(t.provider);
    for (const route of options.routes) {
      if (this.descriptions.has(route.id)) {
        // Merging is withBuiltInRoutes' job; a duplicate here is a wiring mistake.
        throw new Error(`Duplicate model route "${route.id}"`);
      }
      const served: ModelRoute = {
        ...route,
        targets: route.targets.filter(configured),
        fallbacks: route.fallbacks.filter(configured),
      };
      const unconfigured = [...route.targets, ...route.fallbacks].filter((t) => !configured(t));
      const servable = served.targets.length + served.fallbacks.length > 0;
      this.descriptions.set(route.id, { route: served, unconfigured, servable });
      if (servable) this.served.set(route.id, served);
    }
  }

  /** Exactly the models that can be served now, in table order. */
  list(): ModelDescriptor[] {
    return [...this.served.values()].map(descriptorOf);
  }

  get(publicId: string): ModelDescriptor | undefined {
    const route = this.served.get(publicId);
    return route ? descriptorOf(route) : undefined;
  }

  /** The served route; an unknown or unservable id is a bad field value (422). */
  resolve(publicId: string): ModelRoute {
    const route = this.served.get(publicId);
    if (!route) {
      throw validationError('model', `Unknown model "${publicId}"; see GET /v1/models`);
    }
    return route;
  }

  /**
   * Resolves now (so an unknown model fails before anything starts), then streams from one
   * upstream. An upstream that fails with UPSTREAM_ERROR or UPSTREAM_TIMEOUT before its first
   * event is replaced by the next in line; after the first event every error reaches the caller
   * unchanged, because the client already holds part of that upstream's answer.
   */
  generate(
    publicId: string,
    request: RoutedRequest,
    hooks: GenerateHooks = {},
  ): AsyncIterable<GenerationEvent> {
    const route = this.resolve(publicId);
    const plan = planAttempts(route, this.random);
    const listeners = [this.onAttempt, hooks.onAttempt].filter((l) => l !== undefined);
    return this.run(route.id, plan, request, listeners, hooks.span);
  }

  /** Counted by the provider of the route's first served row (for rate limiting). */
  countPromptTokens(publicId: string, input: GenerationInput): number {
    const route = this.resolve(publicId);
    const first = route.targets[0] ?? route.fallbacks[0];
    return this.providerOf(first).countPromptTokens(input, first?.model ?? publicId);
  }

  /**
   * Which generation gate a request for this model waits behind. A route with any local row
   * counts as local: a fallback may land on a model context, and those are the scarce resource.
   */
  capacityOf(publicId: string): GenerationCapacity {
    const route = this.resolve(publicId);
    const rows = [...route.targets, ...route.fallbacks];
    return rows.some((row) => this.providerOf(row).capacity === 'local') ? 'local' : 'upstream';
  }

  /** The configured providers' names. */
  providerNames(): string[] {
    return [...this.providers.keys()];
  }

  /** How an id is routed, including rows left out; undefined for an id not in the table. */
  describeRoute(publicId: string): RouteDescription | undefined {
    return this.descriptions.get(publicId);
  }

  private providerOf(target: UpstreamTarget | undefined): ModelProvider {
    const provider = target && this.providers.get(target.provider);
    // Served routes hold only configured rows, so this is unreachable.
    if (!provider) throw new Error(`No configured provider for ${target?.provider ?? 'route'}`);
    return provider;
  }

  private async *run(
    model: string,
    plan: PlannedAttempt[],
    request: RoutedRequest,
    listeners: AttemptListener[],
    parent: SpanScope | undefined,
  ): AsyncGenerator<GenerationEvent> {
    for (const [index, { target, fallback }] of plan.entries()) {
      const startedAt = performance.now();
      let outcome: AttemptOutcome = 'cancelled';
      let failure: unknown;
      let started = false;
      const span = this.tracing.start(
        `upstream ${target.provider} ${target.model}`,
        {
          'gen_ai.system': target.provider,
          'gen_ai.request.model': target.model,
          'inference.attempt': index + 1,
          'inference.fallback': fallback,
        },
        { kind: 'client', ...(parent ? { parent } : {}) },
      );
      const traceparent = span.traceparent();
      try {
        const events = this.providerOf(target).generate({
          ...request,
          model: target.model,
          timeoutMs: target.timeoutMs,
          ...(traceparent === undefined
            ? {}
            : { forwardHeaders: { ...request.forwardHeaders, traceparent } }),
        });
        for await (const event of events) {
          started = true;
          if (event.type === 'done') {
            outcome = 'completed';
            span.setAttributes({
              'gen_ai.response.finish_reasons': [event.finishReason],
              'gen_ai.usage.input_tokens': event.usage.promptTokens,
              'gen_ai.usage.output_tokens': event.usage.completionTokens,
            });
          }
          yield event;
          if (event.type === 'done') return;
        }
        // Providers end without `done` only when aborted; pass the early end on, never a fake one.
        outcome = request.signal.aborted ? 'cancelled' : 'failed';
        return;
      } catch (error) {
        failure = error;
        const isLast = index === plan.length - 1;
        if (!started && !isLast && canFallBack(error, request.signal)) {
          outcome = 'failed_over';
          continue;
        }
        outcome = request.signal.aborted ? 'cancelled' : 'failed';
        throw error;
      } finally {
        const info: AttemptInfo = {
          model,
          provider: target.provider,
          target: target.model,
          attempt: index + 1,
          fallback,
          outcome,
          durationMs: performance.now() - startedAt,
          ...(failure === undefined ? {} : { error: failure }),
        };
        span.setAttributes({ 'inference.outcome': outcome });
        if (failure !== undefined) span.fail(failure);
        span.end();
        for (const listener of listeners) notify(listener, info);
      }
    }
  }
}

function descriptorOf(route: ModelRoute): ModelDescriptor {
  return { id: route.id, ownedBy: route.ownedBy, created: route.created };
}

/** Only an upstream's own failure is worth another upstream; a bad request or a gone client is not. */
function canFallBack(error: unknown, signal: AbortSignal): boolean {
  if (signal.aborted || !isAppError(error)) return false;
  return error.code === 'UPSTREAM_ERROR' || error.code === 'UPSTREAM_TIMEOUT';
}

function notify(listener: AttemptListener, info: AttemptInfo): void {
  try {
    listener(info);
  } catch {
    // Metrics and logs must never change what the client receives.
  }
}
