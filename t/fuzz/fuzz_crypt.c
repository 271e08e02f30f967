/*
 * libFuzzer target for opening sealed values (what control reads back
 * from Redis) and for the key file parser.  Beyond memory safety: what
 * opens re-seals, with the token's own nonce, to the very same token (one
 * encoding per value), and nothing opens under other associated data.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rp_crypt.h"
#include "common/rp_token.h"


#define FUZZ_AD  "org1|global|var:TOKEN"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char           *again;
    size_t          n, len, cap;
    unsigned char   key[RP_CRYPT_KEY_LEN], other[RP_CRYPT_KEY_LEN];
    unsigned char   nonce[RP_CRYPT_NONCE_LEN], *out, *blob;

    (void) rp_crypt_parse_key((const char *) data, size, other);

    memset(key, 0x42, sizeof(key));

    cap = size;
    out = malloc(cap ? cap : 1);
    if (out == NULL) {
        return 0;
    }

    if (rp_crypt_open(key, FUZZ_AD, sizeof(FUZZ_AD) - 1, (const char *) data,
                      size, out, cap, &len)
        != RP_CRYPT_OK)
    {
        free(out);
        return 0;
    }

    if (rp_crypt_open(key, "org2|global|var:TOKEN", sizeof(FUZZ_AD) - 1,
                      (const char *) data, size, out, cap, &n)
        == RP_CRYPT_OK)
    {
        abort();
    }

    /* opened: the nonce is the data part's first 12 bytes */
    blob = malloc(size);
    if (blob == NULL
        || rp_b64url_decode((const char *) data + 12, size - 12, blob, size,
                            &n) != 0
        || n < RP_CRYPT_NONCE_LEN)
    {
        abort();
    }

    memcpy(nonce, blob, RP_CRYPT_NONCE_LEN);
    free(blob);

    /* the second open above wiped out: open again */
    if (rp_crypt_open(key, FUZZ_AD, sizeof(FUZZ_AD) - 1, (const char *) data,
                      size, out, cap, &len)
        != RP_CRYPT_OK)
    {
        abort();
    }

    again = malloc(rp_crypt_sealed_len(len) + 1);
    if (again == NULL
        || rp_crypt_seal_nonce(key, nonce, FUZZ_AD, sizeof(FUZZ_AD) - 1, out,
                               len, again, rp_crypt_sealed_len(len) + 1, &n)
           != RP_CRYPT_OK
        || n != size || memcmp(again, data, size) != 0)
    {
        abort();
    }

    free(again);
    free(out);

    return 0;
}
