/*
 * libFuzzer target: credentials in repository URLs (common/rp_url.c),
 * which the API checks on every create.  Any bytes: no crash, no read
 * past len, and the answer is 0 or 1.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rp_url.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char  *copy;
    int    rc;

    /* an exact-size heap copy: ASan sees any read past the end */
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);
    rc = rp_url_has_userinfo(copy, size);
    free(copy);

    if (rc != 0 && rc != 1) {
        abort();
    }

    return 0;
}
