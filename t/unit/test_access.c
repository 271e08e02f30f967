/* Who may open a workspace with an API key (common/rp_access.c). */

#include <string.h>

#include "tap.h"
#include "common/rp_access.h"


#define S(s)  s, sizeof(s) - 1


int
main(void)
{
    rp_access_ws_t   ws = { S("wsadm"), S("org1"), S("admin1"),
                            S("[\"mem1\",\"mem22\"]") };
    rp_access_key_t  admin = { S("org1"), NULL, 0, S("admin1"), 1 };
    rp_access_key_t  owner = { S("org1"), NULL, 0, S("admin1"), 0 };
    rp_access_key_t  collab = { S("org1"), NULL, 0, S("mem22"), 0 };
    rp_access_key_t  other = { S("org1"), NULL, 0, S("mem2"), 0 };
    rp_access_key_t  prefix = { S("org1"), NULL, 0, S("mem"), 0 };
    rp_access_key_t  foreign = { S("org2"), NULL, 0, S("admin1"), 1 };
    rp_access_key_t  engine = { S("org1"), S("wsadm"), S("mem2"), 0 };
    rp_access_key_t  engine2 = { S("org1"), S("wsmem"), S("admin1"), 1 };
    rp_access_key_t  nobody = { S("org1"), NULL, 0, NULL, 0, 0 };

    ok(rp_access_key_open(&admin, &ws) == RP_ACCESS_OK, "an admin: any");
    ok(rp_access_key_open(&owner, &ws) == RP_ACCESS_OK, "its owner");
    ok(rp_access_key_open(&collab, &ws) == RP_ACCESS_OK, "a collaborator");
    ok(rp_access_key_open(&other, &ws) == RP_ACCESS_NOT_YOURS,
       "another member: not yours");
    ok(rp_access_key_open(&prefix, &ws) == RP_ACCESS_NOT_YOURS,
       "a prefix of a collaborator's id is not one");
    ok(rp_access_key_open(&foreign, &ws) == RP_ACCESS_FOREIGN,
       "another organisation's admin: foreign");
    ok(rp_access_key_open(&engine, &ws) == RP_ACCESS_OK,
       "an engine's key: its workspace");
    ok(rp_access_key_open(&engine2, &ws) == RP_ACCESS_FOREIGN,
       "an engine's key: not another, even made by an admin");
    ok(rp_access_key_open(&nobody, &ws) == RP_ACCESS_NOT_YOURS,
       "a key without a user: nothing of a member's");

    ws.collaborators_len = 0;
    ok(rp_access_key_open(&collab, &ws) == RP_ACCESS_NOT_YOURS,
       "no collaborators: only the owner");
    ws.owner_len = 0;
    ok(rp_access_key_open(&owner, &ws) == RP_ACCESS_NOT_YOURS,
       "no owner: an empty user owns nothing");

    return done_testing();
}
