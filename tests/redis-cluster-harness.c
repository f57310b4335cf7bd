/* SPDX-License-Identifier: MIT */
/*
 * A private Redis Cluster for the tests (see redis-cluster-harness.h). The
 * nodes are redis-harness.c servers with cluster options; the cluster's view
 * is read from CLUSTER NODES / CLUSTER INFO / INFO replication of each node.
 */
#include "redis-cluster-harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define NSLOTS 16384

typedef struct cnode {
    char id[64];
    char master_id[64]; /* "-" for a master */
    int port;
    bool master, myself, fail;
    int nslots;
    int first_slot; /* of its first range; NSLOTS when none */
} cnode;

bool
papyra_test_cluster_available(const char **why)
{
    if (!papyra_test_on_path("redis-server")) {
        if (why)
            *why = "redis-server is not on PATH";
        return false;
    }
    if (!papyra_test_on_path("redis-cli")) {
        if (why)
            *why = "redis-cli (which creates and reshards the cluster) is not on PATH";
        return false;
    }
    return true;
}

/* The reply as text (status, string or error), or NULL. */
static const char *
reply_text(const redisReply *r)
{
    if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
              r->type == REDIS_REPLY_ERROR))
        return r->str;
    return NULL;
}

/* Whether the reply is +OK (or any status); prints the command's error otherwise. */
static bool
reply_ok(redisReply *r, const char *what, int port)
{
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (!ok)
        fprintf(stderr, "cluster harness: %s on port %d: %s\n", what, port,
                r ? (reply_text(r) ? reply_text(r) : "unexpected reply") : "no answer");
    freeReplyObject(r);
    return ok;
}

/* CLUSTER NODES as seen by the node on @p port into @p out; returns the count or -1. */
static int
parse_nodes(int port, cnode *out, int max)
{
    redisReply *r = papyra_test_cmd_at(port, "CLUSTER NODES");
    const char *text = r && r->type == REDIS_REPLY_STRING ? r->str : NULL;
    int n = 0;

    if (!text) {
        freeReplyObject(r);
        return -1;
    }
    while (*text && n < max) {
        const char *eol = strchr(text, '\n');
        size_t len = eol ? (size_t)(eol - text) : strlen(text);
        char line[8192], *save = NULL, *tok;
        int field = 0;
        cnode *c = &out[n];

        if (len >= sizeof(line))
            len = sizeof(line) - 1;
        memcpy(line, text, len);
        line[len] = '\0';
        text = eol ? eol + 1 : text + len;
        if (len == 0)
            continue;
        memset(c, 0, sizeof(*c));
        c->first_slot = NSLOTS;
        for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
            if (field == 0) {
                (void)snprintf(c->id, sizeof(c->id), "%s", tok);
            } else if (field == 1) {
                /* "ip:port@cport[,hostname]": the port is after the last ':' before '@'. */
                char addr[256];
                char *at, *colon;
                (void)snprintf(addr, sizeof(addr), "%s", tok);
                if ((at = strchr(addr, '@')))
                    *at = '\0';
                colon = strrchr(addr, ':');
                c->port = colon ? atoi(colon + 1) : 0;
            } else if (field == 2) {
                c->master = strstr(tok, "master") != NULL;
                c->myself = strstr(tok, "myself") != NULL;
                c->fail = strstr(tok, "fail") != NULL || strstr(tok, "handshake") != NULL ||
                          strstr(tok, "noaddr") != NULL;
            } else if (field == 3) {
                (void)snprintf(c->master_id, sizeof(c->master_id), "%s", tok);
            } else if (field >= 8 && tok[0] != '[') {
                int a, b;
                int k = sscanf(tok, "%d-%d", &a, &b);
                if (k == 1)
                    b = a;
                if (k >= 1) {
                    c->nslots += b - a + 1;
                    if (a < c->first_slot)
                        c->first_slot = a;
                }
            }
        }
        n++;
    }
    freeReplyObject(r);
    return n;
}

