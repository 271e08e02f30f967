/*
 * libFuzzer target: repository URLs as the API refuses them and control
 * resolves them (common/rp_url.c rp_repo_url_parse, rp_repo_url_refused;
 * common/rp_addr.c rp_addr_parse).  Any bytes: no crash, no read past
 * len, a host inside the input, and a parsed host that is an address is
 * classified without fault.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rp_addr.h"
#include "common/rp_url.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char           *copy, err[256];
    rp_addr_t       a;
    const char     *reason;
    rp_repo_url_t   u;

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);

    if (rp_repo_url_parse(copy, size, &u, &reason) == 0) {
        if (u.host && (u.host < copy || u.host + u.host_len > copy + size)) {
            abort();
        }

        if (u.host && rp_addr_parse(u.host, u.host_len, &a) == 0) {
            (void) rp_addr_special(&a);
        }

    } else if (reason == NULL) {
        abort();
    }

    (void) rp_repo_url_refused(copy, size, err, sizeof(err));
    (void) rp_addr_parse(copy, size, &a);

    free(copy);

    return 0;
}
