"""The rate limiter with its state in Redis, so many processes (and Locust workers) obey one quota.

Same algorithm and :class:`~harness.client.limiter.Limiter` interface as the in-memory
:class:`~harness.client.limiter.RateLimiter` (a sliding window that never admits over the limit,
priority lanes with aging, start-time fair queuing per key, learning from headers), run as one Lua
script per operation on Redis's own clock. Here the window is an exact log (one entry per admission,
expiring with it); the in-memory limiter keeps time buckets instead, which give capacity back up to
one ``bucket_s`` later: the same guarantee. Keys live under ``{prefix:name}`` (one hash slot) and
expire when the limiter is idle.

While Redis is unreachable the configured :class:`~harness.client.redis_support.RedisFallback`
applies: ``local`` admits from an in-memory limiter holding ``local_share`` of every limit (set it
to 1 / number of processes so the fleet stays under the quota), ``closed`` answers "not granted,
ask again after retry_interval_s". Either way no Redis error reaches the caller, and the next call
after ``retry_interval_s`` goes back to Redis.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis

from harness.client.events import EventSink, ignore_events
from harness.client.limiter import DIMENSIONS, Demand, LimitConfig, RateLimiter, Reservation, usage_weights
from harness.client.redis_support import RedisFallback, RedisLink, RedisUnavailable
from harness.clock import Clock
from harness.errors import ConfigError
from harness.pricing import Usage

__all__ = ["RedisRateLimiter"]

# KEYS: 1 log (zset id->t), 2 weights (hash id->"w0 w1 w2 w3"), 3 state (hash), 4 tickets (hash id->json),
#       5 ticket expiry (zset id->expires_at)
_COMMON = r"""
local function now_s() local t = redis.call('TIME'); return tonumber(t[1]) + tonumber(t[2]) / 1000000 end
local function f(x) return string.format('%.17g', x) end
local function split(s) local r = {} for x in string.gmatch(s, '%S+') do r[#r + 1] = tonumber(x) end return r end
local function join(w) return f(w[1]) .. ' ' .. f(w[2]) .. ' ' .. f(w[3]) .. ' ' .. f(w[4]) end
local W = tonumber(ARGV[1])
local function hdel_all(key, ids)  -- in chunks: unpack() of a huge list would overflow Lua's stack
  for i = 1, #ids, 1000 do redis.call('HDEL', key, unpack(ids, i, math.min(i + 999, #ids))) end
end
local function touch()
  local ttl = math.ceil(W * 2 + 120)
  for i = 1, 5 do redis.call('EXPIRE', KEYS[i], ttl) end
end
local function expire(now)
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', f(now - W))
  if #old > 0 then
    local sub = {0, 0, 0, 0}
    for _, id in ipairs(old) do
      local w = redis.call('HGET', KEYS[2], id)
      if w then local ws = split(w) for d = 1, 4 do sub[d] = sub[d] + ws[d] end end
    end
    hdel_all(KEYS[2], old)
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', f(now - W))
    local empty = redis.call('ZCARD', KEYS[1]) == 0
    for d = 1, 4 do
      if empty then redis.call('HSET', KEYS[3], 't' .. d, 0)
      elseif sub[d] ~= 0 then redis.call('HINCRBYFLOAT', KEYS[3], 't' .. d, f(-sub[d])) end
    end
  end
  local stale = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', '(' .. f(now))
  if #stale > 0 then
    hdel_all(KEYS[4], stale)
    redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. f(now))
  end
end
local function load_state(now, configured)
  local st = {tot = {}, lim = {}, hu = {}, ha = {}}
  for d = 1, 4 do
    local v = redis.call('HMGET', KEYS[3], 't' .. d, 'learned' .. d, 'hu' .. d, 'ha' .. d)
    st.tot[d] = tonumber(v[1]) or 0
    local c = configured and tonumber(configured[d]) or -1
    if c >= 0 then st.lim[d] = c elseif v[2] then st.lim[d] = tonumber(v[2]) end
    local hu = tonumber(v[3])
    if hu and hu > now then st.hu[d] = hu; st.ha[d] = tonumber(v[4]) or 0
    elseif hu then redis.call('HDEL', KEYS[3], 'hu' .. d, 'ha' .. d) end
  end
  return st
end
"""

# ARGV: 1 window, 2-5 configured limits (-1: none), 6 lane index, 7 key, 8 max_queue_wait, 9 grace, 10 poll,
#       11-14 weights, 15 ticket id or ""
_ACQUIRE = (
    _COMMON
    + r"""
local now = now_s()
expire(now)
touch()
local st = load_state(now, {ARGV[2], ARGV[3], ARGV[4], ARGV[5]})
local lane, key = tonumber(ARGV[6]), ARGV[7]
local maxwait, grace, poll = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local w = {tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])}
for d = 1, 4 do
  if st.lim[d] and w[d] > st.lim[d] then return {2, '0', '', f(now)} end
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
        local z = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
        for i = 1, #z, 2 do
          local ws = redis.call('HGET', KEYS[2], z[i])
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
  redis.call('ZADD', KEYS[1], f(now), id)
  redis.call('HSET', KEYS[2], id, join(ws))
  for d = 1, 4 do
    if ws[d] ~= 0 then redis.call('HINCRBYFLOAT', KEYS[3], 't' .. d, f(ws[d])) end
    if st.hu[d] then redis.call('HINCRBYFLOAT', KEYS[3], 'ha' .. d, f(-ws[d])) end
  end
  return {1, '0', id, f(now)}
