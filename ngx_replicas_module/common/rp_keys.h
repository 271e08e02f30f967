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

/* identities (issue 3); secrets are stored only as SHA-256 hex */
#define RP_KEY_ORG_PREFIX         "replicas:org:"        /* HASH name, created */
#define RP_KEY_USER_PREFIX        "replicas:user:"       /* HASH org, email, role, created */
#define RP_KEY_APIKEY_PREFIX      "replicas:apikey:"     /* + sha256(key): HASH prefix, org, user, scope, workspace, created */
#define RP_KEY_ORG_APIKEYS_PREFIX "replicas:org-apikeys:" /* + org: HASH prefix -> sha256(key) */
#define RP_KEY_LOGIN_PREFIX       "replicas:login:"      /* + sha256(token): STRING user, one use, short TTL */
#define RP_KEY_SESSION_PREFIX     "replicas:session:"    /* + sha256(sid): HASH user, org, created */

/* an API key: "rk_" + 8-char prefix + "_" + 43-char secret */
#define RP_APIKEY_TAG             "rk_"
#define RP_APIKEY_PREFIX_LEN      8

#endif /* RP_KEYS_H */
