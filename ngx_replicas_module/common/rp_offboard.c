/*
 * Offboarding, atomically (one EVAL; see rp_offboard.h): what a user or
 * one key let in ends at once on every gateway.  Sessions, tickets and
 * share links are indexed by user and by key where they are made
 * (lua/session.lua, lua/api.lua); the announcements drop every gateway's
 * cached copy, and preview cookies die with the session or share they
 * name.  A workspace's engine key (the workspace's engine_key, made by
 * control with its owner as the user) stays: the workspaces belong to the
 * organisation.  Every other key of the user ends, bound to a workspace
 * or not (a member may bind keys of its own: POST /v1/keys).
 */

#include "rp_keys.h"
#include "rp_offboard.h"


const char  rp_offboard_lua[] =
    "local ch = '" RP_CHANNEL_WS_CHANGED "'\n"
    "local function end_set(set, prefix, tag)\n"
    "  for _, h in ipairs(redis.call('SMEMBERS', set)) do\n"
    "    redis.call('DEL', prefix .. h)\n"
    "    if tag then redis.call('PUBLISH', ch, tag .. h) end\n"
    "  end\n"
    "  redis.call('DEL', set)\n"
    "end\n"
    "local function end_key(hash)\n"
    "  local k = redis.call('HMGET', '" RP_KEY_APIKEY_PREFIX "' .. hash,"
    " 'org', 'prefix')\n"
    "  end_set('replicas:key-sessions:' .. hash, '" RP_KEY_SESSION_PREFIX
    "', '" RP_CACHE_KEY_SESSION "')\n"
    "  end_set('replicas:key-shares:' .. hash, '" RP_KEY_SHARE_PREFIX
    "', '" RP_CACHE_KEY_SHARE "')\n"
    "  end_set('replicas:key-tickets:' .. hash, '" RP_KEY_TICKET_PREFIX
    "', nil)\n"
    "  redis.call('DEL', '" RP_KEY_APIKEY_PREFIX "' .. hash)\n"
    "  if k[1] then redis.call('HDEL', '" RP_KEY_ORG_APIKEYS_PREFIX
    "' .. k[1], k[2]) end\n"
    "  redis.call('PUBLISH', ch, '" RP_CACHE_KEY_APIKEY "' .. hash)\n"
    "end\n"
    "if ARGV[1] == 'key' then\n"
    "  end_key(ARGV[2])\n"
    "  return {200, '{\"revoked\":true}', 0}\n"
    "end\n"
    "local u = ARGV[2]\n"
    "local org = redis.call('HGET', '" RP_KEY_USER_PREFIX "' .. u, 'org')\n"
    "if not org or (ARGV[5] ~= '' and org ~= ARGV[5]) then\n"
    "  return {404, cjson.encode({error = {code = 'user_not_found',"
    " message = 'no user ' .. u .. ' in your organisation'}}), 0}\n"
    "end\n"
    "end_set('replicas:user-sessions:' .. u, '" RP_KEY_SESSION_PREFIX "', '"
    RP_CACHE_KEY_SESSION "')\n"
    "end_set('replicas:user-shares:' .. u, '" RP_KEY_SHARE_PREFIX "', '"
    RP_CACHE_KEY_SHARE "')\n"
    "end_set('replicas:user-tickets:' .. u, '" RP_KEY_TICKET_PREFIX "',"
    " nil)\n"
    "local keys = redis.call('HGETALL', '" RP_KEY_ORG_APIKEYS_PREFIX
    "' .. org)\n"
    "for i = 1, #keys, 2 do\n"
    "  local k = redis.call('HMGET', '" RP_KEY_APIKEY_PREFIX "' .. keys[i + 1],"
    " 'user', 'scope', 'workspace')\n"
    "  if k[1] == u and (k[2] ~= 'workspace' or redis.call('HGET', '"
    RP_KEY_WORKSPACE_PREFIX "' .. k[3], '" RP_FIELD_ENGINE_KEY "') ~= keys[i])"
    " then\n"
    "    end_key(keys[i + 1])\n"
    "  end\n"
    "end\n"
    "if ARGV[3] == 'delete' then\n"
    "  redis.call('DEL', '" RP_KEY_USER_PREFIX "' .. u)\n"
    "  redis.call('SREM', '" RP_KEY_ORG_USERS_PREFIX "' .. org, u)\n"
    "  return {200, cjson.encode({id = u, deleted = true}), 0}\n"
    "end\n"
    "redis.call('HSET', '" RP_KEY_USER_PREFIX "' .. u, 'disabled', '1',"
    " 'disabled_at', ARGV[4])\n"
    "return {200, cjson.encode({id = u, disabled = true}), 0}\n";

const unsigned long  rp_offboard_lua_len = sizeof(rp_offboard_lua) - 1;
