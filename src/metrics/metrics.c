/* SPDX-License-Identifier: MIT */
/*
 * The metrics core: private and shared (memory-mapped) counter blocks,
 * snapshot and lossless reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <papyra/metrics.h>

#include "metrics/metrics-private.h"
#include "metrics/snapshot.h"
#include "util/errmsg.h"
#include "util/fs.h"

static size_t
block_size(uint32_t count)
{
    /* The name table ends on a 64-byte boundary, so slots start cache-aligned. */
    return PAPYRA__MF_HEADER_SIZE + (size_t)count * PAPYRA__MF_NAME_SIZE +
           (size_t)count * PAPYRA__MF_SLOT_SIZE;
}

static uint64_t
header_check(const struct papyra__mf_header *h)
{
    return papyra__fnv1a64(h, offsetof(struct papyra__mf_header, header_check));
}

/* Lays out a fresh block for @p backend in zeroed memory of block_size(). */
static void
block_init(void *mem, int backend)
{
    struct papyra__mf_header *h = mem;
    struct papyra__mf_name *names = (void *)((char *)mem + PAPYRA__MF_HEADER_SIZE);

    memcpy(h->magic, PAPYRA__MF_MAGIC, sizeof(h->magic));
    h->layout_version = PAPYRA_METRICS_LAYOUT_VERSION;
    h->header_size = PAPYRA__MF_HEADER_SIZE;
    h->spec_hash = PAPYRA_METRICS_SPEC_HASH;
    h->counter_count = PAPYRA_METRIC_COUNT;
    h->backend = (uint32_t)backend;
    h->file_size = block_size(PAPYRA_METRIC_COUNT);
    h->names_offset = PAPYRA__MF_HEADER_SIZE;
    h->name_size = PAPYRA__MF_NAME_SIZE;
    h->slots_offset = PAPYRA__MF_HEADER_SIZE + PAPYRA_METRIC_COUNT * PAPYRA__MF_NAME_SIZE;
    h->slot_size = PAPYRA__MF_SLOT_SIZE;
    h->created_at_ns = papyra__now_ns();
    snprintf(h->backend_name, sizeof(h->backend_name), "%s", papyra__backends[backend].id);
    h->header_check = header_check(h);
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        snprintf(names[i].name, sizeof(names[i].name), "%s", papyra__metric_info[i].name);
        if (papyra__backends[backend].mask & (UINT64_C(1) << i))
            names[i].flags = PAPYRA__MF_NAME_SUPPORTED;
    }
}

