/* SPDX-License-Identifier: MIT */
/*
 * Scrape latency of `papyra metrics serve` against a static baseline.
 *
 *   bench-serve PORT [REQUESTS [ROUNDS]]
 *
 * Fetches /metrics once from the papyra serve listening on 127.0.0.1:PORT,
 * then serves exactly those bytes from memory with libmicrohttpd, set up as
 * `metrics serve` sets it up (internal event thread, the same limits), in
 * this process: the baseline is the same HTTP server and the same bytes, so
 * the ratio is what reading the metrics files and formatting them costs.
 * Both are timed with the same client (a new connection per request, as a
 * scraper without keep-alive), REQUESTS requests per round, the rounds
 * alternating between the two; the best round of each counts. Prints one
 * line: bytes, microseconds per scrape of both, and the ratio.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char request[] =
    "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One request to 127.0.0.1:@p port; the whole response in *ret (caller frees). */
static size_t
get(unsigned port, char **ret)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t n;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!buf || fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        write(fd, request, sizeof(request) - 1) != (ssize_t)(sizeof(request) - 1)) {
        perror("bench-serve: request");
        exit(1);
    }
    while ((n = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)n;
        if (len == cap && !(buf = realloc(buf, cap *= 2))) {
            perror("bench-serve");
            exit(1);
        }
    }
    close(fd);
    if (ret)
        *ret = buf;
    else
        free(buf);
    return len;
}

static const char *body;
static size_t body_len;

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
    struct MHD_Response *r =
        MHD_create_response_from_buffer(body_len, (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;

    (void)cls, (void)url, (void)method, (void)version, (void)upload_data;
    (void)upload_data_size, (void)con_cls;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* Mean seconds per request of @p n requests to @p port. */
static double
round_of(unsigned port, int n)
{
    double t0 = now();
    for (int i = 0; i < n; i++)
        get(port, NULL);
    return (now() - t0) / n;
}

int
main(int argc, char **argv)
{
    unsigned serve_port, static_port;
    int requests = argc > 2 ? atoi(argv[2]) : 2000, rounds = argc > 3 ? atoi(argv[3]) : 5;
    double best_serve = 1e9, best_static = 1e9;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    char *resp;
    size_t len;
    const char *sep;

    if (argc < 2 || requests <= 0 || rounds <= 0) {
        fprintf(stderr, "usage: bench-serve PORT [REQUESTS [ROUNDS]]\n");
        return 64;
    }
    serve_port = (unsigned)atoi(argv[1]);
    len = get(serve_port, &resp);
    sep = NULL;
    for (size_t i = 0; !sep && i + 4 <= len; i++)
        if (memcmp(resp + i, "\r\n\r\n", 4) == 0)
            sep = resp + i;
    if (!sep || strncmp(resp, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "bench-serve: no 200 response from port %u\n", serve_port);
        return 1;
    }
    body = sep + 4;
    body_len = len - (size_t)(body - resp);

    d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC, 0, NULL, NULL, on_request,
                         NULL, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&(struct sockaddr_in){
                             .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
                         MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                         MHD_OPTION_END);
    if (!d || !(info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT))) {
        fprintf(stderr, "bench-serve: the static server did not start\n");
        return 1;
    }
    static_port = info->port;

    /* Warm both up, then alternate rounds so that noise hits both alike. */
    round_of(serve_port, 50);
    round_of(static_port, 50);
    for (int r = 0; r < rounds; r++) {
        double s = round_of(serve_port, requests), b = round_of(static_port, requests);
        if (s < best_serve)
            best_serve = s;
        if (b < best_static)
            best_static = b;
    }
    printf("{\"bytes\":%zu,\"serve_us\":%.1f,\"static_us\":%.1f,\"ratio\":%.2f}\n", body_len,
           best_serve * 1e6, best_static * 1e6, best_serve / best_static);
    MHD_stop_daemon(d);
    free(resp);
    return 0;
}
