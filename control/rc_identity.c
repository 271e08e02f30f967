/*
 * replicas-control org|user|key|login-link: organisations, users, API
 * keys and one-time login links.  A secret (key, login token) is printed
 * once and stored only as its SHA-256; each write is one MULTI/EXEC.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "common/rp_keys.h"
#include "common/rp_token.h"
#include "common/rp_offboard.h"
#include "rc_identity.h"
#include "rc_redis.h"


#define RC_ID_LEN        12


static const char *
rc_opt(int argc, char **argv, const char *name)
{
    int  i;

    for (i = 0; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return argv[i + 1];
        }
    }

    return NULL;
}


static int
rc_flag(int argc, char **argv, const char *name)
{
    int  i;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
rc_exists(redisContext *rc, const char *prefix, const char *id)
{
    int          n;
    redisReply  *reply;

    reply = redisCommand(rc, "EXISTS %s%s", prefix, id);
    n = reply && reply->type == REDIS_REPLY_INTEGER ? (int) reply->integer : -1;
    freeReplyObject(reply);

    return n;
}


static int
rc_offboard(redisContext *rc, const char *what, const char *id,
    const char *how)
{
    int          n;
    char         now[32];
    redisReply  *reply;

    snprintf(now, sizeof(now), "%lld", (long long) time(NULL));

    /* the script the API's DELETE /v1/users/{id} runs too; no org: any */
    reply = redisCommand(rc, "EVAL %s 0 %s %s %s %s %s", rp_offboard_lua, what,
                         id, how ? how : "", now, "");

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_INTEGER)
    {
        (void) rc_redis_ok(rc, reply, "EVAL");
        return -1;
    }

    n = reply->element[0]->integer == 200;
    freeReplyObject(reply);

    return n;
}


static int
rc_org_create(redisContext *rc, int argc, char **argv)
{
    char  id[RC_ID_LEN + 1], now[32];

    if (argc != 1 || strlen(argv[0]) == 0 || strlen(argv[0]) > 100) {
        return -1;
    }

    if (rp_random_id(RC_ID_LEN, id) != 0) {
        return 1;
    }

    snprintf(now, sizeof(now), "%lld", (long long) time(NULL));

    if (!rc_redis_ok(rc, redisCommand(rc, "HSET " RP_KEY_ORG_PREFIX "%s "
                                      "name %s created %s", id, argv[0], now),
                     "HSET"))
    {
        return 1;
    }

    printf("%s\n", id);

    return 0;
}


static int
rc_user_create(redisContext *rc, int argc, char **argv)
{
    char         id[RC_ID_LEN + 1], now[32];
    const char  *org, *email;

    org = rc_opt(argc, argv, "--org");
    email = rc_opt(argc, argv, "--email");

    if (org == NULL || email == NULL || strchr(email, '@') == NULL
        || strlen(email) > 254)
    {
        return -1;
    }

    if (rc_exists(rc, RP_KEY_ORG_PREFIX, org) != 1) {
        fprintf(stderr, "replicas-control: no organisation \"%s\"\n", org);
        return 1;
    }

    if (rp_random_id(RC_ID_LEN, id) != 0) {
        return 1;
    }

    snprintf(now, sizeof(now), "%lld", (long long) time(NULL));

    if (!rc_redis_ok(rc, redisCommand(rc, "HSET " RP_KEY_USER_PREFIX "%s "
                                      "org %s email %s role %s created %s",
                                      id, org, email,
                                      rc_flag(argc, argv, "--admin")
                                      ? "admin" : "member", now), "HSET")
        || !rc_redis_ok(rc, redisCommand(rc, "SADD " RP_KEY_ORG_USERS_PREFIX
                                         "%s %s", org, id), "SADD"))
    {
        return 1;
    }

    printf("%s\n", id);

    return 0;
}


