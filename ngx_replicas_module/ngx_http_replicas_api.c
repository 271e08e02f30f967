/*
 * The HTTP API v1 on the main domain (contract in README.md, "HTTP API v1").
 *
 * The gateway does what needs no state: route the path, check the bearer
 * credential's form, bound and parse the JSON body (jansson), validate
 * every field.  Then one EVAL of lua/api.lua does the rest in Redis
 * atomically: authenticate the key (stored as its SHA-256), rate-limit,
 * authorise, write state together with the job it needs.  The request
 * waits for the reply without blocking the worker, under a deadline.
 */

#include "ngx_http_replicas_api.h"
#include "common/rp_offboard.h"


/* lua/api.lua's first argument: the operation */
static const char  *rp_api_op_names[RP_API_OPS] = {
    [RP_API_LIST] = "list",
    [RP_API_CREATE] = "create",
    [RP_API_GET] = "get",
    [RP_API_DELETE] = "delete",
    [RP_API_MESSAGE] = "message",
    [RP_API_SLEEP] = "sleep",
    [RP_API_WAKE] = "wake",
    [RP_API_PREVIEWS_LIST] = "previews_list",
    [RP_API_PREVIEW_ADD] = "preview_add",
    [RP_API_PREVIEW_DELETE] = "preview_delete",
    [RP_API_SHARE_CREATE] = "share_create",
    [RP_API_SHARE_DELETE] = "share_delete",
    [RP_API_EVENTS] = "events",
    [RP_API_ENV_LIST] = "env_list",
    [RP_API_ENV_GET] = "env_get",
    [RP_API_ENV_PUT] = "env_put",
    [RP_API_ENV_DELETE] = "env_delete",
    [RP_API_ENV_AUTH] = "env_auth",
    [RP_API_HOOKS] = "hooks",
    [RP_API_COLLABORATORS] = "collaborators",
    [RP_API_SHARES_LIST] = "shares_list",
    [RP_API_USERS_LIST] = "users_list",
    [RP_API_USER_DISABLE] = "user_disable",
    [RP_API_USER_DELETE] = "user_delete",
    [RP_API_GIT] = "git",
    [RP_API_DIFF] = "diff",
    [RP_API_INTERRUPT] = "interrupt",
    [RP_API_FILES] = "files",
    [RP_API_FILE_CONTENT] = "file_content",
    [RP_API_GIT_ACTION] = "git_action",
    [RP_API_HISTORY] = "history",
    [RP_API_ORG_EVENTS] = "org_events",
    [RP_API_WATCH] = "watch",
    [RP_API_PRESENCE] = "presence",
    [RP_API_PRESENCE_LEAVE] = "presence_leave",
    [RP_API_KEYS_LIST] = "keys_list",
    [RP_API_KEY_CREATE] = "key_create",
    [RP_API_KEY_REVOKE] = "key_revoke",
    [RP_API_USER_CREATE] = "user_create",
    [RP_API_LOGIN_LINK] = "login_link",
    [RP_API_ENV_PATCH] = "env_patch",
    [RP_API_STATS] = "stats",
    [RP_API_PREWARM] = "prewarm",
    [RP_API_ENGINE] = "engine"
};


/* what the engine answers, proxied by a location with replicas_api_events
 * once the script has authenticated the call: events, hooks, git, diff,
 * files, a chat's interrupt (the dashboard's Stop), git's actions, and
 * its health (the dashboard's engine check) */
static ngx_uint_t
ngx_http_replicas_api_proxied(ngx_uint_t op)
{
    return op == RP_API_EVENTS || op == RP_API_HOOKS || op == RP_API_GIT
           || op == RP_API_DIFF || op == RP_API_INTERRUPT || op == RP_API_FILES
           || op == RP_API_FILE_CONTENT || op == RP_API_GIT_ACTION
           || op == RP_API_ENGINE;
}


static ngx_http_replicas_api_ctx_t *
ngx_http_replicas_api_ctx(ngx_http_request_t *r)
{
    ngx_http_replicas_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);

    return ctx ? ctx->api : NULL;
}


