/*
 * libFuzzer target: control's repository policy (control/rc_repo_url.c),
 * what decides which repository a workspace may be made from: any bytes
 * as "flags URL \n org \n CIDR", checked against a policy with a local
 * root (an organisation's folder in a temporary directory), a
 * --repo-hosts file and the CIDR allowed.  No crash, no read past the
 * input, every refusal has a reason, an accepted local path is inside
 * the organisation's folder, and a resolved host's pinning lines name it.
 * Only names of the hosts file and literal addresses are resolved: no
 * lookup leaves the machine.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/rp_url.h"
#include "rc_repo_url.h"


static char  fuzz_root[64], fuzz_hosts[96];

static const char  *fuzz_names[] = { "lan.test", "pub.test", "six.test" };


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char   path[160];
    FILE  *f;

    (void) argc;
    (void) argv;

    snprintf(fuzz_root, sizeof(fuzz_root), "/tmp/fuzz-repo-policy-XXXXXX");
    if (mkdtemp(fuzz_root) == NULL) {
        abort();
    }

    snprintf(path, sizeof(path), "%s/org1", fuzz_root);
    (void) mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/org1/repo", fuzz_root);
    (void) mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/org2", fuzz_root);
    (void) mkdir(path, 0700);

    snprintf(fuzz_hosts, sizeof(fuzz_hosts), "%s/hosts", fuzz_root);
    f = fopen(fuzz_hosts, "w");
    if (f == NULL) {
        abort();
    }

    fprintf(f, "10.1.2.3 lan.test # a LAN server\n"
               "192.0.2.7 pub.test\n8.8.8.8 pub.test\n"
               "2001:db8::1 six.test\n");
    fclose(f);

    return 0;
}


/* resolving it asks no DNS server: a name of the hosts file, a literal */
static int
fuzz_offline(const char *url)
{
    char          host[256];
    size_t        i, len;
    const char   *reason;
    unsigned char buf[16];
    rp_repo_url_t u;

    if (rp_repo_url_parse(url, strlen(url), &u, &reason) != 0
        || u.host == NULL)
    {
        return 1;
    }

    len = u.host_len;
    if (len >= sizeof(host)) {
        return 0;
    }

    memcpy(host, u.host, len);
    host[len] = '\0';

    for (i = 0; i < sizeof(fuzz_names) / sizeof(fuzz_names[0]); i++) {
        if (strcasecmp(host, fuzz_names[i]) == 0) {
            return 1;
        }
    }

    if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
        host[len - 1] = '\0';
        return inet_pton(AF_INET6, host + 1, buf) == 1;
    }

    return inet_pton(AF_INET, host, buf) == 1
           || inet_pton(AF_INET6, host, buf) == 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int               with_token, rc;
    char             *copy, *url, *org, *cidr, *nl;
    char              err[512], host[256], hosts[RC_REPO_HOSTS_MAX];
    rc_repo_policy_t  pol;

    if (size == 0 || size > 4096) {
        return 0;
    }

    /* strings: a NUL inside ends it, as it would for C callers */
    copy = malloc(size);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    with_token = data[0] & 1;

    url = copy;
    org = "org1";
    cidr = NULL;

    if ((nl = strchr(url, '\n')) != NULL) {
        *nl = '\0';
        org = nl + 1;

        if ((nl = strchr(org, '\n')) != NULL) {
            *nl = '\0';
            cidr = nl + 1;
        }
    }

    memset(&pol, 0, sizeof(pol));
    pol.roots[pol.n++] = fuzz_root;
    pol.hosts_file = fuzz_hosts;

    if (cidr) {
        (void) rc_repo_url_allow(&pol, cidr);
    }

    err[0] = '\0';
    rc = rc_repo_url_check(url, with_token, &pol, org, err, sizeof(err));

    if (rc != 0 && err[0] == '\0') {
        abort();                  /* a refusal always says why */
    }

    if (fuzz_offline(url)) {
        err[0] = '\0';
        rc = rc_repo_url_resolve(url, &pol, host, sizeof(host), hosts,
                                 sizeof(hosts), err, sizeof(err));

        if (rc != 0 && (err[0] == '\0' || hosts[0] != '\0')) {
            abort();
        }

        /* every pinning line names the host it pins */
        if (rc == 0 && hosts[0] && strstr(hosts, host) == NULL) {
            abort();
        }
    }

    free(copy);

    return 0;
}
