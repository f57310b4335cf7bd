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
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/papyra.h>

#include "redis-harness.h"
#include "store-testutil.h"
#include "testutil.h"

/* Both builds: TLS parameters belong to rediss:// only. */
static void
test_tls_params_should_need_rediss(void **state)
{
    papyra_error e = {0};
    (void)state;
    assert_int_equal(st_open_rc("redis://127.0.0.1:1/0?tls_ca=/x&metrics=none", &e), PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "tls_ca"));
    assert_non_null(strstr(e.message, "rediss://"));
    assert_int_equal(st_open_rc("unix:/tmp/none.sock?tls_insecure=1&metrics=none", &e),
                     PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "tls_insecure"));
}

#ifndef PAPYRA_HAVE_REDIS_TLS

/* A build without hiredis_ssl refuses rediss:// and says what it lacks. */
static void
test_tls_should_be_refused_without_hiredis_ssl(void **state)
{
    papyra_error e = {0};
    (void)state;
    assert_int_equal(st_open_rc("rediss://127.0.0.1:1/0?tls_ca=/x.crt&metrics=none", &e),
                     PAPYRA_EUNSUPPORTED);
    assert_non_null(strstr(e.message, "TLS"));
    assert_non_null(strstr(e.message, "hiredis_ssl"));
    /* The sentinel form over TLS too, naming its scheme. */
    assert_int_equal(st_open_rc("rediss-sentinel://127.0.0.1:1/m?tls_ca=/x.crt&metrics=none", &e),
                     PAPYRA_EUNSUPPORTED);
    assert_non_null(strstr(e.message, "rediss-sentinel"));
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
    assert_int_equal(st_open_rc(url, &e), PAPYRA_ECONNECT);
    print_message("wrong CA: %s\n", e.message);
    (void)snprintf(ep, sizeof(ep), "127.0.0.1:%d", server.port);
    assert_non_null(strstr(e.message, ep));
    assert_non_null(strstr(e.message, "TLS"));
    assert_non_null(strstr(e.message, "certificate verify failed"));

    /* tls_insecure=1 (tests only) skips the verification that refused it. */
    tls_params(params, sizeof(params), "tls_ca", "wrongca.crt", true);
    tls_url(url, sizeof(url), "rediss", params);
    (void)snprintf(url + strlen(url), sizeof(url) - strlen(url), "&tls_insecure=1");
    assert_int_equal(st_open_rc(url, &e), 0);
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
    rc = st_open_rc(url, &e);
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
    rc = st_open_rc(url, &e);
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
    assert_int_equal(st_open_rc(url, &e), PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "tls_key"));

    tls_url(url, sizeof(url), "rediss", "tls_insecure=2");
    assert_int_equal(st_open_rc(url, &e), PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "tls_insecure"));

    (void)snprintf(params, sizeof(params), "tls_ca=%s/missing.crt", tlsdir);
    tls_url(url, sizeof(url), "rediss", params);
    assert_int_equal(st_open_rc(url, &e), PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "missing.crt"));
}

/* ---- rediss-sentinel://: a TLS-only master, its replica and three sentinels ---- */

#define TLS_MASTER "papyratls"
#define NSENT 3
/* The sentinels' own password (requirepass, sentinel-pass between them): AUTH over TLS. */
#define SENT_PASS "sentpass"

/* [0] the first master, [1] and [2] its replicas, TLS only: two, so that the one promoted
 * has a replica for wait_replicas=1 after the failover. */
static papyra_test_redis tnodes[3];
static pid_t sent_pid[NSENT];
static int sent_port[NSENT];

/* Runs redis-cli over TLS (the client certificate) on port; its output in out, 0 or -1. */
static int
cli(int port, const char *args, char *out, size_t n)
{
    char cmd[20000];
    FILE *p;
    size_t k;
    bool sentinel = false;

    for (int i = 0; i < NSENT; i++)
        sentinel = sentinel || port == sent_port[i];
    (void)snprintf(cmd, sizeof(cmd),
                   "redis-cli --tls --cacert '%s/ca.crt' --cert '%s/client.crt' --key "
                   "'%s/client.key' -h 127.0.0.1 -p %d %s %s 2>/dev/null",
                   tlsdir, tlsdir, tlsdir, port,
                   sentinel ? "--no-auth-warning --pass " SENT_PASS : "", args);
    if (!(p = popen(cmd, "r")))
        return -1;
    k = fread(out, 1, n - 1, p);
    out[k] = '\0';
    return pclose(p) == 0 ? 0 : -1;
}

/* The value after the line "key" in redis-cli's output of a flat key/value reply, or -1. */
static long
cli_field(int port, const char *args, const char *key)
{
    char out[16384], *line, *save = NULL;
    if (cli(port, args, out, sizeof(out)) < 0)
        return -1;
    for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strcmp(line, key) == 0) {
            char *v = strtok_r(NULL, "\n", &save);
            return v ? atol(v) : -1;
        }
    }
    return -1;
}

