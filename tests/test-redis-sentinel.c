/* SPDX-License-Identifier: MIT */
/*
 * redis-sentinel:// against real servers on loopback: one master, two
 * replicas (REPLICAOF) and three sentinels (redis-server --sentinel, with a
 * config in a temporary directory and a 1 s down-after-milliseconds). The
 * master is found through the sentinels; wait_replicas makes a write that
 * fewer replicas acknowledged an error that says the records are stored; and
 * when the master is killed with SIGKILL while a thread writes with
 * wait_replicas=1, writes resume on the promoted replica through the same
 * handle, every acknowledged record is found afterwards, and none twice.
 *
 * Skips (77) when redis-server is missing, unless PAPYRA_TEST_REQUIRE_REDIS=1.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/metrics.h>
#include <papyra/store.h>

#include "redis-harness.h"
#include "store-testutil.h"
#include "testutil.h"

#define NSENT 3
#define MASTER "papyramaster"
/* A fourth sentinel, AUTH_SENT, wants a password (requirepass) or an ACL user. It watches the
 * same master under another name, so the three others never count it in their quorum. */
#define AUTH_SENT NSENT
#define AUTH_MASTER "papyraauth"
#define AUTH_SENT_CONF                                     \
    "requirepass sentpass\n"                               \
    "user sentuser on >userpass allcommands allchannels\n" \
    "user nosentinel on >nopass +ping\n"

static papyra_test_redis nodes[3]; /* [0] the first master, [1] and [2] its replicas */
static pid_t sent_pid[NSENT + 1];
static int sent_port[NSENT + 1];
static char *sent_dir;

static bool
info_has(int port, const char *needle)
{
    redisReply *r = papyra_test_cmd_at(port, "INFO replication");
    bool ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, needle);
    freeReplyObject(r);
    return ok;
}

static size_t
array_len(int port, const char *fmt)
{
    redisReply *r = papyra_test_cmd_at(port, fmt);
    size_t n = r && r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    freeReplyObject(r);
    return n;
}

/* Whether the sentinel on *port answers PING. */
static bool
sentinel_up(void *port)
{
    redisReply *r = papyra_test_cmd_at(*(int *)port, "PING");
    /* A sentinel with a password answers NOAUTH: it is up too. */
    bool up = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR);
    freeReplyObject(r);
    return up;
}

/* Starts sentinel i watching the master as @p name, with @p extra config lines. */
static int
start_sentinel(int i, const char *name, const char *extra)
{
    return papyra_test_sentinel_start(sent_dir, i, false, extra, name, nodes[0].port, sentinel_up,
                                      &sent_port[i], &sent_pid[i]);
}

static void
stop_all(void)
{
    for (int i = 0; i < NSENT + 1; i++) {
        papyra_test_reap(&sent_pid[i]);
    }
    for (int i = 0; i < 3; i++)
        papyra_test_redis_stop(&nodes[i]);
    if (sent_dir) {
        papyra_test_rmtree(sent_dir);
        free(sent_dir);
        sent_dir = NULL;
    }
}

/* Master, two replicas, three sentinels that see them all. 0, or -1 with why on stderr. */
static int
start_all(void)
{
    long long deadline;

    for (int i = 0; i < 3; i++) {
        if (papyra_test_redis_start(&nodes[i]) != 0)
            return -1;
    }
    for (int i = 1; i < 3; i++) {
        redisReply *r = papyra_test_cmd_at(nodes[i].port, "REPLICAOF 127.0.0.1 %d", nodes[0].port);
        freeReplyObject(r);
    }
    deadline = papyra_test_mono_ms() + 15000;
    while (!info_has(nodes[0].port, "connected_slaves:2") ||
           !info_has(nodes[1].port, "master_link_status:up") ||
           !info_has(nodes[2].port, "master_link_status:up")) {
        if (papyra_test_mono_ms() > deadline) {
            fprintf(stderr, "the replicas did not sync with the master\n");
            return -1;
        }
        papyra_test_sleep_ms(100);
    }
    if (!(sent_dir = papyra_test_tmpdir()))
        return -1;
    for (int i = 0; i < NSENT + 1; i++) {
        int rc = i == AUTH_SENT ? start_sentinel(i, AUTH_MASTER, AUTH_SENT_CONF)
                                : start_sentinel(i, MASTER, "");
        if (rc != 0) {
            fprintf(stderr, "sentinel %d did not start (see %s)\n", i, sent_dir);
            return -1;
        }
    }
    deadline = papyra_test_mono_ms() + 20000;
    for (int i = 0; i < NSENT; i++) {
        while (array_len(sent_port[i], "SENTINEL REPLICAS " MASTER) < 2 ||
               array_len(sent_port[i], "SENTINEL SENTINELS " MASTER) < NSENT - 1) {
            if (papyra_test_mono_ms() > deadline) {
                fprintf(stderr, "sentinel %d did not find the replicas and the others\n", i);
                return -1;
            }
            papyra_test_sleep_ms(100);
        }
    }
    return 0;
}

