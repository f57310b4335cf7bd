/* SPDX-License-Identifier: MIT */
/*
 * The JSON parser: Python's json.loads() acceptance rules, building a tree in
 * one arena. Children of a container being parsed are collected on a scratch
 * stack and copied into the arena, exactly sized, when the container closes.
 */
#include <math.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/common.h>

#include "json/json-private.h"
#include "json/json.h"
#include "util/utf8.h"

/* Objects with this many members get a hash index for duplicate detection. */
#define INDEX_THRESHOLD 16

/* Bytes of scratch stack kept on the C stack before moving to the heap. */
#define SCRATCH_INLINE 4096

/* Exponents are clamped here; beyond it every value is 0 or infinite anyway. */
#define EXP_CLAMP 100000000

typedef struct parser {
    const unsigned char *p;
    const unsigned char *end;
    papyra_json_arena *arena;
    unsigned char *stack; /* Scratch for the children of open containers. */
    size_t stack_len;
    size_t stack_cap;
    bool stack_on_heap;
    const unsigned char *start; /* The first byte of the input, for offsets. */
    const char *why;            /* Why the input was refused (first reason wins). */
    size_t why_at;              /* Where: the offset of the offending byte. */
} parser;

/* Records why the input is refused at @p at, and returns PAPYRA_ECORRUPT. */
static int
bad(parser *ps, const unsigned char *at, const char *why)
{
    if (!ps->why) {
        ps->why = why;
        ps->why_at = (size_t)(at - ps->start);
    }
    return PAPYRA_ECORRUPT;
}

/* Byte classes inside strings: what stops the fast scan of plain bytes. */
enum { CH_PLAIN = 0, CH_QUOTE, CH_ESCAPE, CH_CONTROL, CH_HIGH };

#define C16                                                                                 \
    CH_CONTROL, CH_CONTROL, CH_CONTROL, CH_CONTROL, CH_CONTROL, CH_CONTROL, CH_CONTROL,     \
        CH_CONTROL, CH_CONTROL, CH_CONTROL, CH_CONTROL, CH_CONTROL, CH_CONTROL, CH_CONTROL, \
        CH_CONTROL, CH_CONTROL
#define H16                                                                                   \
    CH_HIGH, CH_HIGH, CH_HIGH, CH_HIGH, CH_HIGH, CH_HIGH, CH_HIGH, CH_HIGH, CH_HIGH, CH_HIGH, \
        CH_HIGH, CH_HIGH, CH_HIGH, CH_HIGH, CH_HIGH, CH_HIGH
/* clang-format off */
static const unsigned char char_class[256] = {
    C16, C16,                                          /* 0x00-0x1f */
    ['"'] = CH_QUOTE,
    ['\\'] = CH_ESCAPE,
    [0x80] = H16, H16, H16, H16, H16, H16, H16, H16,   /* 0x80-0xff */
};
/* clang-format on */
#undef C16
#undef H16

static void
skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

/*
 * After an array element or object member: a ',' (1: another follows), the
 * closing @p close (0: the container ends), or anything else (an error).
 */
static int
next_in_container(parser *ps, char close)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        skip_ws(ps);
        return 1;
    }
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    return bad(ps, ps->p, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
}

static int
stack_push(parser *ps, const void *item, size_t size)
{
    if (size > ps->stack_cap - ps->stack_len) {
        size_t cap = ps->stack_cap;
        unsigned char *s;

        while (size > cap - ps->stack_len) {
            if (cap > SIZE_MAX / 2)
                return PAPYRA_ENOMEM;
            cap *= 2;
        }
        if (ps->stack_on_heap) {
            s = realloc(ps->stack, cap);
        } else {
            s = malloc(cap);
            if (s)
                memcpy(s, ps->stack, ps->stack_len);
        }
        if (!s)
            return PAPYRA_ENOMEM;
        ps->stack = s;
        ps->stack_cap = cap;
        ps->stack_on_heap = true;
    }
    memcpy(ps->stack + ps->stack_len, item, size);
    ps->stack_len += size;
    return 0;
}

