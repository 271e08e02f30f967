/*
 * Offboarding in one Lua script, the same for replicas-control (user
 * disable|delete, key revoke: control/rc_identity.c) and the admin API
 * (POST /v1/users/{id}/disable, DELETE /v1/users/{id}:
 * ngx_http_replicas_api.c).
 *
 *   ARGV 1 "key", 2 sha256 of the key
 *   ARGV 1 "user", 2 user id, 3 "disable" | "delete", 4 now,
 *        5 the caller's organisation ("" for control: any)
 *
 * Returns {status, JSON body, 0} like lua/api.lua: 200, or 404
 * user_not_found (no such user in that organisation).
 */

#ifndef RP_OFFBOARD_H
#define RP_OFFBOARD_H

extern const char  rp_offboard_lua[];
extern const unsigned long  rp_offboard_lua_len;

#endif /* RP_OFFBOARD_H */
