/*
 * libFuzzer target: what control's pull request poller reads from outside
 * (control/rc_pulls_parse.c): a pull request's URL, GitHub's answer, a
 * time, the rate limit's headers.  Any bytes: no crash, no read past len,
 * names within their bounds, a wait never more than an hour ahead.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rc_pulls.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char             *copy, *h[3];
    size_t            i, n;
    long long         at, until;
    rc_pull_ref_t     ref;
    rc_pull_state_e   st;

    copy = malloc(size + 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);
    copy[size] = '\0';

    if (rc_pulls_url(copy, size, &ref) == 0
        && (strlen(ref.owner) == 0 || strlen(ref.owner) > RC_PULLS_NAME_MAX
            || strlen(ref.repo) == 0 || ref.number < 1))
    {
        abort();
    }

    (void) rc_pulls_answer(copy, size, &st, &at);
    (void) rc_pulls_time(copy, size);

    /* three headers, split at newlines (the rest of the input) */
    h[0] = copy;
    for (i = 1, n = 0; i < 3; i++) {
        while (n < size && copy[n] != '\n') {
            n++;
        }
        if (n < size) {
            copy[n++] = '\0';
        }
        h[i] = copy + n;
    }

    until = rc_pulls_backoff(size ? data[0] + 200 : 429, h[0], h[1], h[2],
                             1000000);
    if (until != 0 && (until <= 1000000 || until > 1000000 + 3600)) {
        abort();
    }

    free(copy);

    return 0;
}
