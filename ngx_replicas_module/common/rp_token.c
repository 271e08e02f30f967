/* Secrets and signed tokens: see rp_token.h.  All input is untrusted. */

#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "rp_keys.h"
#include "rp_token.h"


static const char  rp_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


size_t
rp_b64url_encoded_len(size_t len)
{
    return (len / 3) * 4 + (len % 3 ? len % 3 + 1 : 0);
}


size_t
rp_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    char      *p = out;
    size_t     i;
    uint32_t   v;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        *p++ = rp_b64url_alphabet[v >> 18 & 63];
        *p++ = rp_b64url_alphabet[v >> 12 & 63];
        *p++ = rp_b64url_alphabet[v >> 6 & 63];
        *p++ = rp_b64url_alphabet[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) in[i] << 16;
        *p++ = rp_b64url_alphabet[v >> 18 & 63];
        *p++ = rp_b64url_alphabet[v >> 12 & 63];

    } else if (len - i == 2) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        *p++ = rp_b64url_alphabet[v >> 18 & 63];
        *p++ = rp_b64url_alphabet[v >> 12 & 63];
        *p++ = rp_b64url_alphabet[v >> 6 & 63];
    }

    *p = '\0';

    return (size_t) (p - out);
}


static int
rp_b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}


int
rp_b64url_decode(const char *in, size_t len, unsigned char *out,
    size_t out_size, size_t *out_len)
{
    int       d;
    size_t    i, n, bits;
    uint32_t  acc;

    if (len % 4 == 1) {
        return -1;
    }

    n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (n > out_size) {
        return -1;
    }

    acc = 0;
    bits = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        d = rp_b64url_value(in[i]);
        if (d < 0) {
            return -1;
        }

        acc = (acc << 6) | (uint32_t) d;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }

    /* leftover bits must be zero: one encoding per byte string */
    if (acc != 0) {
        return -1;
    }

    *out_len = n;

    return 0;
}


void
rp_sha256_hex(const void *in, size_t len, char *out)
{
    size_t          i;
    unsigned char   md[SHA256_DIGEST_LENGTH];
    static const char  hex[] = "0123456789abcdef";

    SHA256(in, len, md);

    for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }

    out[RP_SHA256_HEX] = '\0';
}


int
rp_secret_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen) {
        return 0;
    }

    return CRYPTO_memcmp(a, b, alen) == 0;
}


int
rp_random_b64url(size_t n, char *out)
{
    unsigned char  buf[64];

    if (n > sizeof(buf) || RAND_bytes(buf, (int) n) != 1) {
        return -1;
    }

    rp_b64url_encode(buf, n, out);
    OPENSSL_cleanse(buf, sizeof(buf));

    return 0;
}


int
rp_random_id(size_t n, char *out)
{
    size_t         i;
    unsigned char  b;

    static const char  alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

    for (i = 0; i < n; /* void */) {
        if (RAND_bytes(&b, 1) != 1) {
            return -1;
        }

        if (b < 252) {                  /* 252 = 7 * 36: no modulo bias */
            out[i++] = alnum[b % 36];
        }
    }

    out[n] = '\0';

    return 0;
}


int
rp_apikey_new(char *key, char *prefix, char *hash)
{
    char    secret[48];
    size_t  len;

    /* 8 of [a-z0-9] to name it, 32 random bytes (43 base64url) to prove */
    if (rp_random_id(RP_APIKEY_PREFIX_LEN, prefix) != 0
        || rp_random_b64url(32, secret) != 0)
    {
        return -1;
    }

    len = sizeof(RP_APIKEY_TAG) - 1;
    memcpy(key, RP_APIKEY_TAG, len);
    memcpy(key + len, prefix, RP_APIKEY_PREFIX_LEN);
    len += RP_APIKEY_PREFIX_LEN;
    key[len++] = '_';
    memcpy(key + len, secret, 43);
    len += 43;
    key[len] = '\0';
    OPENSSL_cleanse(secret, sizeof(secret));

    rp_sha256_hex(key, len, hash);

    return 0;
}


int
rp_kid_valid(const char *kid, size_t len)
{
    size_t  i;

    if (len == 0 || len > RP_KID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (rp_b64url_value(kid[i]) < 0) {
            return 0;
        }
    }

    return 1;
}


static void
rp_token_mac(const rp_sign_key_t *key, const char *signed_part, size_t len,
    unsigned char *mac)
{
    unsigned int  mac_len = 32;

    HMAC(EVP_sha256(), key->key, RP_SIGN_KEY_LEN,
         (const unsigned char *) signed_part, len, mac, &mac_len);
}


