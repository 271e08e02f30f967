/* Unit tests of values sealed at rest (common/rp_crypt.c). */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rp_crypt.h"
#include "common/rp_token.h"
#include "tap.h"


static unsigned char  key1[RP_CRYPT_KEY_LEN], key2[RP_CRYPT_KEY_LEN];

static const char  ad1[] = "org1|global|var:TOKEN";


static char *
seal(const unsigned char *key, const char *ad, const void *in, size_t len,
    size_t *tlen)
{
    char    *t;
    size_t   size;

    size = rp_crypt_sealed_len(len) + 1;
    t = malloc(size);

    if (t == NULL
        || rp_crypt_seal(key, ad, strlen(ad), in, len, t, size, tlen)
           != RP_CRYPT_OK)
    {
        free(t);
        return NULL;
    }

    return t;
}


static rp_crypt_rc_e
open_(const unsigned char *key, const char *ad, const char *t, size_t tlen,
    char *out, size_t size, size_t *len)
{
    return rp_crypt_open(key, ad, strlen(ad), t, tlen, out, size, len);
}


static void
test_round_trip(void)
{
    char    *t, *t2, out[256], kid[RP_CRYPT_KID_LEN + 1];
    char     hex[RP_SHA256_HEX + 1];
    size_t   tlen, tlen2, len;

    static const char  secret[] = "s3cr3t value with spaces\nand a newline";

    t = seal(key1, ad1, secret, sizeof(secret) - 1, &tlen);
    ok(t != NULL, "seal");
    ok(tlen == strlen(t) && tlen == rp_crypt_sealed_len(sizeof(secret) - 1),
       "token length as announced, NUL-terminated");

    rp_crypt_kid(key1, kid);
    rp_sha256_hex(key1, RP_CRYPT_KEY_LEN, hex);
    ok(strlen(kid) == 8 && strncmp(kid, hex, 8) == 0,
       "kid: first 8 hex of sha256(key)");
    ok(strncmp(t, "v1.", 3) == 0 && strncmp(t + 3, kid, 8) == 0
       && t[11] == '.', "v1.<kid>.<data>");
    ok(strstr(t, "s3cr3t") == NULL, "the plaintext is not in the token");

    memset(out, 'x', sizeof(out));
    ok(open_(key1, ad1, t, tlen, out, sizeof(out), &len) == RP_CRYPT_OK
       && len == sizeof(secret) - 1 && memcmp(out, secret, len) == 0,
       "round trip");

    t2 = seal(key1, ad1, secret, sizeof(secret) - 1, &tlen2);
    ok(t2 && tlen2 == tlen && strcmp(t, t2) != 0,
       "the same value seals differently each time (random nonce)");

    ok(open_(key1, ad1, t, tlen, out, sizeof(secret) - 2, &len)
       == RP_CRYPT_ERROR, "an output buffer too small is an error");

    free(t);
    free(t2);
}