end
local tid = ARGV[15]
local raw = tid ~= '' and redis.call('HGET', KEYS[4], tid) or false
local t
if raw then
  t = cjson.decode(raw)
else
  if redis.call('HLEN', KEYS[4]) == 0 and wait_for(w) == 0 then
    return grant('r' .. redis.call('HINCRBY', KEYS[3], 'seq', 1), w)
  end
  local vf = redis.call('HMGET', KEYS[3], 'v' .. lane, 'f' .. lane .. ':' .. key)
  local tag = math.max(tonumber(vf[1]) or 0, tonumber(vf[2]) or 0)
  redis.call('HSET', KEYS[3], 'f' .. lane .. ':' .. key, f(tag + 1))
  local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
  t = {id = 'r' .. seq, lane = lane, tag = tag, seq = seq, arrival = now, w = w}
  redis.call('HSET', KEYS[4], t.id, cjson.encode(t))
end
local all = {}
for i, v in ipairs(redis.call('HVALS', KEYS[4])) do
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
  redis.call('HDEL', KEYS[4], t.id)
  redis.call('ZREM', KEYS[5], t.id)
  local v = tonumber(redis.call('HGET', KEYS[3], 'v' .. t.lane)) or 0
  redis.call('HSET', KEYS[3], 'v' .. t.lane, f(math.max(v, t.tag)))
  return grant(t.id, t.w)
end
if not head then wait = math.max(wait, poll) end
redis.call('ZADD', KEYS[5], f(now + wait + grace), t.id)
return {0, f(wait), t.id, f(now)}
"""
)

# ARGV: 1 window, 2 id, 3-6 actual weights, 7 refund (1/0)
_SETTLE = (
    _COMMON
    + r"""
local raw = redis.call('HGET', KEYS[2], ARGV[2])
if not raw then return 0 end
local old = split(raw)
local new = {old[1], 0, 0, 0}
for d = 2, 4 do
  local a = tonumber(ARGV[d + 2])
  if ARGV[7] == '1' then new[d] = a else new[d] = math.max(a, old[d]) end
  if new[d] ~= old[d] then redis.call('HINCRBYFLOAT', KEYS[3], 't' .. d, f(new[d] - old[d])) end
end
redis.call('HSET', KEYS[2], ARGV[2], join(new))
return 1
"""
)

# ARGV: 1 window, 2 id
_CANCEL = (
    _COMMON
    + r"""
if redis.call('HDEL', KEYS[4], ARGV[2]) == 1 then redis.call('ZREM', KEYS[5], ARGV[2]) return 1 end
local raw = redis.call('HGET', KEYS[2], ARGV[2])
if not raw then return 0 end
local old = split(raw)
for d = 1, 4 do
  if old[d] ~= 0 then redis.call('HINCRBYFLOAT', KEYS[3], 't' .. d, f(-old[d])) end
end
redis.call('HSET', KEYS[2], ARGV[2], '0 0 0 0')
return 1
"""
)

# ARGV: 1 window, 2-5 configured limits (-1: none), 6 safety, then per dimension: limit, remaining, reset ("" = none)
_OBSERVE = (
    _COMMON
    + r"""
local now = now_s()
expire(now)
touch()
local safety = tonumber(ARGV[6])
for d = 1, 4 do
  local limit, remaining, reset = tonumber(ARGV[4 + 3 * d]), tonumber(ARGV[5 + 3 * d]), tonumber(ARGV[6 + 3 * d])
  if limit and limit > 0 then redis.call('HSET', KEYS[3], 'learned' .. d, math.floor(limit * safety)) end
  local st = load_state(now, {ARGV[2], ARGV[3], ARGV[4], ARGV[5]})
  if reset and reset < 0 then reset = nil end
  if remaining then
    local known = st.lim[d]
    if not known then
      if reset then redis.call('HSET', KEYS[3], 'hu' .. d, f(now + reset), 'ha' .. d, f(remaining * safety)) end
    else
      local full = (limit and limit > 0) and limit or known / safety
      local unseen = full - remaining - st.tot[d]
      if unseen > 0 then
        local ws = {0, 0, 0, 0}
        ws[d] = unseen
        local id = 'p' .. redis.call('HINCRBY', KEYS[3], 'seq', 1)
        local at = math.min(now, now - W + (reset or W))
        redis.call('ZADD', KEYS[1], f(at), id)
        redis.call('HSET', KEYS[2], id, join(ws))
        redis.call('HINCRBYFLOAT', KEYS[3], 't' .. d, f(unseen))
      end
    end
  end
