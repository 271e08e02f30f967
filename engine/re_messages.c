/* The message queue: see re_messages.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "re_events.h"
#include "re_files.h"
#include "re_log.h"
#include "re_messages.h"


static struct {
    pthread_mutex_t   lock;
    int               fd;
    off_t             size;        /* of the file, what is known good */
    json_t           *list;
    long long         last_seq;
} re_msgs = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };


/* reads every line back; a line that is not a message (a write cut by a
 * crash) is skipped, and the next append starts on a line of its own */
static int
re_messages_load(const char *path, int *torn)
{
    FILE       *f;
    char       *line;
    size_t      cap, n;
    ssize_t     len;
    json_t     *msg, *seq;

    *torn = 0;

    f = fopen(path, "re");
    if (f == NULL) {
        return errno == ENOENT ? 0 : -1;
    }

    line = NULL;
    cap = 0;
    n = 0;

    while ((len = getline(&line, &cap, f)) > 0) {
        n++;
        *torn = line[len - 1] != '\n';

        msg = json_loadb(line, (size_t) len, 0, NULL);
        seq = json_object_get(msg, "seq");

        if (!json_is_object(msg) || !json_is_integer(seq)) {
            re_warn("messages.bad_line", "line=%zu", n);
            json_decref(msg);
            continue;
        }

        if (json_integer_value(seq) > re_msgs.last_seq) {
            re_msgs.last_seq = json_integer_value(seq);
        }

        json_array_append_new(re_msgs.list, msg);
    }

    free(line);
    fclose(f);

    return 0;
}


int
re_messages_init(const char *state_dir)
{
    int          torn;
    char         path[4200];
    struct stat  st;

    if ((size_t) snprintf(path, sizeof(path), "%s/messages.jsonl", state_dir)
        >= sizeof(path))
    {
        re_error("engine.path_too_long", "what=state_dir");
        return -1;
    }

    re_msgs.list = json_array();

    if (re_msgs.list == NULL || re_messages_load(path, &torn) != 0) {
        re_error("messages.load_failed", "errno=%d", errno);
        return -1;
    }

    re_msgs.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    if (re_msgs.fd == -1 || fstat(re_msgs.fd, &st) != 0) {
        re_error("messages.open_failed", "errno=%d", errno);
        return -1;
    }

    re_msgs.size = st.st_size;

    if (torn && write(re_msgs.fd, "\n", 1) == 1) {
        re_msgs.size++;
    }

    re_info("messages.loaded", "count=%zu last_seq=%lld",
            json_array_size(re_msgs.list), re_msgs.last_seq);

    return 0;
}


static int
re_messages_append(const char *line, size_t len)
{
    if (re_write_all(re_msgs.fd, line, len) != 0) {
        goto failed;
    }

    /* the answer says "stored": it must be on disk first */
    if (fsync(re_msgs.fd) != 0) {
        goto failed;
    }

    re_msgs.size += (off_t) len;
    return 0;

failed:

    /* no half line left behind for the next append to run into */
    re_error("messages.write_failed", "errno=%d", errno);
    (void) ftruncate(re_msgs.fd, re_msgs.size);
    return -1;
}


re_msg_e
re_messages_add(const re_message_t *msg, size_t *position)
{
    char      *text;
    size_t     len;
    json_t    *j, *ev;
    re_msg_e   rc;

    pthread_mutex_lock(&re_msgs.lock);

    if (msg->seq <= re_msgs.last_seq) {
        pthread_mutex_unlock(&re_msgs.lock);
        re_info("message.duplicate", "seq=%lld last_seq=%lld", msg->seq,
                re_msgs.last_seq);
        return RE_MSG_DUPLICATE;
    }

    j = re_message_json(msg, (long long) time(NULL));
    text = j ? json_dumps(j, JSON_COMPACT) : NULL;

    rc = RE_MSG_FAILED;

    if (text) {
        len = strlen(text);
        text[len] = '\n';           /* over the NUL: written by length */

        if (re_messages_append(text, len + 1) == 0) {
            *position = json_array_size(re_msgs.list);
            json_array_append(re_msgs.list, j);
            re_msgs.last_seq = msg->seq;
            rc = RE_MSG_QUEUED;

            /* under the lock: events in the queue's order.  The text is
             * the user's own, and clients show it */
            ev = json_deep_copy(j);
            json_object_set_new(ev, "position", json_integer(*position));
            re_events_emit("message.received", ev);
        }
    }

    pthread_mutex_unlock(&re_msgs.lock);

    free(text);
    json_decref(j);

    if (rc == RE_MSG_QUEUED) {
        re_info("message.queued", "seq=%lld position=%zu", msg->seq,
                *position);
    }

    return rc;
}


json_t *
re_messages_list(void)
{
    json_t  *copy;

    pthread_mutex_lock(&re_msgs.lock);
    copy = json_deep_copy(re_msgs.list);
    pthread_mutex_unlock(&re_msgs.lock);

    return json_pack("{s:o}", "messages", copy ? copy : json_array());
}


void
re_messages_counts(size_t *count, long long *last_seq)
{
    pthread_mutex_lock(&re_msgs.lock);
    *count = json_array_size(re_msgs.list);
    *last_seq = re_msgs.last_seq;
    pthread_mutex_unlock(&re_msgs.lock);
}
