import { validationError } from '../errors.js';
import type {
  GenerationCapacity,
  GenerationEvent,
  GenerationInput,
  ModelDescriptor,
  ModelProvider,
  ModelRoute,
  UpstreamTarget,
} from '../ports.js';
import { silentTracing, type SpanScope, type Tracing } from '../observability.js';
import { planAttempts, type PlannedAttempt } from './attempt-order.js';
import { routeCapabilities, type Capability } from '../inference/capabilities.js';
import {
  openFirstEvent,
  streamOpened,
  type AttemptListener,
  type OpenedAttempt,
} from '../inference/pipeline/route-stage.js';

export {
  canFallBack,
  type AttemptInfo,
  type AttemptListener,
  type AttemptOutcome,
} from '../inference/pipeline/route-stage.js';

import type { RoutedRequest } from '../inference/pipeline/route-stage.js';

export type { RoutedRequest };

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
   * The served route, if it is declared for this use: a chat model asked for embeddings (or the
   * reverse) is a bad `model` (422), refused before anything is reserved.
   */
  resolveFor(publicId: string, capability: Capability): ModelRoute {
    const route = this.resolve(publicId);
    if (!routeCapabilities(route)[capability]) {
      throw validationError(
        'model',
        capability === 'embeddings'
          ? `Model "${publicId}" does not serve embeddings; see capabilities in GET /v1/models`
          : `Model "${publicId}" serves embeddings only; use POST /v1/embeddings`,
      );
    }
    return route;
  }

  /** The order one request tries the route's rows in (one weighted pick, then the rest). */
  planFor(route: ModelRoute): PlannedAttempt[] {
    return planAttempts(route, this.random);
  }

  /** The configured provider of a served row. */
  providerFor(target: UpstreamTarget): ModelProvider {
    return this.providerOf(target);
  }

  /**
   * Tries the route's rows (one weighted pick, then the rest, then the fallbacks) until one
   * produces a first event; see openFirstEvent. The caller owns the rest of the stream.
   */
  open(
    route: ModelRoute,
    request: RoutedRequest,
    hooks: GenerateHooks = {},
  ): Promise<OpenedAttempt> {
    return openFirstEvent({
      model: route.id,
      plan: planAttempts(route, this.random),
      request,
      providerFor: (target) => this.providerOf(target),
      tracing: this.tracing,
      listeners: [this.onAttempt, hooks.onAttempt].filter((l) => l !== undefined),
      ...(hooks.span ? { parent: hooks.span } : {}),
    });
  }

  /**
   * The plain stream of one request, for callers that own no outcome of their own (the
   * completion pipeline uses `open`). Resolves the model now, so an unknown one throws here.
   */
  generate(
    publicId: string,
    request: RoutedRequest,
    hooks: GenerateHooks = {},
  ): AsyncIterable<GenerationEvent> {
    const opened = this.open(this.resolve(publicId), request, hooks);
    return streamOpened(opened, request.signal);
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
}

function descriptorOf(route: ModelRoute): ModelDescriptor {
  return {
    id: route.id,
    ownedBy: route.ownedBy,
    created: route.created,
    capabilities: routeCapabilities(route),
  };
}