static ngx_int_t
ngx_http_replicas_api_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *text)
{
    ngx_str_t  msg;

    msg.data = (u_char *) text;
    msg.len = ngx_strlen(text);

    return ngx_http_replicas_send_json_error(r, status, code, &msg, 0);
}


/* the answer when the state store cannot be asked right now */

static ngx_int_t
ngx_http_replicas_api_unavailable(ngx_http_request_t *r)
{
    ngx_str_t  msg;

    ngx_str_set(&msg, "the API cannot reach its state store right now; "
                "retry shortly");

    return ngx_http_replicas_send_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                             "state_unavailable", &msg, 1);
}


/*
 * A later step's script, asked from a reply's handler (a step of two or
 * more calls): NGX_OK, it is in flight; else the request ends here.
 */

static void
ngx_http_replicas_api_next(ngx_http_request_t *r, ngx_int_t rc)
{
    if (rc == NGX_OK) {
        return;
    }

    ngx_http_replicas_finish(r, rc == NGX_DECLINED
                                ? ngx_http_replicas_api_unavailable(r)
                                : NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/* the offboarding script, the one replicas-control runs (rp_offboard.h) */

static void
ngx_http_replicas_api_offboard(ngx_http_request_t *r, ngx_uint_t n,
    ngx_str_t *args, ngx_http_replicas_eval_pt handler)
{
    ngx_str_t  script;

    script.data = (u_char *) rp_offboard_lua;
    script.len = rp_offboard_lua_len;

    ngx_http_replicas_api_next(r, ngx_http_replicas_eval(r, &script, n, args,
                                                         handler));
}


/* ---- the Redis call --------------------------------------------------------- */

void
ngx_http_replicas_api_answer(ngx_http_request_t *r, void *reply)
{
    ngx_str_t                         body;
    ngx_http_replicas_script_reply_t  v;

    if (ngx_http_replicas_redis_script_reply(reply, &v) != NGX_OK) {
        if (reply != NULL) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "replicas: api script failed: %V", &v.error);
        }

        ngx_http_replicas_finish(r, ngx_http_replicas_api_unavailable(r));
        return;
    }

    /* the reply is freed when this returns: the answer keeps a copy */
    body.data = ngx_pnalloc(r->pool, v.body.len);
    if (body.data == NULL) {
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(body.data, v.body.data, v.body.len);
    body.len = v.body.len;

    ngx_http_replicas_finish(r,
        ngx_http_replicas_send_json(r, v.status, &body, v.retry_after));
}


static ngx_int_t
ngx_http_replicas_api_call_with(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, ngx_http_replicas_eval_pt handler)
{
    u_char                         *p;
    ngx_str_t                       host, args[6 + NGX_HTTP_REPLICAS_API_ARGS];
    ngx_uint_t                      i, n;
    ngx_http_replicas_loc_conf_t   *rlcf;
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);
    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    /* preview URLs as the caller reached us: scheme and Host with port */
    if (r->headers_in.host) {
        host = r->headers_in.host->value;
    } else {
        host = rlcf->domain;
    }

    n = 0;

    args[n].data = (u_char *) rp_api_op_names[ctx->op];
    args[n++].len = ngx_strlen(rp_api_op_names[ctx->op]);

    args[n++] = ctx->key_hash;

    p = ngx_pnalloc(r->pool, host.len + 32 + 2 * NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    args[n].data = p;
    p = ngx_sprintf(p, "%T", ngx_time());
    args[n].len = p - args[n].data;
    n++;

    args[n].data = p;
    p = ngx_sprintf(p, "%ui", rlcf->api_rate);
    args[n].len = p - args[n].data;
    n++;

    args[n].data = p;
    p = ngx_sprintf(p, "%s://{port}-{id}.%V", ngx_http_replicas_scheme(r),
                    &host);
    args[n].len = p - args[n].data;
    n++;

    args[n++] = ctx->ws;

    for (i = 0; i < ctx->nargs; i++) {
        args[n++] = ctx->args[i];
    }

    return ngx_http_replicas_eval(r, &rmcf->api_script, n, args, handler);
}


ngx_int_t
ngx_http_replicas_api_call_op(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, ngx_http_replicas_eval_pt handler)
{
    return ngx_http_replicas_api_call_with(r, ctx, handler);
}


static ngx_int_t
ngx_http_replicas_api_call(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx)
{
    return ngx_http_replicas_api_call_with(r, ctx,
                                           ngx_http_replicas_api_answer);
}


/*
 * PUT and PATCH /v1/environments/{name}, second step.  The first call (env_auth)
 * authenticated the key and named its organisation; the values are
 * sealed for that organisation here, then the second call (env_put)
 * stores the tokens, checking the key is still of that organisation.
 */

static void
ngx_http_replicas_api_env_authed(ngx_http_request_t *r, void *reply)
{
    u_char                            *p;
    json_t                            *json, *org;
    ngx_str_t                          msg, o, sealed, usable, allow;
    ngx_http_replicas_api_ctx_t       *ctx;
    ngx_http_replicas_main_conf_t     *rmcf;
    ngx_http_replicas_script_reply_t   v;

    ctx = ngx_http_replicas_api_ctx(r);
    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);

    if (ngx_http_replicas_redis_script_reply(reply, &v) != NGX_OK
        || v.status != NGX_HTTP_OK)
    {
        /* unauthorised, rate-limited, no Redis: answered as any call */
        ngx_http_replicas_api_answer(r, reply);
        return;
    }

    if (!rmcf->secrets_set) {
        ngx_str_set(&msg, "this deployment has no secrets key "
                    "(replicas_secrets_key), so environment values cannot "
                    "be stored");
        ngx_http_replicas_finish(r,
            ngx_http_replicas_send_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "secrets_unconfigured", &msg,
                                              0));
        return;
    }

    json = json_loadb((char *) v.body.data, v.body.len, 0, NULL);
    org = json ? json_object_get(json, "org") : NULL;

    if (!json_is_string(org) || json_string_length(org) == 0
        || json_string_length(org) > NGX_HTTP_REPLICAS_ORG_MAX)
    {
        if (json) {
            json_decref(json);
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "replicas: env_auth answered without an organisation");
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    o.len = json_string_length(org);
    p = ngx_pnalloc(r->pool, o.len);

    if (p != NULL) {
        ngx_memcpy(p, json_string_value(org), o.len);
    }

    o.data = p;
    json_decref(json);

    ngx_http_replicas_env_access(ctx->env_values, &usable, &allow);

    if (p == NULL
        || ngx_http_replicas_env_seal(r, ctx->env_values, &o, &ctx->env,
                                      &sealed) != NGX_OK
        || ctx->nargs + 4 > NGX_HTTP_REPLICAS_API_ARGS)
    {
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->env_values = NULL;

    /* ARGV 7 name (already there), 8 organisation, 9 {field: token},
     * 10 usable_by ("", "all", JSON list), 11 allow_loader_variables */
    ctx->args[ctx->nargs++] = o;
    ctx->args[ctx->nargs++] = sealed;
    ctx->args[ctx->nargs++] = usable;
    ctx->args[ctx->nargs++] = allow;
    ctx->op = ctx->then;                        /* env_put or env_patch */

    ngx_http_replicas_api_next(r, ngx_http_replicas_api_call(r, ctx));
}


/*
 * POST /v1/users/{id}/disable, DELETE /v1/users/{id}, second step: the
 * first call (lua/api.lua's user_disable or user_delete) checked the key is an admin's and named its
 * organisation; then the offboarding script, the one replicas-control
 * runs, confined to that organisation.
 */

static void
ngx_http_replicas_api_user_authed(ngx_http_request_t *r, void *reply)
{
    u_char                            *p;
    json_t                            *json, *org;
    ngx_str_t                          args[5];
    ngx_http_replicas_api_ctx_t       *ctx;
    ngx_http_replicas_script_reply_t   v;

    ctx = ngx_http_replicas_api_ctx(r);

    if (ngx_http_replicas_redis_script_reply(reply, &v) != NGX_OK
        || v.status != NGX_HTTP_OK)
    {
        ngx_http_replicas_api_answer(r, reply);
        return;
    }

    json = json_loadb((char *) v.body.data, v.body.len, 0, NULL);
    org = json ? json_object_get(json, "org") : NULL;

    if (!json_is_string(org) || json_string_length(org) == 0
        || json_string_length(org) > NGX_HTTP_REPLICAS_ORG_MAX)
    {
        if (json) {
            json_decref(json);
        }

        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_pnalloc(r->pool, NGX_HTTP_REPLICAS_ORG_MAX + NGX_TIME_T_LEN);
    if (p == NULL) {
        json_decref(json);
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    args[4].data = p;
    args[4].len = json_string_length(org);
    p = ngx_cpymem(p, json_string_value(org), args[4].len);
    json_decref(json);

    args[3].data = p;
    args[3].len = ngx_sprintf(p, "%T", ngx_time()) - p;

    ngx_str_set(&args[0], "user");
    args[1] = ctx->user;

    if (ctx->op == RP_API_USER_DELETE) {
        ngx_str_set(&args[2], "delete");
    } else {
        ngx_str_set(&args[2], "disable");
    }

    ngx_http_replicas_api_offboard(r, 5, args, ngx_http_replicas_api_answer);
}


/*
 * POST /v1/keys, POST /v1/users/{id}/login-link: the script stored the
 * new secret's SHA-256 and answered what it made; the secret itself
 * (ctx->secret, made in ngx_http_replicas_api_validate.c) joins the
 * answer here, once: as "key", or in the login link's "url" on the main
 * site.  Redis never sees it, and no answer repeats it.
 */

static void
ngx_http_replicas_api_secret_answer(ngx_http_request_t *r, void *reply)
{
    char                              *text;
    json_t                            *json;
    ngx_int_t                          rc;
    ngx_str_t                          body, origin, url;
    ngx_http_replicas_api_ctx_t       *ctx;
    ngx_http_replicas_script_reply_t   v;

    ctx = ngx_http_replicas_api_ctx(r);

    if (ngx_http_replicas_redis_script_reply(reply, &v) != NGX_OK
        || v.status != NGX_HTTP_CREATED)
    {
        ngx_http_replicas_api_answer(r, reply);
        return;
    }

    json = json_loadb((char *) v.body.data, v.body.len, 0, NULL);

    if (!json_is_object(json)) {
        if (json) {
            json_decref(json);
        }

        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ctx->op == RP_API_LOGIN_LINK) {
        if (ngx_http_replicas_main_origin(r, &origin) != NGX_OK) {
            json_decref(json);
            ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        url.len = origin.len + sizeof("/login?token=") - 1 + ctx->secret.len;
        url.data = ngx_pnalloc(r->pool, url.len);

        if (url.data == NULL) {
            json_decref(json);
            ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_sprintf(url.data, "%V/login?token=%V", &origin, &ctx->secret);
        rc = json_object_set_new(json, "url",
                                 json_stringn((char *) url.data, url.len));

    } else {
        rc = json_object_set_new(json, "key",
                                 json_stringn((char *) ctx->secret.data,
                                              ctx->secret.len));
    }

    text = rc == 0 ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);

    if (text == NULL) {
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    body.len = ngx_strlen(text);
    body.data = ngx_pnalloc(r->pool, body.len);

    if (body.data != NULL) {
        ngx_memcpy(body.data, text, body.len);
    }

    /* jansson's copy; the pool's goes with the request */
    rp_crypt_wipe(text, body.len);
    free(text);

    if (body.data == NULL) {
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_replicas_finish(r,
        ngx_http_replicas_send_json(r, NGX_HTTP_CREATED, &body, 0));
}


/* DELETE /v1/keys/{prefix}, the end: the offboarding script's answer */

static void
ngx_http_replicas_api_key_revoked(ngx_http_request_t *r, void *reply)
{
    ngx_str_t                          body;
    ngx_http_replicas_api_ctx_t       *ctx;
    ngx_http_replicas_script_reply_t   v;

    ctx = ngx_http_replicas_api_ctx(r);

    if (ngx_http_replicas_redis_script_reply(reply, &v) != NGX_OK
        || v.status != NGX_HTTP_OK)
    {
        ngx_http_replicas_api_answer(r, reply);
        return;
    }

    body.data = ngx_pnalloc(r->pool, ctx->prefix.len + 32);
    if (body.data == NULL) {
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the prefix is [a-z0-9] (the route checked it): no escaping */
    body.len = ngx_sprintf(body.data, "{\"prefix\":\"%V\",\"revoked\":true}",
                           &ctx->prefix) - body.data;

    ngx_http_replicas_finish(r,
        ngx_http_replicas_send_json(r, NGX_HTTP_OK, &body, 0));
}


/*
 * DELETE /v1/keys/{prefix}, second step: the first call (lua/api.lua's
 * key_revoke) checked the caller may revoke it (its owner or an admin of
 * its organisation) and named its SHA-256; then the offboarding script,
 * the one replicas-control's key revoke runs: the key, and the sessions,
 * tickets and share links made from it, end at once on every gateway.
 */

static void
ngx_http_replicas_api_key_authed(ngx_http_request_t *r, void *reply)
{
    u_char                            *p;
    json_t                            *json, *hash;
    ngx_str_t                          args[2];
    ngx_http_replicas_script_reply_t   v;

    if (ngx_http_replicas_redis_script_reply(reply, &v) != NGX_OK
        || v.status != NGX_HTTP_OK)
    {
        ngx_http_replicas_api_answer(r, reply);
        return;
    }

    json = json_loadb((char *) v.body.data, v.body.len, 0, NULL);
    hash = json ? json_object_get(json, "hash") : NULL;

    if (!json_is_string(hash) || json_string_length(hash) != RP_SHA256_HEX) {
        if (json) {
            json_decref(json);
        }

        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_pnalloc(r->pool, RP_SHA256_HEX);
    if (p == NULL) {
        json_decref(json);
        ngx_http_replicas_finish(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(p, json_string_value(hash), RP_SHA256_HEX);
    json_decref(json);

    ngx_str_set(&args[0], "key");
    args[1].data = p;
    args[1].len = RP_SHA256_HEX;

    ngx_http_replicas_api_offboard(r, 2, args, ngx_http_replicas_api_key_revoked);
}


/* ---- the handler -------------------------------------------------------------- */

static ngx_int_t
ngx_http_replicas_api_run(ngx_http_request_t *r)
{
    char                          err[256];
    ngx_str_t                     body;
    json_t                       *json;
    ngx_int_t                     rc;
    ngx_uint_t                    env_values;
    json_error_t                  jerr;
    ngx_http_replicas_api_ctx_t   *ctx;
    ngx_http_replicas_loc_conf_t  *rlcf;

    ctx = ngx_http_replicas_api_ctx(r);
    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    json = NULL;
    env_values = (ctx->op == RP_API_ENV_PUT || ctx->op == RP_API_ENV_PATCH);

    rc = ngx_http_replicas_body(r, &body);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED || body.len > rlcf->api_body_max) {
        return ngx_http_replicas_api_error(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   "the request body is too large");
    }

    if (body.len) {
        json = json_loadb((char *) body.data, body.len,
                          JSON_REJECT_DUPLICATES, &jerr);

        if (env_values) {
            /* environment values: only jansson's copies are left */
            ngx_http_replicas_env_wipe_body(r, &body);
        }

        if (json == NULL && env_values) {
            /* jansson's reason quotes the text near the error: a value */
            ngx_snprintf((u_char *) err, sizeof(err),
                         "the body is not valid JSON (line %d, column %d)%Z",
                         jerr.line, jerr.column);
            return ngx_http_replicas_api_error(r, NGX_HTTP_BAD_REQUEST,
                                               "invalid_json", err);
        }

        if (json == NULL) {
            ngx_snprintf((u_char *) err, sizeof(err),
                         "the body is not valid JSON: %s%Z", jerr.text);
            return ngx_http_replicas_api_error(r, NGX_HTTP_BAD_REQUEST,
                                               "invalid_json", err);
        }
    }

    err[0] = '\0';
    rc = ngx_http_replicas_api_validate(r, ctx, json, err, sizeof(err));

    if (rc == NGX_DECLINED) {
        return ngx_http_replicas_api_error(r, NGX_HTTP_BAD_REQUEST,
                                           "invalid_json",
                                           "this request needs a JSON body");
    }

    if (env_values) {
        /* environment values: only the copies to seal are left */
        ngx_http_replicas_env_wipe_json(json);
    }

    if (json) {
        json_decref(json);
    }

    if (rc != NGX_OK) {
        if (err[0] == '\0') {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_replicas_api_error(r, NGX_HTTP_BAD_REQUEST,
                                           "invalid_request", err);
    }

    if (ngx_http_replicas_api_proxied(ctx->op)) {
        /* only a location with replicas_api_events proxies them */
        return ngx_http_replicas_api_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                           "events, hooks, git, diff, files, "
                                           "interrupt and engine are served "
                                           "by a location with "
                                           "replicas_api_events");
    }

    if (env_values) {
        ctx->then = ctx->op;
        ctx->op = RP_API_ENV_AUTH;
        rc = ngx_http_replicas_api_call_with(r, ctx,
                                             ngx_http_replicas_api_env_authed);

    } else if (ctx->op == RP_API_KEY_CREATE
               || ctx->op == RP_API_LOGIN_LINK)
    {
        rc = ngx_http_replicas_api_call_with(r, ctx,
                                         ngx_http_replicas_api_secret_answer);

    } else if (ctx->op == RP_API_KEY_REVOKE) {
        rc = ngx_http_replicas_api_call_with(r, ctx,
                                             ngx_http_replicas_api_key_authed);

    } else if (ctx->op == RP_API_ORG_EVENTS) {
        /* the snapshot, then the stream (ngx_http_replicas_stream.c) */
        rc = ngx_http_replicas_api_call_with(r, ctx,
                                             ngx_http_replicas_stream_open);

    } else if (ctx->op == RP_API_USER_DISABLE
               || ctx->op == RP_API_USER_DELETE)
    {
        rc = ngx_http_replicas_api_call_with(r, ctx,
                                             ngx_http_replicas_api_user_authed);

    } else {
        rc = ngx_http_replicas_api_call(r, ctx);
    }

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_replicas_api_unavailable(r);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_http_replicas_api_body_read(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_replicas_api_run(r);

    if (rc != NGX_DONE) {
        ngx_http_replicas_finish(r, rc);
    }
}


/* "Bearer <key>": the key is only ever handled as its SHA-256 */

static ngx_int_t
ngx_http_replicas_api_credential(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *rctx, ngx_http_replicas_api_ctx_t *ctx)
{
    u_char           *hash;
    ngx_str_t         v;
    ngx_table_elt_t  *idem;

    if (r->headers_in.authorization == NULL) {
        /* the dashboard's session cookie (ngx_http_replicas_dashboard.c) */
        return ngx_http_replicas_dashboard_credential(r, &ctx->key_hash);
    }

    v = r->headers_in.authorization->value;

    if (v.len <= 7 || ngx_strncasecmp(v.data, (u_char *) "Bearer ", 7) != 0) {
        return NGX_DECLINED;
    }

    v.data += 7;
    v.len -= 7;

    while (v.len && v.data[0] == ' ') {
        v.data++;
        v.len--;
    }

    if (v.len == 0 || v.len > 256) {
        return NGX_DECLINED;
    }

    /* the key's hash, then (for create) the Idempotency-Key's */
    hash = ngx_pnalloc(r->pool, 2 * (RP_SHA256_HEX + 1));
    if (hash == NULL) {
        return NGX_ERROR;
    }

    rp_sha256_hex(v.data, v.len, (char *) hash);
    hash[RP_SHA256_HEX + 1] = '\0';

    /* the log's actor; a 401 from the script names no one */
    ngx_http_replicas_actor_key(r, rctx, v.data, v.len);

    ctx->key_hash.data = hash;
    ctx->key_hash.len = RP_SHA256_HEX;

    idem = ngx_http_replicas_header(r, "Idempotency-Key");

    if (idem) {
        if (idem->value.len == 0 || idem->value.len > 255) {
            return NGX_ABORT;
        }

        rp_sha256_hex(idem->value.data, idem->value.len,
                      (char *) hash + RP_SHA256_HEX + 1);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_replicas_api_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_replicas_ctx_t       *rctx;
    ngx_http_replicas_api_ctx_t   *ctx;
    ngx_http_replicas_loc_conf_t  *rlcf;

    rctx = ngx_http_replicas_get_ctx(r);
    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_api_ctx_t));
    if (rctx == NULL || ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rctx->api = ctx;

    rc = ngx_http_replicas_api_route(r, ctx);

    if (rc == NGX_HTTP_NOT_FOUND) {
        return ngx_http_replicas_api_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                           "no such API endpoint");
    }

    if (rc == NGX_HTTP_NOT_ALLOWED) {
        return ngx_http_replicas_api_error(r, NGX_HTTP_NOT_ALLOWED,
                                           "method_not_allowed",
                                           "this endpoint does not take that "
                                           "method");
    }

    rc = ngx_http_replicas_api_credential(r, rctx, ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_replicas_api_error(r, NGX_HTTP_UNAUTHORIZED,
                                           "unauthorized",
                                           "send an API key as "
                                           "\"Authorization: Bearer <key>\"");
    }

    if (rc == NGX_ABORT) {
        return ngx_http_replicas_api_error(r, NGX_HTTP_BAD_REQUEST,
                                           "invalid_request",
                                           "Idempotency-Key must be 1 to 255 "
                                           "characters");
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_replicas_module);

    if (r->headers_in.content_length_n > (off_t) rlcf->api_body_max) {
        return ngx_http_replicas_api_error(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   "the request body is too large");
    }

    /* the whole body in one memory buffer, never a temp file */
    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_replicas_api_body_read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* ---- events: authenticated here, proxied to the workspace's engine ------ */

/*
 * GET /v1/workspaces/{id}/events in a location with replicas_api_events:
 * in the access phase, the same EVAL as every API call authenticates the
 * key (a workspace-scoped one only for its own workspace), rate-limits
 * and finds the workspace's address; then nginx's proxy module streams
 * the engine's server-sent events (proxy_pass http://$replicas_upstream).
 */

static void
ngx_http_replicas_api_events_reply(ngx_http_request_t *r, void *reply)
{
    u_char                            *p;
    json_t                            *json, *addr, *code;
    ngx_http_replicas_ctx_t           *rctx;
    ngx_http_replicas_api_ctx_t       *ctx;
    ngx_http_replicas_script_reply_t   v;

    rctx = ngx_http_get_module_ctx(r, ngx_http_replicas_module);
    ctx = rctx->api;
    ngx_http_replicas_wait_over(rctx);
    ctx->answered = 1;
    ctx->waking = 0;
    ctx->status = 0;
    ngx_str_null(&ctx->body);
    ctx->error = NGX_HTTP_REPLICAS_ERR_API_UNAVAILABLE;

    if (ngx_http_replicas_redis_script_reply(reply, &v) == NGX_OK) {
        ctx->error = NGX_HTTP_REPLICAS_ERR_NONE;
        ctx->status = v.status;
        ctx->retry_after = v.retry_after;
        ctx->body.data = ngx_pnalloc(r->pool, v.body.len);

        if (ctx->body.data == NULL) {
            ctx->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
            ctx->body.len = 0;

        } else {
            ngx_memcpy(ctx->body.data, v.body.data, v.body.len);
            ctx->body.len = v.body.len;
        }
    }

    json = ctx->body.len ? json_loadb((char *) ctx->body.data, ctx->body.len,
                                      0, NULL)
                         : NULL;

    if (ctx->status == NGX_HTTP_OK) {
        addr = json ? json_object_get(json, "addr") : NULL;

        if (addr && json_is_string(addr)
            && json_string_length(addr) < NGX_HTTP_REPLICAS_ADDR_MAX
            && ngx_inet_addr((u_char *) json_string_value(addr),
                             json_string_length(addr)) != INADDR_NONE)
        {
            p = ngx_pnalloc(r->pool, NGX_HTTP_REPLICAS_ADDR_MAX + 8);

            if (p) {
                rctx->upstream.data = p;
                rctx->upstream.len = ngx_sprintf(p, "%s:%d",
                                                 json_string_value(addr),
                                                 RP_PORT_ENGINE) - p;
            }
        }

        if (rctx->upstream.len == 0) {
            ctx->error = NGX_HTTP_REPLICAS_ERR_ENGINE_ADDRESS;
        }

    } else {
        /* asleep, and the script asked for the wake (its answer's code):
         * held like a program's preview request, asked again when the
         * change is published */
        code = json ? json_object_get(json_object_get(json, "error"), "code")
                    : NULL;

        ctx->waking = ctx->status == NGX_HTTP_SERVICE_UNAVAILABLE
                      && json_is_string(code)
                      && ngx_strcmp(json_string_value(code),
                                    "workspace_waking") == 0;
    }

    if (json) {
        json_decref(json);
    }

    ngx_http_replicas_resume(r);
}


/*
 * The request path's API step for an events (or hooks) stream: the API's
 * script, the same EVAL as every API call, authenticates the key (a
 * workspace-scoped one only for its own workspace), rate-limits, finds
 * the engine's address, and asks for the wake of a sleeping workspace.
 * NGX_OK: rctx->upstream is set (proxy); NGX_AGAIN: the script is in
 * flight; NGX_BUSY: the workspace wakes (hold, then this step again);
 * NGX_DONE: answered; else a status.
 */

ngx_int_t
ngx_http_replicas_api_events(ngx_http_request_t *r,
    ngx_http_replicas_ctx_t *rctx)
{
    ngx_int_t                     rc;
    ngx_http_replicas_api_ctx_t  *ctx;

    ctx = rctx->api;

    if (ctx && ctx->answered) {
        ctx->answered = 0;

        if (rctx->upstream.len) {
            return NGX_OK;
        }

        if (ctx->waking) {
            return NGX_BUSY;
        }

        if (ctx->error != NGX_HTTP_REPLICAS_ERR_NONE) {
            return ngx_http_replicas_fail(r, ctx->error);
        }

        ngx_http_finalize_request(r,
            ngx_http_replicas_send_json(r, ctx->status, &ctx->body,
                                        ctx->retry_after));
        return NGX_DONE;
    }

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_api_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rctx->api = ctx;

        rc = ngx_http_replicas_api_route(r, ctx);

        if (rc != NGX_OK
            || !ngx_http_replicas_api_proxied(ctx->op))
        {
            return ngx_http_replicas_fail(r, rc == NGX_HTTP_NOT_ALLOWED
                                          ? NGX_HTTP_REPLICAS_ERR_API_METHOD
                                          : NGX_HTTP_REPLICAS_ERR_API_NOT_FOUND);
        }

        /* the engine identifies the stream by the path's workspace */
        ngx_memcpy(rctx->host.id, ctx->ws.data, ctx->ws.len);
        rctx->host.id[ctx->ws.len] = '\0';
        rctx->host.id_len = ctx->ws.len;
        rctx->host.port = RP_PORT_ENGINE;

        rc = ngx_http_replicas_api_credential(r, rctx, ctx);

        if (rc != NGX_OK) {
            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_replicas_fail(r,
                       NGX_HTTP_REPLICAS_ERR_API_UNAUTHORIZED);
        }
    }

    rc = ngx_http_replicas_api_call_with(r, ctx,
                                         ngx_http_replicas_api_events_reply);

    if (rc == NGX_OK) {
        /* in flight: a change published meanwhile is remembered (see
         * ngx_http_replicas_wake_notify), so a held stream is not missed */
        rctx->wait = NGX_HTTP_REPLICAS_WAIT_REDIS;
        r->read_event_handler = ngx_http_test_reading;
        r->write_event_handler = ngx_http_request_empty_handler;
        return NGX_AGAIN;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_replicas_fail(r, NGX_HTTP_REPLICAS_ERR_API_UNAVAILABLE);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}
