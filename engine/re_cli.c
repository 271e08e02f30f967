/* The `replicas` command: see re_cli.h. */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/rp_http_json.h"
#include "re_cli.h"


/* a pull request pushes and asks GitHub first: longer than the rest */
static long  re_cli_timeout_ms = 20000;


/* one call to the engine; the status, the answer in *reply */
static long
re_cli_call(const char *method, const char *path, json_t *body,
    json_t **reply)
{
    char                 url[512];
    const char          *base;
    rp_http_json_req_t   req;
    rp_http_json_res_t   res;

    base = getenv("REPLICAS_ENGINE_URL");
    snprintf(url, sizeof(url), "%s%s", base && *base ? base
                                                    : "http://127.0.0.1:3737",
             path);

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.body = body;
    req.timeout_ms = re_cli_timeout_ms;
    req.max = 4 * 1024 * 1024;
    req.direct = 1;

    (void) rp_http_json(&req, &res);
    *reply = res.json;

    return res.status;
}


static void
re_cli_usage(FILE *f)
{
    fprintf(f,
        "usage: replicas preview create <port> [--public] [--json]\n"
        "       replicas preview list [--json]\n"
        "       replicas preview delete <port> [--json]\n"
        "       replicas computer info [--json]\n"
        "       replicas pr create [--title T] [--draft] [--repo NAME] "
        "[--json]\n"
        "\n"
        "Publishes ports of this workspace as preview URLs (authenticated:\n"
        "members of the organisation; --public: anyone with the URL).\n"
        "The engine and the desktop (3737, 6080) are never public.\n");
}


static void
re_cli_preview_line(json_t *p)
{
    printf("%-6lld %-14s %s\n",
           (long long) json_integer_value(json_object_get(p, "port")),
           json_string_value(json_object_get(p, "visibility"))
           ? json_string_value(json_object_get(p, "visibility")) : "",
           json_string_value(json_object_get(p, "url"))
           ? json_string_value(json_object_get(p, "url")) : "");
}


/* prints the answer; the exit status */
static int
re_cli_show(long status, json_t *reply, int as_json, const char *what)
{
    size_t       i;
    char        *text;
    json_t      *list, *p, *err, *desk;
    const char  *state, *url;

    if (status == 0) {
        fprintf(stderr, "replicas: the engine does not answer on "
                "127.0.0.1:3737\n");
        json_decref(reply);
        return 1;
    }

    err = json_object_get(reply, "error");

    if (status >= 400 || err) {
        fprintf(stderr, "replicas: %s\n",
                json_string_value(json_object_get(err, "message"))
                ? json_string_value(json_object_get(err, "message"))
                : "the request failed");
        json_decref(reply);
        return 1;
    }

    if (as_json) {
        text = json_dumps(reply, JSON_INDENT(2));
        printf("%s\n", text ? text : "{}");
        free(text);

    } else if (strcmp(what, "create") == 0) {
        printf("%s\n", json_string_value(json_object_get(reply, "url"))
                       ? json_string_value(json_object_get(reply, "url"))
                       : "");

    } else if (strcmp(what, "list") == 0 || strcmp(what, "computer") == 0) {
        if (strcmp(what, "computer") == 0) {
            printf("workspace %s\nengine    %s\n",
                   json_string_value(json_object_get(reply, "workspace")),
                   json_string_value(json_object_get(reply, "engine")));

            desk = json_object_get(reply, "desktop");
            state = json_string_value(json_object_get(desk, "state"));
            url = json_string_value(json_object_get(desk, "url"));

            if (state && strcmp(state, "off") != 0) {
                printf("desktop   %s DISPLAY=%s %s\n", state,
                       json_string_value(json_object_get(desk, "display"))
                       ? json_string_value(json_object_get(desk, "display"))
                       : "-",
                       url ? url : "(not registered yet)");
            }
        }

        list = json_object_get(reply, "previews");

        json_array_foreach(list, i, p) {
            re_cli_preview_line(p);
        }

    } else {
        printf("deleted\n");
    }

    json_decref(reply);

    return 0;
}


/*
 * replicas pr create [--title T] [--draft] [--repo NAME] [--json]: the
 * branch pushed and its pull request opened (or the open one found);
 * prints its URL.  The repository: --repo, else the only one.
 */
