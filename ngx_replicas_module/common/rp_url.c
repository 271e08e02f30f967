/* Repository URLs: see rp_url.h. */

#include <string.h>

#include "rp_url.h"


int
rp_url_has_userinfo(const char *s, size_t len)
{
    size_t  i;

    /* the authority starts after the first "://" */
    for (i = 0; i + 2 < len; i++) {
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            break;
        }

        if (s[i] == '/') {
            return 0;              /* a path: no authority */
        }
    }

    if (i + 2 >= len) {
        return 0;
    }

    /* and ends at the path, query or fragment */
    for (i += 3; i < len; i++) {
        if (s[i] == '/' || s[i] == '?' || s[i] == '#') {
            return 0;
        }

        if (s[i] == '@') {
            return 1;
        }
    }

    return 0;
}


void
rp_url_strip_userinfo(char *msg)
{
    char  *scheme, *at;

    scheme = strstr(msg, "://");

    if (scheme == NULL) {
        return;
    }

    at = strchr(scheme + 3, '@');

    /* an @ before the path: the authority's userinfo */
    if (at && !memchr(scheme + 3, '/', at - scheme - 3)) {
        memmove(scheme + 3, at + 1, strlen(at + 1) + 1);
    }
}
