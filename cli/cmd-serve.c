/* SPDX-License-Identifier: MIT */
/*
 * papyra metrics serve: the stores' shared counters over HTTP, for
 * Prometheus to scrape.
 *
 * libmicrohttpd does the HTTP, in one internal event-driven thread: a slow
 * or silent client holds one of a few connection slots for at most the
 * connection timeout, and never blocks another scrape. Each scrape opens
 * every store's metrics file read-only, takes a snapshot and closes it (a
 * file replaced by `metrics reset --recreate` is read afresh); no store is
 * opened and nothing is written or created. docs/cli.md has the contract.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "util/fs.h"

/* Without --listen: loopback, the port registered for exporters of this kind. */
#define SERVE_DEFAULT_LISTEN "127.0.0.1:9464"

/* Connections served at once, and how long an idle or slow one may stay. */
#define SERVE_MAX_CONNECTIONS 32u
#define SERVE_TIMEOUT_SECONDS 10u

enum {
    SV_LISTEN,
    SV_STORE,
    SV_METRICS_DIR,
};

const cli_opt cli_serve_opts[] = {
    [SV_LISTEN] = {"listen", "ADDR:PORT",
                   "Where to listen (default " SERVE_DEFAULT_LISTEN "; [::1]:PORT for IPv6; "
                   "port 0: any free port)."},
    [SV_STORE] = {"store", "[NAME=]URL...",
                  "A store to serve, labelled store=NAME (default: the URL, password "
                  "hidden); give it once per store."},
    [SV_METRICS_DIR] = {"metrics-dir", "DIR",
                        "Also serve every *.metrics file in DIR (not its subdirectories), "
                        "labelled store=<file name without .metrics>; read at every scrape."},
    {0},
};

/* One store as a scrape sees it, and what was last logged about it. */
typedef struct serve_store {
    char *name;        /* the store label */
    char *path;        /* its metrics file */
    int state;         /* -1 not scraped yet, 0 down, 1 up */
    papyra_metrics *m; /* the file mapped, while it is the one at path */
    dev_t dev;         /* what path was when it was mapped */
    ino_t ino;
    off_t size;
    char why[600];
} serve_store;

typedef struct server {
    pthread_mutex_t mu;
    serve_store *fixed; /* --store, or the global store */
    size_t nfixed;
    const char *dir;   /* --metrics-dir, or NULL */
    int dir_errno;     /* why it could not be listed at the last scrape, or 0 */
    serve_store *seen; /* every file of the directory seen so far, by name */
    size_t nseen;
} server;

static void
store_free(serve_store *s)
{
    papyra_metrics_close(s->m);
    free(s->name);
    free(s->path);
}

/* Logs a change of @p s's state: down with @p why (non-NULL), or up. */
static void
note_state(serve_store *s, const char *why)
{
    int state = why ? 0 : 1;

    if (s->state == state && (!why || strcmp(s->why, why) == 0))
        return;
    if (why)
        cli_error(0,
                  "store %s: cannot read its metrics (left out of the scrape; "
                  "papyra_metrics_store_up 0): %s",
                  s->name, why);
    else if (s->state == 0)
        cli_error(0, "store %s: metrics readable again", s->name);
    s->state = state;
    snprintf(s->why, sizeof(s->why), "%s", why ? why : "");
}

/*
 * Reads the snapshot of @p s; false, with the reason in @p why, when it
 * cannot. The file stays mapped between scrapes while stat(2) says it is
 * the same file of the same size: a scrape then costs one stat per store.
 * One deleted, replaced (`metrics reset --recreate`) or resized is let go
 * and opened afresh, which checks it again.
 */