/* Moves the scratch entries above base into an exactly sized arena array. */
static void *
stack_pop_to_arena(parser *ps, size_t base)
{
    size_t size = ps->stack_len - base;
    void *p = papyra__json_arena_alloc(ps->arena, size, PAPYRA_JSON_ALIGN);

    if (p && size > 0)
        memcpy(p, ps->stack + base, size);
    ps->stack_len = base;
    return p;
}

static bool
match_literal(parser *ps, const char *lit, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static int
hex4(const unsigned char *p, uint32_t *ret)
{
    uint32_t v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        unsigned char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return PAPYRA_ECORRUPT;
    }
    *ret = v;
    return 0;
}

static char *
put_utf8(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        *d++ = (char)cp;
    } else if (cp < 0x800) {
        *d++ = (char)(0xc0 | (cp >> 6));
        *d++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        /* Lone surrogates land here too, giving their WTF-8 form. */
        *d++ = (char)(0xe0 | (cp >> 12));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *d++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *d++ = (char)(0xf0 | (cp >> 18));
        *d++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *d++ = (char)(0x80 | (cp & 0x3f));
    }
    return d;
}

/*
 * Decodes the escape at s (just after the backslash), which lies before end.
 * Writes its UTF-8 form at *d and returns the bytes consumed, or 0 if the
 * escape is invalid. A high surrogate escape directly followed by a low one
 * makes one code point, as in Python; any other surrogate stays alone.
 */
