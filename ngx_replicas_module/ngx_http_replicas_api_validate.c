/*
 * The HTTP API v1's validation: for each operation, what its path and its
 * JSON body may hold, checked before the script runs, and turned into the
 * script's arguments (ctx->args, after the six every call has).
 *
 * One table, rp_api_specs[], says per operation whether a body is needed,
 * what the path gives (a step), the body's fields (name, JSON type,
 * required, limits, a check and its message) in the order of their
 * arguments, and a last step for what needs all of them (a share link is
 * signed).  ngx_http_replicas_api_validate() walks it: body present, path,
 * the fields' form (object, known names, types, required), each field's
 * check, last step.  The first failure is the answer, its message in err.
 */

#include "ngx_http_replicas_api.h"
#include "common/rp_url.h"
#include "common/rp_agents.h"


#define RP_API_FIELDS_MAX   8    /* fields of one operation's body */
#define RP_API_REPOS_MAX    8    /* repositories in one workspace */


typedef struct rp_api_field_s  rp_api_field_t;

/* what one request's validation has seen so far */
typedef struct {
    ngx_http_request_t            *r;
    ngx_http_replicas_api_ctx_t   *ctx;
    json_t                        *body;
    const rp_api_field_t          *fields;
    json_t                        *f[RP_API_FIELDS_MAX];  /* NULL: absent */
    const char                    *s;      /* a string field's value, or */
    size_t                         len;    /* its default when absent */
    ngx_int_t                      port;   /* a port from the path */
    char                          *err;
    size_t                         err_size;
} rp_api_check_t;

/*
 * A field's check: NGX_OK, NGX_DECLINED (invalid: the field's message,
 * unless the check wrote its own into c->err), NGX_ERROR (no memory).
 */
typedef ngx_int_t (*rp_api_check_pt)(rp_api_check_t *c,
    const rp_api_field_t *fd, json_t *v);

/* a step of an operation: NGX_OK, NGX_DONE (the body is not read), or
 * NGX_ERROR with a message in c->err or none (500) */
typedef ngx_int_t (*rp_api_step_pt)(rp_api_check_t *c);


typedef enum {
    RP_API_ARG_NONE = 0,     /* not passed on (read by a step) */
    RP_API_ARG_VALUE,        /* the value: a string, an integer in decimal;
                                "" when absent */
    RP_API_ARG_CHECK         /* the check adds it; "" when absent */
} rp_api_arg_e;


struct rp_api_field_s {
    const char        *name;
    int                type;        /* JSON_STRING, _INTEGER or _ARRAY */
    ngx_uint_t         required;
    json_int_t         min;         /* integers: the smallest */
    json_int_t         max;         /* bytes of a string, the largest
                                       integer, items of an array */
    const char        *chars;       /* slugs: allowed besides a-z, 0-9 ("A"
                                       first: A-Z too) */
    const char        *absent;      /* a string's default, checked as if
                                       sent; NULL: "" unchecked */
    rp_api_check_pt    check;
    rp_api_arg_e       arg;
    const char        *invalid;     /* the message when check declines */
};


typedef enum {
    RP_API_BODY_IGNORED = 0,  /* parsed (400 if not JSON), not read */
    RP_API_BODY_OPTIONAL,
    RP_API_BODY_REQUIRED,
    RP_API_BODY_UNLESS_PORT   /* required unless the path names the port */
} rp_api_body_e;


typedef struct {
    rp_api_body_e           body;
    rp_api_step_pt          path;
    const rp_api_field_t   *fields;   /* NULL-terminated, or NULL */
    rp_api_step_pt          last;
} rp_api_spec_t;


static ngx_int_t rp_api_add(rp_api_check_t *c, const char *s, size_t len);
static ngx_int_t rp_api_add_int(rp_api_check_t *c, ngx_int_t n);
static json_t *rp_api_value(rp_api_check_t *c, const char *name);

static ngx_int_t rp_api_lines(rp_api_check_t *c, const rp_api_field_t *fd,
    json_t *v);
static ngx_int_t rp_api_slug(rp_api_check_t *c, const rp_api_field_t *fd,
    json_t *v);
static ngx_int_t rp_api_range(rp_api_check_t *c, const rp_api_field_t *fd,
    json_t *v);
static ngx_int_t rp_api_repository(rp_api_check_t *c,
    const rp_api_field_t *fd, json_t *v);
static ngx_int_t rp_api_repositories(rp_api_check_t *c,
    const rp_api_field_t *fd, json_t *v);
static ngx_int_t rp_api_env_field(rp_api_check_t *c,
    const rp_api_field_t *fd, json_t *v);
