/* Unit tests of cookie and query-string handling (common/rp_http.c). */

#include <string.h>

#include "common/rp_http.h"
#include "tap.h"


static int
cookie_is(const char *header, const char *name, const char *want)
{
    size_t       len;
    const char  *v;

    if (!rp_cookie_get(header, strlen(header), name, &v, &len)) {
        return want == NULL;
    }

    return want && len == strlen(want) && memcmp(v, want, len) == 0;
}


static int
strip_is(const char *header, const char *want)
{
    char    out[256];
    size_t  n;

    n = rp_cookie_strip_own(header, strlen(header), out);
    out[n] = '\0';

    return strcmp(out, want) == 0;
}


static int
qstrip_is(const char *args, const char *name, const char *want)
{
    char    out[256];
    size_t  n;

    n = rp_query_strip(args, strlen(args), name, out);
    out[n] = '\0';

    return strcmp(out, want) == 0;
}


static int
decode_is(const char *in, int form, const char *want)
{
    char    out[256];
    size_t  n;

    n = rp_url_decode(in, strlen(in), out, form);

    if (want == NULL) {
        return n == (size_t) -1;
    }

    out[n == (size_t) -1 ? 0 : n] = '\0';

    return n != (size_t) -1 && strcmp(out, want) == 0;
}


int
main(void)
{
    char    enc[64];
    size_t  n, len;
    const char  *v;

    ok(cookie_is("a=1; replicas_preview=tok; b=2", "replicas_preview", "tok"),
       "a cookie among others");
    ok(cookie_is("replicas_preview=tok", "replicas_preview", "tok"), "alone");
    ok(cookie_is("a=1;replicas_preview = tok ;b", "replicas_preview", "tok"),
       "spaces around the pair are trimmed");
    ok(cookie_is("xreplicas_preview=1", "replicas_preview", NULL),
       "a longer name does not match");
    ok(cookie_is("replicas_preview", "replicas_preview", ""), "no value");
    ok(cookie_is("a=1; replicas_preview=first; replicas_preview=second",
                 "replicas_preview", "first"), "the first one wins");
    ok(cookie_is(";;; ;", "a", NULL), "only separators");
    ok(cookie_is("", "a", NULL), "empty");

    ok(strip_is("app=1; replicas_session=s; theme=dark; replicas_preview=p",
                "app=1; theme=dark"), "ours are stripped, the app's kept");
    ok(strip_is("replicas_session=s", ""), "nothing left");
    ok(strip_is("a=1;b=2", "a=1; b=2"), "re-joined with \"; \"");
    ok(strip_is("replicas_x=1;a=1", "a=1"), "any replicas_ name");
    ok(strip_is("  a=1  ;  ", "a=1"), "blank pairs dropped");

    ok(rp_query_get("a=1&replicas_token=k&b=2", 24, "replicas_token", &v,
                    &len) && len == 1 && *v == 'k', "query parameter found");
    ok(!rp_query_get("a=1&xreplicas_token=k", 21, "replicas_token", &v, &len),
       "not a prefix match");
    ok(rp_query_get("replicas_token", 14, "replicas_token", &v, &len)
       && len == 0, "a parameter without a value");
    ok(qstrip_is("a=1&replicas_token=k&b=2", "replicas_token", "a=1&b=2"),
       "stripped from the middle");
    ok(qstrip_is("replicas_token=k", "replicas_token", ""), "the only one");
    ok(qstrip_is("replicas_token=k&replicas_token=j&x", "replicas_token", "x"),
       "every occurrence");
    ok(qstrip_is("a&&b", "replicas_token", "a&b"), "empty parameters dropped");

    ok(decode_is("a%20b+c", 1, "a b c"), "form decoding");
    ok(decode_is("a+b", 0, "a+b"), "plus kept outside forms");
    ok(decode_is("%2Fx%2f", 0, "/x/"), "either case of hex");
    ok(decode_is("%", 0, NULL), "a lone percent is refused");
    ok(decode_is("%4", 0, NULL), "a short escape is refused");
    ok(decode_is("%zz", 0, NULL), "a bad escape is refused");
    ok(decode_is("a%00b", 0, NULL), "a decoded NUL is refused");

    n = rp_url_encode("a b/é~", 7, enc);
    enc[n] = '\0';
    ok(strcmp(enc, "a%20b%2F%C3%A9~") == 0, "encoding keeps unreserved only");

    return done_testing();
}
