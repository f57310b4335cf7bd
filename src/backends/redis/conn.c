/* SPDX-License-Identifier: MIT */
/*
 * The Redis backend's connection: URL parsing, connect + AUTH + SELECT,
 * detection of a dropped connection, and command helpers that map hiredis
 * failures to PAPYRA_E* codes. Uses only hiredis API present in both 0.14 and
 * 1.x.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#ifdef PAPYRA_HAVE_REDIS_TLS
#include <hiredis/hiredis_ssl.h>
#endif
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "backends/redis/redis-private.h"
#include "core/backend.h"
#include "json/json.h"
#include "record/codec.h"
#include "util/buf.h"

/* Query parameters of the Redis backend itself. */
static const char *const redis_params[] = {
    "prefix",
    "system_id",
    "maxlen",
    "connect_timeout_ms",
    "timeout_ms",
    "connections",
    "db",
    "user",
    "password",
    "tls_ca",
    "tls_ca_dir",
    "tls_cert",
    "tls_key",
    "tls_server_name",
    "tls_insecure",
    "wait_replicas",
    "wait_timeout_ms",
    "sentinel_user",
    "sentinel_password",
    "key_layout",
    NULL,
};

/* The parameters that only the sentinel forms take. */
static const char *const sentinel_params[] = {"sentinel_user", "sentinel_password", NULL};

/* The parameters that only a TLS URL (rediss://, rediss-sentinel://) takes. */
static const char *const tls_params[] = {
    "tls_ca", "tls_ca_dir", "tls_cert", "tls_key", "tls_server_name", "tls_insecure", NULL,
};

int64_t
papyra__redis_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
parse_int(const char *p, size_t n, int64_t min, int64_t max, int64_t *ret)
{
    int64_t v = 0;
    if (n == 0 || n > 18)
        return PAPYRA_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return PAPYRA_EINVAL;
        v = v * 10 + (p[i] - '0');
    }
    if (v < min || v > max)
        return PAPYRA_EINVAL;
    *ret = v;
    return 0;
}

/*
 * Parses "[user:password@]host[:port][/db]" of a redis:// URL (already
 * percent-decoded by core/url.c): the last '@' ends the credentials and the first
 * ':' before it ends the user name, so a password may hold ':' and '@'.
 */
static int
parse_authority(papyra_store *s, const char *path, papyra__redis *r)
{
    const char *at = strrchr(path, '@');
    const char *hp = path;
    const char *slash, *end, *colon, *hs, *he;
    int64_t v;

    if (at) {
        const char *c = memchr(path, ':', (size_t)(at - path));
        if (c) {
            if (c > path && !(r->user = strndup(path, (size_t)(c - path))))
                return PAPYRA_ENOMEM;
            if (!(r->password = strndup(c + 1, (size_t)(at - c - 1))))
                return PAPYRA_ENOMEM;
        } else if (at > path) {
            /* "redis://secret@host" is the password-only form that redis-py also accepts. */
            if (!(r->password = strndup(path, (size_t)(at - path))))
                return PAPYRA_ENOMEM;
        }
        hp = at + 1;
    }
    slash = strchr(hp, '/');
    end = slash ? slash : hp + strlen(hp);
    if (papyra__redis_split_hostport(hp, (size_t)(end - hp), &hs, &he, &colon) < 0)
        return papyra__store_error(s, PAPYRA_EINVAL, "redis URL: unterminated '[' in host");
    if (!(r->host = strndup(hs, (size_t)(he - hs))))
        return PAPYRA_ENOMEM;
    if (r->host[0] == '\0') {
        free(r->host);
        if (!(r->host = strdup("localhost")))
            return PAPYRA_ENOMEM;
    }
    r->port = 6379;
    if (colon) {
        if (parse_int(colon + 1, (size_t)(end - colon - 1), 1, 65535, &v) < 0)
            return papyra__store_error(s, PAPYRA_EINVAL,
                                       "redis URL: bad port in '%s' (allowed range 1..65535)", hp);
        r->port = (int)v;
    }
    if (slash && slash[1] != '\0') {
        if (parse_int(slash + 1, strlen(slash + 1), 0, INT_MAX, &r->db) < 0)
            return papyra__store_error(s, PAPYRA_EINVAL,
                                       "redis URL: bad database number '%s' (allowed range "
                                       "0..%d)",
                                       slash + 1, INT_MAX);
    }
    return 0;
}

static int
param_dup(const papyra__url *url, const char *key, const char *dflt, char **ret)
{
    const char *v = papyra__url_param(url, key);
    if (!v)
        v = dflt;
    if (!v) {
        *ret = NULL;
        return 0;
    }
    *ret = strdup(v);
    return *ret ? 0 : PAPYRA_ENOMEM;
}

/* Upstream's "{prefix}:{system_id}:{kind}", or with key_layout=hashtag "{prefix:system_id}:{kind}".
 */
static int
build_keys(papyra__redis *r)
{
    static const char *const suffix[PAPYRA_KIND_MAX] = {"events", "audits", "dead_letters"};
    for (int k = 0; k < PAPYRA_KIND_MAX; k++) {
        size_t n = strlen(r->prefix) + strlen(r->system_id) + strlen(suffix[k]) + 5;
        if (!(r->keys[k] = malloc(n)))
            return PAPYRA_ENOMEM;
        (void)snprintf(r->keys[k], n, r->hashtag ? "{%s:%s}:%s" : "%s:%s:%s", r->prefix,
                       r->system_id, suffix[k]);
    }
    return 0;
}

#ifdef PAPYRA_HAVE_REDIS_TLS
static void
tls_library_init(void)
{
    (void)redisInitOpenSSL();
}

/*
 * Makes the store's redisSSLContext from the tls_* parameters: the CA
 * (tls_ca file and/or tls_ca_dir; neither: the system's), the client
 * certificate and key (both or neither), the name sent as SNI (tls_server_name,
 * else the host) and, for tests only, tls_insecure=1 (no verification).
 */
