"""The Lua scripts of :class:`~harness.client.budget_redis.RedisBudgetLedger` (one round trip each).

Amounts are integers of 10⁻¹² USD. Per (rule, entity) "account" the keys are: ``out`` (held: open
reservations and leases), ``spend`` (the current calendar bucket, or the rolling total), ``roll`` (a
rolling account's spends, member ``…:<amount>`` scored by time), ``floor`` (``"<time> <amount>"``:
the latest sighting of the spend from before a restart that lost the state, booked in ``spend`` too),
``leases`` (one record per process: ``"<state> <amount> <applied> <version> <spend key>"``, state
``A`` active or ``R`` written off) and ``lexp`` (lease expiry times). Every script starts with the epoch prelude
(:data:`~harness.client.redis_support.EPOCH_LUA`) and answers ``{code, epoch, …}``.

A lease is an amount a process holds in advance for its own use while Redis is away; it counts in
``out`` like a reservation. One not renewed by its process for ``lease_s`` is *written off*: moved
from ``out`` to ``spend`` (its process may have spent it without telling anyone yet), and refunded
when the process writes back what it really spent.
"""

from __future__ import annotations

from harness.client.redis_support import EPOCH_LUA

__all__ = ["CHECK", "RESEED_ACCOUNT", "RESEED_HOLD", "RESERVE", "SETTLE", "WRITE_BACK"]

#: is the state this process knows still there? (KEYS: 1 epoch)
CHECK = EPOCH_LUA + "return {1, EPOCH}\n"

_COMMON = (
    EPOCH_LUA
    + r"""
local function d(x) return string.format('%d', x) end
local function expire_rolling(spend, roll, mode, period)
  if mode == 'r' and period > 0 then
    local old = redis.call('ZRANGEBYSCORE', roll, '-inf', f(NOW - period))
    for _, m in ipairs(old) do redis.call('DECRBY', spend, string.match(m, ':(%d+)$')) end
    if #old > 0 then redis.call('ZREMRANGEBYSCORE', roll, '-inf', f(NOW - period)) end
  end
end
local function book(spend, roll, mode, ttl, member, x)
  local total = redis.call('INCRBY', spend, d(x)); redis.call('EXPIRE', spend, ttl)
  if mode == 'r' then redis.call('ZADD', roll, f(NOW), member .. ':' .. d(x)); redis.call('EXPIRE', roll, ttl) end
  return total
end
local function lease_get(leases, id)
  local v = redis.call('HGET', leases, id)
  if not v then return nil end
  local s, a, ap, ver, sk = string.match(v, '^(%a) (%d+) (%d+) (%d+) ?(%S*)$')
  return {state = s, amount = tonumber(a), applied = tonumber(ap), version = tonumber(ver), spendkey = sk}
end
local function lease_put(leases, id, l, ttl)
  l.version = redis.call('HINCRBY', leases, '#v', 1)
  redis.call('HSET', leases, id, l.state .. ' ' .. d(l.amount) .. ' ' .. d(l.applied) .. ' ' .. l.version .. ' '
             .. (l.spendkey or ''))
  redis.call('EXPIRE', leases, ttl)
end
-- write off the leases not renewed in time: their amount moves from held to spent
local function reclaim(out, spend, roll, leases, lexp, mode, ttl)
  local gone = redis.call('ZRANGEBYSCORE', lexp, '-inf', f(NOW))
  for _, id in ipairs(gone) do
    local l = lease_get(leases, id)
    if l and l.state == 'A' then
      if l.amount > 0 then
        redis.call('DECRBY', out, d(l.amount))
        book(spend, roll, mode, ttl, 'L:' .. id .. ':R', l.amount)
      end
      l.state = 'R'; l.spendkey = spend
      lease_put(leases, id, l, ttl)
    end
  end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', lexp, '-inf', f(NOW)) end
end
"""
)