static void
sentinel_url(char *buf, size_t n, const char *params)
{
    (void)snprintf(buf, n,
                   "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/" MASTER
                   "?metrics=none&%s",
                   sent_port[0], sent_port[1], sent_port[2], params);
}

/* Bad URLs and sentinels that cannot answer are refused, each with a message saying why. */
static void
test_url_errors(void **state)
{
    char url[1024], msg[1024];
    int dead = papyra_test_free_port();
    (void)state;

    assert_int_equal(st_open_err("redis-sentinel://127.0.0.1:1,/m", msg, sizeof(msg)),
                     PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "empty sentinel address"));
    assert_int_equal(st_open_err("redis-sentinel://127.0.0.1:26379", msg, sizeof(msg)),
                     PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "master_name"));
    assert_int_equal(st_open_err("redis-sentinel://h:0/m", msg, sizeof(msg)), PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "bad port"));
    assert_int_equal(st_open_err("redis-sentinel://u:p@h:1/m", msg, sizeof(msg)), PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "?password="));

    sentinel_url(url, sizeof(url), "wait_replicas=1&timeout_ms=500&wait_timeout_ms=500");
    assert_int_equal(st_open_err(url, msg, sizeof(msg)), PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "wait_timeout_ms (500) must be less than timeout_ms (500)"));

    {
        /* A short timeout_ms alone is not refused for a WAIT that is never sent. */
        papyra_url_info *info = NULL;
        papyra_error err = {0};
        assert_int_equal(papyra_store_url_describe("redis://h:1/0?timeout_ms=2", &info, &err), 0);
        papyra_url_info_free(info);
        assert_int_equal(
            papyra_store_url_describe("redis://h:1/0?timeout_ms=2&wait_replicas=1", &info, &err),
            0);
        papyra_url_info_free(info);
        assert_int_equal(
            papyra_store_url_describe("redis://h:1/0?timeout_ms=1&wait_replicas=1", &info, &err),
            PAPYRA_EINVAL);
        assert_non_null(strstr(err.message, "wait_timeout_ms (1) must be less than timeout_ms"));
    }
    (void)snprintf(url, sizeof(url), "redis-sentinel://127.0.0.1:%d/nosuch?metrics=none",
                   sent_port[1]);
    assert_int_equal(st_open_err(url, msg, sizeof(msg)), PAPYRA_ECONNECT);
    assert_non_null(strstr(msg, "does not know a master named 'nosuch'"));

    (void)snprintf(url, sizeof(url),
                   "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d/" MASTER "?metrics=none", dead,
                   sent_port[2]);
    {
        /* A dead first sentinel is passed over. */
        papyra_store *s = st_open("%s", url);
        papyra_store_close(s);
    }
    (void)snprintf(url, sizeof(url), "redis-sentinel://127.0.0.1:%d/" MASTER "?metrics=none", dead);
    assert_int_equal(st_open_err(url, msg, sizeof(msg)), PAPYRA_ECONNECT);
    assert_non_null(strstr(msg, "no sentinel gave the address of master '" MASTER "'"));

    {
        /* Sentinels that fail alike are named together, so the message fits whole. */
        char want[128];
        int dead2 = papyra_test_free_port();
        (void)snprintf(
            url, sizeof(url),
            "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/nosuch?metrics=none", dead,
            dead2, sent_port[1]);
        assert_int_equal(st_open_err(url, msg, sizeof(msg)), PAPYRA_ECONNECT);
        printf("# %s\n", msg);
        (void)snprintf(want, sizeof(want),
                       "(127.0.0.1:%d, 127.0.0.1:%d: Connection refused; 127.0.0.1:%d: does not "
                       "know a master named 'nosuch')",
                       dead, dead2, sent_port[1]);
        assert_non_null(strstr(msg, want));
    }
}

/* A sentinel form URL naming the password sentinel (after a dead one when @p dead_first). */
static void
auth_url(char *buf, size_t n, bool dead_first, const char *params)
{
    int dead = papyra_test_free_port();
    if (dead_first)
        (void)snprintf(buf, n,
                       "redis-sentinel://127.0.0.1:%d,127.0.0.1:%d/" AUTH_MASTER
                       "?metrics=none&prefix=sentauth&%s",
                       dead, sent_port[AUTH_SENT], params);
    else
        (void)snprintf(
            buf, n, "redis-sentinel://127.0.0.1:%d/" AUTH_MASTER "?metrics=none&prefix=sentauth&%s",
            sent_port[AUTH_SENT], params);
}

