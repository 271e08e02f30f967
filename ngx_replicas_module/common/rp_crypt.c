/* Values sealed at rest: see rp_crypt.h.  Tokens are untrusted input. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "rp_crypt.h"
#include "rp_token.h"


#define RP_CRYPT_HEAD      (sizeof(RP_CRYPT_PREFIX) - 1 + RP_CRYPT_KID_LEN + 1)
#define RP_CRYPT_OVERHEAD  (RP_CRYPT_NONCE_LEN + RP_CRYPT_TAG_LEN)


void
rp_crypt_wipe(void *p, size_t len)
{
    if (p != NULL && len) {
        OPENSSL_cleanse(p, len);
    }
}


void
rp_crypt_kid(const unsigned char key[RP_CRYPT_KEY_LEN],
    char kid[RP_CRYPT_KID_LEN + 1])
{
    char  hex[RP_SHA256_HEX + 1];

    rp_sha256_hex(key, RP_CRYPT_KEY_LEN, hex);
    memcpy(kid, hex, RP_CRYPT_KID_LEN);
    kid[RP_CRYPT_KID_LEN] = '\0';
}


size_t
rp_crypt_sealed_len(size_t len)
{
    return RP_CRYPT_HEAD + rp_b64url_encoded_len(RP_CRYPT_OVERHEAD + len);
}


size_t
rp_crypt_ad(char *out, size_t size, const char *org, size_t org_len,
    const char *env, size_t env_len, const char *field, size_t field_len)
{
    size_t  n;

    n = org_len + 1 + env_len + 1 + field_len;

    if (n + 1 > size || n < org_len) {
        return 0;
    }

    memcpy(out, org, org_len);
    out[org_len] = '|';
    memcpy(out + org_len + 1, env, env_len);
    out[org_len + 1 + env_len] = '|';
    memcpy(out + org_len + 1 + env_len + 1, field, field_len);
    out[n] = '\0';

    return n;
}


rp_crypt_rc_e
rp_crypt_seal_nonce(const unsigned char key[RP_CRYPT_KEY_LEN],
    const unsigned char nonce[RP_CRYPT_NONCE_LEN], const void *ad,
    size_t ad_len, const void *in, size_t len, char *out, size_t out_size,
    size_t *out_len)
{
    int               n, ok;
    size_t            pos;
    unsigned char    *blob;
    EVP_CIPHER_CTX   *ctx;

    if (len > RP_CRYPT_PLAIN_MAX || ad_len > INT_MAX
        || rp_crypt_sealed_len(len) + 1 > out_size)
    {
        return RP_CRYPT_ERROR;
    }

    blob = malloc(RP_CRYPT_OVERHEAD + len);
    ctx = EVP_CIPHER_CTX_new();

    ok = blob != NULL && ctx != NULL
         && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
                                RP_CRYPT_NONCE_LEN, NULL) == 1
         && EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) == 1
         && (ad_len == 0
             || EVP_EncryptUpdate(ctx, NULL, &n, ad, (int) ad_len) == 1);

    if (ok) {
        memcpy(blob, nonce, RP_CRYPT_NONCE_LEN);
        n = 0;

        ok = (len == 0
              || EVP_EncryptUpdate(ctx, blob + RP_CRYPT_NONCE_LEN, &n, in,
                                   (int) len) == 1)
             && (size_t) n == len
             && EVP_EncryptFinal_ex(ctx, blob + RP_CRYPT_NONCE_LEN + len, &n)
                == 1
             && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
                                    RP_CRYPT_TAG_LEN,
                                    blob + RP_CRYPT_NONCE_LEN + len) == 1;
    }

    EVP_CIPHER_CTX_free(ctx);

    if (!ok) {
        free(blob);
        return RP_CRYPT_ERROR;
    }

    memcpy(out, RP_CRYPT_PREFIX, sizeof(RP_CRYPT_PREFIX) - 1);
    pos = sizeof(RP_CRYPT_PREFIX) - 1;
    rp_crypt_kid(key, out + pos);
    pos += RP_CRYPT_KID_LEN;
    out[pos++] = '.';
    pos += rp_b64url_encode(blob, RP_CRYPT_OVERHEAD + len, out + pos);

    free(blob);

    *out_len = pos;

    return RP_CRYPT_OK;
}


rp_crypt_rc_e
rp_crypt_seal(const unsigned char key[RP_CRYPT_KEY_LEN], const void *ad,
    size_t ad_len, const void *in, size_t len, char *out, size_t out_size,
    size_t *out_len)
{
    unsigned char  nonce[RP_CRYPT_NONCE_LEN];

    /* 96 random bits per value: far from the 2^32 values per key bound */
    if (RAND_bytes(nonce, RP_CRYPT_NONCE_LEN) != 1) {
        return RP_CRYPT_ERROR;
    }

    return rp_crypt_seal_nonce(key, nonce, ad, ad_len, in, len, out,
                               out_size, out_len);
}


static int
rp_crypt_is_kid(const char *s)
{
    size_t  i;

    for (i = 0; i < RP_CRYPT_KID_LEN; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }

    return 1;
}


