/*
 * libFuzzer target for the signed-token parser that reads cookies, query
 * tokens and share links.  Beyond memory safety: only a token this key
 * signed may verify, and what verifies re-signs to the same token.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rp_token.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char               payload[RP_TOKEN_MAX], again[RP_TOKEN_MAX];
    size_t             n;
    rp_sign_key_t      key;
    rp_token_fields_t  f;

    memset(&key, 0, sizeof(key));
    strcpy(key.kid, "k1");
    memset(key.key, 0x42, sizeof(key.key));

    if (rp_token_verify(&key, 1, (const char *) data, size, payload,
                        sizeof(payload), &f)
        != RP_TOKEN_OK)
    {
        /* also exercise the plain decoder on the same bytes */
        (void) rp_b64url_decode((const char *) data, size,
                                (unsigned char *) payload, sizeof(payload),
                                &n);
        return 0;
    }

    n = rp_token_sign(&key, payload, strlen(payload), again, sizeof(again));

    if (n != size || memcmp(again, data, size) != 0 || f.n == 0
        || f.n > RP_TOKEN_FIELDS)
    {
        abort();
    }

    return 0;
}
