/*
 * Small HTTP pieces the gateway reads from untrusted requests: cookies
 * and query strings.  Pure C on (pointer, length) input, no allocation,
 * so the same code is unit-tested and fuzzed outside nginx.
 */

#ifndef RP_HTTP_H
#define RP_HTTP_H

#include <stddef.h>

/* Every cookie whose name starts with this is the platform's own. */
#define RP_COOKIE_OWN_PREFIX   "replicas_"

#define RP_COOKIE_SESSION      "replicas_session"
#define RP_COOKIE_PREVIEW      "replicas_preview"
#define RP_COOKIE_NEXT         "replicas_next"

/* query parameters the gateway consumes and never forwards */
#define RP_ARG_TOKEN           "replicas_token"
#define RP_ARG_SHARE           "replicas_share"
#define RP_ARG_TICKET          "replicas_ticket"

/*
 * Finds cookie "name" in a Cookie header value ("a=1; b=2").  On success
 * returns 1 and points *value at it (not unquoted, not decoded).  The
 * first occurrence wins, as in browsers' ordering of the most specific.
 */
int rp_cookie_get(const char *header, size_t len, const char *name,
    const char **value, size_t *value_len);

/*
 * Like rp_cookie_get, from *pos on (0 at first), which moves past the
 * value found: called again, it finds the next cookie of that name.  A
 * request may carry several (one planted for a parent domain, say).
 */
int rp_cookie_find(const char *header, size_t len, size_t *pos,
    const char *name, const char **value, size_t *value_len);

/* the most cookies of one name the gateway tries before giving up */
#define RP_COOKIE_TRIES        8

/*
 * 1 if a Set-Cookie value sets one of the platform's cookies (its name,
 * before "=", starts with RP_COOKIE_OWN_PREFIX, in any case): a
 * workspace's app must never set those.
 */
int rp_set_cookie_is_own(const char *value, size_t len);

/*
 * 1 if a response header value may be sent: no CR, LF, NUL or other
 * control character (a tab is fine), nothing that could end the header.
 */
int rp_header_value_ok(const char *value, size_t len);

/*
 * Copies header into out (at least 2 * len bytes) without the cookies whose
 * names start with RP_COOKIE_OWN_PREFIX; returns the new length (0 when
 * nothing is left).  Pairs are re-joined with "; ".
 */
size_t rp_cookie_strip_own(const char *header, size_t len, char *out);

/*
 * Finds query parameter "name" in args (the part after '?', raw).  On
 * success returns 1, points *value at the raw value.
 */
int rp_query_get(const char *args, size_t len, const char *name,
    const char **value, size_t *value_len);

/*
 * Copies args into out (at least len bytes) without any parameter named
 * "name"; returns the new length.
 */
size_t rp_query_strip(const char *args, size_t len, const char *name,
    char *out);

/*
 * Percent-decodes in into out (at least len bytes), '+' as a space when
 * form is set.  Returns the decoded length, or (size_t) -1 on a bad
 * escape or a decoded NUL.
 */
size_t rp_url_decode(const char *in, size_t len, char *out, int form);

/* Percent-encodes everything but unreserved characters; out needs 3*len. */
size_t rp_url_encode(const char *in, size_t len, char *out);

#endif /* RP_HTTP_H */