static int
rc_user_org(redisContext *rc, const char *user, char *org, size_t size)
{
    int          ok;
    redisReply  *reply;

    reply = redisCommand(rc, "HGET " RP_KEY_USER_PREFIX "%s org", user);
    ok = reply && reply->type == REDIS_REPLY_STRING && reply->len < size;

    if (ok) {
        memcpy(org, reply->str, reply->len + 1);
    } else {
        fprintf(stderr, "replicas-control: no user \"%s\"\n", user);
    }

    freeReplyObject(reply);

    return ok;
}


int
rc_apikey_make(redisContext *rc, const char *user, const char *org,
    const char *ws, char *key, size_t keylen, char *prefix)
{
    int    ok;
    char   hash[RP_SHA256_HEX + 1], now[32];

    /* the one maker of keys, the API's POST /v1/keys's too */
    if (keylen < RP_APIKEY_MAX + 1 || rp_apikey_new(key, prefix, hash) != 0) {
        return -1;
    }

    snprintf(now, sizeof(now), "%lld", (long long) time(NULL));

    if (!rc_redis_multi(rc)) {
        return -1;
    }

    ok = rc_redis_ok(rc, redisCommand(rc, "HSET " RP_KEY_APIKEY_PREFIX "%s "
                     "prefix %s org %s user %s scope %s workspace %s "
                     "created %s", hash, prefix, org, user,
                     ws ? "workspace" : "user", ws ? ws : "", now), "HSET");
    ok = ok && rc_redis_ok(rc, redisCommand(rc, "HSET "
                     RP_KEY_ORG_APIKEYS_PREFIX "%s %s %s", org, prefix, hash),
                     "HSET");
    /* gateways may have cached "no such key" for it */
    ok = ok && rc_redis_ok(rc, redisCommand(rc, "PUBLISH "
                     RP_CHANNEL_WS_CHANGED " " RP_CACHE_KEY_APIKEY "%s", hash),
                     "PUBLISH");
    /* DISCARDed on failure: the worker passes a workspace's engine key
     * through here, on the connection it keeps using */
    return rc_redis_exec(rc, ok) ? 0 : -1;
}


static int
rc_key_create(redisContext *rc, int argc, char **argv)
{
    char         prefix[RP_APIKEY_PREFIX_LEN + 1], key[128], org[64];
    const char  *user, *ws;

    user = rc_opt(argc, argv, "--user");
    ws = rc_opt(argc, argv, "--workspace");

    if (user == NULL) {
        return -1;
    }

    if (!rc_user_org(rc, user, org, sizeof(org))) {
        return 1;
    }

    if (rc_apikey_make(rc, user, org, ws, key, sizeof(key), prefix) != 0) {
        return 1;
    }

    printf("%s\n", key);

    return 0;
}


static int
rc_key_list(redisContext *rc, int argc, char **argv)
{
    size_t       i;
    const char  *org;
    redisReply  *keys, *rec;

    org = rc_opt(argc, argv, "--org");
    if (org == NULL) {
        return -1;
    }

    keys = redisCommand(rc, "HGETALL " RP_KEY_ORG_APIKEYS_PREFIX "%s", org);
    if (keys == NULL || keys->type != REDIS_REPLY_ARRAY) {
        (void) rc_redis_ok(rc, keys, "HGETALL");
        return 1;
    }

    printf("%-10s %-14s %-10s %s\n", "PREFIX", "USER", "SCOPE", "CREATED");

    for (i = 0; i + 1 < keys->elements; i += 2) {
        rec = redisCommand(rc, "HMGET " RP_KEY_APIKEY_PREFIX "%s user scope "
                           "created", keys->element[i + 1]->str);

        if (rec && rec->type == REDIS_REPLY_ARRAY && rec->elements == 3
            && rec->element[0]->type == REDIS_REPLY_STRING)
        {
            printf("%-10s %-14s %-10s %s\n", keys->element[i]->str,
                   rec->element[0]->str, rec->element[1]->str,
                   rec->element[2]->str);
        }

        freeReplyObject(rec);
    }

    freeReplyObject(keys);

    return 0;
}