static ngx_int_t rp_api_agent(rp_api_check_t *c, const rp_api_field_t *fd,
    json_t *v);
static ngx_int_t rp_api_visibility(rp_api_check_t *c,
    const rp_api_field_t *fd, json_t *v);
static ngx_int_t rp_api_user_ids(rp_api_check_t *c, const rp_api_field_t *fd,
    json_t *v);
static ngx_int_t rp_api_id(rp_api_check_t *c, const rp_api_field_t *fd,
    json_t *v);
static ngx_int_t rp_api_email(rp_api_check_t *c, const rp_api_field_t *fd,
    json_t *v);
static ngx_int_t rp_api_role(rp_api_check_t *c, const rp_api_field_t *fd,
    json_t *v);

static ngx_int_t rp_api_fresh_id(rp_api_check_t *c);
static ngx_int_t rp_api_path_preview_port(rp_api_check_t *c);
static ngx_int_t rp_api_path_share(rp_api_check_t *c);
static ngx_int_t rp_api_path_user(rp_api_check_t *c);
static ngx_int_t rp_api_path_env(rp_api_check_t *c);
static ngx_int_t rp_api_env_values(rp_api_check_t *c);
static ngx_int_t rp_api_share_sign(rp_api_check_t *c);
static ngx_int_t rp_api_path_prefix(rp_api_check_t *c);
static ngx_int_t rp_api_key_new(rp_api_check_t *c);
static ngx_int_t rp_api_user_new(rp_api_check_t *c);
static ngx_int_t rp_api_login_token(rp_api_check_t *c);
static ngx_int_t rp_api_query_days(rp_api_check_t *c);


/* ---- the table ----------------------------------------------------------- */

/* a create's fields that a prewarm takes too, checked the same way */
#define RP_API_REPOSITORY_FIELD                                              \
    { "repository", JSON_STRING, 1, 0, 512, NULL, NULL,                      \
      rp_api_repository, RP_API_ARG_VALUE,                                   \
      "\"repository\" must be a URL or path of 1 to 512 characters "         \
      "without spaces" }

#define RP_API_ENVIRONMENT_FIELD                                             \
    { "environment", JSON_STRING, 0, 0, 0, NULL, NULL,                       \
      rp_api_env_field, RP_API_ARG_VALUE,                                    \
      "\"environment\" must be 1 to 64 lowercase letters, digits, dashes "   \
      "or underscores, starting with a letter or digit" }

#define RP_API_AGENT_FIELD                                                   \
    { "agent", JSON_STRING, 0, 0, 0, NULL, RP_AGENT_DEFAULT,                 \
      rp_api_agent, RP_API_ARG_VALUE,                                        \
      "\"agent\" must be one of " RP_AGENT_NAMES }

static const rp_api_field_t  rp_api_create[] = {
    RP_API_REPOSITORY_FIELD,
    { "name", JSON_STRING, 0, 0, 100, "A ._-", NULL,
      rp_api_slug, RP_API_ARG_VALUE,
      "\"name\" must be 1 to 100 letters, digits, spaces, dots, dashes or "
      "underscores" },
    RP_API_ENVIRONMENT_FIELD,
    RP_API_AGENT_FIELD,
    { "message", JSON_STRING, 0, 0, 32768, NULL, NULL,
      rp_api_lines, RP_API_ARG_VALUE,
      "\"message\" must be 1 to 32768 characters" },
    /* more repositories beside the first, each its own directory under
     * /workspace: the whole list as JSON, or "" for one */
    { "repositories", JSON_ARRAY, 0, 0, RP_API_REPOS_MAX - 1, NULL, NULL,
      rp_api_repositories, RP_API_ARG_CHECK,
      "\"repositories\" must be URLs or paths of 1 to 512 characters "
      "without spaces or credentials" },
    { NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL }
};


/* POST /v1/prewarm: what a create of it would name, nothing more */
static const rp_api_field_t  rp_api_prewarm[] = {
    RP_API_REPOSITORY_FIELD,
    RP_API_ENVIRONMENT_FIELD,
    RP_API_AGENT_FIELD,
    { NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL }
};


static const rp_api_field_t  rp_api_message[] = {
    { "text", JSON_STRING, 1, 0, 32768, NULL, NULL,
      rp_api_lines, RP_API_ARG_VALUE,
      "\"text\" must be 1 to 32768 characters" },
    { "chat", JSON_STRING, 0, 0, 64, "_-", "default",
      rp_api_slug, RP_API_ARG_VALUE,
      "\"chat\" must be 1 to 64 lowercase letters, digits, dashes or "
      "underscores" },
    /* what it is ("ci_failure"): waiting messages of one kind fold into
     * one turn in the engine; "" for a person's message */
    { "kind", JSON_STRING, 0, 0, 64, "._-", NULL,
      rp_api_slug, RP_API_ARG_VALUE,
      "\"kind\" must be 1 to 64 lowercase letters, digits, dots, dashes or "
      "underscores" },
    { NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL }
};


