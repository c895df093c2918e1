"""The Lua scripts of :class:`~harness.client.limiter_redis.RedisRateLimiter` (one round trip each).

The window is an exact log: one entry per admission (a sorted set of ids scored by Redis time, and a
hash of their weights "requests tokens input output"), running totals in the state hash, queued
tickets in a hash with their expiry in a sorted set, and the processes seen lately in ``members``.
Every script starts with the epoch prelude (:data:`~harness.client.redis_support.EPOCH_LUA`) and
answers ``{code, epoch, …}``.

KEYS: 1 epoch, 2 log, 3 weights, 4 state, 5 tickets, 6 ticket expiry, 7 members. ARGV[4]: the window.
"""

from __future__ import annotations

from harness.client.redis_support import EPOCH_LUA

__all__ = ["ACQUIRE", "CANCEL", "OBSERVE", "SEED", "SETTLE"]

_COMMON = (
    EPOCH_LUA
    + r"""
local W = tonumber(ARGV[4])
local KL, KW, KS, KT, KX, KM = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local function split(s) local r = {} for x in string.gmatch(s, '%S+') do r[#r + 1] = tonumber(x) end return r end
local function join(w) return f(w[1]) .. ' ' .. f(w[2]) .. ' ' .. f(w[3]) .. ' ' .. f(w[4]) end
local function hdel_all(key, ids)  -- in chunks: unpack() of a huge list would overflow Lua's stack
  for i = 1, #ids, 1000 do redis.call('HDEL', key, unpack(ids, i, math.min(i + 999, #ids))) end
end
local function touch()
  local ttl = math.ceil(W * 2 + 120)
  for i = 2, 7 do redis.call('EXPIRE', KEYS[i], ttl) end
end
local function add_totals(ws, sign)
  for d = 1, 4 do if ws[d] ~= 0 then redis.call('HINCRBYFLOAT', KS, 't' .. d, f(sign * ws[d])) end end
end
local function expire(now)
  local old = redis.call('ZRANGEBYSCORE', KL, '-inf', f(now - W))
  if #old > 0 then
    local sub = {0, 0, 0, 0}
    for _, id in ipairs(old) do
      local w = redis.call('HGET', KW, id)
      if w then local ws = split(w) for d = 1, 4 do sub[d] = sub[d] + ws[d] end end
    end
    hdel_all(KW, old)
    redis.call('ZREMRANGEBYSCORE', KL, '-inf', f(now - W))
    local empty = redis.call('ZCARD', KL) == 0
    for d = 1, 4 do
      if empty then redis.call('HSET', KS, 't' .. d, 0)
      elseif sub[d] ~= 0 then redis.call('HINCRBYFLOAT', KS, 't' .. d, f(-sub[d])) end
    end
  end
  local stale = redis.call('ZRANGEBYSCORE', KX, '-inf', '(' .. f(now))
  if #stale > 0 then
    hdel_all(KT, stale)
    redis.call('ZREMRANGEBYSCORE', KX, '-inf', '(' .. f(now))
  end
end
local function load_state(now, configured)
  local st = {tot = {}, lim = {}, hu = {}, ha = {}}
  for d = 1, 4 do
    local v = redis.call('HMGET', KS, 't' .. d, 'learned' .. d, 'hu' .. d, 'ha' .. d)
    st.tot[d] = tonumber(v[1]) or 0
    local c = configured and tonumber(configured[d]) or -1
    if c >= 0 then st.lim[d] = c elseif v[2] then st.lim[d] = tonumber(v[2]) end
    local hu = tonumber(v[3])
    if hu and hu > now then st.hu[d] = hu; st.ha[d] = tonumber(v[4]) or 0
    elseif hu then redis.call('HDEL', KS, 'hu' .. d, 'ha' .. d) end
  end
  return st
end
"""
)

