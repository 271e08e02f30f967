/*
 * libFuzzer target: an engine's repository list as control keeps it
 * (control/rc_git_state.c; the engine runs in the workspace: untrusted).
 * Any JSON: no crash; what is kept is a list of at most 64 objects with a
 * name, within its bound, and keeping it again changes nothing.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rc_git_state.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char    *text, *again;
    size_t   i;
    json_t  *in, *kept, *r;

    in = json_loadb((const char *) data, size, 0, NULL);
    text = rc_git_state_text(in);
    json_decref(in);

    if (text == NULL) {
        return 0;
    }

    kept = json_loads(text, 0, NULL);

    if (!json_is_array(kept) || json_array_size(kept) > RC_GIT_STATE_REPOS
        || strlen(text) > RC_GIT_STATE_TEXT_MAX)
    {
        abort();
    }

    json_array_foreach(kept, i, r) {
        if (json_string_length(json_object_get(r, "name")) == 0
            || json_string_length(json_object_get(r, "name"))
               > RC_GIT_STATE_NAME_MAX)
        {
            abort();
        }
    }

    again = rc_git_state_text(kept);

    if (again == NULL || strcmp(again, text) != 0) {
        abort();
    }

    json_decref(kept);
    free(again);
    free(text);

    return 0;
}