static int
tls_config(papyra_store *s, const papyra__url *url, papyra__redis *r)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    redisSSLOptions o;
    redisSSLContextError err = REDIS_SSL_CTX_NONE;
    int64_t insecure;
    int rc;

    if ((rc = papyra__url_int(s, url, "tls_insecure", 0, 1, 0, &insecure)) < 0)
        return rc;
    memset(&o, 0, sizeof(o));
    o.cacert_filename = papyra__url_param(url, "tls_ca");
    o.capath = papyra__url_param(url, "tls_ca_dir");
    o.cert_filename = papyra__url_param(url, "tls_cert");
    o.private_key_filename = papyra__url_param(url, "tls_key");
    o.server_name = papyra__url_param(url, "tls_server_name");
    /* The sentinel form's one context serves the sentinels and the master: no one host
     * to default the name to, so SNI is sent only when tls_server_name is given. */
    if (!o.server_name && !r->sentinel)
        o.server_name = r->host;
    o.verify_mode = insecure ? REDIS_SSL_VERIFY_NONE : REDIS_SSL_VERIFY_PEER;
    if (!o.cert_filename != !o.private_key_filename)
        return papyra__store_error(s, PAPYRA_EINVAL,
                                   "%s URL: tls_cert and tls_key go together (got only %s)",
                                   url->scheme, o.cert_filename ? "tls_cert" : "tls_key");
    (void)pthread_once(&once, tls_library_init);
    r->tls = redisCreateSSLContextWithOptions(&o, &err);
    if (!r->tls)
        return papyra__store_error(
            s, PAPYRA_EINVAL,
            "%s URL: cannot set up TLS (tls_ca=%s tls_ca_dir=%s tls_cert=%s "
            "tls_key=%s): %s",
            url->scheme, o.cacert_filename ? o.cacert_filename : "-", o.capath ? o.capath : "-",
            o.cert_filename ? o.cert_filename : "-",
            o.private_key_filename ? o.private_key_filename : "-", redisSSLContextGetError(err));
    return 0;
}
#endif

int
papyra__redis_config(papyra_store *s, const papyra__url *url, papyra__redis *r)
{
    /* rediss-sentinel:// is redis-sentinel:// with TLS to the sentinels and the master. */
    bool sentinel =
        strcmp(url->scheme, "redis-sentinel") == 0 || strcmp(url->scheme, "rediss-sentinel") == 0;
    bool tls = strcmp(url->scheme, "rediss") == 0 || strcmp(url->scheme, "rediss-sentinel") == 0 ||
               strcmp(url->scheme, "rediss-cluster") == 0;
    const char *layout;
    int rc;

    if ((rc = papyra__url_check(s, url, redis_params)) < 0)
        return rc;
    for (int i = 0; !tls && tls_params[i]; i++) {
        if (papyra__url_param(url, tls_params[i]))
            return papyra__store_error(s, PAPYRA_EINVAL,
                                       "%s URL: parameter '%s' needs a rediss://, "
                                       "rediss-sentinel:// or rediss-cluster:// URL",
                                       url->scheme, tls_params[i]);
    }
    for (int i = 0; !sentinel && sentinel_params[i]; i++) {
        if (papyra__url_param(url, sentinel_params[i]))
            return papyra__store_error(
                s, PAPYRA_EINVAL,
                "%s URL: parameter '%s' needs a redis-sentinel:// (or rediss-sentinel://) URL",
                url->scheme, sentinel_params[i]);
    }
#ifndef PAPYRA_HAVE_REDIS_TLS
    if (tls)
        return papyra__store_error(s, PAPYRA_EUNSUPPORTED,
                                   "%s: TLS is not supported by this build: it was built "
                                   "without hiredis_ssl (hiredis >= 1.1 with SSL)",
                                   url->scheme);
#endif
    if (strcmp(url->scheme, "redis-cluster") == 0 || strcmp(url->scheme, "rediss-cluster") == 0) {
        if (papyra__url_param(url, "db"))
            return papyra__store_error(s, PAPYRA_EINVAL,
                                       "%s URL: a cluster has only database 0: no ?db= (nor /db)",
                                       url->scheme);
        if ((rc = papyra__cluster_parse(s, url->path ? url->path : "", &r->cluster)) < 0)
            return rc;
        r->router = true; /* from here on config_free() frees the cluster */
        /* The first seed stands for the host in messages, the metrics file's name and SNI. */
        if (!(r->host = strdup(r->cluster->seed_hosts[0])))
            return PAPYRA_ENOMEM;
        r->port = r->cluster->seed_ports[0];
    } else if (sentinel) {
        if ((rc = papyra__sentinel_parse(s, url->path ? url->path : "", &r->sentinel)) < 0)
            return rc;
        if ((rc = param_dup(url, "sentinel_user", NULL, &r->sentinel->user)) < 0 ||
            (rc = param_dup(url, "sentinel_password", NULL, &r->sentinel->password)) < 0)
            return rc;
        if (r->sentinel->user && !r->sentinel->password)
            return papyra__store_error(
                s, PAPYRA_EINVAL, "%s URL: sentinel_user needs sentinel_password", url->scheme);
        /* The master's name stands for the host in messages and the metrics file's name. */
        if (!(r->host = strdup(r->sentinel->master_name)))
            return PAPYRA_ENOMEM;
        r->port = 0;
        if ((rc = papyra__url_int(s, url, "db", 0, INT_MAX, 0, &r->db)) < 0)
            return rc;
    } else if (strcmp(url->scheme, "unix") == 0) {
        if (!url->path || url->path[0] == '\0')
            return papyra__store_error(s, PAPYRA_EINVAL, "unix URL: missing socket path");
        if (!(r->unix_path = strdup(url->path)))
            return PAPYRA_ENOMEM;
        if ((rc = papyra__url_int(s, url, "db", 0, INT_MAX, 0, &r->db)) < 0)
            return rc;
    } else {
        if (papyra__url_param(url, "db"))
            return papyra__store_error(s, PAPYRA_EINVAL,
                                       "redis URL: the database goes in the path (/db), not ?db=");
        if ((rc = parse_authority(s, url->path ? url->path : "", r)) < 0)
            return rc;
    }
#ifdef PAPYRA_HAVE_REDIS_TLS
    if (tls && (rc = tls_config(s, url, r)) < 0)
        return rc;
    if (r->sentinel)
        r->sentinel->tls = r->tls;
#endif
    /* Query parameters override (or, for unix:, provide) the credentials. */
    if (papyra__url_param(url, "user")) {
        free(r->user);
        if ((rc = param_dup(url, "user", NULL, &r->user)) < 0)
            return rc;
    }
    if (papyra__url_param(url, "password")) {
        free(r->password);
        if ((rc = param_dup(url, "password", NULL, &r->password)) < 0)
            return rc;
    }
    if ((rc = param_dup(url, "prefix", "papyra", &r->prefix)) < 0 ||
        (rc = param_dup(url, "system_id", "local", &r->system_id)) < 0)
        return rc;
    if (r->prefix[0] == '\0' || r->system_id[0] == '\0')
        return papyra__store_error(s, PAPYRA_EINVAL,
                                   "redis URL: prefix and system_id must not be empty");
    layout = papyra__url_param(url, "key_layout");
    if (layout && strcmp(layout, "hashtag") == 0)
        r->hashtag = true;
    else if (layout && strcmp(layout, "upstream") != 0)
        return papyra__store_error(s, PAPYRA_EINVAL,
                                   "redis URL: key_layout must be 'upstream' (the default: "
                                   "prefix:system_id:events) or 'hashtag' "
                                   "({prefix:system_id}:events), not '%s'",
                                   layout);
    if ((rc = papyra__url_int(s, url, "maxlen", 1, PAPYRA_REDIS_MAXLEN_MAX, 0, &r->maxlen)) < 0 ||
        (rc = papyra__url_int(s, url, "connect_timeout_ms", 1, PAPYRA_REDIS_TIMEOUT_MS_MAX, 5000,
                              &r->connect_timeout_ms)) < 0 ||
        (rc = papyra__url_int(s, url, "timeout_ms", 1, PAPYRA_REDIS_TIMEOUT_MS_MAX, 5000,
                              &r->timeout_ms)) < 0 ||
        (rc = papyra__url_int(s, url, "connections", 1, PAPYRA_REDIS_CONNECTIONS_MAX, 4,
                              &r->connections)) < 0 ||
        (rc = papyra__url_int(s, url, "wait_replicas", 0, PAPYRA_REDIS_WAIT_REPLICAS_MAX, 0,
                              &r->wait_replicas)) < 0)
        return rc;
    /* WAIT blocks on the socket, so it must give up before the socket's own timeout. */
    if ((rc = papyra__url_int(s, url, "wait_timeout_ms", 1, PAPYRA_REDIS_TIMEOUT_MS_MAX,
                              r->timeout_ms >= 2000 ? 1000 : (r->timeout_ms + 1) / 2,
                              &r->wait_timeout_ms)) < 0)
        return rc;
    if (r->wait_replicas > 0 && r->wait_timeout_ms >= r->timeout_ms)
        return papyra__store_error(s, PAPYRA_EINVAL,
                                   "redis URL: wait_timeout_ms (%" PRId64
                                   ") must be less than timeout_ms (%" PRId64 ")",
                                   r->wait_timeout_ms, r->timeout_ms);
    if ((rc = build_keys(r)) < 0)
        return rc;
    if (r->router) {
        /* Taken before any thread can use the store (cluster.h, tmpl). */
        if (!(r->cluster->tmpl = malloc(sizeof(*r))))
            return PAPYRA_ENOMEM;
        memcpy(r->cluster->tmpl, r, sizeof(*r));
    }
    return 0;
}

