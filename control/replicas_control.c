/*
 * replicas-control: the platform's worker ("serve": rc_serve.c) and its
 * admin CLI (workspaces, identities).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "rc_environment.h"
#include "rc_identity.h"
#include "rc_workspace.h"
#include "rc_worker.h"


static void
rc_usage(void)
{
    fprintf(stderr,
        "usage: replicas-control [--redis HOST:PORT | --redis unix:PATH] "
        "COMMAND\n"
        "  serve [options]                                  the job worker; "
        "serve --help\n"
        "  workspace put ID --state STATE [--addr IPV4] [--org ORG]\n"
        "  workspace show ID\n"
        "  workspace delete ID\n"
        "  org create NAME                                  prints the org id\n"
        "  user create --org ORG --email EMAIL [--admin]     prints the user id\n"
        "  user disable|delete --user USER                   ends its sessions, tickets,\n"
        "                                                    share links and keys at once\n"
        "  key create --user USER [--workspace ID]          prints the key, once\n"
        "  key list --org ORG\n"
        "  key revoke PREFIX --org ORG\n"
        "  login-link --user USER [--url BASE]              one-time, 15 minutes\n"
        "  environment check --org ORG [--name NAME] --secrets-key FILE "
        "[--write DIR]\n"
        "                                                   names, never "
        "values\n"
        "REPLICAS_REDIS in the environment sets the default address "
        "(127.0.0.1:6379); REPLICAS_PUBLIC_URL the login link's base.\n");
}


/*
 * What each admin command takes, checked before anything is done: a
 * "--help" answers with the usage (exit 0) and an option the command does
 * not know with the usage too (exit 2), so neither becomes a name, an id or
 * an email ("org create --help" made an organisation named "--help").
 * valued: options followed by a value (which may start with "-"); flags:
 * options alone.
 */
typedef struct {
    const char  *cmd;
    const char  *sub;          /* NULL: the command has none */
    const char  *valued;       /* space-separated */
    const char  *flags;
} rc_command_t;


static const rc_command_t  rc_commands[] = {
    { "workspace", "put", "--state --addr --org", "" },
    { "workspace", "show", "", "" },
    { "workspace", "delete", "", "" },
    { "org", "create", "", "" },
    { "user", "create", "--org --email", "--admin" },
    { "user", "disable", "--user", "" },
    { "user", "delete", "--user", "" },
    { "key", "create", "--user --workspace", "" },
    { "key", "list", "--org", "" },
    { "key", "revoke", "--org", "" },
    { "login-link", NULL, "--user --url", "" },
    { "environment", "check", "--org --name --secrets-key --write", "" },
    { NULL, NULL, NULL, NULL }
};


static int
rc_word_in(const char *word, const char *list)
{
    size_t  len;

    len = strlen(word);

    while (*list) {
        if (strncmp(list, word, len) == 0
            && (list[len] == ' ' || list[len] == '\0'))
        {
            return 1;
        }

        list += strcspn(list, " ");
        list += strspn(list, " ");
    }

    return 0;
}


/* -1 fine; else the exit status after the usage (0 asked for, 2 wrong) */
static int
rc_args_check(int argc, char **argv)
{
    int                  i, first;
    const rc_command_t  *c;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return 0;
        }
    }

    for (c = rc_commands; c->cmd; c++) {
        if (strcmp(argv[0], c->cmd) == 0
            && (c->sub == NULL || (argc > 1 && strcmp(argv[1], c->sub) == 0)))
        {
            break;
        }
    }

    if (c->cmd == NULL) {
        return 2;
    }

    first = c->sub ? 2 : 1;

    for (i = first; i < argc; i++) {
        if (argv[i][0] != '-') {
            continue;                      /* a name, an id */
        }

        if (rc_word_in(argv[i], c->flags)) {
            continue;
        }

        if (!rc_word_in(argv[i], c->valued) || i + 1 == argc) {
            fprintf(stderr, "replicas-control: %s%s%s: unknown option or "
                    "missing value \"%s\"\n", c->cmd, c->sub ? " " : "",
                    c->sub ? c->sub : "", argv[i]);
            return 2;
        }

        i++;                               /* its value */
    }

    return -1;
}


static redisContext *
rc_connect(const char *addr)
{
    char            host[256];
    const char     *colon;
    redisContext   *rc;
    struct timeval  tv = { 2, 0 };

    if (strncmp(addr, "unix:", 5) == 0) {
        rc = redisConnectUnixWithTimeout(addr + 5, tv);

    } else {
        colon = strrchr(addr, ':');

        if (colon == NULL || (size_t) (colon - addr) >= sizeof(host)) {
            fprintf(stderr, "replicas-control: bad redis address \"%s\"\n",
                    addr);
            return NULL;
        }

        memcpy(host, addr, colon - addr);
        host[colon - addr] = '\0';

        rc = redisConnectWithTimeout(host, atoi(colon + 1), tv);
    }

    if (rc == NULL || rc->err) {
        fprintf(stderr, "replicas-control: redis %s: %s\n", addr,
                rc ? rc->errstr : "out of memory");
        redisFree(rc);
        return NULL;
    }

    return rc;
}


int
main(int argc, char **argv)
{
    int            i, rv;
    const char    *addr;
    redisContext  *rc;

    addr = getenv("REPLICAS_REDIS");
    if (addr == NULL || *addr == '\0') {
        addr = "127.0.0.1:6379";
    }

    i = 1;

    if (argc > 2 && strcmp(argv[1], "--redis") == 0) {
        addr = argv[2];
        i = 3;
    }

    if (argc - i >= 1 && strcmp(argv[i], "serve") == 0) {
        /* serve --help: the usage; --clean-host (auto/down when Redis is
         * gone): the host cleaned all the same.  Neither needs Redis
         * (nothing is touched before the options are read). */
        for (rv = i + 1; rv < argc; rv++) {
            if (strcmp(argv[rv], "--clean-host") == 0
                || strcmp(argv[rv], "--help") == 0
                || strcmp(argv[rv], "-h") == 0)
            {
                return rc_serve_main(NULL, argc - i, argv + i);
            }
        }

        rc = rc_connect(addr);
        if (rc == NULL) {
            return 1;
        }

        rv = rc_serve_main(rc, argc - i, argv + i);
        redisFree(rc);

        return rv;
    }

    if (argc - i < 2) {
        rc_usage();
        return argc - i == 1 && (strcmp(argv[i], "--help") == 0
                                 || strcmp(argv[i], "-h") == 0) ? 0 : 2;
    }

    /* before Redis: a usage question needs no connection, and changes
     * nothing */
    rv = rc_args_check(argc - i, argv + i);

    if (rv >= 0) {
        rc_usage();
        return rv;
    }

    rc = rc_connect(addr);
    if (rc == NULL) {
        return 1;
    }

    if (strcmp(argv[i], "workspace") == 0) {
        rv = rc_workspace_main(rc, argc - i - 1, argv + i + 1);
    } else if (strcmp(argv[i], "environment") == 0) {
        rv = rc_environment_main(rc, argc - i - 1, argv + i + 1);
    } else {
        rv = rc_identity_main(rc, argc - i, argv + i);
    }

    redisFree(rc);

    if (rv < 0) {
        rc_usage();
        return 2;
    }

    return rv;
}
