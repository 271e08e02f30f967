/*
 * libFuzzer target: the bodies of POST /git/update and POST
 * /git/pull-request (engine/re_git_request.c).  Any bytes, both kinds:
 * no crash, and what is accepted holds only checked values.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "re_git_request.h"


static void
one(const char *buf, size_t len, int pr)
{
    const char     *msg;
    re_git_body_t   b;

    msg = re_git_parse(buf, len, pr, &b);

    if (msg == NULL) {
        if ((b.base && !re_git_branch_ok(b.base))
            || (b.title && (b.title[0] == '\0' || strlen(b.title) > 256
                            || strchr(b.title, '\n')))
            || (b.body && strlen(b.body) > 65536)
            || (!pr && (b.title || b.body || b.draft))
            || (pr && b.merge))
        {
            abort();
        }
    }

    json_decref(b.root);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char  *copy;

    /* an exact-size heap copy: ASan sees any read past the end */
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);
    one(copy, size, 0);
    one(copy, size, 1);
    free(copy);

    return 0;
}
