import { expect } from 'vitest';

/**
 * Asserts that the upstream received the body the client sent, with only what the gateway may
 * change: the model id rewritten to the route's upstream model and, on a stream, usage asked for
 * (`stream_options.include_usage`) so it can meter. Anything dropped, added or re-shaped fails.
 */
export function expectForwarded(
  received: Record<string, unknown> | undefined,
  sent: Record<string, unknown>,
  upstreamModel: string,
): void {
  expect(received, 'the upstream received no request').toBeDefined();
  const { model, stream_options: receivedOptions, ...rest } = received ?? {};
  const { model: _sentModel, stream_options: sentOptions, ...sentRest } = sent;
  expect(model).toBe(upstreamModel);
  expect(rest).toEqual(sentRest);
  if (sent.stream === true) {
    expect(receivedOptions).toEqual({
      ...(sentOptions as Record<string, unknown> | undefined),
      include_usage: true,
    });
  } else {
    expect(receivedOptions).toEqual(sentOptions);
  }
}