static size_t
decode_escape(const unsigned char *s, const unsigned char *end, char **d)
{
    static const char simple_in[] = "\"\\/bfnrt";
    static const char simple_out[] = "\"\\/\b\f\n\r\t";
    const char *hit;
    uint32_t cp, lo;

    if (*s != 'u') {
        hit = *s ? strchr(simple_in, *s) : NULL;
        if (!hit)
            return 0;
        *(*d)++ = simple_out[hit - simple_in];
        return 1;
    }
    if (end - s < 5 || hex4(s + 1, &cp) < 0)
        return 0;
    if (cp >= 0xd800 && cp <= 0xdbff && end - s >= 11 && s[5] == '\\' && s[6] == 'u') {
        if (hex4(s + 7, &lo) < 0)
            return 0;
        if (lo >= 0xdc00 && lo <= 0xdfff) {
            *d = put_utf8(*d, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
            return 11;
        }
    }
    *d = put_utf8(*d, cp);
    return 5;
}

/*
 * Parses the string literal at ps->p into the arena. The first pass finds the
 * closing quote and checks the raw bytes; escapes, if any, are decoded in a
 * second pass into a buffer of the raw size, then trimmed.
 */
static int
parse_string(parser *ps, char **ret, size_t *ret_len)
{
    const unsigned char *start = ps->p + 1, *s = start, *end = ps->end;
    bool escaped = false;
    size_t raw, k;
    uint32_t cp;
    char *out, *d;

    for (;;) {
        while (s < end && char_class[*s] == CH_PLAIN)
            s++;
        if (s == end)
            return bad(ps, ps->p, "unterminated string");
        switch (char_class[*s]) {
        case CH_QUOTE:
            goto closed;
        case CH_ESCAPE:
            /* Skip the escaped byte so that \" does not end the string. */
            escaped = true;
            if (end - s < 2)
                return bad(ps, ps->p, "unterminated string");
            s += 2;
            break;
        case CH_CONTROL:
            return bad(ps, s, "control character in string");
        default:
            k = papyra__utf8_decode(s, (size_t)(end - s), &cp, false);
            if (k == 0)
                return bad(ps, s, "invalid UTF-8 in string");
            s += k;
            break;
        }
    }

closed:
    raw = (size_t)(s - start);
    if (!escaped) {
        out = papyra__json_arena_strdup(ps->arena, (const char *)start, raw);
        if (!out)
            return PAPYRA_ENOMEM;
        *ret = out;
        *ret_len = raw;
        ps->p = s + 1;
        return 0;
    }

    out = papyra__json_arena_alloc(ps->arena, raw + 1, 1);
    if (!out)
        return PAPYRA_ENOMEM;
    d = out;
    for (const unsigned char *q = start; q < s;) {
        if (*q != '\\') {
            *d++ = (char)*q++;
            continue;
        }
        k = decode_escape(q + 1, s, &d);
        if (k == 0)
            return bad(ps, q, "invalid escape in string");
        q += 1 + k;
    }
    *d = '\0';
    papyra__json_arena_trim(ps->arena, out, raw + 1, (size_t)(d - out) + 1);
    *ret = out;
    *ret_len = (size_t)(d - out);
    ps->p = s + 1;
    return 0;
}

/* Reads an exponent's digits, saturating far beyond any meaningful value. */
static int64_t
read_exponent(const unsigned char *p, const unsigned char *end)
{
    bool neg = false;
    int64_t e = 0;

    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    for (; p < end; p++) {
        if (e < EXP_CLAMP)
            e = e * 10 + (*p - '0');
    }
    return neg ? -e : e;
}

static int
store_integer(
    parser *ps, const unsigned char *start, const unsigned char *digits, size_t n, papyra_json *out)
{
    static const char max_pos[] = "9223372036854775807";
    bool neg = start != digits;
    uint64_t u = 0;
    size_t i;

    if (n > PAPYRA_JSON_MAX_INT_DIGITS)
        return bad(ps, start, "integer with more than 4300 digits");
    if (n < 19 || (n == 19 && memcmp(digits, max_pos, 19) <= 0)) {
        for (i = 0; i < n; i++)
            u = u * 10 + (uint64_t)(digits[i] - '0');
        out->type = PAPYRA_JSON_INT;
        out->u.i = neg ? -(int64_t)u : (int64_t)u;
        return 0;
    }
    if (neg && n == 19 && memcmp(digits, "9223372036854775808", 19) == 0) {
        out->type = PAPYRA_JSON_INT;
        out->u.i = INT64_MIN;
        return 0;
    }
    out->u.s.n = (size_t)(digits + n - start);
    out->u.s.p = papyra__json_arena_strdup(ps->arena, (const char *)start, out->u.s.n);
    if (!out->u.s.p)
        return PAPYRA_ENOMEM;
    out->type = PAPYRA_JSON_BIGINT;
    return 0;
}

/*
 * Parses a number with the grammar of Python's scanner: -?(0|[1-9][0-9]*)
 * then an optional fraction and exponent. A '.' or 'e' not followed by
 * digits ends the number there, so the caller rejects what follows.
 */
static int
parse_number(parser *ps, papyra_json *out)
{
    const unsigned char *p = ps->p, *end = ps->end, *start = p;
    const unsigned char *int_start, *int_end, *frac_start = NULL, *frac_end = NULL;
    const unsigned char *exp_start = NULL, *exp_end = NULL, *q;
    int64_t exp10 = 0;
    bool neg = false;
    double d;
    int r;

    if (*p == '-') {
        neg = true;
        p++;
    }
    int_start = p;
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return bad(ps, start, "invalid number");
    }
    int_end = p;
    if (end - p >= 2 && *p == '.' && p[1] >= '0' && p[1] <= '9') {
        frac_start = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        frac_end = p;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        q = p + 1;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        if (q < end && *q >= '0' && *q <= '9') {
            exp_start = p + 1;
            while (q < end && *q >= '0' && *q <= '9')
                q++;
            exp_end = q;
            p = q;
        }
    }
    ps->p = p;

    if (!frac_start && !exp_start)
        return store_integer(ps, start, int_start, (size_t)(int_end - int_start), out);

    if (exp_start)
        exp10 = read_exponent(exp_start, exp_end);
    r = papyra__json_decimal_to_double(neg, (const char *)int_start, (size_t)(int_end - int_start),
                                       (const char *)frac_start,
                                       frac_start ? (size_t)(frac_end - frac_start) : 0, exp10, &d);
    if (r < 0)
        return r;
    out->type = PAPYRA_JSON_FLOAT;
    out->u.f = d;
    return 0;
}

/*
 * Hash index over the members of an object being parsed, built only for
 * large objects so that duplicate detection stays linear overall.
 */
typedef struct key_index {
    size_t *slots; /* Member index + 1; 0 marks an empty slot. */
    size_t mask;
} key_index;

static uint64_t
hash_key(const char *k, size_t n)
{
    uint64_t h = 14695981039346656037u;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211u;
    }
    return h;
}