static int set_error(papyra_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
set_error(papyra_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

/*
 * Error messages are per thread, as a store's are (papyra_metrics_errmsg()):
 * a thread keeps the messages of the last handles it failed on, each tagged
 * with the handle's generation (util/errmsg.h).
 */
static _Thread_local papyra__errmsg_table err_table;

/* Gives a new handle its generation, before any message is set on it. */
static void
err_init(papyra_metrics *m)
{
    m->errgen = papyra__errmsg_generation();
}

/* Forgets the calling thread's message for @p m, a handle going away. */
static void
err_forget(const papyra_metrics *m)
{
    papyra__errmsg_forget(&err_table, m, m->errgen);
}

static void handle_error(const papyra_metrics *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets the calling thread's message for @p m. */
static void
handle_error(const papyra_metrics *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    papyra__errmsg_vset(&err_table, m, m->errgen, fmt, ap);
    va_end(ap);
}

static bool
backend_valid(int backend)
{
    return backend >= 0 && backend < PAPYRA_BACKEND_COUNT;
}

/* Points every counter of our spec at its slot in the block, matching by name. */
static int
bind_counters(papyra_metrics *m)
{
    const struct papyra__mf_header *h = m->hdr;
    const struct papyra__mf_name *names = (const void *)((const char *)h + h->names_offset);
    struct papyra__mf_slot *slots = (void *)((char *)h + h->slots_offset);

    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        uint32_t j;
        for (j = 0; j < h->counter_count; j++)
            if (strcmp(names[j].name, papyra__metric_info[i].name) == 0)
                break;
        if (j < h->counter_count) {
            m->live[i] = &slots[j].live;
            m->base[i] = &slots[j].base;
            m->state[i] = (names[j].flags & PAPYRA__MF_NAME_SUPPORTED) ? PAPYRA_METRIC_OK
                                                                       : PAPYRA_METRIC_UNSUPPORTED;
            continue;
        }
        /* The file predates this counter: count it privately so writers still work. */
        if (!m->spare) {
            m->spare = aligned_alloc(PAPYRA__MF_SLOT_SIZE,
                                     PAPYRA_METRIC_COUNT * sizeof(struct papyra__mf_slot));
            if (!m->spare)
                return PAPYRA_ENOMEM;
            memset(m->spare, 0, PAPYRA_METRIC_COUNT * sizeof(struct papyra__mf_slot));
        }
        m->live[i] = &m->spare[i].live;
        m->base[i] = &m->spare[i].base;
        m->state[i] = PAPYRA_METRIC_ABSENT;
    }
    return 0;
}

int
papyra_metrics_new_private(papyra_metrics **ret, int backend)
{
    size_t size = block_size(PAPYRA_METRIC_COUNT);
    papyra_metrics *m;

    if (!ret || !backend_valid(backend))
        return PAPYRA_EINVAL;
    m = calloc(1, sizeof(*m));
    if (!m)
        return PAPYRA_ENOMEM;
    err_init(m);
    m->hdr = aligned_alloc(PAPYRA__MF_SLOT_SIZE, size);
    if (!m->hdr) {
        free(m);
        return PAPYRA_ENOMEM;
    }
    memset(m->hdr, 0, size);
    block_init(m->hdr, backend);
    m->size = size;
    m->backend = backend;
    if (bind_counters(m) < 0) {
        papyra_metrics_close(m);
        return PAPYRA_ENOMEM;
    }
    *ret = m;
    return 0;
}

uint64_t
papyra__metrics_names_hash(const struct papyra__mf_name *names, uint32_t count)
{
    char prefix[48];
    int n = snprintf(prefix, sizeof(prefix), "papyra-metrics-layout/%u\n",
                     (unsigned)PAPYRA_METRICS_LAYOUT_VERSION);
    uint64_t h = papyra__fnv1a64_update(PAPYRA__FNV1A64_INIT, prefix, (size_t)n);

    for (uint32_t j = 0; j < count; j++) {
        h = papyra__fnv1a64_update(h, names[j].name, strlen(names[j].name));
        h = papyra__fnv1a64_update(h, "\n", 1);
    }
    return h;
}

/* Checks a mapped file; returns 0 or an error with a message naming the problem. */
static int
validate(const struct papyra__mf_header *h, size_t size, const char *path, papyra_error *err)
{
    const struct papyra__mf_name *names;

    if (size < PAPYRA__MF_HEADER_SIZE)
        return set_error(err, PAPYRA_ETRUNCATED,
                         "metrics file %s is truncated: %zu bytes, a header needs %u", path, size,
                         PAPYRA__MF_HEADER_SIZE);
    if (memcmp(h->magic, PAPYRA__MF_MAGIC, sizeof(h->magic)) != 0)
        return set_error(err, PAPYRA_EFOREIGN, "%s is not a papyra metrics file (bad magic)", path);
    if (h->layout_version != PAPYRA_METRICS_LAYOUT_VERSION)
        return set_error(err, PAPYRA_EVERSION,
                         "metrics file %s has layout version %u; this build reads version %u", path,
                         h->layout_version, PAPYRA_METRICS_LAYOUT_VERSION);
    if (h->header_check != header_check(h))
        return set_error(err, PAPYRA_ECORRUPT, "metrics file %s is corrupt: header checksum", path);
    if (h->header_size != PAPYRA__MF_HEADER_SIZE || h->name_size != PAPYRA__MF_NAME_SIZE ||
        h->slot_size != PAPYRA__MF_SLOT_SIZE || h->names_offset != PAPYRA__MF_HEADER_SIZE ||
        h->counter_count == 0 || h->counter_count > PAPYRA__MF_MAX_COUNTERS ||
        h->slots_offset != PAPYRA__MF_HEADER_SIZE + h->counter_count * PAPYRA__MF_NAME_SIZE ||
        h->file_size != block_size(h->counter_count) ||
        memchr(h->backend_name, '\0', sizeof(h->backend_name)) == NULL)
        return set_error(err, PAPYRA_ECORRUPT, "metrics file %s is corrupt: inconsistent header",
                         path);
    if (size < h->file_size)
        return set_error(err, PAPYRA_ETRUNCATED,
                         "metrics file %s is truncated: %zu bytes of %" PRIu64, path, size,
                         h->file_size);
    if (size > h->file_size)
        return set_error(err, PAPYRA_ECORRUPT,
                         "metrics file %s is corrupt: %zu bytes, the header says %" PRIu64, path,
                         size, h->file_size);
    names = (const void *)((const char *)h + h->names_offset);
    for (uint32_t j = 0; j < h->counter_count; j++)
        if (memchr(names[j].name, '\0', sizeof(names[j].name)) == NULL || names[j].name[0] == 0)
            return set_error(err, PAPYRA_ECORRUPT, "metrics file %s is corrupt: name %u", path, j);
    /* The header (checksummed) carries the names' hash: a changed name is caught. */
    if (papyra__metrics_names_hash(names, h->counter_count) != h->spec_hash)
        return set_error(err, PAPYRA_ECORRUPT,
                         "metrics file %s is corrupt: the counter names do not match the "
                         "header's spec hash",
                         path);
    return 0;
}

/*
 * Writes a fresh file under a temporary name and publishes it atomically:
 * link() when the path must not exist yet (two creators race; one wins),
 * rename() when it replaces an invalid file. Readers never see a partial file.
 */
static int
create_file(const char *path, int backend, const char *mode_from, bool replace, papyra_error *err)
{
    size_t size = block_size(PAPYRA_METRIC_COUNT);
    /*
     * The data file's permission bits, or 0644 before it exists. open() takes
     * the umask off and nothing widens the mode afterwards, so the metrics
     * file is never more permissive than its data file nor past the umask.
     */
    mode_t mode = papyra__mode_like(mode_from, 0644);
    char *tmp = NULL;
    void *mem = NULL;
    int fd = -1, r;

    r = papyra__temp_path(path, "metrics", &tmp);
    if (r < 0)
        return set_error(err, r, "metrics file %s: out of memory", path);
    mem = calloc(1, size);
    if (!mem) {
        free(tmp);
        return set_error(err, PAPYRA_ENOMEM, "metrics file %s: out of memory", path);
    }
    block_init(mem, backend);
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        r = papyra__errno_code(errno);
        set_error(err, r, "cannot create metrics file %s: %s", path, strerror(errno));
        goto out;
    }
    r = papyra__write_all(fd, mem, size);
    if (r == 0 && fsync(fd) < 0)
        r = papyra__errno_code(errno);
    if (r < 0) {
        set_error(err, r, "cannot write metrics file %s: %s", path, papyra_strerror(r));
        goto out;
    }
    if (replace ? rename(tmp, path) : link(tmp, path)) {
        r = errno == EEXIST ? PAPYRA_EEXIST : papyra__errno_code(errno);
        set_error(err, r, "cannot create metrics file %s: %s", path, strerror(errno));
        goto out;
    }
    (void)papyra__fsync_parent(path);
out:
    if (fd >= 0)
        close(fd);
    if (!(replace && r == 0))
        (void)unlink(tmp);
    free(tmp);
    free(mem);
    return r;
}

/* Moves an invalid file aside (nothing is lost) so a fresh one can take its place. */
static int
set_aside(const char *path, papyra_error *err)
{
    char *aside = NULL;
    int r = papyra__asprintf(&aside, "%s.invalid.%lld", path, (long long)papyra__now_ns());

    if (r < 0)
        return set_error(err, r, "metrics file %s: out of memory", path);
    if (rename(path, aside) < 0 && errno != ENOENT)
        r = set_error(err, papyra__errno_code(errno), "cannot move invalid metrics file %s: %s",
                      path, strerror(errno));
    free(aside);
    return r;
}

static int
map_file(papyra_metrics *m, const char *path, const papyra_metrics_options *o, papyra_error *err)
{
    bool ro = o->flags & PAPYRA_METRICS_READONLY;
    struct stat st;
    void *map;
    int fd, r;

    /* O_NONBLOCK until fstat has shown a regular file: a FIFO must not block the open. */
    fd = papyra__open_regular(path, ro ? O_RDONLY : O_RDWR, 0);
    if (fd == PAPYRA_ENOTREG)
        return set_error(err, PAPYRA_EFOREIGN, "%s: not a regular file (%s), so not a metrics file",
                         path, papyra__file_kind(path));
    if (fd < 0)
        return set_error(err, fd, "cannot open metrics file %s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0) {
        r = set_error(err, papyra__errno_code(errno), "cannot stat metrics file %s: %s", path,
                      strerror(errno));
        close(fd);
        return r;
    }
    if ((size_t)st.st_size < PAPYRA__MF_HEADER_SIZE) {
        char head[sizeof(PAPYRA__MF_MAGIC) - 1];
        ssize_t n = read(fd, head, sizeof(head));
        close(fd);
        /* Too short for a header: only a torn metrics file starts like one. */
        if (n < 0 || memcmp(head, PAPYRA__MF_MAGIC, (size_t)n) != 0)
            return set_error(err, PAPYRA_EFOREIGN, "%s is not a papyra metrics file (bad magic)",
                             path);
        return validate(NULL, (size_t)st.st_size, path, err);
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ | (ro ? 0 : PROT_WRITE), MAP_SHARED, fd, 0);
    r = map == MAP_FAILED ? papyra__errno_code(errno) : 0;
    close(fd);
    if (r < 0)
        return set_error(err, r, "cannot map metrics file %s: %s", path, papyra_strerror(r));
    r = validate(map, (size_t)st.st_size, path, err);
    if (r < 0) {
        munmap(map, (size_t)st.st_size);
        return r;
    }
    m->hdr = map;
    m->size = (size_t)st.st_size;
    m->shared = true;
    m->readonly = ro;
    return 0;
}

static int
check_backend(papyra_metrics *m, const papyra_metrics_options *o, papyra_error *err)
{
    const char *name = m->hdr->backend_name;
    int b = papyra_backend_by_name(name);

    if (o->backend >= 0 && b != o->backend)
        return set_error(err, PAPYRA_EFOREIGN,
                         "metrics file %s belongs to backend \"%s\", not \"%s\"", m->path, name,
                         papyra__backends[o->backend].id);
    if (b < 0)
        return set_error(err, PAPYRA_EVERSION,
                         "metrics file %s belongs to backend \"%s\", unknown to this build",
                         m->path, name);
    m->backend = b;
    return 0;
}

/*
 * Whether RECREATE may set the file aside: a damaged metrics file, never a
 * foreign one (such as a data file given as the metrics path by mistake).
 */
static bool
recreatable(int r)
{
    return r == PAPYRA_ETRUNCATED || r == PAPYRA_ECORRUPT || r == PAPYRA_EVERSION;
}

int
papyra_metrics_open(papyra_metrics **ret,
                    const char *path,
                    const papyra_metrics_options *opts,
                    papyra_error *reterr)
{
    papyra_metrics_options o = {.backend = -1};
    papyra_metrics *m;
    int r = 0;

    if (opts)
        o = *opts;
    if (reterr)
        *reterr = (papyra_error){0};
    if (!ret || !path || !*path || o.backend < -1 || o.backend >= PAPYRA_BACKEND_COUNT ||
        ((o.flags & (PAPYRA_METRICS_CREATE | PAPYRA_METRICS_RECREATE)) &&
         (o.backend < 0 || (o.flags & PAPYRA_METRICS_READONLY))))
        return set_error(reterr, PAPYRA_EINVAL, "invalid arguments to papyra_metrics_open");
    m = calloc(1, sizeof(*m));
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return set_error(reterr, PAPYRA_ENOMEM, "out of memory");
    }
    err_init(m);
    /* A few rounds: a concurrent creator or a set-aside can change what is there. */
    for (int attempt = 0; attempt < 4; attempt++) {
        r = map_file(m, path, &o, reterr);
        if (r == PAPYRA_ENOENT && (o.flags & PAPYRA_METRICS_CREATE)) {
            r = create_file(path, o.backend, o.mode_from, false, reterr);
            if (r == 0 || r == PAPYRA_EEXIST)
                continue;
        } else if ((o.flags & PAPYRA_METRICS_RECREATE) && recreatable(r)) {
            r = set_aside(path, reterr);
            if (r == 0)
                r = create_file(path, o.backend, o.mode_from, true, reterr);
            if (r == 0)
                continue;
        }
        break;
    }
    if (r == 0)
        r = check_backend(m, &o, reterr);
    if (r == 0)
        r = bind_counters(m);
    if (r < 0) {
        if (r == PAPYRA_ENOMEM)
            set_error(reterr, r, "out of memory");
        papyra_metrics_close(m);
        return r;
    }
    if (reterr)
        *reterr = (papyra_error){0};
    *ret = m;
    return 0;
}

