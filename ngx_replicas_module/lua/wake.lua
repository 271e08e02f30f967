-- Wake-on-request, written once for the gateway and the API.
--
-- This file only defines functions.  The gateway composes two scripts
-- from it when it reads replicas_scripts (ngx_http_replicas_module.c):
--   * a preview's wake: this file and "return replicas_wake_request()",
--     sent by the request path (ngx_http_replicas_route.c) for a
--     workspace that is not awake, with its key names as KEYS[];
--   * the API: this file before lua/api.lua, whose wake() and
--     awake_room() (create, wake, a message, events) call these.
--
-- k, the key names: k.ws the workspace's hash, k.awake its organisation's
-- set of awake workspaces, k.org its organisation's hash, k.settings the
-- deployment's, k.activity, k.jobs, k.ws_prefix (to read other
-- workspaces' owners), k.channel (the change channel).

-- Room for workspace id, owned by user, to hold a sandbox (awake or on
-- its way): the organisation's max_awake, else the deployment's
-- awake_limit, else 10; and the owner's user_awake_max within it
-- (default: the organisation's).  nil, or 'limit' / 'user_limit' and the
-- limit.
local function replicas_awake_room(k, id, user)
    if redis.call('SISMEMBER', k.awake, id) == 1 then return nil end
    local limit = tonumber(redis.call('HGET', k.org, 'max_awake') or '')
        or tonumber(redis.call('HGET', k.settings, 'awake_limit') or '') or 10
    if redis.call('SCARD', k.awake) >= limit then return 'limit', limit end
    local ulimit = tonumber(redis.call('HGET', k.org, 'user_awake_max') or '')
        or tonumber(redis.call('HGET', k.settings, 'user_awake_max') or '') or limit
    if ulimit < limit then
        local n = 0
        for _, other in ipairs(redis.call('SMEMBERS', k.awake)) do
            if redis.call('HGET', k.ws_prefix .. other, 'user') == user then
                n = n + 1
            end
        end
        if n >= ulimit then return 'user_limit', ulimit end
    end
    return nil
end

-- Whether a workspace in this state is woken: sleeping, or stuck in
-- provisioning for 10 minutes (a wake under way is joined, not repeated).
local function replicas_wake_due(state, state_at, now)
    return state == 'sleeping'
        or (state == 'provisioning' and now - (tonumber(state_at) or 0) > 600)
end

-- The wake itself, once there is room: provisioning, one wake job, the
-- change announced (every gateway drops its cache entry and releases the
-- requests it holds for the workspace).  now: unix seconds, a string;
-- k.awake nil: no awake set to join.
local function replicas_wake_start(k, id, now)
    if k.awake then redis.call('SADD', k.awake, id) end
    redis.call('HSET', k.ws, 'state', 'provisioning', 'state_at', now)
    redis.call('ZADD', k.activity, now, id)
    redis.call('XADD', k.jobs, 'MAXLEN', '~', '100000', '*',
               'type', 'wake', 'workspace', id, 'at', now)
    redis.call('PUBLISH', k.channel, id)
end

-- A preview's wake.  KEYS (built by the gateway from common/rp_keys.h):
-- 1 the workspace's hash, 2 its organisation's awake set, 3 its
-- organisation's hash, 4 the settings, 5 the activity, 6 the job stream.
-- ARGV: 1 workspace id, 2 now, 3 the workspace key prefix, 4 the change
-- channel.  Returns {status, argument}: 'none', a state the wake leaves
-- alone ('awake', 'booting', ...), 'limit' or 'user_limit' with the
-- limit, or 'waking'.
local function replicas_wake_request()
    local k = {ws = KEYS[1], awake = KEYS[2], org = KEYS[3], settings = KEYS[4],
               activity = KEYS[5], jobs = KEYS[6], ws_prefix = ARGV[3],
               channel = ARGV[4]}
    local id, now = ARGV[1], ARGV[2]
    local w = redis.call('HMGET', k.ws, 'state', 'state_at', 'org', 'user')
    local state, org, user = w[1], w[3], w[4]
    if not state then return {'none', ''} end
    if not replicas_wake_due(state, w[2], tonumber(now)) then return {state, ''} end
    if org then
        local over, limit = replicas_awake_room(k, id, user)
        if over then return {over, tostring(limit)} end
    else
        k.awake = nil   -- no organisation, no awake set to join
    end
    replicas_wake_start(k, id, now)
    return {'waking', ''}
end
