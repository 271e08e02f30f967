/*
 * libFuzzer target: the parser of absolute URLs from outside
 * (common/rp_url_parse.c), whose host gets /auth/preview's ticket.  Any
 * bytes: no crash, no read past len; an accepted URL's parts lie inside
 * the input, in order, and hold only what the parser promises (a host of
 * letters, digits, "-" and "."; visible ASCII elsewhere; no "@" or "\"
 * before the path), so a Location rebuilt from them says what was parsed.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rp_url_parse.h"
#include "common/rp_http.h"


static void
check_inside(const char *base, size_t size, const char *p, size_t len)
{
    if (len && (p < base || p + len > base + size)) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char      *copy;
    size_t     i;
    rp_url_t   u;

    /* an exact-size heap copy: ASan sees any read past the end */
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);

    if (rp_url_parse(copy, size, &u) == 0) {
        check_inside(copy, size, u.host, u.host_len);
        check_inside(copy, size, u.path, u.path_len);
        check_inside(copy, size, u.query, u.query_len);

        if (u.host_len == 0 || u.port > 65535
            || (u.path_len && (u.path[0] != '/' || u.path < u.host))
            || !rp_url_chars_ok(u.path, u.path_len)
            || !rp_url_chars_ok(u.query, u.query_len)
            || !rp_header_value_ok(copy, size))
        {
            abort();
        }

        for (i = 0; i < u.host_len; i++) {
            if (u.host[i] == '@' || u.host[i] == ':' || u.host[i] == '\\'
                || u.host[i] == '/')
            {
                abort();
            }
        }

        if (memchr(copy, '\\', size) || memchr(copy, '@', u.host - copy
                                                         + u.host_len))
        {
            abort();
        }
    }

    free(copy);

    return 0;
}
