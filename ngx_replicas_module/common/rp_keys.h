/*
 * Redis key and channel names: the one place they are spelled, shared by
 * the gateway, control and the tests (t/lib reads them from here too).
 * The schema itself is documented in README.md ("Redis schema").
 */

#ifndef RP_KEYS_H
#define RP_KEYS_H

/* HASH per workspace: state, addr, ... ; key = prefix + workspace id */
#define RP_KEY_WORKSPACE_PREFIX   "replicas:ws:"

/* PUBLISH <workspace id> here after every change to a workspace hash */
#define RP_CHANNEL_WS_CHANGED     "replicas:ws-changed"

/* workspace hash fields the gateway reads */
#define RP_FIELD_STATE            "state"
#define RP_FIELD_ADDR             "addr"
#define RP_FIELD_ORG              "org"
#define RP_FIELD_PUBLIC           "public"   /* "3000,8080": public ports */
#define RP_FIELD_USER             "user"     /* its owner, the creating user */
#define RP_FIELD_COLLABORATORS    "collaborators" /* JSON list of user ids */
#define RP_FIELD_ENGINE_KEY       "engine_key"    /* the prefix of its engine's key (control); offboarding keeps that key */

/* at most this many public preview ports per workspace */
#define RP_PUBLIC_PORTS_MAX       8

/*
 * Written by lua/api.lua (Lua cannot include this file: keep in step):
 *   replicas:org-ws:<org>          SET of its workspace ids
 *   replicas:jobs                  STREAM of jobs for control
 *   replicas:ws-messages:<id>      LIST of messages (JSON), in order
 *   replicas:ws-msgseq:<id>        STRING counter of message numbers
 *   replicas:ws-previews:<id>      HASH port -> public|authenticated
 *   replicas:ws-shares:<id>        SET of share ids
 *   replicas:idem:<org>:<user>:<sha256>  STRING "<workspace id>|<sha1 of body>", 24 h
 *   replicas:rate:<prefix>:<min>, replicas:rate-user:<user>:<min>  STRING
 *                                  counters, 2 min (and by the gateway:
 *                                  previews, ngx_http_replicas_meter.c)
 *   replicas:user-shares:<user>, replicas:key-shares:<sha256>  SET of share ids
 *   replicas:ws-viewers:<id>       ZSET user -> last presence (unix); an
 *                                  entry older than 45 s is gone (presence)
 * and by lua/session.lua:
 *   replicas:user-sessions:<user>, replicas:key-sessions:<sha256>  SET of
 *                                  session hashes
 *   replicas:user-tickets:<user>, replicas:key-tickets:<sha256>  SET of
 *                                  unused ticket hashes (by the session's
 *                                  user, and its key if made from one)
 * (offboarding in control/rc_identity.c ends what they list)
 */
#define RP_KEY_ORG_WS_PREFIX      "replicas:org-ws:"
#define RP_KEY_RATE_PREFIX        "replicas:rate:"       /* + key prefix ":" minute */
#define RP_KEY_RATE_USER_PREFIX   "replicas:rate-user:"  /* + user ":" minute */
#define RP_KEY_JOBS               "replicas:jobs"

/* identities (issue 3); secrets are stored only as SHA-256 hex */
#define RP_KEY_ORG_PREFIX         "replicas:org:"        /* HASH name, created */
#define RP_KEY_USER_PREFIX        "replicas:user:"       /* HASH org, email, role, created; disabled, disabled_at */
#define RP_KEY_ORG_USERS_PREFIX   "replicas:org-users:"  /* + org: SET of user ids (since issue 19; older ones are found through their keys) */
#define RP_KEY_APIKEY_PREFIX      "replicas:apikey:"     /* + sha256(key): HASH prefix, org, user, scope, workspace, created */
#define RP_KEY_ORG_APIKEYS_PREFIX "replicas:org-apikeys:" /* + org: HASH prefix -> sha256(key) */
#define RP_KEY_LOGIN_PREFIX       "replicas:login:"      /* + sha256(token): STRING user, one use, RP_LOGIN_TTL */
#define RP_LOGIN_TTL              900                    /* seconds a login link stays usable (control, API) */
#define RP_KEY_SESSION_PREFIX     "replicas:session:"    /* + sha256(sid): HASH user, org, created */
#define RP_KEY_TICKET_PREFIX      "replicas:ticket:"     /* + sha256(ticket): STRING "host|user|ref|path", 60 s */
#define RP_KEY_SHARE_PREFIX       "replicas:share:"      /* + share id: HASH workspace, port, org, user, expires */

/*
 * Environments (common/rp_env.h): per organisation, "global" and named
 * ones.  Fields "var:NAME" and "file:path" hold values sealed with the
 * deployment's secrets key (common/rp_crypt.h), never plaintext.
 */
#define RP_KEY_ENV_PREFIX         "replicas:env:"        /* + org ":" name: HASH var:NAME, file:path -> sealed token; updated */
#define RP_KEY_ORG_ENVS_PREFIX    "replicas:org-envs:"   /* + org: SET of environment names */