/* The index of the running node on @p port, or -1. */
static int
node_index(const papyra_test_cluster *c, int port)
{
    for (int i = 0; i < c->n; i++)
        if (c->node[i].port == port && c->node[i].pid > 0)
            return i;
    return -1;
}

/* Any running node's port, or -1. */
static int
any_port(const papyra_test_cluster *c)
{
    for (int i = 0; i < c->n; i++)
        if (c->node[i].pid > 0)
            return c->node[i].port;
    return -1;
}

/* The node id of the node on @p port (CLUSTER MYID) into @p id, or -1. */
static int
node_id(int port, char *id, size_t size)
{
    redisReply *r = papyra_test_cmd_at(port, "CLUSTER MYID");
    int rc = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        (void)snprintf(id, size, "%s", r->str);
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

/* Whether the INFO section @p section of the node on @p port contains @p needle. */
static bool
info_has(int port, const char *section, const char *needle)
{
    redisReply *r = papyra_test_cmd_at(port, section ? "INFO %s" : "CLUSTER INFO", section);
    bool ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, needle);
    freeReplyObject(r);
    return ok;
}

/*
 * Who serves which slot, as the node on @p port sees it: "first-last:port;..."
 * of the masters in slot order (CLUSTER SLOTS), into @p out. -1 when it does not answer.
 */
