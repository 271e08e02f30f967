/*
 * Preview host grammar, shared by the gateway, control and the tests.
 *
 *   <port>-<workspaceId>.<domain>
 *
 * port: 1..65535, decimal, no leading zeros; workspaceId: [a-z0-9]+;
 * matching is case-insensitive.  Pure C, no allocation, no nginx types,
 * so the same code is unit-tested and fuzzed outside nginx.
 */

#ifndef RP_HOST_H
#define RP_HOST_H

#include <stddef.h>


/* A DNS label is at most 63 bytes: "<port>-<id>" must fit in one. */
#define RP_HOST_LABEL_MAX  63
#define RP_WS_ID_MAX       (RP_HOST_LABEL_MAX - 2)

/* ports every workspace has; both always need authentication */
#define RP_PORT_ENGINE     3737
#define RP_PORT_DESKTOP    6080


typedef enum {
    RP_HOST_PREVIEW = 0,     /* a well-formed preview host */
    RP_HOST_NOT_PREVIEW,     /* the main domain or a foreign host */
    RP_HOST_MALFORMED        /* under the domain, but not the grammar */
} rp_host_kind_e;


typedef struct {
    unsigned  port;
    size_t    id_len;
    char      id[RP_WS_ID_MAX + 1];   /* lowercased, NUL-terminated */
} rp_preview_host_t;


/*
 * Classifies "host" (a Host header value, an optional ":port" suffix and
 * one trailing dot allowed) against "domain" (lowercase, no trailing dot).
 * On RP_HOST_PREVIEW fills "out".
 */
rp_host_kind_e rp_host_parse(const char *host, size_t len,
    const char *domain, size_t domain_len, rp_preview_host_t *out);

/*
 * 1 if host (a Host header without its port) is an IP literal: dotted
 * digits, or "[...]" (IPv6).  The main site answers those only for its
 * health check: a browser never needs the API at a bare address.
 */
int rp_host_is_ip(const char *host, size_t len);

/* Checks a workspace id on its own: [a-z0-9], 1..RP_WS_ID_MAX bytes. */
int rp_ws_id_valid(const char *id, size_t len);

#endif /* RP_HOST_H */
