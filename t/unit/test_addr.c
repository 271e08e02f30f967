/* Repository hosts' addresses and URLs (common/rp_addr.c, common/rp_url.c):
 * which ranges are special, CIDR ranges, the strict URL reading and the
 * API's refusal of what needs no lookup. */

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "common/rp_addr.h"
#include "common/rp_url.h"


static const char *
special(const char *s)
{
    rp_addr_t  a;

    if (rp_addr_parse(s, strlen(s), &a) != 0) {
        return "(not an address)";
    }

    return rp_addr_special(&a);
}


static int
never(const char *s)
{
    rp_addr_t  a;

    return rp_addr_parse(s, strlen(s), &a) == 0 && rp_addr_never(&a);
}


static int
in(const char *cidr, const char *s)
{
    rp_cidr_t  c;
    rp_addr_t  a;

    return rp_cidr_parse(cidr, &c) == 0
           && rp_addr_parse(s, strlen(s), &a) == 0 && rp_cidr_match(&c, &a);
}


static int
refused(const char *url)
{
    char  err[256];

    return rp_repo_url_refused(url, strlen(url), err, sizeof(err));
}


static int
host_is(const char *url, const char *host, unsigned port)
{
    const char     *reason;
    rp_repo_url_t   u;

    return rp_repo_url_parse(url, strlen(url), &u, &reason) == 0 && u.host
           && u.host_len == strlen(host)
           && memcmp(u.host, host, u.host_len) == 0 && u.port == port;
}


