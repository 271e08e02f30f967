/*
 * Who may open a workspace's private ports with an API key (see
 * rp_access.h).  Called by ngx_http_replicas_auth.c; unit test
 * t/unit/test_access.c.
 */

#include <string.h>

#include "rp_access.h"


static int
rp_access_same(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && alen > 0 && memcmp(a, b, alen) == 0;
}


/*
 * The collaborators list is lua/api.lua's cjson of user ids, which hold
 * only [a-z0-9]: "\"<user>\"" found in it is that id and no other.
 */

int
rp_access_collaborates(const char *user, size_t user_len,
    const rp_access_ws_t *ws)
{
    size_t       i;
    const char  *c;

    if (user_len == 0) {
        return 0;
    }

    if (rp_access_same(user, user_len, ws->owner, ws->owner_len)) {
        return 1;
    }

    c = ws->collaborators;

    for (i = 0; i + user_len + 2 <= ws->collaborators_len; i++) {
        if (c[i] == '"' && c[i + user_len + 1] == '"'
            && memcmp(c + i + 1, user, user_len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


rp_access_e
rp_access_key_open(const rp_access_key_t *key, const rp_access_ws_t *ws)
{
    if (!rp_access_same(key->org, key->org_len, ws->org, ws->org_len)) {
        return RP_ACCESS_FOREIGN;
    }

    /* the engine's key: its own workspace, whoever made it */
    if (key->workspace_len) {
        return rp_access_same(key->workspace, key->workspace_len, ws->id,
                              ws->id_len)
               ? RP_ACCESS_OK : RP_ACCESS_FOREIGN;
    }

    if (key->admin) {
        return RP_ACCESS_OK;
    }

    return rp_access_collaborates(key->user, key->user_len, ws)
           ? RP_ACCESS_OK : RP_ACCESS_NOT_YOURS;
}
