/*
 * libFuzzer target: replicas.yaml from an untrusted repository into JSON
 * (control/rc_yaml.c).  Any input: no crash, no leak, and a document it
 * accepts dumps as JSON.
 */

#include <stdint.h>
#include <stdlib.h>

#include "rc_yaml.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char    err[256], *text;
    json_t *doc;

    doc = rc_yaml_to_json((const char *) data, size, err, sizeof(err));

    if (doc) {
        text = json_dumps(doc, JSON_ENCODE_ANY);
        if (text == NULL) {
            abort();
        }
        free(text);
        json_decref(doc);
    }

    return 0;
}
