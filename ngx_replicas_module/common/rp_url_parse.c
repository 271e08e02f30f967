/* Absolute http(s) URLs from outside: see rp_url_parse.h. */

#include <string.h>
#include <strings.h>

#include "rp_url_parse.h"


int
rp_url_chars_ok(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x21 || (unsigned char) s[i] > 0x7e) {
            return 0;
        }
    }

    return 1;
}


static int
rp_url_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.';
}


int
rp_url_parse(const char *s, size_t len, rp_url_t *u)
{
    size_t  i, start;

    memset(u, 0, sizeof(rp_url_t));

    /* one look at every byte first: what is refused anywhere */
    if (!rp_url_chars_ok(s, len)
        || memchr(s, '\\', len) != NULL || memchr(s, '#', len) != NULL)
    {
        return -1;
    }

    if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
        u->https = 1;
        i = 8;

    } else if (len >= 7 && strncasecmp(s, "http://", 7) == 0) {
        i = 7;

    } else {
        return -1;
    }

    /* the host: up to ":", "/", "?" or the end; any other byte (such as
     * "@", the end of a userinfo) refuses the whole URL */
    start = i;

    while (i < len && rp_url_host_char(s[i])) {
        i++;
    }

    u->host = s + start;
    u->host_len = i - start;

    if (u->host_len == 0 || u->host_len > RP_URL_HOST_MAX
        || s[start] == '.' || s[start] == '-')
    {
        return -1;
    }

    if (i < len && s[i] == ':') {
        i++;
        start = i;

        while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 6) {
            u->port = u->port * 10 + (s[i] - '0');
            i++;
        }

        if (i == start || s[start] == '0' || u->port > 65535) {
            return -1;
        }
    }

    if (i < len && s[i] != '/' && s[i] != '?') {
        return -1;          /* "@", a second ":", or anything else */
    }

    if (i < len && s[i] == '/') {
        start = i;

        while (i < len && s[i] != '?') {
            i++;
        }

        u->path = s + start;
        u->path_len = i - start;

        /* "//x" at the start of a path reads as a host to some clients */
        if (u->path_len > 1 && u->path[1] == '/') {
            return -1;
        }
    }

    if (i < len) {                          /* s[i] == '?' */
        u->has_query = 1;
        u->query = s + i + 1;
        u->query_len = len - i - 1;
    }

    return 0;
}
