/* A bounded growing buffer: see rp_buf.h. */

#include <stdlib.h>
#include <string.h>

#include "rp_buf.h"


size_t
rp_buf_append(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    char      *p;
    size_t     n;
    rp_buf_t  *buf = userdata;

    if (nmemb && size > (size_t) -1 / nmemb) {
        return 0;
    }

    n = size * nmemb;

    if (n > buf->max || buf->len > buf->max - n) {
        return 0;
    }

    p = realloc(buf->data, buf->len + n + 1);
    if (p == NULL) {
        return 0;
    }

    memcpy(p + buf->len, ptr, n);
    buf->data = p;
    buf->len += n;
    buf->data[buf->len] = '\0';

    return n;
}
