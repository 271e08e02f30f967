/*
 * Environments in the HTTP API: validating a PUT body and sealing its
 * values.
 *
 * A PUT /v1/environments/{name} body
 *
 *     {"variables": {"NAME": "value", ...}?, "files": {"path": "content"}?,
 *      "usable_by": "all" | ["<user id>", ...]?,
 *      "allow_loader_variables": true?}
 *
 * (only admins may PUT: lua/api.lua's table of roles).  A PATCH body is
 * the same, merged into what is stored: a null value removes that
 * variable or file, an absent "usable_by" keeps the stored one.  No file may land
 * in ".git/" or the home folder's start-up files, and loader variables
 * (LD_PRELOAD, PATH, ...) need "allow_loader_variables": common/rp_env.c.
 * is validated here (jansson; limits and grammar in common/rp_env.h), its
 * values copied into the request's pool, then each value is sealed with
 * the deployment's secrets key (common/rp_crypt.c) bound to
 * "org|env|field", so lua/api.lua only ever stores opaque tokens.  The
 * plaintext copies are wiped as soon as they are sealed (and by a pool
 * cleanup if the request ends first); the raw body and jansson's strings
 * are wiped by the caller through ngx_http_replicas_env_wipe_*().  Values
 * are never logged and never answered back.
 */

#include "ngx_http_replicas.h"


typedef struct {
    ngx_str_t                      field;   /* "var:NAME" | "file:path", NUL */
    ngx_str_t                      value;   /* plaintext */
    ngx_uint_t                     remove;  /* PATCH's null: delete it */
} ngx_http_replicas_env_item_t;


struct ngx_http_replicas_env_s {
    ngx_str_t                      usable_by;     /* "", "all", JSON list */
    ngx_uint_t                     allow_loader;
    ngx_uint_t                     n;
    ngx_http_replicas_env_item_t   items[RP_ENV_VARS_MAX + RP_ENV_FILES_MAX];
};


static void
ngx_http_replicas_env_cleanup(void *data)
{
    ngx_http_replicas_env_t  *env = data;

    ngx_uint_t  i;

    for (i = 0; i < env->n; i++) {
        rp_crypt_wipe(env->items[i].value.data, env->items[i].value.len);
        env->items[i].value.len = 0;
    }
}


static void
ngx_http_replicas_env_wipe_string(json_t *s)
{
    if (json_is_string(s)) {
        rp_crypt_wipe((char *) json_string_value(s), json_string_length(s));
    }
}


void
ngx_http_replicas_env_wipe_json(json_t *body)
{
    json_t      *part, *value;
    const char  *name;

    if (!json_is_object(body)) {
        return;
    }

    part = json_object_get(body, "variables");

    if (json_is_object(part)) {
        json_object_foreach(part, name, value) {
            ngx_http_replicas_env_wipe_string(value);
        }
    }

    part = json_object_get(body, "files");

    if (json_is_object(part)) {
        json_object_foreach(part, name, value) {
            ngx_http_replicas_env_wipe_string(value);
        }
    }
}


/* the body as read (nginx's buffers) and the module's copy of it */