static int
slot_signature(int port, char *out, size_t size)
{
    redisReply *r = papyra_test_cmd_at(port, "CLUSTER SLOTS");
    int first[NSLOTS / 2 + 1], last[NSLOTS / 2 + 1], owner[NSLOTS / 2 + 1];
    size_t n = 0, used = 0;

    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < r->elements && n < NSLOTS / 2; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2)
            continue;
        first[n] = (int)e->element[0]->integer;
        last[n] = (int)e->element[1]->integer;
        owner[n] = (int)e->element[2]->element[1]->integer;
        n++;
    }
    freeReplyObject(r);
    /* Sort by first slot (insertion sort: a few hundred ranges at most). */
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && first[j - 1] > first[j]; j--) {
            int t;
            t = first[j], first[j] = first[j - 1], first[j - 1] = t;
            t = last[j], last[j] = last[j - 1], last[j - 1] = t;
            t = owner[j], owner[j] = owner[j - 1], owner[j - 1] = t;
        }
    }
    out[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        int w = snprintf(out + used, size - used, "%d-%d:%d;", first[i], last[i], owner[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return 0;
}

/* One round of the checks of papyra_test_cluster_wait_ok(); @p why says what is not ok yet
 * and *@p bad which node (0 when none in particular). */
static bool
cluster_ok(const papyra_test_cluster *c, char *why, size_t whysize, int *bad)
{
    static char sig0[65536], sig[65536];
    int ref = -1;

    for (int i = 0; i < c->n; i++) {
        int port = c->node[i].port;
        cnode nodes[PAPYRA_TEST_CLUSTER_MAX_NODES * 2];
        int k;

        if (c->node[i].pid <= 0)
            continue;
        *bad = port;
        if (!info_has(port, NULL, "cluster_state:ok") ||
            !info_has(port, NULL, "cluster_slots_ok:16384")) {
            (void)snprintf(why, whysize, "node %d: cluster_state is not ok", port);
            return false;
        }
        if (slot_signature(port, ref < 0 ? sig0 : sig, sizeof(sig)) != 0) {
            (void)snprintf(why, whysize, "node %d: no CLUSTER SLOTS", port);
            return false;
        }
        if (ref >= 0 && strcmp(sig0, sig) != 0) {
            (void)snprintf(why, whysize, "nodes %d and %d disagree who serves which slot", ref,
                           port);
            return false;
        }
        if (ref < 0)
            ref = port;
        if ((k = parse_nodes(port, nodes, PAPYRA_TEST_CLUSTER_MAX_NODES * 2)) < 0) {
            (void)snprintf(why, whysize, "node %d: no CLUSTER NODES", port);
            return false;
        }
        for (int j = 0; j < k; j++) {
            /* A running node that another running node still thinks failed. */
            if (nodes[j].fail && node_index(c, nodes[j].port) >= 0) {
                (void)snprintf(why, whysize, "node %d still sees %d as failing", port,
                               nodes[j].port);
                return false;
            }
            if (nodes[j].myself && !nodes[j].master &&
                (!info_has(port, "replication", "master_link_status:up") ||
                 info_has(port, "replication", "master_sync_in_progress:1"))) {
                (void)snprintf(why, whysize, "replica %d is not in sync", port);
                return false;
            }
        }
    }
    return true;
}

/* What a node that is not ok says: CLUSTER NODES, and the end of its log. */
static void
dump_node(const papyra_test_cluster *c, int port)
{
    redisReply *r = papyra_test_cmd_at(port, "CLUSTER NODES");
    char log[4200], line[1024];
    long lines = 0, skip;
    FILE *f;

    fprintf(stderr, "cluster harness: CLUSTER NODES of %d:\n%s", port,
            r && r->type == REDIS_REPLY_STRING ? r->str : "(no answer)\n");
    freeReplyObject(r);
    for (int i = 0; i < c->n; i++) {
        if (c->node[i].port != port || !c->node[i].dir)
            continue;
        (void)snprintf(log, sizeof(log), "%s/redis.log", c->node[i].dir);
        if (!(f = fopen(log, "r")))
            return;
        while (fgets(line, sizeof(line), f))
            lines++;
        rewind(f);
        skip = lines - 30;
        fprintf(stderr, "cluster harness: the end of %s:\n", log);
        for (long k = 0; fgets(line, sizeof(line), f); k++)
            if (k >= skip)
                fputs(line, stderr);
        fclose(f);
    }
}

int
papyra_test_cluster_wait_ok(papyra_test_cluster *c, int timeout_ms)
{
    long long deadline = papyra_test_mono_ms() + timeout_ms;
    char why[256] = "";
    int bad = 0;

    for (;;) {
        if (cluster_ok(c, why, sizeof(why), &bad))
            return 0;
        if (papyra_test_mono_ms() > deadline) {
            fprintf(stderr, "cluster harness: the cluster is not ok after %d ms: %s\n", timeout_ms,
                    why);
            if (bad > 0)
                dump_node(c, bad);
            return -1;
        }
        papyra_test_sleep_ms(100);
    }
}

/* Runs redis-cli with @p argv (NULL-terminated), its output to "<dir>/redis-cli.log". */
static int
run_cli(papyra_test_cluster *c, const char *const *argv)
{
    char log[4200];
    pid_t pid;
    int status, fd;

    (void)snprintf(log, sizeof(log), "%s/redis-cli.log", c->dir);
    if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        return -1;
    pid = fork();
    if (pid < 0) {
        close(fd);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        (void)dup2(null, 0);
        (void)dup2(fd, 1);
        (void)dup2(fd, 2);
        execvp("redis-cli", (char *const *)argv);
        _exit(127);
    }
    close(fd);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        FILE *f = fopen(log, "r");
        fprintf(stderr, "cluster harness: redis-cli %s %s failed (status %d); its output:\n",
                argv[1], argv[2], status);
        if (f) {
            char buf[4096];
            size_t n;
            while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
                (void)fwrite(buf, 1, n, stderr);
            fclose(f);
        }
        return -1;
    }
    return 0;
}

/* Sets node @p i's cluster arguments (bus port @p bus, its nodes.conf in its directory). */
static void
set_args(papyra_test_cluster *c, int i, int bus)
{
    const char **a = c->args[i];
    int n = 0;

    (void)snprintf(c->bus[i], sizeof(c->bus[i]), "%d", bus);
    (void)snprintf(c->conf[i], sizeof(c->conf[i]), "%s/nodes.conf", c->node[i].dir);
    a[n++] = "--cluster-enabled";
    a[n++] = "yes";
    a[n++] = "--cluster-config-file";
    a[n++] = c->conf[i];
    a[n++] = "--cluster-port"; /* not port + 10000, which may be out of range or taken */
    a[n++] = c->bus[i];
    a[n++] = "--cluster-node-timeout";
    a[n++] = "1000";
    /* A replica may always take over (the test kills masters on purpose) ... */
    a[n++] = "--cluster-replica-validity-factor";
    a[n++] = "0";
    /* ... and no node changes role on its own when a reshard empties a master. */
    a[n++] = "--cluster-allow-replica-migration";
    a[n++] = "no";
    a[n] = NULL;
    c->node[i].extra_args = a;
}

/* Starts node @p i on fresh free ports (a few attempts). */
static int
start_node(papyra_test_cluster *c, int i)
{
    papyra_test_redis *r = &c->node[i];
    char dir[4200];

    (void)snprintf(dir, sizeof(dir), "%s/node%d", c->dir, i);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = papyra_test_free_port(), bus = papyra_test_free_port();
        bool clash = port <= 0 || bus <= 0 || port == bus;
        for (int j = 0; j < i && !clash; j++)
            clash = c->node[j].port == port || c->node[j].port == bus || atoi(c->bus[j]) == port ||
                    atoi(c->bus[j]) == bus;
        if (clash)
            continue;
        free(r->dir);
        free(r->sock);
        r->dir = strdup(dir);
        r->sock = malloc(strlen(dir) + 16);
        if (!r->dir || !r->sock)
            return -1;
        (void)snprintf(r->sock, strlen(dir) + 16, "%s/redis.sock", dir);
        r->port = port;
        set_args(c, i, bus);
        if (papyra_test_redis_start(r) == 0)
            return 0;
    }
    fprintf(stderr, "cluster harness: node %d did not start (see %s/redis.log)\n", i, dir);
    return -1;
}