static bool
read_store(serve_store *s, papyra_metrics_snapshot *snap, char *why, size_t size)
{
    papyra_metrics_options mo = {.flags = PAPYRA_METRICS_READONLY, .backend = -1};
    papyra_error err = {0};
    struct stat st;
    int rc;

    if (stat(s->path, &st) < 0) {
        papyra_metrics_close(s->m);
        s->m = NULL;
        if (errno == ENOENT)
            snprintf(why, size, "%s does not exist", s->path);
        else
            snprintf(why, size, "%s: %s", s->path, strerror(errno));
        return false;
    }
    if (s->m && (st.st_dev != s->dev || st.st_ino != s->ino || st.st_size != s->size)) {
        papyra_metrics_close(s->m);
        s->m = NULL;
    }
    if (!s->m) {
        rc = papyra_metrics_open(&s->m, s->path, &mo, &err);
        if (rc == PAPYRA_ENOENT) {
            snprintf(why, size, "%s does not exist", s->path);
            return false;
        }
        if (rc < 0) {
            snprintf(why, size, "%s", err.message[0] ? err.message : papyra_strerror(rc));
            return false;
        }
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        s->size = st.st_size;
    }
    rc = papyra_metrics_read(s->m, snap);
    if (rc < 0) {
        snprintf(why, size, "cannot read %s: %s", s->path, papyra_metrics_errmsg(s->m));
        papyra_metrics_close(s->m);
        s->m = NULL;
    }
    return rc == 0;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The *.metrics files of @p dir, sorted, as file names (caller frees each
 * and the array); -1 with errno when the directory cannot be read.
 */
static int
list_dir(const char *dir, char ***ret, size_t *nret)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;

    *ret = NULL;
    *nret = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 8 || strcmp(e->d_name + len - 8, ".metrics") != 0)
            continue;
        if (n == cap) {
            char **grown = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*names));
            if (!grown)
                break;
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), by_name);
    *ret = names;
    *nret = n;
    return 0;
}

/* The entry of directory file @p file (its name without ".metrics"), added if new. */
static serve_store *
seen_store(server *srv, const char *file)
{
    size_t len = strlen(file) - 8;
    serve_store *grown;

    for (size_t i = 0; i < srv->nseen; i++) {
        if (strlen(srv->seen[i].name) == len && strncmp(srv->seen[i].name, file, len) == 0)
            return &srv->seen[i];
    }
    if (!(grown = realloc(srv->seen, (srv->nseen + 1) * sizeof(*grown))))
        return NULL;
    srv->seen = grown;
    grown = &srv->seen[srv->nseen];
    memset(grown, 0, sizeof(*grown));
    grown->state = -1;
    grown->name = strndup(file, len);
    if (grown->name && papyra__asprintf(&grown->path, "%s/%s", srv->dir, file) == 0) {
        srv->nseen++;
        return grown;
    }
    store_free(grown);
    return NULL;
}

/* Appends @p v to @p b as a label value: backslash, double quote and newline escaped. */
static void
put_label_value(FILE *f, const char *v)
{
    fputc('"', f);
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
    fputc('"', f);
}

/*
 * One exposition of every store: papyra_metrics_store_up for each, then the
 * counters of those that could be read (papyra_metrics_format_many()).
 * NULL with @p why set when it cannot be built.
 */
