/* Repository hosts' addresses: see rp_addr.h. */

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_addr.h"


typedef struct {
    const char  *cidr;
    const char  *name;
    int          never;     /* no --allow-repo-range makes it a git host */
} rp_addr_range_t;


/* RFC 6890 and its updates (RFC 8190, 6598, 7723, 8155...), the most
 * specific first where ranges nest */
static const rp_addr_range_t  rp_addr_ranges[] = {
    { "0.0.0.0/8",        "this network",         1 },
    { "10.0.0.0/8",       "private",              0 },
    { "100.64.0.0/10",    "shared (CGNAT)",       0 },
    { "127.0.0.0/8",      "loopback",             1 },
    { "169.254.0.0/16",   "link-local",           1 },
    { "172.16.0.0/12",    "private",              0 },
    { "192.0.0.0/24",     "IETF protocol",        0 },
    { "192.0.2.0/24",     "documentation",        0 },
    { "192.88.99.0/24",   "6to4 relay",           0 },
    { "192.168.0.0/16",   "private",              0 },
    { "198.18.0.0/15",    "benchmarking",         0 },
    { "198.51.100.0/24",  "documentation",        0 },
    { "203.0.113.0/24",   "documentation",        0 },
    { "224.0.0.0/4",      "multicast",            1 },
    { "240.0.0.0/4",      "reserved",             1 },

    { "::/128",           "unspecified",          1 },
    { "::1/128",          "loopback",             1 },
    { "::ffff:0:0/96",    "IPv4-mapped",          1 },
    { "::/96",            "IPv4-compatible",      1 },
    { "64:ff9b::/96",     "NAT64",                1 },
    { "64:ff9b:1::/48",   "NAT64 (local)",        1 },
    { "100::/64",         "discard",              0 },
    { "2001::/32",        "Teredo",               1 },
    { "2001::/23",        "IETF protocol",        0 },
    { "2001:db8::/32",    "documentation",        0 },
    { "2002::/16",        "6to4",                 1 },
    { "3fff::/20",        "documentation",        0 },
    { "5f00::/16",        "segment routing",      0 },
    { "fc00::/7",         "unique local",         0 },
    { "fe80::/10",        "link-local",           1 },
    { "fec0::/10",        "site-local",           0 },
    { "ff00::/8",         "multicast",            1 },
    { NULL, NULL, 0 }
};


/* one part of a numeric IPv4 address as inet_aton reads it */
static int
rp_addr_part(const char *s, size_t len, unsigned long long *v)
{
    size_t    i;
    unsigned  base, d;

    if (len == 0) {
        return -1;
    }

    base = 10;
    i = 0;

    if (len > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;

        if (len == 2) {
            return -1;     /* glibc takes "0x" as 0; refusing is safer */
        }

    } else if (len > 1 && s[0] == '0') {
        base = 8;
        i = 1;
    }

    *v = 0;

    for ( /* void */ ; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            d = s[i] - '0';
        } else if (s[i] >= 'a' && s[i] <= 'f') {
            d = s[i] - 'a' + 10;
        } else if (s[i] >= 'A' && s[i] <= 'F') {
            d = s[i] - 'A' + 10;
        } else {
            return -1;
        }

        if (d >= base) {
            return -1;
        }

        *v = *v * base + d;

        if (*v > 0xffffffffULL) {
            return -1;
        }
    }

    return 0;
}


static int
rp_addr_parse4(const char *s, size_t len, rp_addr_t *a)
{
    size_t              i, start, n;
    unsigned long long  part[4], v, max;

    n = 0;
    start = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            continue;
        }

        if (n == 4 || rp_addr_part(s + start, i - start, &part[n]) != 0) {
            return -1;
        }

        n++;
        start = i + 1;
    }

    /* a.b.c.d, a.b.c (c: 16 bits), a.b (b: 24 bits), a (32 bits) */
    for (i = 0; i + 1 < n; i++) {
        if (part[i] > 255) {
            return -1;
        }
    }

    max = 0xffffffffULL >> (8 * (n - 1));

    if (part[n - 1] > max) {
        return -1;
    }

    v = part[n - 1];

    for (i = 0; i + 1 < n; i++) {
        v |= part[i] << (8 * (3 - i));
    }

    a->family = 4;
    memset(a->b, 0, sizeof(a->b));
    a->b[0] = (v >> 24) & 0xff;
    a->b[1] = (v >> 16) & 0xff;
    a->b[2] = (v >> 8) & 0xff;
    a->b[3] = v & 0xff;

    return 0;
}


