/*
 * Chats: several per workspace, each with its own agent session and its
 * own FIFO queue of messages.  A message to an idle chat starts a turn at
 * once ("sent"); to a busy one it waits its turn ("queued", with how many
 * turns are ahead of it).  One turn is one run of the agent's CLI
 * (re_agent.h), resumed from the chat's session, so a conversation goes
 * on across turns, engine restarts and workspace sleeps.  Chats, their
 * sessions and their queues are kept in <state-dir>/chats.json.
 */

#ifndef RE_CHATS_H
#define RE_CHATS_H

#include <stddef.h>

#include <jansson.h>

#include "re_request.h"


#define RE_CHATS_MAX      32
#define RE_CHAT_QUEUE_MAX 1000


typedef enum {
    RE_CHAT_SENT = 0,         /* started now */
    RE_CHAT_QUEUED,           /* behind other turns */
    RE_CHAT_FOLDED,           /* joined a waiting turn of its kind */
    RE_CHAT_FULL,             /* the queue is full */
    RE_CHAT_NO_CHAT,          /* too many chats to make another */
    RE_CHAT_ERROR
} re_chat_e;


/* agents_dir: where the agents' CLIs are installed (npm prefix) */
int re_chats_init(const char *state_dir, const char *agents_dir);

/* where a submitted message went */
typedef struct {
    size_t       position;    /* turns ahead of its own */
    long long    into;        /* folded: the seq of the turn it joined */
    long long    count;       /* folded: the messages that turn holds */
} re_chat_place_t;

/* a stored message joins its chat's queue ("default" if none), or folds
 * into a waiting turn of its kind */
re_chat_e re_chats_submit(const re_message_t *msg, re_chat_place_t *place);

/* {"chats":[{name, agent, session_id, state, queued}]} */
json_t *re_chats_list(void);

/* 0 made, 1 exists already, -1 with err */
int re_chats_create(const char *name, const char *agent, char *err,
    size_t errlen);

/* its turn interrupted and queue dropped; 0, or -1 no such chat */
int re_chats_delete(const char *name);

/* the running turn stopped (the queue goes on); 1 stopped, 0 idle, -1 no
 * such chat */
int re_chats_interrupt(const char *name);

/* is any agent working (control counts it as activity) */
int re_chats_busy(void);

/* what the workspace's turns spent, kept across restarts:
 * {id, turns, input_tokens, output_tokens, cost_micro_usd} (a copy) */
json_t *re_chats_usage(void);

/* every running agent stopped */
void re_chats_shutdown(void);

#endif /* RE_CHATS_H */