static papyra_json_member *
member_at(parser *ps, size_t base, size_t i)
{
    return (papyra_json_member *)(void *)(ps->stack + base + i * sizeof(papyra_json_member));
}

static void
index_insert(key_index *ix, parser *ps, size_t base, size_t i)
{
    const papyra_json_member *m = member_at(ps, base, i);
    size_t slot = (size_t)hash_key(m->key, m->keylen) & ix->mask;

    while (ix->slots[slot] != 0)
        slot = (slot + 1) & ix->mask;
    ix->slots[slot] = i + 1;
}

/* (Re)builds the index for n members with room for as many again. */
static int
index_build(key_index *ix, parser *ps, size_t base, size_t n)
{
    size_t cap = 64, i;
    size_t *slots;

    while (cap < 4 * n) {
        if (cap > SIZE_MAX / 2 / sizeof(size_t))
            return PAPYRA_ENOMEM;
        cap *= 2;
    }
    slots = calloc(cap, sizeof(size_t));
    if (!slots)
        return PAPYRA_ENOMEM;
    free(ix->slots);
    ix->slots = slots;
    ix->mask = cap - 1;
    for (i = 0; i < n; i++)
        index_insert(ix, ps, base, i);
    return 0;
}

/* Finds key among the n members above base: stores its index or SIZE_MAX. */
static int
find_key(
    parser *ps, size_t base, size_t n, key_index *ix, const char *key, size_t keylen, size_t *found)
{
    const papyra_json_member *m;
    size_t i, slot;
    int r;

    *found = SIZE_MAX;
    if (!ix->slots && n < INDEX_THRESHOLD) {
        for (i = 0; i < n; i++) {
            m = member_at(ps, base, i);
            if (m->keylen == keylen && memcmp(m->key, key, keylen) == 0) {
                *found = i;
                break;
            }
        }
        return 0;
    }
    if (!ix->slots || 2 * (n + 1) > ix->mask + 1) {
        r = index_build(ix, ps, base, n);
        if (r < 0)
            return r;
    }
    for (slot = (size_t)hash_key(key, keylen) & ix->mask; ix->slots[slot] != 0;
         slot = (slot + 1) & ix->mask) {
        m = member_at(ps, base, ix->slots[slot] - 1);
        if (m->keylen == keylen && memcmp(m->key, key, keylen) == 0) {
            *found = ix->slots[slot] - 1;
            break;
        }
    }
    return 0;
}

/* Adds member m to the n members above base: a repeated key keeps its first position. */
static int
add_member(parser *ps, size_t base, size_t *n, key_index *ix, const papyra_json_member *m)
{
    size_t found;
    int r = find_key(ps, base, *n, ix, m->key, m->keylen, &found);

    if (r < 0)
        return r;
    if (found != SIZE_MAX) {
        member_at(ps, base, found)->value = m->value;
        return 0;
    }
    r = stack_push(ps, m, sizeof(*m));
    if (r < 0)
        return r;
    if (ix->slots)
        index_insert(ix, ps, base, *n);
    (*n)++;
    return 0;
}

/* Parses a scalar (anything but an array or object) at ps->p. */
static int
parse_scalar(parser *ps, papyra_json *out)
{
    const unsigned char *at = ps->p;

    switch (*ps->p) {
    case '"':
        out->type = PAPYRA_JSON_STRING;
        return parse_string(ps, &out->u.s.p, &out->u.s.n);
    case 'n':
        out->type = PAPYRA_JSON_NULL;
        return match_literal(ps, "null", 4) ? 0 : bad(ps, at, "invalid literal");
    case 't':
        out->type = PAPYRA_JSON_TRUE;
        return match_literal(ps, "true", 4) ? 0 : bad(ps, at, "invalid literal");
    case 'f':
        out->type = PAPYRA_JSON_FALSE;
        return match_literal(ps, "false", 5) ? 0 : bad(ps, at, "invalid literal");
    case 'N':
        out->type = PAPYRA_JSON_FLOAT;
        out->u.f = NAN;
        return match_literal(ps, "NaN", 3) ? 0 : bad(ps, at, "invalid literal");
    case 'I':
        out->type = PAPYRA_JSON_FLOAT;
        out->u.f = INFINITY;
        return match_literal(ps, "Infinity", 8) ? 0 : bad(ps, at, "invalid literal");
    case '-':
        if (match_literal(ps, "-Infinity", 9)) {
            out->type = PAPYRA_JSON_FLOAT;
            out->u.f = -INFINITY;
            return 0;
        }
        return parse_number(ps, out);
    default:
        if (*ps->p >= '0' && *ps->p <= '9')
            return parse_number(ps, out);
        return bad(ps, at, "expected a value");
    }
}