rp_crypt_rc_e
rp_crypt_open(const unsigned char key[RP_CRYPT_KEY_LEN], const void *ad,
    size_t ad_len, const char *token, size_t len, void *out,
    size_t out_size, size_t *out_len)
{
    int               n, ok;
    char              kid[RP_CRYPT_KID_LEN + 1];
    size_t            cap, blen, plen;
    unsigned char    *blob;
    EVP_CIPHER_CTX   *ctx;
    rp_crypt_rc_e     rc;

    if (len < rp_crypt_sealed_len(0) || len > rp_crypt_sealed_len(
                                                     RP_CRYPT_PLAIN_MAX)
        || memcmp(token, RP_CRYPT_PREFIX, sizeof(RP_CRYPT_PREFIX) - 1) != 0
        || !rp_crypt_is_kid(token + sizeof(RP_CRYPT_PREFIX) - 1)
        || token[RP_CRYPT_HEAD - 1] != '.'
        || ad_len > INT_MAX)
    {
        return RP_CRYPT_MALFORMED;
    }

    cap = (len - RP_CRYPT_HEAD) / 4 * 3 + 3;

    blob = malloc(cap);
    if (blob == NULL) {
        return RP_CRYPT_ERROR;
    }

    if (rp_b64url_decode(token + RP_CRYPT_HEAD, len - RP_CRYPT_HEAD, blob,
                         cap, &blen) != 0
        || blen < RP_CRYPT_OVERHEAD)
    {
        free(blob);
        return RP_CRYPT_MALFORMED;
    }

    plen = blen - RP_CRYPT_OVERHEAD;

    rp_crypt_kid(key, kid);

    if (memcmp(kid, token + sizeof(RP_CRYPT_PREFIX) - 1, RP_CRYPT_KID_LEN)
        != 0)
    {
        free(blob);
        return RP_CRYPT_OTHER_KEY;
    }

    if (plen > out_size) {
        free(blob);
        return RP_CRYPT_ERROR;
    }

    ctx = EVP_CIPHER_CTX_new();

    ok = ctx != NULL
         && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
                                RP_CRYPT_NONCE_LEN, NULL) == 1
         && EVP_DecryptInit_ex(ctx, NULL, NULL, key, blob) == 1
         && (ad_len == 0
             || EVP_DecryptUpdate(ctx, NULL, &n, ad, (int) ad_len) == 1);

    rc = ok ? RP_CRYPT_BAD_TAG : RP_CRYPT_ERROR;

    if (ok) {
        n = 0;

        /* the tag is checked in constant time by EVP_DecryptFinal_ex */
        ok = (plen == 0
              || EVP_DecryptUpdate(ctx, out, &n, blob + RP_CRYPT_NONCE_LEN,
                                   (int) plen) == 1)
             && (size_t) n == plen
             && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
                                    RP_CRYPT_TAG_LEN,
                                    blob + RP_CRYPT_NONCE_LEN + plen) == 1
             && EVP_DecryptFinal_ex(ctx, blob, &n) == 1;
    }

    EVP_CIPHER_CTX_free(ctx);
    free(blob);

    if (!ok) {
        rp_crypt_wipe(out, plen);
        return rc;
    }

    *out_len = plen;

    return RP_CRYPT_OK;
}


int
rp_crypt_parse_key(const char *text, size_t len,
    unsigned char key[RP_CRYPT_KEY_LEN])
{
    int     hi, lo;
    size_t  i;

    if (len > 2 * RP_CRYPT_KEY_LEN && text[len - 1] == '\n') {
        len--;

        if (len > 2 * RP_CRYPT_KEY_LEN && text[len - 1] == '\r') {
            len--;
        }
    }

    if (len != 2 * RP_CRYPT_KEY_LEN) {
        return -1;
    }

    for (i = 0; i < RP_CRYPT_KEY_LEN; i++) {
        hi = text[2 * i];
        lo = text[2 * i + 1];

        hi = (hi >= '0' && hi <= '9') ? hi - '0'
             : (hi >= 'a' && hi <= 'f') ? hi - 'a' + 10
             : (hi >= 'A' && hi <= 'F') ? hi - 'A' + 10 : -1;
        lo = (lo >= '0' && lo <= '9') ? lo - '0'
             : (lo >= 'a' && lo <= 'f') ? lo - 'a' + 10
             : (lo >= 'A' && lo <= 'F') ? lo - 'A' + 10 : -1;

        if (hi < 0 || lo < 0) {
            rp_crypt_wipe(key, RP_CRYPT_KEY_LEN);
            return -1;
        }

        key[i] = (unsigned char) (hi << 4 | lo);
    }

    return 0;
}


int
rp_crypt_load_key(const char *path, unsigned char key[RP_CRYPT_KEY_LEN],
    char *err, size_t errlen)
{
    int          fd, rc;
    char         buf[2 * RP_CRYPT_KEY_LEN + 3];
    ssize_t      n;
    size_t       len;
    struct stat  st;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)
        || st.st_size > (off_t) sizeof(buf) - 1)
    {
        close(fd);
        snprintf(err, errlen, "%s: not a key file (64 hex characters)", path);
        return -1;
    }

    len = 0;

    while (len < sizeof(buf)) {
        n = read(fd, buf + len, sizeof(buf) - len);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            break;
        }

        len += (size_t) n;
    }

    close(fd);

    rc = rp_crypt_parse_key(buf, len, key);
    rp_crypt_wipe(buf, sizeof(buf));

    if (rc != 0) {
        snprintf(err, errlen, "%s: not a key file (64 hex characters)", path);
        return -1;
    }

    return 0;
}
