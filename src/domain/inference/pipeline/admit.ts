import { randomBytes } from 'node:crypto';
import { requireScope } from '../../authorization.js';
import type { ModelRoute } from '../../ports.js';
import type { ModelRouter } from '../../routing/model-router.js';
import { routeCapabilities } from '../capabilities.js';
import { refuseOverContextWindow } from '../capability-checks.js';
import { admitChat, toolDefinitionTokens } from '../chat-admission.js';
import type { CompletionContext, CompletionParams } from './types.js';

/** A request that may be served: every refusal that needs no I/O is behind it. */
export interface Admitted {
  route: ModelRoute;
  /** The completion id (cmpl-…, chatcmpl-…): the response's id and the usage record's key. */
  id: string;
  /** Unix seconds. */
  created: number;
  /**
   * As the route's first row counts them: what is reserved, and what a generation that never
   * reaches `done` is charged.
   */
  promptTokens: number;
}

const ID_PREFIX: Record<CompletionParams['endpoint'], string> = {
  completions: 'cmpl-',
  'chat.completions': 'chatcmpl-',
};

/**
 * The scope, the model, a chat request's fields against the route and its providers, and the
 * route's context window: each a 403 or a 422 before anything is reserved, queued or sent.
 */
export function admit(
  router: ModelRouter,
  ctx: CompletionContext,
  params: CompletionParams,
): Admitted {
  requireScope(ctx.principal, 'completions:write');
  const route = router.resolveFor(params.model, 'completions');
  if (params.chat) admitChat(route, (target) => router.providerFor(target), params.chat);
  const promptTokens = router.countPromptTokens(params.model, params.input);
  refuseOverContextWindow(
    routeCapabilities(route),
    params.model,
    params.endpoint === 'completions' ? 'prompt' : 'messages',
    promptTokens + toolDefinitionTokens(params.chat) + params.maxTokens,
  );
  return {
    route,
    id: ID_PREFIX[params.endpoint] + randomBytes(12).toString('base64url'),
    created: Math.floor(Date.now() / 1000),
    promptTokens,
  };
}
