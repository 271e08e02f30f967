/*
 * libFuzzer target for the cookie and query-string code that reads every
 * preview request.  Beyond memory safety: stripping our cookies leaves
 * none of them, stripping a parameter leaves none of it, and decoding
 * never grows.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rp_http.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char         *out, *dec;
    size_t        n, len;
    const char   *in = (const char *) data, *v;

    out = malloc(2 * size + 1);
    dec = malloc(size + 1);
    if (out == NULL || dec == NULL) {
        abort();
    }

    (void) rp_cookie_get(in, size, RP_COOKIE_PREVIEW, &v, &len);

    n = rp_cookie_strip_own(in, size, out);
    if (n > 2 * size
        || rp_cookie_get(out, n, RP_COOKIE_PREVIEW, &v, &len)
        || rp_cookie_get(out, n, RP_COOKIE_SESSION, &v, &len))
    {
        abort();
    }

    n = rp_query_strip(in, size, RP_ARG_TOKEN, out);
    if (n > size || rp_query_get(out, n, RP_ARG_TOKEN, &v, &len)) {
        abort();
    }

    if (rp_query_get(in, size, RP_ARG_TOKEN, &v, &len)
        && (v < in || v + len > in + size))
    {
        abort();
    }

    n = rp_url_decode(in, size, dec, 1);
    if (n != (size_t) -1 && (n > size || memchr(dec, '\0', n) != NULL)) {
        abort();
    }

    free(out);
    free(dec);

    return 0;
}
