/**
 * What a route of the routing table may be used for, as the operator declared it. The gateway
 * refuses up front (422 naming the field and the model) what a route cannot do, and
 * GET /v1/models shows it. Unset fields take DEFAULT_CAPABILITIES, so a table written before a
 * field existed means what it meant.
 */
export interface RouteCapabilities {
  /** POST /v1/completions and /v1/chat/completions. */
  completions: boolean;
  embeddings: boolean;
  /** `tools` / `tool_choice` / tool messages; unset: whatever the provider honours. */
  tools?: boolean;
  /** `image_url` content parts; unset: whatever the provider honours. */
  vision?: boolean;
  /** `response_format: json_schema`; unset: whatever the provider honours. */
  jsonSchema?: boolean;
  /** Prompt plus completion tokens the model takes; unset: not checked by the gateway. */
  contextWindow?: number;
}

export type Capability = 'completions' | 'embeddings';

export const DEFAULT_CAPABILITIES: RouteCapabilities = { completions: true, embeddings: false };

/** A route's capabilities as declared, or the defaults. */
export function routeCapabilities(route: { capabilities?: RouteCapabilities }): RouteCapabilities {
  return route.capabilities ?? DEFAULT_CAPABILITIES;
}
