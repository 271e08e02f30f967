/* Unit tests of environment names and paths (common/rp_env.c). */

#include <string.h>

#include "common/rp_env.h"
#include "tap.h"


#define S(s)  s, sizeof(s) - 1


int
main(void)
{
    char  buf[300];

    ok(rp_env_name_ok(S("global")), "global");
    ok(rp_env_name_ok(S("dev")) && rp_env_name_ok(S("a")), "short names");
    ok(rp_env_name_ok(S("0-staging_eu")), "digits, dash, underscore");
    ok(!rp_env_name_ok(S("")), "empty refused");
    ok(!rp_env_name_ok(S("-dev")) && !rp_env_name_ok(S("_dev")),
       "a leading dash or underscore refused");
    ok(!rp_env_name_ok(S("Dev")), "uppercase refused");
    ok(!rp_env_name_ok(S("a b")) && !rp_env_name_ok(S("a:b"))
       && !rp_env_name_ok(S("a/b")) && !rp_env_name_ok(S("a|b")),
       "space, colon, slash, bar refused");
    memset(buf, 'a', sizeof(buf));
    ok(rp_env_name_ok(buf, 64), "64 characters");
    ok(!rp_env_name_ok(buf, 65), "65 refused");

    ok(rp_env_var_name_ok(S("PATH")) && rp_env_var_name_ok(S("_x1"))
       && rp_env_var_name_ok(S("aWS_2")), "variable names");
    ok(!rp_env_var_name_ok(S("1A")), "a leading digit refused");
    ok(!rp_env_var_name_ok(S("")), "an empty variable name refused");
    ok(!rp_env_var_name_ok(S("A-B")) && !rp_env_var_name_ok(S("A=B"))
       && !rp_env_var_name_ok(S("A B")) && !rp_env_var_name_ok(S("\xc3\xa9")),
       "dash, equals, space, non-ASCII refused");
    ok(rp_env_var_name_ok(buf, 128), "128 characters");
    ok(!rp_env_var_name_ok(buf, 129), "129 refused");

    ok(rp_env_path_ok(S(".env")) && rp_env_path_ok(S("a/b/c.txt"))
       && rp_env_path_ok(S(".config/x/..y")) && rp_env_path_ok(S("a..b")),
       "relative paths, dot files");
    ok(!rp_env_path_ok(S("/etc/passwd")), "absolute refused");
    ok(!rp_env_path_ok(S("..")) && !rp_env_path_ok(S("../x"))
       && !rp_env_path_ok(S("a/../x")) && !rp_env_path_ok(S("a/..")),
       ".. parts refused");
    ok(!rp_env_path_ok(S(".")) && !rp_env_path_ok(S("./x"))
       && !rp_env_path_ok(S("a/./b")), ". parts refused");
    ok(!rp_env_path_ok(S("a//b")) && !rp_env_path_ok(S("a/"))
       && !rp_env_path_ok(S("")), "empty parts refused");
    ok(!rp_env_path_ok(S("a\0b")) && !rp_env_path_ok(S("a\nb"))
       && !rp_env_path_ok(S("a\x7f")), "NUL and control characters refused");
    ok(rp_env_path_ok(buf, 255), "255 bytes");
    ok(!rp_env_path_ok(buf, 256), "256 refused");

    ok(rp_env_path_allowed(S(".npmrc")) && rp_env_path_allowed(S("a/.gitx"))
       && rp_env_path_allowed(S(".home/.npmrc"))
       && rp_env_path_allowed(S("repo/.github/workflows/x.yml"))
       && rp_env_path_allowed(S("x/.home/.bashrc")),
       "ordinary files allowed");
    ok(!rp_env_path_allowed(S(".git/config"))
       && !rp_env_path_allowed(S("repo/.git/hooks/pre-commit"))
       && !rp_env_path_allowed(S("a/b/.git")), "a .git part refused");
    ok(!rp_env_path_allowed(S(".home/.bashrc"))
       && !rp_env_path_allowed(S(".home/.profile"))
       && !rp_env_path_allowed(S(".home/.bash_profile"))
       && !rp_env_path_allowed(S(".home/.zshrc"))
       && !rp_env_path_allowed(S(".home/.config/fish/config.fish"))
       && !rp_env_path_allowed(S(".home/.ssh/rc")),
       "the home folder's start-up files refused");
    ok(rp_env_path_allowed(S(".home/.bashrc.bak")), "a look-alike allowed");

    ok(rp_env_var_loader(S("LD_PRELOAD")) && rp_env_var_loader(S("LD_LIBRARY_PATH"))
       && rp_env_var_loader(S("PATH")) && rp_env_var_loader(S("NODE_OPTIONS"))
       && rp_env_var_loader(S("PYTHONPATH")) && rp_env_var_loader(S("BASH_ENV"))
       && rp_env_var_loader(S("GIT_CONFIG_GLOBAL")), "loader variables");
    ok(!rp_env_var_loader(S("API_TOKEN")) && !rp_env_var_loader(S("PATHS"))
       && !rp_env_var_loader(S("LD")) && !rp_env_var_loader(S("MY_PATH")),
       "ordinary variables");

    return done_testing();
}