# ARGV: 5-8 configured limits (-1: none), 9 lane index, 10 key, 11 max_queue_wait, 12 grace, 13 poll,
#       14-17 weights, 18 ticket id or "", 19 this process's token ("": not now), 20 members' horizon (s)
# Returns {code, epoch, wait, id, at, total1..4 (after a grant), processes seen within the horizon};
# code 1 granted, 0 queued, 2 too large; or {-2, epoch, seconds} while recovering, {-1, …} (epoch)
ACQUIRE = (
    _COMMON
    + r"""
local now = NOW
expire(now)
touch()
if ARGV[19] ~= '' then
  redis.call('ZADD', KM, f(now), ARGV[19])
  redis.call('ZREMRANGEBYSCORE', KM, '-inf', f(now - tonumber(ARGV[20])))
end
local members = redis.call('ZCARD', KM)
local st = load_state(now, {ARGV[5], ARGV[6], ARGV[7], ARGV[8]})
if NOW < RECOVER_UNTIL then  -- a limiter without any limit has nothing to recover
  for d = 1, 4 do if st.lim[d] or st.hu[d] then return {-2, EPOCH, f(RECOVER_UNTIL - NOW)} end end
end
local lane, key = tonumber(ARGV[9]), ARGV[10]
local maxwait, grace, poll = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local w = {tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16]), tonumber(ARGV[17])}
for d = 1, 4 do
  if st.lim[d] and w[d] > st.lim[d] then return {2, EPOCH, '0', '', f(now), 0, 0, 0, 0, members} end
end
local entries = nil
local function wait_for(need)
  local wait = 0
  for d = 1, 4 do
    local n = need[d]
    if st.hu[d] and n > st.ha[d] then wait = math.max(wait, st.hu[d] - now) end
    local L = st.lim[d]
    if L and n > 0 and st.tot[d] + n > L + 1e-9 then
      if not entries then
        entries = {}
        local z = redis.call('ZRANGE', KL, 0, -1, 'WITHSCORES')
        for i = 1, #z, 2 do
          local ws = redis.call('HGET', KW, z[i])
          entries[#entries + 1] = {tonumber(z[i + 1]), ws and split(ws) or {0, 0, 0, 0}}
        end
      end
      local excess = st.tot[d] + n - L
      local freed, last, done = 0, now - W, false
      for _, e in ipairs(entries) do
        freed = freed + e[2][d]; last = e[1]
        if freed >= excess - 1e-9 then done = true break end
      end
      if not done then last = last + W * math.ceil((excess - freed) / L) end
      -- never zero while it does not fit: rounding of now - W could otherwise admit over the limit
      wait = math.max(wait, last + W - now, 0.000001)
    end
  end
  return math.max(wait, 0)
end
local function grant(id, ws)
  redis.call('ZADD', KL, f(now), id)
  redis.call('HSET', KW, id, join(ws))
  for d = 1, 4 do
    if ws[d] ~= 0 then redis.call('HINCRBYFLOAT', KS, 't' .. d, f(ws[d])) end
    if st.hu[d] then redis.call('HINCRBYFLOAT', KS, 'ha' .. d, f(-ws[d])) end
  end
  return {1, EPOCH, '0', id, f(now), f(st.tot[1] + ws[1]), f(st.tot[2] + ws[2]), f(st.tot[3] + ws[3]),
          f(st.tot[4] + ws[4]), members}
end
local tid = ARGV[18]
local raw = tid ~= '' and redis.call('HGET', KT, tid) or false
local t
if raw then
  t = cjson.decode(raw)
else
  if redis.call('HLEN', KT) == 0 and wait_for(w) == 0 then
    return grant('r' .. EPOCH .. ':' .. redis.call('HINCRBY', KS, 'seq', 1), w)
  end
  local vf = redis.call('HMGET', KS, 'v' .. lane, 'f' .. lane .. ':' .. key)
  local tag = math.max(tonumber(vf[1]) or 0, tonumber(vf[2]) or 0)
  redis.call('HSET', KS, 'f' .. lane .. ':' .. key, f(tag + 1))
  local seq = redis.call('HINCRBY', KS, 'seq', 1)
  t = {id = 'r' .. EPOCH .. ':' .. seq, lane = lane, tag = tag, seq = seq, arrival = now, w = w}
  redis.call('HSET', KT, t.id, cjson.encode(t))
end
local all = {}
for i, v in ipairs(redis.call('HVALS', KT)) do
  local o = cjson.decode(v)
  o.k1, o.k2 = math.max(0, o.lane - math.floor((now - o.arrival) / maxwait)), o.tag
  all[i] = o
end
table.sort(all, function(a, b)
  if a.k1 ~= b.k1 then return a.k1 < b.k1 end
  if a.k2 ~= b.k2 then return a.k2 < b.k2 end
  return a.seq < b.seq
end)
local ahead = {0, 0, 0, 0}
for _, o in ipairs(all) do
  for d = 1, 4 do ahead[d] = ahead[d] + o.w[d] end
  if o.id == t.id then break end
end
local head = all[1].id == t.id
local wait = wait_for(head and t.w or ahead)
if head and wait == 0 then
  redis.call('HDEL', KT, t.id)
  redis.call('ZREM', KX, t.id)
  local v = tonumber(redis.call('HGET', KS, 'v' .. t.lane)) or 0
  redis.call('HSET', KS, 'v' .. t.lane, f(math.max(v, t.tag)))
  return grant(t.id, t.w)
end
if not head then wait = math.max(wait, poll) end
redis.call('ZADD', KX, f(now + wait + grace), t.id)
return {0, EPOCH, f(wait), t.id, f(now), 0, 0, 0, 0, members}
"""
)

# ARGV: 5 id, 6-9 actual weights, 10 refund (1/0)
SETTLE = (
    _COMMON
    + r"""
local raw = redis.call('HGET', KW, ARGV[5])
if not raw then return {0, EPOCH} end
local old = split(raw)
local new = {old[1], 0, 0, 0}
for d = 2, 4 do
  local a = tonumber(ARGV[d + 5])
  if ARGV[10] == '1' then new[d] = a else new[d] = math.max(a, old[d]) end
  if new[d] ~= old[d] then redis.call('HINCRBYFLOAT', KS, 't' .. d, f(new[d] - old[d])) end
end
redis.call('HSET', KW, ARGV[5], join(new))
return {1, EPOCH}
"""
)