void
papyra_metrics_close(papyra_metrics *m)
{
    if (!m)
        return;
    err_forget(m);
    if (m->shared && m->hdr)
        munmap(m->hdr, m->size);
    else
        free(m->hdr);
    free(m->spare);
    free(m->path);
    free(m);
}

const char *
papyra_metrics_path(const papyra_metrics *m)
{
    return m && m->shared ? m->path : NULL;
}

int
papyra_metrics_backend(const papyra_metrics *m)
{
    return m ? m->backend : -1;
}

const char *
papyra_metrics_errmsg(const papyra_metrics *m)
{
    return m ? papyra__errmsg_get(&err_table, m, m->errgen) : "";
}

int
papyra_metrics_add(papyra_metrics *m, int id, uint64_t n)
{
    if (!m || id < 0 || id >= PAPYRA_METRIC_COUNT)
        return PAPYRA_EINVAL;
    if (m->readonly) {
        handle_error(m, "metrics file %s is open read-only", m->path);
        return PAPYRA_EACCES;
    }
    if (m->state[id] == PAPYRA_METRIC_UNSUPPORTED) {
        handle_error(m, "backend %s does not support counter %s", papyra__backends[m->backend].id,
                     papyra__metric_info[id].name);
        return PAPYRA_EUNSUPPORTED;
    }
    papyra__metrics_add(m, id, n);
    return 0;
}