/*
 * One open array or object. The parse is a loop over an explicit stack of
 * these (on the heap beyond a few levels), never a recursion, so nesting is
 * bounded by memory alone: Python's json reads what its recursion limit
 * allows, which an application can raise, and a line upstream reads must
 * never look corrupt here.
 */
typedef struct frame {
    bool is_obj;
    size_t base;  /* scratch offset where its children start */
    size_t n;     /* members so far (objects) */
    key_index ix; /* duplicate-key index (large objects) */
    char *key;    /* key of the member whose value is being parsed */
    size_t keylen;
} frame;

/* Frames kept on the C stack before moving to the heap. */
#define FRAMES_INLINE 32

typedef struct frames {
    frame *f;
    size_t len, cap;
    frame inline_f[FRAMES_INLINE];
} frames;

static int
frames_push(frames *fs, bool is_obj, size_t base)
{
    if (fs->len == fs->cap) {
        size_t cap = fs->cap * 2;
        frame *f;

        if (cap > SIZE_MAX / sizeof(frame))
            return PAPYRA_ENOMEM;
        f = fs->f == fs->inline_f ? malloc(cap * sizeof(frame))
                                  : realloc(fs->f, cap * sizeof(frame));
        if (!f)
            return PAPYRA_ENOMEM;
        if (fs->f == fs->inline_f)
            memcpy(f, fs->inline_f, sizeof(fs->inline_f));
        fs->f = f;
        fs->cap = cap;
    }
    fs->f[fs->len++] = (frame){.is_obj = is_obj, .base = base};
    return 0;
}

/* Parses a member's key and its ':' into the top frame. */
static int
parse_key(parser *ps, frame *top)
{
    int r;

    if (ps->p == ps->end || *ps->p != '"')
        return bad(ps, ps->p, "expected a string key");
    r = parse_string(ps, &top->key, &top->keylen);
    if (r < 0)
        return r;
    skip_ws(ps);
    if (ps->p == ps->end || *ps->p != ':')
        return bad(ps, ps->p, "expected ':'");
    ps->p++;
    skip_ws(ps);
    return 0;
}

/* Closes the top frame into an exactly sized container in *out. */
static int
close_frame(parser *ps, frame *top, papyra_json *out)
{
    size_t n = top->is_obj ? top->n : (ps->stack_len - top->base) / sizeof(papyra_json);
    void *items;

    free(top->ix.slots);
    top->ix.slots = NULL;
    items = stack_pop_to_arena(ps, top->base);
    if (!items)
        return PAPYRA_ENOMEM;
    if (top->is_obj) {
        out->type = PAPYRA_JSON_OBJECT;
        out->u.o.m = items;
        out->u.o.n = out->u.o.cap = n;
    } else {
        out->type = PAPYRA_JSON_ARRAY;
        out->u.a.items = items;
        out->u.a.n = out->u.a.cap = n;
    }
    return 0;
}

