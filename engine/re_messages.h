/*
 * The message queue: every message control delivers, in arrival order,
 * appended to <state-dir>/messages.jsonl (one JSON object a line, fsync'd
 * before the answer) and kept in memory.  The file is read back at
 * start, so the queue and the last seq survive a restart (a workspace's
 * sleep and wake); a seq not above the last one is a redelivery and is
 * dropped.  Agents consume the queue in a later issue.
 */

#ifndef RE_MESSAGES_H
#define RE_MESSAGES_H

#include <stddef.h>

#include <jansson.h>

#include "re_request.h"


typedef enum {
    RE_MSG_QUEUED = 0,
    RE_MSG_DUPLICATE,
    RE_MSG_FAILED           /* not stored: the disk refused */
} re_msg_e;


int re_messages_init(const char *state_dir);

/* position: how many messages are ahead of it in the queue */
re_msg_e re_messages_add(const re_message_t *msg, size_t *position);

/* {"messages":[...]} */
json_t *re_messages_list(void);

void re_messages_counts(size_t *count, long long *last_seq);

#endif /* RE_MESSAGES_H */
