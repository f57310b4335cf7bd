/* SPDX-License-Identifier: MIT */
/*
 * Redis Sentinel master discovery (see sentinel.h). Uses only hiredis API
 * present in both 0.14 and 1.x.
 */
#include "backends/redis/sentinel.h"

#include <hiredis/hiredis.h>
#ifdef PAPYRA_HAVE_REDIS_TLS
#include <hiredis/hiredis_ssl.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "backends/redis/redis-private.h"
#include "util/buf.h"

/* The sentinel list of a redis-sentinel:// URL, as its error messages name it. */
static const papyra__redis_hostlist sentinel_list = {
    .scheme = "redis-sentinel",
    .empty = "sentinel address in the list",
    .plural = "sentinels",
    .item = "sentinel address",
    .no_host = "no host",
    .host_max = 0,
    .max = PAPYRA_SENTINEL_MAX,
    .default_port = 26379,
};

int
papyra__sentinel_parse(papyra_store *s, const char *path, papyra__sentinel **ret)
{
    papyra__sentinel *st = calloc(1, sizeof(*st));
    const char *slash = strchr(path, '/'), *p = path;
    int rc = 0;

    if (!st)
        return PAPYRA_ENOMEM;
    if (strchr(path, '@')) {
        rc = papyra__store_error(s, PAPYRA_EINVAL,
                                 "redis-sentinel URL: give the master's credentials as ?user= and "
                                 "?password=, not user:password@ (the authority lists sentinels)");
        goto fail;
    }
    if (!slash || slash[1] == '\0' || strchr(slash + 1, '/')) {
        rc = papyra__store_error(s, PAPYRA_EINVAL,
                                 "redis-sentinel URL: expected "
                                 "redis-sentinel://host:port[,host:port...]/master_name, got '%s'",
                                 path);
        goto fail;
    }
    if ((rc = papyra__redis_parse_hostlist(s, &sentinel_list, p, slash, &st->n, st->hosts,
                                           st->ports)) < 0)
        goto fail;
    if (!(st->master_name = strdup(slash + 1))) {
        rc = PAPYRA_ENOMEM;
        goto fail;
    }
    *ret = st;
    return 0;
fail:
    papyra__sentinel_free(st);
    return rc;
}

void
papyra__sentinel_free(papyra__sentinel *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->n; i++)
        free(st->hosts[i]);
    free(st->master_name);
    free(st->user);
    free(st->password);
    free(st);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval
tv_of(int64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* Whether a sentinel's error reply to a command is about credentials (none given, or a user
 * without the right). An error reply to AUTH itself always is. */
static bool
is_auth_error(const redisReply *reply)
{
    static const char *const prefixes[] = {"WRONGPASS", "NOAUTH", "NOPERM", NULL};
    for (int k = 0; prefixes[k]; k++) {
        size_t n = strlen(prefixes[k]);
        if (reply->len >= n && memcmp(reply->str, prefixes[k], n) == 0)
            return true;
    }
    return false;
}

/*
 * Asks sentinel @p i. Returns 0 with the address, or -1 with why in @p why;
 * *auth is set when the sentinel refused the credentials.
 */