static void
test_refusals(void)
{
    char          *t, *bad, out[256];
    size_t         tlen, len, i;
    int            all;
    unsigned char  flip;

    static const char  secret[] = "hunter2";

    t = seal(key1, ad1, secret, 7, &tlen);
    if (t == NULL) {
        ok(0, "seal for refusals");
        return;
    }

    memset(out, 'x', sizeof(out));
    ok(open_(key2, ad1, t, tlen, out, sizeof(out), &len)
       == RP_CRYPT_OTHER_KEY, "another key: its kid differs");
    ok(memchr(out, 'h', sizeof(out)) == NULL, "and nothing is written");

    /* another key with a forged kid still fails: the tag */
    bad = strdup(t);
    rp_crypt_kid(key2, bad + 3);
    bad[11] = '.';
    ok(open_(key2, ad1, bad, tlen, out, sizeof(out), &len)
       == RP_CRYPT_BAD_TAG, "another key under its own kid: bad tag");
    ok(memcmp(out, "hunter2", 7) != 0, "nothing of the plaintext left");
    free(bad);

    ok(open_(key1, "org2|global|var:TOKEN", t, tlen, out, sizeof(out), &len)
       == RP_CRYPT_BAD_TAG, "another organisation: refused");
    ok(open_(key1, "org1|dev|var:TOKEN", t, tlen, out, sizeof(out), &len)
       == RP_CRYPT_BAD_TAG, "another environment: refused");
    ok(open_(key1, "org1|global|var:OTHER", t, tlen, out, sizeof(out), &len)
       == RP_CRYPT_BAD_TAG, "another variable: refused");
    ok(open_(key1, "", t, tlen, out, sizeof(out), &len) == RP_CRYPT_BAD_TAG,
       "no associated data: refused");

    /* every byte of the data part, changed, fails; so does the header */
    all = 1;
    bad = malloc(tlen + 1);

    for (i = 0; i < tlen; i++) {
        memcpy(bad, t, tlen + 1);
        flip = (unsigned char) bad[i];
        bad[i] = flip == 'A' ? 'B' : 'A';

        if (open_(key1, ad1, bad, tlen, out, sizeof(out), &len)
            == RP_CRYPT_OK)
        {
            all = 0;
            printf("# tampered byte %zu opened\n", i);
        }
    }

    ok(all, "a change anywhere in the token is refused (%zu positions)",
       tlen);

    /* bit flips in the decoded blob: nonce, ciphertext, tag */
    all = 1;

    for (i = 12; i < tlen; i++) {
        memcpy(bad, t, tlen + 1);
        bad[i] ^= 0x01;

        if (open_(key1, ad1, bad, tlen, out, sizeof(out), &len)
            == RP_CRYPT_OK)
        {
            all = 0;
        }
    }

    ok(all, "a flipped bit in the data is refused");
    free(bad);

    ok(open_(key1, ad1, t, tlen - 1, out, sizeof(out), &len) != RP_CRYPT_OK,
       "truncated by one: refused");
    ok(open_(key1, ad1, t, tlen - 4, out, sizeof(out), &len) != RP_CRYPT_OK,
       "truncated by a base64 group: refused");
    ok(open_(key1, ad1, t, 40, out, sizeof(out), &len) == RP_CRYPT_MALFORMED,
       "shorter than nonce and tag: malformed");
    ok(open_(key1, ad1, t, 0, out, sizeof(out), &len) == RP_CRYPT_MALFORMED,
       "empty: malformed");

    bad = strdup(t);
    bad[1] = '2';
    ok(open_(key1, ad1, bad, tlen, out, sizeof(out), &len)
       == RP_CRYPT_MALFORMED, "v2 prefix: malformed");
    memcpy(bad, t, tlen);
    bad[5] = 'G';
    ok(open_(key1, ad1, bad, tlen, out, sizeof(out), &len)
       == RP_CRYPT_MALFORMED, "a kid that is not hex: malformed");
    memcpy(bad, t, tlen);
    bad[5] = (char) (bad[5] >= 'a' ? '0' : 'a');
    ok(open_(key1, ad1, bad, tlen, out, sizeof(out), &len)
       == RP_CRYPT_OTHER_KEY, "an unknown kid: another key");
    memcpy(bad, t, tlen);
    bad[11] = '_';
    ok(open_(key1, ad1, bad, tlen, out, sizeof(out), &len)
       == RP_CRYPT_MALFORMED, "no dot after the kid: malformed");
    memcpy(bad, t, tlen);
    bad[20] = '=';
    ok(open_(key1, ad1, bad, tlen, out, sizeof(out), &len)
       == RP_CRYPT_MALFORMED, "not base64url: malformed");
    free(bad);

    free(t);
}


