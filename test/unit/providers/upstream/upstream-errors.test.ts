import { describe, expect, it } from 'vitest';
import {
  redactForLog,
  toAppError,
  UpstreamFailure,
} from '../../../../src/providers/shared/upstream-errors.js';

describe('toAppError', () => {
  it('maps timeouts to UPSTREAM_TIMEOUT and everything else to UPSTREAM_ERROR', () => {
    expect(toAppError(new UpstreamFailure('timeout'), false).code).toBe('UPSTREAM_TIMEOUT');
    for (const kind of ['connect', 'malformed', 'stream', 'upstream-event'] as const) {
      expect(toAppError(new UpstreamFailure(kind), false).code).toBe('UPSTREAM_ERROR');
    }
    const status = toAppError(new UpstreamFailure('status', { status: 503 }), false);
    expect(status.code).toBe('UPSTREAM_ERROR');
    expect(status.status).toBe(502);
  });

  it('gives fixed messages that never carry the upstream detail', () => {
    const detail = 'key sk-live-abcdefgh at https://internal.example/v1';
    for (const status of [400, 401, 404, 422, 429, 500]) {
      const error = toAppError(new UpstreamFailure('status', { status, detail }), false);
      expect(error.message).not.toContain('sk-live');
      expect(error.message).not.toContain('internal.example');
    }
    expect(toAppError(new UpstreamFailure('status', { status: 422 }), false).message).toMatch(
      /context length/,
    );
    expect(toAppError(new UpstreamFailure('stream'), true).message).toMatch(/mid-stream/);
  });

  it('decides retryability and breaker relevance by kind and status', () => {
    expect(new UpstreamFailure('connect').retryable).toBe(true);
    expect(new UpstreamFailure('timeout').retryable).toBe(false);
    expect(new UpstreamFailure('status', { status: 429 }).retryable).toBe(true);
    expect(new UpstreamFailure('status', { status: 400 }).retryable).toBe(false);
    expect(new UpstreamFailure('status', { status: 400 }).countsAgainstUpstream).toBe(false);
    expect(new UpstreamFailure('status', { status: 409 }).countsAgainstUpstream).toBe(false);
    expect(new UpstreamFailure('status', { status: 500 }).countsAgainstUpstream).toBe(true);
    expect(new UpstreamFailure('upstream-event', { retryable: true }).retryable).toBe(true);
  });
});

describe('redactForLog', () => {
  it('removes configured secrets and key-shaped strings, and truncates', () => {
    const text =
      '{"error":{"message":"bad key sk-proj-AbC123xyz for Bearer abc.def, api_key=hunter22 mysecretvalue"}}';
    const out = redactForLog(text, ['mysecretvalue']);
    expect(out).not.toContain('sk-proj-AbC123xyz');
    expect(out).not.toContain('abc.def');
    expect(out).not.toContain('hunter22');
    expect(out).not.toContain('mysecretvalue');
    expect(out).toContain('[redacted]');
    expect(redactForLog('x'.repeat(500)).length).toBeLessThanOrEqual(201);
  });
});