#define RP_API_PORT_FIELD                                                    \
    { "port", JSON_INTEGER, 1, 1, 65535, NULL, NULL,                         \
      rp_api_range, RP_API_ARG_VALUE,                                        \
      "\"port\" must be an integer from 1 to 65535" }

static const rp_api_field_t  rp_api_preview_add[] = {
    RP_API_PORT_FIELD,
    { "visibility", JSON_STRING, 0, 0, 0, NULL, "authenticated",
      rp_api_visibility, RP_API_ARG_VALUE,
      "\"visibility\" must be public or authenticated" },
    { NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL }
};


static const rp_api_field_t  rp_api_preview_delete[] = {
    RP_API_PORT_FIELD,
    { NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL }
};


/* read by rp_api_share_sign: 1 hour when absent */
static const rp_api_field_t  rp_api_share_create[] = {
    { "expires_in", JSON_INTEGER, 0, 60, 7 * 86400, NULL, NULL,
      rp_api_range, RP_API_ARG_NONE,
      "\"expires_in\" must be from 60 seconds to 7 days (604800)" },
    { NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL }
};


/* the whole list, as JSON for the script, which checks each is a user of
 * the organisation */
static const rp_api_field_t  rp_api_collaborators[] = {
    { "collaborators", JSON_ARRAY, 1, 0, 32, NULL, NULL,
      rp_api_user_ids, RP_API_ARG_CHECK,
      "\"collaborators\" must be a list of user ids" },
    { NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL }
};


/* a key for the caller, or (admins) another user of the organisation;
 * bound to one workspace (scope "workspace", as control's --workspace) */
static const rp_api_field_t  rp_api_key_create[] = {
    { "user", JSON_STRING, 0, 0, NGX_HTTP_REPLICAS_USER_MAX, NULL, NULL,
      rp_api_id, RP_API_ARG_VALUE,
      "\"user\" must be a user id (lowercase letters and digits)" },
    { "workspace", JSON_STRING, 0, 0, 32, NULL, NULL,
      rp_api_id, RP_API_ARG_VALUE,
      "\"workspace\" must be a workspace id (lowercase letters and digits)" },
    { NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL }
};


static const rp_api_field_t  rp_api_user_create[] = {
    { "email", JSON_STRING, 1, 0, 254, NULL, NULL,
      rp_api_email, RP_API_ARG_VALUE,
      "\"email\" must be an email address (name@domain, at most 254 "
      "characters, no spaces)" },
    { "role", JSON_STRING, 0, 0, 0, NULL, "member",
      rp_api_role, RP_API_ARG_VALUE,
      "\"role\" must be member or admin" },
    { NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL }
};


/* operations not named take no arguments here and ignore a body */
static const rp_api_spec_t  rp_api_specs[RP_API_OPS] = {
    [RP_API_CREATE] =
        { RP_API_BODY_REQUIRED, rp_api_fresh_id, rp_api_create, NULL },
    [RP_API_PREWARM] =
        { RP_API_BODY_REQUIRED, NULL, rp_api_prewarm, NULL },
    [RP_API_MESSAGE] =
        { RP_API_BODY_REQUIRED, NULL, rp_api_message, NULL },
    [RP_API_PREVIEW_ADD] =
        { RP_API_BODY_REQUIRED, NULL, rp_api_preview_add, NULL },
    [RP_API_PREVIEW_DELETE] =
        { RP_API_BODY_UNLESS_PORT, rp_api_path_preview_port,
          rp_api_preview_delete, NULL },
    [RP_API_SHARE_CREATE] =
        { RP_API_BODY_OPTIONAL, rp_api_path_share, rp_api_share_create,
          rp_api_share_sign },
    [RP_API_SHARE_DELETE] =
        { RP_API_BODY_IGNORED, rp_api_path_share, NULL, NULL },
    [RP_API_SHARES_LIST] =
        { RP_API_BODY_IGNORED, rp_api_path_share, NULL, NULL },
    [RP_API_COLLABORATORS] =
        { RP_API_BODY_REQUIRED, NULL, rp_api_collaborators, NULL },
    [RP_API_USER_DISABLE] =
        { RP_API_BODY_IGNORED, rp_api_path_user, NULL, NULL },
    [RP_API_USER_DELETE] =
        { RP_API_BODY_IGNORED, rp_api_path_user, NULL, NULL },
    [RP_API_ENV_GET] =
        { RP_API_BODY_IGNORED, rp_api_path_env, NULL, NULL },
    [RP_API_ENV_PUT] =
        { RP_API_BODY_REQUIRED, rp_api_path_env, NULL, rp_api_env_values },
    [RP_API_ENV_PATCH] =
        { RP_API_BODY_REQUIRED, rp_api_path_env, NULL, rp_api_env_values },
    [RP_API_KEY_CREATE] =
        { RP_API_BODY_OPTIONAL, NULL, rp_api_key_create, rp_api_key_new },
    [RP_API_KEY_REVOKE] =
        { RP_API_BODY_IGNORED, rp_api_path_prefix, NULL, NULL },
    [RP_API_USER_CREATE] =
        { RP_API_BODY_REQUIRED, NULL, rp_api_user_create, rp_api_user_new },
    [RP_API_LOGIN_LINK] =
        { RP_API_BODY_IGNORED, rp_api_path_user, NULL, rp_api_login_token },
    [RP_API_ENV_DELETE] =
        { RP_API_BODY_IGNORED, rp_api_path_env, NULL, NULL },
    [RP_API_STATS] =
        { RP_API_BODY_IGNORED, rp_api_query_days, NULL, NULL },
};


