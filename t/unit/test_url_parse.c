/*
 * The one parser of absolute URLs from outside (common/rp_url_parse.c),
 * the preview host check on top of it, and the header helpers that keep
 * what the gateway writes clean (common/rp_http.c, common/rp_host.c).
 */

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "common/rp_url_parse.h"
#include "common/rp_http.h"
#include "common/rp_host.h"


static int
parse(const char *s, rp_url_t *u)
{
    return rp_url_parse(s, strlen(s), u);
}


static int
refused(const char *s)
{
    rp_url_t  u;

    return parse(s, &u) == -1;
}


static int
part_is(const char *p, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(p, want, len) == 0;
}


/* a URL the parser takes, and whether its host is a preview host */
static int
preview(const char *s)
{
    rp_url_t           u;
    rp_preview_host_t  h;

    return parse(s, &u) == 0
           && rp_host_parse(u.host, u.host_len, "replicas.localhost", 18, &h)
              == RP_HOST_PREVIEW;
}


static void
test_parts(void)
{
    rp_url_t  u;

    ok(parse("http://3737-abc.replicas.localhost:8080/files?path=a", &u) == 0
       && !u.https && u.port == 8080
       && part_is(u.host, u.host_len, "3737-abc.replicas.localhost")
       && part_is(u.path, u.path_len, "/files")
       && u.has_query && part_is(u.query, u.query_len, "path=a"),
       "scheme, host, port, path, query");
    ok(parse("HTTPS://Host.Example", &u) == 0 && u.https && u.port == 0
       && u.path_len == 0 && !u.has_query, "no port, no path: https");
    ok(parse("http://h?", &u) == 0 && u.has_query && u.query_len == 0
       && u.path_len == 0, "an empty query");
    ok(parse("http://h:65535/", &u) == 0 && u.port == 65535, "port 65535");
    ok(parse("http://h/a/b%2F?x=%0d", &u) == 0, "escapes stay escapes");
}


static void
test_refused(void)
{
    ok(refused("http://3737-a.replicas.localhost:x@127.0.0.1:9/"),
       "userinfo with a bogus port");
    ok(refused("http://3737-a.replicas.localhost:8080@127.0.0.1:9/"),
       "userinfo that looks like a port");
    ok(refused("http://3737-a.replicas.localhost@127.0.0.1/"), "userinfo");
    ok(refused("http://3737-a.replicas.localhost\\@127.0.0.1/"), "\\@");
    ok(refused("http://3737-a.replicas.localhost:80\\\\evil/"), "backslashes");
    ok(refused("http://h/a\\b"), "a backslash in the path");
    ok(refused("http://h/\r\nSet-Cookie: x=1"), "CR LF");
    ok(refused("http://h/a b"), "a space");
    ok(refused("http://h/a\tb"), "a tab");
    ok(refused("http://h/\x7f"), "DEL");
    ok(refused("http://h/\xc3\xa9"), "raw UTF-8");
    ok(refused("http://h/#x"), "a fragment");
    ok(refused("http://h//evil"), "a path starting with //");
    ok(refused("http://h:0/"), "port 0");
    ok(refused("http://h:080/"), "a leading zero");
    ok(refused("http://h:65536/"), "port 65536");
    ok(refused("http://h:123456/"), "six digits");
    ok(refused("http://h:/"), "an empty port");
    ok(refused("http://h:1:2/"), "two ports");
    ok(refused("http://[::1]/"), "an IPv6 literal");
    ok(refused("http:///x"), "no host");
    ok(refused("http://.h/"), "a host starting with a dot");
    ok(refused("javascript://h/%0aalert(1)"), "another scheme");
    ok(refused("//h/"), "scheme-relative");
    ok(refused("http:/h/"), "one slash");
    ok(refused(""), "empty");
    ok(rp_url_parse("http://h/\0x", 10, &(rp_url_t) { 0 }) == -1, "a NUL");
}


static void
test_preview(void)
{
    ok(preview("http://3737-abc.replicas.localhost:8080/"), "a preview URL");
    ok(preview("http://3737-ABC.Replicas.Localhost/"), "any case");
    ok(!preview("http://3737-abc.replicas.localhost.evil.test/"),
       "a foreign name that embeds one");
    ok(!preview("http://replicas.localhost/"), "the main domain");
    ok(!preview("http://3737-abc.replicas.localhost:x@evil/"),
       "userinfo never passes as the host");
}


static void
test_headers(void)
{
    const char  *h, *v;
    size_t       pos, len;
    int          n;

    ok(rp_header_value_ok("http://h/a?b=1", 14), "a plain value");
    ok(rp_header_value_ok("a\tb", 3), "a tab");
    ok(!rp_header_value_ok("/x\r\nSet-Cookie: a=1", 19), "CR LF");
    ok(!rp_header_value_ok("a\nb", 3), "LF alone");
    ok(!rp_header_value_ok("a\0b", 3), "NUL");
    ok(!rp_header_value_ok("a\x7f", 2), "DEL");

    ok(rp_set_cookie_is_own("replicas_preview=x; Domain=d", 28), "ours");
    ok(rp_set_cookie_is_own("  Replicas_Session=x", 20), "ours in any case");
    ok(rp_set_cookie_is_own("replicas_anything=", 18), "any replicas_*");
    ok(!rp_set_cookie_is_own("app=1; replicas_preview=x", 25), "an app's");
    ok(!rp_set_cookie_is_own("replicas", 8), "shorter than the prefix");
    ok(!rp_set_cookie_is_own("xreplicas_preview=1", 19), "another name");

    h = "replicas_preview=a; x=1; replicas_preview=b;replicas_preview=c";
    pos = 0;
    n = 0;

    while (rp_cookie_find(h, strlen(h), &pos, "replicas_preview", &v, &len)) {
        n++;
        if (n == 2) {
            ok(len == 1 && v[0] == 'b', "the second of one name");
        }
    }

    ok(n == 3, "every cookie of one name, in order");

    ok(rp_host_is_ip("127.0.0.1", 9), "IPv4");
    ok(rp_host_is_ip("[::1]", 5), "IPv6");
    ok(!rp_host_is_ip("replicas.localhost", 18), "a name");
    ok(!rp_host_is_ip("127.0.0.1.nip.io", 16), "a name with digits");
}


int
main(void)
{
    test_parts();
    test_refused();
    test_preview();
    test_headers();

    return done_testing();
}