# ARGV: 5 id
CANCEL = (
    _COMMON
    + r"""
if redis.call('HDEL', KT, ARGV[5]) == 1 then redis.call('ZREM', KX, ARGV[5]) return {1, EPOCH} end
local raw = redis.call('HGET', KW, ARGV[5])
if not raw then return {0, EPOCH} end
add_totals(split(raw), -1)
redis.call('HSET', KW, ARGV[5], '0 0 0 0')
return {1, EPOCH}
"""
)

# ARGV: 5-8 configured limits (-1: none), 9 safety, then per dimension: limit, remaining, reset ("" = none)
OBSERVE = (
    _COMMON
    + r"""
local now = NOW
expire(now)
touch()
local safety = tonumber(ARGV[9])
for d = 1, 4 do
  local limit, remaining, reset = tonumber(ARGV[7 + 3 * d]), tonumber(ARGV[8 + 3 * d]), tonumber(ARGV[9 + 3 * d])
  if limit and limit > 0 then redis.call('HSET', KS, 'learned' .. d, math.floor(limit * safety)) end
  local st = load_state(now, {ARGV[5], ARGV[6], ARGV[7], ARGV[8]})
  if reset and reset < 0 then reset = nil end
  if remaining then
    local known = st.lim[d]
    if not known then
      if reset then redis.call('HSET', KS, 'hu' .. d, f(now + reset), 'ha' .. d, f(remaining * safety)) end
    else
      local full = (limit and limit > 0) and limit or known / safety
      local unseen = full - remaining - st.tot[d]
      if unseen > 0 then
        local ws = {0, 0, 0, 0}
        ws[d] = unseen
        local id = 'p' .. EPOCH .. ':' .. redis.call('HINCRBY', KS, 'seq', 1)
        local at = math.min(now, now - W + (reset or W))
        redis.call('ZADD', KL, f(at), id)
        redis.call('HSET', KW, id, join(ws))
        redis.call('HINCRBYFLOAT', KS, 't' .. d, f(unseen))
      end
    end
  end
end
return {1, EPOCH}
"""
)

# Put admissions back into the window: this process's own after a restart lost the log (ids "e…"), or
# those it made without Redis (ids "w…"), each at its age on the caller's clock (so the Redis time it
# gets is never earlier than the real one); and, after a restart, the window's
# totals this process last saw. The part of those totals no re-seeded entry explains (admissions of
# processes that have not re-seeded, or never will) stays booked as one entry "F" at that time.
# ARGV: 5 time of the totals ("" = none), 6-9 the totals, 10 learned limits "l1 l2 l3 l4" ("" = none),
#       then per entry: id, age (seconds before the script runs: never earlier than it was), w1, w2, w3, w4
SEED = (
    _COMMON
    + r"""
expire(NOW)
touch()
for i = 11, #ARGV, 6 do
  local id, at = ARGV[i], NOW - tonumber(ARGV[i + 1])
  if at > NOW - W and not redis.call('ZSCORE', KL, id) then
    local ws = {tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5])}
    redis.call('ZADD', KL, f(at), id)
    redis.call('HSET', KW, id, join(ws))
    add_totals(ws, 1)
  end
end
if ARGV[10] ~= '' then
  local learned = split(ARGV[10])
  for d = 1, 4 do
    if learned[d] >= 0 and not redis.call('HGET', KS, 'learned' .. d) then
      redis.call('HSET', KS, 'learned' .. d, learned[d])
    end
  end
end
if ARGV[5] ~= '' and tonumber(ARGV[5]) > (tonumber(redis.call('HGET', KS, 'fl_tau')) or -1) then
  redis.call('HSET', KS, 'fl_tau', ARGV[5], 'fl_c', ARGV[6] .. ' ' .. ARGV[7] .. ' ' .. ARGV[8] .. ' ' .. ARGV[9])
end
local ft = tonumber(redis.call('HGET', KS, 'fl_tau'))
local old = redis.call('HGET', KW, 'F')
if old then
  if redis.call('ZREM', KL, 'F') == 1 then add_totals(split(old), -1) end
  redis.call('HDEL', KW, 'F')
end
if ft and ft > NOW - W then
  local c = split(redis.call('HGET', KS, 'fl_c'))
  local known = {0, 0, 0, 0}
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KL, '(' .. f(ft - W), f(ft))) do
    if string.sub(id, 1, 1) == 'e' then
      local ws = split(redis.call('HGET', KW, id) or '0 0 0 0')
      for d = 1, 4 do known[d] = known[d] + ws[d] end
    end
  end
  local rest = {0, 0, 0, 0}
  for d = 1, 4 do rest[d] = math.max(0, c[d] - known[d]) end
  redis.call('ZADD', KL, f(ft), 'F')
  redis.call('HSET', KW, 'F', join(rest))
  add_totals(rest, 1)
end
return {1, EPOCH}
"""
)
