/* replicas.yaml into JSON: see rc_yaml.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "rc_yaml.h"


#define RC_YAML_DEPTH_MAX  32


typedef struct {
    yaml_parser_t   parser;
    char           *err;
    size_t          errlen;
    unsigned        depth;
} rc_yaml_t;


static json_t *rc_yaml_node(rc_yaml_t *y, yaml_event_t *ev);


static int
rc_yaml_next(rc_yaml_t *y, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&y->parser, ev)) {
        snprintf(y->err, y->errlen, "replicas.yaml line %lu: %s",
                 (unsigned long) y->parser.problem_mark.line + 1,
                 y->parser.problem ? y->parser.problem : "syntax error");
        return -1;
    }

    return 0;
}


static int
rc_yaml_fail(rc_yaml_t *y, yaml_event_t *ev, const char *what)
{
    snprintf(y->err, y->errlen, "replicas.yaml line %lu: %s",
             (unsigned long) ev->start_mark.line + 1, what);
    return -1;
}


/* a plain scalar's type by YAML 1.2's core schema; quoted: a string */
static json_t *
rc_yaml_scalar(yaml_event_t *ev)
{
    char        *end;
    long long    n;
    const char  *s;
    size_t       len;

    s = (const char *) ev->data.scalar.value;
    len = ev->data.scalar.length;

    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return json_stringn(s, len);
    }

    if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0
        || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
    {
        return json_null();
    }

    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0
        || strcmp(s, "TRUE") == 0)
    {
        return json_true();
    }

    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0
        || strcmp(s, "FALSE") == 0)
    {
        return json_false();
    }

    if ((s[0] >= '0' && s[0] <= '9')
        || ((s[0] == '-' || s[0] == '+') && s[1] >= '0' && s[1] <= '9'))
    {
        errno = 0;
        n = strtoll(s, &end, 10);

        if (errno == 0 && *end == '\0' && (size_t) (end - s) == len) {
            return json_integer(n);
        }
    }

    return json_stringn(s, len);
}


static json_t *
rc_yaml_mapping(rc_yaml_t *y)
{
    json_t        *obj, *value;
    yaml_event_t   ev;
    char          *key;

    obj = json_object();
    if (obj == NULL) {
        return NULL;
    }

    for ( ;; ) {
        if (rc_yaml_next(y, &ev) != 0) {
            goto failed;
        }

        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return obj;
        }

        if (ev.type != YAML_SCALAR_EVENT) {
            rc_yaml_fail(y, &ev, "keys must be plain text");
            yaml_event_delete(&ev);
            goto failed;
        }

        if (ev.data.scalar.anchor) {
            rc_yaml_fail(y, &ev, "anchors and aliases are not allowed");
            yaml_event_delete(&ev);
            goto failed;
        }

        key = strndup((const char *) ev.data.scalar.value,
                      ev.data.scalar.length);

        if (key == NULL || strlen(key) != ev.data.scalar.length
            || json_object_get(obj, key) != NULL)
        {
            rc_yaml_fail(y, &ev, key ? "a key is repeated or holds NUL"
                                     : "out of memory");
            free(key);
            yaml_event_delete(&ev);
            goto failed;
        }

        yaml_event_delete(&ev);

        if (rc_yaml_next(y, &ev) != 0) {
            free(key);
            goto failed;
        }

        value = rc_yaml_node(y, &ev);
        yaml_event_delete(&ev);

        if (value == NULL || json_object_set_new(obj, key, value) != 0) {
            free(key);
            goto failed;
        }

        free(key);
    }

failed:

    json_decref(obj);
    return NULL;
}


static json_t *
rc_yaml_sequence(rc_yaml_t *y)
{
    json_t        *arr, *value;
    yaml_event_t   ev;

    arr = json_array();
    if (arr == NULL) {
        return NULL;
    }

    for ( ;; ) {
        if (rc_yaml_next(y, &ev) != 0) {
            goto failed;
        }

        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return arr;
        }

        value = rc_yaml_node(y, &ev);
        yaml_event_delete(&ev);

        if (value == NULL || json_array_append_new(arr, value) != 0) {
            goto failed;
        }
    }

failed:

    json_decref(arr);
    return NULL;
}


/* the node that starts with ev (ev is the caller's to delete) */
static json_t *
rc_yaml_node(rc_yaml_t *y, yaml_event_t *ev)
{
    json_t  *v;

    switch (ev->type) {

    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor) {
            rc_yaml_fail(y, ev, "anchors and aliases are not allowed");
            return NULL;
        }
        return rc_yaml_scalar(ev);

    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        if ((ev->type == YAML_MAPPING_START_EVENT
             && ev->data.mapping_start.anchor)
            || (ev->type == YAML_SEQUENCE_START_EVENT
                && ev->data.sequence_start.anchor))
        {
            rc_yaml_fail(y, ev, "anchors and aliases are not allowed");
            return NULL;
        }

        if (++y->depth > RC_YAML_DEPTH_MAX) {
            rc_yaml_fail(y, ev, "nested too deeply");
            return NULL;
        }

        v = ev->type == YAML_MAPPING_START_EVENT ? rc_yaml_mapping(y)
                                                 : rc_yaml_sequence(y);
        y->depth--;
        return v;

    case YAML_ALIAS_EVENT:
        rc_yaml_fail(y, ev, "anchors and aliases are not allowed");
        return NULL;

    default:
        rc_yaml_fail(y, ev, "unexpected YAML structure");
        return NULL;
    }
}


json_t *
rc_yaml_to_json(const char *buf, size_t len, char *err, size_t errlen)
{
    json_t        *doc;
    rc_yaml_t      y;
    yaml_event_t   ev;

    memset(&y, 0, sizeof(y));
    y.err = err;
    y.errlen = errlen;
    doc = NULL;

    if (!yaml_parser_initialize(&y.parser)) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    yaml_parser_set_input_string(&y.parser, (const unsigned char *) buf, len);

    /* stream start, document start, the root node */
    for ( ;; ) {
        if (rc_yaml_next(&y, &ev) != 0) {
            goto done;
        }

        if (ev.type == YAML_STREAM_START_EVENT
            || ev.type == YAML_DOCUMENT_START_EVENT)
        {
            yaml_event_delete(&ev);
            continue;
        }

        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            snprintf(err, errlen, "replicas.yaml is empty");
            goto done;
        }

        doc = rc_yaml_node(&y, &ev);
        yaml_event_delete(&ev);
        break;
    }

done:

    yaml_parser_delete(&y.parser);

    return doc;
}