end
return 1
"""
)


class RedisRateLimiter:
    """A :class:`~harness.client.limiter.Limiter` whose state lives in Redis (one script per call)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        config: LimitConfig | None = None,
        *,
        name: str = "limiter",
        clock: Clock,
        fallback: RedisFallback | None = None,
        prefix: str = "harness:limiter",
        on_event: EventSink = ignore_events,
    ) -> None:
        self.config = config or LimitConfig()  # limits and queue behaviour (shared by every process)
        self.name = name  # the shared limiter's name: processes with the same name share one quota
        self.fallback = fallback or RedisFallback()  # what to do while Redis is away
        self._clock = clock
        self.link = RedisLink(
            redis, clock=clock, fallback=self.fallback, source=name, kind="limiter", on_event=on_event
        )
        tag = f"{{{prefix}:{name}}}"
        self._keys = [f"{tag}:log", f"{tag}:weights", f"{tag}:state", f"{tag}:tickets", f"{tag}:ticket_expiry"]
        self._acquire = self.link.script(_ACQUIRE)
        self._settle = self.link.script(_SETTLE)
        self._cancel = self.link.script(_CANCEL)
        self._observe = self.link.script(_OBSERVE)
        self._limits = [-1 if v is None else v for v in self.config.limits]
        self.local = RateLimiter(self.config.scaled(self.fallback.local_share), clock=clock, name=f"{name}.local")

    async def acquire(
        self, demand: Demand, *, lane: str = "interactive", key: str = "default", ticket: Reservation | None = None
    ) -> Reservation:
        try:
            lane_index = self.config.lanes.index(lane)
        except ValueError:
            raise ConfigError("lane", f"unknown lane {lane!r}; expected one of {list(self.config.lanes)}") from None
        if ticket is not None and ticket.backend == "local":
            return replace(self.local.reserve(demand, lane=lane, key=key, ticket=ticket), backend="local")
        cfg = self.config
        args: list[Any] = [cfg.window_s, *self._limits, lane_index, key, cfg.max_queue_wait_s]
        args += [cfg.ticket_grace_s, cfg.poll_s, *demand.weights(), ticket.id if ticket is not None else ""]
        try:
            status, wait, rid, at = await self.link.run(self._acquire, self._keys, args)
        except RedisUnavailable:
            if self.fallback.mode == "local":
                return replace(self.local.reserve(demand, lane=lane, key=key), backend="local")
            wait_s = self.fallback.retry_interval_s
            return Reservation("", False, wait_s, demand, lane, key, "backend_unavailable", "redis", self._clock())
        rid_s = rid.decode() if isinstance(rid, bytes) else str(rid)
        status = int(status)
        if status == 2:
            return Reservation("", False, math.inf, demand, lane, key, "too_large", "redis", float(at))
        granted = status == 1
        reason = "ok" if granted else "queued"
        return Reservation(rid_s, granted, float(wait), demand, lane, key, reason, "redis", float(at))

    async def settle(self, reservation: Reservation, usage: Usage) -> None:
        if reservation.backend == "local":
            self.local.settle_now(reservation, usage)
            return
        if not reservation.granted or not reservation.id:
            return
        args: list[Any] = [self.config.window_s, reservation.id, *usage_weights(usage)]
        args.append(1 if self.config.refund_unused else 0)
        try:
            await self.link.run(self._settle, self._keys, args)
        except RedisUnavailable:
            return  # the correction is lost; the entry expires with its estimate (conservative when it refunded)

    async def cancel(self, reservation: Reservation) -> None:
        if reservation.backend == "local":
            self.local.cancel_now(reservation)
            return
        if not reservation.id:
            return
        try:
            await self.link.run(self._cancel, self._keys, [self.config.window_s, reservation.id])
        except RedisUnavailable:
            return

    async def observe(self, **observation: float | None) -> None:
        self.local.observe_now(**observation)  # validates the names; keeps the fallback's view current
        args: list[Any] = [self.config.window_s, *self._limits, self.config.learn_safety]
        for dim in DIMENSIONS:
            for name in (f"limit_{dim}", f"remaining_{dim}", f"reset_{dim}_s"):
                value = observation.get(name)
                ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
                args.append(value if ok else "")
        try:
            await self.link.run(self._observe, self._keys, args)
        except RedisUnavailable:
            return

    async def reset(self) -> None:
        """Forget the shared state (tests and benchmarks)."""
        await self.link.redis.delete(*self._keys)

    def __repr__(self) -> str:
        state = "down" if self.link.down else "up"
        return f"RedisRateLimiter({self.name!r}, redis {state}, fallback={self.fallback.mode})"