static void
test_sizes(void)
{
    char           *t, *big, *out;
    size_t          tlen, len;
    unsigned char   nonce[RP_CRYPT_NONCE_LEN];
    char            a[128], b[128];
    size_t          alen, blen;

    t = seal(key1, ad1, "", 0, &tlen);
    ok(t != NULL && tlen == rp_crypt_sealed_len(0), "empty plaintext seals");
    ok(t && rp_crypt_open(key1, ad1, strlen(ad1), t, tlen, NULL, 0, &len)
       == RP_CRYPT_OK && len == 0, "and opens, empty");
    free(t);

    big = malloc(65536);
    out = malloc(65536);

    for (len = 0; len < 65536; len++) {
        big[len] = (char) (len * 7 + 3);
    }

    t = seal(key1, ad1, big, 65536, &tlen);
    ok(t != NULL, "64 KiB seals");
    ok(t && rp_crypt_open(key1, ad1, strlen(ad1), t, tlen, out, 65536, &len)
       == RP_CRYPT_OK && len == 65536 && memcmp(out, big, 65536) == 0,
       "64 KiB round trip");
    free(t);
    free(big);
    free(out);

    ok(rp_crypt_seal(key1, ad1, strlen(ad1), "x", 1, a, 10, &alen)
       == RP_CRYPT_ERROR, "seal into a small buffer: error");

    /* deterministic with a given nonce: same inputs, same token */
    memset(nonce, 7, sizeof(nonce));
    ok(rp_crypt_seal_nonce(key1, nonce, ad1, strlen(ad1), "abc", 3, a,
                           sizeof(a), &alen) == RP_CRYPT_OK
       && rp_crypt_seal_nonce(key1, nonce, ad1, strlen(ad1), "abc", 3, b,
                              sizeof(b), &blen) == RP_CRYPT_OK
       && alen == blen && memcmp(a, b, alen) == 0, "seal_nonce is repeatable");
}


static void
test_ad_and_keys(void)
{
    int            fd;
    char           ad[64], path[64], err[256];
    size_t         n;
    unsigned char  k[RP_CRYPT_KEY_LEN];

    static const char  hex[] =
        "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

    n = rp_crypt_ad(ad, sizeof(ad), "org1", 4, "dev", 3, "file:a/b", 8);
    ok(n == 17 && strcmp(ad, "org1|dev|file:a/b") == 0, "ad format");
    ok(rp_crypt_ad(ad, 10, "org1", 4, "dev", 3, "file:a/b", 8) == 0,
       "ad into a small buffer: 0");

    ok(rp_crypt_parse_key(hex, 64, k) == 0 && k[0] == 0x00 && k[15] == 0xff
       && k[31] == 0xff, "key: 64 hex characters, either case");
    ok(rp_crypt_parse_key("00112233445566778899aabbccddeeff00112233445566"
                          "778899aabbccddeeff\n", 65, k) == 0,
       "key with a newline");
    ok(rp_crypt_parse_key(hex, 63, k) != 0, "63 characters refused");
    ok(rp_crypt_parse_key("00112233445566778899aabbccddeeff00112233445566"
                          "778899aabbccddeeff\n\n", 66, k) != 0,
       "two newlines refused");
    ok(rp_crypt_parse_key("g0112233445566778899aabbccddeeff00112233445566"
                          "778899aabbccddeeff", 64, k) != 0,
       "not hex refused");

    snprintf(path, sizeof(path), "/tmp/rp-crypt-test-%d.key", (int) getpid());
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ok(fd >= 0 && write(fd, hex, 64) == 64 && write(fd, "\n", 1) == 1,
       "write a key file");
    close(fd);
    memset(k, 0, sizeof(k));
    ok(rp_crypt_load_key(path, k, err, sizeof(err)) == 0 && k[1] == 0x11,
       "load a key file");

    fd = open(path, O_WRONLY | O_TRUNC);
    ok(fd >= 0 && write(fd, "short\n", 6) == 6, "write a bad key file");
    close(fd);
    err[0] = '\0';
    ok(rp_crypt_load_key(path, k, err, sizeof(err)) == -1
       && strstr(err, "64 hex") != NULL, "a bad key file: refused, said why");
    unlink(path);

    ok(rp_crypt_load_key(path, k, err, sizeof(err)) == -1
       && strstr(err, path) != NULL, "a missing key file: refused");
}


int
main(void)
{
    memset(key1, 0x11, sizeof(key1));
    memset(key2, 0x22, sizeof(key2));

    test_round_trip();
    test_refusals();
    test_sizes();
    test_ad_and_keys();

    return done_testing();
}
