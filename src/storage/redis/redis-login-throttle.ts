import type { Redis } from 'ioredis';
import type { LoginThrottle, LoginThrottleDecision } from '../../domain/identity/ports.js';
import { LuaScript } from './lua-script.js';
import {
  decision,
  DEFAULT_LOGIN_THROTTLE_POLICY,
  type LoginThrottlePolicy,
} from '../../domain/identity/login-throttle-policy.js';

// Each key is a hash: f = failures, p = pending attempts, t = last attempt (ms, Redis clock).
// Both scripts read the clock with TIME so that every instance judges by the same one.
const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local windowMs = tonumber(ARGV[1])
`;

/** Returns the milliseconds to wait, or 0 after counting the attempt as pending on every key. */
const CHECK = new LuaScript(`${NOW}
local delayAfter = tonumber(ARGV[2])
local refuseAfter = tonumber(ARGV[3])
local baseDelayMs = tonumber(ARGV[4])
local wait = 0
for _, key in ipairs(KEYS) do
  local entry = redis.call('HMGET', key, 'f', 'p', 't')
  local failures = (tonumber(entry[1]) or 0) + (tonumber(entry[2]) or 0)
  local keyWait = 0
  if failures >= refuseAfter then
    keyWait = redis.call('PTTL', key)
  elseif failures >= delayAfter then
    local delay = math.min(baseDelayMs * 2 ^ (failures - delayAfter), windowMs)
    keyWait = (tonumber(entry[3]) or 0) + delay - now
  end
  if keyWait > wait then wait = keyWait end
end
if wait > 0 then return math.ceil(wait) end
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'p', 1)
  redis.call('HSET', key, 't', string.format('%d', now))
  redis.call('PEXPIRE', key, windowMs)
end
return 0
`);

const FAILURE = new LuaScript(`${NOW}
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'f', 1)
  if (tonumber(redis.call('HGET', key, 'p')) or 0) > 0 then
    redis.call('HINCRBY', key, 'p', -1)
  end
  redis.call('HSET', key, 't', string.format('%d', now))
  redis.call('PEXPIRE', key, windowMs)
end
return 0
`);

// No TTL change: a success must not keep the key's failures alive any longer.
const RELEASE = new LuaScript(`
for _, key in ipairs(KEYS) do
  if (tonumber(redis.call('HGET', key, 'p')) or 0) > 0 then
    redis.call('HINCRBY', key, 'p', -1)
  end
end
return 0
`);

export interface RedisLoginThrottleOptions {
  keyPrefix?: string;
  policy?: LoginThrottlePolicy;
}

/**
 * The LoginThrottle policy (see login-throttle-policy.ts) shared by every instance. Each operation
 * is one Lua script, so a check and the attempt it admits are counted atomically across instances.
 * All keys of one call go to one script: on Redis Cluster they would need a common hash tag.
 */
export class RedisLoginThrottle implements LoginThrottle {
  private readonly prefix: string;
  private readonly policy: LoginThrottlePolicy;

  constructor(
    private readonly client: Redis,
    options: RedisLoginThrottleOptions = {},
  ) {
    this.prefix = `${options.keyPrefix ?? ''}throttle:`;
    this.policy = options.policy ?? DEFAULT_LOGIN_THROTTLE_POLICY;
  }

  async check(keys: string[]): Promise<LoginThrottleDecision> {
    const { windowMs, delayAfter, refuseAfter, baseDelayMs } = this.policy;
    const wait = await CHECK.run(this.client, this.keys(keys), [
      windowMs,
      delayAfter,
      refuseAfter,
      baseDelayMs,
    ]);
    return decision(Number(wait));
  }

  async recordFailure(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await FAILURE.run(this.client, this.keys(keys), [this.policy.windowMs]);
  }

  async release(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await RELEASE.run(this.client, this.keys(keys), []);
  }

  async reset(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.client.del(...this.keys(keys));
  }

  private keys(keys: string[]): string[] {
    return [...new Set(keys)].map((key) => this.prefix + key);
  }
}