static int
ask_one(const papyra__sentinel *st,
        int i,
        int64_t connect_timeout_ms,
        int64_t timeout_ms,
        char *host,
        size_t hostlen,
        int *port,
        char *why,
        size_t whylen,
        bool *auth)
{
    redisContext *c =
        redisConnectWithTimeout(st->hosts[i], st->ports[i], tv_of(connect_timeout_ms));
    redisReply *reply = NULL;
    const char *argv[3] = {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", st->master_name};
    int rc = -1;

    if (!c) {
        (void)snprintf(why, whylen, "out of memory");
        return -1;
    }
    if (c->err) {
        (void)snprintf(why, whylen, "%s", c->errstr);
        goto out;
    }
#ifdef PAPYRA_HAVE_REDIS_TLS
    /* The handshake, like the master's, is bounded by connect_timeout_ms. */
    if (st->tls && (redisSetTimeout(c, tv_of(connect_timeout_ms)) != REDIS_OK ||
                    redisInitiateSSLWithContext(c, st->tls) != REDIS_OK)) {
        (void)snprintf(why, whylen, "TLS: %s", c->err ? c->errstr : "handshake failed");
        goto out;
    }
#endif
    if (redisSetTimeout(c, tv_of(timeout_ms)) != REDIS_OK) {
        (void)snprintf(why, whylen, "%s", c->err ? c->errstr : "cannot set the timeout");
        goto out;
    }
    if (st->password) {
        const char *auth_argv[3] = {"AUTH", st->user ? st->user : st->password, st->password};
        if (!(reply = redisCommandArgv(c, st->user ? 3 : 2, auth_argv, NULL))) {
            (void)snprintf(why, whylen, "AUTH: %s", c->err ? c->errstr : "no reply");
            goto out;
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            *auth = true;
            (void)snprintf(why, whylen, "AUTH%s%s refused: %.*s", st->user ? " as " : "",
                           st->user ? st->user : "", (int)reply->len, reply->str);
            goto out;
        }
        freeReplyObject(reply);
        reply = NULL;
    }
    if (!(reply = redisCommandArgv(c, 3, argv, NULL))) {
        (void)snprintf(why, whylen, "%s", c->err ? c->errstr : "no reply");
        goto out;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        *auth = *auth || is_auth_error(reply);
        (void)snprintf(why, whylen, "%.*s", (int)reply->len, reply->str);
    } else if (reply->type == REDIS_REPLY_NIL)
        (void)snprintf(why, whylen, "does not know a master named '%s'", st->master_name);
    else if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
             reply->element[0]->type != REDIS_REPLY_STRING ||
             reply->element[1]->type != REDIS_REPLY_STRING ||
             reply->element[0]->len + 1 > hostlen ||
             papyra__redis_parse_port(reply->element[1]->str, reply->element[1]->len, port) < 0)
        (void)snprintf(why, whylen, "unexpected reply to SENTINEL GET-MASTER-ADDR-BY-NAME");
    else {
        memcpy(host, reply->element[0]->str, reply->element[0]->len);
        host[reply->element[0]->len] = '\0';
        rc = 0;
    }
out:
    freeReplyObject(reply);
    redisFree(c);
    return rc;
}

int
papyra__sentinel_master(papyra_store *s,
                        const papyra__sentinel *st,
                        int64_t connect_timeout_ms,
                        int64_t timeout_ms,
                        char *host,
                        size_t hostlen,
                        int *port)
{
    int64_t deadline = mono_ms() + timeout_ms;
    papyra_buf errs = {0}, group = {0};
    char why[512], group_why[512] = "";
    bool auth = false;
    int i, code;

    /*
     * The message lists each sentinel's failure, sentinels that failed alike
     * together ("h1:26379, h2:26379: Connection refused"), so that it stays
     * short enough to be read whole (papyra_error holds 256 bytes).
     */
    for (i = 0; i < st->n; i++) {
        if (i > 0 && mono_ms() >= deadline)
            break;
        if (ask_one(st, i, connect_timeout_ms, timeout_ms, host, hostlen, port, why, sizeof(why),
                    &auth) == 0) {
            papyra__buf_free(&errs);
            papyra__buf_free(&group);
            return 0;
        }
        if (group.len > 0 && strcmp(why, group_why) != 0) {
            (void)papyra__buf_appendf(&errs, "%s%s: %s", errs.len ? "; " : "", group.data,
                                      group_why);
            papyra__buf_reset(&group);
        }
        (void)papyra__buf_appendf(&group, "%s%s:%d", group.len ? ", " : "", st->hosts[i],
                                  st->ports[i]);
        (void)snprintf(group_why, sizeof(group_why), "%s", why);
    }
    if (group.len > 0)
        (void)papyra__buf_appendf(&errs, "%s%s: %s", errs.len ? "; " : "", group.data, group_why);
    papyra__buf_free(&group);
    /* A refused password is a setting to fix: say so with its own code, whatever the
     * other sentinels did. */
    code = auth ? PAPYRA_EACCES : PAPYRA_ECONNECT;
    (void)papyra__store_error(
        s, code, "redis-sentinel: no sentinel gave the address of master '%s'%s%s (%s)",
        st->master_name, i < st->n ? " within timeout_ms" : "",
        auth ? ": credentials refused (sentinel_password)" : "", errs.data ? errs.data : "");
    papyra__buf_free(&errs);
    return code;
}
