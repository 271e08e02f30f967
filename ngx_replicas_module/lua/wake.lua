-- Wake-on-request: a sleeping workspace (or one stuck in provisioning
-- for ARGV[3] seconds) becomes "provisioning" and gets one wake job;
-- a wake already under way is joined, never repeated.  Sent by the
-- gateway's request path (ngx_http_replicas_route.c) for a preview of a
-- workspace that is not awake.
--
-- KEYS (built by the gateway from common/rp_keys.h, never spelled here):
--   1 the workspace's hash        2 its organisation's awake set
--   3 its organisation's hash     4 the deployment's settings
--   5 the activity sorted set     6 the job stream
-- ARGV: 1 workspace id, 2 now (unix seconds), 3 stale seconds,
--       4 the workspace key prefix (to count an owner's awake ones),
--       5 the change channel.
-- Returns {status, argument}: 'none', a state the wake leaves alone
-- ('awake', 'booting', ...), 'limit' or 'user_limit' with the limit, or
-- 'waking'.
--
-- The limit: the organisation's max_awake, else the deployment's
-- awake_limit, else 10; and the owner's user_awake_max within it (as
-- lua/api.lua's awake_room).

local ws, awake, org_key, settings, activity, jobs =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, now, stale_after = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local ws_prefix, channel = ARGV[4], ARGV[5]

local w = redis.call('HMGET', ws, 'state', 'state_at', 'org', 'user')
local state, at, org, user = w[1], tonumber(w[2]) or 0, w[3], w[4]
if not state then return {'none', ''} end

local stale = state == 'provisioning' and now - at > stale_after
if state ~= 'sleeping' and not stale then return {state, ''} end

if org then
    local limit = tonumber(redis.call('HGET', org_key, 'max_awake') or '')
        or tonumber(redis.call('HGET', settings, 'awake_limit') or '') or 10
    local member = redis.call('SISMEMBER', awake, id) == 1
    if not member and redis.call('SCARD', awake) >= limit then
        return {'limit', tostring(limit)}
    end
    local ulimit = tonumber(redis.call('HGET', org_key, 'user_awake_max') or '')
        or tonumber(redis.call('HGET', settings, 'user_awake_max') or '') or limit
    if user and ulimit < limit and not member then
        local n = 0
        for _, other in ipairs(redis.call('SMEMBERS', awake)) do
            if redis.call('HGET', ws_prefix .. other, 'user') == user then
                n = n + 1
            end
        end
        if n >= ulimit then return {'user_limit', tostring(ulimit)} end
    end
    redis.call('SADD', awake, id)
end

redis.call('HSET', ws, 'state', 'provisioning', 'state_at', ARGV[2])
redis.call('ZADD', activity, ARGV[2], id)
redis.call('XADD', jobs, 'MAXLEN', '~', '100000', '*',
           'type', 'wake', 'workspace', id, 'at', ARGV[2])
redis.call('PUBLISH', channel, id)
return {'waking', ''}
