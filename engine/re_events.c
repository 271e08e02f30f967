/*
 * The event stream: see re_events.h.
 *
 * Every event is appended to <state-dir>/events.jsonl (one envelope a
 * line, one write each, no fsync: the log is for clients to catch up,
 * not a record that must survive a power cut) and kept in a ring of the
 * latest RE_EVENTS_RING (at most RE_EVENTS_RING_BYTES) for replay.  A
 * client behind the ring is replayed from the file; behind the file too,
 * it gets an events.gap first.  Past RE_EVENTS_FILE_MAX the file is
 * replaced by the ring's events (a temp file renamed over it); ids go on.
 *
 * Each stream is served in its connection's thread (the server runs a
 * thread per connection): its reader waits on a condition variable for
 * the next event, or a heartbeat once the interval passes in silence.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "re_engine.h"
#include "re_events.h"
#include "re_events_int.h"
#include "re_files.h"
#include "re_http.h"
#include "re_log.h"


#define RE_EVENTS_RING        1000
#define RE_EVENTS_RING_BYTES  (8 * 1024 * 1024)
#define RE_EVENTS_FILE_MAX    (16 * 1024 * 1024)
/* a payload larger than this is replaced by {"truncated":true,...} */
#define RE_EVENTS_PAYLOAD_MAX (1024 * 1024)
#define RE_EVENTS_TYPE_MAX    64
#define RE_EVENTS_HEARTBEAT   15000
/* at shutdown, how long streams get to send their last events */
#define RE_EVENTS_DRAIN_MS    2000


typedef struct {
    long long   id;
    char        type[RE_EVENTS_TYPE_MAX + 1];
    char       *json;               /* the envelope, no newline */
    size_t      len;
} re_event_t;


static struct {
    pthread_mutex_t   lock;
    pthread_cond_t    cond;
    int               ready;        /* cond made, by re_events_init */
    int               shutdown;

    char              path[4200];
    int               fd;
    off_t             size;

    long long         last_id;
    re_event_t        ring[RE_EVENTS_RING];
    size_t            head;         /* the oldest */
    size_t            count;
    size_t            bytes;

    long long         heartbeat_ms;
    unsigned          streams;      /* open, SSE and WebSocket */
} re_ev = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1,
            .heartbeat_ms = RE_EVENTS_HEARTBEAT };




static void re_deadline(struct timespec *ts, long long ms);


/* ---- the ring ---------------------------------------------------------- */

static re_event_t *
re_ring_at(size_t i)
{
    return &re_ev.ring[(re_ev.head + i) % RE_EVENTS_RING];
}


static void
re_ring_drop(void)
{
    re_event_t  *e;

    e = re_ring_at(0);
    re_ev.bytes -= e->len;
    free(e->json);
    e->json = NULL;
    re_ev.head = (re_ev.head + 1) % RE_EVENTS_RING;
    re_ev.count--;
}


/* takes json */
static void
re_ring_push(long long id, const char *type, char *json, size_t len)
{
    re_event_t  *e;

    while (re_ev.count > 0
           && (re_ev.count == RE_EVENTS_RING
               || re_ev.bytes + len > RE_EVENTS_RING_BYTES))
    {
        re_ring_drop();
    }

    e = re_ring_at(re_ev.count);
    e->id = id;
    snprintf(e->type, sizeof(e->type), "%s", type);
    e->json = json;
    e->len = len;

    re_ev.count++;
    re_ev.bytes += len;
}


/* the oldest event in the ring with an id above after, or NULL */
static re_event_t *
re_ring_after(long long after)
{
    size_t       lo, hi, mid;
    re_event_t  *e;

    lo = 0;
    hi = re_ev.count;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (re_ring_at(mid)->id <= after) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }

    if (lo == re_ev.count) {
        return NULL;
    }

    e = re_ring_at(lo);
    return e;
}


static long long
re_ring_first(void)
{
    return re_ev.count ? re_ring_at(0)->id : re_ev.last_id + 1;
}


/* ---- lines of the file ----------------------------------------------------- */

static int
re_events_type_ok(const char *type)
{
    size_t  i;

    for (i = 0; type[i]; i++) {
        if (!((type[i] >= 'a' && type[i] <= 'z')
              || (type[i] >= '0' && type[i] <= '9')
              || type[i] == '.' || type[i] == '_' || type[i] == '-'))
        {
            return 0;
        }
    }

    return i > 0 && i <= RE_EVENTS_TYPE_MAX;
}


