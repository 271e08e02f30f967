/*
 * Secrets and signed tokens, shared by the gateway, control and tests.
 *
 * A signed token is  <kid>.<payload, base64url>.<mac, base64url>
 * with mac = HMAC-SHA256(key[kid], "<kid>.<payload b64>").  The key id
 * lets keys rotate: tokens signed with an older key verify while that key
 * is still listed.  Payloads are fields joined by '|' (no field contains
 * one).  Every comparison of secrets is constant-time.
 */

#ifndef RP_TOKEN_H
#define RP_TOKEN_H

#include <stddef.h>


#define RP_KID_MAX        16
#define RP_SIGN_KEY_LEN   32
#define RP_SHA256_HEX     64
#define RP_TOKEN_MAX      1024          /* a whole token, base64 included */
#define RP_TOKEN_FIELDS   8


typedef struct {
    char           kid[RP_KID_MAX + 1];
    unsigned char  key[RP_SIGN_KEY_LEN];
} rp_sign_key_t;


typedef enum {
    RP_TOKEN_OK = 0,
    RP_TOKEN_MALFORMED,
    RP_TOKEN_UNKNOWN_KEY,
    RP_TOKEN_BAD_SIGNATURE
} rp_token_rc_e;


typedef struct {
    size_t       n;
    const char  *field[RP_TOKEN_FIELDS];
    size_t       len[RP_TOKEN_FIELDS];
} rp_token_fields_t;


/* base64url without padding; decode is strict (no padding, no junk) */
size_t rp_b64url_encoded_len(size_t len);
size_t rp_b64url_encode(const unsigned char *in, size_t len, char *out);
int rp_b64url_decode(const char *in, size_t len, unsigned char *out,
    size_t out_size, size_t *out_len);

/* lowercase hex SHA-256 of "in", NUL-terminated: out[RP_SHA256_HEX + 1] */
void rp_sha256_hex(const void *in, size_t len, char *out);

/* 1 if equal; the time taken depends on the lengths only */
int rp_secret_equal(const void *a, size_t alen, const void *b, size_t blen);

/* n random bytes as base64url into out (rp_b64url_encoded_len(n) + 1) */
int rp_random_b64url(size_t n, char *out);

/* n random characters of [a-z0-9] into out (n + 1 bytes): ids */
int rp_random_id(size_t n, char *out);

/*
 * A new API key, "rk_<prefix>_<secret>" (rp_keys.h): the key into key
 * (RP_APIKEY_MAX + 1 bytes), its public prefix into prefix
 * (RP_APIKEY_PREFIX_LEN + 1) and its SHA-256, what Redis stores, into
 * hash (RP_SHA256_HEX + 1).  The one maker of keys: replicas-control's
 * key create and the API's POST /v1/keys.  0, or -1 (no randomness).
 */
#define RP_APIKEY_MAX     64
int rp_apikey_new(char *key, char *prefix, char *hash);

/* kid: 1..RP_KID_MAX of [A-Za-z0-9_-] */
int rp_kid_valid(const char *kid, size_t len);

/* Signs payload with key; returns the token length or 0 if out is small. */
size_t rp_token_sign(const rp_sign_key_t *key, const char *payload,
    size_t len, char *out, size_t out_size);

/*
 * Verifies token against keys; on RP_TOKEN_OK the decoded payload is in
 * payload (NUL-terminated) and split into fields.
 */
rp_token_rc_e rp_token_verify(const rp_sign_key_t *keys, size_t nkeys,
    const char *token, size_t len, char *payload, size_t payload_size,
    rp_token_fields_t *fields);

/* Parses one "<kid> <64 hex chars>" line of a signing key file. */
int rp_sign_key_parse(const char *line, size_t len, rp_sign_key_t *key);

#endif /* RP_TOKEN_H */
