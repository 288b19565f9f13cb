import { LuaScript } from '../redis/lua-script.js';

// The clock is Redis's (TIME), so every instance judges by the same one; ARGV[1] is the TTL in ms
// given to every key written. Numbers written to Redis go through string.format: Lua would print
// large or fractional ones in a rounded %.14g form.
const PREAMBLE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local MINUTE = 60000
local ttl = tonumber(ARGV[1])
`;

/**
 * KEYS: one hash per bucket (tokens = fractional level, at = ms it was computed).
 * ARGV: ttl, then each bucket's perMinute. Charges every bucket or none.
 * Reply: refusedAt (1-based, 0 when admitted), retryAfterMs, now, then per bucket remaining and
 * resetAtMs.
 */
export const TAKE_REQUEST = new LuaScript(`${PREAMBLE}
local levels = {}
local refusedAt = 0
local wait = 0
for i = 1, #KEYS do
  local cap = tonumber(ARGV[i + 1])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local level = tonumber(state[1])
  local at = tonumber(state[2])
  if level == nil or at == nil then
    level = cap
  else
    level = math.min(cap, level + math.max(0, now - at) * cap / MINUTE)
  end
  if level < 1 then
    if refusedAt == 0 then refusedAt = i end
    wait = math.max(wait, math.ceil((1 - level) * MINUTE / cap))
  end
  levels[i] = level