/* the id a line of ours starts with ({"id":N,...), or -1 */
static long long
re_line_id(const char *line, size_t len)
{
    char       *end;
    long long   id;

    if (len < 8 || strncmp(line, "{\"id\":", 6) != 0) {
        return -1;
    }

    errno = 0;
    id = strtoll(line + 6, &end, 10);

    if (errno != 0 || end == line + 6 || *end != ',' || id < 1) {
        return -1;
    }

    return id;
}


/* checks a whole line: its id and type, or -1 */
static long long
re_line_parse(const char *line, size_t len, char *type, size_t size)
{
    json_t      *j, *id, *t;
    long long    rc;

    j = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    id = json_object_get(j, "id");
    t = json_object_get(j, "type");

    rc = -1;

    if (json_is_integer(id) && json_integer_value(id) >= 1
        && json_is_string(t) && re_events_type_ok(json_string_value(t))
        && json_is_object(json_object_get(j, "payload")))
    {
        rc = json_integer_value(id);
        snprintf(type, size, "%s", json_string_value(t));
    }

    json_decref(j);

    return rc;
}


static int
re_events_write(const char *data, size_t len)
{
    if (re_write_all(re_ev.fd, data, len) != 0) {
        /* no half line left for the next append to run into */
        re_error("events.write_failed", "errno=%d", errno);
        (void) ftruncate(re_ev.fd, re_ev.size);
        return -1;
    }

    re_ev.size += (off_t) len;
    return 0;
}


/* the file past its limit: replaced by the ring's events, with the lock */
static void
re_events_rotate(void)
{
    int          fd;
    char        *all, *p;
    size_t       i, len;
    re_event_t  *e;

    len = re_ev.bytes + re_ev.count;
    all = malloc(len + 1);
    if (all == NULL) {
        return;
    }

    p = all;
    for (i = 0; i < re_ev.count; i++) {
        e = re_ring_at(i);
        memcpy(p, e->json, e->len);
        p += e->len;
        *p++ = '\n';
    }

    /* a stream replaying the old file keeps reading it: it is open */
    if (re_write_atomic(re_ev.path, all, len) != 0) {
        re_error("events.rotate_failed", "errno=%d", errno);
        free(all);
        return;
    }

    free(all);

    fd = open(re_ev.path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd == -1) {
        re_error("events.open_failed", "errno=%d", errno);
        return;
    }

    close(re_ev.fd);
    re_ev.fd = fd;
    re_ev.size = (off_t) len;

    re_info("events.rotated", "events=%zu bytes=%zu first_id=%lld",
            re_ev.count, len, re_ring_first());
}


/* ---- init, emit, shutdown ------------------------------------------------ */

int
re_events_init(const char *state_dir)
{
    int                 torn;
    char               *tail, *line, *nl, type[RE_EVENTS_TYPE_MAX + 1];
    char               *copy;
    size_t              len;
    long long           id, ms;
    const char         *hb;
    struct stat         st;
    pthread_condattr_t  attr;

    if ((size_t) snprintf(re_ev.path, sizeof(re_ev.path), "%s/events.jsonl",
                          state_dir)
        >= sizeof(re_ev.path))
    {
        re_error("engine.path_too_long", "what=state_dir");
        return -1;
    }

    /* tests make it short; nothing longer than the connection timeout */
    hb = getenv("REPLICAS_ENGINE_HEARTBEAT_MS");
    if (hb && hb[0]) {
        ms = strtoll(hb, NULL, 10);
        if (ms >= 10 && ms <= 30000) {
            re_ev.heartbeat_ms = ms;
        }
    }

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);

    if (pthread_cond_init(&re_ev.cond, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        return -1;
    }

    pthread_condattr_destroy(&attr);

    /* the ring from the file's tail; a partial first line is skipped */
    tail = re_read_tail(re_ev.path, RE_EVENTS_RING_BYTES, &len);
    if (tail == NULL) {
        re_error("events.load_failed", "errno=%d", errno);
        return -1;
    }

    if (stat(re_ev.path, &st) != 0) {
        st.st_size = 0;
    }

    line = tail;
    if ((off_t) len < st.st_size) {
        nl = memchr(tail, '\n', len);
        line = nl ? nl + 1 : tail + len;
    }

    torn = 0;

    pthread_mutex_lock(&re_ev.lock);

    while (line < tail + len) {
        nl = memchr(line, '\n', (size_t) (tail + len - line));

        if (nl == NULL) {
            /* a write cut by a crash */
            torn = 1;
            break;
        }

        id = re_line_parse(line, (size_t) (nl - line), type, sizeof(type));

        if (id > re_ev.last_id) {
            copy = strndup(line, (size_t) (nl - line));
            if (copy) {
                re_ring_push(id, type, copy, (size_t) (nl - line));
            }
            re_ev.last_id = id;

        } else {
            re_warn("events.bad_line", "after_id=%lld", re_ev.last_id);
        }

        line = nl + 1;
    }

    free(tail);

    re_ev.fd = open(re_ev.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                    0644);

    if (re_ev.fd == -1 || fstat(re_ev.fd, &st) != 0) {
        pthread_mutex_unlock(&re_ev.lock);
        re_error("events.open_failed", "errno=%d", errno);
        return -1;
    }

    re_ev.size = st.st_size;

    if (torn) {
        (void) re_events_write("\n", 1);
    }

    re_ev.ready = 1;

    pthread_mutex_unlock(&re_ev.lock);

    re_info("events.loaded", "last_id=%lld in_memory=%zu heartbeat_ms=%lld",
            re_ev.last_id, re_ev.count, re_ev.heartbeat_ms);

    return 0;
}


