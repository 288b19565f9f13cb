import type { ModelRoute, ModelProvider, UpstreamTarget } from '../ports.js';
import { routeCapabilities } from './capabilities.js';
import { beyondCapabilities } from './capability-checks.js';
import { checkChatRequest } from './chat-checks.js';
import type { ChatCompletionBody } from './chat-request.js';
import { plainChatSupport, unsupportedChatField, unsupportedFieldError } from './chat-support.js';

const PLAIN_CHAT_SUPPORT = plainChatSupport();

/**
 * Admission of a chat request: its cross-field rules, what the route is declared for, then
 * whether every row's provider can honour every field — a fallback must be able to answer the
 * same request, so a field any row would drop is refused. All are 422s before anything is
 * reserved, queued or sent.
 */
export function admitChat(
  route: ModelRoute,
  providerFor: (target: UpstreamTarget) => ModelProvider,
  body: ChatCompletionBody,
): void {
  checkChatRequest(body);
  const beyond = beyondCapabilities(routeCapabilities(route), body);
  if (beyond) throw unsupportedFieldError(beyond, route.id);
  for (const row of [...route.targets, ...route.fallbacks]) {
    const unsupported = unsupportedChatField(
      body,
      providerFor(row).chatSupport ?? PLAIN_CHAT_SUPPORT,
    );
    if (unsupported) throw unsupportedFieldError(unsupported, route.id);
  }
}

/** Tool definitions count towards the window too; about four characters a token. */
export function toolDefinitionTokens(body: ChatCompletionBody | undefined): number {
  const tools = body?.tools ?? body?.functions;
  return tools == null ? 0 : Math.ceil(JSON.stringify(tools).length / 4);
}
