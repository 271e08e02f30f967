/*
 * replicas-control workspace ...: write workspace records in Redis the
 * way the gateway reads them, and publish the change so every gateway
 * drops its cached route.  The record and its announcement go in one
 * MULTI/EXEC, so no gateway can see one without the other.
 */

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <hiredis/hiredis.h>

#include "common/rp_host.h"
#include "common/rp_keys.h"
#include "common/rp_state.h"
#include "rc_redis.h"
#include "rc_workspace.h"


/* Ends the MULTI a change began: announce it, then EXEC, or DISCARD. */

static int
rc_announce(redisContext *rc, const char *id, int ok)
{
    ok = ok && rc_redis_ok(rc, redisCommand(rc, "PUBLISH "
                               RP_CHANNEL_WS_CHANGED " %s", id), "PUBLISH");

    return rc_redis_exec(rc, ok) ? 0 : 1;
}


static int
rc_workspace_put(redisContext *rc, const char *id, const char *state,
    const char *addr, const char *org)
{
    struct in_addr  in;
    int             ok;

    if (rp_state_parse(state, strlen(state)) == RP_STATE_INVALID) {
        fprintf(stderr, "replicas-control: unknown state \"%s\"\n", state);
        return 2;
    }

    if (addr && inet_pton(AF_INET, addr, &in) != 1) {
        fprintf(stderr, "replicas-control: addr must be an IPv4 address\n");
        return 2;
    }

    ok = rc_redis_multi(rc);

    ok = ok && rc_redis_ok(rc, addr
              ? redisCommand(rc, "HSET " RP_KEY_WORKSPACE_PREFIX "%s "
                             RP_FIELD_STATE " %s " RP_FIELD_ADDR " %s",
                             id, state, addr)
              : redisCommand(rc, "HSET " RP_KEY_WORKSPACE_PREFIX "%s "
                             RP_FIELD_STATE " %s", id, state),
              "HSET");

    /* the organisation whose members may open its previews */
    if (org) {
        ok = ok && rc_redis_ok(rc, redisCommand(rc, "HSET "
                               RP_KEY_WORKSPACE_PREFIX "%s " RP_FIELD_ORG
                               " %s", id, org), "HSET");
        ok = ok && rc_redis_ok(rc, redisCommand(rc, "SADD " RP_KEY_ORG_WS_PREFIX
                               "%s %s", org, id), "SADD");
    }

    return rc_announce(rc, id, ok);
}


static int
rc_workspace_delete(redisContext *rc, const char *id)
{
    int  ok;

    ok = rc_redis_multi(rc);
    ok = ok && rc_redis_ok(rc, redisCommand(rc, "DEL "
                               RP_KEY_WORKSPACE_PREFIX "%s", id), "DEL");

    return rc_announce(rc, id, ok);
}


static int
rc_workspace_show(redisContext *rc, const char *id)
{
    size_t       i;
    redisReply  *reply;

    reply = redisCommand(rc, "HGETALL " RP_KEY_WORKSPACE_PREFIX "%s", id);

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        (void) rc_redis_ok(rc, reply, "HGETALL");
        return 1;
    }

    if (reply->elements == 0) {
        fprintf(stderr, "replicas-control: no workspace \"%s\"\n", id);
        freeReplyObject(reply);
        return 1;
    }

    for (i = 0; i + 1 < reply->elements; i += 2) {
        printf("%s=%s\n", reply->element[i]->str, reply->element[i + 1]->str);
    }

    freeReplyObject(reply);

    return 0;
}


int
rc_workspace_main(redisContext *rc, int argc, char **argv)
{
    const char  *id, *state = NULL, *addr = NULL, *org = NULL;
    int          i;

    if (argc < 2) {
        return -1;
    }

    id = argv[1];

    if (!rp_ws_id_valid(id, strlen(id))) {
        fprintf(stderr, "replicas-control: a workspace id is 1 to %d "
                "lowercase letters and digits\n", RP_WS_ID_MAX);
        return 2;
    }

    if (strcmp(argv[0], "show") == 0 && argc == 2) {
        return rc_workspace_show(rc, id);
    }

    if (strcmp(argv[0], "delete") == 0 && argc == 2) {
        return rc_workspace_delete(rc, id);
    }

    if (strcmp(argv[0], "put") != 0) {
        return -1;
    }

    for (i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--state") == 0) {
            state = argv[i + 1];

        } else if (strcmp(argv[i], "--addr") == 0) {
            addr = argv[i + 1];

        } else if (strcmp(argv[i], "--org") == 0) {
            org = argv[i + 1];

        } else {
            return -1;
        }
    }

    if (i != argc || state == NULL) {
        return -1;
    }

    return rc_workspace_put(rc, id, state, addr, org);
}