static void
re_events_ts(char *buf, size_t size)
{
    size_t           n;
    struct tm        tm;
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);

    n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03dZ",
             (int) (ts.tv_nsec / 1000000) % 1000);
}


/* {"id":N,"ts":"...","type":"...","payload":...}: malloc'd, *len set */
static char *
re_events_envelope(long long id, const char *type, const char *payload,
    size_t *len)
{
    int      n;
    char     ts[40], *text;
    size_t   size;

    re_events_ts(ts, sizeof(ts));

    size = strlen(payload) + strlen(type) + 128;
    text = malloc(size);
    if (text == NULL) {
        return NULL;
    }

    /* type is [a-z0-9._-]: nothing to escape */
    n = snprintf(text, size, "{\"id\":%lld,\"ts\":\"%s\",\"type\":\"%s\","
                 "\"payload\":%s}", id, ts, type, payload);

    if (n < 0 || (size_t) n >= size) {
        free(text);
        return NULL;
    }

    *len = (size_t) n;
    return text;
}


long long
re_events_emit(const char *type, json_t *payload)
{
    char       *p, *text, small[96];
    size_t      len;
    long long   id;

    if (!re_events_type_ok(type) || (payload && !json_is_object(payload))) {
        json_decref(payload);
        re_error("events.bad_event", "len=%zu", strlen(type));
        return -1;
    }

    p = payload ? json_dumps(payload, JSON_COMPACT) : strdup("{}");
    json_decref(payload);

    if (p == NULL) {
        re_error("events.emit_failed", "type=%s", type);
        return -1;
    }

    if (strlen(p) > RE_EVENTS_PAYLOAD_MAX) {
        snprintf(small, sizeof(small), "{\"truncated\":true,\"bytes\":%zu}",
                 strlen(p));
        free(p);
        p = strdup(small);
        if (p == NULL) {
            return -1;
        }
    }

    pthread_mutex_lock(&re_ev.lock);

    id = re_ev.last_id + 1;
    text = re_events_envelope(id, type, p, &len);

    if (text == NULL) {
        pthread_mutex_unlock(&re_ev.lock);
        free(p);
        re_error("events.emit_failed", "type=%s", type);
        return -1;
    }

    re_ev.last_id = id;

    if (re_ev.fd != -1) {
        text[len] = '\n';               /* over the NUL: written by length */

        if (re_events_write(text, len + 1) == 0
            && re_ev.size > RE_EVENTS_FILE_MAX)
        {
            re_ring_push(id, type, text, len);
            text[len] = '\0';
            re_events_rotate();
            text = NULL;

        } else {
            text[len] = '\0';
        }
    }

    if (text) {
        re_ring_push(id, type, text, len);
    }

    if (re_ev.ready) {
        pthread_cond_broadcast(&re_ev.cond);
    }

    pthread_mutex_unlock(&re_ev.lock);

    free(p);

    return id;
}


