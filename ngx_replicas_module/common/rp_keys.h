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

#endif /* RP_KEYS_H */