int
papyra_test_cluster_start(papyra_test_cluster *c, int masters, int replicas)
{
    const char *argv[PAPYRA_TEST_CLUSTER_MAX_NODES + 16];
    char addr[PAPYRA_TEST_CLUSTER_MAX_NODES][32], nrep[16];
    int n = 0;

    if (masters < 3 || masters * (1 + replicas) > PAPYRA_TEST_CLUSTER_MAX_NODES) {
        fprintf(stderr, "cluster harness: %d masters with %d replicas each: out of range\n",
                masters, replicas);
        return -1;
    }
    if (!(c->dir = papyra_test_tmpdir()))
        return -1;
    c->n = masters * (1 + replicas);
    for (int i = 0; i < c->n; i++) {
        if (start_node(c, i) != 0) {
            papyra_test_cluster_stop(c);
            return -1;
        }
    }
    argv[n++] = "redis-cli";
    argv[n++] = "--cluster";
    argv[n++] = "create";
    for (int i = 0; i < c->n; i++) {
        (void)snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", c->node[i].port);
        argv[n++] = addr[i];
    }
    (void)snprintf(nrep, sizeof(nrep), "%d", replicas);
    argv[n++] = "--cluster-replicas";
    argv[n++] = nrep;
    argv[n++] = "--cluster-yes";
    argv[n] = NULL;
    if (run_cli(c, argv) != 0 || papyra_test_cluster_wait_ok(c, 30000) != 0) {
        papyra_test_cluster_stop(c);
        return -1;
    }
    return 0;
}

void
papyra_test_cluster_stop(papyra_test_cluster *c)
{
    for (int i = 0; i < c->n; i++) {
        papyra_test_redis_kill(&c->node[i]);
        papyra_test_redis_stop(&c->node[i]); /* frees dir and sock; the rmtree removes the rest */
    }
    if (c->dir) {
        papyra_test_rmtree(c->dir);
        free(c->dir);
        c->dir = NULL;
    }
    c->n = 0;
}

