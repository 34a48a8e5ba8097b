"""Lua scripts for the writes that must read before they write, atomically and in one
round trip. Every key a script touches carries the tenant's hash tag, so they stay in one
Cluster slot; the index keys read from a stored hash (``status_key``, ``user_key``) were
built by :mod:`._redis_keys` for the same tenant.

Each script is idempotent: the client's bounded retry after a lost reply may run it twice
with no second effect.
"""

from __future__ import annotations

__all__ = ["ADD_AUDIT", "ADD_EVENTS", "SAVE_PLAN", "SAVE_RUN"]

# KEYS: plan hash, tenant's plan zset
# ARGV: plan id, score, retention ms (0: none), entry JSON, user index key ('' if no user)
SAVE_PLAN = """
local old_user_key = redis.call('HGET', KEYS[1], 'user_key')
if old_user_key and old_user_key ~= ARGV[5] then
  redis.call('SREM', old_user_key, ARGV[1])
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'entry', ARGV[4])
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'user_key', ARGV[5])
  redis.call('SADD', ARGV[5], ARGV[1])
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  if ARGV[5] ~= '' then redis.call('PEXPIRE', ARGV[5], ttl) end
end
return 1
"""

# KEYS: run hash, tenant's run zset, run zset of the new status, attempts key, events key
# ARGV: run id, score, retention ms (0: none), record JSON, summary JSON,
#       '1' if a user is given else '0' (keep the stored one), user, user index key
# Attempts are read from the record; the attempts key an older planexec wrote is deleted.
SAVE_RUN = """
local run_id = ARGV[1]
local old = redis.call('HMGET', KEYS[1], 'status_key', 'user_key')
if old[1] and old[1] ~= KEYS[3] then
  redis.call('ZREM', old[1], run_id)
end
local user_key = old[2]
if ARGV[6] == '1' then
  if old[2] and old[2] ~= ARGV[8] then
    redis.call('SREM', old[2], run_id)
  end
  user_key = ARGV[8]
  redis.call('HSET', KEYS[1], 'user', ARGV[7], 'user_key', user_key)
  redis.call('SADD', user_key, run_id)
end
redis.call('HSET', KEYS[1], 'record', ARGV[4], 'summary', ARGV[5], 'status_key', KEYS[3])
redis.call('ZADD', KEYS[2], ARGV[2], run_id)
redis.call('ZADD', KEYS[3], ARGV[2], run_id)
redis.call('DEL', KEYS[4])
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  for i = 1, 5 do
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  if user_key then redis.call('PEXPIRE', user_key, ttl) end
end
return 1
"""

# KEYS: events zset, run hash
# ARGV: retention ms (0: none), then seq, event JSON pairs
# An event whose seq is already stored is ignored; returns how many were added, or -1
# (and adds nothing) when the run does not exist.
ADD_EVENTS = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
local added = 0
for i = 2, #ARGV, 2 do
  local seq = ARGV[i]
  if redis.call('ZCOUNT', KEYS[1], seq, seq) == 0 then
    redis.call('ZADD', KEYS[1], seq, ARGV[i + 1])
    added = added + 1
  end
end
local ttl = tonumber(ARGV[1])
if ttl > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return added
"""

# KEYS: tenant's audit zset, its counter, then the user index zsets the entries name
# ARGV: member, index into KEYS of its user zset (0: no user) pairs
# Members begin with a unique id chosen by the client, so a re-run adds nothing twice;
# scores are the insertion order.
ADD_AUDIT = """
local n = #ARGV / 2
local base = redis.call('INCRBY', KEYS[2], n) - n
for i = 1, n do
  local member = ARGV[2 * i - 1]
  if not redis.call('ZSCORE', KEYS[1], member) then
    redis.call('ZADD', KEYS[1], base + i, member)
    local user_index = tonumber(ARGV[2 * i])
    if user_index > 0 then
      redis.call('ZADD', KEYS[user_index], base + i, member)
    end
  end
end
return n
"""
