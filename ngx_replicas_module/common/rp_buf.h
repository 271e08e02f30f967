/*
 * A growing buffer for an HTTP answer, filled by libcurl (control's calls
 * to engines, the engine's to the platform, the `replicas` command's to
 * the engine): bounded, so a peer cannot make us hold more than max.
 */

#ifndef RP_BUF_H
#define RP_BUF_H

#include <stddef.h>


typedef struct {
    char    *data;      /* NUL-terminated, NULL while empty; free() it */
    size_t   len;
    size_t   max;       /* past it the append fails (libcurl aborts) */
} rp_buf_t;


/* a CURLOPT_WRITEFUNCTION with the rp_buf_t as its CURLOPT_WRITEDATA */
size_t rp_buf_append(char *ptr, size_t size, size_t nmemb, void *userdata);

#endif /* RP_BUF_H */
