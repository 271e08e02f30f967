/*
 * Preview host grammar: see rp_host.h.  Everything here runs on network
 * input, so each byte is looked at once, lengths are checked before use,
 * and nothing is written past the caller's structure.
 */

#include "rp_host.h"


static char
rp_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char) (c | 0x20) : c;
}


int
rp_ws_id_valid(const char *id, size_t len)
{
    size_t  i;

    if (len == 0 || len > RP_WS_ID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9')))
        {
            return 0;
        }
    }

    return 1;
}


/* Drops ":port" and a single trailing dot, as browsers and nginx do. */
static size_t
rp_host_trim(const char *host, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (host[i] == ':') {
            len = i;
            break;
        }
    }

    if (len > 0 && host[len - 1] == '.') {
        len--;
    }

    return len;
}


static int
rp_suffix_matches(const char *host, size_t len, const char *domain,
    size_t domain_len)
{
    size_t  i, start;

    if (len < domain_len + 1) {
        return 0;
    }

    start = len - domain_len;

    if (host[start - 1] != '.') {
        return 0;
    }

    for (i = 0; i < domain_len; i++) {
        if (rp_lower(host[start + i]) != domain[i]) {
            return 0;
        }
    }

    return 1;
}


rp_host_kind_e
rp_host_parse(const char *host, size_t len, const char *domain,
    size_t domain_len, rp_preview_host_t *out)
{
    char      c;
    size_t    i, label_len, digits;
    unsigned  port;

    if (host == NULL || domain == NULL || domain_len == 0) {
        return RP_HOST_NOT_PREVIEW;
    }

    len = rp_host_trim(host, len);

    if (!rp_suffix_matches(host, len, domain, domain_len)) {
        return RP_HOST_NOT_PREVIEW;
    }

    /* the single label in front of ".<domain>" */
    label_len = len - domain_len - 1;

    if (label_len > RP_HOST_LABEL_MAX) {
        return RP_HOST_MALFORMED;
    }

    port = 0;
    digits = 0;

    for (i = 0; i < label_len; i++) {
        c = host[i];

        if (c < '0' || c > '9') {
            break;
        }

        if (digits == 0 && c == '0') {
            return RP_HOST_MALFORMED;       /* port 0 or a leading zero */
        }

        if (++digits > 5) {
            return RP_HOST_MALFORMED;
        }

        port = port * 10 + (unsigned) (c - '0');
    }

    if (digits == 0 || port > 65535 || i == label_len || host[i] != '-') {
        return RP_HOST_MALFORMED;
    }

    i++;

    if (label_len - i == 0 || label_len - i > RP_WS_ID_MAX) {
        return RP_HOST_MALFORMED;
    }

    for (out->id_len = 0; i < label_len; i++) {
        c = rp_lower(host[i]);

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            return RP_HOST_MALFORMED;
        }

        out->id[out->id_len++] = c;
    }

    out->id[out->id_len] = '\0';
    out->port = port;

    return RP_HOST_PREVIEW;
}


int
rp_host_is_ip(const char *host, size_t len)
{
    size_t  i;

    if (len == 0) {
        return 0;
    }

    if (host[0] == '[') {
        return len > 2 && host[len - 1] == ']';
    }

    for (i = 0; i < len; i++) {
        if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.')) {
            return 0;
        }
    }

    return 1;
}
