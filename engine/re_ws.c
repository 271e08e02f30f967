/*
 * The event stream over a WebSocket (RFC 6455): the upgrade of
 * GET /events, the framing of what the stream reader (re_events.c) gives
 * as text frames, and the client's control frames (ping, close).
 *
 * Each socket is served in the thread MHD gave the connection (a thread
 * per connection): its loop waits on the stream's next event for at most
 * RE_WS_POLL_MS, then looks at what the client sent.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "re_engine.h"
#include "re_events.h"
#include "re_events_int.h"
#include "re_http.h"
#include "re_log.h"


/* WebSocket: how often a waiting stream looks at what the client sent */
#define RE_WS_POLL_MS         200
#define RE_WS_SEND_TIMEOUT    10000
#define RE_WS_IN_MAX          4096
#define RE_WS_GUID            "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


/* ---- WebSocket ------------------------------------------------------------------- */

typedef struct {
    re_stream_t                       *st;
    char                               in[RE_WS_IN_MAX];
    size_t                             in_len;
} re_ws_t;


static int
re_ws_send(int fd, const char *data, size_t len)
{
    ssize_t        n;
    size_t         done;
    struct pollfd  pfd;

    for (done = 0; done < len; done += (size_t) n) {
        n = send(fd, data + done, len - done, MSG_NOSIGNAL);

        if (n >= 0) {
            continue;
        }

        n = 0;

        if (errno == EINTR) {
            continue;
        }

        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return -1;
        }

        /* a client that reads nothing for this long is gone */
        pfd.fd = fd;
        pfd.events = POLLOUT;

        if (poll(&pfd, 1, RE_WS_SEND_TIMEOUT) <= 0) {
            return -1;
        }
    }

    return 0;
}


static int
re_ws_control(int fd, unsigned op, const char *payload, size_t len)
{
    char  frame[2 + 125];

    if (len > 125) {
        len = 125;
    }

    frame[0] = (char) (0x80 | op);
    frame[1] = (char) len;
    memcpy(frame + 2, payload, len);

    return re_ws_send(fd, frame, 2 + len);
}


/*
 * What the client sent: pings are answered, a close ends the stream,
 * anything else is read and dropped.  0 go on, -1 the end.
 */
static int
re_ws_input(re_ws_t *ws, int fd)
{
    char      *f, payload[125];
    size_t     hl, plen, i;
    ssize_t    n;
    unsigned   op;

    n = recv(fd, ws->in + ws->in_len, sizeof(ws->in) - ws->in_len,
             MSG_DONTWAIT);

    if (n == 0) {
        return -1;
    }

    if (n < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
               ? 0 : -1;
    }

    ws->in_len += (size_t) n;

    for ( ;; ) {
        f = ws->in;

        if (ws->in_len < 2) {
            return 0;
        }

        op = (unsigned char) f[0] & 0x0f;
        plen = (unsigned char) f[1] & 0x7f;
        hl = 2;

        if (!((unsigned char) f[1] & 0x80)) {
            /* a client's frames are masked (RFC 6455 5.1) */
            (void) re_ws_control(fd, 8, "\x03\xea", 2);
            return -1;
        }

        if (plen == 126) {
            if (ws->in_len < 4) {
                return 0;
            }
            plen = ((size_t) (unsigned char) f[2] << 8)
                   | (unsigned char) f[3];
            hl = 4;

        } else if (plen == 127) {
            /* nothing a client needs to send here is that large */
            (void) re_ws_control(fd, 8, "\x03\xf1", 2);
            return -1;
        }

        hl += 4;

        if (hl + plen > sizeof(ws->in)) {
            (void) re_ws_control(fd, 8, "\x03\xf1", 2);
            return -1;
        }

        if (ws->in_len < hl + plen) {
            return 0;
        }

        if (op == 8 || op == 9) {
            for (i = 0; i < plen && i < sizeof(payload); i++) {
                payload[i] = (char) (f[hl + i] ^ f[hl - 4 + (i % 4)]);
            }

            if (op == 8) {
                /* the close echoed, status code included */
                (void) re_ws_control(fd, 8, payload, plen < 2 ? 0 : 2);
                return -1;
            }

            if (re_ws_control(fd, 10, payload, plen) != 0) {
                return -1;
            }
        }

        memmove(ws->in, ws->in + hl + plen, ws->in_len - hl - plen);
        ws->in_len -= hl + plen;
    }
}