static void
snapshot_header(const papyra_metrics *m, papyra_metrics_snapshot *s)
{
    s->backend = m->backend;
    s->shared = m->shared;
    s->spec_hash = m->hdr->spec_hash;
    s->created_at_ns = m->hdr->created_at_ns;
    s->reset_at_ns = atomic_load_explicit(&m->hdr->reset_at_ns, memory_order_acquire);
    s->reset_count = atomic_load_explicit(&m->hdr->reset_count, memory_order_relaxed);
    s->taken_at_ns = papyra__now_ns();
}

int
papyra_metrics_read_sized(papyra_metrics *m, papyra_metrics_snapshot *ret, size_t size)
{
    papyra_metrics_snapshot s = {0};
    int n = papyra__snapshot_count(size);

    if (!m || !ret || n < 0)
        return PAPYRA_EINVAL;
    snapshot_header(m, &s);
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        /* Base first (acquire): the live value read after it is at least the base. */
        uint64_t base = atomic_load_explicit(m->base[i], memory_order_acquire);
        uint64_t live = atomic_load_explicit(m->live[i], memory_order_relaxed);
        s.state[i] = m->state[i];
        s.total[i] = live;
        s.value[i] = live >= base ? live - base : 0;
    }
    /* The caller's struct may hold fewer or more counters than ours. */
    papyra__snapshot_export(ret, n, &s);
    return 0;
}