char *
papyra_test_cluster_seeds(const papyra_test_cluster *c)
{
    int ports[PAPYRA_TEST_CLUSTER_MAX_NODES];
    int n = papyra_test_cluster_masters(c, ports, PAPYRA_TEST_CLUSTER_MAX_NODES);
    size_t size = (size_t)n * 24 + 1, used = 0;
    char *s = malloc(size);

    if (!s)
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(s + used, size - used, "%s127.0.0.1:%d", i ? "," : "", ports[i]);
    return s;
}

int
papyra_test_cluster_masters(const papyra_test_cluster *c, int *ports, int max)
{
    cnode nodes[PAPYRA_TEST_CLUSTER_MAX_NODES * 2];
    int firsts[PAPYRA_TEST_CLUSTER_MAX_NODES * 2];
    int k = parse_nodes(any_port(c), nodes, PAPYRA_TEST_CLUSTER_MAX_NODES * 2), n = 0;

    for (int j = 0; j < k; j++) {
        if (!nodes[j].master || nodes[j].fail || nodes[j].nslots == 0 ||
            node_index(c, nodes[j].port) < 0 || n >= max)
            continue;
        /* Insert in the order of the first slot. */
        int at = n;
        while (at > 0 && firsts[at - 1] > nodes[j].first_slot) {
            firsts[at] = firsts[at - 1];
            ports[at] = ports[at - 1];
            at--;
        }
        firsts[at] = nodes[j].first_slot;
        ports[at] = nodes[j].port;
        n++;
    }
    return n;
}

int
papyra_test_cluster_replicas(const papyra_test_cluster *c, int master_port, int *ports, int max)
{
    int n = 0;

    /* Each node's own word (ROLE), not gossip that may lag behind a failover. */
    for (int i = 0; i < c->n && n < max; i++) {
        redisReply *r;
        if (c->node[i].pid <= 0)
            continue;
        r = papyra_test_cmd_at(c->node[i].port, "ROLE");
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
            r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "slave") == 0 &&
            r->element[2]->type == REDIS_REPLY_INTEGER && r->element[2]->integer == master_port)
            ports[n++] = c->node[i].port;
        freeReplyObject(r);
    }
    return n;
}

int
papyra_test_cluster_keyslot(const papyra_test_cluster *c, const char *key)
{
    redisReply *r = papyra_test_cmd_at(any_port(c), "CLUSTER KEYSLOT %s", key);
    int slot = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    freeReplyObject(r);
    return slot;
}

int
papyra_test_cluster_slot_owner(const papyra_test_cluster *c, int slot)
{
    redisReply *r = papyra_test_cmd_at(any_port(c), "CLUSTER SLOTS");
    int port = -1;

    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 3 && e->element[0]->integer <= slot &&
            slot <= e->element[1]->integer && e->element[2]->type == REDIS_REPLY_ARRAY &&
            e->element[2]->elements >= 2)
            port = (int)e->element[2]->element[1]->integer;
    }
    freeReplyObject(r);
    return port;
}

int
papyra_test_cluster_slot_count(const papyra_test_cluster *c, int port)
{
    cnode nodes[PAPYRA_TEST_CLUSTER_MAX_NODES * 2];
    int k =
        node_index(c, port) < 0 ? -1 : parse_nodes(port, nodes, PAPYRA_TEST_CLUSTER_MAX_NODES * 2);

    for (int j = 0; j < k; j++)
        if (nodes[j].myself)
            return nodes[j].nslots;
    return -1;
}