/* Whether the TLS sentinel on *port answers PING with PONG. */
static bool
tls_sentinel_up(void *port)
{
    char out[64];
    return cli(*(int *)port, "PING", out, sizeof(out)) == 0 && strstr(out, "PONG");
}

static int
start_tls_sentinel(int i)
{
    char extra[3 * sizeof(tlsdir) + 512];

    (void)snprintf(extra, sizeof(extra),
                   "tls-cert-file %s/server.crt\ntls-key-file %s/server.key\n"
                   "tls-ca-cert-file %s/ca.crt\ntls-auth-clients yes\ntls-replication yes\n"
                   "requirepass " SENT_PASS "\nsentinel sentinel-pass " SENT_PASS "\n",
                   tlsdir, tlsdir, tlsdir);
    return papyra_test_sentinel_start(tlsdir, i, true, extra, TLS_MASTER, tnodes[0].port,
                                      tls_sentinel_up, &sent_port[i], &sent_pid[i]);
}

static void
stop_tls_sentinels(void)
{
    for (int i = 0; i < NSENT; i++) {
        papyra_test_reap(&sent_pid[i]);
    }
    for (int i = 0; i < 3; i++)
        papyra_test_redis_stop(&tnodes[i]);
}

/* Master + two replicas (tls-replication) + three sentinels, all TLS only; fails the test if
 * not. */
static void
start_tls_sentinel_setup(void)
{
    char out[256], args[64], info[16384];
    long long deadline;

    for (int i = 0; i < 3; i++) {
        tnodes[i].tls_dir = tlsdir;
        assert_int_equal(papyra_test_redis_start(&tnodes[i]), 0);
    }
    (void)snprintf(args, sizeof(args), "REPLICAOF 127.0.0.1 %d", tnodes[0].port);
    deadline = papyra_test_mono_ms() + 15000;
    for (int i = 1; i < 3; i++) {
        assert_int_equal(cli(tnodes[i].port, args, out, sizeof(out)), 0);
        while (cli(tnodes[i].port, "INFO replication", info, sizeof(info)) != 0 ||
               !strstr(info, "master_link_status:up")) {
            if (papyra_test_mono_ms() > deadline)
                fail_msg("replica %d did not sync with the master over TLS", i);
            papyra_test_sleep_ms(100);
        }
    }
    for (int i = 0; i < NSENT; i++) {
        if (start_tls_sentinel(i) != 0)
            fail_msg("TLS sentinel %d did not start (see %s/sentinel%d.log)", i, tlsdir, i);
    }
    deadline = papyra_test_mono_ms() + 20000;
    for (int i = 0; i < NSENT; i++) {
        while (cli_field(sent_port[i], "SENTINEL MASTER " TLS_MASTER, "num-slaves") < 2 ||
               cli_field(sent_port[i], "SENTINEL MASTER " TLS_MASTER, "num-other-sentinels") <
                   NSENT - 1) {
            if (papyra_test_mono_ms() > deadline)
                fail_msg("TLS sentinel %d did not find the replicas and the others", i);
            papyra_test_sleep_ms(100);
        }
    }
}

static void
tls_sentinel_url(char *buf,
                 size_t n,
                 const char *scheme,
                 const char *ca_file,
                 const char *sentinel_password,
                 const char *extra)
{
    (void)snprintf(buf, n,
                   "%s://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/" TLS_MASTER
                   "?metrics=none&prefix=tlssent%d&tls_ca=%s/%s&tls_cert=%s/client.crt&"
                   "tls_key=%s/client.key&sentinel_password=%s&%s",
                   scheme, sent_port[0], sent_port[1], sent_port[2], (int)getpid(), tlsdir, ca_file,
                   tlsdir, tlsdir, sentinel_password, extra);
}

/*
 * rediss-sentinel://: the master is found through sentinels that take TLS
 * only, written to over TLS with wait_replicas=1; a wrong CA or plaintext to
 * the sentinels is refused naming them; and after kill -9 of the master the
 * same handle writes to the promoted replica, every acknowledged record
 * found afterwards and none twice.
 */