/* Parses one value, however deeply nested, into *out. */
static int
parse_value(parser *ps, papyra_json *out)
{
    frames fs;
    papyra_json item;
    frame *top;
    size_t i;
    int r;

    fs.f = fs.inline_f;
    fs.len = 0;
    fs.cap = FRAMES_INLINE;
    for (;;) {
        /* A value starts here. */
        if (ps->p == ps->end) {
            r = bad(ps, ps->p, "expected a value");
            goto fail;
        }
        if (*ps->p == '{' || *ps->p == '[') {
            bool is_obj = *ps->p == '{';

            ps->p++;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == (is_obj ? '}' : ']')) {
                ps->p++;
                memset(&item, 0, sizeof(item));
                item.type = is_obj ? PAPYRA_JSON_OBJECT : PAPYRA_JSON_ARRAY;
            } else {
                r = frames_push(&fs, is_obj, ps->stack_len);
                if (r == 0 && is_obj)
                    r = parse_key(ps, &fs.f[fs.len - 1]);
                if (r < 0)
                    goto fail;
                continue;
            }
        } else {
            r = parse_scalar(ps, &item);
            if (r < 0)
                goto fail;
        }

        /* A complete value: it ends its containers as long as they close. */
        for (;;) {
            if (fs.len == 0) {
                if (fs.f != fs.inline_f)
                    free(fs.f);
                *out = item;
                return 0;
            }
            top = &fs.f[fs.len - 1];
            if (top->is_obj) {
                papyra_json_member m = {.key = top->key, .keylen = top->keylen, .value = item};

                r = add_member(ps, top->base, &top->n, &top->ix, &m);
            } else {
                r = stack_push(ps, &item, sizeof(item));
            }
            if (r == 0)
                r = next_in_container(ps, top->is_obj ? '}' : ']');
            if (r < 0)
                goto fail;
            if (r == 1)
                break;
            r = close_frame(ps, top, &item);
            fs.len--;
            if (r < 0)
                goto fail;
        }
        if (top->is_obj) {
            r = parse_key(ps, top);
            if (r < 0)
                goto fail;
        }
    }

fail:
    for (i = 0; i < fs.len; i++)
        free(fs.f[i].ix.slots);
    if (fs.len > 0)
        ps->stack_len = fs.f[0].base;
    if (fs.f != fs.inline_f)
        free(fs.f);
    return r;
}

int
papyra__json_parse_why(const char *buf, size_t len, papyra_json **ret, papyra__json_error *err)
{
    union {
        max_align_t align;
        unsigned char bytes[SCRATCH_INLINE];
    } scratch;
    parser ps;
    papyra_json *root, value;
    size_t hint;
    int r;

    if (err) {
        err->offset = 0;
        err->reason = NULL;
    }
    if (!ret || (!buf && len > 0))
        return PAPYRA_EINVAL;
    /* Nothing at all is not a document (and NULL + 0 is not defined). */
    if (len == 0) {
        if (err)
            err->reason = "empty text";
        return PAPYRA_ECORRUPT;
    }

    /*
     * A tree takes a few times the bytes of its text; size the first chunk
     * for that so a typical record line needs a single allocation.
     */
    hint = len < 16384 ? 4 * len + 256 : len + 65536;
    root = papyra__json_root_new(hint);
    if (!root)
        return PAPYRA_ENOMEM;

    ps.p = (const unsigned char *)buf;
    ps.end = ps.p + len;
    ps.arena = papyra__json_arena_of(root);
    ps.stack = scratch.bytes;
    ps.stack_len = 0;
    ps.stack_cap = sizeof(scratch.bytes);
    ps.stack_on_heap = false;
    ps.start = ps.p;
    ps.why = NULL;
    ps.why_at = 0;

    skip_ws(&ps);
    r = parse_value(&ps, &value);
    if (r == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            r = bad(&ps, ps.p, "extra data after the value");
    }
    if (ps.stack_on_heap)
        free(ps.stack);
    if (r < 0) {
        if (err && r == PAPYRA_ECORRUPT) {
            err->offset = ps.why_at;
            err->reason = ps.why ? ps.why : "invalid JSON";
        }
        papyra__json_free(root);
        return r;
    }
    *root = value;
    *ret = root;
    return 0;
}

int
papyra__json_parse(const char *buf, size_t len, papyra_json **ret)
{
    return papyra__json_parse_why(buf, len, ret, NULL);
}

int
papyra__json_parse_object(const char *buf, size_t len, papyra_json **obj)
{
    papyra_json *v = NULL;
    int r;

    *obj = NULL;
    if (len == 0)
        return 0;
    r = papyra__json_parse(buf, len, &v);
    if (r == PAPYRA_ENOMEM)
        return r;
    if (r < 0)
        return 0;
    if (papyra__json_type(v) != PAPYRA_JSON_OBJECT) {
        papyra__json_free(v);
        return 0;
    }
    *obj = v;
    return 1;
}