/* MIGRATEs every key of @p slot from @p from to @p to, in batches of 100 keys. */
static int
migrate_keys(int from, int to, int slot)
{
    for (;;) {
        redisReply *keys = papyra_test_cmd_at(from, "CLUSTER GETKEYSINSLOT %d 100", slot);
        const char *argv[110];
        size_t lens[110];
        char port[16];
        int n = 0;
        redisContext *ctx;
        redisReply *r;
        struct timeval tv = {.tv_sec = 10, .tv_usec = 0};

        if (!keys || keys->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "cluster harness: GETKEYSINSLOT %d on %d failed\n", slot, from);
            freeReplyObject(keys);
            return -1;
        }
        if (keys->elements == 0) {
            freeReplyObject(keys);
            return 0;
        }
        (void)snprintf(port, sizeof(port), "%d", to);
        argv[n++] = "MIGRATE";
        argv[n++] = "127.0.0.1";
        argv[n++] = port;
        argv[n++] = "";
        argv[n++] = "0";
        argv[n++] = "10000";
        argv[n++] = "KEYS";
        for (int i = 0; i < n; i++)
            lens[i] = strlen(argv[i]);
        for (size_t i = 0; i < keys->elements; i++) {
            argv[n] = keys->element[i]->str;
            lens[n++] = keys->element[i]->len;
        }
        if (!(ctx = redisConnectWithTimeout("127.0.0.1", from, tv)) || ctx->err) {
            redisFree(ctx);
            freeReplyObject(keys);
            return -1;
        }
        (void)redisSetTimeout(ctx, tv);
        r = redisCommandArgv(ctx, n, argv, lens);
        redisFree(ctx);
        freeReplyObject(keys);
        if (!reply_ok(r, "MIGRATE", from))
            return -1;
    }
}

int
papyra_test_cluster_move_slot(papyra_test_cluster *c, int slot, int to_port)
{
    return papyra_test_cluster_move_slot_held(c, slot, to_port, 0);
}

int
papyra_test_cluster_move_slot_held(papyra_test_cluster *c, int slot, int to_port, int hold_ms)
{
    int from = papyra_test_cluster_slot_owner(c, slot);
    int masters[PAPYRA_TEST_CLUSTER_MAX_NODES], nm;
    char from_id[64], to_id[64];

    if (from < 0 || node_id(from, from_id, sizeof(from_id)) != 0 ||
        node_id(to_port, to_id, sizeof(to_id)) != 0) {
        fprintf(stderr, "cluster harness: slot %d or node %d unknown\n", slot, to_port);
        return -1;
    }
    if (from == to_port)
        return 0;
    nm = papyra_test_cluster_masters(c, masters, PAPYRA_TEST_CLUSTER_MAX_NODES);
    if (!reply_ok(papyra_test_cmd_at(to_port, "CLUSTER SETSLOT %d IMPORTING %s", slot, from_id),
                  "SETSLOT IMPORTING", to_port) ||
        !reply_ok(papyra_test_cmd_at(from, "CLUSTER SETSLOT %d MIGRATING %s", slot, to_id),
                  "SETSLOT MIGRATING", from))
        return -1;
    papyra_test_sleep_ms(hold_ms); /* migrating: the source serves its keys, ASK for the others */
    if (migrate_keys(from, to_port, slot) != 0)
        return -1;
    papyra_test_sleep_ms(
        hold_ms); /* the keys moved, the slot not yet: every command of it gets ASK */
    /* The target first, then the source, then the others (as redis-cli does). */
    if (!reply_ok(papyra_test_cmd_at(to_port, "CLUSTER SETSLOT %d NODE %s", slot, to_id),
                  "SETSLOT NODE", to_port) ||
        !reply_ok(papyra_test_cmd_at(from, "CLUSTER SETSLOT %d NODE %s", slot, to_id),
                  "SETSLOT NODE", from))
        return -1;
    for (int i = 0; i < nm; i++) {
        if (masters[i] != from && masters[i] != to_port &&
            !reply_ok(papyra_test_cmd_at(masters[i], "CLUSTER SETSLOT %d NODE %s", slot, to_id),
                      "SETSLOT NODE", masters[i]))
            return -1;
    }
    return papyra_test_cluster_wait_ok(c, 20000);
}