static void
re_ws_run(void *cls, struct MHD_Connection *c, void *con_cls,
    const char *extra_in, size_t extra_in_size, MHD_socket sock,
    struct MHD_UpgradeResponseHandle *urh)
{
    int             rc;
    re_ws_t         ws;
    long long       last;
    struct pollfd   pfd;

    (void) c;
    (void) con_cls;

    /* a thread per connection: this loop may block it */
    memset(&ws, 0, sizeof(ws));
    ws.st = cls;

    if (extra_in_size > sizeof(ws.in)) {
        goto done;
    }

    memcpy(ws.in, extra_in, extra_in_size);
    ws.in_len = extra_in_size;

    re_info("events.ws_open", "after=%lld", ws.st->after);

    last = re_now_ms();

    for ( ;; ) {
        rc = re_stream_next(ws.st, RE_WS_POLL_MS);

        if (rc < 0) {
            (void) re_ws_control(sock, 8, "\x03\xe9", 2);      /* 1001 */
            break;
        }

        if (rc == 0) {
            if (re_ws_send(sock, ws.st->buf, ws.st->len) != 0) {
                break;
            }
            last = re_now_ms();
        }

        if (re_now_ms() - last >= re_events_heartbeat_ms()) {
            re_stream_heartbeat(ws.st);
            if (re_ws_send(sock, ws.st->buf, ws.st->len) != 0) {
                break;
            }
            last = re_now_ms();
        }

        pfd.fd = sock;
        pfd.events = POLLIN;
        pfd.revents = 0;

        if (poll(&pfd, 1, 0) > 0 && re_ws_input(&ws, sock) != 0) {
            break;
        }
    }

    re_info("events.ws_closed", "after=%lld", ws.st->after);

done:

    re_stream_free(ws.st);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}


/* Sec-WebSocket-Accept: base64(SHA-1(key + GUID)) */
static int
re_ws_accept(const char *key, char *out, size_t size)
{
    char           buf[128];
    unsigned char  md[SHA_DIGEST_LENGTH];

    if (strlen(key) > 64 || size < 4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1) {
        return -1;
    }

    snprintf(buf, sizeof(buf), "%s%s", key, RE_WS_GUID);
    SHA1((const unsigned char *) buf, strlen(buf), md);
    EVP_EncodeBlock((unsigned char *) out, md, SHA_DIGEST_LENGTH);

    return 0;
}


int
re_events_ws(struct MHD_Connection *c, long long after, json_t *status,
    const char **err)
{
    int                   rc;
    char                  accept[64];
    const char           *key, *version;
    re_stream_t          *st;
    struct MHD_Response  *resp;

    key = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                      "Sec-WebSocket-Key");
    version = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                          "Sec-WebSocket-Version");

    if (key == NULL || version == NULL || strcmp(version, "13") != 0
        || re_ws_accept(key, accept, sizeof(accept)) != 0)
    {
        json_decref(status);
        *err = "a WebSocket upgrade needs Sec-WebSocket-Key and "
               "Sec-WebSocket-Version: 13";
        return -1;
    }

    st = re_stream_new(RE_STREAM_WS, after, status);
    if (st == NULL) {
        return MHD_NO;
    }

    resp = MHD_create_response_for_upgrade(re_ws_run, st);
    if (resp == NULL) {
        re_stream_free(st);
        return MHD_NO;
    }

    /* MHD adds Connection: Upgrade */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);

    rc = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    MHD_destroy_response(resp);

    if (rc != MHD_YES) {
        /* never upgraded: the handler that frees it will not run */
        re_stream_free(st);
    }

    return rc;
}