/*
 * Names in the shared cache (and on RP_CHANNEL_WS_CHANGED, to invalidate
 * them) for credentials: "k:" + sha256(API key), "s:" + sha256(session),
 * "h:" + share id.  Workspace ids never contain ':'.
 */
#define RP_CACHE_KEY_APIKEY       "k:"
#define RP_CACHE_KEY_SESSION      "s:"
#define RP_CACHE_KEY_SHARE        "h:"

/* an API key: "rk_" + 8-char prefix + "_" + 43-char secret */
#define RP_APIKEY_TAG             "rk_"
#define RP_APIKEY_PREFIX_LEN      8


/*
 * Control's bookkeeping (issue 4).  Workspace hash fields it writes:
 * state_at, reason (why it failed), sandbox, node, branch.
 */
#define RP_FIELD_STATE_AT         "state_at"
#define RP_FIELD_REASON           "reason"
#define RP_FIELD_SANDBOX          "sandbox"
#define RP_JOBS_GROUP             "control"                 /* consumer group */
#define RP_KEY_LOCK_PREFIX        "replicas:lock:"          /* + "ws:<id>", "image:<key>": STRING owner, short TTL */
#define RP_KEY_SANDBOX_PREFIX     "replicas:sandbox:"       /* + sandbox id: HASH node, slot, addr, lower, workspace, state, pool, engine */
#define RP_KEY_NODE_SANDBOXES_PREFIX "replicas:node-sandboxes:" /* + node: SET of sandbox ids */
#define RP_KEY_NET_SLOTS_PREFIX   "replicas:net-slots:"     /* + node ":" net: HASH slot -> sandbox id */
#define RP_KEY_IMAGE_PREFIX       "replicas:image:"         /* + node ":" key: HASH url, org, name, dir, sha, state, built_at, checked_at, refresh_state, log */
#define RP_KEY_IMAGES_PREFIX      "replicas:images:"        /* + node: SET of image keys */
#define RP_KEY_POOL_PREFIX        "replicas:pool:"          /* + node ":" image key: SET of warm sandbox ids */
#define RP_KEY_PREWARM_PREFIX     "replicas:prewarm:"       /* + org ":" sha1(repository "\n" environment): STRING warming, ready or failed:<reason>, EX 60 (POST /v1/prewarm) */
#define RP_KEY_PREWARMED_PREFIX   "replicas:prewarmed:"     /* + node: HASH sandbox id (or r:<holder>, a fill under way) -> "<org> <until ms>" */
#define RP_KEY_WS_MESSAGES_PREFIX "replicas:ws-messages:"   /* + id: LIST of undelivered messages */
#define RP_KEY_WS_HISTORY_PREFIX  "replicas:ws-history:"    /* + id: STRING, the engine's events
                                                                 as of its last sleep (JSON) */
#define RP_KEY_WS_HOOKS_PREFIX    "replicas:ws-hooks:"      /* + id: HASH start_state, start_exit, start_log */
#define RP_KEY_WS_ENGINE_FAILS_PREFIX "replicas:ws-engine-fails:" /* + id: ZSET of the engine's failures (ms), the last 5 minutes */
#define RP_KEY_WORKER_PREFIX      "replicas:worker:"        /* + consumer: STRING, a lease its worker renews every second */
#define RP_KEY_DELIVER_DUE        "replicas:deliver-due"    /* ZSET id -> when (ms) its undelivered messages are tried again */
#define RP_KEY_DELIVER_TRIES      "replicas:deliver-tries"  /* HASH id -> failed deliveries in a row (the backoff) */
#define RP_KEY_ACTIVITY           "replicas:activity"       /* ZSET id -> last activity (unix) */
#define RP_KEY_ORG_AWAKE_PREFIX   "replicas:org-awake:"     /* + org: SET of ids holding a sandbox */
#define RP_KEY_SETTINGS           "replicas:settings"       /* HASH deployment defaults of the quotas */

/* the Stats page (GET /v1/stats, lua/api.lua): per organisation per UTC
 * day, HASH started, with_pr, merged (those two on the workspace's start
 * day), turns, tokens_in, tokens_out, cost_micro_usd; kept RP_STATS_TTL_S */
#define RP_KEY_STATS_PREFIX       "replicas:stats:"         /* + org ":" yyyy-mm-dd */
#define RP_STATS_TTL_S            (100 * 86400)
#define RP_KEY_STATS_PROMPTERS_PREFIX "replicas:stats-prompters:" /* + org: ZSET user -> last message (unix), 5 minutes */
/* control's pull request poller (control/rc_pulls.c), shared by workers */
#define RP_KEY_PULLS_BACKOFF      "replicas:pulls:backoff"  /* STRING unix time before which GitHub is not asked */
#define RP_KEY_PULLS_BUDGET_PREFIX "replicas:pulls:budget:" /* + minute: STRING requests made in it */
#define RP_KEY_PULLS_DUE_PREFIX   "replicas:pulls:checked:" /* + id: STRING, set while its check is recent (EX) */

#endif /* RP_KEYS_H */
