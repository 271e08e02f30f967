/* Credentials in repository URLs (common/rp_url.c). */

#include <string.h>

#include "tap.h"
#include "common/rp_url.h"


static int
has(const char *s)
{
    return rp_url_has_userinfo(s, strlen(s));
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

    return done_testing();
}