static void
test_tls_sentinel_write_and_failover(void **state)
{
    enum { MAXSEQ = 100000 };
    static unsigned char outcome[MAXSEQ]; /* 0 not tried, 1 acknowledged, 2 failed */
    static unsigned char found[MAXSEQ];
    char url[20000], addr[64], ep[64], last_error[1024] = "";
    papyra_error e = {0};
    papyra_store *s;
    papyra_record_list *l;
    long long deadline;
    int seq = 0, acked = 0, failed = 0, acked_after = 0, nfound = 0, unacked_found = 0, rc;
    (void)state;

    start_tls_sentinel_setup();
    (void)snprintf(ep, sizeof(ep), "127.0.0.1:%d", sent_port[0]);

    /* A CA that did not sign the sentinels' certificates: refused, naming each sentinel. */
    tls_sentinel_url(url, sizeof(url), "rediss-sentinel", "wrongca.crt", SENT_PASS,
                     "timeout_ms=2000");
    rc = st_open_rc(url, &e);
    print_message("sentinels over TLS, wrong CA: %s\n", e.message);
    assert_int_equal(rc, PAPYRA_ECONNECT);
    assert_non_null(strstr(e.message, ep));
    assert_non_null(strstr(e.message, "TLS"));
    assert_non_null(strstr(e.message, "certificate verify failed"));

    /* Over TLS, a wrong sentinel password is refused as over TCP. */
    tls_sentinel_url(url, sizeof(url), "rediss-sentinel", "ca.crt", "wrong", "");
    rc = st_open_rc(url, &e);
    print_message("sentinels over TLS, wrong password: %s\n", e.message);
    assert_int_equal(rc, PAPYRA_EACCES);
    assert_non_null(strstr(e.message, ep));
    assert_non_null(strstr(e.message, "WRONGPASS"));

    /* Plaintext (redis-sentinel://) to sentinels that take TLS only: refused, no hang. */
    (void)snprintf(url, sizeof(url),
                   "redis-sentinel://127.0.0.1:%d/" TLS_MASTER
                   "?metrics=none&connect_timeout_ms=1000&timeout_ms=1000",
                   sent_port[0]);
    rc = st_open_rc(url, &e);
    print_message("plaintext to TLS sentinels: %s\n", e.message);
    assert_int_equal(rc, PAPYRA_ECONNECT);
    assert_non_null(strstr(e.message, ep));

    tls_sentinel_url(url, sizeof(url), "rediss-sentinel", "ca.crt", SENT_PASS,
                     "wait_replicas=1&wait_timeout_ms=500&timeout_ms=2000&connect_timeout_ms=500&"
                     "connections=1");
    s = st_open("%s", url);
    write_and_list(s, 10); /* a batch, and list, through the sentinel form over TLS */

    /* Single records with wait_replicas=1; kill -9 the master after 100 acknowledged. */
    deadline = papyra_test_mono_ms() + 60000;
    while (seq < MAXSEQ && acked_after < 100 && papyra_test_mono_ms() < deadline) {
        papyra_record rec = {.kind = PAPYRA_KIND_EVENT};
        (void)snprintf(addr, sizeof(addr), "\"local://%d\"", seq);
        rec.u.event.system_id = "local";
        rec.u.event.actor_address = addr;
        rec.u.event.event_type = "ActorStarted";
        rec.u.event.timestamp = papyra_test_now_s();
        rc = papyra_store_write(s, &rec);
        outcome[seq++] = rc == 0 ? 1 : 2;
        if (rc == 0) {
            acked++;
            if (tnodes[0].pid == 0)
                acked_after++;
        } else {
            failed++;
            (void)snprintf(last_error, sizeof(last_error), "%s", papyra_store_errmsg(s));
            papyra_test_sleep_ms(20);
        }
        if (acked == 100 && tnodes[0].pid != 0)
            papyra_test_redis_kill(&tnodes[0]);
    }
    print_message("after the kill: %d acknowledged, %d failed calls; last error: %s\n", acked_after,
                  failed, last_error);
    assert_true(failed > 0);         /* the kill was seen */
    assert_true(acked_after >= 100); /* resumed on the promoted replica, over TLS */

    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    for (size_t i = 0; i < l->count; i++) {
        int k = -1;
        if (l->records[i].u.event.timestamp < 1e9)
            continue; /* write_and_list's ten */
        assert_int_equal(sscanf(l->records[i].u.event.actor_address, "\"local://%d\"", &k), 1);
        assert_true(k >= 0 && k < seq);
        assert_int_equal(found[k], 0); /* no duplicates */
        found[k] = 1;
        nfound++;
        if (outcome[k] != 1)
            unacked_found++;
    }
    papyra_record_list_free(l);
    for (int i = 0; i < seq; i++) {
        if (outcome[i] == 1 && !found[i])
            fail_msg("acknowledged record %d is missing after the failover over TLS", i);
    }
    print_message("failover over TLS: %d written (calls), %d acknowledged, %d found (%d of them "
                  "from failed calls), 0 duplicates\n",
                  seq, acked, nfound, unacked_found);
    papyra_store_close(s);
    stop_tls_sentinels();
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
    stop_tls_sentinels();
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
        cmocka_unit_test(test_tls_sentinel_write_and_failover),
    };
    const char *tmp = getenv("TMPDIR");
    const char *why = NULL;

    (void)snprintf(tlsdir, sizeof(tlsdir), "%s/papyra-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!papyra_test_redis_available())
        why = "no redis-server on PATH";
    else if (system("command -v redis-cli >/dev/null 2>&1") != 0)
        why = "no redis-cli on PATH (it sets up the TLS replicas and sentinels)";
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
    if (why)
        return cleanup(papyra_test_redis_skip(why));
    return cleanup(cmocka_run_group_tests_name("redis-tls", tests, NULL, NULL));
}

#endif
