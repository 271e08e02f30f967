-- The HTTP API's work in Redis, one EVAL per request, so every write and
-- the job it needs land together or not at all (Redis runs a script
-- atomically).  The gateway has already validated and normalised input.
--
-- ARGV: 1 op, 2 sha256 of the bearer key, 3 now (unix seconds),
--       4 requests per key per minute, 5 preview URL template with
--       {port} and {id}, 6 workspace id from the path (or ""),
--       7.. the op's own arguments.
-- Returns {status, json body, retry-after seconds}.
-- Key names: ngx_replicas_module/common/rp_keys.h and the module README.
-- The gateway sends lua/wake.lua's functions before this file (the wake,
-- shared with the preview path).

local op, keyhash, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local rate, url_template, wsid = tonumber(ARGV[4]), ARGV[5], ARGV[6]
local max_public = 8          -- RP_PUBLIC_PORTS_MAX in common/rp_keys.h

local function err(status, code, message, retry)
    return {status, cjson.encode({error = {code = code, message = message}}), retry or 0}
end

-- Redis's cjson writes an empty table as {}: lists that may be empty
-- are marked and fixed up after encoding
local EMPTY = '__replicas_empty_list__'
local function ok(status, body)
    return {status, (cjson.encode(body):gsub('"' .. EMPTY .. '"', '[]')), 0}
end

local function hash_to_table(flat)
    local t = {}
    for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
    return t
end

-- who is calling ----------------------------------------------------------
local key, by_session
if keyhash:sub(1, 2) == 's:' then
    by_session = true
    -- the dashboard's session cookies (ngx_http_replicas_dashboard.c):
    -- the first live session acts as its user, like a key of that user
    key = {}
    for h in string.gmatch(keyhash, '[0-9a-f]+') do
        local s = hash_to_table(redis.call('HGETALL', 'replicas:session:' .. h))
        if s.org then
            key = {org = s.org, user = s.user, prefix = 'session:' .. h:sub(1, 12)}
            -- what it makes is indexed by the key the session was made
            -- from (POST /login with a key), so revoking that key ends it
            -- too; a login link's session has none
            keyhash = s.key or ''
            break
        end
    end
    if not key.org then
        return err(401, 'unauthorized', 'your session has ended: sign in again')
    end
else
    key = hash_to_table(redis.call('HGETALL', 'replicas:apikey:' .. keyhash))
end
if not key.org then
    return err(401, 'unauthorized', 'missing, unknown or revoked API key')
end
-- when a key was last used on the API, to the minute (GET /v1/keys);
-- a stream's own checks (watch) and previews do not count
if not by_session and op ~= 'watch' and now - (tonumber(key.last_used) or 0) >= 60 then
    redis.call('HSET', 'replicas:apikey:' .. keyhash, 'last_used', tostring(now))
end

-- a fixed one-minute window per key, and one per user that all its keys
-- share (N keys do not make N budgets; a workspace-scoped engine key
-- counts only for itself).  An environment's PUT (PATCH) is two calls,
-- env_auth then env_put (env_patch): it counts once, at env_auth.
local function over_rate(rkey)
    local used = redis.call('INCR', rkey)
    if used == 1 then redis.call('EXPIRE', rkey, 120) end
    return used > rate
end
-- A stream's questions about its changes (watch) are the gateway's, not
-- the caller's: its opening (org_events) counted.
if op ~= 'env_put' and op ~= 'env_patch' and op ~= 'watch' then
    local minute = math.floor(now / 60)
    if over_rate('replicas:rate:' .. key.prefix .. ':' .. minute) then
        return err(429, 'rate_limited', 'too many requests for this API key', 60 - now % 60)
    end
    if key.scope ~= 'workspace' and key.user
        and over_rate('replicas:rate-user:' .. key.user .. ':' .. minute) then
        return err(429, 'rate_limited', 'too many requests for this user ' ..
                   '(all its API keys share one budget)', 60 - now % 60)
    end
end