end
local reply = { refusedAt, wait, now }
for i = 1, #KEYS do
  local cap = tonumber(ARGV[i + 1])
  local level = levels[i]
  if refusedAt == 0 then
    level = level - 1
    redis.call('HSET', KEYS[i], 'tokens', string.format('%.17g', level), 'at', string.format('%d', now))
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  reply[#reply + 1] = math.floor(level)
  reply[#reply + 1] = now + math.ceil((cap - level) * MINUTE / cap)
end
return reply
`);

// A window is two keys: a sorted set of reservation ids scored by the ms they were made, and a
// hash of 'r:' .. id -> amount plus 'total', the sum of the live amounts, kept up to date so that
// a call costs O(log n + expired) rather than a sum over the whole window. Ids are read and
// removed a page at a time: one command per page rather than one per reservation.
const WINDOWS = `${PREAMBLE}
local PAGE = 200

local function amountsOf(amounts, members)
  local fields = {}
  for j, member in ipairs(members) do fields[j] = 'r:' .. member end
  local values = redis.call('HMGET', amounts, unpack(fields))
  local numbers = {}
  for j = 1, #fields do numbers[j] = tonumber(values[j]) or 0 end
  return numbers, fields
end

-- Drops the reservations a minute old or more; returns the live total.
local function trim(window, amounts)
  local cutoff = now - MINUTE
  local freed = 0
  local expired
  repeat
    expired = redis.call('ZRANGEBYSCORE', window, '-inf', cutoff, 'LIMIT', 0, PAGE)
    if #expired > 0 then
      local numbers, fields = amountsOf(amounts, expired)
      for _, number in ipairs(numbers) do freed = freed + number end
      redis.call('HDEL', amounts, unpack(fields))
      redis.call('ZREM', window, unpack(expired))
    end
  until #expired < PAGE
  if freed ~= 0 then redis.call('HINCRBY', amounts, 'total', string.format('%d', -freed)) end
  -- Both keys always get the same TTL, but should the hash outlive the set, its total is stale.
  if redis.call('EXISTS', window) == 0 then
    redis.call('DEL', amounts)
    return 0
  end
  return tonumber(redis.call('HGET', amounts, 'total')) or 0
end
`;

/**
 * KEYS: per window its sorted set then its hash. ARGV: ttl, amount, reservation id, then each
 * window's perMinute. Reserves in every window or in none; an id already live in a window has its
 * amount replaced, not added to.
 * Reply: refusedAt (1-based, 0 when admitted), retryAfterMs, now, then per window remaining and
 * resetAtMs (when its oldest live reservation leaves, or now when it is empty).
 */
export const RESERVE = new LuaScript(`${WINDOWS}
local amount = tonumber(ARGV[2])
local id = ARGV[3]
local field = 'r:' .. id
local n = #KEYS / 2

-- Ms until enough of the oldest reservations other than id leave to free excess tokens. A refusal
-- must not hold Redis for long: past WALK_LIMIT reservations it answers when the newest one
-- leaves, which is late but never early.
local WALK_LIMIT = 1000
local function waitToFit(window, amounts, excess)
  local freed = 0
  for start = 0, WALK_LIMIT - 1, PAGE do
    local page = redis.call('ZRANGE', window, start, math.min(start + PAGE, WALK_LIMIT) - 1, 'WITHSCORES')
    if #page == 0 then break end
    local members = {}
    for j = 1, #page, 2 do members[#members + 1] = page[j] end
    local numbers = amountsOf(amounts, members)
    for j, member in ipairs(members) do
      if member ~= id then
        freed = freed + numbers[j]
        if freed >= excess then return tonumber(page[2 * j]) + MINUTE - now end
      end
    end
  end
  local newest = redis.call('ZRANGE', window, -1, -1, 'WITHSCORES')
  if #newest == 0 then return MINUTE end
  return tonumber(newest[2]) + MINUTE - now
end

local current, others, refusing = {}, {}, {}
local refusedAt = 0
local wait = 0
for i = 1, n do
  local window, amounts = KEYS[2 * i - 1], KEYS[2 * i]
  local limit = tonumber(ARGV[3 + i])
  current[i] = trim(window, amounts)
  others[i] = current[i] - (tonumber(redis.call('HGET', amounts, field)) or 0)
  refusing[i] = others[i] + amount > limit
  if refusing[i] then
    if refusedAt == 0 then refusedAt = i end
    -- Too large to ever fit: a minute is as good an answer as any.
    local w = MINUTE
    if amount <= limit then w = waitToFit(window, amounts, others[i] + amount - limit) end
    wait = math.max(wait, w)
  end
end
local reply = { refusedAt, wait, now }
for i = 1, n do
  local window, amounts = KEYS[2 * i - 1], KEYS[2 * i]
  local limit = tonumber(ARGV[3 + i])
  local used = current[i]
  if refusedAt == 0 then
    used = others[i] + amount
    redis.call('ZADD', window, now, id)
    redis.call('HSET', amounts, field, string.format('%d', amount), 'total', string.format('%d', used))
    redis.call('PEXPIRE', window, ttl)
    redis.call('PEXPIRE', amounts, ttl)
  end
  local remaining = 0
  if not refusing[i] then remaining = math.max(0, limit - used) end
  local oldest = redis.call('ZRANGE', window, 0, 0, 'WITHSCORES')
  local resetAt = now
  if #oldest > 0 then resetAt = tonumber(oldest[2]) + MINUTE end
  reply[#reply + 1] = math.floor(remaining)
  reply[#reply + 1] = resetAt
end
return reply
`);

/**
 * KEYS: as for RESERVE. ARGV: ttl, reservation id, actual amount. Sets the reservation's amount,
 * keeping its time, in every window where it is still live; setting the same amount twice is a
 * no-op.
 */
export const SETTLE = new LuaScript(`${WINDOWS}
local field = 'r:' .. ARGV[2]
local actual = tonumber(ARGV[3])
for i = 1, #KEYS / 2 do
  local window, amounts = KEYS[2 * i - 1], KEYS[2 * i]
  trim(window, amounts)
  local old = tonumber(redis.call('HGET', amounts, field))
  if old ~= nil then
    redis.call('HSET', amounts, field, string.format('%d', actual))
    redis.call('HINCRBY', amounts, 'total', string.format('%d', actual - old))
    redis.call('PEXPIRE', window, ttl)
    redis.call('PEXPIRE', amounts, ttl)
  end
end
return 0
`);