int
papyra_test_cluster_reshard(papyra_test_cluster *c, int from_port, int to_port, int nslots)
{
    char from_id[64], to_id[64], seed[32], n[16];
    const char *argv[16];
    int k = 0;

    if (node_id(from_port, from_id, sizeof(from_id)) != 0 ||
        node_id(to_port, to_id, sizeof(to_id)) != 0) {
        fprintf(stderr, "cluster harness: reshard: node %d or %d unknown\n", from_port, to_port);
        return -1;
    }
    (void)snprintf(seed, sizeof(seed), "127.0.0.1:%d", from_port);
    (void)snprintf(n, sizeof(n), "%d", nslots);
    argv[k++] = "redis-cli";
    argv[k++] = "--cluster";
    argv[k++] = "reshard";
    argv[k++] = seed;
    argv[k++] = "--cluster-from";
    argv[k++] = from_id;
    argv[k++] = "--cluster-to";
    argv[k++] = to_id;
    argv[k++] = "--cluster-slots";
    argv[k++] = n;
    argv[k++] = "--cluster-yes";
    argv[k] = NULL;
    if (run_cli(c, argv) != 0)
        return -1;
    return papyra_test_cluster_wait_ok(c, 20000);
}

/* Waits until the node on @p port says it is a master (ROLE). */
static bool
is_master(int port)
{
    redisReply *r = papyra_test_cmd_at(port, "ROLE");
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
              r->element[0]->type == REDIS_REPLY_STRING &&
              strcmp(r->element[0]->str, "master") == 0;
    freeReplyObject(r);
    return ok;
}

int
papyra_test_cluster_kill_master(papyra_test_cluster *c, int port)
{
    int replicas[PAPYRA_TEST_CLUSTER_MAX_NODES];
    int i = node_index(c, port), nr, promoted = -1;
    long long deadline;

    if (i < 0 || !is_master(port)) {
        fprintf(stderr, "cluster harness: %d is not a running master\n", port);
        return -1;
    }
    if ((nr = papyra_test_cluster_replicas(c, port, replicas, PAPYRA_TEST_CLUSTER_MAX_NODES)) ==
        0) {
        fprintf(stderr, "cluster harness: master %d has no replica to promote\n", port);
        return -1;
    }
    papyra_test_redis_kill(&c->node[i]);
    deadline = papyra_test_mono_ms() + 30000;
    while (promoted < 0) {
        for (int j = 0; j < nr && promoted < 0; j++)
            if (is_master(replicas[j]))
                promoted = replicas[j];
        if (promoted < 0 && papyra_test_mono_ms() > deadline) {
            fprintf(stderr, "cluster harness: no replica of %d was promoted\n", port);
            return -1;
        }
        if (promoted < 0)
            papyra_test_sleep_ms(100);
    }
    return papyra_test_cluster_wait_ok(c, 30000) == 0 ? promoted : -1;
}

/* The id that running nodes give the (killed) node on @p port, into @p id; -1 when none. */
static int
known_id(const papyra_test_cluster *c, int port, char *id, size_t size)
{
    cnode nodes[PAPYRA_TEST_CLUSTER_MAX_NODES * 2];
    int k = parse_nodes(any_port(c), nodes, PAPYRA_TEST_CLUSTER_MAX_NODES * 2);

    for (int j = 0; j < k; j++) {
        if (nodes[j].port == port) {
            (void)snprintf(id, size, "%s", nodes[j].id);
            return 0;
        }
    }
    return -1;
}

/* Whether every running node lists exactly the running nodes, none in handshake. */
static bool
all_met(const papyra_test_cluster *c)
{
    int running = 0;

    for (int i = 0; i < c->n; i++)
        running += c->node[i].pid > 0;
    for (int i = 0; i < c->n; i++) {
        cnode nodes[PAPYRA_TEST_CLUSTER_MAX_NODES * 2];
        int k;
        if (c->node[i].pid <= 0)
            continue;
        k = parse_nodes(c->node[i].port, nodes, PAPYRA_TEST_CLUSTER_MAX_NODES * 2);
        if (k != running)
            return false;
        for (int j = 0; j < k; j++)
            if (nodes[j].fail)
                return false;
    }
    return true;
}

