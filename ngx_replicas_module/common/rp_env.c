/* Environment names and paths: see rp_env.h.  All input is untrusted. */

#include <string.h>

#include "rp_env.h"


/* files a shell (or ssh, readline) runs or reads as code at start */
static const char  *rp_env_startup_files[] = {
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
    ".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout", ".kshrc",
    ".cshrc", ".tcshrc", ".login", ".logout", ".inputrc", ".ssh",
    ".gitconfig", ".config/git", ".config/fish", ".config/environment.d",
    ".config/autostart", NULL
};


/* loader variables: exact names, then prefixes ending in '_' or '*' */
static const char  *rp_env_loader_names[] = {
    "PATH", "NODE_OPTIONS", "NODE_PATH", "PYTHONPATH", "PYTHONHOME",
    "PYTHONSTARTUP", "PYTHONUSERBASE", "PERL5LIB", "PERL5OPT", "PERLLIB",
    "RUBYOPT", "RUBYLIB", "BASH_ENV", "ENV", "ZDOTDIR", "PROMPT_COMMAND",
    "SHELLOPTS", "BASHOPTS", "PS4", "IFS", "HOME", "GIT_EXEC_PATH",
    "GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS", "SSH_ASKPASS",
    "GIT_TEMPLATE_DIR", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
    "CLASSPATH", "GCONV_PATH", "LOCPATH", "MALLOC_CONF", "EDITOR", "VISUAL",
    "PAGER", "GIT_PAGER", "SHELL", NULL
};

static const char  *rp_env_loader_prefixes[] = {
    "LD_", "DYLD_", "GIT_CONFIG", "BASH_FUNC_", "NPM_CONFIG_",
    "npm_config_", NULL
};


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


int
rp_env_path_allowed(const char *s, size_t len)
{
    size_t        i, start, n;
    const char  **f;

    start = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != '/') {
            continue;
        }

        /* any ".git" part: a repository's hooks and config */
        if (i - start == 4 && memcmp(s + start, ".git", 4) == 0) {
            return 0;
        }

        start = i + 1;
    }

    /* ".home/<start-up file>" and anything under such a directory */
    if (len <= 6 || memcmp(s, ".home/", 6) != 0) {
        return 1;
    }

    for (f = rp_env_startup_files; *f; f++) {
        n = strlen(*f);

        if (len - 6 >= n && memcmp(s + 6, *f, n) == 0
            && (len - 6 == n || s[6 + n] == '/'))
        {
            return 0;
        }
    }

    return 1;
}


int
rp_env_var_loader(const char *s, size_t len)
{
    size_t        n;
    const char  **v;

    for (v = rp_env_loader_names; *v; v++) {
        if (strlen(*v) == len && memcmp(s, *v, len) == 0) {
            return 1;
        }
    }

    for (v = rp_env_loader_prefixes; *v; v++) {
        n = strlen(*v);

        if (len >= n && memcmp(s, *v, n) == 0) {
            return 1;
        }
    }

    return 0;
}