int
rp_addr_parse(const char *s, size_t len, rp_addr_t *a)
{
    char         buf[64];
    const char  *pct;

    if (len > 0 && s[0] == '[') {
        if (len < 3 || s[len - 1] != ']') {
            return -1;
        }

        s++;
        len -= 2;
    }

    /* a zone ("fe80::1%eth0") does not change which range it is in */
    pct = memchr(s, '%', len);
    if (pct && memchr(s, ':', len)) {
        len = pct - s;
    }

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }

    memcpy(buf, s, len);
    buf[len] = '\0';

    if (memchr(buf, ':', len)) {
        if (inet_pton(AF_INET6, buf, a->b) != 1) {
            return -1;
        }

        a->family = 6;
        return 0;
    }

    /* "127.0.0.1." is a name to getaddrinfo, but one that may well be
     * answered with 127.0.0.1: count it as the address */
    if (buf[len - 1] == '.') {
        len--;
    }

    return rp_addr_parse4(buf, len, a);
}


int
rp_cidr_parse(const char *s, rp_cidr_t *c)
{
    char          buf[64], *slash, *end;
    unsigned long bits;
    size_t        len;

    len = strlen(s);

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }

    memcpy(buf, s, len + 1);
    slash = strchr(buf, '/');

    if (slash) {
        *slash = '\0';
    }

    /* the plain dotted form only: a range is the operator's, not a trick */
    if (strchr(buf, ':')) {
        if (inet_pton(AF_INET6, buf, c->addr.b) != 1) {
            return -1;
        }

        c->addr.family = 6;

    } else {
        memset(c->addr.b, 0, sizeof(c->addr.b));

        if (inet_pton(AF_INET, buf, c->addr.b) != 1) {
            return -1;
        }

        c->addr.family = 4;
    }

    if (slash == NULL) {
        c->bits = c->addr.family == 4 ? 32 : 128;
        return 0;
    }

    if (slash[1] < '0' || slash[1] > '9') {
        return -1;
    }

    bits = strtoul(slash + 1, &end, 10);

    if (*end != '\0' || bits > (c->addr.family == 4 ? 32u : 128u)) {
        return -1;
    }

    c->bits = bits;

    return 0;
}


static int
rp_addr_prefix(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned  i;
    uint8_t   mask;

    for (i = 0; i < bits / 8; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }

    if (bits % 8) {
        mask = (uint8_t) (0xff << (8 - bits % 8));
        return (a[i] & mask) == (b[i] & mask);
    }

    return 1;
}


int
rp_cidr_match(const rp_cidr_t *c, const rp_addr_t *a)
{
    static const uint8_t  mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                         0xff, 0xff };

    if (c->addr.family == a->family) {
        return rp_addr_prefix(c->addr.b, a->b, c->bits);
    }

    /* ::ffff:127.0.0.1 is 127.0.0.1 on the wire */
    if (c->addr.family == 4 && a->family == 6
        && memcmp(a->b, mapped, sizeof(mapped)) == 0)
    {
        return rp_addr_prefix(c->addr.b, a->b + 12, c->bits);
    }

    return 0;
}


static const rp_addr_range_t *
rp_addr_range(const rp_addr_t *a)
{
    rp_cidr_t               c;
    const rp_addr_range_t  *r;

    for (r = rp_addr_ranges; r->cidr; r++) {
        if (rp_cidr_parse(r->cidr, &c) == 0 && c.addr.family == a->family
            && rp_addr_prefix(c.addr.b, a->b, c.bits))
        {
            return r;
        }
    }

    return NULL;
}


const char *
rp_addr_special(const rp_addr_t *a)
{
    const rp_addr_range_t  *r;

    r = rp_addr_range(a);

    return r ? r->name : NULL;
}


int
rp_addr_never(const rp_addr_t *a)
{
    const rp_addr_range_t  *r;

    r = rp_addr_range(a);

    return r ? r->never : 0;
}


void
rp_addr_format(const rp_addr_t *a, char *buf, size_t len)
{
    if (inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->b, buf, len)
        == NULL && len)
    {
        buf[0] = '\0';
    }
}
