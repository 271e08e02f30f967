/*
 * libFuzzer target for the preview host grammar: any bytes as a Host
 * header.  Checks, beyond memory safety, that what the parser accepts is
 * exactly the grammar: a valid port and id, and a canonical re-print of
 * the host parses back to the same result.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "common/rp_host.h"


#define D  "replicas.localhost"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char               buf[128];
    int                n;
    rp_host_kind_e     kind;
    rp_preview_host_t  out, again;

    kind = rp_host_parse((const char *) data, size, D, sizeof(D) - 1, &out);

    if (kind != RP_HOST_PREVIEW) {
        return 0;
    }

    if (out.port < 1 || out.port > 65535
        || !rp_ws_id_valid(out.id, out.id_len)
        || strlen(out.id) != out.id_len)
    {
        abort();
    }

    n = snprintf(buf, sizeof(buf), "%u-%s." D, out.port, out.id);

    if (n <= 0 || (size_t) n >= sizeof(buf)
        || rp_host_parse(buf, (size_t) n, D, sizeof(D) - 1, &again)
           != RP_HOST_PREVIEW
        || again.port != out.port || strcmp(again.id, out.id) != 0)
    {
        abort();
    }

    return 0;
}
