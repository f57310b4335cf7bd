/* SPDX-License-Identifier: MIT */
/*
 * rediss:// against a real redis-server that takes TLS only and requires a
 * client certificate: a CA, a second (wrong) CA, a server and a client
 * certificate are made at test time with the openssl CLI in a temporary
 * directory. In a build without hiredis_ssl the test checks the refusal
 * (PAPYRA_EUNSUPPORTED naming what the build lacks) instead.
 *
 * Without redis-server or openssl, or with a redis-server built without TLS,
 * the server tests skip (exit 77) saying why, unless PAPYRA_TEST_REQUIRE_REDIS=1
 * (CI) makes that a failure.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/papyra.h>

#include "redis-harness.h"
#include "store-testutil.h"

static int
open_rc(const char *url, papyra_error *e)
{
    papyra_store *s = NULL;
    int rc = papyra_store_open(&s, url, e);
    if (rc == 0)
        papyra_store_close(s);
    return rc;
}

/* Both builds: TLS parameters belong to rediss:// only. */
static void
test_tls_params_should_need_rediss(void **state)
{
    papyra_error e = {0};
    (void)state;
    assert_int_equal(open_rc("redis://127.0.0.1:1/0?tls_ca=/x&metrics=none", &e), PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "tls_ca"));
    assert_non_null(strstr(e.message, "rediss://"));
    assert_int_equal(open_rc("unix:/tmp/none.sock?tls_insecure=1&metrics=none", &e), PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "tls_insecure"));
}

#ifndef PAPYRA_HAVE_REDIS_TLS

/* A build without hiredis_ssl refuses rediss:// and says what it lacks. */
static void
test_tls_should_be_refused_without_hiredis_ssl(void **state)
{
    papyra_error e = {0};
    (void)state;
    assert_int_equal(open_rc("rediss://127.0.0.1:1/0?tls_ca=/x.crt&metrics=none", &e),
                     PAPYRA_EUNSUPPORTED);
    assert_non_null(strstr(e.message, "TLS"));
    assert_non_null(strstr(e.message, "hiredis_ssl"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_params_should_need_rediss),
        cmocka_unit_test(test_tls_should_be_refused_without_hiredis_ssl),
    };
    return cmocka_run_group_tests_name("redis-tls (no hiredis_ssl)", tests, NULL, NULL);
}

#else

static papyra_test_redis server;
static char tlsdir[4096];
static int prefix_seq;

/* A store URL on the TLS server: scheme, then "&"-joined extra parameters. */
static void
tls_url(char *buf, size_t n, const char *scheme, const char *extra)
{
    (void)snprintf(buf, n, "%s://127.0.0.1:%d/0?prefix=tls%d_%d&metrics=none%s%s", scheme,
                   server.port, (int)getpid(), ++prefix_seq, extra && *extra ? "&" : "",
                   extra ? extra : "");
}

/* "tls_ca=DIR/ca.crt&tls_cert=DIR/client.crt&tls_key=DIR/client.key" style parameters. */
static void
tls_params(char *buf, size_t n, const char *ca_param, const char *ca_file, bool client_cert)
{
    int k = 0;
    buf[0] = '\0';
    if (ca_param)
        k = snprintf(buf, n, "%s=%s/%s", ca_param, tlsdir, ca_file);
    if (client_cert)
        (void)snprintf(buf + k, n - (size_t)k, "%stls_cert=%s/client.crt&tls_key=%s/client.key",
                       k ? "&" : "", tlsdir, tlsdir);
}

/* Writes n events in batches of 500 and checks that list returns all n, in order (stamps). */
static void
write_and_list(papyra_store *s, int n)
{
    papyra_record recs[500];

    for (int first = 0; first < n; first += 500) {
        int k = n - first < 500 ? n - first : 500;
        for (int i = 0; i < k; i++)
            recs[i] = st_event(first + i, 1000.0 + first + i);
        assert_int_equal(papyra_store_write_batch(s, recs, (size_t)k), 0);
    }
    st_assert_event_stamps(s, (size_t)n, 1000.0);
}