void
papyra__redis_config_free(papyra__redis *r)
{
    papyra__redis_drop(r);
    free(r->host);
    free(r->unix_path);
    free(r->user);
    free(r->password);
    free(r->prefix);
    free(r->system_id);
    for (int k = 0; k < PAPYRA_KIND_MAX; k++)
        free(r->keys[k]);
#ifdef PAPYRA_HAVE_REDIS_TLS
    if (r->tls)
        redisFreeSSLContext(r->tls);
    r->tls = NULL;
#endif
    papyra__sentinel_free(r->sentinel);
    if (r->router)
        papyra__cluster_free(r->cluster);
    r->cluster = NULL;
}

int
papyra__redis_spares_init(papyra__redis *r)
{
    int n = (int)r->connections - 1;

    /* A cluster's router connects nowhere: each master has its own spares. */
    if (n <= 0 || r->router)
        return 0;
    if (!(r->spares = calloc((size_t)n, sizeof(*r->spares))))
        return PAPYRA_ENOMEM;
    for (int i = 0; i < n; i++) {
        papyra__redis *c = &r->spares[i];
        /* The settings' pointers are borrowed: only r frees them. */
        memcpy(c, r, sizeof(*c));
        c->ctx = NULL;
        c->spares = NULL;
        c->nspares = 0;
        c->retry_after_ms = 0;
        atomic_init(&c->next_spare, 0);
        if (pthread_mutex_init(&c->lock, NULL) != 0) {
            papyra__redis_spares_free(r);
            return PAPYRA_ENOMEM;
        }
        r->nspares = i + 1;
    }
    return 0;
}

void
papyra__redis_spares_free(papyra__redis *r)
{
    for (int i = 0; i < r->nspares; i++) {
        papyra__redis_drop(&r->spares[i]);
        (void)pthread_mutex_destroy(&r->spares[i].lock);
    }
    free(r->spares);
    r->spares = NULL;
    r->nspares = 0;
}

static int64_t
monotonic_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long a spare that failed to connect is left alone. */
#define SPARE_REST_MS 1000

int
papyra__redis_acquire_writer(papyra_store *s, papyra__redis *r, papyra__redis **ret)
{
    papyra__redis *c = NULL;
    int rc;

    if (pthread_mutex_trylock(&r->lock) == 0)
        c = r;
    for (int i = 0; !c && i < r->nspares; i++) {
        if (pthread_mutex_trylock(&r->spares[i].lock) == 0)
            c = &r->spares[i];
    }
    if (!c) {
        unsigned k = atomic_fetch_add_explicit(&r->next_spare, 1, memory_order_relaxed);
        c = r->nspares > 0 ? &r->spares[k % (unsigned)r->nspares] : r;
        (void)pthread_mutex_lock(&c->lock);
    }
    if (c != r) {
        int64_t now = monotonic_ms();
        if (c->ctx || now >= c->retry_after_ms) {
            if (papyra__redis_ensure(s, c) == 0) {
                *ret = c;
                return 0;
            }
            c->retry_after_ms = now + SPARE_REST_MS;
        }
        (void)pthread_mutex_unlock(&c->lock);
        c = r;
        (void)pthread_mutex_lock(&r->lock);
    }
    if ((rc = papyra__redis_ensure(s, r)) < 0) {
        (void)pthread_mutex_unlock(&r->lock);
        return rc;
    }
    *ret = r;
    return 0;
}

void
papyra__redis_drop(papyra__redis *r)
{
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}