int
rc_apikey_revoke(redisContext *rc, const char *org, const char *prefix)
{
    int          ok;
    char         hash[RP_SHA256_HEX + 1];
    redisReply  *reply;

    reply = redisCommand(rc, "HGET " RP_KEY_ORG_APIKEYS_PREFIX "%s %s", org,
                         prefix);
    ok = reply && reply->type == REDIS_REPLY_STRING
         && reply->len == RP_SHA256_HEX;

    if (!ok) {
        freeReplyObject(reply);
        return 1;
    }

    memcpy(hash, reply->str, RP_SHA256_HEX + 1);
    freeReplyObject(reply);

    /*
     * The API reads the key record on every call, and gateways drop what
     * they cached of it when the announcement arrives: refused at once,
     * with the sessions and share links made from it.
     */
    return rc_offboard(rc, "key", hash, NULL) == 1 ? 0 : -1;
}


static int
rc_key_revoke(redisContext *rc, int argc, char **argv)
{
    int          rc_;
    const char  *org;

    org = rc_opt(argc, argv, "--org");
    if (argc < 1 || org == NULL) {
        return -1;
    }

    rc_ = rc_apikey_revoke(rc, org, argv[0]);

    if (rc_ == 1) {
        fprintf(stderr, "replicas-control: no key with prefix \"%s\"\n",
                argv[0]);
    }

    return rc_ == 0 ? 0 : 1;
}


static int
rc_login_link(redisContext *rc, int argc, char **argv)
{
    char         token[64], hash[RP_SHA256_HEX + 1], org[64];
    const char  *user, *url;

    user = rc_opt(argc, argv, "--user");
    url = rc_opt(argc, argv, "--url");

    if (url == NULL) {
        url = getenv("REPLICAS_PUBLIC_URL");
    }

    if (user == NULL || url == NULL) {
        return -1;
    }

    if (!rc_user_org(rc, user, org, sizeof(org))
        || rp_random_b64url(32, token) != 0)
    {
        return 1;
    }

    rp_sha256_hex(token, strlen(token), hash);

    if (!rc_redis_ok(rc, redisCommand(rc, "SET " RP_KEY_LOGIN_PREFIX "%s %s "
                                      "EX %d", hash, user, RP_LOGIN_TTL),
                     "SET"))
    {
        return 1;
    }

    printf("%s/login?token=%s\n", url, token);

    return 0;
}


/* user disable|delete --user USER */

static int
rc_user_end(redisContext *rc, const char *how, int argc, char **argv)
{
    int          n;
    const char  *user;

    user = rc_opt(argc, argv, "--user");
    if (user == NULL) {
        return -1;
    }

    n = rc_offboard(rc, "user", user, how);

    if (n == 0) {
        fprintf(stderr, "replicas-control: no user \"%s\"\n", user);
    }

    return n == 1 ? 0 : 1;
}


int
rc_identity_main(redisContext *rc, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[0], "org") == 0
        && strcmp(argv[1], "create") == 0)
    {
        return rc_org_create(rc, argc - 2, argv + 2);
    }

    if (argc >= 2 && strcmp(argv[0], "user") == 0
        && strcmp(argv[1], "create") == 0)
    {
        return rc_user_create(rc, argc - 2, argv + 2);
    }

    if (argc >= 2 && strcmp(argv[0], "user") == 0
        && (strcmp(argv[1], "disable") == 0 || strcmp(argv[1], "delete") == 0))
    {
        return rc_user_end(rc, argv[1], argc - 2, argv + 2);
    }

    if (argc >= 2 && strcmp(argv[0], "key") == 0) {
        if (strcmp(argv[1], "create") == 0) {
            return rc_key_create(rc, argc - 2, argv + 2);
        }

        if (strcmp(argv[1], "list") == 0) {
            return rc_key_list(rc, argc - 2, argv + 2);
        }

        if (strcmp(argv[1], "revoke") == 0) {
            return rc_key_revoke(rc, argc - 2, argv + 2);
        }
    }

    if (argc >= 1 && strcmp(argv[0], "login-link") == 0) {
        return rc_login_link(rc, argc - 1, argv + 1);
    }

    return -1;
}