int
papyra_metrics_reset_sized(papyra_metrics *m, papyra_metrics_snapshot *ret_cleared, size_t size)
{
    papyra_metrics_snapshot s = {0};
    int64_t now = papyra__now_ns();
    int n = ret_cleared ? papyra__snapshot_count(size) : 0;

    if (!m || n < 0)
        return PAPYRA_EINVAL;
    if (m->readonly) {
        handle_error(m, "metrics file %s is open read-only", m->path);
        return PAPYRA_EACCES;
    }
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        uint64_t base = atomic_load_explicit(m->base[i], memory_order_acquire);
        uint64_t live;
        /*
         * Move the baseline to the live value. If another reset moved it
         * first, the CAS fails, reloads the base, and we clear only what
         * came after: every increment is cleared exactly once.
         */
        do {
            live = atomic_load_explicit(m->live[i], memory_order_relaxed);
        } while (!atomic_compare_exchange_weak_explicit(
            m->base[i], &base, live, memory_order_acq_rel, memory_order_acquire));
        s.state[i] = m->state[i];
        s.total[i] = live;
        s.value[i] = live - base;
    }
    atomic_store_explicit(&m->hdr->reset_at_ns, now, memory_order_release);
    atomic_fetch_add_explicit(&m->hdr->reset_count, 1, memory_order_relaxed);
    if (ret_cleared) {
        snapshot_header(m, &s);
        s.reset_at_ns = now;
        papyra__snapshot_export(ret_cleared, n, &s);
    }
    return 0;
}

/*
 * The 0.1.0 entry points, for binaries built before the sized ones: their
 * snapshots hold the first PAPYRA_METRICS_V1_COUNT counters. Code compiled
 * now reaches the sized functions through the macros of these names.
 */
#undef papyra_metrics_read
#undef papyra_metrics_reset

int
papyra_metrics_read(papyra_metrics *m, papyra_metrics_snapshot *ret)
{
    return papyra_metrics_read_sized(m, ret, papyra__snapshot_size(PAPYRA_METRICS_V1_COUNT));
}

int
papyra_metrics_reset(papyra_metrics *m, papyra_metrics_snapshot *ret_cleared)
{
    return papyra_metrics_reset_sized(m, ret_cleared,
                                      papyra__snapshot_size(PAPYRA_METRICS_V1_COUNT));
}
