/* SPDX-License-Identifier: MIT */
/*
 * JSON values: the arena, UTF-8 and decimal helpers, constructors,
 * modifiers, accessors and cloning. Parsing is in parse.c and writing in
 * write.c.
 */
#include "json/json.h"

#include <errno.h>
#include <float.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/common.h>

#include "json/json-private.h"

/* Chunk headers are padded so that chunk data is aligned for any type. */
#define CHUNK_HDR \
    ((sizeof(papyra_json_chunk) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))
#define CHUNK_DATA(c) ((unsigned char *)(c) + CHUNK_HDR)

/* Growth bounds of an arena's chunks. */
#define ARENA_MIN_CHUNK 256
#define ARENA_MAX_CHUNK ((size_t)1 << 20)

/* Initial capacity of a container built with papyra__json_new_array/object. */
#define CONTAINER_MIN_CAP 4

static papyra_json_chunk *
chunk_new(size_t cap)
{
    papyra_json_chunk *c;

    if (cap > SIZE_MAX - CHUNK_HDR)
        return NULL;
    c = malloc(CHUNK_HDR + cap);
    if (!c)
        return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

papyra_json *
papyra__json_root_new(size_t room_hint)
{
    papyra_json_chunk *c;
    papyra_json_root *root;
    size_t cap;

    if (room_hint > SIZE_MAX - CHUNK_HDR - sizeof(*root))
        return NULL;
    cap = sizeof(*root) + room_hint;
    c = chunk_new(cap);
    if (!c)
        return NULL;
    root = (papyra_json_root *)(void *)CHUNK_DATA(c);
    c->used = sizeof(*root);
    root->arena.head = c;
    root->arena.tail = c;
    root->arena.next_cap = cap < ARENA_MIN_CHUNK ? ARENA_MIN_CHUNK : cap;
    if (root->arena.next_cap > ARENA_MAX_CHUNK)
        root->arena.next_cap = ARENA_MAX_CHUNK;
    memset(&root->value, 0, sizeof(root->value));
    root->value.type = PAPYRA_JSON_NULL;
    return &root->value;
}

papyra_json_arena *
papyra__json_arena_of(papyra_json *root)
{
    return &((papyra_json_root *)(void *)((char *)root - offsetof(papyra_json_root, value)))->arena;
}

void *
papyra__json_arena_alloc(papyra_json_arena *a, size_t size, size_t align)
{
    papyra_json_chunk *c = a->head;
    size_t off = (c->used + align - 1) & ~(align - 1);

    if (off <= c->cap && size <= c->cap - off) {
        c->used = off + size;
        return CHUNK_DATA(c) + off;
    }

    if (size >= a->next_cap / 2) {
        /*
         * A large block gets a chunk of its own, linked behind the head, so
         * that the free space left in the head is not abandoned.
         */
        c = chunk_new(size);
        if (!c)
            return NULL;
        c->used = size;
        c->next = a->head->next;
        a->head->next = c;
        if (a->tail == a->head)
            a->tail = c;
        return CHUNK_DATA(c);
    }

    c = chunk_new(a->next_cap);
    if (!c)
        return NULL;
    if (a->next_cap < ARENA_MAX_CHUNK)
        a->next_cap *= 2;
    c->next = a->head;
    a->head = c;
    c->used = size;
    return CHUNK_DATA(c);
}

void
papyra__json_arena_trim(papyra_json_arena *a, void *p, size_t old_size, size_t new_size)
{
    papyra_json_chunk *c = a->head;

    if ((unsigned char *)p + old_size == CHUNK_DATA(c) + c->used)
        c->used -= old_size - new_size;
}

char *
papyra__json_arena_strdup(papyra_json_arena *a, const char *s, size_t n)
{
    char *d;

    if (n == SIZE_MAX)
        return NULL;
    d = papyra__json_arena_alloc(a, n + 1, 1);
    if (!d)
        return NULL;
    if (n > 0)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Moves every chunk of src behind the head of dst; src must not be used again. */
static void
arena_absorb(papyra_json_arena *dst, papyra_json_arena *src)
{
    papyra_json_chunk *head = src->head, *tail = src->tail;

    tail->next = dst->head->next;
    dst->head->next = head;
    if (dst->tail == dst->head)
        dst->tail = tail;
}

void
papyra__json_free(papyra_json *v)
{
    papyra_json_chunk *c, *next;

    if (!v)
        return;
    /* The root lives in one of the chunks, so read the list head first. */
    c = papyra__json_arena_of(v)->head;
    while (c) {
        next = c->next;
        free(c);
        c = next;
    }
}

/* Powers of ten that doubles hold exactly. */
static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

int
papyra__json_decimal_to_double(bool neg,
                               const char *int_digits,
                               size_t n_int,
                               const char *frac_digits,
                               size_t n_frac,
                               int64_t exp10,
                               double *ret)
{
    char small[128], *text;
    uint64_t m = 0;
    size_t i, nsig = 0, len;
    int64_t e = exp10 - (int64_t)n_frac;
    int saved_errno;
    double d;

    /*
     * Fast path (Clinger): up to 15 significant digits and a power of ten
     * up to 1e22 are both exact doubles, so one multiplication or division
     * rounds correctly. It needs arithmetic in plain double precision.
     */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    for (i = 0; i < n_int + n_frac && nsig <= 15; i++) {
        char c = i < n_int ? int_digits[i] : frac_digits[i - n_int];

        if (nsig > 0 || c != '0') {
            m = m * 10 + (uint64_t)(c - '0');
            nsig++;
        }
    }
    if (nsig <= 15 && e >= -22 && e <= 22) {
        d = (double)m;
        d = e >= 0 ? d * pow10_exact[e] : d / pow10_exact[-e];
        *ret = neg ? -d : d;
        return 0;
    }
#else
    (void)m;
    (void)nsig;
    (void)pow10_exact;
#endif

    /*
     * Otherwise let strtod() round, giving it the digits without a decimal
     * point ("-123456e-3") so that the C locale's radix character is moot.
     */
    len = 1 + n_int + n_frac + 32;
    text = len <= sizeof(small) ? small : malloc(len);
    if (!text)
        return PAPYRA_ENOMEM;
    i = 0;
    if (neg)
        text[i++] = '-';
    if (n_int + n_frac == 0)
        text[i++] = '0';
    if (n_int > 0)
        memcpy(text + i, int_digits, n_int);
    i += n_int;
    if (n_frac > 0)
        memcpy(text + i, frac_digits, n_frac);
    i += n_frac;
    snprintf(text + i, len - i, "e%lld", (long long)e);
    saved_errno = errno;
    d = strtod(text, NULL);
    errno = saved_errno;
    if (text != small)
        free(text);
    *ret = d;
    return 0;
}

static papyra_json *
new_scalar(papyra_json_type type)
{
    papyra_json *v = papyra__json_root_new(0);

    if (v)
        v->type = type;
    return v;
}

papyra_json *
papyra__json_new_null(void)
{
    return new_scalar(PAPYRA_JSON_NULL);
}

papyra_json *
papyra__json_new_bool(bool b)
{
    return new_scalar(b ? PAPYRA_JSON_TRUE : PAPYRA_JSON_FALSE);
}

papyra_json *
papyra__json_new_int(int64_t i)
{
    papyra_json *v = new_scalar(PAPYRA_JSON_INT);

    if (v)
        v->u.i = i;
    return v;
}

papyra_json *
papyra__json_new_float(double d)
{
    papyra_json *v = new_scalar(PAPYRA_JSON_FLOAT);

    if (v)
        v->u.f = d;
    return v;
}

static papyra_json *
new_text(papyra_json_type type, const char *s, size_t n)
{
    papyra_json *v;

    if (n >= SIZE_MAX - 1)
        return NULL;
    v = papyra__json_root_new(n + 1);
    if (!v)
        return NULL;
    v->u.s.p = papyra__json_arena_strdup(papyra__json_arena_of(v), s, n);
    if (!v->u.s.p) {
        papyra__json_free(v);
        return NULL;
    }
    v->u.s.n = n;
    v->type = type;
    return v;
}

papyra_json *
papyra__json_new_string(const char *s, size_t n)
{
    if (!s && n > 0)
        return NULL;
    return new_text(PAPYRA_JSON_STRING, s, n);
}

papyra_json *
papyra__json_new_bigint(const char *digits, size_t n)
{
    size_t i = 0;

    if (!digits)
        return NULL;
    if (i < n && digits[i] == '-')
        i++;
    if (i == n || (digits[i] == '0' && n - i > 1))
        return NULL;
    for (; i < n; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return NULL;
    }
    return new_text(PAPYRA_JSON_BIGINT, digits, n);
}

papyra_json *
papyra__json_new_array(void)
{
    papyra_json *v = papyra__json_root_new(CONTAINER_MIN_CAP * sizeof(papyra_json));
    papyra_json *items;

    if (!v)
        return NULL;
    items = papyra__json_arena_alloc(papyra__json_arena_of(v),
                                     CONTAINER_MIN_CAP * sizeof(papyra_json), PAPYRA_JSON_ALIGN);
    v->type = PAPYRA_JSON_ARRAY;
    v->u.a.items = items;
    v->u.a.n = 0;
    v->u.a.cap = items ? CONTAINER_MIN_CAP : 0;
    return v;
}

papyra_json *
papyra__json_new_object(void)
{
    papyra_json *v = papyra__json_root_new(CONTAINER_MIN_CAP * sizeof(papyra_json_member));
    papyra_json_member *m;

    if (!v)
        return NULL;
    m = papyra__json_arena_alloc(papyra__json_arena_of(v),
                                 CONTAINER_MIN_CAP * sizeof(papyra_json_member), PAPYRA_JSON_ALIGN);
    v->type = PAPYRA_JSON_OBJECT;
    v->u.o.m = m;
    v->u.o.n = 0;
    v->u.o.cap = m ? CONTAINER_MIN_CAP : 0;
    return v;
}

/*
 * Makes room for one more element in an array of *cap elements of size
 * elem, n of them used. Old storage stays in the arena until the root dies.
 */
static int
grow(papyra_json_arena *a, void **elems, size_t n, size_t *cap, size_t elem)
{
    size_t ncap;
    void *p;

    if (n < *cap)
        return 0;
    ncap = *cap < CONTAINER_MIN_CAP ? CONTAINER_MIN_CAP : *cap * 2;
    if (ncap > SIZE_MAX / elem)
        return PAPYRA_ENOMEM;
    p = papyra__json_arena_alloc(a, ncap * elem, PAPYRA_JSON_ALIGN);
    if (!p)
        return PAPYRA_ENOMEM;
    if (n > 0)
        memcpy(p, *elems, n * elem);
    *elems = p;
    *cap = ncap;
    return 0;
}

int
papyra__json_array_append(papyra_json *arr, papyra_json *item)
{
    papyra_json_arena *a;
    void *items;
    int r;

    if (!item)
        return PAPYRA_EINVAL;
    if (item == arr)
        return PAPYRA_EINVAL;
    if (!arr || arr->type != PAPYRA_JSON_ARRAY) {
        papyra__json_free(item);
        return PAPYRA_EINVAL;
    }
    a = papyra__json_arena_of(arr);
    items = arr->u.a.items;
    r = grow(a, &items, arr->u.a.n, &arr->u.a.cap, sizeof(papyra_json));
    if (r < 0) {
        papyra__json_free(item);
        return r;
    }
    arr->u.a.items = items;
    arr->u.a.items[arr->u.a.n++] = *item;
    arena_absorb(a, papyra__json_arena_of(item));
    return 0;
}

static papyra_json_member *
find_member(const papyra_json *obj, const char *key, size_t keylen)
{
    size_t i;

    for (i = 0; i < obj->u.o.n; i++) {
        papyra_json_member *m = &obj->u.o.m[i];

        if (m->keylen == keylen && (keylen == 0 || memcmp(m->key, key, keylen) == 0))
            return m;
    }
    return NULL;
}

int
papyra__json_object_set(papyra_json *obj, const char *key, size_t keylen, papyra_json *item)
{
    papyra_json_arena *a;
    papyra_json_member *m;
    void *members;
    int r;

    if (!item)
        return PAPYRA_EINVAL;
    if (item == obj)
        return PAPYRA_EINVAL;
    if (!obj || obj->type != PAPYRA_JSON_OBJECT || (!key && keylen > 0)) {
        papyra__json_free(item);
        return PAPYRA_EINVAL;
    }
    a = papyra__json_arena_of(obj);
    m = find_member(obj, key, keylen);
    if (!m) {
        char *k = papyra__json_arena_strdup(a, key, keylen);

        members = obj->u.o.m;
        r = k ? grow(a, &members, obj->u.o.n, &obj->u.o.cap, sizeof(*m)) : PAPYRA_ENOMEM;
        if (r < 0) {
            papyra__json_free(item);
            return r;
        }
        obj->u.o.m = members;
        m = &obj->u.o.m[obj->u.o.n++];
        m->key = k;
        m->keylen = keylen;
    }
    m->value = *item;
    arena_absorb(a, papyra__json_arena_of(item));
    return 0;
}

void
papyra__json_path_init(papyra_json_path *p)
{
    p->c = p->inline_c;
    p->len = 0;
    p->cap = PAPYRA_JSON_PATH_INLINE;
}

int
papyra__json_path_push(papyra_json_path *p, const papyra_json *v, papyra_json *dst)
{
    if (p->len == p->cap) {
        size_t cap = p->cap * 2;
        papyra_json_cursor *c;

        if (cap > SIZE_MAX / sizeof(*c))
            return PAPYRA_ENOMEM;
        c = p->c == p->inline_c ? malloc(cap * sizeof(*c)) : realloc(p->c, cap * sizeof(*c));
        if (!c)
            return PAPYRA_ENOMEM;
        if (p->c == p->inline_c)
            memcpy(c, p->inline_c, sizeof(p->inline_c));
        p->c = c;
        p->cap = cap;
    }
    p->c[p->len++] = (papyra_json_cursor){.v = v, .i = 0, .dst = dst};
    return 0;
}

void
papyra__json_path_free(papyra_json_path *p)
{
    if (p->c != p->inline_c)
        free(p->c);
    papyra__json_path_init(p);
}

bool
papyra__json_has_children(const papyra_json *v)
{
    return (v->type == PAPYRA_JSON_ARRAY && v->u.a.n > 0) ||
           (v->type == PAPYRA_JSON_OBJECT && v->u.o.n > 0);
}

/* Child i of a container (an array's element or an object member's value). */
static const papyra_json *
child_at(const papyra_json *v, size_t i)
{
    return v->type == PAPYRA_JSON_OBJECT ? &v->u.o.m[i].value : &v->u.a.items[i];
}

static size_t
children(const papyra_json *v)
{
    return v->type == PAPYRA_JSON_OBJECT ? v->u.o.n : v->u.a.n;
}

/* The bytes a copy of v alone needs in an arena (its children not counted). */
static size_t
own_size(const papyra_json *v)
{
    const size_t align = PAPYRA_JSON_ALIGN;
    size_t total, i;

    switch (v->type) {
    case PAPYRA_JSON_STRING:
    case PAPYRA_JSON_BIGINT:
        return v->u.s.n + 1;
    case PAPYRA_JSON_ARRAY:
        return v->u.a.n * sizeof(papyra_json) + align;
    case PAPYRA_JSON_OBJECT:
        total = v->u.o.n * sizeof(papyra_json_member) + align;
        for (i = 0; i < v->u.o.n; i++)
            total += v->u.o.m[i].keylen + 1;
        return total;
    default:
        return 0;
    }
}

/*
 * Copies v alone into dst, taking storage from a: its string, or its child
 * array with the keys (the children themselves are copied by the walk).
 * Returns false on OOM.
 */
static bool
copy_node(papyra_json_arena *a, const papyra_json *v, papyra_json *dst)
{
    size_t i, n;

    *dst = *v;
    switch (v->type) {
    case PAPYRA_JSON_STRING:
    case PAPYRA_JSON_BIGINT:
        dst->u.s.p = papyra__json_arena_strdup(a, v->u.s.p, v->u.s.n);
        return dst->u.s.p != NULL;
    case PAPYRA_JSON_ARRAY:
        n = v->u.a.n;
        dst->u.a.cap = n;
        dst->u.a.items = papyra__json_arena_alloc(a, n * sizeof(papyra_json), PAPYRA_JSON_ALIGN);
        return dst->u.a.items != NULL;
    case PAPYRA_JSON_OBJECT:
        n = v->u.o.n;
        dst->u.o.cap = n;
        dst->u.o.m = papyra__json_arena_alloc(a, n * sizeof(papyra_json_member), PAPYRA_JSON_ALIGN);
        if (!dst->u.o.m)
            return false;
        for (i = 0; i < n; i++) {
            papyra_json_member *m = &dst->u.o.m[i];

            m->keylen = v->u.o.m[i].keylen;
            m->key = papyra__json_arena_strdup(a, v->u.o.m[i].key, m->keylen);
            if (!m->key)
                return false;
        }
        return true;
    default:
        return true;
    }
}

/*
 * Visits every value of the tree at v in document order, without recursion:
 * with a NULL arena it adds up the bytes a copy needs in *size, otherwise it
 * copies each value into the arena, v itself into dst.
 */
static int
clone_walk(const papyra_json *v, papyra_json_arena *a, papyra_json *dst, size_t *size)
{
    papyra_json_path path;
    papyra_json_cursor *top;
    int r = 0;

    papyra__json_path_init(&path);
    for (;;) {
        if (a && !copy_node(a, v, dst)) {
            r = PAPYRA_ENOMEM;
            break;
        }
        if (!a)
            *size += own_size(v);
        if (papyra__json_has_children(v) && (r = papyra__json_path_push(&path, v, dst)) < 0)
            break;
        /* The next value: the next child of the innermost container not yet done. */
        while (path.len > 0 && path.c[path.len - 1].i == children(path.c[path.len - 1].v))
            path.len--;
        if (path.len == 0)
            break;
        top = &path.c[path.len - 1];
        v = child_at(top->v, top->i);
        if (a)
            dst = (papyra_json *)child_at(top->dst, top->i);
        top->i++;
    }
    papyra__json_path_free(&path);
    return r;
}

int
papyra__json_clone(const papyra_json *v, papyra_json **ret)
{
    papyra_json *root;
    size_t size = 0;
    int r;

    if (!v || !ret)
        return PAPYRA_EINVAL;
    r = clone_walk(v, NULL, NULL, &size);
    if (r < 0)
        return r;
    /* One chunk sized for the whole copy, so cloning is a single malloc. */
    root = papyra__json_root_new(size);
    if (!root)
        return PAPYRA_ENOMEM;
    r = clone_walk(v, papyra__json_arena_of(root), root, NULL);
    if (r < 0) {
        papyra__json_free(root);
        return r;
    }
    *ret = root;
    return 0;
}

papyra_json_type
papyra__json_type(const papyra_json *v)
{
    return v ? v->type : PAPYRA_JSON_NULL;
}

int
papyra__json_get_bool(const papyra_json *v, bool *ret)
{
    if (!v || (v->type != PAPYRA_JSON_TRUE && v->type != PAPYRA_JSON_FALSE))
        return PAPYRA_EINVAL;
    *ret = v->type == PAPYRA_JSON_TRUE;
    return 0;
}

int
papyra__json_get_int(const papyra_json *v, int64_t *ret)
{
    if (!v || v->type != PAPYRA_JSON_INT)
        return PAPYRA_EINVAL;
    *ret = v->u.i;
    return 0;
}

int
papyra__json_get_float(const papyra_json *v, double *ret)
{
    if (!v || v->type != PAPYRA_JSON_FLOAT)
        return PAPYRA_EINVAL;
    *ret = v->u.f;
    return 0;
}

int
papyra__json_number_as_double(const papyra_json *v, double *ret)
{
    const char *p;
    bool neg;

    if (!v)
        return PAPYRA_EINVAL;
    switch (v->type) {
    case PAPYRA_JSON_INT:
        *ret = (double)v->u.i;
        return 0;
    case PAPYRA_JSON_FLOAT:
        *ret = v->u.f;
        return 0;
    case PAPYRA_JSON_BIGINT:
        p = v->u.s.p;
        neg = p[0] == '-';
        return papyra__json_decimal_to_double(neg, p + neg, v->u.s.n - neg, NULL, 0, 0, ret);
    default:
        return PAPYRA_EINVAL;
    }
}

const char *
papyra__json_string(const papyra_json *v, size_t *len)
{
    if (!v || v->type != PAPYRA_JSON_STRING)
        return NULL;
    if (len)
        *len = v->u.s.n;
    return v->u.s.p;
}

const char *
papyra__json_bigint_text(const papyra_json *v, size_t *len)
{
    if (!v || v->type != PAPYRA_JSON_BIGINT)
        return NULL;
    if (len)
        *len = v->u.s.n;
    return v->u.s.p;
}

size_t
papyra__json_array_len(const papyra_json *v)
{
    return v && v->type == PAPYRA_JSON_ARRAY ? v->u.a.n : 0;
}

const papyra_json *
papyra__json_array_get(const papyra_json *v, size_t i)
{
    if (!v || v->type != PAPYRA_JSON_ARRAY || i >= v->u.a.n)
        return NULL;
    return &v->u.a.items[i];
}

size_t
papyra__json_object_len(const papyra_json *v)
{
    return v && v->type == PAPYRA_JSON_OBJECT ? v->u.o.n : 0;
}

const papyra_json *
papyra__json_object_at(const papyra_json *v, size_t i, const char **key, size_t *keylen)
{
    const papyra_json_member *m;

    if (!v || v->type != PAPYRA_JSON_OBJECT || i >= v->u.o.n)
        return NULL;
    m = &v->u.o.m[i];
    if (key)
        *key = m->key;
    if (keylen)
        *keylen = m->keylen;
    return &m->value;
}

const papyra_json *
papyra__json_object_getn(const papyra_json *v, const char *key, size_t keylen)
{
    const papyra_json_member *m;

    if (!v || v->type != PAPYRA_JSON_OBJECT || (!key && keylen > 0))
        return NULL;
    m = find_member(v, key, keylen);
    return m ? &m->value : NULL;
}

const papyra_json *
papyra__json_object_get(const papyra_json *v, const char *key)
{
    if (!key)
        return NULL;
    return papyra__json_object_getn(v, key, strlen(key));
}
