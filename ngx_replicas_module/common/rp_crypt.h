/*
 * Values sealed at rest with the deployment's secrets key (environments:
 * variables and files), shared by the gateway, which seals, and control,
 * which opens.
 *
 * A sealed value is the text token
 *
 *     v1.<kid>.<base64url(nonce | ciphertext | tag)>
 *
 * AES-256-GCM with a random 12-byte nonce and a 16-byte tag; kid is the
 * first 8 hex characters of SHA-256(key), so a value sealed with another
 * (rotated) key is recognised as such rather than as tampering.  The
 * associated data binds the value to where it is stored ("org|env|field",
 * rp_crypt_ad()): moved to another organisation, environment or field it
 * does not open.  The key file is 64 hex characters, optionally followed
 * by a newline.
 */

#ifndef RP_CRYPT_H
#define RP_CRYPT_H

#include <stddef.h>


#define RP_CRYPT_KEY_LEN      32
#define RP_CRYPT_KID_LEN      8
#define RP_CRYPT_NONCE_LEN    12
#define RP_CRYPT_TAG_LEN      16
#define RP_CRYPT_PLAIN_MAX    (1024 * 1024)     /* largest value sealed */
#define RP_CRYPT_PREFIX       "v1."


typedef enum {
    RP_CRYPT_OK = 0,
    RP_CRYPT_MALFORMED,       /* not a v1 token, bad base64, too short/long */
    RP_CRYPT_OTHER_KEY,       /* sealed with a key whose kid differs */
    RP_CRYPT_BAD_TAG,         /* wrong key, wrong place, or tampered */
    RP_CRYPT_ERROR            /* out of memory, small buffer, libcrypto */
} rp_crypt_rc_e;


/* the kid of key: 8 lowercase hex characters and a NUL */
void rp_crypt_kid(const unsigned char key[RP_CRYPT_KEY_LEN],
    char kid[RP_CRYPT_KID_LEN + 1]);

/* length of the token sealing len bytes (without the NUL) */
size_t rp_crypt_sealed_len(size_t len);

/*
 * Associated data "org|env|field" into out (NUL-terminated); returns its
 * length, or 0 if out is too small.  org and env never contain '|'.
 */
size_t rp_crypt_ad(char *out, size_t size, const char *org, size_t org_len,
    const char *env, size_t env_len, const char *field, size_t field_len);

/*
 * Seals in[len] bound to ad into out (rp_crypt_sealed_len(len) + 1 bytes,
 * NUL-terminated); *out_len gets the token length.
 */
rp_crypt_rc_e rp_crypt_seal(const unsigned char key[RP_CRYPT_KEY_LEN],
    const void *ad, size_t ad_len, const void *in, size_t len, char *out,
    size_t out_size, size_t *out_len);

/* The same with a given nonce: for tests only (a nonce is never reused). */
rp_crypt_rc_e rp_crypt_seal_nonce(const unsigned char key[RP_CRYPT_KEY_LEN],
    const unsigned char nonce[RP_CRYPT_NONCE_LEN], const void *ad,
    size_t ad_len, const void *in, size_t len, char *out, size_t out_size,
    size_t *out_len);

/*
 * Opens token[len] sealed with key for ad into out (out_size must hold
 * the plaintext; a plaintext needs at most len * 3 / 4 bytes).  Nothing
 * of the plaintext is left in out unless RP_CRYPT_OK.
 */
rp_crypt_rc_e rp_crypt_open(const unsigned char key[RP_CRYPT_KEY_LEN],
    const void *ad, size_t ad_len, const char *token, size_t len, void *out,
    size_t out_size, size_t *out_len);

/* "64 hex characters" with an optional "\n" (or "\r\n"); 0 or -1 */
int rp_crypt_parse_key(const char *text, size_t len,
    unsigned char key[RP_CRYPT_KEY_LEN]);

/* Reads and parses a key file; 0, or -1 with a message in err. */
int rp_crypt_load_key(const char *path, unsigned char key[RP_CRYPT_KEY_LEN],
    char *err, size_t errlen);

/* zeroes len bytes in a way the compiler keeps */
void rp_crypt_wipe(void *p, size_t len);

#endif /* RP_CRYPT_H */