void
re_events_shutdown(void)
{
    struct timespec  deadline;

    pthread_mutex_lock(&re_ev.lock);

    re_ev.shutdown = 1;

    if (!re_ev.ready) {
        pthread_mutex_unlock(&re_ev.lock);
        return;
    }

    pthread_cond_broadcast(&re_ev.cond);

    /* streams end once they have sent what was emitted (engine.stopping
     * included); a client that reads nothing is cut by the server's stop */
    re_deadline(&deadline, RE_EVENTS_DRAIN_MS);

    while (re_ev.streams > 0) {
        if (pthread_cond_timedwait(&re_ev.cond, &re_ev.lock, &deadline)
            == ETIMEDOUT)
        {
            break;
        }
    }

    if (re_ev.streams > 0) {
        re_warn("events.streams_left", "count=%u", re_ev.streams);
    }

    pthread_mutex_unlock(&re_ev.lock);
}


long long
re_events_heartbeat_ms(void)
{
    /* set once, by re_events_init, before any stream opens */
    return re_ev.heartbeat_ms;
}


long long
re_events_last_id(void)
{
    long long  id;

    pthread_mutex_lock(&re_ev.lock);
    id = re_ev.last_id;
    pthread_mutex_unlock(&re_ev.lock);

    return id;
}


/* ---- frames of a stream ---------------------------------------------------- */

static int
re_stream_room(re_stream_t *st, size_t need)
{
    char    *p;
    size_t   cap;

    if (need <= st->cap) {
        return 0;
    }

    cap = st->cap ? st->cap : 4096;
    while (cap < need) {
        cap *= 2;
    }

    p = realloc(st->buf, cap);
    if (p == NULL) {
        return -1;
    }

    st->buf = p;
    st->cap = cap;

    return 0;
}


/*
 * One event as the stream sends it: SSE "id: N\nevent: T\ndata: J\n\n"
 * (no id line for an event that is not stored), or a WebSocket text
 * frame of the envelope.
 */
static int
re_stream_frame(re_stream_t *st, long long id, const char *type,
    const char *json, size_t len)
{
    int     n;
    size_t  i;

    if (re_stream_room(st, len + RE_EVENTS_TYPE_MAX + 128) != 0) {
        return -1;
    }

    if (st->mode == RE_STREAM_WS) {
        st->buf[0] = (char) 0x81;           /* FIN, text */
        i = 1;

        if (len < 126) {
            st->buf[i++] = (char) len;

        } else if (len < 65536) {
            st->buf[i++] = 126;
            st->buf[i++] = (char) (len >> 8);
            st->buf[i++] = (char) (len & 0xff);

        } else {
            st->buf[i++] = 127;
            for (n = 7; n >= 0; n--) {
                st->buf[i++] = (char) ((len >> (n * 8)) & 0xff);
            }
        }

        memcpy(st->buf + i, json, len);
        st->len = i + len;
        st->off = 0;
        return 0;
    }

    if (id > 0) {
        n = snprintf(st->buf, st->cap, "id: %lld\nevent: %s\ndata: ", id,
                     type);
    } else {
        n = snprintf(st->buf, st->cap, "event: %s\ndata: ", type);
    }

    memcpy(st->buf + n, json, len);
    memcpy(st->buf + n + len, "\n\n", 2);
    st->len = (size_t) n + len + 2;
    st->off = 0;

    return 0;
}


/* an event that is not stored (engine.status, events.gap): its id is
 * the stream's position, so a client keeping the last id seen is right */
static int
re_stream_frame_local(re_stream_t *st, const char *type, json_t *payload)
{
    int      rc;
    char    *p, *text;
    size_t   len;

    p = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);

    if (p == NULL) {
        return -1;
    }

    text = re_events_envelope(st->after, type, p, &len);
    free(p);

    if (text == NULL) {
        return -1;
    }

    rc = re_stream_frame(st, 0, type, text, len);
    free(text);

    return rc;
}


void
re_stream_heartbeat(re_stream_t *st)
{
    if (st->mode == RE_STREAM_WS) {
        /* a ping without payload */
        memcpy(st->buf, "\x89\x00", 2);
        st->len = 2;

    } else {
        memcpy(st->buf, ": heartbeat\n\n", 13);
        st->len = 13;
    }

    st->off = 0;
}


/* the next event of the file, older than the ring: 1 framed, 0 none left
 * (the file is closed), -1 failed */
