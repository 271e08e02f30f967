/* Unit tests of secrets and signed tokens (common/rp_token.c). */

#include <string.h>

#include "common/rp_keys.h"
#include "common/rp_token.h"
#include "tap.h"


static rp_sign_key_t
key_of(const char *kid, unsigned char fill)
{
    rp_sign_key_t  k;

    memset(&k, 0, sizeof(k));
    strcpy(k.kid, kid);
    memset(k.key, fill, sizeof(k.key));

    return k;
}


static void
test_b64url(void)
{
    char           enc[64];
    unsigned char  dec[64];
    size_t         n, len;

    /* RFC 4648 test vectors, url alphabet, no padding */
    static const char  *plain[] = { "", "f", "fo", "foo", "foob", "fooba",
                                    "foobar" };
    static const char  *coded[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg",
                                    "Zm9vYmE", "Zm9vYmFy" };

    for (n = 0; n < 7; n++) {
        len = rp_b64url_encode((const unsigned char *) plain[n],
                               strlen(plain[n]), enc);
        ok(strcmp(enc, coded[n]) == 0 && len == rp_b64url_encoded_len(
               strlen(plain[n])), "encode \"%s\"", plain[n]);
        ok(rp_b64url_decode(coded[n], strlen(coded[n]), dec, sizeof(dec),
                            &len) == 0
           && len == strlen(plain[n]) && memcmp(dec, plain[n], len) == 0,
           "decode \"%s\"", coded[n]);
    }

    ok(rp_b64url_encode((const unsigned char *) "\xfb\xff", 2, enc)
       && strcmp(enc, "-_8") == 0, "url alphabet");
    ok(rp_b64url_decode("Zm9v=", 5, dec, sizeof(dec), &len) != 0,
       "padding refused");
    ok(rp_b64url_decode("Zm+v", 4, dec, sizeof(dec), &len) != 0,
       "standard alphabet refused");
    ok(rp_b64url_decode("Zh", 2, dec, sizeof(dec), &len) != 0,
       "non-canonical trailing bits refused");
    ok(rp_b64url_decode("Z", 1, dec, sizeof(dec), &len) != 0,
       "impossible length refused");
    ok(rp_b64url_decode("Zm9vYmFy", 8, dec, 5, &len) != 0,
       "output bound respected");
}


static void
test_tokens(void)
{
    char               tok[RP_TOKEN_MAX], payload[256], bad[RP_TOKEN_MAX];
    size_t             n;
    rp_token_fields_t  f;
    rp_sign_key_t      keys[2];

    keys[0] = key_of("k1", 0x11);
    keys[1] = key_of("k2", 0x22);

    n = rp_token_sign(&keys[1], "p|3000-abc.x|u1|s|1700000000", 28, tok,
                      sizeof(tok));
    ok(n > 0 && strncmp(tok, "k2.", 3) == 0, "signed with its key id");

    ok(rp_token_verify(keys, 2, tok, n, payload, sizeof(payload), &f)
       == RP_TOKEN_OK, "verifies");
    ok(f.n == 5 && f.len[1] == 10 && memcmp(f.field[1], "3000-abc.x", 10)
       == 0 && f.len[4] == 10, "fields split");

    ok(rp_token_verify(keys + 1, 1, tok, n, payload, sizeof(payload), &f)
       == RP_TOKEN_OK, "verifies with only its key listed");
    ok(rp_token_verify(keys, 1, tok, n, payload, sizeof(payload), &f)
       == RP_TOKEN_UNKNOWN_KEY, "a retired key id is unknown");

    memcpy(bad, tok, n);
    bad[5] ^= 1;
    ok(rp_token_verify(keys, 2, bad, n, payload, sizeof(payload), &f)
       != RP_TOKEN_OK, "a changed payload fails");

    memcpy(bad, tok, n);
    bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
    ok(rp_token_verify(keys, 2, bad, n, payload, sizeof(payload), &f)
       != RP_TOKEN_OK, "a changed signature fails");

    memcpy(bad, tok, n);
    bad[1] = '1';                       /* claim the other key */
    ok(rp_token_verify(keys, 2, bad, n, payload, sizeof(payload), &f)
       == RP_TOKEN_BAD_SIGNATURE, "another key id fails");

    ok(rp_token_verify(keys, 2, tok, n - 1, payload, sizeof(payload), &f)
       != RP_TOKEN_OK, "truncated fails");
    ok(rp_token_verify(keys, 2, "", 0, payload, sizeof(payload), &f)
       == RP_TOKEN_MALFORMED, "empty is malformed");
    ok(rp_token_verify(keys, 2, "k1..", 4, payload, sizeof(payload), &f)
       == RP_TOKEN_MALFORMED, "no mac is malformed");
    ok(rp_token_verify(keys, 2, tok, n, payload, 8, &f) != RP_TOKEN_OK,
       "payload bound respected");

    n = rp_token_sign(&keys[0], "a|b|c|d|e|f|g|h|i", 17, tok, sizeof(tok));
    ok(rp_token_verify(keys, 2, tok, n, payload, sizeof(payload), &f)
       == RP_TOKEN_MALFORMED, "too many fields refused");

    ok(rp_token_sign(&keys[0], "x", 1, tok, 10) == 0, "small buffer refused");
}


