/* control/rc_git_state.c: the git state kept for a workspace, from what
 * its engine says (/healthz's "repositories", GET /git's): untrusted, so
 * only the kept fields, of their types and sizes; one shape whichever
 * answer it came from. */

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "rc_git_state.h"


static char *
text_of(const char *json)
{
    char    *t;
    json_t  *j;

    j = json_loads(json, 0, NULL);
    t = rc_git_state_text(j);
    json_decref(j);

    return t;
}


static int
is(const char *json, const char *want)
{
    int    same;
    char  *t;

    t = text_of(json);
    same = t && strcmp(t, want) == 0;

    if (!same) {
        printf("# got %s\n", t ? t : "(null)");
    }

    free(t);

    return same;
}


int
main(void)
{
    char    big[600], *t, *a, *b;
    json_t *j;

    ok(is("[]", "[]"), "no repositories: an empty list");
    ok(text_of("{}") == NULL && text_of("null") == NULL
       && rc_git_state_text(NULL) == NULL, "not a list: nothing");

    /* /healthz's summary and GET /git's full answer: the same text */
    a = text_of("[{\"name\":\"app\",\"branch\":\"replicas/w1\",\"head\":"
                "\"0123456789abcdef0123456789abcdef01234567\",\"ahead\":2,"
                "\"pullRequest\":{\"url\":\"https://github.com/acme/app/pull/"
                "7\",\"number\":7}}]");
    b = text_of("[{\"name\":\"app\",\"branch\":\"replicas/w1\",\"head\":"
                "\"0123456789abcdef0123456789abcdef01234567\",\"ahead\":2,"
                "\"base\":\"89abcdef0123456789abcdef0123456789abcdef\","
                "\"dirty\":true,\"pullRequest\":{\"number\":7,\"url\":"
                "\"https://github.com/acme/app/pull/7\",\"state\":\"x\"},"
                "\"extra\":[1,2]}]");
    ok(a && b && strcmp(a, b) == 0, "the summary and the full state: one "
       "shape (base, dirty, unknown fields not kept)");
    ok(a && strcmp(a, "[{\"name\":\"app\",\"branch\":\"replicas/w1\","
                      "\"head\":\"0123456789abcdef0123456789abcdef01234567\","
                      "\"ahead\":2,\"pullRequest\":{\"url\":\"https://github."
                      "com/acme/app/pull/7\",\"number\":7}}]") == 0,
       "name, branch, head, ahead, pullRequest {url, number}");
    ok(a && b && rc_git_state_hash(a) == rc_git_state_hash(b)
       && rc_git_state_hash(a) != rc_git_state_hash("[]"),
       "the same hash for the same text, another for another");
    free(a);
    free(b);

    ok(is("[{\"name\":\"app\"}]", "[{\"name\":\"app\"}]"),
       "a detached HEAD without commits: its name only");
    ok(is("[{\"branch\":\"x\"},{\"name\":\"\"},{\"name\":7},\"app\",null,"
          "{\"name\":\"ok\"}]", "[{\"name\":\"ok\"}]"),
       "a repository without a name is not kept");
    ok(is("[{\"name\":\"a\\nb\"},{\"name\":\"a\\u007fb\"}]", "[]"),
       "nor one whose name has control characters");
    j = json_pack("[{s:s%}]", "name", "a\0b", (size_t) 3);
    t = rc_git_state_text(j);
    ok(t && strcmp(t, "[]") == 0, "nor one with a NUL");
    free(t);
    json_decref(j);
    ok(is("[{\"name\":\"app\",\"branch\":null,\"head\":null}]",
          "[{\"name\":\"app\"}]"), "null branch and head: left out");
    ok(is("[{\"name\":\"app\",\"head\":\"HEAD\"},{\"name\":\"b\",\"head\":"
          "\"0123456789ABCDEF0123456789ABCDEF01234567\"}]",
          "[{\"name\":\"app\"},{\"name\":\"b\"}]"),
       "a head that is no lowercase hex commit id: left out");
    ok(is("[{\"name\":\"app\",\"ahead\":-1},{\"name\":\"b\",\"ahead\":\"3\"},"
          "{\"name\":\"c\",\"ahead\":1.5}]",
          "[{\"name\":\"app\"},{\"name\":\"b\"},{\"name\":\"c\"}]"),
       "ahead: a count, else left out");
    ok(is("[{\"name\":\"app\",\"pullRequest\":{\"url\":\"javascript:alert(1)\","
          "\"number\":1}}]", "[{\"name\":\"app\"}]"),
       "a pull request's URL: http(s) only (the list links to it)");
    ok(is("[{\"name\":\"app\",\"pullRequest\":{\"url\":\"https://x/pull/1\","
          "\"number\":\"1\"}}]",
          "[{\"name\":\"app\",\"pullRequest\":{\"url\":\"https://x/pull/1\","
          "\"number\":0}}]"), "a number that is not one: 0");
    ok(is("[{\"name\":\"app\",\"pullRequest\":\"https://x/pull/1\"}]",
          "[{\"name\":\"app\"}]"), "a pull request that is no object: none");

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    t = malloc(2 * sizeof(big) + 64);
    snprintf(t, 2 * sizeof(big) + 64, "[{\"name\":\"%s\"},{\"name\":\"b\","
             "\"branch\":\"%s\"}]", big, big);
    ok(is(t, "[{\"name\":\"b\"}]"), "names and branches of at most 255 "
       "bytes");
    free(t);

    /* at most 64 repositories */
    t = malloc(100 * 16 + 8);
    strcpy(t, "[");
    for (int i = 0; i < 100; i++) {
        snprintf(t + strlen(t), 17, "%s{\"name\":\"r%02d\"}", i ? "," : "",
                 i);
    }
    strcat(t, "]");
    a = text_of(t);
    ok(a && strstr(a, "\"r63\"") && !strstr(a, "\"r64\""),
       "at most 64 repositories kept");
    free(a);
    free(t);

    return done_testing();
}