static struct timeval
ms_to_tv(int64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

static const char *
endpoint(const papyra__redis *r, char *buf, size_t size)
{
    if (r->unix_path)
        (void)snprintf(buf, size, "unix:%s", r->unix_path);
    else if (r->sentinel && r->master_host[0])
        (void)snprintf(buf, size, "%.64s:%d (master '%.40s')", r->master_host, r->master_port,
                       r->host);
    else if (r->sentinel)
        (void)snprintf(buf, size, "master '%.100s'", r->host);
    else if (r->cluster)
        (void)snprintf(buf, size, "cluster node %.100s:%d", r->host, r->port);
    else
        (void)snprintf(buf, size, "%s:%d", r->host, r->port);
    return buf;
}

int
papyra__redis_io_error(papyra_store *s, papyra__redis *r, const char *what)
{
    char ep[128];
    int code = PAPYRA_EIO;
    const char *msg = "connection lost";

    if (r->ctx && r->ctx->err) {
        msg = r->ctx->errstr;
        /* hiredis 0.14 reports a socket timeout as an I/O error with EAGAIN; 1.x has its own code.
         */
        if ((r->ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK ||
                                             strstr(r->ctx->errstr, "temporarily unavailable")))
#ifdef REDIS_ERR_TIMEOUT
            || r->ctx->err == REDIS_ERR_TIMEOUT
#endif
        ) {
            code = PAPYRA_ETIMEDOUT;
            msg = "timed out (timeout_ms)";
        } else if (r->ctx->err == REDIS_ERR_OOM)
            code = PAPYRA_ENOMEM;
        else if (r->ctx->err == REDIS_ERR_PROTOCOL)
            code = PAPYRA_EPROTO;
    }
    (void)papyra__store_error(s, code, "redis %s: %s: %s", endpoint(r, ep, sizeof(ep)), what, msg);
    papyra__redis_drop(r);
    return code;
}

void
papyra__redis_check_readonly(papyra__redis *r, const redisReply *reply)
{
    if (reply && reply->type == REDIS_REPLY_ERROR && reply->len >= 8 &&
        memcmp(reply->str, "READONLY", 8) == 0)
        papyra__redis_drop(r);
}

int
papyra__redis_reply_error(papyra_store *s, const redisReply *reply, const char *what)
{
    return papyra__store_error(s, PAPYRA_EPROTO, "redis %s: %.*s", what,
                               reply && reply->str ? (int)reply->len : 0,
                               reply && reply->str ? reply->str : "");
}

/* Runs a command on the current context without reconnecting (used while connecting). */
static int
raw_command(papyra_store *s, papyra__redis *r, int argc, const char **argv, redisReply **ret)
{
    redisReply *reply = redisCommandArgv(r->ctx, argc, argv, NULL);
    char what[160];
    if (!reply && r->tls) {
        /* Over TLS 1.3 the handshake ends before the server has checked the client's
         * certificate: one it refuses (or none, where it wants one) shows here. */
        (void)snprintf(what, sizeof(what),
                       "%s, the first command over TLS (refused client certificate? tls_cert, "
                       "tls_key)",
                       argv[0]);
        return papyra__redis_io_error(s, r, what);
    }
    if (!reply) {
        /* A TLS-only port resets a plaintext client when its first command arrives. */
        (void)snprintf(what, sizeof(what),
                       "%s, the first command (a TLS-only port closes plaintext: rediss://)",
                       argv[0]);
        return papyra__redis_io_error(s, r, what);
    }
    *ret = reply;
    return 0;
}

static int
connect_now(papyra_store *s, papyra__redis *r)
{
    char ep[128];
    struct timeval ctv = ms_to_tv(r->connect_timeout_ms);
    struct timeval tv = ms_to_tv(r->timeout_ms);
    redisReply *reply = NULL;
    char dbtext[32];
    int rc;

    papyra__redis_drop(r);
    if (r->sentinel) {
        /* Asked before every connect: after a failover this finds the new master. */
        r->master_host[0] = '\0';
        if ((rc = papyra__sentinel_master(s, r->sentinel, r->connect_timeout_ms, r->timeout_ms,
                                          r->master_host, sizeof(r->master_host),
                                          &r->master_port)) < 0)
            return rc;
    }
    if (r->unix_path)
        r->ctx = redisConnectUnixWithTimeout(r->unix_path, ctv);
    else if (r->sentinel)
        r->ctx = redisConnectWithTimeout(r->master_host, r->master_port, ctv);
    else
        r->ctx = redisConnectWithTimeout(r->host, r->port, ctv);
    if (!r->ctx)
        return papyra__store_error(s, PAPYRA_ENOMEM, "redis: cannot allocate a context");
    if (r->ctx->err) {
        (void)papyra__store_error(s, PAPYRA_ECONNECT, "cannot connect to redis %s: %s",
                                  endpoint(r, ep, sizeof(ep)), r->ctx->errstr);
        papyra__redis_drop(r);
        return PAPYRA_ECONNECT;
    }
#ifdef PAPYRA_HAVE_REDIS_TLS
    /* The handshake is bounded by connect_timeout_ms: a peer that never answers is no hang. */
    if (r->tls && (redisSetTimeout(r->ctx, ctv) != REDIS_OK ||
                   redisInitiateSSLWithContext(r->ctx, r->tls) != REDIS_OK)) {
        (void)papyra__store_error(s, PAPYRA_ECONNECT, "cannot connect to redis %s: TLS: %s",
                                  endpoint(r, ep, sizeof(ep)), r->ctx->errstr);
        papyra__redis_drop(r);
        return PAPYRA_ECONNECT;
    }
#endif
    if (redisSetTimeout(r->ctx, tv) != REDIS_OK)
        return papyra__redis_io_error(s, r, "setting the timeout");
    /*
     * By default hiredis frees its read buffer whenever more than 16 KiB of it
     * is unused, that is after every page of a read, and grows it again for
     * the next one. Keeping it (it never grows past the largest reply read at
     * once) saves that free and regrowth per page of a long read.
     */
    if (r->ctx->reader)
        r->ctx->reader->maxbuf = 0;

    if (r->password) {
        const char *argv[3] = {"AUTH", r->user ? r->user : r->password, r->password};
        if ((rc = raw_command(s, r, r->user ? 3 : 2, argv, &reply)) < 0)
            return rc;
        if (reply->type == REDIS_REPLY_ERROR) {
            (void)papyra__store_error(s, PAPYRA_EACCES, "redis %s: authentication failed%s%s: %.*s",
                                      endpoint(r, ep, sizeof(ep)), r->user ? " for user " : "",
                                      r->user ? r->user : "", (int)reply->len, reply->str);
            freeReplyObject(reply);
            papyra__redis_drop(r);
            return PAPYRA_EACCES;
        }
        freeReplyObject(reply);
    }
    if (r->db != 0) {
        const char *argv[2] = {"SELECT", dbtext};
        (void)snprintf(dbtext, sizeof(dbtext), "%" PRId64, r->db);
        if ((rc = raw_command(s, r, 2, argv, &reply)) < 0)
            return rc;
        if (reply->type == REDIS_REPLY_ERROR) {
            int code = strstr(reply->str, "NOAUTH") ? PAPYRA_EACCES : PAPYRA_EPROTO;
            (void)papyra__store_error(s, code, "redis %s: SELECT %s failed: %.*s",
                                      endpoint(r, ep, sizeof(ep)), dbtext, (int)reply->len,
                                      reply->str);
            freeReplyObject(reply);
            papyra__redis_drop(r);
            return code;
        }
        freeReplyObject(reply);
    } else {
        /* Without AUTH or SELECT nothing has talked to the server yet: PING finds a server
         * that wants a password now, with a clear message, instead of at the first write. */
        const char *argv[1] = {"PING"};
        if ((rc = raw_command(s, r, 1, argv, &reply)) < 0)
            return rc;
        if (reply->type == REDIS_REPLY_ERROR) {
            int code = strstr(reply->str, "NOAUTH") ? PAPYRA_EACCES : PAPYRA_EPROTO;
            (void)papyra__store_error(s, code, "redis %s: %.*s", endpoint(r, ep, sizeof(ep)),
                                      (int)reply->len, reply->str);
            freeReplyObject(reply);
            papyra__redis_drop(r);
            return code;
        }
        freeReplyObject(reply);
    }
    if (r->sentinel) {
        /* Between a master's failure and the switch the sentinels may still name a
         * server that is (again) a replica: refuse it rather than write to it. */
        const char *argv[1] = {"ROLE"};
        bool master;
        if ((rc = raw_command(s, r, 1, argv, &reply)) < 0)
            return rc;
        master = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
                 reply->element[0]->type == REDIS_REPLY_STRING &&
                 strcmp(reply->element[0]->str, "master") == 0;
        freeReplyObject(reply);
        if (!master) {
            (void)papyra__store_error(s, PAPYRA_ECONNECT,
                                      "redis %s: the sentinels name it the master, but it is not "
                                      "one (a failover is under way); try again",
                                      endpoint(r, ep, sizeof(ep)));
            papyra__redis_drop(r);
            return PAPYRA_ECONNECT;
        }
    }
    return 0;
}