void
ngx_http_replicas_env_wipe_body(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_chain_t  *cl;

    if (body->len) {
        rp_crypt_wipe(body->data, body->len);
    }

    if (r->request_body == NULL) {
        return;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (!cl->buf->in_file && cl->buf->last > cl->buf->pos) {
            rp_crypt_wipe(cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }
}


static ngx_int_t
ngx_http_replicas_env_add(ngx_http_request_t *r, ngx_http_replicas_env_t *env,
    const char *prefix, const char *key, size_t key_len, json_t *value)
{
    size_t                         plen;
    ngx_http_replicas_env_item_t  *it;

    if (env->n == sizeof(env->items) / sizeof(env->items[0])) {
        return NGX_ERROR;
    }

    it = &env->items[env->n];
    plen = ngx_strlen(prefix);

    it->field.len = plen + key_len;
    it->field.data = ngx_pnalloc(r->pool, it->field.len + 1);
    if (it->field.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(it->field.data, prefix, plen), key, key_len);
    it->field.data[it->field.len] = '\0';

    if (json_is_null(value)) {
        it->remove = 1;                         /* a PATCH's removal */
        ngx_str_set(&it->value, "");
        env->n++;
        return NGX_OK;
    }

    it->value.len = json_string_length(value);
    it->value.data = ngx_pnalloc(r->pool, it->value.len ? it->value.len : 1);
    if (it->value.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(it->value.data, json_string_value(value), it->value.len);
    env->n++;

    return NGX_OK;
}


#define rp_env_invalid(...)                                                  \
    do { ngx_memzero(err, err_size);                                         \
         ngx_snprintf((u_char *) err, err_size - 1, __VA_ARGS__);            \
         return NGX_DECLINED; } while (0)


/*
 * "usable_by" ("all" or a list of up to 100 user ids) and
 * "allow_loader_variables".  NGX_OK; NGX_DECLINED with a message in err.
 */

static ngx_int_t
ngx_http_replicas_env_parse_access(ngx_http_request_t *r, json_t *body,
    ngx_http_replicas_env_t *env, char *err, size_t err_size)
{
    char        *text;
    size_t       i;
    json_t      *usable, *allow, *v;
    const char  *s;

    allow = json_object_get(body, "allow_loader_variables");

    if (allow && !json_is_boolean(allow)) {
        rp_env_invalid("\"allow_loader_variables\" must be true or false");
    }

    env->allow_loader = json_is_true(allow);

    usable = json_object_get(body, "usable_by");

    if (usable == NULL || json_is_null(usable)) {
        ngx_str_null(&env->usable_by);
        return NGX_OK;
    }

    if (json_is_string(usable)
        && ngx_strcmp(json_string_value(usable), "all") == 0)
    {
        ngx_str_set(&env->usable_by, "all");
        return NGX_OK;
    }

    if (!json_is_array(usable) || json_array_size(usable) > 100) {
        rp_env_invalid("\"usable_by\" must be \"all\" or a list of at most "
                       "100 user ids");
    }

    json_array_foreach(usable, i, v) {
        s = json_string_value(v);

        if (!json_is_string(v)
            || !rp_ws_id_valid(s, json_string_length(v)))
        {
            rp_env_invalid("\"usable_by\" must be \"all\" or a list of "
                           "user ids");
        }
    }

    text = json_dumps(usable, JSON_COMPACT);
    if (text == NULL) {
        err[0] = '\0';
        return NGX_ERROR;
    }

    env->usable_by.len = ngx_strlen(text);
    env->usable_by.data = ngx_pnalloc(r->pool, env->usable_by.len);

    if (env->usable_by.data) {
        ngx_memcpy(env->usable_by.data, text, env->usable_by.len);
    }

    free(text);

    if (env->usable_by.data == NULL) {
        err[0] = '\0';
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_replicas_env_access(ngx_http_replicas_env_t *env,
    ngx_str_t *usable_by, ngx_str_t *allow_loader)
{
    /* never a NULL pointer for Redis's arguments */
    if (env->usable_by.len) {
        *usable_by = env->usable_by;

    } else {
        ngx_str_set(usable_by, "");
    }

    if (env->allow_loader) {
        ngx_str_set(allow_loader, "1");

    } else {
        ngx_str_set(allow_loader, "");
    }
}


/*
 * {"variables": {"NAME": "value"}?, "files": {"path": "content"}?}
 * NGX_OK with *out set; NGX_DECLINED with a message in err; NGX_ERROR.
 */

ngx_int_t
ngx_http_replicas_env_parse(ngx_http_request_t *r, json_t *body,
    ngx_uint_t patch, ngx_http_replicas_env_t **out, char *err,
    size_t err_size)
{
    size_t                    len;
    json_t                   *vars, *files, *value;
    const char               *name;
    ngx_pool_cleanup_t       *cln;
    ngx_http_replicas_env_t  *env;

    if (!json_is_object(body)) {
        rp_env_invalid("the body must be a JSON object {\"variables\": {...}, "
                       "\"files\": {...}}");
    }

    json_object_foreach(body, name, value) {
        if (ngx_strcmp(name, "variables") != 0
            && ngx_strcmp(name, "files") != 0
            && ngx_strcmp(name, "usable_by") != 0
            && ngx_strcmp(name, "allow_loader_variables") != 0)
        {
            rp_env_invalid("unknown field \"%*s\"",
                           ngx_min(ngx_strlen(name), 40), name);
        }
    }

    env = ngx_pcalloc(r->pool, sizeof(ngx_http_replicas_env_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (env == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_replicas_env_cleanup;
    cln->data = env;

    if (ngx_http_replicas_env_parse_access(r, body, env, err, err_size)
        != NGX_OK)
    {
        return err[0] ? NGX_DECLINED : NGX_ERROR;
    }

    vars = json_object_get(body, "variables");

    if (vars && !json_is_null(vars)) {
        if (!json_is_object(vars)) {
            rp_env_invalid("\"variables\" must be an object of "
                           "\"NAME\": \"value\" strings");
        }

        if (json_object_size(vars) > RP_ENV_VARS_MAX) {
            rp_env_invalid("an environment has at most %d variables",
                           RP_ENV_VARS_MAX);
        }

        json_object_foreach(vars, name, value) {
            len = ngx_strlen(name);

            if (!rp_env_var_name_ok(name, len)) {
                rp_env_invalid("variable \"%*s\": a name is 1 to %d letters, "
                               "digits and _, not starting with a digit",
                               ngx_min(len, 40), name, RP_ENV_VAR_NAME_MAX);
            }

            if (patch && json_is_null(value)) {
                /* removed: no value to check */

            } else if (!json_is_string(value)) {
                rp_env_invalid("variable %s: the value must be a string%s",
                               name, patch ? " (or null to remove it)" : "");

            } else if (rp_env_var_loader(name, len) && !env->allow_loader) {
                rp_env_invalid("variable %s changes how programs load: "
                               "refused unless \"allow_loader_variables\" "
                               "is true", name);
            }

            if (json_string_length(value) > RP_ENV_VALUE_MAX) {
                rp_env_invalid("variable %s: the value is over %d bytes",
                               name, RP_ENV_VALUE_MAX);
            }

            if (ngx_http_replicas_env_add(r, env, RP_ENV_FIELD_VAR, name,
                                          len, value)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    files = json_object_get(body, "files");

    if (files && !json_is_null(files)) {
        if (!json_is_object(files)) {
            rp_env_invalid("\"files\" must be an object of "
                           "\"relative/path\": \"content\" strings");
        }

        if (json_object_size(files) > RP_ENV_FILES_MAX) {
            rp_env_invalid("an environment has at most %d files",
                           RP_ENV_FILES_MAX);
        }

        json_object_foreach(files, name, value) {
            len = ngx_strlen(name);

            if (!rp_env_path_ok(name, len)) {
                rp_env_invalid("file \"%*s\": a path is relative, 1 to %d "
                               "bytes, without empty, . or .. parts",
                               ngx_min(len, 40), name, RP_ENV_PATH_MAX);
            }

            if (!rp_env_path_allowed(name, len)) {
                rp_env_invalid("file \"%*s\": no file may land in .git or "
                               "the home folder's shell start-up files",
                               ngx_min(len, 40), name);
            }

            if (patch && json_is_null(value)) {
                /* removed */

            } else if (!json_is_string(value)) {
                rp_env_invalid("file \"%*s\": the content must be a "
                               "string%s", ngx_min(len, 40), name,
                               patch ? " (or null to remove it)" : "");

            } else if (json_string_length(value) > RP_ENV_FILE_MAX) {
                rp_env_invalid("file \"%*s\": the content is over %d bytes "
                               "(64 KiB)", ngx_min(len, 40), name,
                               RP_ENV_FILE_MAX);
            }

            if (ngx_http_replicas_env_add(r, env, RP_ENV_FIELD_FILE, name,
                                          len, value)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    *out = env;

    return NGX_OK;
}


static void
ngx_http_replicas_env_free(void *data)
{
    free(data);
}


/*
 * Seals every value for org/name into one JSON object, the script's
 * argument: {"var:NAME": "v1.<kid>.<...>", "file:path": "v1...", ...}.
 * The plaintext is wiped once sealed, whatever the outcome.
 */

ngx_int_t
ngx_http_replicas_env_seal(ngx_http_request_t *r,
    ngx_http_replicas_env_t *env, ngx_str_t *org, ngx_str_t *name,
    ngx_str_t *sealed)
{
    char                           *text, *token, ad[512];
    size_t                          ad_len, tlen, size;
    json_t                         *obj;
    ngx_int_t                       rc;
    ngx_uint_t                      i;
    ngx_pool_cleanup_t             *cln;
    ngx_http_replicas_env_item_t   *it;
    ngx_http_replicas_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_replicas_module);

    if (!rmcf->secrets_set) {
        ngx_http_replicas_env_cleanup(env);
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_http_replicas_env_cleanup(env);
        return NGX_ERROR;
    }

    /* the largest value of either kind */
    size = rp_crypt_sealed_len(ngx_max(RP_ENV_FILE_MAX, RP_ENV_VALUE_MAX))
           + 1;
    token = malloc(size);
    obj = json_object();

    rc = (token && obj) ? NGX_OK : NGX_ERROR;

    for (i = 0; rc == NGX_OK && i < env->n; i++) {
        it = &env->items[i];

        if (it->remove) {
            /* "" is never a sealed token: the script removes the field */
            if (json_object_set_new(obj, (char *) it->field.data,
                                    json_string("")) != 0)
            {
                rc = NGX_ERROR;
            }

            continue;
        }

        ad_len = rp_crypt_ad(ad, sizeof(ad), (char *) org->data, org->len,
                             (char *) name->data, name->len,
                             (char *) it->field.data, it->field.len);

        if (ad_len == 0
            || rp_crypt_seal(rmcf->secrets_key, ad, ad_len, it->value.data,
                             it->value.len, token, size, &tlen)
               != RP_CRYPT_OK
            || json_object_set_new(obj, (char *) it->field.data,
                                   json_stringn(token, tlen)) != 0)
        {
            rc = NGX_ERROR;
        }
    }

    ngx_http_replicas_env_cleanup(env);
    free(token);

    text = (rc == NGX_OK) ? json_dumps(obj, JSON_COMPACT) : NULL;

    if (obj) {
        json_decref(obj);
    }

    if (text == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "replicas: sealing an environment failed");
        return NGX_ERROR;
    }

    cln->handler = ngx_http_replicas_env_free;
    cln->data = text;

    sealed->data = (u_char *) text;
    sealed->len = ngx_strlen(text);

    return NGX_OK;
}
