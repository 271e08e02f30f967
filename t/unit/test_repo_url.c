/* control/rc_repo_url.c: which repositories a workspace may be made from.
 * Local ones per organisation under the roots (links resolved), schemes
 * and tokens, and hosts resolved (through a --repo-hosts file here: no
 * lookup leaves the machine) and checked against the allowed ranges, with
 * the hosts lines that pin them. */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "rc_repo_url.h"


static char              err[512];
static rc_repo_policy_t  pol;


static int
check(const char *url, const char *org)
{
    err[0] = '\0';
    return rc_repo_url_check(url, 0, &pol, org, err, sizeof(err));
}


static int
resolve(const char *url, char *hosts, size_t len)
{
    char  host[256];

    err[0] = '\0';
    return rc_repo_url_resolve(url, &pol, host, sizeof(host), hosts, len,
                               err, sizeof(err));
}


int
main(void)
{
    char   tmpl[] = "/tmp/test-repo-url-XXXXXX", path[256], other[512];
    char   hosts[RC_REPO_HOSTS_MAX];
    char  *root;
    FILE  *f;

    root = mkdtemp(tmpl);
    if (root == NULL) {
        return 1;
    }

    snprintf(path, sizeof(path), "%s/org1", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/org1/app", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/org2", root);
    mkdir(path, 0755);
    snprintf(other, sizeof(other), "%s/org2/link", root);
    snprintf(path, sizeof(path), "%s/org1/app", root);
    ok(symlink(path, other) == 0, "a link from org2's folder into org1's");

    pol.roots[pol.n++] = root;

    /* local repositories: the organisation's own folder only */
    ok(check(path, "org1") == 0, "org1's repository, for org1");
    ok(check(path, "org2") != 0 && strstr(err, "organisation's own folder"),
       "org1's repository, for org2: refused (%s)", err);
    ok(check(other, "org2") != 0, "a link in org2's folder into org1's: refused");
    snprintf(other, sizeof(other), "file://%s", path);
    ok(check(other, "org1") == 0, "file:// for its organisation");
    ok(check(other, "org2") != 0, "file:// for another: refused");
    snprintf(other, sizeof(other), "file://localhost%s", path);
    ok(check(other, "org1") == 0, "file://localhost/...");
    snprintf(other, sizeof(other), "%s/org1/../org1/app", root);
    ok(check(other, "org1") == 0, "a path with .. that stays inside");
    snprintf(other, sizeof(other), "%s/org1", root);
    ok(check(other, "org1") == 0, "the folder itself");
    ok(check(root, "org1") != 0, "the root above the folders: refused");
    ok(check(path, "") != 0 && check(path, NULL) != 0 && check(path, "..") != 0
       && check(path, "org1/../org1") != 0, "no org, or one that is not a name: refused");
    ok(check("/etc", "org1") != 0, "outside the roots: refused");
    ok(check("relative/path", "org1") != 0, "a relative path: refused");
    ok(check("/nonexistent/x", "org1") != 0, "no such path: refused");

    /* schemes and tokens */
    ok(check("https://github.com/o/r.git", "org1") == 0, "https");
    ok(check("ssh://example.com/r.git", "org1") == 0, "ssh");
    ok(check("git://example.com/r.git", "org1") == 0, "git");
    ok(rc_repo_url_check("git://example.com/r.git", 1, &pol, "org1", err,
                         sizeof(err)) != 0, "a token over git://: refused");
    ok(rc_repo_url_check("https://example.com/r.git", 1, &pol, "org1", err,
                         sizeof(err)) == 0, "a token over https");
    ok(check("gopher://example.com/r", "org1") != 0, "an unknown scheme: refused");
    ok(check("https://u:p@github.com/r", "org1") != 0, "credentials: refused");
    ok(check("https://gith%75b.com/r", "org1") != 0, "a %% in the host: refused");

    /* hosts, resolved through the operator's file */
    snprintf(other, sizeof(other), "%s/hosts", root);
    f = fopen(other, "w");
    fprintf(f, "# a comment\n127.0.0.1 inside.test\n10.1.2.3 lan.test lan2.test\n"
            "93.184.215.14 public.test\n93.184.215.15 public.test\n"
            "93.184.215.16 mixed.test\n127.0.0.2 mixed.test\n"
            "::ffff:127.0.0.1 mapped.test\n");
    fclose(f);
    pol.hosts_file = other;

    ok(resolve("git://inside.test/r.git", hosts, sizeof(hosts)) != 0
       && strstr(err, "127.0.0.1, in the loopback range")
       && strstr(err, "--allow-repo-range") && hosts[0] == '\0',
       "a name resolving to loopback: refused (%s)", err);
    ok(resolve("https://LAN2.test/r.git", hosts, sizeof(hosts)) != 0
       && strstr(err, "private"), "a private address, any of its names, any case");
    ok(resolve("http://mixed.test/r.git", hosts, sizeof(hosts)) != 0,
       "one special address among public ones: refused");
    ok(resolve("http://mapped.test/r.git", hosts, sizeof(hosts)) != 0
       && strstr(err, "IPv4-mapped"), "an IPv4-mapped answer: refused");
    ok(resolve("https://public.test:8443/r.git", hosts, sizeof(hosts)) == 0
       && strcmp(hosts, "93.184.215.14 public.test\n93.184.215.15 public.test\n")
          == 0, "public addresses: allowed, every one pinned");
    ok(resolve("https://93.184.215.14/r.git", hosts, sizeof(hosts)) == 0
       && hosts[0] == '\0', "a literal public address: nothing to pin");
    ok(resolve("git://127.0.0.1/r.git", hosts, sizeof(hosts)) != 0,
       "a literal loopback address: refused");
    ok(resolve(path, hosts, sizeof(hosts)) == 0 && hosts[0] == '\0',
       "a local repository: no network, nothing to resolve");

    ok(rc_repo_url_allow(&pol, "127.0.0.0/8") == 0, "allow 127.0.0.0/8");
    ok(resolve("git://inside.test/r.git", hosts, sizeof(hosts)) == 0
       && strcmp(hosts, "127.0.0.1 inside.test\n") == 0,
       "then the loopback name is allowed and pinned");
    ok(resolve("http://mapped.test/r.git", hosts, sizeof(hosts)) == 0,
       "its IPv4-mapped form too");
    ok(resolve("https://lan.test/r.git", hosts, sizeof(hosts)) != 0,
       "a private one still is not");
    ok(rc_repo_url_allow(&pol, "10.0.0.0/33") != 0
       && rc_repo_url_allow(&pol, "lan.test") != 0, "bad ranges refused");

    snprintf(other, sizeof(other), "rm -rf '%s'", root);
    (void) system(other);

    return done_testing();
}