static char *
scrape(server *srv, bool openmetrics, size_t *len, char *why, size_t whysize)
{
    serve_store **stores = NULL;
    papyra_metrics_snapshot *snaps = NULL;
    const papyra_metrics_snapshot **up = NULL;
    papyra_metrics_label *labels = NULL;
    char **files = NULL;
    size_t nfiles = 0, n = 0, nup = 0;
    char *text = NULL, *out = NULL;
    FILE *f = NULL;
    int rc;

    pthread_mutex_lock(&srv->mu);
    if (srv->dir) {
        /* The directory itself gone: its stores are simply not there. */
        int e = list_dir(srv->dir, &files, &nfiles) < 0 ? errno : 0;
        if (e && e != srv->dir_errno)
            cli_error(0, "cannot read --metrics-dir %s: %s", srv->dir, strerror(e));
        else if (!e && srv->dir_errno)
            cli_error(0, "--metrics-dir %s readable again", srv->dir);
        srv->dir_errno = e;
    }
    stores = calloc(srv->nfixed + nfiles + 1, sizeof(*stores));
    snaps = calloc(srv->nfixed + nfiles + 1, sizeof(*snaps));
    up = calloc(srv->nfixed + nfiles + 1, sizeof(*up));
    labels = calloc(srv->nfixed + nfiles + 1, sizeof(*labels));
    if (!stores || !snaps || !up || !labels) {
        snprintf(why, whysize, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < srv->nfixed; i++)
        stores[n++] = &srv->fixed[i];
    /* Entries first: adding one may move the others. */
    for (size_t i = 0; i < nfiles; i++) {
        if (!seen_store(srv, files[i])) {
            snprintf(why, whysize, "out of memory");
            goto done;
        }
    }
    for (size_t i = 0; i < nfiles; i++) {
        serve_store *s = seen_store(srv, files[i]);
        bool clash = false;
        for (size_t k = 0; k < srv->nfixed && !clash; k++)
            clash = strcmp(srv->fixed[k].name, s->name) == 0;
        if (clash) {
            char msg[600];
            snprintf(msg, sizeof(msg), "%s: a --store of that name is served already", s->path);
            note_state(s, msg);
            continue;
        }
        stores[n++] = s;
    }

    if (!(f = open_memstream(&out, len))) {
        snprintf(why, whysize, "out of memory");
        goto done;
    }
    fputs("# HELP papyra_metrics_store_up Whether the store's metrics file could be read at "
          "this scrape (1) or not (0).\n# TYPE papyra_metrics_store_up gauge\n",
          f);
    for (size_t i = 0; i < n; i++) {
        char msg[600];
        bool ok = read_store(stores[i], &snaps[nup], msg, sizeof(msg));
        const char *problem = papyra_metrics_label_problem("store", stores[i]->name);

        if (ok && problem) {
            snprintf(msg, sizeof(msg), "its name cannot be a label value: %s", problem);
            ok = false;
        }
        note_state(stores[i], ok ? NULL : msg);
        if (problem)
            continue;
        fputs("papyra_metrics_store_up{store=", f);
        put_label_value(f, stores[i]->name);
        fprintf(f, "} %d\n", ok ? 1 : 0);
        if (ok) {
            up[nup] = &snaps[nup];
            labels[nup] = (papyra_metrics_label){"store", stores[i]->name};
            nup++;
        }
    }
    rc = papyra_metrics_format_many(
        up, nup, openmetrics ? PAPYRA_FORMAT_OPENMETRICS : PAPYRA_FORMAT_PROMETHEUS, 0, labels,
        nup ? 1 : 0, &text);
    if (rc < 0) {
        snprintf(why, whysize, "cannot format the counters: %s", papyra_strerror(rc));
        goto done;
    }
    fputs(text, f);
    if (fclose(f) != 0) {
        f = NULL;
        snprintf(why, whysize, "out of memory");
        goto done;
    }
    f = NULL;
    papyra_free(text);
    text = NULL;
    goto out;
done:
    if (f)
        fclose(f);
    free(out);
    out = NULL;
    papyra_free(text);
out:
    pthread_mutex_unlock(&srv->mu);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    free(stores);
    free(snaps);
    free(up);
    free(labels);
    return out;
}

/* Queues a response of @p body (malloc'd, taken over; NULL: out of memory). */
static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *type, char *body, size_t len)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (!body)
        return MHD_NO; /* MHD closes the connection */
    r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (status == MHD_HTTP_OK)
        MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    char *body = strdup(text);

    return reply(c, status, "text/plain; charset=utf-8", body, body ? strlen(body) : 0);
}

/* Whether the scraper lists OpenMetrics among what it accepts. */
static bool
wants_openmetrics(struct MHD_Connection *c)
{
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);

    return accept && strstr(accept, "application/openmetrics-text") != NULL;
}

static enum MHD_Result
on_request(void *cls,
           struct MHD_Connection *c,
           const char *url,
           const char *method,
           const char *version,
           const char *upload_data,
           size_t *upload_data_size,
           void **con_cls)
{
    server *srv = cls;
    bool metrics = strcmp(url, "/metrics") == 0;
    bool healthy = strcmp(url, "/-/healthy") == 0;
    char why[700];
    size_t len = 0;
    char *body;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    /*
     * The first call only announces the request: answering then would make
     * libmicrohttpd close the connection, which a scraper keeps alive.
     */
    if (!*con_cls) {
        *con_cls = srv;
        return MHD_YES;
    }
    if (!metrics && !healthy)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "404 page not found: try /metrics\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed: use GET\n");
    if (healthy)
        return reply_text(c, MHD_HTTP_OK, "OK\n");
    if (wants_openmetrics(c)) {
        body = scrape(srv, true, &len, why, sizeof(why));
        if (body)
            return reply(c, MHD_HTTP_OK,
                         "application/openmetrics-text; version=1.0.0; charset=utf-8", body, len);
    } else {
        body = scrape(srv, false, &len, why, sizeof(why));
        if (body)
            return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
    }
    cli_error(0, "scrape failed: %s", why);
    strncat(why, "\n", sizeof(why) - strlen(why) - 1);
    return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, why);
}

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("papyra: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* Parses ADDR:PORT ("[v6]:PORT" for IPv6) into a socket address; a usage error names it. */
static int
parse_listen(const char *arg, struct addrinfo **ret)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
    char host[256];
    const char *port, *colon;
    char *end;
    unsigned long p;
    int rc;

    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (!close || close[1] != ':')
            return cli_error(CLI_EXIT_USAGE, "bad --listen '%s': give [IPV6]:PORT", arg);
        snprintf(host, sizeof(host), "%.*s", (int)(close - arg - 1), arg + 1);
        port = close + 2;
        hints.ai_family = AF_INET6;
        hints.ai_flags |= AI_NUMERICHOST;
    } else {
        colon = strrchr(arg, ':');
        if (!colon)
            return cli_error(CLI_EXIT_USAGE, "bad --listen '%s': give ADDR:PORT", arg);
        if (memchr(arg, ':', (size_t)(colon - arg)))
            return cli_error(CLI_EXIT_USAGE,
                             "bad --listen '%s': put an IPv6 address in brackets, [ADDR]:PORT",
                             arg);
        if ((size_t)(colon - arg) >= sizeof(host))
            return cli_error(CLI_EXIT_USAGE, "bad --listen '%s': the host name is too long", arg);
        snprintf(host, sizeof(host), "%.*s", (int)(colon - arg), arg);
        port = colon + 1;
        hints.ai_family = AF_INET;
    }
    if (!host[0])
        return cli_error(CLI_EXIT_USAGE,
                         "bad --listen '%s': give the address (0.0.0.0 for every interface)", arg);
    errno = 0;
    p = strtoul(port, &end, 10);
    if (port[0] < '0' || port[0] > '9' || *end || errno || p > 65535)
        return cli_error(CLI_EXIT_USAGE, "bad --listen '%s': the port must be 0 to 65535", arg);
    rc = getaddrinfo(host, port, &hints, ret);
    if (rc != 0)
        return cli_error(CLI_EXIT_USAGE,
                         "bad --listen '%s': %s is not an address of this host "
                         "(%s)",
                         arg, host, gai_strerror(rc));
    return 0;
}