int
main(void)
{
    char              buf[64];
    rp_addr_t         a;
    rp_cidr_t         c;
    const char       *reason;
    rp_repo_url_t     u;

    /* every special range of the brief, in its usual form */
    static const char  *specials[] = {
        "0.1.2.3", "10.1.2.3", "100.64.0.1", "100.127.255.255", "127.0.0.1",
        "127.255.0.9", "169.254.169.254", "172.16.0.1", "172.31.255.255",
        "192.0.0.8", "192.0.2.1", "192.168.1.1", "198.18.0.1", "198.19.255.1",
        "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.1.1.1", "240.0.0.1",
        "255.255.255.255", "::", "::1", "::ffff:127.0.0.1", "::ffff:8.8.8.8",
        "::127.0.0.1", "64:ff9b::7f00:1", "fc00::1", "fd12:3456::1",
        "fe80::1", "fe80::1%eth0", "ff02::1", "2001:db8::1", "2002:7f00:1::",
        "2001:0:4136:e378::1", "[::1]", NULL
    };
    static const char  *globals[] = {
        "8.8.8.8", "1.1.1.1", "140.82.112.3", "100.63.255.255", "100.128.0.1",
        "172.15.255.255", "172.32.0.1", "192.0.3.1", "198.17.0.1",
        "198.20.0.1", "2606:4700::1111", "2a00:1450:4001::200e", NULL
    };
    const char  **p;

    for (p = specials; *p; p++) {
        ok(special(*p) != NULL, "%s is special (%s)", *p, special(*p));
    }

    for (p = globals; *p; p++) {
        ok(special(*p) == NULL, "%s is global", *p);
    }

    /* the forms getaddrinfo takes for 127.0.0.1 */
    ok(strcmp(special("127.1") , "loopback") == 0, "127.1 is loopback");
    ok(strcmp(special("2130706433"), "loopback") == 0, "2130706433 is loopback");
    ok(strcmp(special("0x7f000001"), "loopback") == 0, "0x7f000001 is loopback");
    ok(strcmp(special("017700000001"), "loopback") == 0, "017700000001 is loopback");
    ok(strcmp(special("0x7f.0.0.1"), "loopback") == 0, "0x7f.0.0.1 is loopback");
    ok(strcmp(special("127.0.0.1."), "loopback") == 0, "127.0.0.1. is loopback");
    ok(strcmp(special("0"), "this network") == 0, "0 is this network");
    ok(strcmp(special("10.65535"), "private") == 0, "10.65535 (a.b form) is private");
    ok(rp_addr_parse("1.2.3.4.5", 9, &a) != 0, "five parts: a name");
    ok(rp_addr_parse("256.1.1.1", 9, &a) != 0, "a part over 255: a name");
    ok(rp_addr_parse("1.2.3.256", 9, &a) != 0, "the last of four parts over 255: a name");
    ok(rp_addr_parse("1.2.256", 7, &a) == 0 && a.b[2] == 1 && a.b[3] == 0,
       "the last of three parts fills 16 bits: 1.2.256 is 1.2.1.0");
    ok(rp_addr_parse("08.1.1.1", 8, &a) != 0, "08: not octal, a name");
    ok(rp_addr_parse("github.com", 10, &a) != 0, "a name is not an address");
    ok(rp_addr_parse("", 0, &a) != 0, "empty");
    ok(rp_addr_parse("1..2", 4, &a) != 0, "an empty part");
    ok(rp_addr_parse("[::1", 4, &a) != 0, "a bracket unclosed");
    ok(rp_addr_parse("99999999999999999999", 20, &a) != 0, "too big");

    ok(never("127.0.0.1") && never("::1") && never("169.254.169.254")
       && never("0.0.0.0") && never("224.0.0.1") && never("fe80::1")
       && never("::ffff:10.0.0.1"), "loopback, link-local, ... are never hosts");
    ok(!never("10.0.0.1") && !never("192.168.1.1") && !never("100.64.0.1")
       && !never("198.18.0.1") && !never("fd00::1") && !never("8.8.8.8"),
       "private and shared ranges are the operator's to allow");

    /* ranges */
    ok(in("127.0.0.0/8", "127.9.9.9"), "127.9.9.9 in 127.0.0.0/8");
    ok(!in("127.0.0.0/8", "128.0.0.1"), "128.0.0.1 not in 127.0.0.0/8");
    ok(in("127.0.0.0/8", "::ffff:127.0.0.1"), "a mapped address matches an IPv4 range");
    ok(!in("127.0.0.0/8", "::1"), "::1 is not in an IPv4 range");
    ok(in("10.1.2.3", "10.1.2.3") && !in("10.1.2.3", "10.1.2.4"), "a host range");
    ok(in("fd00::/8", "fd12::1") && !in("fd00::/8", "fc00::1"), "IPv6 ranges");
    ok(in("0.0.0.0/0", "1.2.3.4"), "/0 matches everything of its family");
    ok(in("172.16.0.0/12", "172.31.0.1") && !in("172.16.0.0/12", "172.32.0.1"),
       "a prefix not on a byte");
    ok(rp_cidr_parse("10.0.0.0/33", &c) != 0, "/33 refused");
    ok(rp_cidr_parse("10.0.0.0/", &c) != 0, "an empty length refused");
    ok(rp_cidr_parse("10.0.0.0/8x", &c) != 0, "garbage after the length refused");
    ok(rp_cidr_parse("127.1/8", &c) != 0, "a range is written in full");
    ok(rp_cidr_parse("::/129", &c) != 0, "/129 refused");
    ok(rp_cidr_parse("", &c) != 0, "empty refused");

    rp_addr_parse("::ffff:127.0.0.1", 16, &a);
    rp_addr_format(&a, buf, sizeof(buf));
    ok(strcmp(buf, "::ffff:127.0.0.1") == 0, "formatted back (%s)", buf);

    /* URLs: scheme, host and port as libgit2 reads them */
    ok(host_is("https://github.com/o/r.git", "github.com", 0), "https host");
    ok(host_is("git://127.0.0.1:9419/secret.git", "127.0.0.1", 9419), "git host and port");
    ok(host_is("HTTP://[::ffff:127.0.0.1]:80/x", "::ffff:127.0.0.1", 80),
       "a bracketed IPv6 host, the scheme in capitals");
    ok(host_is("ssh://example.com/x", "example.com", 0), "ssh");
    ok(host_is("https://example.com", "example.com", 0), "no path");
    ok(host_is("https://example.com?x", "example.com", 0), "a query right after the host");
    ok(rp_repo_url_parse("/srv/r", 6, &u, &reason) == 0 && u.scheme == RP_REPO_LOCAL
       && u.host == NULL, "a local path has no host");
    ok(rp_repo_url_parse("file:///srv/r", 13, &u, &reason) == 0
       && u.scheme == RP_REPO_FILE && strcmp(u.path, "/srv/r") == 0, "file:///path");
    ok(rp_repo_url_parse("file://localhost/srv/r", 22, &u, &reason) == 0
       && strcmp(u.path, "/srv/r") == 0, "file://localhost/path");
    ok(rp_repo_url_parse("file://evil/srv/r", 17, &u, &reason) != 0,
       "file://another-host refused");
    ok(rp_repo_url_parse("gopher://x/y", 12, &u, &reason) == 0
       && u.scheme == RP_REPO_OTHER, "an unknown scheme is told apart");

    ok(refused("git://127.0.0.1:9419/secret.git"), "git://127.0.0.1 refused at once");
    ok(refused("http://localhost:8080/x.git"), "localhost refused");
    ok(refused("http://LOCALHOST./x.git"), "LOCALHOST. refused");
    ok(refused("https://a.replicas.localhost/x"), "a name under localhost refused");
    ok(refused("http://[::1]/x"), "[::1] refused");
    ok(refused("http://[::ffff:127.0.0.1]/x"), "a mapped loopback refused");
    ok(refused("http://[::ffff:7f00:1]/x"), "the same in hex refused");
    ok(refused("http://2130706433/x"), "a decimal loopback refused");
    ok(refused("http://0x7f.1/x"), "a hex loopback refused");
    ok(refused("http://169.254.169.254/latest/meta-data"), "cloud metadata refused");
    ok(refused("http://0.0.0.0:9419/x"), "0.0.0.0 refused");
    ok(refused("https://h%2e/x") && refused("https://a\\@b/x") && refused("https://a b/x"),
       "a host with %%, \\ or a space refused");
    ok(refused("https://u@github.com/x"), "userinfo refused");
    ok(refused("https://github.com:0/x") && refused("https://github.com:65536/x")
       && refused("https://github.com:1:2/x") && refused("https://github.com:/x")
       && refused("https://github.com:8a/x"), "bad ports refused");
    ok(refused("https:///x"), "no host refused");
    ok(refused("http://[fe80::1%25eth0]/x"), "a zone in brackets refused");
    ok(!refused("https://github.com/o/r.git"), "github.com goes on to control");
    ok(!refused("git://10.0.0.5/r.git"), "a private address is the operator's call (control)");
    ok(!refused("https://localhost.example.com/r"), "localhost.example.com is a name like others");
    ok(!refused("/srv/repos/org/app"), "a local path goes on to control");
    ok(!refused("git@github.com:o/r.git"), "scp-like: control refuses it as a path");

    return done_testing();
}