static void
test_tls_write_and_list_with_client_cert(void **state)
{
    char params[16384], url[20000];
    papyra_store *s;
    (void)state;

    /* Over 3000 entries: list reads more than one page through the TLS reader. */
    tls_params(params, sizeof(params), "tls_ca", "ca.crt", true);
    tls_url(url, sizeof(url), "rediss", params);
    s = st_open("%s", url);
    write_and_list(s, 7000);
    st_assert_scan(s, 0);
    papyra_store_close(s);

    /* The CA as a hashed directory, and the server name given explicitly. */
    tls_params(params, sizeof(params), "tls_ca_dir", "cadir", true);
    tls_url(url, sizeof(url), "rediss", params);
    (void)snprintf(url + strlen(url), sizeof(url) - strlen(url), "&tls_server_name=localhost");
    s = st_open("%s", url);
    write_and_list(s, 10);
    papyra_store_close(s);
}

enum { THREADS = 4, PER_THREAD = 500, BATCH = 5 };

static void *
writer_main(void *p)
{
    papyra_store *s = p;
    papyra_record recs[BATCH];
    intptr_t bad = 0;

    for (int i = 0; i < PER_THREAD / BATCH; i++) {
        for (int j = 0; j < BATCH; j++)
            recs[j] = st_event(i * BATCH + j, 1000.0);
        if (papyra_store_write_batch(s, recs, BATCH) != 0)
            bad++;
    }
    return (void *)bad;
}

/* Threads sharing a store write over TLS on spare connections that share one TLS context. */
static void
test_tls_threads_sharing_a_store_should_lose_nothing(void **state)
{
    char params[16384], url[20000];
    pthread_t th[THREADS];
    papyra_store *s;
    (void)state;

    tls_params(params, sizeof(params), "tls_ca", "ca.crt", true);
    tls_url(url, sizeof(url), "rediss", params);
    (void)snprintf(url + strlen(url), sizeof(url) - strlen(url), "&connections=%d", THREADS);
    s = st_open("%s", url);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, s), 0);
    for (int i = 0; i < THREADS; i++) {
        void *bad = NULL;
        assert_int_equal(pthread_join(th[i], &bad), 0);
        assert_int_equal((intptr_t)bad, 0);
    }
    st_assert_count(s, PAPYRA_KIND_EVENT, THREADS * PER_THREAD);
    papyra_store_close(s);
}

static void
test_tls_wrong_ca_should_be_refused_clearly(void **state)
{
    char params[16384], url[20000], ep[64];
    papyra_error e = {0};
    (void)state;

    tls_params(params, sizeof(params), "tls_ca", "wrongca.crt", true);
    tls_url(url, sizeof(url), "rediss", params);
    assert_int_equal(open_rc(url, &e), PAPYRA_ECONNECT);
    print_message("wrong CA: %s\n", e.message);
    (void)snprintf(ep, sizeof(ep), "127.0.0.1:%d", server.port);
    assert_non_null(strstr(e.message, ep));
    assert_non_null(strstr(e.message, "TLS"));
    assert_non_null(strstr(e.message, "certificate verify failed"));

    /* tls_insecure=1 (tests only) skips the verification that refused it. */
    tls_params(params, sizeof(params), "tls_ca", "wrongca.crt", true);
    tls_url(url, sizeof(url), "rediss", params);
    (void)snprintf(url + strlen(url), sizeof(url) - strlen(url), "&tls_insecure=1");
    assert_int_equal(open_rc(url, &e), 0);
}

static void
test_tls_missing_client_cert_should_be_refused(void **state)
{
    char params[16384], url[20000], ep[64];
    papyra_error e = {0};
    int rc;
    (void)state;

    tls_params(params, sizeof(params), "tls_ca", "ca.crt", false);
    tls_url(url, sizeof(url), "rediss", params);
    rc = open_rc(url, &e);
    print_message("no client certificate: %s (%s)\n", e.message, papyra_errname(rc));
    assert_true(rc == PAPYRA_ECONNECT || rc == PAPYRA_EIO || rc == PAPYRA_EPROTO);
    (void)snprintf(ep, sizeof(ep), "127.0.0.1:%d", server.port);
    assert_non_null(strstr(e.message, ep));
    assert_non_null(strstr(e.message, "TLS"));
}