/* "127.0.0.1:9464" or "[::1]:9464" of a bound socket. */
static void
describe_addr(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        snprintf(buf, size, "?");
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(buf, size, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        snprintf(buf, size, "%s:%u", ip, ntohs(a->sin_port));
    }
}

/* A listening socket on @p arg; -1 after printing why (*code: the exit code). */
static int
listen_on(const char *arg, int *code)
{
    struct addrinfo *ai = NULL;
    int fd, one = 1, err;

    if ((*code = parse_listen(arg, &ai)) != 0)
        return -1;
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        /* A restart must not wait for TIME_WAIT; two listeners are still refused. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        err = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        *code = cli_error(CLI_EXIT_FAIL, "cannot listen on %s: %s%s", arg, strerror(err),
                          err == EADDRNOTAVAIL ? " (not an address of this host)" : "");
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* NAME=URL when the first '=' comes before the scheme's ':'; else URL alone. */
static int
split_store(const char *arg, char **name, const char **url)
{
    const char *eq = strchr(arg, '='), *colon = strchr(arg, ':');

    if (eq && (!colon || eq < colon)) {
        *name = strndup(arg, (size_t)(eq - arg));
        *url = eq + 1;
        if (*name && !**name)
            return cli_error(CLI_EXIT_USAGE, "bad --store '%s': the name before '=' is empty", arg);
    } else {
        char shown[2048];
        *name = strdup(cli_redact_url(arg, shown, sizeof(shown)));
        *url = arg;
    }
    return *name ? 0 : cli_error(CLI_EXIT_FAIL, "out of memory");
}

/*
 * Adds store @p url named @p name (taken over) to the fixed stores: its
 * metrics file must be readable now (exit 1 naming it otherwise).
 */
static int
add_store(server *srv, char *name, const char *url, const char *metrics_file)
{
    papyra_metrics_options mo = {.flags = PAPYRA_METRICS_READONLY, .backend = -1};
    papyra_metrics_snapshot snap;
    papyra_error err = {0};
    papyra_metrics *m = NULL;
    cli_metrics_loc loc;
    const char *problem = papyra_metrics_label_problem("store", name);
    serve_store *s = &srv->fixed[srv->nfixed];
    int rc;

    if (problem) {
        rc = cli_error(CLI_EXIT_USAGE, "bad store name '%s': %s", name, problem);
        free(name);
        return rc;
    }
    for (size_t i = 0; i < srv->nfixed; i++) {
        if (strcmp(srv->fixed[i].name, name) == 0) {
            rc = cli_error(CLI_EXIT_USAGE,
                           "two stores named '%s': give each --store a NAME= of its own", name);
            free(name);
            return rc;
        }
    }
    rc = cli_locate_metrics(url, metrics_file, &loc);
    if (rc == 0 && (rc = papyra_metrics_open(&m, loc.path, &mo, &err)) < 0)
        rc = cli_metrics_open_failed(&loc, rc, &err);
    if (rc == 0 && papyra_metrics_read(m, &snap) < 0)
        rc = cli_error(CLI_EXIT_FAIL, "cannot read %s: %s", loc.path, papyra_metrics_errmsg(m));
    papyra_metrics_close(m);
    if (rc == 0) {
        memset(s, 0, sizeof(*s));
        s->name = name;
        s->state = -1;
        if (!(s->path = strdup(loc.path)))
            rc = cli_error(CLI_EXIT_FAIL, "out of memory");
        srv->nfixed++;
    } else {
        free(name);
    }
    cli_metrics_loc_free(&loc);
    return rc;
}

/* Every *.metrics file of --metrics-dir must be readable at start, as a --store. */
static int
check_dir(server *srv)
{
    char **files = NULL;
    size_t nfiles = 0;
    int rc = 0;

    if (list_dir(srv->dir, &files, &nfiles) < 0)
        return cli_error(CLI_EXIT_FAIL, "cannot read --metrics-dir %s: %s", srv->dir,
                         strerror(errno));
    for (size_t i = 0; rc == 0 && i < nfiles; i++) {
        serve_store *s = seen_store(srv, files[i]);
        papyra_metrics_snapshot snap;
        char why[700];

        if (!s)
            rc = cli_error(CLI_EXIT_FAIL, "out of memory");
        else if (!read_store(s, &snap, why, sizeof(why)))
            rc = cli_error(CLI_EXIT_FAIL, "store %s of --metrics-dir: %s", s->name, why);
        else
            s->state = 1;
    }
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    return rc;
}

int
cli_run_serve(cli_ctx *ctx, const char *const *vals)
{
    server srv = {.mu = PTHREAD_MUTEX_INITIALIZER};
    bool global = ctx->persistence || ctx->path || (!vals[SV_STORE] && !vals[SV_METRICS_DIR]);
    const char *listen_arg = vals[SV_LISTEN] ? vals[SV_LISTEN] : SERVE_DEFAULT_LISTEN;
    struct MHD_Daemon *d = NULL;
    char where[128];
    sigset_t stop;
    size_t nstores = 0;
    int fd = -1, sig = 0, rc = 0;

    if (ctx->metrics_file && !global)
        return cli_error(CLI_EXIT_USAGE,
                         "--metrics-file goes with the global store only; give each --store "
                         "its metrics=PATH instead");
    srv.fixed = calloc(ctx->nrepeated + 1, sizeof(*srv.fixed));
    if (!srv.fixed)
        return cli_error(CLI_EXIT_FAIL, "out of memory");
    if (global) {
        const char *url = cli_store_url(ctx);
        char shown[2048];
        char *name = url ? strdup(cli_redact_url(url, shown, sizeof(shown))) : NULL;
        rc = name ? add_store(&srv, name, url, ctx->metrics_file)
                  : cli_error(CLI_EXIT_FAIL, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < ctx->nrepeated; i++) {
        char *name = NULL;
        const char *url = NULL;
        rc = split_store(ctx->repeated[i], &name, &url);
        if (rc == 0)
            rc = add_store(&srv, name, url, NULL);
        else
            free(name);
    }
    if (rc == 0 && vals[SV_METRICS_DIR]) {
        srv.dir = vals[SV_METRICS_DIR];
        rc = check_dir(&srv);
    }
    if (rc == 0)
        fd = listen_on(listen_arg, &rc);

    if (rc == 0) {
        /* SIGINT and SIGTERM wait for sigwait() below, in every thread. */
        sigemptyset(&stop);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop, NULL);
        signal(SIGPIPE, SIG_IGN);
        describe_addr(fd, where, sizeof(where));
        /* Counted now: from the start on, srv is the server thread's. */
        nstores = srv.nfixed + srv.nseen;
        d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC, 0,
                             NULL, NULL, on_request, &srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
                             NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
                             SERVE_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                             SERVE_TIMEOUT_SECONDS, MHD_OPTION_END);
        if (!d) {
            close(fd);
            rc = cli_error(CLI_EXIT_FAIL, "cannot serve on %s: the HTTP server did not start",
                           where);
        }
    }
    if (rc == 0) {
        printf("listening on %s\n", where);
        fflush(stdout);
        cli_error(0, "serving %zu store%s%s on http://%s/metrics", nstores, nstores == 1 ? "" : "s",
                  srv.dir ? " and --metrics-dir" : "", where);
        while (sigwait(&stop, &sig) != 0)
            ;
        MHD_stop_daemon(d);
        cli_error(0, "stopped serving on http://%s/metrics (%s)", where,
                  sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    for (size_t i = 0; i < srv.nfixed; i++)
        store_free(&srv.fixed[i]);
    for (size_t i = 0; i < srv.nseen; i++)
        store_free(&srv.seen[i]);
    free(srv.fixed);
    free(srv.seen);
    return rc;
}