-- a workspace-scoped key (the engine's) may only touch its own
-- workspace's previews and events
if key.scope == 'workspace' then
    if wsid ~= key.workspace or not (op == 'previews_list' or op == 'preview_add'
        or op == 'preview_delete' or op == 'events' or op == 'hooks') then
        return err(403, 'forbidden', 'this key is scoped to one workspace and cannot do that')
    end
end

-- roles: the one table of who may do what --------------------------------
-- For each operation, what each role may do it on (a role without an
-- entry is refused; a new role is a new column):
--   'any'     anything of the organisation
--   'own'     workspaces the caller owns or is a collaborator of
--   'owner'   workspaces the caller owns
--   'usable'  environments an admin made usable to the caller (never
--             Global, which every workspace gets but only admins see)
--   'mine'    API keys the caller's user owns (keys) / makes for itself
--   'self'    the caller's own user (its login link)
-- A workspace-scoped key (the engine's) was limited above and has no role.
local roles = {
    list           = {admin = 'any', member = 'any'},     -- the team view
    org_events     = {admin = 'any', member = 'any'},     -- and it live
    watch          = {admin = 'any', member = 'any'},     -- (its changes)
    get            = {admin = 'any', member = 'any'},
    previews_list  = {admin = 'any', member = 'any'},
    create         = {admin = 'any', member = 'usable'},  -- its environment
    prewarm        = {admin = 'any', member = 'usable'},  -- as create
    delete         = {admin = 'any', member = 'own'},
    message        = {admin = 'any', member = 'own'},
    sleep          = {admin = 'any', member = 'own'},
    wake           = {admin = 'any', member = 'own'},
    events         = {admin = 'any', member = 'own'},
    history        = {admin = 'any', member = 'own'},     -- asleep, unwoken
    hooks          = {admin = 'any', member = 'own'},
    git            = {admin = 'any', member = 'own'},     -- the dashboard's
    diff           = {admin = 'any', member = 'own'},     -- Diff tab
    interrupt      = {admin = 'any', member = 'own'},     -- and its Stop
    files          = {admin = 'any', member = 'own'},     -- the Files tab
    file_content   = {admin = 'any', member = 'own'},
    git_action     = {admin = 'any', member = 'own'},     -- rebase, push, PR
    engine         = {admin = 'any', member = 'own'},     -- its health, asked
    preview_add    = {admin = 'any', member = 'own'},
    preview_delete = {admin = 'any', member = 'own'},
    share_create   = {admin = 'any', member = 'own'},
    share_delete   = {admin = 'any', member = 'own'},     -- shares they made
    shares_list    = {admin = 'any', member = 'own'},
    collaborators  = {admin = 'any', member = 'owner'},
    presence       = {admin = 'any', member = 'any'},     -- who views it:
    presence_leave = {admin = 'any', member = 'any'},     -- as 'get'
    env_list       = {admin = 'any', member = 'usable'},
    env_get        = {admin = 'any', member = 'usable'},
    env_auth       = {admin = 'any'},                     -- a PUT's first half
    env_put        = {admin = 'any'},
    env_patch      = {admin = 'any'},
    env_delete     = {admin = 'any'},
    stats          = {admin = 'any', member = 'any'},     -- the Stats page
    users_list     = {admin = 'any'},                     -- offboarding
    user_disable   = {admin = 'any'},                     -- (then the
    user_delete    = {admin = 'any'},                     -- script of
                                                          -- rp_offboard.h)
    user_create    = {admin = 'any'},
    login_link     = {admin = 'any', member = 'self'},
    keys_list      = {admin = 'any', member = 'mine'},    -- by prefix
    key_create     = {admin = 'any', member = 'mine'},
    key_revoke     = {admin = 'any', member = 'mine'},    -- (then rp_offboard)
}

-- the caller's user: its role, unless disabled or gone (then the key is
-- dead too); the engine's key works for its workspace whoever made it
local role = 'engine'
if key.scope ~= 'workspace' then
    local u = redis.call('HMGET', 'replicas:user:' .. key.user, 'org', 'role', 'disabled')
    if u[1] ~= key.org or u[3] == '1' then
        return err(401, 'unauthorized', 'the user of this API key is disabled or no longer exists')
    end
    role = u[2] or 'member'
end
local rule = role == 'engine' and 'any' or (roles[op] or {})[role]
if not rule then
    return err(403, 'forbidden', 'your role (' .. role .. ') may not do this (' .. op ..
               '): only an admin of the organisation may')
end

-- helpers ------------------------------------------------------------------
local function ws_key(id) return 'replicas:ws:' .. id end

-- the caller may act on workspace w: its owner or a collaborator
local function collaborates(w)
    if w.user == key.user then return true end
    for _, u in ipairs(w.collaborators and cjson.decode(w.collaborators) or {}) do
        if u == key.user then return true end
    end
    return false
end

-- an admin made environment name usable to the caller ("usable_by")
local function usable(name)
    if name == 'global' then return false end
    local u = redis.call('HGET', 'replicas:env:' .. key.org .. ':' .. name, 'usable_by')
    if not u then return false end
    if u == 'all' then return true end
    for _, id in ipairs(cjson.decode(u)) do
        if id == key.user then return true end
    end
    return false
end

local function env_forbidden(name)
    if name == 'global' then
        return err(403, 'forbidden', 'Global is applied to every workspace, but only an ' ..
                   'admin may read or change it')
    end
    return err(403, 'environment_forbidden', 'environment ' .. name .. ' is not usable ' ..
               'by you: an admin of the organisation lists who may use it (usable_by)')
end

local function preview_url(port, id)
    return (url_template:gsub('{port}', port):gsub('{id}', id)) .. '/'
end

local function previews_of(id)
    local flat = redis.call('HGETALL', 'replicas:ws-previews:' .. id)
    local list = {}
    for i = 1, #flat, 2 do
        list[#list + 1] = {port = tonumber(flat[i]), visibility = flat[i + 1],
                           url = preview_url(flat[i], id)}
    end
    table.sort(list, function(a, b) return a.port < b.port end)
    if #list == 0 then return EMPTY end
    return list
end

-- disk, memory and CPU as control last measured them (awake: every 5 s)
local function usage_of(w)
    if not w.usage_at then return cjson.null end
    return {disk_bytes = tonumber(w.usage_disk), disk_limit_bytes = tonumber(w.usage_disk_limit),
            memory_bytes = tonumber(w.usage_memory),
            memory_limit_bytes = tonumber(w.usage_memory_limit),
            cpu_seconds = tonumber(w.usage_cpu), at = tonumber(w.usage_at),
            warning = w.usage_warning ~= '' and w.usage_warning or nil}
end

-- per repository its branch, ahead and pull request, as control keeps
-- them (control/rc_git_state.c's shape): on change while it is awake (the
-- engine watch, from /healthz) and at each sleep (rc_history.c), so the
-- list shows them for an awake one and a sleeping one without waking it
local function git_of(w)
    if not w.git then return cjson.null end
    local good, repos = pcall(cjson.decode, w.git)
    if not good or type(repos) ~= 'table' then return cjson.null end
    return {repositories = #repos == 0 and EMPTY or repos, at = tonumber(w.git_at)}
end

-- who has the workspace's page open (the dashboard's presence): a sorted
-- set of user -> the last POST .../presence; an entry older than this is
-- gone (a page says it is there every 20 s)
local viewers_ttl = 45
local function viewers_key(id) return 'replicas:ws-viewers:' .. id end

local function viewers_of(id)
    local list = {}
    for _, u in ipairs(redis.call('ZRANGEBYSCORE', viewers_key(id), now - viewers_ttl, '+inf')) do
        local r = redis.call('HMGET', 'replicas:user:' .. u, 'name', 'email')
        list[#list + 1] = {user = u, name = r[1] or nil, email = r[2] or nil}
    end
    if #list == 0 then return EMPTY end
    return list
end

local function view(id, w)
    local collaborators = w.collaborators and cjson.decode(w.collaborators) or {}
    if #collaborators == 0 then collaborators = EMPTY end
    -- a list like every other workspace's, also for one without any (the
    -- demo's, put by replicas-control workspace put)
    local repositories = w.repositories and cjson.decode(w.repositories) or {w.repository}
    if type(repositories) ~= 'table' or #repositories == 0 then repositories = EMPTY end
    return {id = id, name = w.name, state = w.state, state_at = tonumber(w.state_at),
            repository = w.repository,
            repositories = repositories,
            environment = w.environment ~= '' and w.environment or cjson.null,
            agent = w.agent, created_at = tonumber(w.created), previews = previews_of(id),
            -- who owns it and who may act on it with the owner
            owner = w.user or cjson.null, collaborators = collaborators,
            -- why it failed (control's words: no secret, no value in them)
            reason = (w.reason and w.reason ~= '') and w.reason or nil,
            -- how its engine and desktop are (control's watch)
            health = {engine = w.engine_health or (w.state == 'awake' and 'ok' or cjson.null),
                      reason = w.engine_reason or cjson.null,
                      restarts = tonumber(w.engine_restarts) or 0,
                      desktop = w.desktop_health or cjson.null},
            desktop_url = preview_url('6080', id), engine_url = preview_url('3737', id),
            usage = usage_of(w), git = git_of(w),
            -- its last activity (replicas:activity: previews, messages,
            -- its engine at work), for the list's filter
            active_at = tonumber(redis.call('ZSCORE', 'replicas:activity', id)) or cjson.null,
            -- who has its page open now (presence)
            viewers = viewers_of(id)}
end

-- the caller's workspace, or nil (another org's is "not found" too)
local function load_ws(id)
    local w = hash_to_table(redis.call('HGETALL', ws_key(id)))
    if not w.state or w.org ~= key.org or w.state == 'deleted' then return nil end
    return w
end

local function job(kind, id, extra)
    local args = {'XADD', 'replicas:jobs', 'MAXLEN', '~', '100000', '*',
                  'type', kind, 'workspace', id, 'at', tostring(now)}
    for k, v in pairs(extra or {}) do args[#args + 1] = k; args[#args + 1] = v end
    return redis.call(unpack(args))
end

local function set_state(id, state)
    redis.call('HSET', ws_key(id), 'state', state, 'state_at', tostring(now))
    redis.call('PUBLISH', 'replicas:ws-changed', id)
end

-- the organisation's settings (replicas:org:<org>), else the
-- deployment's (replicas:settings), else a default
local function setting(org_field, deploy_field, default)
    return tonumber(redis.call('HGET', 'replicas:org:' .. key.org, org_field) or '')
        or tonumber(redis.call('HGET', 'replicas:settings', deploy_field) or '') or default
end

-- how many of the ids in a set belong to user (the sets are bounded by
-- the limits below, so counting them is cheap and always true)
local function owned_in(set, user)
    local n = 0
    for _, id in ipairs(redis.call('SMEMBERS', set)) do
        if redis.call('HGET', ws_key(id), 'user') == user then n = n + 1 end
    end
    return n
end

-- the key names lua/wake.lua's functions take, for workspace id of the
-- caller's organisation
local function wake_keys(id)
    return {ws = ws_key(id), awake = 'replicas:org-awake:' .. key.org,
            org = 'replicas:org:' .. key.org, settings = 'replicas:settings',
            activity = 'replicas:activity', jobs = 'replicas:jobs',
            ws_prefix = 'replicas:ws:', channel = 'replicas:ws-changed'}
end

-- room for workspace id (owned by user) to hold a sandbox (awake or on
-- its way): lua/wake.lua's replicas_awake_room.  Returns true, or false
-- and an error.
local function awake_room(id, user)
    local over, limit = replicas_awake_room(wake_keys(id), id, user)
    if over == 'limit' then
        return false, err(429, 'awake_limit', 'the organisation already has ' .. limit ..
                          ' workspaces awake, its limit: put one to sleep or delete one first', 30)
    end
    if over == 'user_limit' then
        return false, err(429, 'user_awake_limit', 'this workspace\'s owner already has ' ..
                          limit .. ' workspaces awake, the limit per user: put one of ' ..
                          'them to sleep or delete one first', 30)
    end
    return true
end

-- room for one more workspace of the caller: the organisation's
-- workspaces_max (default 500) and the caller's user_workspaces_max
-- within it (default 100)
local function workspace_room()
    local set = 'replicas:org-ws:' .. key.org
    local limit = setting('workspaces_max', 'workspaces_max', 500)
    if redis.call('SCARD', set) >= limit then
        return false, err(429, 'workspace_limit', 'the organisation already has ' .. limit ..
                          ' workspaces, its limit: delete one first')
    end
    local ulimit = setting('user_workspaces_max', 'user_workspaces_max', 100)
    if owned_in(set, key.user) >= ulimit then
        return false, err(429, 'user_workspace_limit', 'you already have ' .. ulimit ..
                          ' workspaces in this organisation, the limit per user: delete one first')
    end
    return true
end

-- sleeping (or stuck waking for 10 minutes) -> provisioning, one wake job;
-- a wake already under way is joined, not repeated (lua/wake.lua)
local function wake(id, w)
    if not replicas_wake_due(w.state, w.state_at, now) then return true end
    local room, e = awake_room(id, w.user)
    if not room then return false, e end
    replicas_wake_start(wake_keys(id), id, tostring(now))
    return true
end

-- stats: per organisation per UTC day, hash replicas:stats:<org>:<day>
-- (started here; merged, with_pr by control's poller, control/rc_pulls.c;
-- tokens and cost by its engine watch, control/rc_watch.c), kept
-- stats_ttl; and who prompted lately, a sorted set of users by their
-- last message (trimmed to prompters_window)
local stats_ttl, prompters_window = 100 * 86400, 300

-- yyyy-mm-dd of unix time t in UTC (Redis's Lua has no os.date): the
-- civil date of a day number, as in Howard Hinnant's days_from_civil
local function day_of(t)
    local z = math.floor(t / 86400) + 719468
    local era = math.floor(z / 146097)
    local doe = z - era * 146097
    local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
                            - math.floor(doe / 146096)) / 365)
    local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
    local mp = math.floor((5 * doy + 2) / 153)
    local d = doy - math.floor((153 * mp + 2) / 5) + 1
    local m = mp < 10 and mp + 3 or mp - 9
    local y = yoe + era * 400 + (m <= 2 and 1 or 0)
    return string.format('%04d-%02d-%02d', y, m, d)
end

local function stats_key(t) return 'replicas:stats:' .. key.org .. ':' .. day_of(t) end
local prompters_key = 'replicas:stats-prompters:' .. (key.org or '')

local function stats_count(field)
    local k = stats_key(now)
    redis.call('HINCRBY', k, field, 1)
    redis.call('EXPIRE', k, stats_ttl)
end

local function enqueue_message(id, text, chat, kind)
    local seq = redis.call('INCR', 'replicas:ws-msgseq:' .. id)
    -- kind: absent for a person's message (never folded)
    if kind == '' then kind = nil end
    if not kind and key.user then
        -- a person prompting: live on the Stats page for 5 minutes
        redis.call('ZADD', prompters_key, now, key.user)
        redis.call('ZREMRANGEBYSCORE', prompters_key, '-inf', now - prompters_window)
        redis.call('EXPIRE', prompters_key, prompters_window * 2)
    end
    redis.call('RPUSH', 'replicas:ws-messages:' .. id, cjson.encode(
        {seq = seq, text = text, chat = chat, kind = kind, user = key.user, at = now}))
    job('message', id, {seq = tostring(seq)})
    return seq, redis.call('LLEN', 'replicas:ws-messages:' .. id)
end

-- operations ----------------------------------------------------------------
if op == 'create' then
    -- ARGV 7 new id, 8 idempotency key hash or "", 9 repository, 10 name,
    -- 11 environment, 12 agent, 13 first message or "", 14 JSON list of
    -- every repository when there are several, or ""
    local newid, idem = ARGV[7], ARGV[8]
    if rule == 'usable' and ARGV[11] ~= '' and not usable(ARGV[11]) then
        return env_forbidden(ARGV[11])
    end
    -- an Idempotency-Key is the caller's user's own, and names one body:
    -- "<workspace id>|<sha1 of the request's fields>"
    local ikey = 'replicas:idem:' .. key.org .. ':' .. key.user .. ':' .. idem
    if idem ~= '' then
        local asked = redis.sha1hex(cjson.encode({ARGV[9], ARGV[10], ARGV[11], ARGV[12],
                                                  ARGV[13], ARGV[14]}))
        local prior = redis.call('GET', ikey)
        if prior then
            local pid, pbody = prior:match('^([^|]+)|(.*)$')
            if not pid then pid, pbody = prior, asked end     -- written before bodies counted
            if pbody ~= asked then
                return err(422, 'idempotency_key_reused', 'this Idempotency-Key was used ' ..
                           'with another request body: use a new key for a new request')
            end
            local w = load_ws(pid)
            if w then return ok(200, view(pid, w)) end
        end
        redis.call('SET', ikey, newid .. '|' .. asked, 'EX', 86400)
    end
    if redis.call('EXISTS', ws_key(newid)) == 1 then
        if idem ~= '' then redis.call('DEL', ikey) end
        return err(409, 'conflict', 'workspace id collision, retry')
    end
    local room, e = workspace_room()
    if room then room, e = awake_room(newid, key.user) end
    if not room then
        if idem ~= '' then redis.call('DEL', ikey) end
        return e
    end
    local name = ARGV[10] ~= '' and ARGV[10] or newid
    redis.call('HSET', ws_key(newid), 'state', 'booting', 'state_at', tostring(now),
               'org', key.org, 'user', key.user, 'name', name, 'repository', ARGV[9],
               'environment', ARGV[11], 'agent', ARGV[12], 'created', tostring(now))
    if ARGV[14] ~= '' then redis.call('HSET', ws_key(newid), 'repositories', ARGV[14]) end
    redis.call('SADD', 'replicas:org-ws:' .. key.org, newid)
    redis.call('SADD', 'replicas:org-awake:' .. key.org, newid)
    redis.call('ZADD', 'replicas:activity', now, newid)
    job('create', newid)
    stats_count('started')
    if ARGV[13] ~= '' then enqueue_message(newid, ARGV[13], 'default') end
    redis.call('PUBLISH', 'replicas:ws-changed', newid)
    return ok(201, view(newid, load_ws(newid)))
end

-- warm while typing: the New workspace form's repository, before its
-- create.  One prewarm job per repository and environment per minute
-- (the status key is the dedupe, SET NX EX); control builds the image
-- and puts a warm sandbox in its pool, then writes ready or
-- failed:<reason> there, which later calls answer
if op == 'prewarm' then
    -- ARGV 7 repository, 8 environment, 9 agent (checked; any agent
    -- runs in a warm sandbox)
    if rule == 'usable' and ARGV[8] ~= '' and not usable(ARGV[8]) then
        return env_forbidden(ARGV[8])
    end
    local pkey = 'replicas:prewarm:' .. key.org .. ':' ..
                 redis.sha1hex(ARGV[7] .. '\n' .. ARGV[8])
    if redis.call('SET', pkey, 'warming', 'NX', 'EX', 60) then
        job('prewarm', '', {org = key.org, user = key.user, repository = ARGV[7],
                            environment = ARGV[8], status = pkey})
        return ok(202, {status = 'warming'})
    end
    local s = redis.call('GET', pkey) or 'warming'
    local reason = s:match('^failed:(.*)$')
    if reason then return ok(202, {status = 'failed', reason = reason}) end
    return ok(202, {status = s == 'ready' and 'ready' or 'warming'})
end

-- the organisation's workspaces, and who is asking (for the dashboard's
-- header and its "mine" view)
local function list_view()
    local ids = redis.call('SMEMBERS', 'replicas:org-ws:' .. key.org)
    table.sort(ids)
    local list = {}
    for _, id in ipairs(ids) do
        local w = load_ws(id)
        if w then list[#list + 1] = view(id, w) end
    end
    local caller = {user = key.user or cjson.null, org = key.org, role = role}
    if key.user then
        local u = redis.call('HMGET', 'replicas:user:' .. key.user, 'name', 'email')
        caller.name, caller.email = u[1] or nil, u[2] or nil
    end
    return {workspaces = #list == 0 and EMPTY or list, caller = caller}
end

if op == 'list' then
    return ok(200, list_view())
end

-- GET /v1/events (ngx_http_replicas_stream.c): its first event, the
-- snapshot; then for each change published, "watch" says what it is to
-- this caller: the workspace as GET shows it, or that it was deleted.
-- Another organisation's says nothing (204), not even that it exists.
-- With no workspace it is the heartbeat's check that the caller is in.
if op == 'org_events' then
    return ok(200, {ts = now, type = 'snapshot', payload = list_view()})
end

if op == 'watch' then
    if wsid == '' then return {204, '', 0} end
    local w = hash_to_table(redis.call('HGETALL', ws_key(wsid)))
    if w.org ~= key.org then return {204, '', 0} end
    if not w.state or w.state == 'deleted' then
        return ok(200, {ts = now, type = 'workspace.deleted', payload = {id = wsid}})
    end
    return ok(200, {ts = now, type = 'workspace.changed', payload = view(wsid, w)})
end

-- environments ------------------------------------------------------------
-- hash replicas:env:<org>:<name>: var:NAME and file:path -> a value sealed
-- by the gateway with the deployment's secrets key (never plaintext),
-- updated; set replicas:org-envs:<org> of names.  Answers name variables
-- and files, never values.  Admins manage them; a member sees the ones
-- made usable to them ("usable_by": "all" or a JSON list of user ids).
local max_envs = 100          -- RP_ENV_PER_ORG_MAX in common/rp_env.h
local max_vars = 200          -- RP_ENV_VARS_MAX
local max_files = 32          -- RP_ENV_FILES_MAX
local function env_key(name) return 'replicas:env:' .. key.org .. ':' .. name end
local envs_key = 'replicas:org-envs:' .. key.org

-- a file's size from its token "v1.<kid>.<base64url(nonce|data|tag)>"
-- (common/rp_crypt.h): 12 characters of head, 12 + 16 bytes around the data
local function sealed_size(token)
    return math.floor((#token - 12) * 3 / 4) - 28
end

local function env_view(name)
    local flat = redis.call('HGETALL', env_key(name))
    if #flat == 0 then return nil end
    local vars, files, updated = {}, {}, nil
    for i = 1, #flat, 2 do
        local f, v = flat[i], flat[i + 1]
        if f:sub(1, 4) == 'var:' then
            vars[#vars + 1] = f:sub(5)
        elseif f:sub(1, 5) == 'file:' then
            files[#files + 1] = {path = f:sub(6), size = sealed_size(v)}
        elseif f == 'updated' then
            updated = tonumber(v)
        end
    end
    table.sort(vars)
    table.sort(files, function(a, b) return a.path < b.path end)
    local usable_by = redis.call('HGET', env_key(name), 'usable_by') or EMPTY
    if usable_by ~= 'all' and usable_by ~= EMPTY then usable_by = cjson.decode(usable_by) end
    local allow = redis.call('HGET', env_key(name), 'allow_loader_variables') == '1'
    return {name = name, variables = #vars == 0 and EMPTY or vars,
            files = #files == 0 and EMPTY or files, updated = updated,
            usable_by = name ~= 'global' and usable_by or nil,
            allow_loader_variables = allow}
end

if op == 'env_auth' then
    -- the first half of a PUT: the gateway seals the values for this org
    return ok(200, {org = key.org})
end

-- what refuses a PUT's or a PATCH's write before it is looked at: a
-- usable_by on Global, or values sealed for another organisation
local function env_write_refused(name)
    if name == 'global' and ARGV[10] ~= '' then
        return err(400, 'invalid_request', 'Global is applied to every workspace: ' ..
                   '"usable_by" does not apply to it')
    end
    if ARGV[8] ~= key.org then
        return err(409, 'conflict', 'the key changed organisation meanwhile, retry')
    end
    return nil
end

if op == 'env_put' then
    -- ARGV 7 name, 8 the organisation the values were sealed for,
    -- 9 JSON {field: sealed token} (validated and sealed by the gateway),
    -- 10 usable_by ("" admins only, "all", JSON list of user ids),
    -- 11 "1" when loader variables were allowed
    local name = ARGV[7]
    local bad = env_write_refused(name)
    if bad then return bad end
    if redis.call('SISMEMBER', envs_key, name) == 0
        and redis.call('SCARD', envs_key) >= max_envs then
        return err(409, 'too_many_environments',
                   'an organisation has at most ' .. max_envs .. ' environments')
    end
    local args = {'HSET', env_key(name), 'updated', tostring(now)}
    for f, v in pairs(cjson.decode(ARGV[9])) do
        args[#args + 1] = f
        args[#args + 1] = v
    end
    if ARGV[10] ~= '' then
        args[#args + 1] = 'usable_by'; args[#args + 1] = ARGV[10]
    end
    if ARGV[11] == '1' then
        args[#args + 1] = 'allow_loader_variables'; args[#args + 1] = '1'
    end
    redis.call('DEL', env_key(name))
    redis.call(unpack(args))
    redis.call('SADD', envs_key, name)
    return ok(200, env_view(name))
end

if op == 'env_patch' then
    -- ARGV as env_put's, merged into the stored environment: 9 {field:
    -- sealed token, or "" to remove it}, 10 usable_by ("" keeps it),
    -- 11 "1" allows loader variables from now on (never cleared here)
    local name = ARGV[7]
    local bad = env_write_refused(name)
    if bad then return bad end
    if redis.call('EXISTS', env_key(name)) == 0 then
        return err(404, 'environment_not_found', 'environment not found: ' .. name ..
                   ' (PUT creates one)')
    end
    local fields, has = cjson.decode(ARGV[9]), {}
    for _, f in ipairs(redis.call('HKEYS', env_key(name))) do has[f] = true end
    for f, v in pairs(fields) do has[f] = v ~= '' or nil end
    local nvars, nfiles = 0, 0
    for f in pairs(has) do
        if f:sub(1, 4) == 'var:' then nvars = nvars + 1 end
        if f:sub(1, 5) == 'file:' then nfiles = nfiles + 1 end
    end
    if nvars > max_vars then
        return err(400, 'invalid_request', 'an environment has at most ' .. max_vars .. ' variables')
    end
    if nfiles > max_files then
        return err(400, 'invalid_request', 'an environment has at most ' .. max_files .. ' files')
    end
    for f, v in pairs(fields) do
        if v == '' then redis.call('HDEL', env_key(name), f)
        else redis.call('HSET', env_key(name), f, v) end
    end
    redis.call('HSET', env_key(name), 'updated', tostring(now))
    if ARGV[10] ~= '' then redis.call('HSET', env_key(name), 'usable_by', ARGV[10]) end
    if ARGV[11] == '1' then redis.call('HSET', env_key(name), 'allow_loader_variables', '1') end
    return ok(200, env_view(name))
end

if op == 'env_list' then
    local names = redis.call('SMEMBERS', envs_key)
    table.sort(names)
    local list = {}
    for _, name in ipairs(names) do
        local e = (rule == 'any' or usable(name)) and env_view(name)
        if e then list[#list + 1] = e end
    end
    return ok(200, {environments = #list == 0 and EMPTY or list})
end

if op == 'env_get' or op == 'env_delete' then
    -- ARGV 7 name
    local name = ARGV[7]
    if rule == 'usable' and not usable(name) then return env_forbidden(name) end
    local e = env_view(name)
    if not e then
        return err(404, 'environment_not_found', 'environment not found: ' .. name)
    end
    if op == 'env_get' then return ok(200, e) end
    redis.call('DEL', env_key(name))
    redis.call('SREM', envs_key, name)
    return ok(200, {name = name, deleted = true})
end

-- GET /v1/stats?days=N (ARGV 7, 1..90, the gateway's default 14): per
-- day of the range (oldest first) what the day's hash counted; the
-- headline over the range (of the workspaces started in it, those with a
-- pull request and those with one merged: control's poller counts both
-- on the day the workspace started, so the share is of a cohort); who
-- prompted in the last 5 minutes; the agents running a turn now (an
-- awake workspace whose engine said "working", control's watch)
if op == 'stats' then
    local ndays = tonumber(ARGV[7]) or 14
    local today = math.floor(now / 86400)
    local days, sum = {}, {started = 0, with_pr = 0, merged = 0, tokens_in = 0,
                           tokens_out = 0, cost = 0, turns = 0}
    for i = ndays - 1, 0, -1 do
        local t = (today - i) * 86400
        local h = redis.call('HMGET', stats_key(t), 'started', 'with_pr', 'merged',
                             'tokens_in', 'tokens_out', 'cost_micro_usd', 'turns')
        local d = {day = day_of(t), started = tonumber(h[1]) or 0,
                   with_pr = tonumber(h[2]) or 0, merged = tonumber(h[3]) or 0,
                   tokens_in = tonumber(h[4]) or 0, tokens_out = tonumber(h[5]) or 0,
                   cost_usd = (tonumber(h[6]) or 0) / 1e6, turns = tonumber(h[7]) or 0}
        for _, f in ipairs({'started', 'with_pr', 'merged', 'tokens_in', 'tokens_out',
                            'turns'}) do
            sum[f] = sum[f] + d[f]
        end
        sum.cost = sum.cost + (tonumber(h[6]) or 0)
        days[#days + 1] = d
    end
    local function share(n, of) return of > 0 and n / of or cjson.null end

    redis.call('ZREMRANGEBYSCORE', prompters_key, '-inf', now - prompters_window)
    local flat = redis.call('ZREVRANGE', prompters_key, 0, 99, 'WITHSCORES')
    local prompters = {}
    for i = 1, #flat, 2 do
        local u = redis.call('HMGET', 'replicas:user:' .. flat[i], 'name', 'email')
        prompters[#prompters + 1] = {user = flat[i], name = u[1] or nil,
                                     email = u[2] or nil, at = tonumber(flat[i + 1])}
    end

    local working = {}
    for _, id in ipairs(redis.call('SMEMBERS', 'replicas:org-awake:' .. key.org)) do
        local h = redis.call('HMGET', ws_key(id), 'state', 'working', 'name', 'user', 'org')
        if h[1] == 'awake' and h[2] == '1' and h[5] == key.org then
            working[#working + 1] = {id = id, name = h[3], owner = h[4]}
        end
    end
    table.sort(working, function(a, b) return a.id < b.id end)

    return ok(200, {days = days, from = days[1].day, to = days[#days].day,
                    totals = {started = sum.started, with_pr = sum.with_pr,
                              merged = sum.merged, tokens_in = sum.tokens_in,
                              tokens_out = sum.tokens_out, cost_usd = sum.cost / 1e6,
                              turns = sum.turns},
                    merged_share = {of_with_pr = share(sum.merged, sum.with_pr),
                                    of_started = share(sum.merged, sum.started)},
                    prompting = {count = #prompters, window_seconds = prompters_window,
                                 users = #prompters == 0 and EMPTY or prompters},
                    working = {count = #working, workspaces = #working == 0 and EMPTY
                                                               or working},
                    at = now})
end

-- users: admins see and offboard them --------------------------------------
-- set replicas:org-users:<org> (control's user create); users made before
-- it are found through the organisation's keys
-- the organisation's users: {id = record}
local function org_users()
    local ids, users = redis.call('SMEMBERS', 'replicas:org-users:' .. key.org), {}
    local keys = redis.call('HGETALL', 'replicas:org-apikeys:' .. key.org)
    for i = 2, #keys, 2 do
        local u = redis.call('HGET', 'replicas:apikey:' .. keys[i], 'user')
        if u then ids[#ids + 1] = u end
    end
    for _, id in ipairs(ids) do
        local u = users[id] or hash_to_table(redis.call('HGETALL', 'replicas:user:' .. id))
        if u.org == key.org then users[id] = u end
    end
    return users
end

local function user_view(id, u)
    return {id = id, email = u.email, role = u.role or 'member', disabled = u.disabled == '1'}
end

if op == 'users_list' then
    local list = {}
    for id, u in pairs(org_users()) do list[#list + 1] = user_view(id, u) end
    table.sort(list, function(a, b) return a.id < b.id end)
    return ok(200, {users = #list == 0 and EMPTY or list})
end

if op == 'user_create' then
    -- ARGV 7 email (validated), 8 role (member|admin), 9 a fresh id:
    -- what replicas-control user create writes.  One email per
    -- organisation, compared without case.
    local email = ARGV[7]:lower()
    for _, u in pairs(org_users()) do
        if (u.email or ''):lower() == email then
            return err(409, 'email_taken', 'a user with the email ' .. ARGV[7] ..
                       ' is already in your organisation')
        end
    end
    local id = ARGV[9]
    if redis.call('EXISTS', 'replicas:user:' .. id) == 1 then
        return err(409, 'conflict', 'user id collision, retry')
    end
    redis.call('HSET', 'replicas:user:' .. id, 'org', key.org, 'email', ARGV[7],
               'role', ARGV[8], 'created', tostring(now))
    redis.call('SADD', 'replicas:org-users:' .. key.org, id)
    return ok(201, user_view(id, {email = ARGV[7], role = ARGV[8]}))
end

if op == 'login_link' then
    -- ARGV 7 user id, 8 sha256 of the token the gateway made: the record
    -- replicas-control login-link writes (one use, 15 minutes, GETDEL at
    -- /login?token=); the gateway puts the link in the answer
    local id = ARGV[7]
    if rule == 'self' and id ~= key.user then
        return err(403, 'forbidden', 'a member may make a login link only for themself: ' ..
                   'ask an admin of the organisation')
    end
    local u = redis.call('HMGET', 'replicas:user:' .. id, 'org', 'disabled')
    if u[1] ~= key.org then
        return err(404, 'user_not_found', 'no user ' .. id .. ' in your organisation')
    end
    if u[2] == '1' then
        return err(409, 'user_disabled', 'user ' .. id .. ' is disabled: a login link ' ..
                   'would not let them in')
    end
    local ttl = 900           -- RP_LOGIN_TTL in common/rp_keys.h
    redis.call('SET', 'replicas:login:' .. ARGV[8], id, 'EX', ttl)
    return ok(201, {user = id, expires_at = now + ttl})
end

-- API keys: by their public prefix, never the key or its hash -----------------
-- hash replicas:apikey:<sha256> (prefix, org, user, scope, workspace,
-- created, last_used) and replicas:org-apikeys:<org> prefix -> sha256,
-- as replicas-control key create writes them
local function key_view(prefix, h, k)
    local email = k.user and redis.call('HGET', 'replicas:user:' .. k.user, 'email')
    return {prefix = prefix, user = k.user or cjson.null, email = email or nil,
            scope = k.scope or 'user',
            workspace = (k.workspace and k.workspace ~= '') and k.workspace or cjson.null,
            created = tonumber(k.created), last_used = tonumber(k.last_used),
            current = h == keyhash or nil,
            -- control's key for the workspace's engine (its engine_key)
            engine = (k.scope == 'workspace' and k.workspace and
                      redis.call('HGET', ws_key(k.workspace), 'engine_key') == prefix) or nil}
end

if op == 'keys_list' then
    local flat, list = redis.call('HGETALL', 'replicas:org-apikeys:' .. key.org), {}
    for i = 1, #flat, 2 do
        local k = hash_to_table(redis.call('HGETALL', 'replicas:apikey:' .. flat[i + 1]))
        if k.org == key.org and (rule == 'any' or k.user == key.user) then
            list[#list + 1] = key_view(flat[i], flat[i + 1], k)
        end
    end
    table.sort(list, function(a, b)
        if (a.created or 0) ~= (b.created or 0) then return (a.created or 0) > (b.created or 0) end
        return a.prefix < b.prefix
    end)
    return ok(200, {keys = #list == 0 and EMPTY or list})
end

if op == 'key_create' then
    -- ARGV 7 user ("" the caller), 8 workspace ("" none), 9 prefix,
    -- 10 sha256 of the key the gateway made (the key never comes here)
    local user = ARGV[7] ~= '' and ARGV[7] or key.user
    if user ~= key.user and rule ~= 'any' then
        return err(403, 'forbidden', 'a member may create keys only for themself: ' ..
                   'ask an admin of the organisation')
    end
    local u = redis.call('HMGET', 'replicas:user:' .. user, 'org', 'disabled')
    if u[1] ~= key.org then
        return err(404, 'user_not_found', 'no user ' .. user .. ' in your organisation')
    end
    if u[2] == '1' then
        return err(409, 'user_disabled', 'user ' .. user .. ' is disabled')
    end
    local ws = ARGV[8]
    if ws ~= '' then
        local w = load_ws(ws)
        if not w then return err(404, 'workspace_not_found', 'workspace not found: ' .. ws) end
        if rule ~= 'any' and not collaborates(w) then
            return err(403, 'not_your_workspace', 'workspace ' .. ws .. ' belongs to another ' ..
                       'user: a member binds keys only to workspaces they own or collaborate on')
        end
    end
    local prefix, h = ARGV[9], ARGV[10]
    if redis.call('HEXISTS', 'replicas:org-apikeys:' .. key.org, prefix) == 1
        or redis.call('EXISTS', 'replicas:apikey:' .. h) == 1 then
        return err(409, 'conflict', 'key prefix collision, retry')
    end
    redis.call('HSET', 'replicas:apikey:' .. h, 'prefix', prefix, 'org', key.org, 'user', user,
               'scope', ws ~= '' and 'workspace' or 'user', 'workspace', ws,
               'created', tostring(now))
    redis.call('HSET', 'replicas:org-apikeys:' .. key.org, prefix, h)
    -- gateways may have cached "no such key" for it
    redis.call('PUBLISH', 'replicas:ws-changed', 'k:' .. h)
    local view = key_view(prefix, h, hash_to_table(redis.call('HGETALL', 'replicas:apikey:' .. h)))
    view.current = nil
    return ok(201, view)
end

if op == 'key_revoke' then
    -- ARGV 7 prefix: the first half; the gateway then runs the
    -- offboarding script (common/rp_offboard.c) for that key
    local h = redis.call('HGET', 'replicas:org-apikeys:' .. key.org, ARGV[7])
    if not h then
        return err(404, 'key_not_found', 'no API key with prefix ' .. ARGV[7] ..
                   ' in your organisation')
    end
    if rule ~= 'any' and redis.call('HGET', 'replicas:apikey:' .. h, 'user') ~= key.user then
        return err(403, 'not_your_key', 'API key ' .. ARGV[7] .. ' belongs to another user: ' ..
                   'only they and admins may revoke it')
    end
    return ok(200, {hash = h})
end

if op == 'user_disable' or op == 'user_delete' then
    -- ARGV 7 user id: the first half; the gateway then runs the
    -- offboarding script (common/rp_offboard.c) for this organisation
    if ARGV[7] == key.user then
        return err(409, 'cannot_offboard_self', 'an admin cannot disable or delete ' ..
                   'their own user: ask another admin')
    end
    if redis.call('HGET', 'replicas:user:' .. ARGV[7], 'org') ~= key.org then
        return err(404, 'user_not_found', 'no user ' .. ARGV[7] .. ' in your organisation')
    end
    return ok(200, {org = key.org})
end

-- everything below names one workspace
local w = load_ws(wsid)
if not w then
    return err(404, 'workspace_not_found', 'workspace not found: ' .. wsid)
end

if (rule == 'own' and not collaborates(w)) or (rule == 'owner' and w.user ~= key.user) then
    return err(403, 'not_your_workspace', 'workspace ' .. wsid .. ' belongs to another ' ..
               'user: only its owner' .. (rule == 'own' and ', its collaborators' or '') ..
               ' and admins may do this')
end

if op == 'get' then
    return ok(200, view(wsid, w))
end

if op == 'collaborators' then
    -- ARGV 7 JSON list of user ids, each of this organisation
    local list = cjson.decode(ARGV[7])
    for _, id in ipairs(list) do
        if redis.call('HGET', 'replicas:user:' .. id, 'org') ~= key.org then
            return err(400, 'invalid_request', 'no user ' .. id .. ' in your organisation')
        end
    end
    if #list == 0 then
        redis.call('HDEL', ws_key(wsid), 'collaborators')
    else
        redis.call('HSET', ws_key(wsid), 'collaborators', cjson.encode(list))
    end
    redis.call('PUBLISH', 'replicas:ws-changed', wsid)
    return ok(200, view(wsid, load_ws(wsid)))
end

-- presence: the caller has the workspace's page open (POST, every 20 s)
-- or has left it (DELETE).  Someone new or someone gone (the stale ones
-- are trimmed here) is a change of the workspace, published so every org
-- stream says it.  Never activity, never a wake: a sleeping workspace
-- watched sleeps on.
if op == 'presence' or op == 'presence_leave' then
    if not key.user then
        return err(403, 'forbidden', 'presence is a user\'s: this key has none')
    end
    local vkey = viewers_key(wsid)
    local changed = redis.call('ZREMRANGEBYSCORE', vkey, '-inf', now - viewers_ttl - 1)
    if op == 'presence' then
        local was = tonumber(redis.call('ZSCORE', vkey, key.user) or '')
        redis.call('ZADD', vkey, now, key.user)
        if not was then changed = changed + 1 end
    else
        changed = changed + redis.call('ZREM', vkey, key.user)
    end
    redis.call('EXPIRE', vkey, viewers_ttl * 2)
    if changed > 0 then redis.call('PUBLISH', 'replicas:ws-changed', wsid) end
    return ok(200, {id = wsid, viewers = viewers_of(wsid)})
end

if op == 'delete' then
    set_state(wsid, 'deleted')
    redis.call('DEL', viewers_key(wsid))
    redis.call('DEL', 'replicas:ws-history:' .. wsid)
    redis.call('SREM', 'replicas:org-ws:' .. key.org, wsid)
    redis.call('SREM', 'replicas:org-awake:' .. key.org, wsid)
    job('delete', wsid)
    return ok(202, {id = wsid, state = 'deleted'})
end

if op == 'sleep' then
    if w.state == 'failed' then
        return err(409, 'invalid_state', 'a failed workspace cannot sleep')
    end
    if w.state ~= 'sleeping' then job('sleep', wsid) end
    return ok(202, {id = wsid, state = w.state})
end

if op == 'wake' then
    if w.state == 'failed' then
        return err(409, 'invalid_state', 'a failed workspace cannot wake')
    end
    local woke, e = wake(wsid, w)
    if not woke then return e end
    return ok(202, {id = wsid, state = load_ws(wsid).state})
end

if op == 'message' then
    -- ARGV 7 text, 8 chat, 9 kind ("" none)
    if w.state == 'failed' then
        return err(409, 'invalid_state', 'the workspace has failed; the message was not accepted')
    end
    local asleep = w.state == 'sleeping'
    if asleep then
        -- refused before it is stored: a message is never kept for a
        -- workspace that cannot wake
        local woke, e = wake(wsid, w)
        if not woke then return e end
    end
    redis.call('ZADD', 'replicas:activity', now, wsid)
    local seq, pending = enqueue_message(wsid, ARGV[7], ARGV[8], ARGV[9])
    local status = 'queued'
    if asleep then
        status = 'waking'
    elseif w.state == 'awake' and pending == 1 then
        status = 'sent'
    end
    return ok(202, {status = status, position = pending - 1, seq = seq})
end

if op == 'interrupt' or op == 'git_action' then
    -- a sleeping workspace runs no turn: nothing to stop, nothing to wake
    -- (and git's actions wait for it to be woken on purpose)
    if w.state ~= 'awake' then
        return err(409, 'workspace_not_awake', 'workspace ' .. wsid .. ' is ' .. w.state ..
                   (op == 'interrupt' and ': no turn is running' or ': wake it first'))
    end
    return ok(200, {addr = w.addr})
end

-- the dashboard's engine check (GET .../engine, proxied to its /healthz):
-- only an awake workspace's engine is asked.  A sleeping one is not woken
-- to be checked (nor is it activity): 409, and GET says its state.
if op == 'engine' then
    if w.state ~= 'awake' then
        return err(409, 'workspace_not_awake', 'workspace ' .. wsid .. ' is ' .. w.state ..
                   ': its engine is asked only while it is awake (it is not woken for this)')
    end
    return ok(200, {addr = w.addr})
end

-- the engine's events as control saved them when it last went to sleep
-- (control/rc_history.c): read without waking it.  The stored object
-- {first_id, last_id, events} is passed on as it is, after what it is of.
if op == 'history' then
    local saved = redis.call('GET', 'replicas:ws-history:' .. wsid)
    if not saved or saved:sub(1, 1) ~= '{' then
        return err(404, 'no_history', 'workspace ' .. wsid .. ' has no saved history: ' ..
                   'it is saved each time the workspace goes to sleep')
    end
    return {200, cjson.encode({workspace = wsid, state = w.state}):sub(1, -2) ..
                 ',' .. saved:sub(2), 0}
end

if op == 'events' or op == 'hooks' or op == 'git' or op == 'diff' or op == 'files'
    or op == 'file_content' then
    -- the gateway proxies the stream to the engine at this address
    if w.state ~= 'awake' then
        -- asked for, the workspace wakes; the client reconnects (SSE does)
        local woke, e = wake(wsid, w)
        if not woke then return e end
        return err(503, 'workspace_waking', 'workspace ' .. wsid .. ' is waking up: reconnect in a moment', 2)
    end
    return ok(200, {addr = w.addr})
end

if op == 'previews_list' then
    return ok(200, {previews = previews_of(wsid)})
end

-- the gateway reads public ports from the workspace hash in the same
-- HMGET as the route: keep that field in step with the previews hash
local function sync_public(id)
    local flat = redis.call('HGETALL', 'replicas:ws-previews:' .. id)
    local ports = {}
    for i = 1, #flat, 2 do
        if flat[i + 1] == 'public' then ports[#ports + 1] = tonumber(flat[i]) end
    end
    table.sort(ports)
    redis.call('HSET', ws_key(id), 'public', table.concat(ports, ','))
    redis.call('PUBLISH', 'replicas:ws-changed', id)
    return #ports
end

if op == 'preview_add' then
    -- ARGV 7 port, 8 visibility (validated: 3737 and 6080 never public)
    local pkey = 'replicas:ws-previews:' .. wsid
    local before = redis.call('HGET', pkey, ARGV[7])
    if ARGV[8] == 'public' and before ~= 'public' then
        local public = 0
        local flat = redis.call('HGETALL', pkey)
        for i = 2, #flat, 2 do if flat[i] == 'public' then public = public + 1 end end
        if public >= max_public then
            return err(409, 'too_many_public_previews',
                       'a workspace has at most ' .. max_public .. ' public previews')
        end
    end
    redis.call('HSET', pkey, ARGV[7], ARGV[8])
    sync_public(wsid)
    return ok(before and 200 or 201, {port = tonumber(ARGV[7]), visibility = ARGV[8],
                                      url = preview_url(ARGV[7], wsid)})
end

if op == 'preview_delete' then
    if redis.call('HDEL', 'replicas:ws-previews:' .. wsid, ARGV[7]) == 0 then
        return err(404, 'preview_not_found', 'no preview on port ' .. ARGV[7])
    end
    sync_public(wsid)
    return ok(200, {port = tonumber(ARGV[7]), deleted = true})
end

if op == 'share_create' then
    -- ARGV 7 port, 8 share id, 9 expiry (unix), 10 signed token
    local ttl = tonumber(ARGV[9]) - now
    redis.call('HSET', 'replicas:share:' .. ARGV[8], 'workspace', wsid, 'port', ARGV[7],
               'org', key.org, 'user', key.user, 'expires', ARGV[9], 'created', tostring(now))
    redis.call('EXPIRE', 'replicas:share:' .. ARGV[8], ttl)
    redis.call('SADD', 'replicas:ws-shares:' .. wsid, ARGV[8])
    -- offboarding (user disable, key revoke) ends it with its maker
    local sets = {'replicas:user-shares:' .. key.user}
    if keyhash ~= '' then sets[2] = 'replicas:key-shares:' .. keyhash end
    for _, set in ipairs(sets) do
        redis.call('SADD', set, ARGV[8])
        if redis.call('TTL', set) < ttl then redis.call('EXPIRE', set, ttl) end
    end
    return ok(201, {id = ARGV[8], port = tonumber(ARGV[7]), expires_at = tonumber(ARGV[9]),
                    url = preview_url(ARGV[7], wsid) .. '?replicas_share=' .. ARGV[10]})
end

if op == 'shares_list' then
    -- ARGV 7 port: the live share links of this preview, never a token
    local list = {}
    for _, sid in ipairs(redis.call('SMEMBERS', 'replicas:ws-shares:' .. wsid)) do
        local s = hash_to_table(redis.call('HGETALL', 'replicas:share:' .. sid))
        if not s.workspace then
            redis.call('SREM', 'replicas:ws-shares:' .. wsid, sid)   -- expired
        elseif s.port == ARGV[7] then
            list[#list + 1] = {id = sid, port = tonumber(s.port), user = s.user,
                               created_at = tonumber(s.created),
                               expires_at = tonumber(s.expires)}
        end
    end
    table.sort(list, function(a, b) return a.id < b.id end)
    return ok(200, {shares = #list == 0 and EMPTY or list})
end

if op == 'share_delete' then
    -- ARGV 7 port, 8 share id
    local s = hash_to_table(redis.call('HGETALL', 'replicas:share:' .. ARGV[8]))
    if s.workspace ~= wsid or s.port ~= ARGV[7] then
        return err(404, 'share_not_found', 'no such share link')
    end
    if rule ~= 'any' and s.user ~= key.user and w.user ~= key.user then
        return err(403, 'not_your_share', 'this share link was made by another user: ' ..
                   'only they, the workspace\'s owner and admins may revoke it')
    end
    redis.call('DEL', 'replicas:share:' .. ARGV[8])
    redis.call('SREM', 'replicas:ws-shares:' .. wsid, ARGV[8])
    -- every gateway forgets it at once
    redis.call('PUBLISH', 'replicas:ws-changed', 'h:' .. ARGV[8])
    return ok(200, {id = ARGV[8], revoked = true})
end

return err(500, 'internal', 'unknown operation ' .. op)