/*
 * Sentinels that want a password: sentinel_user / sentinel_password are
 * theirs, apart from the master's (which has none here, so a write that
 * works shows the sentinel's password was not sent to it); wrong or missing
 * ones are PAPYRA_EACCES naming the sentinel.
 */
static void
test_sentinel_auth(void **state)
{
    char url[1024], msg[1024], ep[64];
    papyra_record rec = st_event(1, papyra_test_now_s());
    papyra_store *s;
    int rc;
    (void)state;

    (void)snprintf(ep, sizeof(ep), "127.0.0.1:%d", sent_port[AUTH_SENT]);

    /* The right password, then an ACL user: the master is found and written to. */
    auth_url(url, sizeof(url), false, "sentinel_password=sentpass");
    s = st_open("%s", url);
    assert_int_equal(papyra_store_write(s, &rec), 0);
    papyra_store_close(s);
    auth_url(url, sizeof(url), true, "sentinel_user=sentuser&sentinel_password=userpass");
    s = st_open("%s", url);
    assert_int_equal(papyra_store_write(s, &rec), 0);
    st_assert_count(s, PAPYRA_KIND_EVENT, 2);
    papyra_store_close(s);

    /* No password: the sentinel says NOAUTH. */
    auth_url(url, sizeof(url), false, "timeout_ms=2000");
    rc = st_open_err(url, msg, sizeof(msg));
    printf("# no sentinel_password: %s\n", msg);
    assert_int_equal(rc, PAPYRA_EACCES);
    assert_non_null(strstr(msg, ep));
    assert_non_null(strstr(msg, "NOAUTH"));
    assert_non_null(strstr(msg, "sentinel_password"));

    /* A wrong password, and a wrong user's password, also behind a dead sentinel. */
    auth_url(url, sizeof(url), false, "sentinel_password=wrong");
    rc = st_open_err(url, msg, sizeof(msg));
    printf("# wrong sentinel_password: %s\n", msg);
    assert_int_equal(rc, PAPYRA_EACCES);
    assert_non_null(strstr(msg, ep));
    assert_non_null(strstr(msg, "AUTH refused: WRONGPASS"));
    assert_non_null(strstr(msg, "credentials refused (sentinel_password)"));
    assert_non_null(strstr(msg, "master '" AUTH_MASTER "'"));
    auth_url(url, sizeof(url), true, "sentinel_user=sentuser&sentinel_password=wrong");
    rc = st_open_err(url, msg, sizeof(msg));
    printf("# wrong sentinel_user password: %s\n", msg);
    assert_int_equal(rc, PAPYRA_EACCES);
    assert_non_null(strstr(msg, ep));
    assert_non_null(strstr(msg, "AUTH as sentuser refused"));
    assert_non_null(strstr(msg, "Connection refused"));

    /* An ACL user that may not ask: NOPERM, a setting to fix too. */
    auth_url(url, sizeof(url), false, "sentinel_user=nosentinel&sentinel_password=nopass");
    rc = st_open_err(url, msg, sizeof(msg));
    printf("# sentinel_user without the right: %s\n", msg);
    assert_int_equal(rc, PAPYRA_EACCES);
    assert_non_null(strstr(msg, "NOPERM"));

    /* The sentinel's password given as the master's is not sent to the sentinel. */
    auth_url(url, sizeof(url), false, "password=sentpass");
    assert_int_equal(st_open_err(url, msg, sizeof(msg)), PAPYRA_EACCES);
    assert_non_null(strstr(msg, "NOAUTH"));

    /* A password to a sentinel that has none is refused too (it is a setting to fix). */
    (void)snprintf(url, sizeof(url),
                   "redis-sentinel://127.0.0.1:%d/" MASTER "?metrics=none&sentinel_password=x",
                   sent_port[0]);
    rc = st_open_err(url, msg, sizeof(msg));
    printf("# sentinel_password to a sentinel without one: %s\n", msg);
    assert_int_equal(rc, PAPYRA_EACCES);

    {
        /* The sentinels' password is a secret like the master's: "***" wherever a URL is
         * shown (the CLI's messages, papyra_store_url_describe()). */
        papyra_url_info *info = NULL;
        papyra_error err = {0};
        char *red = NULL;
        const char *u = "redis-sentinel://h:1/m?password=m4ster&sentinel_password=s3nt&db=0";
        assert_int_equal(papyra_store_url_redact(u, &red), 0);
        assert_string_equal(red, "redis-sentinel://h:1/m?password=***&sentinel_password=***&db=0");
        papyra_free(red);
        assert_int_equal(papyra_store_url_describe(u, &info, &err), 0);
        assert_string_equal(papyra_url_info_param(info, "sentinel_password"), "***");
        papyra_url_info_free(info);
    }

    /* The parameters belong to the sentinel forms; a user goes with a password. */
    assert_int_equal(
        st_open_err("redis://127.0.0.1:1/0?sentinel_password=x&metrics=none", msg, sizeof(msg)),
        PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "sentinel_password"));
    assert_non_null(strstr(msg, "redis-sentinel://"));
    assert_int_equal(st_open_err("redis-sentinel://127.0.0.1:1/m?sentinel_user=u&metrics=none", msg,
                                 sizeof(msg)),
                     PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "sentinel_user needs sentinel_password"));
}