int
papyra__redis_tls_write(papyra__redis *r, const char *p, size_t n)
{
    sigset_t pipe, old, pending;
    bool was_pending;
    int done = 0, rc = 0, e;

    if (redisAppendFormattedCommand(r->ctx, p, n) != REDIS_OK)
        return -1;
    /* OpenSSL writes with write(2): SIGPIPE is held back, and one this write raised is taken. */
    (void)sigemptyset(&pipe);
    (void)sigaddset(&pipe, SIGPIPE);
    (void)pthread_sigmask(SIG_BLOCK, &pipe, &old);
    (void)sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE) == 1;
    while (!done && rc == 0) {
        if (redisBufferWrite(r->ctx, &done) != REDIS_OK)
            rc = -1;
    }
    e = errno;
    if (!was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
        const struct timespec zero = {0, 0};
        (void)sigtimedwait(&pipe, NULL, &zero);
    }
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return rc;
}

/*
 * An idle RESP2 connection never has anything to read: if poll() says it
 * has, the server closed it (restart, timeout, CLIENT KILL) or sent an error
 * before closing. Reconnecting before sending means a write is never sent
 * into a dead socket, so it need not be retried (which could duplicate it).
 */
static bool
peer_closed(const redisContext *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int n = poll(&p, 1, 0);
    return n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL));
}

int
papyra__redis_ensure(papyra_store *s, papyra__redis *r)
{
    /* A cluster's router has no connection: "ready" is a slot map. */
    if (r->router)
        return papyra__cluster_refresh(s, r);
    if (r->ctx && (r->ctx->err || peer_closed(r->ctx)))
        papyra__redis_drop(r);
    if (r->ctx)
        return 0;
    return connect_now(s, r);
}

/*
 * The end of papyra__redis_command() and routed_command(): hands @p reply
 * over in *ret, or turns an error reply into EPROTO (freed) unless
 * PAPYRA_REDIS_ERROR_OK.
 */
static int
command_result(papyra_store *s,
               unsigned flags,
               int argc,
               const char **argv,
               redisReply *reply,
               redisReply **ret)
{
    if (reply->type == REDIS_REPLY_ERROR && !(flags & PAPYRA_REDIS_ERROR_OK)) {
        char what[256];
        int rc;
        (void)snprintf(what, sizeof(what), "%s %.200s", argv[0], argc > 1 ? argv[1] : "");
        rc = papyra__redis_reply_error(s, reply, what);
        freeReplyObject(reply);
        return rc;
    }
    *ret = reply;
    return 0;
}

static int routed_command(papyra_store *s,
                          papyra__redis *router,
                          unsigned flags,
                          int argc,
                          const char **argv,
                          const size_t *lens,
                          redisReply **ret);
static int routed_pipeline(papyra_store *s,
                           papyra__redis *router,
                           size_t n,
                           const papyra__redis_argv *cmds,
                           redisReply **replies);

int
papyra__redis_command(papyra_store *s,
                      papyra__redis *r,
                      unsigned flags,
                      int argc,
                      const char **argv,
                      const size_t *lens,
                      redisReply **ret)
{
    if (r->router)
        return routed_command(s, r, flags, argc, argv, lens, ret);
    int attempts = (flags & PAPYRA_REDIS_RETRY) ? 2 : 1;
    int rc = PAPYRA_EIO;

    for (int i = 0; i < attempts; i++) {
        redisReply *reply = NULL;
        if ((rc = papyra__redis_ensure(s, r)) < 0)
            continue;
        reply = redisCommandArgv(r->ctx, argc, argv, lens);
        if (!reply) {
            rc = papyra__redis_io_error(s, r, argv[0]);
            continue;
        }
        papyra__redis_check_readonly(r, reply);
        return command_result(s, flags, argc, argv, reply, ret);
    }
    return rc;
}