static void
test_tls_plaintext_to_tls_port_should_fail_cleanly(void **state)
{
    char url[20000], ep[64];
    papyra_error e = {0};
    int rc;
    (void)state;

    tls_url(url, sizeof(url), "redis", "connect_timeout_ms=2000&timeout_ms=2000");
    rc = open_rc(url, &e);
    print_message("plaintext to the TLS port: %s (%s)\n", e.message, papyra_errname(rc));
    assert_true(rc == PAPYRA_EIO || rc == PAPYRA_ETIMEDOUT || rc == PAPYRA_EPROTO ||
                rc == PAPYRA_ECONNECT);
    (void)snprintf(ep, sizeof(ep), "127.0.0.1:%d", server.port);
    assert_non_null(strstr(e.message, ep));
}

static void
test_tls_bad_settings_should_be_rejected(void **state)
{
    char url[20000], params[16384];
    papyra_error e = {0};
    (void)state;

    (void)snprintf(params, sizeof(params), "tls_cert=%s/client.crt", tlsdir);
    tls_url(url, sizeof(url), "rediss", params);
    assert_int_equal(open_rc(url, &e), PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "tls_key"));

    tls_url(url, sizeof(url), "rediss", "tls_insecure=2");
    assert_int_equal(open_rc(url, &e), PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "tls_insecure"));

    (void)snprintf(params, sizeof(params), "tls_ca=%s/missing.crt", tlsdir);
    tls_url(url, sizeof(url), "rediss", params);
    assert_int_equal(open_rc(url, &e), PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "missing.crt"));
}

/* Makes ca, wrongca, server (localhost, 127.0.0.1) and client certificates in tlsdir. */
static int
make_certs(void)
{
    char cmd[16384];
    (void)snprintf(cmd, sizeof(cmd),
                   "cd '%s' && {"
                   " for n in ca wrongca; do"
                   "  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                   "   -keyout $n.key -out $n.crt -days 2 -subj /CN=papyra-test-$n || exit 1;"
                   " done;"
                   " for n in server client; do"
                   "  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                   "   -keyout $n.key -out $n.csr -subj /CN=papyra-test-$n || exit 1;"
                   " done;"
                   " printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext;"
                   " openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
                   "  -out server.crt -days 2 -extfile server.ext || exit 1;"
                   " openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
                   "  -out client.crt -days 2 || exit 1;"
                   " mkdir cadir && cp ca.crt cadir/ && openssl rehash cadir || exit 1;"
                   " } > openssl.log 2>&1",
                   tlsdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int
cleanup(int rc)
{
    char cmd[8192];
    papyra_test_redis_stop(&server);
    if (tlsdir[0]) {
        (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tlsdir);
        (void)system(cmd);
    }
    return rc;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_params_should_need_rediss),
        cmocka_unit_test(test_tls_write_and_list_with_client_cert),
        cmocka_unit_test(test_tls_threads_sharing_a_store_should_lose_nothing),
        cmocka_unit_test(test_tls_wrong_ca_should_be_refused_clearly),
        cmocka_unit_test(test_tls_missing_client_cert_should_be_refused),
        cmocka_unit_test(test_tls_plaintext_to_tls_port_should_fail_cleanly),
        cmocka_unit_test(test_tls_bad_settings_should_be_rejected),
    };
    const char *require = getenv("PAPYRA_TEST_REQUIRE_REDIS");
    bool required = require && strcmp(require, "1") == 0;
    const char *tmp = getenv("TMPDIR");
    const char *why = NULL;

    (void)snprintf(tlsdir, sizeof(tlsdir), "%s/papyra-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!papyra_test_redis_available())
        why = "no redis-server on PATH";
    else if (!mkdtemp(tlsdir)) {
        tlsdir[0] = '\0';
        why = "cannot make a temporary directory";
    } else if (make_certs() < 0)
        why = "openssl could not make the test certificates (see openssl.log)";
    else {
        server.tls_dir = tlsdir;
        if (papyra_test_redis_start(&server) < 0)
            why = "redis-server did not start with --tls-port (built without TLS?)";
    }
    if (why) {
        fprintf(stderr, "redis-tls: %s: %s%s\n", why, required ? "FAIL" : "SKIP",
                required ? " (PAPYRA_TEST_REQUIRE_REDIS=1)" : "");
        return cleanup(required ? 1 : 77);
    }
    return cleanup(cmocka_run_group_tests_name("redis-tls", tests, NULL, NULL));
}

#endif
