/*
 * One parser for absolute http(s) URLs that come from outside and lead
 * somewhere: the "to" of /auth/preview, whose host gets a login ticket.
 *
 *   scheme "://" host [ ":" port ] [ path ] [ "?" query ]
 *
 * Strict on purpose, so that what the parser calls the host is the host
 * a browser goes to: no userinfo ("user:pass@"), no backslashes (browsers
 * read "\" as "/"), no fragment, no control characters, spaces or bytes
 * above 0x7e anywhere, a host of letters, digits, "-" and "." only (no IP
 * literals in brackets), a port of 1-65535 without leading zeros.  Whoever
 * writes a URL back builds it from these parts, never from the raw text.
 * Pure C, no allocation: unit-tested and fuzzed.
 */

#ifndef RP_URL_PARSE_H
#define RP_URL_PARSE_H

#include <stddef.h>


#define RP_URL_HOST_MAX  253


typedef struct {
    unsigned     https;          /* 1: https, 0: http */
    const char  *host;           /* into the input, not lowercased */
    size_t       host_len;
    unsigned     port;           /* 0: none given */
    const char  *path;           /* "/..." or empty (none given) */
    size_t       path_len;
    const char  *query;          /* after "?", may be empty */
    size_t       query_len;
    unsigned     has_query;
} rp_url_t;


/* 0 and "u" filled, or -1: not a URL this parser accepts */
int rp_url_parse(const char *s, size_t len, rp_url_t *u);

/* 1 if every byte is visible ASCII (0x21-0x7e): no CR, LF, NUL, space */
int rp_url_chars_ok(const char *s, size_t len);

#endif /* RP_URL_PARSE_H */
