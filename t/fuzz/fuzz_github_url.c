/*
 * libFuzzer target: GitHub repositories from a remote's URL
 * (engine/re_github.c), read from .git/config, which the agent can
 * write.  Any bytes: no crash, no read past the string, and either a
 * refusal with nothing filled or a host, owner and repository of the
 * characters GitHub allows.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "re_github.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char              *copy, api[300];
    re_github_repo_t   r;

    copy = malloc(size + 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);
    copy[size] = '\0';

    if (re_github_parse_url(copy, &r) == 0) {
        if (r.host[0] == '\0' || r.owner[0] == '\0' || r.repo[0] == '\0'
            || strspn(r.owner, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                               "TUVWXYZ0123456789-_") != strlen(r.owner)
            || strchr(r.repo, '/') || strchr(r.host, '/')
            || strchr(r.host, '@'))
        {
            abort();
        }

        (void) re_github_api_base(&r, NULL, api, sizeof(api));
    }

    free(copy);

    return 0;
}