static int
re_stream_file_next(re_stream_t *st)
{
    char        *line, type[RE_EVENTS_TYPE_MAX + 1];
    off_t        at;
    json_t      *gap;
    size_t       cap;
    ssize_t      n;
    long long    id;

    line = NULL;
    cap = 0;

    for ( ;; ) {
        at = ftello(st->file);
        n = getline(&line, &cap, st->file);

        if (n <= 0 || line[n - 1] != '\n') {
            break;
        }

        n--;

        id = re_line_id(line, (size_t) n);

        if (id <= st->after) {
            continue;
        }

        /* checked before the end: a line cut by a crash is not one */
        if (re_line_parse(line, (size_t) n, type, sizeof(type)) != id) {
            continue;
        }

        if (id >= st->file_until) {
            break;
        }

        if (id > st->after + 1 && at != -1) {
            /* the file was started afresh since: what came between is
             * gone.  This line again at the next call */
            free(line);

            if (fseeko(st->file, at, SEEK_SET) != 0) {
                return -1;
            }

            gap = json_pack("{s:I, s:I}", "after", (json_int_t) st->after,
                            "first", (json_int_t) id);
            st->after = id - 1;

            return gap && re_stream_frame_local(st, "events.gap", gap) == 0
                   ? 1 : -1;
        }

        st->after = id;
        st->file_tried = 0;

        n = re_stream_frame(st, id, type, line, (size_t) n);
        free(line);

        return n == 0 ? 1 : -1;
    }

    free(line);
    fclose(st->file);
    st->file = NULL;

    return 0;
}


static void
re_deadline(struct timespec *ts, long long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;

    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}


/*
 * Frames the stream's next event: from the file when the client is
 * behind the ring, else from the ring, waiting at most wait_ms for one.
 * 0: a frame is ready; 1: nothing came in wait_ms; -1: the end (the
 * engine stops, or no memory).
 */
int
re_stream_next(re_stream_t *st, long long wait_ms)
{
    int              rc;
    long long        first;
    json_t          *gap;
    re_event_t      *e;
    struct timespec  deadline;

    if (st->status) {
        rc = re_stream_frame_local(st, "engine.status", st->status);
        st->status = NULL;
        return rc;
    }

    re_deadline(&deadline, wait_ms);

    for ( ;; ) {

        if (st->file) {
            rc = re_stream_file_next(st);
            if (rc != 0) {
                return rc == 1 ? 0 : -1;
            }
        }

        pthread_mutex_lock(&re_ev.lock);

        for ( ;; ) {
            first = re_ring_first();

            if (st->after > re_ev.last_id) {
                /* ids from another life (the file was lost) */
                gap = json_pack("{s:I, s:I}", "after", (json_int_t) st->after,
                                "first", (json_int_t) (re_ev.last_id + 1));
                st->after = re_ev.last_id;
                pthread_mutex_unlock(&re_ev.lock);

                return gap ? re_stream_frame_local(st, "events.gap", gap) : -1;
            }

            if (st->after + 1 < first) {
                /* behind the ring */
                if (!st->file_tried) {
                    st->file_tried = 1;
                    st->file_until = first;
                    break;
                }

                gap = json_pack("{s:I, s:I}", "after", (json_int_t) st->after,
                                "first", (json_int_t) first);
                st->after = first - 1;
                st->file_tried = 0;
                pthread_mutex_unlock(&re_ev.lock);

                return gap ? re_stream_frame_local(st, "events.gap", gap) : -1;
            }

            e = re_ring_after(st->after);

            if (e) {
                st->after = e->id;
                rc = re_stream_frame(st, e->id, e->type, e->json, e->len);
                pthread_mutex_unlock(&re_ev.lock);
                return rc;
            }

            if (re_ev.shutdown) {
                pthread_mutex_unlock(&re_ev.lock);
                return -1;
            }

            rc = pthread_cond_timedwait(&re_ev.cond, &re_ev.lock, &deadline);

            if (rc == ETIMEDOUT) {
                pthread_mutex_unlock(&re_ev.lock);
                return 1;
            }
        }

        pthread_mutex_unlock(&re_ev.lock);

        /* outside the lock: the file may be long */
        st->file = fopen(re_ev.path, "re");
        if (st->file == NULL) {
            re_warn("events.replay_failed", "errno=%d", errno);
        }
    }
}


re_stream_t *
re_stream_new(re_stream_e mode, long long after, json_t *status)
{
    re_stream_t  *st;

    st = calloc(1, sizeof(re_stream_t));
    if (st == NULL || re_stream_room(st, 4096) != 0) {
        free(st);
        json_decref(status);
        return NULL;
    }

    st->mode = mode;
    st->status = status;

    pthread_mutex_lock(&re_ev.lock);
    st->after = after >= 0 ? after : re_ev.last_id;
    re_ev.streams++;
    pthread_mutex_unlock(&re_ev.lock);

    return st;
}