# KEYS: 1 epoch, 2 reservations, then per charge: out, spend, roll, floor, leases, lexp
# ARGV: 1-3 epoch, 4 amount, 5 id, 6 lease share, 7 lease_s, 8 lease id ("" = none),
#       then per charge: hard (-1 none), mode ("c"/"r"), period s, ttl s, lease want (-1: leave it), lease locked
# Returns {1, epoch, now, then per charge: used, spent, lease amount, lease version, lease state ("-": untouched)}
#      or {0, epoch, failed charge, used} (hard limit), {-2, epoch, seconds} (recovering), {-1, …} (epoch)
RESERVE = (
    _COMMON
    + r"""
if NOW < RECOVER_UNTIL then return {-2, EPOCH, f(RECOVER_UNTIL - NOW)} end
local amount, lid = tonumber(ARGV[4]), ARGV[8]
local share, lease_s = tonumber(ARGV[6]), tonumber(ARGV[7])
local n = (#KEYS - 2) / 6
local function K(j, k) return KEYS[2 + 6 * (j - 1) + k] end
local function A(j, k) return ARGV[8 + 6 * (j - 1) + k] end
local used, spent, lease, draw = {}, {}, {}, {}
for j = 1, n do
  local mode, period, ttl = A(j, 2), tonumber(A(j, 3)), tonumber(A(j, 4))
  expire_rolling(K(j, 2), K(j, 3), mode, period)
  reclaim(K(j, 1), K(j, 2), K(j, 3), K(j, 5), K(j, 6), mode, ttl)
  spent[j] = tonumber(redis.call('GET', K(j, 2))) or 0
  local u = spent[j] + (tonumber(redis.call('GET', K(j, 1))) or 0)
  local hard = tonumber(A(j, 1))
  if hard >= 0 and u + amount > hard then
    local l = lid ~= '' and lease_get(K(j, 5), lid) or nil
    if l and l.state == 'A' and l.amount - tonumber(A(j, 6)) >= amount then
      draw[j] = true; lease[j] = l
    else
      return {0, EPOCH, j, d(u)}
    end
  end
  used[j] = u
end
for j = 1, n do
  if draw[j] then
    lease[j].amount = lease[j].amount - amount
    lease_put(K(j, 5), lid, lease[j], tonumber(A(j, 4)))
  else
    redis.call('INCRBY', K(j, 1), ARGV[4])
  end
  redis.call('EXPIRE', K(j, 1), tonumber(A(j, 4)))
  used[j] = used[j] + amount
end
redis.call('HSET', KEYS[2], ARGV[5], ARGV[4])
redis.call('EXPIRE', KEYS[2], 7 * 86400)
local reply = {1, EPOCH, f(NOW)}
for j = 1, n do
  local want, ttl, hard = tonumber(A(j, 5)), tonumber(A(j, 4)), tonumber(A(j, 1))
  local l = lease[j]
  if lid ~= '' and want >= 0 then
    l = l or lease_get(K(j, 5), lid) or {state = 'A', amount = 0, applied = 0}
    if l.state == 'A' then
      if hard >= 0 and l.amount < want then
        local held = spent[j] + (tonumber(redis.call('GET', K(j, 1))) or 0)
        local grant = math.min(want - l.amount, math.floor(math.max(hard - held, 0) * share))
        if grant > 0 then
          l.amount = l.amount + grant
          redis.call('INCRBY', K(j, 1), d(grant))
        end
      end
      lease_put(K(j, 5), lid, l, ttl)
      redis.call('ZADD', K(j, 6), f(NOW + lease_s), lid)
      redis.call('EXPIRE', K(j, 6), ttl)
    end
  end
  reply[#reply + 1] = d(used[j]); reply[#reply + 1] = d(spent[j])
  if l then
    reply[#reply + 1] = d(l.amount); reply[#reply + 1] = l.version; reply[#reply + 1] = l.state
  else
    reply[#reply + 1] = 0; reply[#reply + 1] = -1; reply[#reply + 1] = '-'
  end
end
return reply
"""
)

