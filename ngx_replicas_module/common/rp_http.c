/*
 * Cookies and query strings from untrusted requests (see rp_http.h).
 * The Cookie grammar browsers send is "name=value" pairs joined by ";"
 * and optional spaces; anything else is skipped, never trusted.
 */

#include <string.h>

#include "rp_http.h"


static int
rp_is_space(char c)
{
    return c == ' ' || c == '\t';
}


/*
 * Iterates over ";"-separated pairs: on return name and value describe the
 * pair at *pos (trimmed), *pos moves past it.  0 when none is left.
 */
static int
rp_cookie_next(const char *h, size_t len, size_t *pos, const char **pair,
    size_t *pair_len, const char **name, size_t *name_len,
    const char **value, size_t *value_len)
{
    size_t  i, start, end, eq;

    while (*pos < len) {
        i = *pos;

        while (i < len && (rp_is_space(h[i]) || h[i] == ';')) {
            i++;
        }

        start = i;

        while (i < len && h[i] != ';') {
            i++;
        }

        end = i;
        *pos = i;

        while (end > start && rp_is_space(h[end - 1])) {
            end--;
        }

        if (end == start) {
            continue;
        }

        *pair = h + start;
        *pair_len = end - start;

        for (eq = start; eq < end && h[eq] != '='; eq++) { /* void */ }

        *name = h + start;
        *name_len = eq - start;

        while (*name_len && rp_is_space((*name)[*name_len - 1])) {
            (*name_len)--;
        }

        if (eq < end) {
            eq++;
            while (eq < end && rp_is_space(h[eq])) {
                eq++;
            }
        }

        *value = h + eq;
        *value_len = end - eq;

        return 1;
    }

    return 0;
}


int
rp_cookie_get(const char *header, size_t len, const char *name,
    const char **value, size_t *value_len)
{
    size_t       pos, pair_len, n_len, v_len, want;
    const char  *pair, *n, *v;

    want = strlen(name);
    pos = 0;

    while (rp_cookie_next(header, len, &pos, &pair, &pair_len, &n, &n_len,
                          &v, &v_len))
    {
        if (n_len == want && memcmp(n, name, want) == 0) {
            *value = v;
            *value_len = v_len;
            return 1;
        }
    }

    return 0;
}


int
rp_cookie_find(const char *header, size_t len, size_t *pos, const char *name,
    const char **value, size_t *value_len)
{
    size_t       pair_len, n_len, v_len, want;
    const char  *pair, *n, *v;

    want = strlen(name);

    while (rp_cookie_next(header, len, pos, &pair, &pair_len, &n, &n_len,
                          &v, &v_len))
    {
        if (n_len == want && memcmp(n, name, want) == 0) {
            *value = v;
            *value_len = v_len;
            return 1;
        }
    }

    return 0;
}


int
rp_set_cookie_is_own(const char *value, size_t len)
{
    size_t  i, j;

    static const size_t  plen = sizeof(RP_COOKIE_OWN_PREFIX) - 1;

    for (i = 0; i < len && rp_is_space(value[i]); i++) { /* void */ }

    if (len - i < plen) {
        return 0;
    }

    /* ASCII case folding; "_" folds to itself on both sides */
    for (j = 0; j < plen; j++) {
        if ((value[i + j] | 0x20) != (RP_COOKIE_OWN_PREFIX[j] | 0x20)) {
            return 0;
        }
    }

    return 1;
}


int
rp_header_value_ok(const char *value, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (((unsigned char) value[i] < 0x20 && value[i] != '\t')
            || value[i] == 0x7f)
        {
            return 0;
        }
    }

    return 1;
}


size_t
rp_cookie_strip_own(const char *header, size_t len, char *out)
{
    size_t       pos, pair_len, n_len, v_len, o;
    const char  *pair, *n, *v;

    static const size_t  plen = sizeof(RP_COOKIE_OWN_PREFIX) - 1;

    pos = 0;
    o = 0;

    while (rp_cookie_next(header, len, &pos, &pair, &pair_len, &n, &n_len,
                          &v, &v_len))
    {
        if (n_len >= plen && memcmp(n, RP_COOKIE_OWN_PREFIX, plen) == 0) {
            continue;
        }

        if (o) {
            out[o++] = ';';
            out[o++] = ' ';
        }

        memcpy(out + o, pair, pair_len);
        o += pair_len;
    }

    return o;
}


/* Iterates over "&"-separated parameters of a query string. */
static int
rp_query_next(const char *a, size_t len, size_t *pos, size_t *start,
    size_t *end, size_t *name_end)
{
    size_t  i;

    while (*pos < len) {
        i = *pos;
        *start = i;

        while (i < len && a[i] != '&') {
            i++;
        }

        *end = i;
        *pos = i < len ? i + 1 : i;

        if (*end == *start) {
            continue;
        }

        for (i = *start; i < *end && a[i] != '='; i++) { /* void */ }
        *name_end = i;

        return 1;
    }

    return 0;
}


int
rp_query_get(const char *args, size_t len, const char *name,
    const char **value, size_t *value_len)
{
    size_t  pos, start, end, name_end, want;

    want = strlen(name);
    pos = 0;

    while (rp_query_next(args, len, &pos, &start, &end, &name_end)) {
        if (name_end - start == want
            && memcmp(args + start, name, want) == 0)
        {
            *value = args + (name_end < end ? name_end + 1 : end);
            *value_len = end - (name_end < end ? name_end + 1 : end);
            return 1;
        }
    }

    return 0;
}


size_t
rp_query_strip(const char *args, size_t len, const char *name, char *out)
{
    size_t  pos, start, end, name_end, want, o;

    want = strlen(name);
    pos = 0;
    o = 0;

    while (rp_query_next(args, len, &pos, &start, &end, &name_end)) {
        if (name_end - start == want
            && memcmp(args + start, name, want) == 0)
        {
            continue;
        }

        if (o) {
            out[o++] = '&';
        }

        memcpy(out + o, args + start, end - start);
        o += end - start;
    }

    return o;
}


static int
rp_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


size_t
rp_url_decode(const char *in, size_t len, char *out, int form)
{
    int     hi, lo;
    size_t  i, o;

    for (i = 0, o = 0; i < len; i++) {
        if (in[i] == '%') {
            if (i + 2 >= len) {
                return (size_t) -1;
            }

            hi = rp_hex(in[i + 1]);
            lo = rp_hex(in[i + 2]);

            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return (size_t) -1;
            }

            out[o++] = (char) (hi << 4 | lo);
            i += 2;

        } else if (in[i] == '+' && form) {
            out[o++] = ' ';

        } else if (in[i] == '\0') {
            return (size_t) -1;

        } else {
            out[o++] = in[i];
        }
    }

    return o;
}


size_t
rp_url_encode(const char *in, size_t len, char *out)
{
    size_t               i, o;
    unsigned char        c;

    static const char  hex[] = "0123456789ABCDEF";

    for (i = 0, o = 0; i < len; i++) {
        c = (unsigned char) in[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            out[o++] = (char) c;

        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xf];
        }
    }

    return o;
}
