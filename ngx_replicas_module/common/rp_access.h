/*
 * Who may open a workspace's private ports with an API key: the rule of
 * lua/api.lua's roles table and lua/session.lua's tickets, for the
 * gateway's preview check (ngx_http_replicas_auth.c), as a pure decision
 * on what the two cached lookups hold.
 */

#ifndef RP_ACCESS_H
#define RP_ACCESS_H

#include <stddef.h>


/* an API key, as its lookup found it */
typedef struct {
    const char  *org;
    size_t       org_len;
    const char  *workspace;     /* a workspace-scoped key's (engine's) */
    size_t       workspace_len; /* 0: a user's key */
    const char  *user;
    size_t       user_len;
    int          admin;         /* its user is an admin */
} rp_access_key_t;


/* a workspace, as its route lookup found it */
typedef struct {
    const char  *id;
    size_t       id_len;
    const char  *org;
    size_t       org_len;
    const char  *owner;         /* the creating user */
    size_t       owner_len;
    const char  *collaborators; /* JSON list of user ids, or "" */
    size_t       collaborators_len;
} rp_access_ws_t;


typedef enum {
    RP_ACCESS_OK = 0,
    RP_ACCESS_FOREIGN,          /* another organisation, or another
                                   workspace for a scoped key */
    RP_ACCESS_NOT_YOURS         /* a member, not owner nor collaborator */
} rp_access_e;


rp_access_e rp_access_key_open(const rp_access_key_t *key,
    const rp_access_ws_t *ws);

/* 1: user is the owner or in the collaborators list */
int rp_access_collaborates(const char *user, size_t user_len,
    const rp_access_ws_t *ws);

#endif /* RP_ACCESS_H */