void
re_stream_free(void *cls)
{
    re_stream_t  *st = cls;

    pthread_mutex_lock(&re_ev.lock);
    re_ev.streams--;

    if (re_ev.shutdown && re_ev.ready) {
        /* re_events_shutdown waits for the last one */
        pthread_cond_broadcast(&re_ev.cond);
    }

    pthread_mutex_unlock(&re_ev.lock);

    if (st->file) {
        fclose(st->file);
    }

    json_decref(st->status);
    free(st->buf);
    free(st);
}


/* ---- server-sent events ------------------------------------------------------ */

static ssize_t
re_sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    int           rc;
    size_t        n;
    re_stream_t  *st = cls;

    (void) pos;

    /* a thread per connection: the wait is this connection's alone */
    while (st->off == st->len) {
        rc = re_stream_next(st, re_ev.heartbeat_ms);

        if (rc < 0) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }

        if (rc == 1) {
            re_stream_heartbeat(st);
        }
    }

    n = st->len - st->off;
    if (n > max) {
        n = max;
    }

    memcpy(buf, st->buf + st->off, n);
    st->off += n;

    return (ssize_t) n;
}


/* ---- GET /events ----------------------------------------------------------------- */

/* a decimal id >= 0 (at most 18 digits), or -1 */
static long long
re_events_parse_id(const char *s)
{
    size_t     i;
    long long  v;

    v = 0;

    for (i = 0; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 18) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }

    return i ? v : -1;
}


static int
re_events_json(struct MHD_Connection *c, long long after)
{
    char                 *text, *p;
    size_t                i, len;
    re_event_t           *e;
    struct MHD_Response  *resp;

    pthread_mutex_lock(&re_ev.lock);

    len = re_ev.bytes + re_ev.count + 128;
    text = malloc(len);

    if (text == NULL) {
        pthread_mutex_unlock(&re_ev.lock);
        return MHD_NO;
    }

    p = text + sprintf(text, "{\"first_id\":%lld,\"last_id\":%lld,"
                       "\"events\":[", re_ring_first(), re_ev.last_id);

    for (i = 0; i < re_ev.count; i++) {
        e = re_ring_at(i);

        if (e->id <= after) {
            continue;
        }

        if (p[-1] != '[') {
            *p++ = ',';
        }

        memcpy(p, e->json, e->len);
        p += e->len;
    }

    pthread_mutex_unlock(&re_ev.lock);

    memcpy(p, "]}", 3);

    resp = MHD_create_response_from_buffer(strlen(text), text,
                                           MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }

    return re_http_queue(c, MHD_HTTP_OK, resp, "application/json", NULL);
}


int
re_events_http(struct MHD_Connection *c, json_t *status, const char **err)
{
    long long             after;
    const char           *v, *format, *upgrade;
    re_stream_t          *st;
    struct MHD_Response  *resp;

    after = -1;

    /* an EventSource sends the last id it saw when it reconnects: newer
     * than the ?after= of the URL it first opened */
    v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (v == NULL || v[0] == '\0') {
        v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
    }

    if (v) {
        after = re_events_parse_id(v);
        if (after < 0) {
            json_decref(status);
            *err = "after (or Last-Event-ID) must be an event id, an "
                   "integer >= 0";
            return -1;
        }
    }

    format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");

    if (format && strcmp(format, "json") == 0) {
        json_decref(status);
        return re_events_json(c, after < 0 ? 0 : after);
    }

    if (format && strcmp(format, "sse") != 0) {
        json_decref(status);
        *err = "format must be json or sse";
        return -1;
    }

    upgrade = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                          MHD_HTTP_HEADER_UPGRADE);

    if (upgrade && strcasecmp(upgrade, "websocket") == 0) {
        return re_events_ws(c, after, status, err);
    }

    st = re_stream_new(RE_STREAM_SSE, after, status);
    if (st == NULL) {
        return MHD_NO;
    }

    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                             re_sse_read, st, re_stream_free);
    if (resp == NULL) {
        re_stream_free(st);
        return MHD_NO;
    }

    /* the gateway (nginx) passes each event on at once */
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");

    return re_http_queue(c, MHD_HTTP_OK, resp,
                         "text/event-stream; charset=utf-8", NULL);
}
