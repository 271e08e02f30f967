/*
 * Repository URLs as the API takes them and control clones them.  A URL
 * with credentials in it (https://user:token@host/...) is refused by both:
 * it would be stored, shown back by the API and written into logs and
 * .git/config.  Tokens belong in an environment (REPLICAS_GIT_TOKEN),
 * sealed.
 */

#ifndef RP_URL_H
#define RP_URL_H

#include <stddef.h>


/* 1 if s (len bytes) is scheme://...@host...: credentials before the host */
int rp_url_has_userinfo(const char *s, size_t len);

/* a message (NUL-terminated, changed in place) without the "user:secret@"
 * of the first URL in it: libgit2's errors quote the URL they failed on */
void rp_url_strip_userinfo(char *msg);

#endif /* RP_URL_H */