# KEYS: 1 epoch, 2 reservations, then per charge: out, spend, roll
# ARGV: 1-3 epoch, 4 id, 5 actual ("" = cancel), then per charge: mode, ttl
# Returns {1 (settled) or 0 (unknown id: settled already), epoch, now, then per charge: the spend after
# booking (-1: not read; a rolling one may still count spends past their period: never too low)}
SETTLE = (
    _COMMON
    + r"""
local amount = redis.call('HGET', KEYS[2], ARGV[4])
if not amount then return {0, EPOCH} end
redis.call('HDEL', KEYS[2], ARGV[4])
local actual = tonumber(ARGV[5]) or 0
local reply = {1, EPOCH, f(NOW)}
for j = 1, (#KEYS - 2) / 3 do
  local out, spend, roll = KEYS[3 * j], KEYS[3 * j + 1], KEYS[3 * j + 2]
  redis.call('DECRBY', out, amount)
  local mode, ttl = ARGV[4 + 2 * j], tonumber(ARGV[5 + 2 * j])
  reply[#reply + 1] = actual > 0 and book(spend, roll, mode, ttl, ARGV[4], actual) or -1
end
return reply
"""
)

# One account: book what this process spent from its lease (cumulative, so a repeated call books nothing
# twice), refund a written-off lease's unused part, or release the lease.
# KEYS: 1 epoch, 2 out, 3 spend, 4 roll, 5 floor, 6 leases, 7 lexp
# ARGV: 1-3 epoch, 4 lease id, 5 spent from it in total, 6 what Redis had booked (the caller's view),
#       7 mode, 8 period, 9 ttl, 10 release (1/0)
# Returns {1, epoch, now, lease amount, lease version, state ("A", or "-": no lease left)}
WRITE_BACK = (
    _COMMON
    + r"""
local lid, cum, mode, period, ttl = ARGV[4], tonumber(ARGV[5]), ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
expire_rolling(KEYS[3], KEYS[4], mode, period)
local l = lease_get(KEYS[6], lid)
-- what Redis booked: the record's count, or the caller's when the record is newer than its bookings
local applied = math.max(l and l.applied or 0, tonumber(ARGV[6]))
local delta = math.max(cum - applied, 0)
if l and l.state == 'R' then
  local refund = l.amount - delta
  if refund < 0 then
    book(KEYS[3], KEYS[4], mode, ttl, 'W:' .. lid .. ':' .. d(cum), -refund)
  elseif l.spendkey == KEYS[3] then
    local member = 'L:' .. lid .. ':R:' .. d(l.amount)
    if mode ~= 'r' or redis.call('ZREM', KEYS[4], member) == 1 then
      redis.call('DECRBY', KEYS[3], d(refund))
      if mode == 'r' and delta > 0 then
        redis.call('ZADD', KEYS[4], f(NOW), 'W:' .. lid .. ':' .. d(cum) .. ':' .. d(delta))
      end
    end
  end
  redis.call('HDEL', KEYS[6], lid); redis.call('ZREM', KEYS[7], lid)
  return {1, EPOCH, f(NOW), 0, -1, '-'}
end
if delta > 0 then
  local take = l and math.min(delta, l.amount) or 0
  if take > 0 then l.amount = l.amount - take; redis.call('DECRBY', KEYS[2], d(take)) end
  book(KEYS[3], KEYS[4], mode, ttl, 'W:' .. lid .. ':' .. d(cum), delta)
end
if not l then return {1, EPOCH, f(NOW), 0, -1, '-'} end
l.applied = math.max(applied, cum)
if ARGV[10] == '1' then
  if l.amount > 0 then redis.call('DECRBY', KEYS[2], d(l.amount)) end
  redis.call('HDEL', KEYS[6], lid); redis.call('ZREM', KEYS[7], lid)
  return {1, EPOCH, f(NOW), 0, -1, '-'}
end
lease_put(KEYS[6], lid, l, ttl)
return {1, EPOCH, f(NOW), d(l.amount), l.version, 'A'}
"""
)

