/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static char *tmpdir;

void
papyra_fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("property failed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    /* Level 0 is the directory itself: clearing keeps it. */
    if (ftw->level > 0)
        (void)remove(path);
    return 0;
}

void
papyra_fuzz_tmpdir_clear(void)
{
    if (tmpdir)
        (void)nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
remove_tmpdir(void)
{
    papyra_fuzz_tmpdir_clear();
    if (tmpdir)
        (void)rmdir(tmpdir);
    free(tmpdir);
    tmpdir = NULL;
}

const char *
papyra_fuzz_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    size_t n;

    if (tmpdir)
        return tmpdir;
    if (!base || !*base)
        base = "/tmp";
    n = strlen(base) + sizeof("/papyra-fuzz-XXXXXX");
    tmpdir = malloc(n);
    if (!tmpdir)
        papyra_fuzz_fail("out of memory");
    snprintf(tmpdir, n, "%s/papyra-fuzz-XXXXXX", base);
    if (!mkdtemp(tmpdir))
        papyra_fuzz_fail("cannot make a directory under %s", base);
    atexit(remove_tmpdir);
    return tmpdir;
}

char *
papyra_fuzz_path(const char *name)
{
    const char *dir = papyra_fuzz_tmpdir();
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);

    if (!p)
        papyra_fuzz_fail("out of memory");
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void
papyra_fuzz_write_file(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const char *p = data;

    if (fd < 0)
        papyra_fuzz_fail("cannot create %s", path);
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w <= 0)
            papyra_fuzz_fail("cannot write %s", path);
        p += w;
        size -= (size_t)w;
    }
    close(fd);
}

char *
papyra_fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s)
        papyra_fuzz_fail("out of memory");
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static bool
str_equal(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool
double_equal(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof(a)) == 0;
}

static bool
names_equal(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_equal(a[i], b[i]))
            return false;
    return true;
}

#define SAME(cond, field) \
    do {                  \
        if (!(cond)) {    \
            *why = field; \
            return false; \
        }                 \
    } while (0)

bool
papyra_fuzz_record_equal(const papyra_record *a, const papyra_record *b, const char **why)
{
    const char *unused;

    if (!why)
        why = &unused;
    SAME(a->kind == b->kind, "kind");
    switch (a->kind) {
    case PAPYRA_KIND_EVENT:
        SAME(str_equal(a->u.event.system_id, b->u.event.system_id), "system_id");
        SAME(str_equal(a->u.event.actor_address, b->u.event.actor_address), "actor_address");
        SAME(str_equal(a->u.event.event_type, b->u.event.event_type), "event_type");
        SAME(str_equal(a->u.event.payload, b->u.event.payload), "payload");
        SAME(double_equal(a->u.event.timestamp, b->u.event.timestamp), "timestamp");
        break;
    case PAPYRA_KIND_AUDIT:
        SAME(str_equal(a->u.audit.system_id, b->u.audit.system_id), "system_id");
        SAME(double_equal(a->u.audit.timestamp, b->u.audit.timestamp), "timestamp");
        SAME(a->u.audit.total_actors == b->u.audit.total_actors, "total_actors");
        SAME(a->u.audit.alive_actors == b->u.audit.alive_actors, "alive_actors");
        SAME(a->u.audit.stopping_actors == b->u.audit.stopping_actors, "stopping_actors");
        SAME(a->u.audit.restarting_actors == b->u.audit.restarting_actors, "restarting_actors");
        SAME(a->u.audit.registry_size == b->u.audit.registry_size, "registry_size");
        SAME(names_equal(a->u.audit.registry_orphans, a->u.audit.n_registry_orphans,
                         b->u.audit.registry_orphans, b->u.audit.n_registry_orphans),
             "registry_orphans");
        SAME(names_equal(a->u.audit.registry_dead, a->u.audit.n_registry_dead,
                         b->u.audit.registry_dead, b->u.audit.n_registry_dead),
             "registry_dead");
        SAME(a->u.audit.dead_letters_count == b->u.audit.dead_letters_count, "dead_letters_count");
        break;
    case PAPYRA_KIND_DEAD_LETTER:
        SAME(str_equal(a->u.dead_letter.system_id, b->u.dead_letter.system_id), "system_id");
        SAME(str_equal(a->u.dead_letter.target, b->u.dead_letter.target), "target");
        SAME(str_equal(a->u.dead_letter.message_type, b->u.dead_letter.message_type),
             "message_type");
        SAME(str_equal(a->u.dead_letter.payload, b->u.dead_letter.payload), "payload");
        SAME(double_equal(a->u.dead_letter.timestamp, b->u.dead_letter.timestamp), "timestamp");
        break;
    default:
        SAME(false, "kind (invalid)");
    }
    return true;
}
