/* Environment names and paths: see rp_env.h.  All input is untrusted. */

#include "rp_env.h"


int
rp_env_name_ok(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > RP_ENV_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')) {
            continue;
        }

        if (i > 0 && (s[i] == '_' || s[i] == '-')) {
            continue;
        }

        return 0;
    }

    return 1;
}


int
rp_env_var_name_ok(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > RP_ENV_VAR_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
            || s[i] == '_' || (i > 0 && s[i] >= '0' && s[i] <= '9'))
        {
            continue;
        }

        return 0;
    }

    return 1;
}


int
rp_env_path_ok(const char *s, size_t len)
{
    size_t  i, start;

    if (len == 0 || len > RP_ENV_PATH_MAX || s[0] == '/') {
        return 0;
    }

    start = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)) {
            return 0;
        }

        if (i < len && s[i] != '/') {
            continue;
        }

        /* a part s[start, i) */
        if (i == start
            || (i - start == 1 && s[start] == '.')
            || (i - start == 2 && s[start] == '.' && s[start + 1] == '.'))
        {
            return 0;
        }

        start = i + 1;
    }

    return 1;
}