int
papyra_test_cluster_restart(papyra_test_cluster *c, int port)
{
    char old_id[64], new_id[64], master_id[64], bus[16];
    int i, peer = any_port(c), target = -1, fewest = PAPYRA_TEST_CLUSTER_MAX_NODES + 1;
    int masters[PAPYRA_TEST_CLUSTER_MAX_NODES], replicas[PAPYRA_TEST_CLUSTER_MAX_NODES];
    int nm = papyra_test_cluster_masters(c, masters, PAPYRA_TEST_CLUSTER_MAX_NODES);
    long long deadline;

    for (i = 0; i < c->n; i++)
        if (c->node[i].port == port && c->node[i].pid <= 0)
            break;
    if (i == c->n || peer < 0 || known_id(c, port, old_id, sizeof(old_id)) != 0) {
        fprintf(stderr, "cluster harness: no killed node on port %d\n", port);
        return -1;
    }
    /*
     * It comes back as a new, empty node: its old nodes.conf would have it claim, as
     * a master, slots that have moved on since (a configuration epoch above the new
     * owner's takes them, and it then serves none of them as a replica).
     */
    (void)unlink(c->conf[i]);
    if (papyra_test_redis_start(&c->node[i]) != 0 || node_id(port, new_id, sizeof(new_id)) != 0)
        return -1;
    for (int j = 0; j < c->n; j++)
        if (j != i && c->node[j].pid > 0)
            freeReplyObject(papyra_test_cmd_at(c->node[j].port, "CLUSTER FORGET %s", old_id));
    for (int j = 0; j < c->n; j++)
        if (j != i && c->node[j].port == peer)
            (void)snprintf(bus, sizeof(bus), "%s", c->bus[j]);
    if (!reply_ok(papyra_test_cmd_at(port, "CLUSTER MEET 127.0.0.1 %d %s", peer, bus),
                  "CLUSTER MEET", port))
        return -1;
    deadline = papyra_test_mono_ms() + 30000;
    while (!all_met(c)) {
        if (papyra_test_mono_ms() > deadline) {
            fprintf(stderr, "cluster harness: node %d did not rejoin\n", port);
            return -1;
        }
        papyra_test_sleep_ms(100);
    }
    /* A replica of the master with the fewest (the one promoted in its place). */
    for (int m = 0; m < nm; m++) {
        int k =
            papyra_test_cluster_replicas(c, masters[m], replicas, PAPYRA_TEST_CLUSTER_MAX_NODES);
        if (k < fewest) {
            fewest = k;
            target = masters[m];
        }
    }
    if (target < 0 || node_id(target, master_id, sizeof(master_id)) != 0 ||
        !reply_ok(papyra_test_cmd_at(port, "CLUSTER REPLICATE %s", master_id), "CLUSTER REPLICATE",
                  port))
        return -1;
    deadline = papyra_test_mono_ms() + 30000;
    while (papyra_test_cluster_replicas(c, target, replicas, PAPYRA_TEST_CLUSTER_MAX_NODES) == 0) {
        if (papyra_test_mono_ms() > deadline) {
            fprintf(stderr, "cluster harness: node %d did not become %d's replica\n", port, target);
            return -1;
        }
        papyra_test_sleep_ms(100);
    }
    return papyra_test_cluster_wait_ok(c, 30000);
}

int
papyra_test_cluster_failover(papyra_test_cluster *c, int replica_port)
{
    long long deadline = papyra_test_mono_ms() + 30000;

    if (!reply_ok(papyra_test_cmd_at(replica_port, "CLUSTER FAILOVER"), "CLUSTER FAILOVER",
                  replica_port))
        return -1;
    while (!is_master(replica_port)) {
        if (papyra_test_mono_ms() > deadline) {
            fprintf(stderr, "cluster harness: replica %d did not take over\n", replica_port);
            return -1;
        }
        papyra_test_sleep_ms(100);
    }
    return papyra_test_cluster_wait_ok(c, 30000);
}