int
papyra__redis_pipeline(papyra_store *s,
                       papyra__redis *r,
                       size_t n,
                       const papyra__redis_argv *cmds,
                       redisReply **replies)
{
    int rc;

    if (r->router)
        return routed_pipeline(s, r, n, cmds, replies);
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    if ((rc = papyra__redis_ensure(s, r)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (redisAppendCommandArgv(r->ctx, cmds[i].argc, cmds[i].argv, cmds[i].lens) != REDIS_OK)
            return papyra__redis_io_error(s, r, "pipelining");
    }
    for (size_t i = 0; i < n; i++) {
        void *reply = NULL;
        if (redisGetReply(r->ctx, &reply) != REDIS_OK || !reply) {
            for (size_t j = 0; j < i; j++) {
                freeReplyObject(replies[j]);
                replies[j] = NULL;
            }
            /* Name a real command: the first after MULTI, as that is what was sent. */
            return papyra__redis_io_error(s, r, cmds[n > 1 ? 1 : 0].argv[0]);
        }
        replies[i] = reply;
    }
    return 0;
}

const char *
papyra__redis_key(const papyra__redis *r, papyra_kind kind)
{
    if ((int)kind < 0 || kind >= PAPYRA_KIND_MAX)
        return NULL;
    return r->keys[kind];
}

const redisReply *
papyra__redis_field(const redisReply *fields, const char *name)
{
    const redisReply *found = NULL;
    size_t n = strlen(name);

    if (!fields || fields->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i];
        if (k && k->type == REDIS_REPLY_STRING && k->len == n && memcmp(k->str, name, n) == 0)
            found = fields->element[i + 1];
    }
    return found;
}

/* "{prefix}:{system_id}:quarantine:{key with ':' -> '_'}". */
char *
papyra__redis_quarantine_key(const papyra__redis *r, const char *key)
{
    size_t n = strlen(r->prefix) + strlen(r->system_id) + strlen(key) + 20;
    char *q = malloc(n);
    char *p;
    if (!q)
        return NULL;
    /* key_layout=hashtag: in the slot of the streams, so a repair stays one transaction. */
    (void)snprintf(q, n, r->hashtag ? "{%s:%s}:quarantine:" : "%s:%s:quarantine:", r->prefix,
                   r->system_id);
    p = q + strlen(q);
    for (const char *c = key; *c; c++)
        *p++ = *c == ':' ? '_' : *c;
    *p = '\0';
    return q;
}

int
papyra__redis_argv_push(papyra__redis_argv *a, const char *p, size_t n)
{
    if (a->argc == a->cap) {
        int ncap = a->cap ? a->cap * 2 : 16;
        const char **na = realloc(a->argv, (size_t)ncap * sizeof(*na));
        size_t *nl;
        if (!na)
            return PAPYRA_ENOMEM;
        a->argv = na;
        if (!(nl = realloc(a->lens, (size_t)ncap * sizeof(*nl))))
            return PAPYRA_ENOMEM;
        a->lens = nl;
        a->cap = ncap;
    }
    a->argv[a->argc] = p;
    a->lens[a->argc] = n;
    a->argc++;
    return 0;
}

void
papyra__redis_argv_free(papyra__redis_argv *a, int n)
{
    for (int i = 0; i < n; i++) {
        free(a[i].argv);
        free(a[i].lens);
    }
    free(a);
}

int
papyra__redis_quarantine_argv(papyra__redis_argv *a,
                              const char *qkey,
                              const char *key,
                              const redisReply *f,
                              const char *stamp)
{
    int rc;

    /* Upstream's quarantine entry (source, data, timestamp) plus every other field. */
    rc = papyra__redis_argv_push(a, "XADD", 4);
    rc = rc ? rc : papyra__redis_argv_push(a, qkey, strlen(qkey));
    rc = rc ? rc : papyra__redis_argv_push(a, "*", 1);
    rc = rc ? rc : papyra__redis_argv_push(a, "source", 6);
    rc = rc ? rc : papyra__redis_argv_push(a, key, strlen(key));
    if (!papyra__redis_field(f, "data")) {
        rc = rc ? rc : papyra__redis_argv_push(a, "data", 4);
        rc = rc ? rc : papyra__redis_argv_push(a, "", 0);
    }
    for (size_t j = 0; f && f->type == REDIS_REPLY_ARRAY && j < f->elements && rc == 0; j++) {
        const redisReply *x = f->element[j];
        if (x && x->type == REDIS_REPLY_STRING)
            rc = papyra__redis_argv_push(a, x->str, x->len);
        else
            rc = papyra__redis_argv_push(a, "", 0);
    }
    rc = rc ? rc : papyra__redis_argv_push(a, "timestamp", 9);
    rc = rc ? rc : papyra__redis_argv_push(a, stamp, strlen(stamp));
    return rc;
}

void
papyra__redis_stamp(char *buf, size_t size)
{
    papyra_buf b = {0};

    /* Upstream stamps quarantine entries with str(time.time()), a float's repr. */
    (void)snprintf(buf, size, "%" PRId64 ".0", papyra__redis_now_ms() / 1000);
    if (papyra__json_write_double((double)papyra__redis_now_ms() / 1000.0, &b) == 0)
        (void)snprintf(buf, size, "%s", b.data);
    papyra__buf_free(&b);
}

const char *
papyra__redis_entry_problem(const redisReply *fields)
{
    const redisReply *d = papyra__redis_field(fields, "data");
    papyra_json *obj = NULL;
    bool is_object;

    if (!d || d->type != REDIS_REPLY_STRING)
        return "Missing 'data' field or non-string payload";
    if (papyra__json_parse(d->str, d->len, &obj) < 0)
        return "Invalid JSON payload in stream entry";
    is_object = papyra__json_type(obj) == PAPYRA_JSON_OBJECT;
    papyra__json_free(obj);
    return is_object ? NULL : "JSON payload is not an object/dict";
}

bool
papyra__redis_entry_mistyped(const redisReply *fields, char *why, size_t whylen)
{
    const redisReply *d = papyra__redis_field(fields, "data");
    papyra_json *obj = NULL;
    bool mistyped;

    if (!d || d->type != REDIS_REPLY_STRING || papyra__json_parse(d->str, d->len, &obj) < 0)
        return false;
    mistyped = papyra__record_classify(obj, why, whylen) == PAPYRA__LINE_MISTYPED;
    papyra__json_free(obj);
    return mistyped;
}

/* Whether a reply element is a well-formed stream entry: [id, fields-or-nil]. */
bool
papyra__redis_entry_ok(const redisReply *e)
{
    return e && e->type == REDIS_REPLY_ARRAY && e->elements == 2 && e->element[0] &&
           e->element[0]->type == REDIS_REPLY_STRING &&
           e->element[0]->len < PAPYRA_REDIS_ID_MAX - 2;
}