static int
re_cli_pr(int argc, char **argv)
{
    int          i, as_json;
    long         status;
    char         path[300];
    json_t      *body, *reply, *repos;
    const char  *repo, *name;

    body = json_object();
    repo = NULL;
    as_json = 0;

    for (i = 2; body && i < argc; i++) {
        if (strcmp(argv[i], "--title") == 0 && i + 1 < argc) {
            json_object_set_new(body, "title", json_string(argv[++i]));
        } else if (strcmp(argv[i], "--repo") == 0 && i + 1 < argc) {
            repo = argv[++i];
        } else if (strcmp(argv[i], "--draft") == 0) {
            json_object_set_new(body, "draft", json_true());
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else {
            json_decref(body);
            re_cli_usage(stderr);
            return 2;
        }
    }

    if (body == NULL || argc < 2 || strcmp(argv[1], "create") != 0) {
        json_decref(body);
        re_cli_usage(stderr);
        return 2;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);

    if (repo == NULL) {
        status = re_cli_call("GET", "/git", NULL, &reply);
        repos = json_object_get(reply, "repositories");
        name = json_array_size(repos) == 1
               ? json_string_value(json_object_get(json_array_get(repos, 0),
                                                   "name"))
               : NULL;

        if (name == NULL) {
            fprintf(stderr, "replicas: %s\n", status == 0
                    ? "the engine does not answer on 127.0.0.1:3737"
                    : "say which repository: --repo NAME");
            json_decref(reply);
            json_decref(body);
            return 1;
        }

        snprintf(path, sizeof(path), "/git/pull-request?repo=%s", name);
        json_decref(reply);

    } else if (strspn(repo, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                            "VWXYZ0123456789._-") != strlen(repo)
               || strlen(repo) > 255)
    {
        fprintf(stderr, "replicas: no such repository\n");
        json_decref(body);
        return 2;

    } else {
        snprintf(path, sizeof(path), "/git/pull-request?repo=%s", repo);
    }

    re_cli_timeout_ms = 120000;
    status = re_cli_call("POST", path, body, &reply);
    json_decref(body);

    return re_cli_show(status, reply, as_json, "create");
}


int
re_cli_main(int argc, char **argv)
{
    int      i, pub, as_json, n;
    long     port, status;
    char    *end, path[64];
    char    *args[4];
    json_t  *reply;

    pub = 0;
    as_json = 0;
    n = 0;

    if (argc >= 2 && strcmp(argv[1], "pr") == 0) {
        return re_cli_pr(argc - 1, argv + 1);
    }

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--public") == 0) {
            pub = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            re_cli_usage(stdout);
            return 0;
        } else if (n < 4) {
            args[n++] = argv[i];
        } else {
            re_cli_usage(stderr);
            return 2;
        }
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);

    if (n == 2 && strcmp(args[0], "computer") == 0
        && strcmp(args[1], "info") == 0)
    {
        status = re_cli_call("GET", "/computer", NULL, &reply);
        return re_cli_show(status, reply, as_json, "computer");
    }

    if (n >= 2 && strcmp(args[0], "preview") == 0) {
        if (n == 2 && strcmp(args[1], "list") == 0 && !pub) {
            status = re_cli_call("GET", "/previews", NULL, &reply);
            return re_cli_show(status, reply, as_json, "list");
        }

        port = n == 3 ? strtol(args[2], &end, 10) : 0;

        if (n == 3 && (*end != '\0' || port < 1 || port > 65535)) {
            fprintf(stderr, "replicas: a port is a number from 1 to "
                    "65535\n");
            return 2;
        }

        if (n == 3 && strcmp(args[1], "create") == 0) {
            status = re_cli_call("POST", "/previews",
                                 json_pack("{s:I, s:b}", "port",
                                           (json_int_t) port, "public", pub),
                                 &reply);
            return re_cli_show(status, reply, as_json, "create");
        }

        if (n == 3 && strcmp(args[1], "delete") == 0 && !pub) {
            snprintf(path, sizeof(path), "/previews/%ld", port);
            status = re_cli_call("DELETE", path, NULL, &reply);
            return re_cli_show(status, reply, as_json, "delete");
        }
    }

    re_cli_usage(stderr);

    return 2;
}