/* ---- the loop ------------------------------------------------------------ */

#define rp_api_message_set(c, text)                                          \
    ngx_cpystrn((u_char *) (c)->err, (u_char *) (text), (c)->err_size)


/*
 * The body's form: an object whose members are among the fields, of
 * their types, the required ones present.  Fills c->f[] (NULL when absent
 * or null).
 */

static ngx_int_t
rp_api_form(rp_api_check_t *c)
{
    json_t                *value;
    ngx_uint_t             i;
    const char            *name;
    const rp_api_field_t  *fd;

    if (!json_is_object(c->body)) {
        rp_api_message_set(c, "the body must be a JSON object");
        return NGX_ERROR;
    }

    json_object_foreach(c->body, name, value) {
        for (fd = c->fields; fd->name; fd++) {
            if (ngx_strcmp(name, fd->name) == 0) {
                break;
            }
        }

        if (fd->name == NULL) {
            ngx_snprintf((u_char *) c->err, c->err_size,
                         "unknown field \"%*s\"%Z",
                         ngx_min(ngx_strlen(name), 64), name);
            return NGX_ERROR;
        }
    }

    for (i = 0, fd = c->fields; fd->name; i++, fd++) {
        c->f[i] = json_object_get(c->body, fd->name);

        if (c->f[i] == NULL || json_is_null(c->f[i])) {
            c->f[i] = NULL;

            if (fd->required) {
                ngx_snprintf((u_char *) c->err, c->err_size,
                             "\"%s\" is required%Z", fd->name);
                return NGX_ERROR;
            }

            continue;
        }

        if ((int) json_typeof(c->f[i]) != fd->type) {
            ngx_snprintf((u_char *) c->err, c->err_size, "\"%s\" must be %s%Z",
                         fd->name, fd->type == JSON_STRING ? "a string"
                         : fd->type == JSON_ARRAY ? "an array"
                         : "an integer");
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* Each field's check, in order, and its argument. */

static ngx_int_t
rp_api_check_fields(rp_api_check_t *c)
{
    json_t                *v;
    ngx_int_t              rc;
    ngx_uint_t             i;
    const rp_api_field_t  *fd;

    for (i = 0, fd = c->fields; fd->name; i++, fd++) {
        v = c->f[i];

        if (v == NULL && fd->absent == NULL) {
            if (fd->arg != RP_API_ARG_NONE && rp_api_add(c, "", 0) != NGX_OK) {
                return NGX_ERROR;
            }

            continue;
        }

        if (fd->type == JSON_STRING) {
            c->s = v ? json_string_value(v) : fd->absent;
            c->len = v ? json_string_length(v) : ngx_strlen(fd->absent);
        }

        rc = fd->check(c, fd, v);

        if (rc == NGX_DECLINED) {
            if (c->err[0] == '\0') {
                rp_api_message_set(c, fd->invalid);
            }

            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        if (fd->arg != RP_API_ARG_VALUE) {
            continue;
        }

        rc = (fd->type == JSON_STRING)
             ? rp_api_add(c, c->s, c->len)
             : rp_api_add_int(c, (ngx_int_t) json_integer_value(v));

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_replicas_api_validate(ngx_http_request_t *r,
    ngx_http_replicas_api_ctx_t *ctx, json_t *body, char *err,
    size_t err_size)
{
    ngx_int_t             rc;
    rp_api_check_t        c;
    const rp_api_spec_t  *spec;

    if (ctx->op >= RP_API_OPS) {
        return NGX_ERROR;
    }

    spec = &rp_api_specs[ctx->op];

    if (body == NULL
        && (spec->body == RP_API_BODY_REQUIRED
            || (spec->body == RP_API_BODY_UNLESS_PORT && ctx->port.len == 0)))
    {
        return NGX_DECLINED;
    }

    ngx_memzero(&c, sizeof(rp_api_check_t));
    c.r = r;
    c.ctx = ctx;
    c.body = body;
    c.fields = spec->fields;
    c.err = err;
    c.err_size = err_size;

    rc = spec->path ? spec->path(&c) : NGX_OK;

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_DONE && spec->fields && body
        && spec->body != RP_API_BODY_IGNORED)
    {
        if (rp_api_form(&c) != NGX_OK || rp_api_check_fields(&c) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return spec->last ? spec->last(&c) : NGX_OK;
}


/* ---- arguments ----------------------------------------------------------- */

static ngx_int_t
rp_api_add(rp_api_check_t *c, const char *s, size_t len)
{
    u_char                       *p;
    ngx_http_replicas_api_ctx_t  *ctx;

    ctx = c->ctx;

    if (ctx->nargs == NGX_HTTP_REPLICAS_API_ARGS) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(c->r->pool, len ? len : 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, s, len);
    ctx->args[ctx->nargs].data = p;
    ctx->args[ctx->nargs].len = len;
    ctx->nargs++;

    return NGX_OK;
}


static ngx_int_t
rp_api_add_int(rp_api_check_t *c, ngx_int_t n)
{
    u_char  num[NGX_INT_T_LEN];

    return rp_api_add(c, (char *) num, ngx_sprintf(num, "%i", n) - num);
}


/* another field's value, for checks that look at two */

static json_t *
rp_api_value(rp_api_check_t *c, const char *name)
{
    ngx_uint_t  i;

    for (i = 0; c->fields[i].name; i++) {
        if (ngx_strcmp(c->fields[i].name, name) == 0) {
            return c->f[i];
        }
    }

    return NULL;
}


/* ---- checks -------------------------------------------------------------- */

/* A printable UTF-8 string without control characters, 1..max bytes. */

static ngx_int_t
rp_api_text_ok(const char *s, size_t len, size_t max, ngx_uint_t newlines)
{
    size_t  i;

    if (len == 0 || len > max) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((u_char) s[i] < 0x20 && !(newlines && (s[i] == '\n'
                                                   || s[i] == '\t'
                                                   || s[i] == '\r')))
        {
            return 0;
        }

        if (s[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


/* a repository: a URL or path, no spaces */

static ngx_int_t
rp_api_repo_ok(const char *s, size_t len)
{
    return rp_api_text_ok(s, len, 512, 0)
           && ngx_strlchr((u_char *) s, (u_char *) s + len, ' ') == NULL;
}


static ngx_int_t
rp_api_lines(rp_api_check_t *c, const rp_api_field_t *fd, json_t *v)
{
    return rp_api_text_ok(c->s, c->len, fd->max, 1) ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
rp_api_slug(rp_api_check_t *c, const rp_api_field_t *fd, json_t *v)
{
    size_t       i;
    const char  *s, *extra;

    s = c->s;
    extra = fd->chars;

    if (c->len == 0 || c->len > (size_t) fd->max) {
        return NGX_DECLINED;
    }

    for (i = 0; i < c->len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || (s[i] >= 'A' && s[i] <= 'Z' && extra[0] == 'A')
              || ngx_strlchr((u_char *) extra, (u_char *) extra
                             + ngx_strlen(extra), s[i]) != NULL))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
rp_api_range(rp_api_check_t *c, const rp_api_field_t *fd, json_t *v)
{
    json_int_t  n;

    n = json_integer_value(v);

    return (n < fd->min || n > fd->max) ? NGX_DECLINED : NGX_OK;
}


static ngx_int_t
rp_api_repository(rp_api_check_t *c, const rp_api_field_t *fd, json_t *v)
{
    if (!rp_api_repo_ok(c->s, c->len)) {
        return NGX_DECLINED;
    }

    if (rp_url_has_userinfo(c->s, c->len)) {
        rp_api_message_set(c, "no credentials in a repository URL: put the "
                           "token in an environment as REPLICAS_GIT_TOKEN");
        return NGX_DECLINED;
    }

    /* this machine or a range no setting allows: refused before any job;
     * names are resolved and checked by control */
    if (rp_repo_url_refused(c->s, c->len, c->err, c->err_size)) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* the first repository and these, as one JSON list; "" for none */

static ngx_int_t
rp_api_repositories(rp_api_check_t *c, const rp_api_field_t *fd, json_t *v)
{
    char        *text;
    size_t       i, len;
    json_t      *all, *item;
    ngx_int_t    rc;
    const char  *s;

    if (json_array_size(v) == 0) {
        return rp_api_add(c, "", 0);
    }

    if (json_array_size(v) > (size_t) fd->max) {
        rp_api_message_set(c, "\"repositories\" holds at most 7 more "
                           "repositories");
        return NGX_DECLINED;
    }

    all = json_array();
    if (all == NULL
        || json_array_append(all, rp_api_value(c, "repository")) != 0)
    {
        json_decref(all);
        return NGX_ERROR;
    }

    json_array_foreach(v, i, item) {
        s = json_string_value(item);
        len = json_string_length(item);

        if (!json_is_string(item) || !rp_api_repo_ok(s, len)
            || rp_url_has_userinfo(s, len)
            || json_array_append(all, item) != 0)
        {
            json_decref(all);
            return NGX_DECLINED;
        }

        if (rp_repo_url_refused(s, len, c->err, c->err_size)) {
            json_decref(all);
            return NGX_DECLINED;
        }
    }

    text = json_dumps(all, JSON_COMPACT);
    json_decref(all);

    if (text == NULL) {
        return NGX_ERROR;
    }

    rc = rp_api_add(c, text, ngx_strlen(text));
    free(text);

    return rc;
}


static ngx_int_t
rp_api_env_field(rp_api_check_t *c, const rp_api_field_t *fd, json_t *v)
{
    return rp_env_name_ok(c->s, c->len) ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
rp_api_agent(rp_api_check_t *c, const rp_api_field_t *fd, json_t *v)
{
    return rp_agent_index(c->s, c->len) < 0 ? NGX_DECLINED : NGX_OK;
}


static ngx_int_t
rp_api_visibility(rp_api_check_t *c, const rp_api_field_t *fd, json_t *v)
{
    json_int_t  port;
    ngx_uint_t  public;

    public = (c->len == 6 && ngx_strncmp(c->s, "public", 6) == 0);

    if (!public
        && !(c->len == 13 && ngx_strncmp(c->s, "authenticated", 13) == 0))
    {
        return NGX_DECLINED;
    }

    port = json_integer_value(rp_api_value(c, "port"));

    if (public && (port == RP_PORT_ENGINE || port == RP_PORT_DESKTOP))
    {
        rp_api_message_set(c, "ports 3737 (engine) and 6080 (desktop) are "
                           "always authenticated");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
rp_api_user_ids(rp_api_check_t *c, const rp_api_field_t *fd, json_t *v)
{
    char       *text;
    size_t      i;
    json_t     *item;
    ngx_int_t   rc;

    if (json_array_size(v) > (size_t) fd->max) {
        rp_api_message_set(c, "\"collaborators\" holds at most 32 user ids");
        return NGX_DECLINED;
    }

    json_array_foreach(v, i, item) {
        if (!json_is_string(item)
            || !rp_ws_id_valid(json_string_value(item),
                               json_string_length(item)))
        {
            return NGX_DECLINED;
        }
    }

    text = json_dumps(v, JSON_COMPACT);
    if (text == NULL) {
        return NGX_ERROR;
    }

    rc = rp_api_add(c, text, ngx_strlen(text));
    free(text);

    return rc;
}


/* a user's or a workspace's id: lowercase letters and digits */

static ngx_int_t
rp_api_id(rp_api_check_t *c, const rp_api_field_t *fd, json_t *v)
{
    return (c->len <= (size_t) fd->max && rp_ws_id_valid(c->s, c->len))
           ? NGX_OK : NGX_DECLINED;
}


/* local@domain: one "@" with something on both sides, a dot in the
 * domain, no spaces, quotes, angle brackets or control characters (the
 * address is shown in pages and the CLI's listings, never sent mail) */

static ngx_int_t
rp_api_email(rp_api_check_t *c, const rp_api_field_t *fd, json_t *v)
{
    u_char  *at, *p, *end;

    p = (u_char *) c->s;
    end = p + c->len;

    if (!rp_api_text_ok(c->s, c->len, fd->max, 0)) {
        return NGX_DECLINED;
    }

    for (/* void */; p < end; p++) {
        if (*p == ' ' || *p == '"' || *p == '<' || *p == '>' || *p == '\\'
            || *p == ',')
        {
            return NGX_DECLINED;
        }
    }

    p = (u_char *) c->s;
    at = ngx_strlchr(p, end, '@');

    if (at == NULL || at == p || at + 1 == end
        || ngx_strlchr(at + 1, end, '@') != NULL
        || ngx_strlchr(at + 1, end, '.') == NULL
        || *(end - 1) == '.')
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
rp_api_role(rp_api_check_t *c, const rp_api_field_t *fd, json_t *v)
{
    if ((c->len == 6 && ngx_strncmp(c->s, "member", 6) == 0)
        || (c->len == 5 && ngx_strncmp(c->s, "admin", 5) == 0))
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* ---- steps: the path, and what needs every field ------------------------- */

/* a fresh id for a new workspace (the script keeps an earlier one on a
 * repeat), then the Idempotency-Key's hash stored after the key's */

static ngx_int_t
rp_api_fresh_id(rp_api_check_t *c)
{
    char        id[13];
    u_char     *idem;
    ngx_str_t  *key;

    key = &c->ctx->key_hash;
    idem = key->data + key->len + 1;

    if (rp_random_id(12, id) != 0
        || rp_api_add(c, id, 12) != NGX_OK
        || rp_api_add(c, (char *) idem, ngx_strlen(idem)) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a port in the path: digits without a leading zero, 1..65535 */

static ngx_int_t
rp_api_port_parse(ngx_str_t *port)
{
    ngx_int_t  n;

    n = port->data[0] == '0' ? NGX_ERROR : ngx_atoi(port->data, port->len);

    return (n < 1 || n > 65535) ? NGX_ERROR : n;
}


/* DELETE .../previews/{port}: the path names it, no body is read */

static ngx_int_t
rp_api_path_preview_port(rp_api_check_t *c)
{
    if (c->ctx->port.len == 0) {
        return NGX_OK;                          /* it is in the body */
    }

    c->port = rp_api_port_parse(&c->ctx->port);

    if (c->port == NGX_ERROR) {
        rp_api_message_set(c, "\"port\" must be an integer from 1 to 65535");
        return NGX_ERROR;
    }

    return rp_api_add_int(c, c->port) == NGX_OK ? NGX_DONE : NGX_ERROR;
}


/* .../previews/{port}/shares[/{share id}] */

static ngx_int_t
rp_api_path_share(rp_api_check_t *c)
{
    c->port = rp_api_port_parse(&c->ctx->port);

    if (c->port == NGX_ERROR) {
        rp_api_message_set(c, "the port must be an integer from 1 to 65535");
        return NGX_ERROR;
    }

    if (c->port == RP_PORT_ENGINE || c->port == RP_PORT_DESKTOP) {
        rp_api_message_set(c, "ports 3737 (engine) and 6080 (desktop) cannot "
                           "be shared");
        return NGX_ERROR;
    }

    if (rp_api_add_int(c, c->port) != NGX_OK) {
        return NGX_ERROR;
    }

    if (c->ctx->share.len) {
        return rp_api_add(c, (char *) c->ctx->share.data, c->ctx->share.len);
    }

    return NGX_OK;
}


static ngx_int_t
rp_api_path_user(rp_api_check_t *c)
{
    return rp_api_add(c, (char *) c->ctx->user.data, c->ctx->user.len);
}


static ngx_int_t
rp_api_path_env(rp_api_check_t *c)
{
    ngx_http_replicas_api_ctx_t  *ctx;

    ctx = c->ctx;

    if (!rp_env_name_ok((char *) ctx->env.data, ctx->env.len)) {
        rp_api_message_set(c, "an environment name is 1 to 64 lowercase "
                           "letters, digits, dashes or underscores, "
                           "starting with a letter or digit");
        return NGX_ERROR;
    }

    return rp_api_add(c, (char *) ctx->env.data, ctx->env.len);
}


/* GET /v1/stats?days=N: N from 1 to 90 in decimal, 14 when absent (the
 * days' counters are kept 100 days) */

#define RP_API_STATS_DAYS      14
#define RP_API_STATS_DAYS_MAX  90

static ngx_int_t
rp_api_query_days(rp_api_check_t *c)
{
    ngx_int_t  n;
    ngx_str_t  v;

    if (ngx_http_arg(c->r, (u_char *) "days", 4, &v) != NGX_OK) {
        return rp_api_add_int(c, RP_API_STATS_DAYS);
    }

    n = (v.len > 0 && v.len <= 2 && v.data[0] != '0')
        ? ngx_atoi(v.data, v.len) : NGX_ERROR;

    if (n == NGX_ERROR || n < 1 || n > RP_API_STATS_DAYS_MAX) {
        rp_api_message_set(c, "\"days\" must be an integer from 1 to 90");
        return NGX_ERROR;
    }

    return rp_api_add_int(c, n);
}


/* PUT and PATCH /v1/environments/{name}: the values, checked and kept to be sealed
 * once the key's organisation is known (ngx_http_replicas_env.c) */

static ngx_int_t
rp_api_env_values(rp_api_check_t *c)
{
    switch (ngx_http_replicas_env_parse(c->r, c->body,
                                        c->ctx->op == RP_API_ENV_PATCH,
                                        &c->ctx->env_values,
                                        c->err, c->err_size))
    {
    case NGX_OK:
        return NGX_OK;

    case NGX_DECLINED:
        return NGX_ERROR;                       /* a message in err: 400 */

    default:
        c->err[0] = '\0';
        return NGX_ERROR;
    }
}


/*
 * A share link: a token signed here, "s|<preview host>|<share id>|
 * h:<share id>|<expiry>", that the preview host accepts without a login
 * while Redis still holds the share (revoking deletes it).
 */

static ngx_int_t
rp_api_share_sign(rp_api_check_t *c)
{
    char                           id[17];
    u_char                        *p;
    json_t                        *v;
    time_t                         expires;
    ngx_str_t                      payload, token;
    ngx_http_replicas_loc_conf_t  *rlcf;

    if (c->ctx->op != RP_API_SHARE_CREATE) {
        return NGX_OK;
    }

    v = rp_api_value(c, "expires_in");
    expires = ngx_time() + (v ? (time_t) json_integer_value(v) : 3600);

    rlcf = ngx_http_get_module_loc_conf(c->r, ngx_http_replicas_module);

    if (rp_random_id(16, id) != 0) {
        return NGX_ERROR;
    }

    payload.data = ngx_pnalloc(c->r->pool, 128 + rlcf->domain.len);
    if (payload.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(payload.data, "s|%i-%V.%V|%s|" RP_CACHE_KEY_SHARE "%s|%T",
                    c->port, &c->ctx->ws, &rlcf->domain, id, id, expires);
    payload.len = p - payload.data;

    if (ngx_http_replicas_sign(c->r, &payload, &token) != NGX_OK) {
        return NGX_ERROR;
    }

    if (rp_api_add(c, id, 16) != NGX_OK
        || rp_api_add_int(c, (ngx_int_t) expires) != NGX_OK
        || rp_api_add(c, (char *) token.data, token.len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* DELETE /v1/keys/{prefix}: the route checked its form */

static ngx_int_t
rp_api_path_prefix(rp_api_check_t *c)
{
    return rp_api_add(c, (char *) c->ctx->prefix.data, c->ctx->prefix.len);
}


/*
 * POST /v1/keys: a new key made here (common/rp_token.h, the maker
 * control uses too).  The script gets its prefix and SHA-256 only; the
 * key itself stays in ctx->secret for the answer (ngx_http_replicas_api.c).
 */

static ngx_int_t
rp_api_key_new(rp_api_check_t *c)
{
    char     prefix[RP_APIKEY_PREFIX_LEN + 1], hash[RP_SHA256_HEX + 1];
    u_char  *key;

    /* no body: the caller's own key, unbound ("user", "workspace") */
    if (c->body == NULL
        && (rp_api_add(c, "", 0) != NGX_OK || rp_api_add(c, "", 0) != NGX_OK))
    {
        return NGX_ERROR;
    }

    key = ngx_pnalloc(c->r->pool, RP_APIKEY_MAX + 1);

    if (key == NULL || rp_apikey_new((char *) key, prefix, hash) != 0) {
        return NGX_ERROR;
    }

    c->ctx->secret.data = key;
    c->ctx->secret.len = ngx_strlen(key);

    if (rp_api_add(c, prefix, RP_APIKEY_PREFIX_LEN) != NGX_OK
        || rp_api_add(c, hash, RP_SHA256_HEX) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* POST /v1/users: a fresh id for the new user (control's are 12 too) */

static ngx_int_t
rp_api_user_new(rp_api_check_t *c)
{
    char  id[13];

    if (rp_random_id(12, id) != 0) {
        return NGX_ERROR;
    }

    return rp_api_add(c, id, 12);
}


/*
 * POST /v1/users/{id}/login-link: a one-time token, as control's
 * login-link makes it (32 random bytes, base64url); the script stores
 * its SHA-256, the answer carries the link once.
 */

static ngx_int_t
rp_api_login_token(rp_api_check_t *c)
{
    char     hash[RP_SHA256_HEX + 1];
    u_char  *token;

    token = ngx_pnalloc(c->r->pool, 48);

    if (token == NULL || rp_random_b64url(32, (char *) token) != 0) {
        return NGX_ERROR;
    }

    c->ctx->secret.data = token;
    c->ctx->secret.len = ngx_strlen(token);

    rp_sha256_hex(token, c->ctx->secret.len, hash);

    return rp_api_add(c, hash, RP_SHA256_HEX);
}