# After a restart lost the state, one account: the spend this process last saw (kept if it is the latest
# anyone saw) and this process's lease (no larger than what is free: never over-commit the pool).
# KEYS: 1 epoch, 2 out, 3 spend, 4 roll, 5 floor, 6 leases, 7 lexp
# ARGV: 1-3 epoch, 4 time seen, 5 spend seen ("" = none), 6 lease id ("" = none), 7 lease amount,
#       8 lease applied, 9 lease_s, 10 ttl, 11 mode, 12 period, 13 hard (-1: none)
# Returns {1, epoch, lease amount, lease version (-1: none)}
RESEED_ACCOUNT = (
    _COMMON
    + r"""
local ttl, mode, period, hard = tonumber(ARGV[10]), ARGV[11], tonumber(ARGV[12]), tonumber(ARGV[13])
local tau, seen = tonumber(ARGV[4]), tonumber(ARGV[5])
if seen and (mode ~= 'r' or tau > NOW - period) then
  -- the floor is booked in spend like a spend (rolling: one entry at the sighting's time); a later
  -- sighting replaces an earlier one
  local v = redis.call('GET', KEYS[5])
  local old_tau, old = -1, 0
  if v then local a, b = string.match(v, '^(%S+) (%d+)$'); old_tau, old = tonumber(a), tonumber(b) end
  if tau > old_tau then
    redis.call('SET', KEYS[5], ARGV[4] .. ' ' .. ARGV[5], 'EX', ttl)
    if mode == 'r' then
      if v and redis.call('ZREM', KEYS[4], 'F:' .. d(old)) == 1 then redis.call('DECRBY', KEYS[3], d(old)) end
      redis.call('ZADD', KEYS[4], ARGV[4], 'F:' .. d(seen)); redis.call('EXPIRE', KEYS[4], ttl)
      redis.call('INCRBY', KEYS[3], d(seen))
    else
      redis.call('INCRBY', KEYS[3], d(seen - old))
    end
    redis.call('EXPIRE', KEYS[3], ttl)
  end
end
if ARGV[6] == '' then return {1, EPOCH, 0, -1} end
local l = lease_get(KEYS[6], ARGV[6])
if not l then
  l = {state = 'A', amount = tonumber(ARGV[7]), applied = tonumber(ARGV[8])}
  if hard >= 0 then
    local used = (tonumber(redis.call('GET', KEYS[3])) or 0) + (tonumber(redis.call('GET', KEYS[2])) or 0)
    l.amount = math.max(0, math.min(l.amount, hard - used))
  end
  lease_put(KEYS[6], ARGV[6], l, ttl)
  if l.amount > 0 then redis.call('INCRBY', KEYS[2], d(l.amount)); redis.call('EXPIRE', KEYS[2], ttl) end
  redis.call('ZADD', KEYS[7], f(NOW + tonumber(ARGV[9])), ARGV[6]); redis.call('EXPIRE', KEYS[7], ttl)
end
return {1, EPOCH, d(l.amount), l.version}
"""
)

# After a restart lost the state, one open reservation of this process is held again.
# KEYS: 1 epoch, 2 reservations, then per charge: out.  ARGV: 1-3 epoch, 4 id, 5 amount, then per charge: ttl
RESEED_HOLD = (
    EPOCH_LUA
    + r"""
if redis.call('HSETNX', KEYS[2], ARGV[4], ARGV[5]) == 1 then
  redis.call('EXPIRE', KEYS[2], 7 * 86400)
  for j = 3, #KEYS do
    redis.call('INCRBY', KEYS[j], ARGV[5]); redis.call('EXPIRE', KEYS[j], tonumber(ARGV[3 + j]))
  end
end
return {1, EPOCH}
"""
)