/* wait_replicas above the replicas there are: an error that says the records are stored. */
static void
test_wait_shortfall(void **state)
{
    char url[1024];
    papyra_store *s;
    papyra_record recs[3];
    papyra_record_list *l;
    uint64_t before_w, before_e;
    int rc;
    (void)state;

    sentinel_url(url, sizeof(url),
                 "prefix=shortfall&wait_replicas=2&wait_timeout_ms=300&timeout_ms=2000");
    s = st_open("%s", url);
    for (int i = 0; i < 3; i++)
        recs[i] = st_event(i, papyra_test_now_s());
    assert_int_equal(papyra_store_write_batch(s, recs, 3), 0); /* two replicas: enough */
    papyra_store_close(s);

    sentinel_url(url, sizeof(url),
                 "prefix=shortfall&wait_replicas=3&wait_timeout_ms=300&timeout_ms=2000");
    s = st_open("%s", url);
    before_w = st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN);
    before_e = st_counter(s, PAPYRA_METRIC_WRITE_ERRORS);
    rc = papyra_store_write_batch(s, recs, 3);
    assert_int_equal(rc, PAPYRA_ETIMEDOUT);
    printf("# %s\n", papyra_store_errmsg(s));
    assert_non_null(strstr(papyra_store_errmsg(s), "stored on the master, acknowledged by 2 of 3 "
                                                   "replicas within 300 ms"));
    assert_non_null(strstr(papyra_store_errmsg(s), "may be lost in a failover"));
    /* Stored on the master: counted as written, and the call as a write error. */
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN) - before_w, 3);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_WRITE_ERRORS) - before_e, 1);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(l->count, 6);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

#define MAXSEQ 200000
static atomic_int outcome[MAXSEQ]; /* 0 not tried, 1 acknowledged, 2 failed */
static atomic_int next_seq, acked, failed;
static atomic_int acked_after_kill;
static atomic_bool killed, stop_writer;
static char last_error[1024];

static void *
writer(void *arg)
{
    papyra_store *s = arg;
    char addr[64];

    while (!atomic_load(&stop_writer)) {
        int seq = atomic_load(&next_seq);
        papyra_record rec = {.kind = PAPYRA_KIND_EVENT};
        int rc;
        if (seq >= MAXSEQ)
            break;
        (void)snprintf(addr, sizeof(addr), "\"local://%d\"", seq);
        rec.u.event.system_id = "local";
        rec.u.event.actor_address = addr;
        rec.u.event.event_type = "ActorStarted";
        rec.u.event.timestamp = papyra_test_now_s();
        rc = papyra_store_write(s, &rec);
        atomic_store(&outcome[seq], rc == 0 ? 1 : 2);
        atomic_store(&next_seq, seq + 1);
        if (rc == 0) {
            atomic_fetch_add(&acked, 1);
            if (atomic_load(&killed))
                atomic_fetch_add(&acked_after_kill, 1);
        } else {
            atomic_fetch_add(&failed, 1);
            (void)snprintf(last_error, sizeof(last_error), "%s", papyra_store_errmsg(s));
            papyra_test_sleep_ms(20);
        }
    }
    return NULL;
}

