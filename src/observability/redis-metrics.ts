import { tracingChannel } from 'node:diagnostics_channel';
import { Histogram, type Registry } from 'prom-client';

/** What ioredis publishes on `ioredis:command` (its CommandTraceContext), as far as we read it. */
interface CommandContext {
  command: string;
  error?: unknown;
}

export interface RedisMetrics {
  /** Stops observing; idempotent. */
  stop(): void;
}

// Rate-limit, revocation and cache commands take well under a millisecond on a healthy network;
// the top buckets are the client's command timeout range.
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * Redis command latency from ioredis's own diagnostics channel (`ioredis:command`, published for
 * every command written to a connection, pipelines and Lua scripts included). Subscribing needs no
 * change to how clients are made and cannot alter a command's behaviour, unlike wrapping
 * `sendCommand`. The channel is process-wide: every ioredis client in the process is observed.
 * A command refused before it is written (disconnected, no offline queue) is not published; the
 * `rate_limit_store_mode` gauge and the Redis logs cover that case.
 */
export function observeRedisCommands(registry: Registry): RedisMetrics {
  const duration = new Histogram({
    name: 'redis_command_duration_seconds',
    help: 'Time from writing a Redis command to its reply, by command and outcome (ok, error)',
    labelNames: ['command', 'outcome'] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  const started = new WeakMap<object, number>();
  const channel = tracingChannel<string, CommandContext>('ioredis:command');
  const handlers = {
    start(context: CommandContext) {
      started.set(context, performance.now());
    },
    end() {},
    asyncStart() {},
    asyncEnd(context: CommandContext) {
      const startedAt = started.get(context);
      if (startedAt === undefined) return;
      started.delete(context);
      duration.observe(
        {
          command: String(context.command).toLowerCase(),
          outcome: context.error === undefined ? 'ok' : 'error',
        },
        (performance.now() - startedAt) / 1000,
      );
    },
    error() {},
  };
  channel.subscribe(handlers);
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      channel.unsubscribe(handlers);
    },
  };
}
