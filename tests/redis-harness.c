/* SPDX-License-Identifier: MIT */
/*
 * Starts and stops a private redis-server for the Redis tests (see
 * redis-harness.h). The server runs in the foreground of a child process so
 * that the test can kill it with a signal and restart it on the same port.
 */
#include "redis-harness.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool
papyra_test_on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[4096];

    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        (void)snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
        if (access(buf, X_OK) == 0)
            return true;
        path = end ? end + 1 : NULL;
    }
    return false;
}

bool
papyra_test_redis_required(void)
{
    const char *require = getenv("PAPYRA_TEST_REQUIRE_REDIS");
    return require && strcmp(require, "1") == 0;
}

int
papyra_test_redis_skip(const char *why)
{
    bool required = papyra_test_redis_required();
    fprintf(stderr, "%s: %s%s\n", required ? "FAIL" : "SKIP", why,
            required ? " (PAPYRA_TEST_REQUIRE_REDIS=1)" : "");
    return required ? 1 : 77;
}

bool
papyra_test_redis_available(void)
{
    return papyra_test_on_path("redis-server");
}

/* A port the kernel considers free right now (a small race is accepted; start retries). */
int
papyra_test_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = -1;

    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

void
papyra_test_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

long long
papyra_test_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
papyra_test_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

redisContext *
papyra_test_connect(int port, int timeout_ms)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *ctx = redisConnectWithTimeout("127.0.0.1", port, tv);

    if (!ctx || ctx->err) {
        redisFree(ctx);
        return NULL;
    }
    (void)redisSetTimeout(ctx, tv);
    return ctx;
}

redisReply *
papyra_test_vcmd_at(int port, int timeout_ms, const char *fmt, va_list ap)
{
    redisContext *ctx = papyra_test_connect(port, timeout_ms);
    redisReply *r;

    if (!ctx)
        return NULL;
    r = redisvCommand(ctx, fmt, ap);
    redisFree(ctx);
    return r;
}

redisReply *
papyra_test_cmd_at(int port, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = papyra_test_vcmd_at(port, 1000, fmt, ap);
    va_end(ap);
    return r;
}

pid_t
papyra_test_spawn_until(const char *const *argv, bool (*up)(void *arg), void *arg)
{
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int k = 0; k < 100; k++) {
        if (up(arg))
            return pid;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        papyra_test_sleep_ms(50);
    }
    papyra_test_reap(&pid);
    return -1;
}

int
papyra_test_sentinel_start(const char *dir,
                           int i,
                           bool tls,
                           const char *extra,
                           const char *name,
                           int master_port,
                           bool (*up)(void *port),
                           int *port,
                           pid_t *pid)
{
    char conf[4200], log[4200];
    const char *argv[] = {"redis-server", conf, "--sentinel", NULL};
    FILE *f;

    (void)snprintf(conf, sizeof(conf), "%s/sentinel%d.conf", dir, i);
    (void)snprintf(log, sizeof(log), "%s/sentinel%d.log", dir, i);
    for (int attempt = 0; attempt < 5; attempt++) {
        *port = papyra_test_free_port();
        if (!(f = fopen(conf, "w")))
            return -1;
        fprintf(f,
                "%s%d\nbind 127.0.0.1\ndaemonize no\ndir %s\nlogfile %s\n%s"
                "sentinel monitor %s 127.0.0.1 %d 2\n"
                "sentinel down-after-milliseconds %s 1000\n"
                "sentinel failover-timeout %s 4000\n"
                "sentinel parallel-syncs %s 2\n",
                tls ? "port 0\ntls-port " : "port ", *port, dir, log, extra, name, master_port,
                name, name, name);
        fclose(f);
        *pid = papyra_test_spawn_until(argv, up, port);
        if (*pid > 0)
            return 0;
        *pid = 0;
    }
    return -1;
}

