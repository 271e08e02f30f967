/* GitHub repositories from remotes' URLs and the API's base URL
 * (engine/re_github.c), which decide where the engine sends its token. */

#include <string.h>

#include "tap.h"
#include "re_github.h"


static int
parses(const char *url, const char *host, const char *owner,
    const char *repo)
{
    re_github_repo_t  r;

    return re_github_parse_url(url, &r) == 0 && strcmp(r.host, host) == 0
           && strcmp(r.owner, owner) == 0 && strcmp(r.repo, repo) == 0;
}


static int
refused(const char *url)
{
    re_github_repo_t  r;

    return re_github_parse_url(url, &r) == -1 && r.host[0] == '\0'
           && r.owner[0] == '\0' && r.repo[0] == '\0';
}


int
main(void)
{
    char              api[256];
    size_t            i;
    re_github_repo_t  r;

    static const char *const bad[] = {
        "", "/srv/git/app.git", "file:///srv/app.git", "app",
        "http://github.com/o/r.git", "git://github.com/o/r.git",
        "https://github.com/o", "https://github.com/o/", "https://github.com/",
        "https://github.com", "https://github.com/o/r/extra",
        "https://github.com//r", "https://github.com/o/.git",
        "https://github.com/../r", "https://github.com/o/..",
        "https://github.com/o/.", "https://github.com/o%2fx/r",
        "https://github.com/o/r?x=1", "https://github.com/o/r#frag",
        "https://github.com/o/r x", "https://github.com/o.x/r",
        "https://:443/o/r", "https://-bad.com/o/r", "https://gh.com:/o/r",
        "https://gh.com:123456/o/r", "https://gh.com:8x/o/r",
        "https://[::1]/o/r", "https://gh_host.com/o/r",
        "git@github.com:o", "git@github.com:/o/r", "github.com/o:r",
        "git@github.com:22:o/r", "ssh://git@github.com",
        "https://github.com/o/r//",
        "https://github.com/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/r",
        NULL
    };

    ok(parses("https://github.com/acme/app.git", "github.com", "acme", "app"),
       "https with .git");
    ok(parses("https://github.com/acme/app", "github.com", "acme", "app"),
       "https without .git");
    ok(parses("https://github.com/acme/app/", "github.com", "acme", "app"),
       "a trailing slash");
    ok(parses("https://x-access-token:secret@GitHub.com/Acme/my.app.git",
              "github.com", "Acme", "my.app"),
       "credentials dropped, host lowercased, dots in the name kept");
    ok(parses("https://ghe.corp.example:8443/team-1/svc_2.git",
              "ghe.corp.example:8443", "team-1", "svc_2"),
       "an Enterprise host with a port");
    ok(parses("git@github.com:acme/app.git", "github.com", "acme", "app"),
       "scp-like ssh");
    ok(parses("github.com:acme/app", "github.com", "acme", "app"),
       "scp-like without a user");
    ok(parses("ssh://git@github.com:22/acme/app.git", "github.com:22", "acme",
              "app"),
       "ssh:// with a port");
    ok(parses("https://github.com/acme/.github.git", "github.com", "acme",
              ".github"),
       "a name starting with a dot");
    ok(refused("https://github.com/acme/.git.git"), "\".git\" is no name");

    for (i = 0; bad[i]; i++) {
        ok(refused(bad[i]), "refused: \"%s\"", bad[i]);
    }

    ok(re_github_parse_url(NULL, &r) == -1, "NULL refused");

    ok(re_github_parse_url("https://github.com/acme/app.git", &r) == 0
       && re_github_api_base(&r, NULL, api, sizeof(api)) == 0
       && strcmp(api, "https://api.github.com") == 0,
       "github.com: api.github.com");

    ok(re_github_parse_url("git@ghe.corp.example:acme/app.git", &r) == 0
       && re_github_api_base(&r, "", api, sizeof(api)) == 0
       && strcmp(api, "https://ghe.corp.example/api/v3") == 0,
       "another host: its /api/v3");

    ok(re_github_api_base(&r, "http://127.0.0.1:9/base//", api, sizeof(api))
       == 0 && strcmp(api, "http://127.0.0.1:9/base") == 0,
       "an override, without trailing slashes");

    ok(re_github_api_base(&r, "ftp://x", api, sizeof(api)) == -1
       && re_github_api_base(&r, "https://x/a b", api, sizeof(api)) == -1
       && re_github_api_base(&r, "https://x/?q", api, sizeof(api)) == -1,
       "a bad override refused");

    ok(re_github_api_base(&r, "https://a-rather-long-host.example/api",
                          api, 10) == -1,
       "too long for the buffer: refused, not cut");

    return done_testing();
}