static void
test_secrets(void)
{
    char           hex[RP_SHA256_HEX + 1], r1[64], r2[64];
    rp_sign_key_t  k;

    rp_sha256_hex("abc", 3, hex);
    ok(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223"
                   "b00361a396177a9cb410ff61f20015ad") == 0, "sha256 hex");

    ok(rp_secret_equal("abc", 3, "abc", 3), "equal secrets");
    ok(!rp_secret_equal("abc", 3, "abd", 3), "different secrets");
    ok(!rp_secret_equal("abc", 3, "abcd", 4), "different lengths");

    ok(rp_random_b64url(32, r1) == 0 && rp_random_b64url(32, r2) == 0
       && strlen(r1) == 43 && strcmp(r1, r2) != 0, "random tokens");

    ok(rp_sign_key_parse("k1 000102030405060708090a0b0c0d0e0f"
                         "101112131415161718191a1b1c1d1e1f", 67, &k) == 0
       && strcmp(k.kid, "k1") == 0 && k.key[31] == 0x1f, "key line parsed");
    ok(rp_sign_key_parse("k1 0001", 7, &k) != 0, "short key refused");
    ok(rp_sign_key_parse("k!1 000102030405060708090a0b0c0d0e0f"
                         "101112131415161718191a1b1c1d1e1f", 68, &k) != 0,
       "bad kid refused");
    ok(rp_kid_valid("2026-11_a", 9) && !rp_kid_valid("", 0)
       && !rp_kid_valid("a.b", 3), "kid check");
}


/* the one maker of API keys: control's key create and POST /v1/keys */

static void
test_apikey(void)
{
    size_t  i;
    char    k1[RP_APIKEY_MAX + 1], k2[RP_APIKEY_MAX + 1];
    char    p1[RP_APIKEY_PREFIX_LEN + 1], p2[RP_APIKEY_PREFIX_LEN + 1];
    char    h1[RP_SHA256_HEX + 1], h2[RP_SHA256_HEX + 1], hex[RP_SHA256_HEX + 1];
    int     form;

    ok(rp_apikey_new(k1, p1, h1) == 0 && rp_apikey_new(k2, p2, h2) == 0,
       "two keys made");
    ok(strlen(k1) == 3 + RP_APIKEY_PREFIX_LEN + 1 + 43
       && strncmp(k1, RP_APIKEY_TAG, 3) == 0 && k1[3 + RP_APIKEY_PREFIX_LEN] == '_',
       "rk_<prefix>_<43 characters>");

    form = strlen(p1) == RP_APIKEY_PREFIX_LEN
           && strncmp(k1 + 3, p1, RP_APIKEY_PREFIX_LEN) == 0;
    for (i = 0; form && i < RP_APIKEY_PREFIX_LEN; i++) {
        form = (p1[i] >= 'a' && p1[i] <= 'z') || (p1[i] >= '0' && p1[i] <= '9');
    }
    ok(form, "the prefix is in the key, of [a-z0-9]");

    rp_sha256_hex(k1, strlen(k1), hex);
    ok(strcmp(hex, h1) == 0, "the hash is the key's SHA-256");
    ok(strcmp(k1, k2) != 0 && strcmp(p1, p2) != 0 && strcmp(h1, h2) != 0,
       "each key its own");
}


int
main(void)
{
    test_b64url();
    test_tokens();
    test_secrets();
    test_apikey();

    return done_testing();
}
