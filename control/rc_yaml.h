/*
 * replicas.yaml, read into the same JSON document replicas.json holds,
 * with libyaml's parser (Debian's libyaml).  The repository is untrusted,
 * so: the first document only, depth at most 32, aliases and anchors
 * refused (no "billion laughs"), duplicate keys refused, keys must be
 * scalars.  Plain scalars become true/false, null, integers or strings as
 * YAML 1.2's core schema says; quoted ones stay strings.
 */

#ifndef RC_YAML_H
#define RC_YAML_H

#include <stddef.h>

#include <jansson.h>


/* the document as JSON, or NULL with a reason (and line) in err */
json_t *rc_yaml_to_json(const char *buf, size_t len, char *err,
    size_t errlen);

#endif /* RC_YAML_H */
