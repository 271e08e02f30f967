-- Browser sessions on the main domain, one EVAL per page, atomically.
-- Secrets arrive as SHA-256 hex only; the gateway made the new ones.
--
-- ARGV: 1 op, 2 now (unix seconds), 3.. the op's own.
-- Returns {status, body, 0[, actor]}: body is a short value for the
-- gateway (a user id) or a message; never JSON for a browser to parse.
-- actor: the user whose session (or login link) the request used, for
-- the access log's $replicas_actor ("user:<id>"); absent when none.
-- Key names: ngx_replicas_module/common/rp_keys.h and the module README.

local op, now = ARGV[1], tonumber(ARGV[2])

-- "h1,h2,...": every session cookie the browser sent, hashed; the first
-- that is a live session is the browser's (one planted beside it is not)
local function each_hash(list)
    local t = {}
    for h in string.gmatch(list, '[0-9a-f]+') do t[#t + 1] = h end
    return t
end

local function hash_to_table(flat)
    local t = {}
    for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
    return t
end

-- a session: HASH user, org, created; EXPIRE ttl; announced so every
-- gateway drops a cached "no such session" for it
-- indexed by user (and by key, made from one) so offboarding
-- (replicas-control user disable, key revoke) ends them all at once
local function index(set, member, ttl)
    redis.call('SADD', set, member)
    if redis.call('TTL', set) < ttl then redis.call('EXPIRE', set, ttl) end
end

local function new_session(sid_hash, ttl, user, org, keyhash)
    local skey = 'replicas:session:' .. sid_hash
    redis.call('HSET', skey, 'user', user, 'org', org, 'created', tostring(now))
    -- made from a key: its tickets are indexed by that key too, so that
    -- revoking the key ends them (common/rp_offboard.c)
    if keyhash then redis.call('HSET', skey, 'key', keyhash) end
    redis.call('EXPIRE', skey, ttl)
    index('replicas:user-sessions:' .. user, sid_hash, ttl)
    if keyhash then index('replicas:key-sessions:' .. keyhash, sid_hash, ttl) end
    redis.call('PUBLISH', 'replicas:ws-changed', 's:' .. sid_hash)
end

if op == 'login_link' then
    -- ARGV 3 sha256(login token), 4 sha256(new session), 5 ttl
    local user = redis.call('GETDEL', 'replicas:login:' .. ARGV[3])
    if not user then
        return {401, 'this login link is unknown, expired or already used', 0}
    end
    local u = redis.call('HMGET', 'replicas:user:' .. user, 'org', 'disabled')
    local org = u[1]
    if not org or u[2] == '1' then return {401, 'this user is disabled or no longer exists', 0} end
    new_session(ARGV[4], tonumber(ARGV[5]), user, org)
    return {200, user, 0, user}
end

if op == 'login_key' then
    -- ARGV 3 sha256(API key), 4 sha256(new session), 5 ttl
    local key = hash_to_table(redis.call('HGETALL', 'replicas:apikey:' .. ARGV[3]))
    if not key.org or key.scope == 'workspace' then
        return {401, 'unknown or revoked API key', 0}
    end
    local disabled = redis.call('HGET', 'replicas:user:' .. key.user, 'disabled')
    if disabled == '1' then return {401, 'unknown or revoked API key', 0} end
    new_session(ARGV[4], tonumber(ARGV[5]), key.user, key.org, ARGV[3])
    return {200, key.user, 0}
end

if op == 'logout' then
    -- ARGV 3 sha256(session)[,...]: gone here, and from every gateway's
    -- cache, so every preview cookie made from them stops working at once
    local who = ''
    for _, h in ipairs(each_hash(ARGV[3])) do
        if who == '' then
            who = redis.call('HGET', 'replicas:session:' .. h, 'user') or ''
        end
        redis.call('DEL', 'replicas:session:' .. h)
        redis.call('PUBLISH', 'replicas:ws-changed', 's:' .. h)
    end
    return {200, 'logged out', 0, who}
end

if op == 'ticket' then
    -- ARGV 3 sha256(session)[,...], 4 workspace id, 5 sha256(ticket),
    -- 6 preview host, 7 path, 8 ticket ttl
    local w = redis.call('HMGET', 'replicas:ws:' .. ARGV[4], 'org', 'state', 'user',
                         'collaborators')
    local org, state = w[1], w[2]
    -- the first live session of the workspace's organisation; a live one
    -- of another (planted, or a second login) only makes it a 403
    local s, sid, live = {}, nil, nil
    for _, h in ipairs(each_hash(ARGV[3])) do
        s = hash_to_table(redis.call('HGETALL', 'replicas:session:' .. h))
        if s.user then
            live = live or s.user
            if s.org == org then sid = h live = s.user break end
        end
    end
    if not live then return {401, 'not logged in', 0} end
    if not state or state == 'deleted' then
        return {404, 'workspace not found: ' .. ARGV[4], 0, live}
    end
    if not sid then
        return {403, 'your organisation does not own workspace ' .. ARGV[4], 0, live}
    end
    -- roles (lua/api.lua's table): a member opens only the workspaces it
    -- owns or collaborates on; a disabled user nothing
    local u = redis.call('HMGET', 'replicas:user:' .. s.user, 'role', 'disabled')
    if u[2] == '1' then return {401, 'this user is disabled', 0} end
    if u[1] ~= 'admin' and w[3] ~= s.user
        and not string.find(w[4] or '', '"' .. s.user .. '"', 1, true) then
        return {403, 'workspace ' .. ARGV[4] .. ' belongs to another user: ask its ' ..
                'owner to add you as a collaborator', 0, s.user}
    end
    redis.call('SET', 'replicas:ticket:' .. ARGV[5],
               table.concat({ARGV[6], s.user, 's:' .. sid, ARGV[7]}, '|'),
               'EX', tonumber(ARGV[8]))
    index('replicas:user-tickets:' .. s.user, ARGV[5], tonumber(ARGV[8]))
    if s.key then index('replicas:key-tickets:' .. s.key, ARGV[5], tonumber(ARGV[8])) end
    return {200, s.user, 0, s.user}
end

return {500, 'unknown operation ' .. op, 0}