size_t
rp_token_sign(const rp_sign_key_t *key, const char *payload, size_t len,
    char *out, size_t out_size)
{
    size_t         kid_len, n;
    unsigned char  mac[32];

    kid_len = strlen(key->kid);

    if (kid_len + 1 + rp_b64url_encoded_len(len) + 1
        + rp_b64url_encoded_len(32) + 1 > out_size)
    {
        return 0;
    }

    memcpy(out, key->kid, kid_len);
    n = kid_len;
    out[n++] = '.';
    n += rp_b64url_encode((const unsigned char *) payload, len, out + n);

    rp_token_mac(key, out, n, mac);

    out[n++] = '.';
    n += rp_b64url_encode(mac, 32, out + n);

    return n;
}


static void
rp_token_split(char *payload, size_t len, rp_token_fields_t *fields)
{
    size_t  i, start;

    fields->n = 0;
    start = 0;

    for (i = 0; i <= len; i++) {
        if (i == len || payload[i] == '|') {
            if (fields->n == RP_TOKEN_FIELDS) {
                fields->n++;              /* too many: caller rejects */
                return;
            }

            fields->field[fields->n] = payload + start;
            fields->len[fields->n] = i - start;
            fields->n++;
            start = i + 1;
        }
    }
}


rp_token_rc_e
rp_token_verify(const rp_sign_key_t *keys, size_t nkeys, const char *token,
    size_t len, char *payload, size_t payload_size,
    rp_token_fields_t *fields)
{
    size_t              i, kid_len, dot2, mac_len, plen;
    unsigned char       mac[33], want[32];
    const char         *dot;
    const rp_sign_key_t  *key;

    if (len == 0 || len > RP_TOKEN_MAX) {
        return RP_TOKEN_MALFORMED;
    }

    dot = memchr(token, '.', len);
    if (dot == NULL) {
        return RP_TOKEN_MALFORMED;
    }

    kid_len = (size_t) (dot - token);
    if (!rp_kid_valid(token, kid_len)) {
        return RP_TOKEN_MALFORMED;
    }

    for (dot2 = len; dot2 > kid_len + 1; dot2--) {
        if (token[dot2 - 1] == '.') {
            break;
        }
    }

    if (dot2 <= kid_len + 1) {
        return RP_TOKEN_MALFORMED;
    }

    dot2--;                                   /* index of the second dot */

    if (rp_b64url_decode(token + dot2 + 1, len - dot2 - 1, mac, sizeof(mac),
                         &mac_len) != 0
        || mac_len != 32)
    {
        return RP_TOKEN_MALFORMED;
    }

    key = NULL;

    for (i = 0; i < nkeys; i++) {
        if (strlen(keys[i].kid) == kid_len
            && memcmp(keys[i].kid, token, kid_len) == 0)
        {
            key = &keys[i];
            break;
        }
    }

    if (key == NULL) {
        return RP_TOKEN_UNKNOWN_KEY;
    }

    rp_token_mac(key, token, dot2, want);

    if (!rp_secret_equal(want, 32, mac, 32)) {
        return RP_TOKEN_BAD_SIGNATURE;
    }

    if (payload_size == 0
        || rp_b64url_decode(token + kid_len + 1, dot2 - kid_len - 1,
                            (unsigned char *) payload, payload_size - 1,
                            &plen) != 0
        || memchr(payload, '\0', plen) != NULL)
    {
        return RP_TOKEN_MALFORMED;
    }

    payload[plen] = '\0';
    rp_token_split(payload, plen, fields);

    if (fields->n > RP_TOKEN_FIELDS) {
        return RP_TOKEN_MALFORMED;
    }

    return RP_TOKEN_OK;
}


int
rp_sign_key_parse(const char *line, size_t len, rp_sign_key_t *key)
{
    size_t  i, kid_len;
    int     hi, lo;

    for (kid_len = 0; kid_len < len && line[kid_len] != ' '; kid_len++) {
        /* void */
    }

    if (!rp_kid_valid(line, kid_len) || len != kid_len + 1 + 2 * RP_SIGN_KEY_LEN)
    {
        return -1;
    }

    memcpy(key->kid, line, kid_len);
    key->kid[kid_len] = '\0';

    for (i = 0; i < RP_SIGN_KEY_LEN; i++) {
        hi = line[kid_len + 1 + 2 * i];
        lo = line[kid_len + 2 + 2 * i];

        hi = (hi >= '0' && hi <= '9') ? hi - '0'
             : (hi >= 'a' && hi <= 'f') ? hi - 'a' + 10 : -1;
        lo = (lo >= '0' && lo <= '9') ? lo - '0'
             : (lo >= 'a' && lo <= 'f') ? lo - 'a' + 10 : -1;

        if (hi < 0 || lo < 0) {
            return -1;
        }

        key->key[i] = (unsigned char) (hi << 4 | lo);
    }

    return 0;
}