void
papyra__redis_set_after(char *buf, const redisReply *idrep)
{
    (void)snprintf(buf, PAPYRA_REDIS_ID_MAX, "(%.*s", (int)idrep->len, idrep->str);
}

/*
 * Fetches one page of @p key: XRANGE key start + COUNT n (forward) or
 * XREVRANGE key end start COUNT n (backward). An error reply (such as
 * WRONGTYPE) and a reply that is not an array are errors.
 */
int
papyra__redis_fetch_page(papyra_store *s,
                         papyra__redis *r,
                         bool backward,
                         const char *key,
                         const char *from,
                         const char *to,
                         redisReply **ret)
{
    char count[24];
    const char *argv[6];
    redisReply *reply = NULL;
    int rc;

    (void)snprintf(count, sizeof(count), "%d", PAPYRA_REDIS_PAGE);
    argv[0] = backward ? "XREVRANGE" : "XRANGE";
    argv[1] = key;
    argv[2] = backward ? to : from;
    argv[3] = backward ? from : to;
    argv[4] = "COUNT";
    argv[5] = count;
    if ((rc = papyra__redis_command(s, r, PAPYRA_REDIS_RETRY, 6, argv, NULL, &reply)) < 0)
        return rc;
    if (reply->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(reply);
        return papyra__store_error(s, PAPYRA_EPROTO, "redis %s %s: unexpected reply type", argv[0],
                                   key);
    }
    *ret = reply;
    return 0;
}

/*
 * Cluster routing of the commands and pipelines of maint.c and groups.c
 * (docs/backend-redis.md, "Cluster"). The router finds the key's master,
 * takes one of its connections, and follows the redirections its answer asks
 * for: MOVED and ASK always (the command was not run), TRYAGAIN and
 * CLUSTERDOWN for idempotent commands (PAPYRA_REDIS_RETRY) and for
 * pipelines whose replies prove that nothing of them was applied.
 */

papyra__redis *
papyra__redis_at(papyra__redis *r, const char *key)
{
    if (!r->router)
        return r;
    return papyra__cluster_at(r, key, strlen(key));
}

papyra__cluster_redir_type
papyra__redis_set_redir(papyra__redis *r, const char *str, size_t len)
{
    papyra__cluster_redir_type t = papyra__cluster_parse_redir(str, len, &r->redir);
    /* "MOVED 3999 :6380": the node gave no endpoint; it means its own host. */
    if ((t == PAPYRA_CLUSTER_MOVED || t == PAPYRA_CLUSTER_ASK) && r->redir.host[0] == '\0')
        (void)snprintf(r->redir.host, sizeof(r->redir.host), "%s", r->host);
    return t;
}

/* The key of a command as this backend sends them (NULL: none). */
static const char *
command_key(int argc, const char **argv)
{
    if (argc < 2)
        return NULL;
    if (strcasecmp(argv[0], "XGROUP") == 0 || strcasecmp(argv[0], "XINFO") == 0)
        return argc > 2 ? argv[2] : NULL;
    if (strcasecmp(argv[0], "XREADGROUP") == 0 || strcasecmp(argv[0], "XREAD") == 0) {
        for (int i = 1; i + 1 < argc; i++) {
            if (strcasecmp(argv[i], "STREAMS") == 0)
                return argv[i + 1];
        }
        return NULL;
    }
    if (strcasecmp(argv[0], "MULTI") == 0 || strcasecmp(argv[0], "EXEC") == 0 ||
        strcasecmp(argv[0], "ASKING") == 0)
        return NULL;
    return argv[1];
}

/*
 * After a master could not be reached before anything was sent: a failover
 * may have moved its slots, so the map is read again and the call retried
 * until the deadline. Returns 0 to retry.
 */
int
papyra__redis_reroute(papyra_store *s, papyra__redis *router, int hop, int64_t deadline)
{
    char msg[1024];
    int64_t backoff = (int64_t)50 << (hop < 3 ? hop : 3);

    if (hop >= PAPYRA_CLUSTER_HOPS_MAX || papyra__cluster_mono_ms() + backoff >= deadline)
        return -1;
    (void)snprintf(msg, sizeof(msg), "%s", papyra_store_errmsg(s));
    {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)backoff * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    if (papyra__cluster_refresh(s, router) < 0) {
        (void)papyra__store_error(s, PAPYRA_ECONNECT, "%s", msg);
        return -1;
    }
    return 0;
}

int
papyra__redis_route_acquire(papyra_store *s,
                            papyra__redis *router,
                            const char *key,
                            int hop,
                            int64_t deadline,
                            papyra__redis **target,
                            bool *asking,
                            papyra__redis **ret)
{
    papyra__redis *node = *target ? *target : papyra__redis_at(router, key);
    int rc;

    if (!node)
        return papyra__store_error(s, PAPYRA_ECONNECT, "redis-cluster: no master known");
    if ((rc = papyra__redis_acquire_writer(s, node, ret)) < 0) {
        if (rc == PAPYRA_ECONNECT && papyra__redis_reroute(s, router, hop, deadline) == 0) {
            *target = NULL;
            *asking = false;
            return PAPYRA_REDIS_REROUTED;
        }
        return rc;
    }
    return 0;
}

