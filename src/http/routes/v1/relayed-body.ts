/** What the gateway puts on every answer in place of the upstream's own. */
export interface AnswerIdentity {
  id: string;
  model: string;
  created: number;
}

/**
 * An upstream's body in the client's own dialect, as it came but for `id`, `model` and `created`:
 * the client sees this gateway's completion id (the one usage is recorded under) and the public
 * model id, never the upstream's. Replacing keys in place keeps the upstream's field order.
 */
export function relayedAsOurs(
  data: Record<string, unknown>,
  identity: AnswerIdentity,
): Record<string, unknown> {
  return { ...data, id: identity.id, model: identity.model, created: identity.created };
}
