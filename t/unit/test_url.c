/* Credentials in repository URLs (common/rp_url.c). */

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "common/rp_url.h"


static int
has(const char *s)
{
    return rp_url_has_userinfo(s, strlen(s));
}


static void
strip(const char *in, const char *want, const char *name)
{
    char  buf[256];

    snprintf(buf, sizeof(buf), "%s", in);
    rp_url_strip_userinfo(buf);
    ok(strcmp(buf, want) == 0, name);
}


int
main(void)
{
    ok(has("https://x-access-token:ghp_abc@github.com/o/r.git"),
       "user and token before the host");
    ok(has("https://token@github.com/o/r"), "a token alone");
    ok(has("http://a:b@host"), "no path after the host");
    ok(!has("https://github.com/o/r.git"), "a plain https URL");
    ok(!has("https://github.com/o/r@v1"), "an @ in the path is not userinfo");
    ok(!has("https://host/p?x=a@b"), "nor in the query");
    ok(!has("https://host#a@b"), "nor in the fragment");
    ok(!has("/srv/repos/app"), "a local path");
    ok(!has("/srv/a@b/app"), "a local path with an @");
    ok(!has("file:///srv/repos/app"), "file://");
    ok(!has(""), "empty");
    ok(!has("https:/"), "cut short");
    ok(rp_url_has_userinfo("https://u@h", 11) && !rp_url_has_userinfo("https://u@h", 9),
       "only len bytes are read");

    strip("failed to clone 'https://x:ghp_s@github.com/o/r': 401",
          "failed to clone 'https://github.com/o/r': 401", "userinfo cut out of a message");
    strip("no https://github.com/o/r@v1 here", "no https://github.com/o/r@v1 here",
          "an @ in the path stays");
    strip("no URL at all", "no URL at all", "a message without a URL stays");

    return done_testing();
}
