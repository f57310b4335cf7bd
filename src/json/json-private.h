/* SPDX-License-Identifier: MIT */
/*
 * Layout of JSON values and the arena that holds them, shared by json.c,
 * parse.c and write.c only. Everything else goes through json.h.
 *
 * A tree lives in an arena: a list of malloc'd chunks carved up by a bump
 * allocator. Containers store their children inline (an array of nodes, or
 * of key/node pairs), so a parsed record line costs one or two malloc calls
 * and freeing a tree is a walk over its chunks, not over its nodes.
 */
#ifndef PAPYRA_JSON_PRIVATE_H
#define PAPYRA_JSON_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json/json.h"

typedef struct papyra_json_member papyra_json_member;

struct papyra_json {
    papyra_json_type type;
    union {
        int64_t i;
        double f;
        struct {
            char *p; /* NUL-terminated; n does not count the terminator. */
            size_t n;
        } s; /* STRING and BIGINT */
        struct {
            papyra_json *items;
            size_t n;
            size_t cap;
        } a;
        struct {
            papyra_json_member *m;
            size_t n;
            size_t cap;
        } o;
    } u;
};

struct papyra_json_member {
    char *key; /* NUL-terminated; keylen does not count the terminator. */
    size_t keylen;
    papyra_json value;
};

typedef struct papyra_json_chunk {
    struct papyra_json_chunk *next;
    size_t cap;  /* Usable bytes after the header. */
    size_t used; /* Bytes handed out so far. */
} papyra_json_chunk;

typedef struct papyra_json_arena {
    papyra_json_chunk *head; /* Chunk that small allocations come from. */
    papyra_json_chunk *tail; /* Last chunk, so that arenas can be joined. */
    size_t next_cap;         /* Size of the next chunk to allocate. */
} papyra_json_arena;

/* The first thing in a root's first chunk: the arena and the root value. */
typedef struct papyra_json_root {
    papyra_json_arena arena;
    papyra_json value;
} papyra_json_root;

/* Alignment of nodes and member arrays inside a chunk. */
#define PAPYRA_JSON_ALIGN _Alignof(papyra_json_member)

/*
 * The containers open above the value a walk is at, and for each the index
 * of the next child to visit: the explicit stack that lets write and clone
 * walk a tree of any depth without recursion (on the heap beyond a few
 * levels). dst is the walk's own per-container pointer (clone: the copy).
 */
typedef struct papyra_json_cursor {
    const papyra_json *v;
    size_t i;
    papyra_json *dst;
} papyra_json_cursor;

#define PAPYRA_JSON_PATH_INLINE 32

typedef struct papyra_json_path {
    papyra_json_cursor *c;
    size_t len;
    size_t cap;
    papyra_json_cursor inline_c[PAPYRA_JSON_PATH_INLINE];
} papyra_json_path;

/* Starts an empty path. */
void papyra__json_path_init(papyra_json_path *p);

/* Opens container v (its next child: 0). Returns 0 or PAPYRA_ENOMEM. */
int papyra__json_path_push(papyra_json_path *p, const papyra_json *v, papyra_json *dst);

/* Releases what the path allocated. */
void papyra__json_path_free(papyra_json_path *p);

/* Whether v is an array or object with at least one child. */
bool papyra__json_has_children(const papyra_json *v);

/*
 * Creates a root of type NULL whose first chunk has at least room_hint free
 * bytes after the root itself. Returns NULL when memory runs out.
 */
papyra_json *papyra__json_root_new(size_t room_hint);

/* The arena of a root value. */
papyra_json_arena *papyra__json_arena_of(papyra_json *root);

/* Bump-allocates size bytes aligned to align (a power of two); NULL on OOM. */
void *papyra__json_arena_alloc(papyra_json_arena *a, size_t size, size_t align);

/*
 * Gives back the end of the most recent allocation p, shrinking it from
 * old_size to new_size bytes, when it is still at the top of the head chunk.
 */
void papyra__json_arena_trim(papyra_json_arena *a, void *p, size_t old_size, size_t new_size);

/* Copies n bytes plus a NUL terminator into the arena; NULL on OOM. */
char *papyra__json_arena_strdup(papyra_json_arena *a, const char *s, size_t n);

/*
 * Converts the decimal number int_digits.frac_digits * 10^exp10 (digits only,
 * either part may be empty) to the nearest double, independently of the C
 * locale. exp10 must lie within +-1e15. Returns 0 or PAPYRA_ENOMEM.
 */
int papyra__json_decimal_to_double(bool neg,
                                   const char *int_digits,
                                   size_t n_int,
                                   const char *frac_digits,
                                   size_t n_frac,
                                   int64_t exp10,
                                   double *ret);

#endif /* PAPYRA_JSON_PRIVATE_H */