/* kill -9 of the master during writes with wait_replicas=1: nothing acknowledged is lost. */
static void
test_failover(void **state)
{
    char url[1024];
    papyra_store *s;
    pthread_t th;
    papyra_record_list *l;
    long long deadline;
    static unsigned char found[MAXSEQ];
    int written, nfound = 0, unacked_found = 0;
    (void)state;

    sentinel_url(url, sizeof(url),
                 "prefix=failover&wait_replicas=1&wait_timeout_ms=500&timeout_ms=2000&"
                 "connect_timeout_ms=500&connections=1");
    s = st_open("%s", url);
    assert_int_equal(pthread_create(&th, NULL, writer, s), 0);
    deadline = papyra_test_mono_ms() + 10000;
    while (atomic_load(&acked) < 200 && papyra_test_mono_ms() < deadline)
        papyra_test_sleep_ms(10);
    assert_true(atomic_load(&acked) >= 200);
    papyra_test_redis_kill(&nodes[0]);
    atomic_store(&killed, true);
    deadline = papyra_test_mono_ms() + 40000;
    while (atomic_load(&acked_after_kill) < 200 && papyra_test_mono_ms() < deadline)
        papyra_test_sleep_ms(20);
    atomic_store(&stop_writer, true);
    pthread_join(th, NULL);
    written = atomic_load(&next_seq);
    printf("# after the kill: %d acknowledged, %d failed calls; last error: %s\n",
           atomic_load(&acked_after_kill), atomic_load(&failed), last_error);
    assert_true(atomic_load(&failed) > 0);              /* the kill was seen */
    assert_true(atomic_load(&acked_after_kill) >= 200); /* resumed on the promoted replica */

    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    for (size_t i = 0; i < l->count; i++) {
        int seq = -1;
        assert_int_equal(sscanf(l->records[i].u.event.actor_address, "\"local://%d\"", &seq), 1);
        assert_true(seq >= 0 && seq < written);
        assert_int_equal(found[seq], 0); /* no duplicates */
        found[seq] = 1;
        nfound++;
        if (atomic_load(&outcome[seq]) != 1)
            unacked_found++;
    }
    papyra_record_list_free(l);
    for (int i = 0; i < written; i++) {
        if (atomic_load(&outcome[i]) == 1 && !found[i])
            fail_msg("acknowledged record %d is missing after the failover", i);
    }
    printf("# failover: %d written (calls), %d acknowledged, %d found (%d of them from failed "
           "calls), 0 duplicates\n",
           written, atomic_load(&acked), nfound, unacked_found);
    papyra_store_close(s);
}

/*
 * The master turned into a replica behind the store's back (REPLICAOF, which,
 * unlike a sentinel's reconfiguration, leaves clients connected): the write
 * gets READONLY; the next call asks the sentinels again and refuses the
 * server they still name, as it says ROLE slave; once it is a master again
 * writes go on through the same handle.
 */
static void
test_readonly(void **state)
{
    char url[1024];
    papyra_store *s;
    papyra_record rec = st_event(1, papyra_test_now_s());
    redisReply *r;
    int xport, dead = papyra_test_free_port();
    (void)state;

    sentinel_url(url, sizeof(url), "prefix=readonly&connections=1&timeout_ms=2000");
    s = st_open("%s", url);
    assert_int_equal(papyra_store_write(s, &rec), 0);
    r = papyra_test_cmd_at(sent_port[0], "SENTINEL GET-MASTER-ADDR-BY-NAME " MASTER);
    assert_true(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    xport = atoi(r->element[1]->str);
    freeReplyObject(r);
    freeReplyObject(papyra_test_cmd_at(xport, "REPLICAOF 127.0.0.1 %d", dead));

    assert_int_not_equal(papyra_store_write(s, &rec), 0);
    printf("# %s\n", papyra_store_errmsg(s));
    assert_non_null(strstr(papyra_store_errmsg(s), "READONLY"));
    assert_int_equal(papyra_store_write(s, &rec), PAPYRA_ECONNECT);
    printf("# %s\n", papyra_store_errmsg(s));
    assert_non_null(strstr(papyra_store_errmsg(s), "the sentinels name it the master, but it is "
                                                   "not one"));

    freeReplyObject(papyra_test_cmd_at(xport, "REPLICAOF NO ONE"));
    assert_int_equal(papyra_store_write(s, &rec), 0);
    papyra_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_errors),     cmocka_unit_test(test_sentinel_auth),
        cmocka_unit_test(test_wait_shortfall), cmocka_unit_test(test_failover),
        cmocka_unit_test(test_readonly),
    };
    int rc;

    if (!papyra_test_redis_available())
        return papyra_test_redis_skip(
            "redis-server (which also runs the sentinels) is not on PATH");
    if (start_all() != 0) {
        stop_all();
        return 1;
    }
    rc = cmocka_run_group_tests_name("redis-sentinel", tests, NULL, NULL);
    stop_all();
    return rc;
}
