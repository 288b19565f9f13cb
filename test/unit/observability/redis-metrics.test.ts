import { tracingChannel } from 'node:diagnostics_channel';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { observeRedisCommands } from '../../../src/observability/redis-metrics.js';
import { samples, valueOf } from './series.js';

// The channel ioredis publishes on; publishing here stands in for a client.
const commands = tracingChannel<unknown, { command: string }>('ioredis:command');

function publish(command: string, outcome: 'ok' | 'error'): Promise<unknown> {
  return commands
    .tracePromise(
      async () => {
        if (outcome === 'error') throw new Error('NOSCRIPT');
        return 'OK';
      },
      { command },
    )
    .catch(() => undefined);
}

describe('Redis command metrics', () => {
  it('times each command by name and outcome', async () => {
    const registry = new Registry();
    const redis = observeRedisCommands(registry);
    try {
      await publish('EVALSHA', 'ok');
      await publish('evalsha', 'error');
      await publish('get', 'ok');

      const series = { command: 'evalsha', outcome: 'ok' };
      expect(await valueOf(registry, 'redis_command_duration_seconds', series, '_count')).toBe(1);
      expect(
        await valueOf(
          registry,
          'redis_command_duration_seconds',
          { command: 'evalsha', outcome: 'error' },
          '_count',
        ),
      ).toBe(1);
      expect(
        await valueOf(
          registry,
          'redis_command_duration_seconds',
          { command: 'get', outcome: 'ok' },
          '_count',
        ),
      ).toBe(1);
    } finally {
      redis.stop();
    }
  });

  it('stops observing once stopped', async () => {
    const registry = new Registry();
    const redis = observeRedisCommands(registry);
    redis.stop();
    redis.stop();
    await publish('get', 'ok');
    expect(await samples(registry, 'redis_command_duration_seconds', '_count')).toEqual([]);
    expect(commands.hasSubscribers).toBe(false);
  });
});
