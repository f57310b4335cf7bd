/* SPDX-License-Identifier: MIT */
/*
 * Internals of the metrics core: the metrics-file layout and the handle.
 *
 * Layout (all integers little-endian as the host writes them; the file is
 * never moved between machines):
 *
 *   offset 0    header, 256 bytes (struct papyra__mf_header)
 *   offset 256  name table: counter_count entries of 64 bytes
 *   then        counter slots, 64 bytes each (one cache line), 64-aligned
 *
 * Each slot holds the live counter and the reset baseline. Live counters only
 * ever grow (relaxed atomic adds); a reset moves the baseline forward with a
 * compare-and-swap, so no increment is lost and the value is live - base.
 */
#ifndef PAPYRA_METRICS_PRIVATE_H
#define PAPYRA_METRICS_PRIVATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <papyra/metrics.h>

#include "util/util.h"

#define PAPYRA__MF_MAGIC "PAPYRAMF"
#define PAPYRA__MF_HEADER_SIZE 256u
#define PAPYRA__MF_NAME_SIZE 64u
#define PAPYRA__MF_NAME_MAX 56u
#define PAPYRA__MF_SLOT_SIZE 64u
#define PAPYRA__MF_MAX_COUNTERS 4096u
#define PAPYRA__MF_NAME_SUPPORTED 1u

struct papyra__mf_header {
    char magic[8];           /* PAPYRA__MF_MAGIC, no NUL */
    uint32_t layout_version; /* PAPYRA_METRICS_LAYOUT_VERSION */
    uint32_t header_size;    /* PAPYRA__MF_HEADER_SIZE */
    uint64_t spec_hash;      /* of the creator's spec */
    uint32_t counter_count;  /* entries in the name table */
    uint32_t backend;        /* papyra_backend_id of the creator's spec */
    uint64_t file_size;      /* total size in bytes */
    uint32_t names_offset;   /* PAPYRA__MF_HEADER_SIZE */
    uint32_t name_size;      /* PAPYRA__MF_NAME_SIZE */
    uint32_t slots_offset;   /* 64-aligned */
    uint32_t slot_size;      /* PAPYRA__MF_SLOT_SIZE */
    int64_t created_at_ns;   /* CLOCK_REALTIME */
    char backend_name[16];   /* NUL-terminated backend id, for readers of other specs */
    uint64_t header_check;   /* FNV-1a 64 of the bytes before this field */
    _Atomic int64_t reset_at_ns;
    _Atomic uint64_t reset_count;
    uint8_t reserved[PAPYRA__MF_HEADER_SIZE - 104];
};

struct papyra__mf_name {
    char name[PAPYRA__MF_NAME_MAX]; /* NUL-terminated */
    uint32_t flags;                 /* PAPYRA__MF_NAME_* */
    uint32_t reserved;
};

struct papyra__mf_slot {
    _Atomic uint64_t live;
    _Atomic uint64_t base;
    uint8_t pad[PAPYRA__MF_SLOT_SIZE - 16];
};

_Static_assert(sizeof(struct papyra__mf_header) == PAPYRA__MF_HEADER_SIZE, "header size");
_Static_assert(offsetof(struct papyra__mf_header, header_check) == 80, "header check offset");
_Static_assert(sizeof(struct papyra__mf_name) == PAPYRA__MF_NAME_SIZE, "name size");
_Static_assert(sizeof(struct papyra__mf_slot) == PAPYRA__MF_SLOT_SIZE, "slot size");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "shared counters need lock-free 64-bit atomics");

struct papyra_metrics {
    struct papyra__mf_header *hdr; /* mapped file or heap block */
    size_t size;
    bool shared;
    bool readonly;
    int backend;
    char *path;
    /* Per counter of our spec: where it lives (file slot or spare slot). */
    _Atomic uint64_t *live[PAPYRA_METRIC_COUNT];
    _Atomic uint64_t *base[PAPYRA_METRIC_COUNT];
    uint8_t state[PAPYRA_METRIC_COUNT];
    struct papyra__mf_slot *spare; /* private slots for counters the file lacks */
    uint64_t errgen;               /* tags this handle's messages (metrics.c); never reused */
};

typedef struct papyra__backend_desc {
    const char *id;
    const char *name;
    uint64_t mask; /* bit per supported counter */
} papyra__backend_desc;

/* The vocabulary of counts.by: what each fact means and which operations report it. */
typedef struct papyra__fact_desc {
    const char *name;    /* "records_stored" */
    const char *meaning; /* one line */
    uint32_t operations; /* bit per PAPYRA_OPERATION_* that reports it */
} papyra__fact_desc;

/*
 * One counting rule of the spec: on its operation, counter @c counter moves
 * by the operation's fact @c fact, on the calls @c when selects.
 */
typedef struct papyra__count_rule {
    uint16_t counter; /* papyra_metric_id */
    uint8_t fact;     /* papyra_count_by */
    uint8_t when;     /* papyra_count_when */
} papyra__count_rule;

/* One operation: its rules, papyra__count_rules[first .. first + count), and its facts. */
typedef struct papyra__op_desc {
    uint8_t op; /* its PAPYRA__OP_*: each file has a copy of the table, so not d - papyra__ops */
    uint16_t first;
    uint16_t count;
    uint32_t facts;                     /* bit per papyra_count_by that the operation reports */
    uint32_t end_facts;                 /* bit per fact that a success or failure rule counts */
    uint64_t always[PAPYRA_FACT_COUNT]; /* per fact: bit per counter an always-rule moves */
    bool on_success;                    /* whether any rule counts on success */
    bool on_failure;                    /* and on failure */
} papyra__op_desc;

extern const papyra_metric_info papyra__metric_info[PAPYRA_METRIC_COUNT];
extern const papyra__backend_desc papyra__backends[PAPYRA_BACKEND_COUNT];
extern const papyra__fact_desc papyra__facts[PAPYRA_FACT_COUNT];
/* The operation ids, papyra__ops[] and PAPYRA__RULE_COUNT, generated from the spec. */
#include "metrics-inc-gen.h"

extern const papyra__count_rule papyra__count_rules[PAPYRA__RULE_COUNT];

/* The increment on every hot path: one relaxed atomic add. */
static inline void
papyra__metrics_add(papyra_metrics *m, int id, uint64_t n)
{
    atomic_fetch_add_explicit(m->live[id], n, memory_order_relaxed);
}

/*
 * The spec hash of a name table, as codegen/gen.py computes it for the spec:
 * FNV-1a 64 of "papyra-metrics-layout/<version>\n" and each name plus "\n".
 */
uint64_t papyra__metrics_names_hash(const struct papyra__mf_name *names, uint32_t count);

#endif /* PAPYRA_METRICS_PRIVATE_H */
