/* Unit tests of the preview host grammar (common/rp_host.c). */

#include <string.h>

#include "common/rp_host.h"
#include "common/rp_state.h"
#include "tap.h"


#define D  "replicas.localhost"


typedef struct {
    const char      *host;
    size_t           len;      /* 0: strlen(host) */
    rp_host_kind_e   kind;
    unsigned         port;
    const char      *id;
} host_case_t;


static const host_case_t  cases[] = {
    /* well-formed */
    { "3000-abc." D, 0, RP_HOST_PREVIEW, 3000, "abc" },
    { "1-a." D, 0, RP_HOST_PREVIEW, 1, "a" },
    { "65535-z9." D, 0, RP_HOST_PREVIEW, 65535, "z9" },
    { "6080-ws1." D ":8080", 0, RP_HOST_PREVIEW, 6080, "ws1" },
    { "3737-AbC." D, 0, RP_HOST_PREVIEW, 3737, "abc" },
    { "3000-ABC.REPLICAS.LOCALHOST", 0, RP_HOST_PREVIEW, 3000, "abc" },
    { "3000-abc." D ".", 0, RP_HOST_PREVIEW, 3000, "abc" },
    { "8080-0123456789." D, 0, RP_HOST_PREVIEW, 8080, "0123456789" },

    /* not ours: the main site decides */
    { D, 0, RP_HOST_NOT_PREVIEW, 0, NULL },
    { D ":8080", 0, RP_HOST_NOT_PREVIEW, 0, NULL },
    { "example.com", 0, RP_HOST_NOT_PREVIEW, 0, NULL },
    { "3000-abcreplicas.localhost", 0, RP_HOST_NOT_PREVIEW, 0, NULL },
    { "3000-abc.evil-" D, 0, RP_HOST_NOT_PREVIEW, 0, NULL },
    { "", 0, RP_HOST_NOT_PREVIEW, 0, NULL },
    { "." D, 0, RP_HOST_MALFORMED, 0, NULL },

    /* malformed preview hosts */
    { "0-abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "03000-abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "00-abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "65536-abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "99999-abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "100000-abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "4294967297-abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "-abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "3000-." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "3000abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "www." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "3000-ab-c." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "3000-ab_c." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "3000-a.b." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "x.3000-abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "3000-a..b." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "+3000-abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { " 3000-abc." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "3000-abc\r\nX." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "3000-ab\xc3\xa9." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "3000-abc*." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "3000-abc\"\r\nFLUSHALL\r\n." D, 0, RP_HOST_MALFORMED, 0, NULL },
    { "3000-a\0c." D, sizeof("3000-a\0c." D) - 1, RP_HOST_MALFORMED, 0, NULL },
};


static void
test_long_labels(void)
{
    char               host[256];
    rp_preview_host_t  out;
    size_t             n;

    /* 5 + 1 + 57 = 63 bytes: the longest label that fits */
    n = 0;
    memcpy(host, "65535-", 6);
    n = 6;
    memset(host + n, 'a', 57);
    n += 57;
    memcpy(host + n, "." D, sizeof("." D) - 1);
    n += sizeof("." D) - 1;

    ok(rp_host_parse(host, n, D, sizeof(D) - 1, &out) == RP_HOST_PREVIEW
       && out.id_len == 57, "a 63-byte label is a preview host");

    /* one more byte is not */
    memcpy(host, "65535-", 6);
    memset(host + 6, 'a', 58);
    memcpy(host + 64, "." D, sizeof("." D) - 1);
    n = 64 + sizeof("." D) - 1;

    ok(rp_host_parse(host, n, D, sizeof(D) - 1, &out) == RP_HOST_MALFORMED,
       "a 64-byte label is malformed");

    memset(host, '9', sizeof(host));
    ok(rp_host_parse(host, sizeof(host), D, sizeof(D) - 1, &out)
       == RP_HOST_NOT_PREVIEW, "256 digits and no domain is not ours");
}


static void
test_states(void)
{
    ok(rp_state_parse("awake", 5) == RP_STATE_AWAKE, "state awake");
    ok(rp_state_parse("sleeping", 8) == RP_STATE_SLEEPING, "state sleeping");
    ok(rp_state_parse("awak", 4) == RP_STATE_INVALID, "state prefix");
    ok(rp_state_parse("AWAKE", 5) == RP_STATE_INVALID, "state is exact");
    ok(rp_state_parse("none", 4) == RP_STATE_INVALID, "none is not stored");
    ok(strcmp(rp_state_name(RP_STATE_PROVISIONING), "provisioning") == 0,
       "state name");
    ok(strcmp(rp_state_name((rp_state_e) 99), "invalid") == 0,
       "out-of-range state name");
    ok(rp_ws_id_valid("abc123", 6) && !rp_ws_id_valid("", 0)
       && !rp_ws_id_valid("aB", 2) && !rp_ws_id_valid("a-b", 3),
       "workspace id check");
}


int
main(void)
{
    size_t              i, len;
    rp_host_kind_e      kind;
    rp_preview_host_t   out;
    const host_case_t  *c;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c = &cases[i];
        len = c->len ? c->len : strlen(c->host);

        memset(&out, 0x55, sizeof(out));
        kind = rp_host_parse(c->host, len, D, sizeof(D) - 1, &out);

        if (c->kind == RP_HOST_PREVIEW) {
            ok(kind == RP_HOST_PREVIEW && out.port == c->port
               && strcmp(out.id, c->id) == 0 && out.id_len == strlen(c->id),
               "preview: %s", c->host);
        } else {
            ok(kind == c->kind, "%s: case %zu",
               c->kind == RP_HOST_MALFORMED ? "malformed" : "not preview", i);
        }
    }

    ok(rp_host_parse(NULL, 0, D, sizeof(D) - 1, &out) == RP_HOST_NOT_PREVIEW,
       "NULL host");
    ok(rp_host_parse("3000-a.x", 8, "", 0, &out) == RP_HOST_NOT_PREVIEW,
       "empty domain");

    test_long_labels();
    test_states();

    return done_testing();
}