static int
routed_command(papyra_store *s,
               papyra__redis *router,
               unsigned flags,
               int argc,
               const char **argv,
               const size_t *lens,
               redisReply **ret)
{
    const char *key = command_key(argc, argv);
    int64_t deadline = papyra__cluster_mono_ms() + router->timeout_ms;
    papyra__redis *target = NULL;
    bool asking = false;

    if (!key)
        return papyra__store_error(s, PAPYRA_EINVAL, "redis-cluster: %s names no key to route by",
                                   argv[0]);
    for (int hop = 0;; hop++) {
        papyra__redis *c = NULL;
        papyra__cluster_redir rd = {.type = PAPYRA_CLUSTER_NONE};
        redisReply *reply = NULL;
        int rc = papyra__redis_route_acquire(s, router, key, hop, deadline, &target, &asking, &c);

        if (rc == PAPYRA_REDIS_REROUTED)
            continue;
        if (rc < 0)
            return rc;
        if (asking) {
            papyra__redis_argv two[2] = {{0}, {0}};
            redisReply *rep2[2] = {NULL, NULL};
            rc = papyra__redis_argv_push(&two[0], "ASKING", 6);
            for (int i = 0; i < argc && rc == 0; i++)
                rc = papyra__redis_argv_push(&two[1], argv[i], lens ? lens[i] : strlen(argv[i]));
            if (rc == 0)
                rc = papyra__redis_pipeline(s, c, 2, two, rep2);
            else
                rc = papyra__store_error(s, PAPYRA_ENOMEM, "redis: out of memory");
            free(two[0].argv);
            free(two[0].lens);
            free(two[1].argv);
            free(two[1].lens);
            freeReplyObject(rep2[0]);
            reply = rep2[1];
        } else {
            rc = papyra__redis_command(s, c, flags | PAPYRA_REDIS_ERROR_OK, argc, argv, lens,
                                       &reply);
        }
        if (rc == 0 && reply->type == REDIS_REPLY_ERROR &&
            papyra__redis_set_redir(c, reply->str, reply->len) != PAPYRA_CLUSTER_NONE)
            rd = c->redir;
        (void)pthread_mutex_unlock(&c->lock);
        /* ECONNECT: the master could not be reached, so this try sent nothing. */
        if (rc == PAPYRA_ECONNECT && papyra__redis_reroute(s, router, hop, deadline) == 0) {
            target = NULL;
            asking = false;
            continue;
        }
        if (rc < 0)
            return rc;
        if (rd.type != PAPYRA_CLUSTER_NONE &&
            papyra__cluster_follow(s, router, &rd, hop, (flags & PAPYRA_REDIS_RETRY) != 0, deadline,
                                   &target, &asking) == 0) {
            freeReplyObject(reply);
            continue;
        }
        return command_result(s, flags, argc, argv, reply, ret);
    }
}

/*
 * Whether the replies of a pipeline prove that none of it was applied, and
 * which redirection they ask for: a MULTI block answered EXECABORT after a
 * queued command got a redirection, or a plain pipeline whose every command
 * got one.
 */
static bool
pipeline_redirected(papyra__redis *c,
                    size_t n,
                    const papyra__redis_argv *cmds,
                    redisReply **replies,
                    papyra__cluster_redir *rd)
{
    bool multi = n >= 2 && strcasecmp(cmds[0].argv[0], "MULTI") == 0;
    const redisReply *first = NULL;

    for (size_t i = 0; i < n; i++) {
        const redisReply *x = replies[i];
        papyra__cluster_redir tmp;
        bool redir = x && x->type == REDIS_REPLY_ERROR &&
                     papyra__cluster_parse_redir(x->str, x->len, &tmp) != PAPYRA_CLUSTER_NONE;
        if (redir && !first)
            first = x;
        if (!multi && !redir)
            return false;
    }
    if (!first)
        return false;
    if (multi && !(replies[n - 1] && replies[n - 1]->type == REDIS_REPLY_ERROR))
        return false;
    (void)papyra__redis_set_redir(c, first->str, first->len);
    *rd = c->redir;
    return true;
}

static int
routed_pipeline(papyra_store *s,
                papyra__redis *router,
                size_t n,
                const papyra__redis_argv *cmds,
                redisReply **replies)
{
    int64_t deadline = papyra__cluster_mono_ms() + router->timeout_ms;
    const char *key = NULL;
    papyra__redis *target = NULL;
    papyra__redis_argv *with = NULL;
    redisReply **rwith = NULL;
    bool asking = false;
    int rc = 0;

    for (size_t i = 0; i < n && !key; i++)
        key = command_key(cmds[i].argc, cmds[i].argv);
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    if (!key)
        return papyra__store_error(s, PAPYRA_EINVAL, "redis-cluster: a pipeline names no key");
    if (!(with = calloc(n + 1, sizeof(*with))) || !(rwith = calloc(n + 1, sizeof(*rwith)))) {
        free(with);
        return papyra__store_error(s, PAPYRA_ENOMEM, "redis: out of memory");
    }
    /* The same commands behind an ASKING, for a node that an ASK names. */
    with[0].argc = 1;
    with[0].argv = (const char *[]){"ASKING"};
    with[0].lens = (size_t[]){6};
    memcpy(with + 1, cmds, n * sizeof(*cmds));
    for (int hop = 0;; hop++) {
        papyra__redis *c = NULL;
        papyra__cluster_redir rd = {.type = PAPYRA_CLUSTER_NONE};
        bool redirected = false;

        rc = papyra__redis_route_acquire(s, router, key, hop, deadline, &target, &asking, &c);
        if (rc == PAPYRA_REDIS_REROUTED)
            continue;
        if (rc < 0)
            break;
        if (asking) {
            rc = papyra__redis_pipeline(s, c, n + 1, with, rwith);
            if (rc == 0) {
                freeReplyObject(rwith[0]);
                memcpy(replies, rwith + 1, n * sizeof(*replies));
            }
        } else {
            rc = papyra__redis_pipeline(s, c, n, cmds, replies);
        }
        if (rc == 0)
            redirected = pipeline_redirected(c, n, cmds, replies, &rd);
        (void)pthread_mutex_unlock(&c->lock);
        if (rc < 0)
            break;
        if (redirected &&
            papyra__cluster_follow(s, router, &rd, hop, true, deadline, &target, &asking) == 0) {
            for (size_t i = 0; i < n; i++) {
                freeReplyObject(replies[i]);
                replies[i] = NULL;
            }
            continue;
        }
        break;
    }
    free(with);
    free(rwith);
    return rc;
}

bool
papyra__redis_cross_slot(const papyra__redis *r, const char *a, const char *b)
{
    return r->router &&
           papyra__cluster_keyslot(a, strlen(a)) != papyra__cluster_keyslot(b, strlen(b));
}

int
papyra__redis_copy_then(papyra_store *s,
                        papyra__redis *r,
                        size_t ncopy,
                        const papyra__redis_argv *copies,
                        const papyra__redis_argv *then,
                        const char *what)
{
    redisReply **replies = calloc(ncopy ? ncopy : 1, sizeof(*replies));
    redisReply *reply = NULL;
    int rc = 0;

    if (!replies)
        return papyra__store_error(s, PAPYRA_ENOMEM, "redis: out of memory");
    if (ncopy > 0)
        rc = papyra__redis_pipeline(s, r, ncopy, copies, replies);
    for (size_t i = 0; rc == 0 && i < ncopy; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR)
            rc = papyra__redis_reply_error(s, replies[i], what);
    }
    for (size_t i = 0; i < ncopy; i++)
        freeReplyObject(replies[i]);
    free(replies);
    if (rc == 0)
        rc = papyra__redis_command(s, r, 0, then->argc, then->argv, then->lens, &reply);
    if (rc == 0)
        freeReplyObject(reply);
    return rc;
}