void
papyra_test_reap(pid_t *pid)
{
    if (*pid > 0) {
        (void)kill(*pid, SIGKILL);
        (void)waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

/* Whether the TLS port accepts a TCP connection (the harness links no TLS of its own). */
static bool
accepts_tcp(void *arg)
{
    const papyra_test_redis *r = arg;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)r->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    if (fd < 0)
        return false;
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static bool
answers_ping(void *arg)
{
    const papyra_test_redis *r = arg;
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    redisReply *reply;
    bool ok = false;

    if (!c || c->err) {
        redisFree(c);
        return false;
    }
    if (r->requirepass) {
        reply = redisCommand(c, "AUTH %s", r->requirepass);
        freeReplyObject(reply);
    }
    reply = redisCommand(c, "PING");
    ok = reply && reply->type == REDIS_REPLY_STATUS;
    freeReplyObject(reply);
    redisFree(c);
    return ok;
}

static int
spawn(papyra_test_redis *r)
{
    char port[16], log[4200], cert[4200], key[4200], ca[4200];
    const char *argv[48];
    int n = 0;

    (void)snprintf(port, sizeof(port), "%d", r->port);
    (void)snprintf(log, sizeof(log), "%s/redis.log", r->dir);
    if (r->tls_dir) {
        (void)snprintf(cert, sizeof(cert), "%s/server.crt", r->tls_dir);
        (void)snprintf(key, sizeof(key), "%s/server.key", r->tls_dir);
        (void)snprintf(ca, sizeof(ca), "%s/ca.crt", r->tls_dir);
    }
    argv[n++] = "redis-server";
    argv[n++] = "--port";
    argv[n++] = r->tls_dir ? "0" : port;
    if (r->tls_dir) {
        argv[n++] = "--tls-port";
        argv[n++] = port;
        argv[n++] = "--tls-cert-file";
        argv[n++] = cert;
        argv[n++] = "--tls-key-file";
        argv[n++] = key;
        argv[n++] = "--tls-ca-cert-file";
        argv[n++] = ca;
        argv[n++] = "--tls-auth-clients";
        argv[n++] = "yes";
        /* A replica of it (REPLICAOF) syncs over TLS too (its certificate as the client's). */
        argv[n++] = "--tls-replication";
        argv[n++] = "yes";
    }
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--unixsocket";
    argv[n++] = r->sock;
    argv[n++] = "--unixsocketperm";
    argv[n++] = "700";
    argv[n++] = "--dir";
    argv[n++] = r->dir;
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--daemonize";
    argv[n++] = "no";
    argv[n++] = "--logfile";
    argv[n++] = log;
    if (r->requirepass) {
        argv[n++] = "--requirepass";
        argv[n++] = r->requirepass;
    }
    for (int i = 0; r->extra_args && r->extra_args[i] && i < 16; i++)
        argv[n++] = r->extra_args[i];
    argv[n] = NULL;
    r->pid = papyra_test_spawn_until(argv, r->tls_dir ? accepts_tcp : answers_ping, r);
    if (r->pid > 0)
        return 0;
    r->pid = 0;
    return -1;
}

int
papyra_test_redis_start(papyra_test_redis *r)
{
    if (!r->dir) {
        const char *tmp = getenv("TMPDIR");
        char tmpl[4096];
        (void)snprintf(tmpl, sizeof(tmpl), "%s/papyra-redis-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpl)) {
            perror("mkdtemp");
            return -1;
        }
        r->dir = strdup(tmpl);
        r->sock = malloc(strlen(tmpl) + 16);
        if (!r->dir || !r->sock)
            return -1;
        (void)snprintf(r->sock, strlen(tmpl) + 16, "%s/redis.sock", tmpl);
    }
    if (r->port != 0)
        return spawn(r) == 0
                   ? 0
                   : (fprintf(stderr, "redis-server failed to restart on port %d\n", r->port), -1);
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = papyra_test_free_port();
        if (r->port > 0 && spawn(r) == 0)
            return 0;
    }
    fprintf(stderr, "redis-server did not start (see %s/redis.log)\n", r->dir);
    r->port = 0;
    return -1;
}

/* Sends @p sig to the server, if it runs, and reaps it. */
static void
signal_and_reap(papyra_test_redis *r, int sig)
{
    if (r->pid > 0) {
        (void)kill(r->pid, sig);
        (void)waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

void
papyra_test_redis_kill(papyra_test_redis *r)
{
    signal_and_reap(r, SIGKILL);
}

void
papyra_test_redis_stop(papyra_test_redis *r)
{
    signal_and_reap(r, SIGTERM);
    if (r->dir) {
        char log[4200];
        (void)snprintf(log, sizeof(log), "%s/redis.log", r->dir);
        (void)unlink(log);
        (void)unlink(r->sock);
        (void)rmdir(r->dir);
        free(r->dir);
        free(r->sock);
        r->dir = NULL;
        r->sock = NULL;
    }
}
