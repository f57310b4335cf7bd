/* SPDX-License-Identifier: MIT */
/*
 * Records to upstream JSON lines and back. Encoding writes straight into the
 * output buffer (only JSON-text fields go through a tree, to be validated and
 * normalised); decoding reads a parsed tree.
 */
#include "record/codec.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/common.h>
#include <papyra/record.h>

#include "json/json.h"
#include "util/buf.h"
#include "util/utf8.h"

#define DEFAULT_SYSTEM_ID "local"

static const char *const kind_names[PAPYRA_KIND_MAX] = {
    [PAPYRA_KIND_EVENT] = "event",
    [PAPYRA_KIND_AUDIT] = "audit",
    [PAPYRA_KIND_DEAD_LETTER] = "dead_letter",
};

PAPYRA_PUBLIC const char *
papyra_kind_name(papyra_kind kind)
{
    if ((unsigned)kind >= PAPYRA_KIND_MAX)
        return NULL;
    return kind_names[kind];
}

/* State of one line being encoded. */
typedef struct encoder {
    papyra_buf *out;
    unsigned flags;            /* PAPYRA_JSON_ENSURE_ASCII or 0. */
    bool first;                /* No member written yet. */
    const char *field;         /* the key being written, for messages */
    size_t index;              /* its element (name lists), or SIZE_MAX */
    papyra__encode_error *err; /* may be NULL */
} encoder;

/* Explains a refusal of the current field: "field 'KEY[I]' " and the reason. */
static int refuse(encoder *e, int code, const char *fmt, ...) PAPYRA__PRINTF(3, 4);

static int
refuse(encoder *e, int code, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!e->err)
        return code;
    if (e->index == SIZE_MAX)
        n = snprintf(e->err->text, sizeof(e->err->text), "field '%s' ", e->field);
    else
        n = snprintf(e->err->text, sizeof(e->err->text), "field '%s[%zu]' ", e->field, e->index);
    if (n < 0 || (size_t)n >= sizeof(e->err->text))
        return code;
    va_start(ap, fmt);
    (void)vsnprintf(e->err->text + n, sizeof(e->err->text) - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

/* Writes the separator and "key": for a key that needs no escaping. */
static int
put_key(encoder *e, const char *key)
{
    size_t n = strlen(key), len;
    char *p;
    int r = papyra__buf_reserve(e->out, n + 6);

    /* One reservation, then the bytes: this runs for every field of every record. */
    if (r < 0)
        return r;
    e->field = key;
    e->index = SIZE_MAX;
    p = e->out->data + e->out->len;
    len = 0;
    if (!e->first) {
        p[len++] = ',';
        p[len++] = ' ';
    }
    e->first = false;
    p[len++] = '"';
    memcpy(p + len, key, n);
    len += n;
    p[len++] = '"';
    p[len++] = ':';
    p[len++] = ' ';
    e->out->len += len;
    e->out->data[e->out->len] = '\0';
    return 0;
}

static int
put_string_value(encoder *e, const char *s)
{
    size_t n = 0, bad;
    char *p;
    int r;

    if (!s)
        return refuse(e, PAPYRA_EINVAL, "is NULL (a string is required)");
    /* Printable ASCII without '"' or '\\' is written as it is in either style. */
    while (s[n] >= 0x20 && s[n] < 0x7f && s[n] != '"' && s[n] != '\\')
        n++;
    if (s[n] == '\0') {
        r = papyra__buf_reserve(e->out, n + 2);
        if (r < 0)
            return r;
        p = e->out->data + e->out->len;
        p[0] = '"';
        memcpy(p + 1, s, n);
        p[n + 1] = '"';
        e->out->len += n + 2;
        e->out->data[e->out->len] = '\0';
        return 0;
    }
    n += strlen(s + n);
    /* What the decoder produces (WTF-8) is what the encoder takes back. */
    bad = papyra__utf8_invalid_at(s, n, true);
    if (bad != n)
        return refuse(e, PAPYRA_EINVAL, "is not UTF-8 (invalid byte at offset %zu)", bad);
    return papyra__json_write_string(s, n, e->flags, e->out);
}

static int
put_string(encoder *e, const char *key, const char *s)
{
    int r = put_key(e, key);

    return r < 0 ? r : put_string_value(e, s);
}

static int
put_int(encoder *e, const char *key, int64_t i)
{
    int r = put_key(e, key);

    return r < 0 ? r : papyra__buf_appendf(e->out, "%lld", (long long)i);
}

/*
 * The normal-form check (see jsonl.h): whether parsing a JSON text and
 * writing the tree back would give the same bytes. Accepted: objects and
 * arrays with exactly the ", " and ": " separators and no other whitespace,
 * no duplicate keys, at most FAST_DEPTH deep; strings without \/ or \u
 * escapes, raw control characters or (with ensure_ascii) anything outside
 * printable ASCII, and only valid UTF-8; integers without leading zeros or
 * "-0", of at most 18 digits; floats exactly as repr() writes them;
 * true, false and null. Anything else is "not sure", and the caller takes
 * the general path.
 */
#define FAST_DEPTH 16
#define FAST_KEYS 32

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * The end of a normal-form string starting at p (after its '"'), or NULL;
 * @p end is the end of the text, before which it may read 16 bytes at a
 * time to skip what needs no look (SSE2): bytes other than '"', '\\',
 * controls and 0x7f and above.
 */
static inline const unsigned char *
fast_string(const unsigned char *p, const unsigned char *end, bool ascii, bool *hi)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20), top = _mm_set1_epi8(0x7e);
#endif

    for (;; p++) {
        unsigned char c;

#if defined(__SSE2__)
        while (p + 16 <= end) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i q = _mm_cmpeq_epi8(v, quote);
            /* Signed compares: 0x80..0xff are negative, below 0x20. */
            __m128i stop =
                _mm_or_si128(_mm_or_si128(q, _mm_cmpeq_epi8(v, bslash)),
                             _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpgt_epi8(v, top)));
            unsigned m = (unsigned)_mm_movemask_epi8(stop);

            if (m) {
                unsigned at = (unsigned)__builtin_ctz(m);

                p += at;
                /* The closing quote, told by its bit rather than by loading it again. */
                if ((unsigned)_mm_movemask_epi8(q) >> at & 1u)
                    return p;
                break;
            }
            p += 16;
        }
#else
        (void)end;
#endif
        c = *p;
        if (c == '"')
            break;
        if (c == '\\') {
            c = *++p;
            if (c != '"' && c != '\\' && c != 'n' && c != 'r' && c != 't' && c != 'b' && c != 'f')
                return NULL;
        } else if (c < 0x20) {
            return NULL; /* also the NUL or newline after the text */
        } else if (c >= 0x7f) {
            if (ascii)
                return NULL;
            *hi = true;
        }
    }
    return p;
}

/* Whether p starts with the literal word (compared byte by byte: p may end early). */
static bool
fast_word(const unsigned char *p, const char *word)
{
    for (; *word; word++, p++) {
        if (*p != (unsigned char)*word)
            return false;
    }
    return true;
}

/*
 * A float of more than 15 significant digits in fixed notation, [p, p + n):
 * normal exactly when the writer of every double writes its value back as
 * these bytes. 1 and *v its value, or 0.
 */
static int
slow_float(const unsigned char *p, size_t n, double *v)
{
    char tok[40], out[PAPYRA__JSON_DOUBLE_MAX], *end;
    double f;

    if (n >= sizeof(tok))
        return 0;
    memcpy(tok, p, n);
    tok[n] = '\0';
    f = strtod(tok, &end);
    *v = f;
    return end == tok + n && papyra__json_format_double(f, out) == n && memcmp(out, tok, n) == 0;
}

#if defined(__SIZEOF_INT128__)
/*
 * 16 or 17 significant digits m / 10^k (m < 10^17, 1 <= k <= 22, the last
 * digit not 0) in exact integers: 1 when they are repr() of the double they
 * read as (*v), 0 when they are not, -1 when this cannot tell (ties, the
 * bottom of a binade, values from 2^53 on) and the writer must be asked.
 * repr() writes the shortest digits that read back, the nearest to the
 * value among those: so these are repr() when they are the nearest n-digit
 * decimal and neither (n-1)-digit decimal around them reads back.
 * Everything is scaled by S = 2 * 10^k * 2^F (value M * 2^-F): the digits
 * are 2m * 2^F, the double 2M * 10^k, half its ulp 10^k, half a unit of
 * the last digit 2^F (at most 2^127 for values from 1e-4 on).
 */
static int
repr_digits(uint64_t m, int k, double *v)
{
    __extension__ typedef unsigned __int128 u128;
    static const uint64_t p10[] = {1u,
                                   10u,
                                   100u,
                                   1000u,
                                   10000u,
                                   100000u,
                                   1000000u,
                                   10000000u,
                                   100000000u,
                                   1000000000u,
                                   10000000000u,
                                   100000000000u,
                                   1000000000000u,
                                   10000000000000u,
                                   100000000000000u,
                                   1000000000000000u,
                                   10000000000000000u,
                                   100000000000000000u,
                                   1000000000000000000u,
                                   10000000000000000000u};
    u128 t, a, b, h, c, d;
    uint64_t mm = 0;
    int e = 0, f = 0, tries;
    double x;

    if (k > 19)
        return -1;
    t = p10[k];
    x = (double)m / (double)p10[k];
    for (tries = 0;; tries++) {
        if (tries == 4)
            return -1;
        /* x = mm * 2^-f, from its bits (x is a normal double here). */
        memcpy(&mm, &x, sizeof(mm));
        e = (int)(mm >> 52 & 0x7ff);
        mm = (mm & (((uint64_t)1 << 52) - 1)) | (uint64_t)1 << 52;
        f = 1075 - e;
        if (f < 1 || f > 70 || mm == (uint64_t)1 << 52)
            return -1;
        a = (u128)m << (f + 1);
        b = (u128)mm * t * 2;
        h = t;
        d = a > b ? a - b : b - a;
        if (d == h)
            return -1; /* halfway between two doubles */
        if (d < h)
            break;
        /* The next double up or down (x is positive and normal: its bits count). */
        memcpy(&mm, &x, sizeof(mm));
        mm = a > b ? mm + 1 : mm - 1;
        memcpy(&x, &mm, sizeof(x));
    }
    *v = x;
    /* The nearest decimal of these many digits (a tie: ask the writer). */
    if (d >= (u128)1 << f)
        return d == (u128)1 << f ? -1 : 0;
    /* No decimal of one digit less reads back. */
    for (int side = 0; side < 2; side++) {
        c = ((u128)(m / 10 + (uint64_t)side) * 10) << (f + 1);
        d = c > b ? c - b : b - c;
        if (d < h)
            return 0;
        if (d == h)
            return -1;
    }
    return 1;
}
#endif

/*
 * The end of the run of digits at p, with *m * 10^n + their value in *m
 * (modulo 2^64: a caller that takes the value takes at most 19 digits).
 * Eight digits at a time in a word where the text goes on that far (@p end).
 */
static inline const unsigned char *
digit_run(const unsigned char *p, const unsigned char *end, uint64_t *m)
{
    uint64_t v = *m;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    static const uint64_t p10[] = {1u,      10u,      100u,      1000u,     10000u,
                                   100000u, 1000000u, 10000000u, 100000000u};
    const uint64_t zeros = 0x3030303030303030u, highs = 0xf0f0f0f0f0f0f0f0u;

    while (p + 8 <= end) {
        uint64_t w, a, stop;
        unsigned k;

        memcpy(&w, p, 8);
        /*
         * a: a digit byte becomes 0..9; a byte is not a digit when its high
         * nibble is set in a or in a + 6. A carry out of a byte that is not
         * a digit spoils only the bytes after it, which are not looked at.
         */
        a = w ^ zeros;
        stop = (a | (a + 0x0606060606060606u)) & highs;
        k = stop ? (unsigned)__builtin_ctzll(stop) / 8 : 8;
        if (k == 0)
            break;
        /* The k digits to the top of the word, zeros before them: the 8-digit conversion. */
        a <<= 8 * (8 - k);
        a = a * 10 + (a >> 8);
        a = ((a & 0x000000ff000000ffu) * (100 + (1000000ull << 32)) +
             ((a >> 16) & 0x000000ff000000ffu) * (1 + (10000ull << 32))) >>
            32;
        v = v * p10[k] + (a & 0xffffffffu);
        p += k;
        if (k < 8) {
            *m = v;
            return p;
        }
    }
#else
    (void)end;
#endif
    for (; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    *m = v;
    return p;
}

/*
 * The end of a number in normal form at p, or NULL; *v its value when v is
 * not NULL. A float is normal only as repr() writes it. In fixed notation
 * (1e-4 <= |x| < 1e16), without trailing zeros but the one of "X.0", with at
 * most 15 significant digits, it is: decimals of at most 15 digits (DBL_DIG)
 * each read back from a double of their own, so no shorter one reads as the
 * same double, and these digits are the shortest. Their value is then
 * m / 10^k with both exact doubles (m < 10^15), which one correctly rounded
 * division gives as strtod() would. Longer floats ask the writer itself;
 * exponents and zero take the general path.
 */
static const unsigned char *
fast_number(const unsigned char *p, const unsigned char *end, double *v)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const unsigned char *q = p + (*p == '-'), *d = q, *f;
    uint64_t m = 0;
    unsigned sig = 0, lead = 0;
    double x;

    if (*q == '0') {
        if (q != p && q[1] != '.')
            return NULL; /* "-0" */
        q++;
        if (*q >= '0' && *q <= '9')
            return NULL; /* a leading zero */
    } else {
        q = digit_run(q, end, &m);
        if (q == d || q - d > 18)
            return NULL;
    }
    if (*q != '.') {
        if (*q == 'e' || *q == 'E')
            return NULL;
        /* An integer of at most 18 digits: exact in int64, rounded once to a double. */
        if (v)
            *v = p != d ? -(double)m : (double)m;
        return q;
    }
    f = ++q;
    /*
     * The significant digits: the integer part's unless it is "0", then the
     * fraction's after its leading zeros (m is exact when at most 17, the
     * most repr() writes; more are refused below).
     */
    if (m == 0) {
        while (*q == '0') {
            q++;
            if (++lead > 3)
                return NULL; /* below 1e-4: not fixed notation */
        }
    }
    q = digit_run(q, end, &m);
    sig = m ? (unsigned)(q - f) - lead + (d[0] == '0' ? 0 : (unsigned)(f - 1 - d)) : 0;
    if (q == f || *q == 'e' || *q == 'E')
        return NULL;
    if (q[-1] == '0' && q - f > 1)
        return NULL; /* a trailing zero */
    if (sig == 0 || (d[0] == '0' && lead > 3) || q - f > 22 || f - d > 17)
        return NULL; /* zero, below 1e-4 or from 1e16 on: not fixed notation */
    if (sig > 17)
        return NULL; /* repr() writes at most 17 */
    if (sig > 15) {
        int r = -1;
#if defined(__SIZEOF_INT128__)
        if (q - f > 1 || *f != '0')
            r = repr_digits(m, (int)(q - f), &x);
#endif
        if (r == 0)
            return NULL;
        if (r > 0 && p != d)
            x = -x;
        if (r < 0 && !slow_float(p, (size_t)(q - p), &x))
            return NULL; /* its sign and all */
    } else {
        x = (double)m / pow10[q - f];
        if (p != d)
            x = -x;
    }
    if (v)
        *v = x;
    return q;
}

/*
 * The end of a JSON number at p that a scan may take without its value
 * (papyra__normal_shapes.valid_only), or NULL: an integer as
 * fast_number() takes it, or a float in fixed notation, digits '.' digits,
 * of at most 17 integer and 40 fractional digits (a finite double, whatever
 * its digits), without the repr() check.
 */
static const unsigned char *
valid_number(const unsigned char *p, const unsigned char *end)
{
    const unsigned char *q = p + (*p == '-'), *d = q, *f;
    uint64_t m = 0;

    if (*q == '0') {
        q++;
        if (*q >= '0' && *q <= '9')
            return NULL; /* a leading zero */
    } else {
        q = digit_run(q, end, &m);
        if (q == d)
            return NULL;
    }
    if (*q != '.')
        return fast_number(p, end, NULL);
    if (q - d > 17)
        return NULL;
    f = ++q;
    q = digit_run(q, end, &m);
    if (q == f || q - f > 40 || *q == 'e' || *q == 'E')
        return NULL;
    return q;
}

/* The papyra_kind a normal-form string literal [p, q] (quotes included) names, or -1. */
static int
kind_of_literal(const unsigned char *p, const unsigned char *q)
{
    static const size_t lens[PAPYRA_KIND_MAX] = {
        [PAPYRA_KIND_EVENT] = sizeof("event") - 1,
        [PAPYRA_KIND_AUDIT] = sizeof("audit") - 1,
        [PAPYRA_KIND_DEAD_LETTER] = sizeof("dead_letter") - 1,
    };
    size_t n = (size_t)(q - p) - 1;
    int k;

    for (k = 0; k < PAPYRA_KIND_MAX; k++) {
        if (lens[k] == n && memcmp(kind_names[k], p + 1, n) == 0)
            return k;
    }
    return -1;
}

/* The JSON type a record field must have when it is present. */
enum { FIELD_ANY = 0, FIELD_STRING, FIELD_INT, FIELD_NAMES };

/*
 * The fields of every kind whose type matters, with the type (a field of
 * another kind, e.g. an event's "total_actors", is ignored by that kind).
 */
static const struct {
    const char *key;
    size_t len; /* strlen(key) */
    int type;
    unsigned kinds; /* bit per papyra_kind */
} typed_fields[] = {
#define K(k) (1u << (k))
    {"system_id", sizeof("system_id") - 1, FIELD_STRING,
     K(PAPYRA_KIND_EVENT) | K(PAPYRA_KIND_AUDIT) | K(PAPYRA_KIND_DEAD_LETTER)},
    {"event_type", sizeof("event_type") - 1, FIELD_STRING, K(PAPYRA_KIND_EVENT)},
    {"message_type", sizeof("message_type") - 1, FIELD_STRING, K(PAPYRA_KIND_DEAD_LETTER)},
    {"total_actors", sizeof("total_actors") - 1, FIELD_INT, K(PAPYRA_KIND_AUDIT)},
    {"alive_actors", sizeof("alive_actors") - 1, FIELD_INT, K(PAPYRA_KIND_AUDIT)},
    {"stopping_actors", sizeof("stopping_actors") - 1, FIELD_INT, K(PAPYRA_KIND_AUDIT)},
    {"restarting_actors", sizeof("restarting_actors") - 1, FIELD_INT, K(PAPYRA_KIND_AUDIT)},
    {"registry_size", sizeof("registry_size") - 1, FIELD_INT, K(PAPYRA_KIND_AUDIT)},
    {"registry_orphans", sizeof("registry_orphans") - 1, FIELD_NAMES, K(PAPYRA_KIND_AUDIT)},
    {"registry_dead", sizeof("registry_dead") - 1, FIELD_NAMES, K(PAPYRA_KIND_AUDIT)},
    {"dead_letters_count", sizeof("dead_letters_count") - 1, FIELD_INT, K(PAPYRA_KIND_AUDIT)},
#undef K
};

/* The type a key of n bytes must have for some kind; FIELD_ANY for other keys. */
static int
field_type(const char *key, size_t n)
{
    size_t i;

    for (i = 0; i < sizeof(typed_fields) / sizeof(typed_fields[0]); i++) {
        if (typed_fields[i].len == n && typed_fields[i].key[0] == key[0] &&
            typed_fields[i].key[n - 1] == key[n - 1] && memcmp(typed_fields[i].key, key, n) == 0)
            return typed_fields[i].type;
    }
    return FIELD_ANY;
}

/*
 * Whether the normal-form value starting at p may have the type (for the
 * fast path; a name list's elements are checked one by one as they come).
 */
static bool
value_may_be(const unsigned char *p, int type)
{
    const unsigned char *q;

    switch (type) {
    case FIELD_STRING:
        return *p == '"';
    case FIELD_NAMES:
        return *p == '[';
    case FIELD_INT:
        /* An integer of at most 18 digits (longer ones are not normal form here). */
        q = p + (*p == '-');
        if (!(*q >= '0' && *q <= '9'))
            return false;
        while (*q >= '0' && *q <= '9')
            q++;
        return *q != '.' && *q != 'e' && *q != 'E';
    default:
        return true;
    }
}

/*
 * A print of the key [p, q) (its opening quote included) that tells most
 * different keys apart without a memcmp: its length and its first and last
 * eight bytes, or all of it when shorter. @p end: where the text ends (a
 * short key is loaded as eight bytes when they lie before it).
 */
static uint64_t
key_print(const unsigned char *p, const unsigned char *q, const unsigned char *end)
{
    size_t n = (size_t)(q - p);
    uint64_t a = 0, b = 0;

    if (n >= 8) {
        memcpy(&a, p, 8);
        memcpy(&b, q - 8, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    } else if (p + 8 <= end) {
        memcpy(&a, p, 8);
        a &= ((uint64_t)1 << (8 * n)) - 1; /* the key's n bytes only */
#endif
    } else {
        for (size_t i = 0; i < n; i++)
            a |= (uint64_t)p[i] << (8 * i);
    }
    return (a ^ (b * 0x9e3779b97f4a7c15u)) + n;
}

/*
 * The normal-form check of every byte; with @p learn (may be NULL), the
 * shape of an accepted line is stored there (see papyra__normal_shape).
 */
static size_t
normal_len(const char *text,
           size_t len,
           bool ascii,
           papyra__normal_info *info,
           papyra__normal_shape *learn)
{
    const unsigned char *p = (const unsigned char *)text, *q, *end = p + len;
    /* Per open container: '{' or '[', and where its keys start in keys[]. */
    char stack[FAST_DEPTH];
    unsigned key_base[FAST_DEPTH];
    /* Per open object, one of 64 bits per key print seen: no bit, no duplicate. */
    uint64_t key_bits[FAST_DEPTH];
    struct {
        const unsigned char *p;
        size_t n;
        uint64_t fp; /* key_print(): equal keys have equal prints */
    } keys[FAST_KEYS];
    unsigned depth = 0, nkeys = 0, i, nslots = 0;
    uint64_t fp, bit;
    /* Bytes above 0x7e in a string value, in a key. */
    bool has_hi = false, key_hi = false, typed = true;
    int line_kind = -1; /* what the top-level "kind" names */
    /* A top-level key whose value info wants: 1 "kind", 2 "timestamp". */
    int pending = 0, want;
    /*
     * The type a top-level key's value must have (field_type()), and the
     * depth of a name list whose elements must be strings (0: none).
     */
    int expect = FIELD_ANY, expecting;
    unsigned names_depth = 0;

    if (info) {
        info->kind = -1;
        info->has_timestamp = false;
        info->typed = true;
    }
    if (len > PAPYRA__SHAPE_BYTES)
        learn = NULL;
    for (;;) {
        /* A value. */
        want = depth == 1 ? pending : 0;
        pending = 0;
        expecting = depth == 1 ? expect : FIELD_ANY;
        expect = FIELD_ANY;
        if (names_depth > 0 && depth == names_depth)
            expecting = FIELD_STRING; /* an element of a name list */
        if (expecting != FIELD_ANY && !value_may_be(p, expecting)) {
            typed = false;
            if (info)
                info->typed = false;
        }
        /* A string or a number: a slot of the shape, with what it needs there. */
        if (learn && *p != '{' && *p != '[' && *p != 't' && *p != 'f' && *p != 'n') {
            if (nslots == PAPYRA__SHAPE_SLOTS) {
                learn = NULL;
            } else {
                learn->slot[nslots].start = (uint16_t)(p - (const unsigned char *)text);
                learn->slot[nslots].type = *p == '"' ? '"' : '0';
                learn->slot[nslots].want = (uint8_t)want;
                learn->slot[nslots].expect = (uint8_t)expecting;
            }
        }
        switch (*p) {
        case '{':
        case '[':
            if (depth == FAST_DEPTH)
                return 0;
            stack[depth] = (char)*p;
            key_bits[depth] = 0;
            key_base[depth++] = nkeys;
            p++;
            if (*p == (stack[depth - 1] == '{' ? '}' : ']')) {
                p++;
                depth--;
                break;
            }
            if (expecting == FIELD_NAMES)
                names_depth = depth;
            if (stack[depth - 1] == '{')
                goto key;
            continue;
        case '"':
            q = fast_string(p + 1, end, ascii, &has_hi);
            if (!q)
                return 0;
            if (want == 1) {
                line_kind = kind_of_literal(p, q);
                if (info)
                    info->kind = line_kind;
            }
            p = q + 1;
            if (learn)
                learn->slot[nslots++].end = (uint16_t)(p - (const unsigned char *)text);
            break;
        case 't':
            if (!fast_word(p, "true"))
                return 0;
            p += 4;
            break;
        case 'f':
            if (!fast_word(p, "false"))
                return 0;
            p += 5;
            break;
        case 'n':
            if (!fast_word(p, "null"))
                return 0;
            p += 4;
            break;
        default:
            q = fast_number(p, end, want == 2 && info ? &info->timestamp : NULL);
            if (!q)
                return 0;
            if (want == 2 && info)
                info->has_timestamp = true;
            p = q;
            if (learn)
                learn->slot[nslots++].end = (uint16_t)(p - (const unsigned char *)text);
            break;
        }
        /* After a value: a separator, a closing bracket, or the end. */
        for (;;) {
            if (depth == 0) {
                if (p != end)
                    return 0;
                /* Strings with non-ASCII bytes must be UTF-8 as a whole. */
                if ((has_hi || key_hi) && !papyra__utf8_valid(text, len))
                    return 0;
                /* Only a shape whose every line is typed: a match then needs no parse. */
                if (learn && typed) {
                    learn->kind = (int8_t)line_kind;
                    memcpy(learn->text, text, len);
                    memset(learn->text + len, 0, 16);
                    learn->nslots = (uint16_t)nslots;
                    learn->ascii = ascii;
                    learn->hi = key_hi;
                    learn->len = (uint32_t)len;
                }
                return len;
            }
            if (*p == ',' && p[1] == ' ') {
                p += 2;
                if (stack[depth - 1] == '{')
                    goto key;
                break;
            }
            if (*p != (stack[depth - 1] == '{' ? '}' : ']'))
                return 0;
            p++;
            if (depth == names_depth)
                names_depth = 0;
            nkeys = key_base[--depth];
        }
        continue;
    key:
        /* A key, unique in its object, then ": ". */
        if (*p != '"' || nkeys == FAST_KEYS)
            return 0;
        q = fast_string(p + 1, end, ascii, &key_hi);
        if (!q || q[1] != ':' || q[2] != ' ')
            return 0;
        fp = key_print(p, q, end);
        bit = (uint64_t)1 << ((fp * 0x9e3779b97f4a7c15u) >> 58);
        if (key_bits[depth - 1] & bit) {
            for (i = key_base[depth - 1]; i < nkeys; i++) {
                if (keys[i].fp == fp && keys[i].n == (size_t)(q - p) &&
                    memcmp(keys[i].p, p, keys[i].n) == 0)
                    return 0;
            }
        }
        key_bits[depth - 1] |= bit;
        keys[nkeys].p = p;
        keys[nkeys].fp = fp;
        keys[nkeys++].n = (size_t)(q - p);
        /* What a shape learns whether or not the caller wants it now. */
        if ((info || learn) && depth == 1) {
            if (q - p == 5 && memcmp(p, "\"kind", 5) == 0)
                pending = 1;
            else if (q - p == 10 && memcmp(p, "\"timestamp", 10) == 0)
                pending = 2;
            expect = field_type((const char *)p + 1, (size_t)(q - p) - 1);
        }
        p = q + 3;
    }
}

size_t
papyra__json_normal_len(const char *text, size_t len, bool ascii, papyra__normal_info *info)
{
    return normal_len(text, len, ascii, info, NULL);
}

#if defined(__SSE2__)
/* The bytes of a and b that differ, a bit each. */
static inline unsigned
differ16(const unsigned char *a, const char *b)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)a);
    __m128i y = _mm_loadu_si128((const __m128i *)(const void *)b);

    return ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) & 0xffffu;
}
#endif

/*
 * Whether the n bytes at p equal those at t (t has 16 bytes to spare; p has
 * n before end): 16 at a time, the last 16 of a longer run overlapping.
 */
static inline bool
same_bytes(const unsigned char *p, const char *t, size_t n, const unsigned char *end)
{
#if defined(__SSE2__)
    if (n <= 16) {
        if (p + 16 <= end)
            return (differ16(p, t) & ((1u << n) - 1)) == 0;
        /* The last bytes of a line, often just its "}". */
        for (size_t i = 0; i < n; i++) {
            if (p[i] != (unsigned char)t[i])
                return false;
        }
        return true;
    } else {
        size_t i;

        for (i = 0; i + 16 < n; i += 16) {
            if (differ16(p + i, t + i))
                return false;
        }
        return differ16(p + n - 16, t + n - 16) == 0;
    }
#else
    (void)end;
#endif
    return memcmp(p, t, n) == 0;
}

/*
 * The check of a line against a shape learned by normal_len(): the bytes
 * between the slots equal the shape's, and each slot holds a string or a
 * number that normal_len() would take there. Everything normal_len() checks
 * besides (separators, brackets, keys and their uniqueness, depth, the
 * words, the types of fields that are not slots) lies in those bytes, which
 * it accepted with the same slots around them. len or 0.
 */
static size_t
shape_len(const papyra__normal_shape *s,
          const char *text,
          size_t len,
          bool ascii,
          bool valid_only,
          papyra__normal_info *info)
{
    const unsigned char *p = (const unsigned char *)text, *q, *end = p + len;
    bool hi = s->hi;
    unsigned at = 0, i;
    size_t n;
    int kind = -1;
    bool has_ts = false;
    double ts = 0;

    for (i = 0; i < s->nslots; i++) {
        n = s->slot[i].start - at;
        if ((size_t)(end - p) < n || !same_bytes(p, s->text + at, n, end))
            return 0;
        p += n;
        if (s->slot[i].expect != FIELD_ANY && !value_may_be(p, s->slot[i].expect))
            return 0;
        if (s->slot[i].type == '"') {
            if (*p != '"' || !(q = fast_string(p + 1, end, ascii, &hi)))
                return 0;
            if (s->slot[i].want == 1) {
                /* Mostly the kind of the line the shape was learned from. */
                n = s->slot[i].end - s->slot[i].start;
                kind = (size_t)(q + 1 - p) == n && same_bytes(p, s->text + s->slot[i].start, n, end)
                           ? s->kind
                           : kind_of_literal(p, q);
            }
            p = q + 1;
        } else {
            q = valid_only ? valid_number(p, end)
                           : fast_number(p, end, s->slot[i].want == 2 ? &ts : NULL);
            if (!q)
                return 0;
            if (s->slot[i].want == 2)
                has_ts = true;
            p = q;
        }
        at = s->slot[i].end;
    }
    n = s->len - at;
    if ((size_t)(end - p) != n || !same_bytes(p, s->text + at, n, end))
        return 0;
    if (hi && !papyra__utf8_valid(text, len))
        return 0;
    if (info) {
        info->kind = kind;
        info->has_timestamp = has_ts;
        info->timestamp = valid_only ? NAN : ts;
        info->typed = true;
    }
    return len;
}

size_t
papyra__json_normal_len_shaped(const char *text,
                               size_t len,
                               bool ascii,
                               papyra__normal_info *info,
                               papyra__normal_shapes *shapes)
{
    papyra__normal_shape *learn;
    unsigned i, k;
    size_t n;

    if (!shapes)
        return normal_len(text, len, ascii, info, NULL);
    for (i = 0; i < PAPYRA__SHAPES; i++) {
        k = (shapes->last + i) % PAPYRA__SHAPES;
        if (shapes->shape[k].len > 0 && shapes->shape[k].ascii == ascii &&
            shape_len(&shapes->shape[k], text, len, ascii, shapes->valid_only, info) == len) {
            shapes->last = k;
            return len;
        }
    }
    /* A new shape: checked in full and learned in the next place (emptied until it is). */
    k = shapes->next % PAPYRA__SHAPES;
    learn = &shapes->shape[k];
    learn->len = 0;
    n = normal_len(text, len, ascii, info, learn);
    if (learn->len > 0) {
        shapes->next = k + 1;
        shapes->last = k;
    }
    return n;
}

static int
put_double(encoder *e, const char *key, double d)
{
    int r = put_key(e, key);

    return r < 0 ? r : papyra__json_write_double(d, e->out);
}

/* Writes a JSON-text field, or if_null when text is NULL. */
static int
put_json_text(encoder *e, const char *key, const char *text, const char *if_null)
{
    papyra__json_error jerr;
    papyra_json *v;
    size_t n;
    int r = put_key(e, key);

    if (r < 0)
        return r;
    if (!text)
        return papyra__buf_puts(e->out, if_null);
    n = strlen(text);
    if (n > 0 && papyra__json_normal_len(text, n, e->flags & PAPYRA_JSON_ENSURE_ASCII, NULL) == n)
        return papyra__buf_append(e->out, text, n);
    r = papyra__json_parse_why(text, n, &v, &jerr);
    if (r == PAPYRA_ECORRUPT)
        return refuse(e, PAPYRA_EINVAL, "is not valid JSON (%s at offset %zu)", jerr.reason,
                      jerr.offset);
    if (r < 0)
        return r;
    r = papyra__json_write(v, e->flags, e->out);
    papyra__json_free(v);
    return r;
}

static int
put_names(encoder *e, const char *key, const char *const *names, size_t n)
{
    size_t i;
    int r = put_key(e, key);

    if (r == 0 && n > 0 && !names)
        r = refuse(e, PAPYRA_EINVAL, "is NULL but n_%s is %zu", key, n);
    if (r == 0)
        r = papyra__buf_putc(e->out, '[');
    for (i = 0; r == 0 && i < n; i++) {
        e->index = i;
        if (i > 0)
            r = papyra__buf_append(e->out, ", ", 2);
        if (r == 0)
            r = put_string_value(e, names[i]);
    }
    return r < 0 ? r : papyra__buf_putc(e->out, ']');
}

static const char *
system_id_or_default(const char *system_id)
{
    return system_id ? system_id : DEFAULT_SYSTEM_ID;
}

static int
encode_event(encoder *e, const papyra_event *ev)
{
    int r = put_string(e, "system_id", system_id_or_default(ev->system_id));

    if (r == 0)
        r = put_json_text(e, "actor_address", ev->actor_address, "null");
    if (r == 0)
        r = put_string(e, "event_type", ev->event_type);
    if (r == 0)
        r = put_json_text(e, "payload", ev->payload, "{}");
    if (r == 0)
        r = put_double(e, "timestamp", ev->timestamp);
    return r;
}

static int
encode_audit(encoder *e, const papyra_audit *a)
{
    int r = put_string(e, "system_id", system_id_or_default(a->system_id));

    if (r == 0)
        r = put_double(e, "timestamp", a->timestamp);
    if (r == 0)
        r = put_int(e, "total_actors", a->total_actors);
    if (r == 0)
        r = put_int(e, "alive_actors", a->alive_actors);
    if (r == 0)
        r = put_int(e, "stopping_actors", a->stopping_actors);
    if (r == 0)
        r = put_int(e, "restarting_actors", a->restarting_actors);
    if (r == 0)
        r = put_int(e, "registry_size", a->registry_size);
    if (r == 0)
        r = put_names(e, "registry_orphans", a->registry_orphans, a->n_registry_orphans);
    if (r == 0)
        r = put_names(e, "registry_dead", a->registry_dead, a->n_registry_dead);
    if (r == 0)
        r = put_int(e, "dead_letters_count", a->dead_letters_count);
    return r;
}

static int
encode_dead_letter(encoder *e, const papyra_dead_letter *d)
{
    int r = put_string(e, "system_id", system_id_or_default(d->system_id));

    if (r == 0)
        r = put_json_text(e, "target", d->target, "null");
    if (r == 0)
        r = put_string(e, "message_type", d->message_type);
    if (r == 0)
        r = put_json_text(e, "payload", d->payload, "null");
    if (r == 0)
        r = put_double(e, "timestamp", d->timestamp);
    return r;
}

static int
encode_fields(encoder *e, const papyra_record *rec)
{
    switch (rec->kind) {
    case PAPYRA_KIND_EVENT:
        return encode_event(e, &rec->u.event);
    case PAPYRA_KIND_AUDIT:
        return encode_audit(e, &rec->u.audit);
    case PAPYRA_KIND_DEAD_LETTER:
        return encode_dead_letter(e, &rec->u.dead_letter);
    default:
        return PAPYRA_EINVAL;
    }
}

int
papyra__record_encode_why(const papyra_record *rec,
                          int style,
                          papyra_buf *out,
                          papyra__encode_error *err)
{
    encoder e = {.out = out, .first = true, .index = SIZE_MAX, .err = err};
    const char *kind;
    size_t old_len;
    int r;

    if (err)
        err->text[0] = '\0';
    if (!rec || !out)
        return PAPYRA_EINVAL;
    if (style != PAPYRA_STYLE_JSON && style != PAPYRA_STYLE_ROTATING) {
        if (err)
            snprintf(err->text, sizeof(err->text), "unknown line style %d", style);
        return PAPYRA_EINVAL;
    }
    kind = papyra_kind_name(rec->kind);
    if (!kind) {
        if (err)
            snprintf(err->text, sizeof(err->text), "kind %d is not event, audit or dead_letter",
                     (int)rec->kind);
        return PAPYRA_EINVAL;
    }
    e.flags = style == PAPYRA_STYLE_ROTATING ? PAPYRA_JSON_ENSURE_ASCII : 0;
    old_len = out->len;

    /* Upstream's rotating backend adds "kind" after the fields, the others before. */
    r = papyra__buf_putc(out, '{');
    if (r == 0 && style == PAPYRA_STYLE_JSON)
        r = put_string(&e, "kind", kind);
    if (r == 0)
        r = encode_fields(&e, rec);
    if (r == 0 && style == PAPYRA_STYLE_ROTATING)
        r = put_string(&e, "kind", kind);
    if (r == 0)
        r = papyra__buf_putc(out, '}');
    if (r < 0 && out->data) {
        out->len = old_len;
        out->data[old_len] = '\0';
    }
    if (r < 0 && err && err->text[0] == '\0')
        snprintf(err->text, sizeof(err->text), "%s", papyra_strerror(r));
    return r;
}

int
papyra__record_encode(const papyra_record *rec, int style, papyra_buf *out)
{
    return papyra__record_encode_why(rec, style, out, NULL);
}

int
papyra__record_kind_of(const papyra_json *obj)
{
    const char *s;
    size_t n;
    int k;

    s = papyra__json_string(papyra__json_object_get(obj, "kind"), &n);
    if (!s)
        return -1;
    for (k = 0; k < PAPYRA_KIND_MAX; k++) {
        if (strlen(kind_names[k]) == n && memcmp(kind_names[k], s, n) == 0)
            return k;
    }
    return -1;
}

static bool
is_number(const papyra_json *v)
{
    papyra_json_type t = papyra__json_type(v);

    return v && (t == PAPYRA_JSON_INT || t == PAPYRA_JSON_BIGINT || t == PAPYRA_JSON_FLOAT);
}

bool
papyra__record_timestamp(const papyra_json *obj, double *ts)
{
    const papyra_json *v = papyra__json_object_get(obj, "timestamp");

    return is_number(v) && papyra__json_number_as_double(v, ts) == 0;
}

/* How a message names the JSON type of v. */
static const char *
type_phrase(const papyra_json *v)
{
    switch (papyra__json_type(v)) {
    case PAPYRA_JSON_NULL:
        return "null";
    case PAPYRA_JSON_FALSE:
    case PAPYRA_JSON_TRUE:
        return "a boolean";
    case PAPYRA_JSON_INT:
        return "an integer";
    case PAPYRA_JSON_BIGINT:
        return "an integer beyond 64 bits";
    case PAPYRA_JSON_FLOAT:
        return "a number";
    case PAPYRA_JSON_STRING:
        return "a string";
    case PAPYRA_JSON_ARRAY:
        return "a list";
    default:
        return "an object";
    }
}

/* Whether v has the type, and if not, why (into why, whylen bytes). */
static bool
has_type(const papyra_json *v, int type, const char *key, char *why, size_t whylen)
{
    static const char *const required[] = {
        [FIELD_STRING] = "a string",
        [FIELD_INT] = "a 64-bit integer",
        [FIELD_NAMES] = "a list of strings",
    };
    papyra_json_type t = papyra__json_type(v);
    size_t i, n;

    if ((type == FIELD_STRING && t == PAPYRA_JSON_STRING) ||
        (type == FIELD_INT && t == PAPYRA_JSON_INT))
        return true;
    if (type == FIELD_NAMES && t == PAPYRA_JSON_ARRAY) {
        n = papyra__json_array_len(v);
        for (i = 0; i < n; i++) {
            const papyra_json *e = papyra__json_array_get(v, i);

            if (papyra__json_type(e) != PAPYRA_JSON_STRING) {
                if (why)
                    snprintf(why, whylen, "field '%s[%zu]' is %s, a string is required", key, i,
                             type_phrase(e));
                return false;
            }
        }
        return true;
    }
    if (why)
        snprintf(why, whylen, "field '%s' is %s, %s is required", key, type_phrase(v),
                 required[type]);
    return false;
}

int
papyra__record_classify(const papyra_json *obj, char *why, size_t whylen)
{
    const papyra_json *v;
    double ts;
    size_t i;
    int kind = papyra__record_kind_of(obj);

    if (why && whylen > 0)
        why[0] = '\0';
    if (kind < 0 || !papyra__record_timestamp(obj, &ts))
        return PAPYRA__LINE_OTHER;
    for (i = 0; i < sizeof(typed_fields) / sizeof(typed_fields[0]); i++) {
        if (!(typed_fields[i].kinds & (1u << kind)))
            continue;
        /* A missing field takes its default; a present one is never coerced. */
        v = papyra__json_object_get(obj, typed_fields[i].key);
        if (v && !has_type(v, typed_fields[i].type, typed_fields[i].key, why, whylen))
            return PAPYRA__LINE_MISTYPED;
    }
    return PAPYRA__LINE_RECORD;
}

int
papyra__record_classify_line(
    const char *p, size_t len, bool ascii, papyra__normal_info *info, char *why, size_t whylen)
{
    return papyra__record_classify_line_shaped(p, len, ascii, info, NULL, why, whylen);
}

int
papyra__record_classify_line_shaped(const char *p,
                                    size_t len,
                                    bool ascii,
                                    papyra__normal_info *info,
                                    papyra__normal_shapes *shapes,
                                    char *why,
                                    size_t whylen)
{
    papyra__normal_info local;
    papyra_json *obj = NULL;
    int r;

    if (!info)
        info = &local;
    if (why && whylen > 0)
        why[0] = '\0';
    /* A line in normal form (what we write) needs no parse unless a field may be mistyped. */
    if (len > 0 && p[0] == '{' &&
        papyra__json_normal_len_shaped(p, len, ascii, info, shapes) == len && info->typed)
        return info->kind >= 0 && info->has_timestamp ? PAPYRA__LINE_RECORD : PAPYRA__LINE_OTHER;
    r = papyra__json_parse_object(p, len, &obj);
    if (r <= 0) {
        info->kind = -1;
        info->has_timestamp = false;
        return r < 0 ? r : PAPYRA__LINE_CORRUPT;
    }
    info->kind = papyra__record_kind_of(obj);
    info->has_timestamp = papyra__record_timestamp(obj, &info->timestamp);
    info->typed = true;
    r = papyra__record_classify(obj, why, whylen);
    papyra__json_free(obj);
    return r;
}

static char *
dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Copies string field key of obj, or def if it is missing or not a string. */
static int
get_string(const papyra_json *obj, const char *key, const char *def, const char **ret)
{
    const char *s;
    size_t n;
    char *d;

    s = papyra__json_string(papyra__json_object_get(obj, key), &n);
    if (!s) {
        s = def;
        n = strlen(def);
    }
    d = dup_bytes(s, n);
    if (!d)
        return PAPYRA_ENOMEM;
    *ret = d;
    return 0;
}

/*
 * Serialises field key of obj as JSON text. A JSON null becomes NULL when
 * null_as_null is set; a missing field gives def (which may be NULL).
 */
static int
get_json_text(
    const papyra_json *obj, const char *key, const char *def, bool null_as_null, const char **ret)
{
    const papyra_json *v = papyra__json_object_get(obj, key);
    papyra_buf b = {0};
    char *text;
    int r;

    if (!v || (null_as_null && papyra__json_type(v) == PAPYRA_JSON_NULL)) {
        if (!v && def) {
            text = dup_bytes(def, strlen(def));
            if (!text)
                return PAPYRA_ENOMEM;
            *ret = text;
        }
        return 0;
    }
    r = papyra__json_write(v, 0, &b);
    text = r == 0 ? papyra__buf_steal(&b) : NULL;
    papyra__buf_free(&b);
    if (r < 0)
        return r;
    if (!text)
        return PAPYRA_ENOMEM;
    *ret = text;
    return 0;
}

static int64_t
get_int(const papyra_json *obj, const char *key)
{
    int64_t i = 0;

    (void)papyra__json_get_int(papyra__json_object_get(obj, key), &i);
    return i;
}

static void
free_names(const char *const *names, size_t n)
{
    size_t i;

    if (!names)
        return;
    for (i = 0; i < n; i++)
        free((void *)names[i]);
    free((void *)names);
}

/* Copies a list of strings; anything but an array of strings gives an empty list. */
static int
get_names(const papyra_json *obj, const char *key, const char *const **ret, size_t *ret_n)
{
    const papyra_json *v = papyra__json_object_get(obj, key);
    size_t n = papyra__json_array_len(v), i, len;
    const char *s;
    char **names;

    for (i = 0; i < n; i++) {
        if (papyra__json_type(papyra__json_array_get(v, i)) != PAPYRA_JSON_STRING)
            return 0;
    }
    if (n == 0)
        return 0;
    names = calloc(n, sizeof(*names));
    if (!names)
        return PAPYRA_ENOMEM;
    for (i = 0; i < n; i++) {
        s = papyra__json_string(papyra__json_array_get(v, i), &len);
        names[i] = dup_bytes(s, len);
        if (!names[i]) {
            free_names((const char *const *)names, i);
            return PAPYRA_ENOMEM;
        }
    }
    *ret = (const char *const *)names;
    *ret_n = n;
    return 0;
}

static int
decode_event(const papyra_json *obj, const char *sys, papyra_event *ev)
{
    int r = get_string(obj, "system_id", sys, &ev->system_id);

    if (r == 0)
        r = get_json_text(obj, "actor_address", NULL, true, &ev->actor_address);
    if (r == 0)
        r = get_string(obj, "event_type", "", &ev->event_type);
    if (r == 0)
        r = get_json_text(obj, "payload", "{}", false, &ev->payload);
    return r;
}

static int
decode_audit(const papyra_json *obj, const char *sys, papyra_audit *a)
{
    int r = get_string(obj, "system_id", sys, &a->system_id);

    a->total_actors = get_int(obj, "total_actors");
    a->alive_actors = get_int(obj, "alive_actors");
    a->stopping_actors = get_int(obj, "stopping_actors");
    a->restarting_actors = get_int(obj, "restarting_actors");
    a->registry_size = get_int(obj, "registry_size");
    a->dead_letters_count = get_int(obj, "dead_letters_count");
    if (r == 0)
        r = get_names(obj, "registry_orphans", &a->registry_orphans, &a->n_registry_orphans);
    if (r == 0)
        r = get_names(obj, "registry_dead", &a->registry_dead, &a->n_registry_dead);
    return r;
}

static int
decode_dead_letter(const papyra_json *obj, const char *sys, papyra_dead_letter *d)
{
    int r = get_string(obj, "system_id", sys, &d->system_id);

    if (r == 0)
        r = get_json_text(obj, "target", NULL, true, &d->target);
    if (r == 0)
        r = get_string(obj, "message_type", "", &d->message_type);
    if (r == 0)
        r = get_json_text(obj, "payload", NULL, true, &d->payload);
    return r;
}

int
papyra__record_decode(const papyra_json *obj, const char *default_system_id, papyra_record *out)
{
    const char *sys = default_system_id ? default_system_id : DEFAULT_SYSTEM_ID;
    const papyra_json *tsv;
    papyra_record rec;
    double ts;
    int kind, r;

    if (!out)
        return PAPYRA_EINVAL;
    kind = papyra__record_kind_of(obj);
    if (kind < 0)
        return PAPYRA_ENOENT;
    tsv = papyra__json_object_get(obj, "timestamp");
    if (!is_number(tsv))
        return PAPYRA_ECORRUPT;
    /* A field our structs cannot hold is refused, never coerced to another value. */
    if (papyra__record_classify(obj, NULL, 0) != PAPYRA__LINE_RECORD)
        return PAPYRA_ECORRUPT;
    r = papyra__json_number_as_double(tsv, &ts);
    if (r < 0)
        return r;

    memset(&rec, 0, sizeof(rec));
    rec.kind = (papyra_kind)kind;
    switch (rec.kind) {
    case PAPYRA_KIND_EVENT:
        rec.u.event.timestamp = ts;
        r = decode_event(obj, sys, &rec.u.event);
        break;
    case PAPYRA_KIND_AUDIT:
        rec.u.audit.timestamp = ts;
        r = decode_audit(obj, sys, &rec.u.audit);
        break;
    default:
        rec.u.dead_letter.timestamp = ts;
        r = decode_dead_letter(obj, sys, &rec.u.dead_letter);
        break;
    }
    if (r < 0) {
        papyra__record_clear(&rec);
        return r;
    }
    *out = rec;
    return 0;
}

void
papyra__record_clear(papyra_record *r)
{
    papyra_kind kind;

    if (!r)
        return;
    kind = r->kind;
    switch (kind) {
    case PAPYRA_KIND_EVENT:
        free((void *)r->u.event.system_id);
        free((void *)r->u.event.actor_address);
        free((void *)r->u.event.event_type);
        free((void *)r->u.event.payload);
        break;
    case PAPYRA_KIND_AUDIT:
        free((void *)r->u.audit.system_id);
        free_names(r->u.audit.registry_orphans, r->u.audit.n_registry_orphans);
        free_names(r->u.audit.registry_dead, r->u.audit.n_registry_dead);
        break;
    case PAPYRA_KIND_DEAD_LETTER:
        free((void *)r->u.dead_letter.system_id);
        free((void *)r->u.dead_letter.target);
        free((void *)r->u.dead_letter.message_type);
        free((void *)r->u.dead_letter.payload);
        break;
    default:
        return;
    }
    memset(r, 0, sizeof(*r));
    r->kind = kind;
}

double
papyra__record_time(const papyra_record *r)
{
    switch (r->kind) {
    case PAPYRA_KIND_EVENT:
        return r->u.event.timestamp;
    case PAPYRA_KIND_AUDIT:
        return r->u.audit.timestamp;
    case PAPYRA_KIND_DEAD_LETTER:
        return r->u.dead_letter.timestamp;
    default:
        return NAN;
    }
}

/*
 * The closing quote of the normal-form string whose first byte (after the
 * opening quote) is at @p p; @p end: where the text ends (16 bytes are
 * loaded at a time only before it).
 */
static const char *
normal_string_end(const char *p, const char *end)
{
    for (;;) {
#if defined(__SSE2__)
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');

        while (p + 16 <= end) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            unsigned m = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));

            if (m) {
                p += __builtin_ctz(m);
                break;
            }
            p += 16;
        }
#else
        (void)end;
#endif
        if (*p == '"')
            return p;
        p += *p == '\\' ? 2 : 1;
    }
}

/*
 * The end of the normal-form value at @p p (before @p end): after its
 * closing quote or bracket, or at the ", " or '}' that ends a number or
 * literal.
 */
static const char *
normal_value_end(const char *p, const char *end)
{
    unsigned depth = 0;

    if (*p != '"' && *p != '{' && *p != '[') {
        while (*p != ',' && *p != '}' && *p != ']')
            p++;
        return p;
    }
    do {
        switch (*p++) {
        case '"':
            p = normal_string_end(p, end) + 1;
            break;
        case '{':
        case '[':
            depth++;
            break;
        case '}':
        case ']':
            depth--;
            break;
        default:
            break;
        }
    } while (depth > 0);
    return p;
}

/*
 * Copies the normal-form string literal [p, q) (quotes included), undoing
 * the only escapes normal form has (\" \\ \n \r \t \b \f: fast_string()).
 */
static char *
normal_string_dup(const char *p, const char *q)
{
    size_t n = (size_t)(q - p) - 2;
    const char *s = p + 1;
    char *d, *o;

    if (!memchr(s, '\\', n))
        return dup_bytes(s, n);
    if (!(d = malloc(n + 1)))
        return NULL;
    for (o = d; s < q - 1; s++) {
        if (*s != '\\') {
            *o++ = *s;
            continue;
        }
        switch (*++s) {
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        default: /* '"' and '\\' */
            *o++ = *s;
            break;
        }
    }
    *o = '\0';
    return d;
}

/* A JSON-text field [p, q): NULL for null when @p null_as_null, else its text as it is. */
static int
normal_text_dup(const char *p, const char *q, bool null_as_null, const char **ret)
{
    if (null_as_null && q - p == 4 && memcmp(p, "null", 4) == 0)
        return 0;
    return (*ret = dup_bytes(p, (size_t)(q - p))) ? 0 : PAPYRA_ENOMEM;
}

/* A name list [p, q) of normal-form strings (value_may_be() checked each one). */
static int
normal_names_dup(const char *p, const char *q, const char *const **ret, size_t *ret_n)
{
    const char *s;
    char **names;
    size_t n = 0, i;

    if (q - p == 2)
        return 0; /* [] */
    for (s = p + 1; s < q - 1; n++)
        s = normal_value_end(s, q) + 2;
    if (!(names = calloc(n, sizeof(*names))))
        return PAPYRA_ENOMEM;
    for (s = p + 1, i = 0; i < n; i++) {
        const char *e = normal_value_end(s, q);
        if (!(names[i] = normal_string_dup(s, e))) {
            free_names((const char *const *)names, i);
            return PAPYRA_ENOMEM;
        }
        s = e + 2;
    }
    *ret = (const char *const *)names;
    *ret_n = n;
    return 0;
}

/* An integer field [p, q) of at most 18 digits; false for a longer one. */
static bool
normal_int(const char *p, const char *q, int64_t *ret)
{
    bool neg = *p == '-';
    int64_t v = 0;

    p += neg;
    if (q - p > 18)
        return false;
    for (; p < q; p++)
        v = v * 10 + (*p - '0');
    *ret = neg ? -v : v;
    return true;
}

/* Whether the key [p, q) (quotes included) is @p name. */
static bool
key_is(const char *p, const char *q, const char *name, size_t n)
{
    return (size_t)(q - p) == n + 2 && memcmp(p + 1, name, n) == 0;
}
#define KEY_IS(name) key_is(k, kq, name, sizeof(name) - 1)

int
papyra__record_decode_normal(const char *text,
                             size_t len,
                             const papyra__normal_info *info,
                             const char *default_system_id,
                             papyra_record *out)
{
    const char *p = text + 1, *end = text + len, *k, *kq, *v, *vq;
    const char *sys = NULL;
    papyra_record rec;
    int r = 0;

    if (len < 2 || text[0] != '{' || info->kind < 0 || info->kind >= PAPYRA_KIND_MAX ||
        !info->has_timestamp || !info->typed)
        return PAPYRA_EINVAL;
    memset(&rec, 0, sizeof(rec));
    rec.kind = (papyra_kind)info->kind;
    while (r == 0 && *p == '"') {
        /* A key (no escape can make it a field's name), ": ", its value, then ", " or '}'. */
        k = p;
        kq = normal_value_end(k, end);
        v = kq + 2;
        vq = normal_value_end(v, end);
        p = *vq == ',' ? vq + 2 : vq;
        if (KEY_IS("system_id")) {
            if (!(sys = normal_string_dup(v, vq)))
                r = PAPYRA_ENOMEM;
            switch (rec.kind) {
            case PAPYRA_KIND_EVENT:
                free((void *)rec.u.event.system_id);
                rec.u.event.system_id = sys;
                break;
            case PAPYRA_KIND_AUDIT:
                free((void *)rec.u.audit.system_id);
                rec.u.audit.system_id = sys;
                break;
            default:
                free((void *)rec.u.dead_letter.system_id);
                rec.u.dead_letter.system_id = sys;
                break;
            }
            continue;
        }
        switch (rec.kind) {
        case PAPYRA_KIND_EVENT:
            if (KEY_IS("actor_address"))
                r = normal_text_dup(v, vq, true, &rec.u.event.actor_address);
            else if (KEY_IS("event_type"))
                r = (rec.u.event.event_type = normal_string_dup(v, vq)) ? 0 : PAPYRA_ENOMEM;
            else if (KEY_IS("payload"))
                r = normal_text_dup(v, vq, false, &rec.u.event.payload);
            break;
        case PAPYRA_KIND_AUDIT: {
            papyra_audit *a = &rec.u.audit;
            const struct {
                const char *key;
                int64_t *to;
            } ints[] = {{"total_actors", &a->total_actors},
                        {"alive_actors", &a->alive_actors},
                        {"stopping_actors", &a->stopping_actors},
                        {"restarting_actors", &a->restarting_actors},
                        {"registry_size", &a->registry_size},
                        {"dead_letters_count", &a->dead_letters_count}};
            size_t i = 0;

            while (i < sizeof(ints) / sizeof(ints[0]) &&
                   !key_is(k, kq, ints[i].key, strlen(ints[i].key)))
                i++;
            if (i < sizeof(ints) / sizeof(ints[0])) {
                if (!normal_int(v, vq, ints[i].to))
                    r = 1;
            } else if (KEY_IS("registry_orphans")) {
                r = normal_names_dup(v, vq, &a->registry_orphans, &a->n_registry_orphans);
            } else if (KEY_IS("registry_dead")) {
                r = normal_names_dup(v, vq, &a->registry_dead, &a->n_registry_dead);
            }
            break;
        }
        default:
            if (KEY_IS("target"))
                r = normal_text_dup(v, vq, true, &rec.u.dead_letter.target);
            else if (KEY_IS("message_type"))
                r = (rec.u.dead_letter.message_type = normal_string_dup(v, vq)) ? 0 : PAPYRA_ENOMEM;
            else if (KEY_IS("payload"))
                r = normal_text_dup(v, vq, true, &rec.u.dead_letter.payload);
            break;
        }
    }
    /* Missing fields take papyra__record_decode()'s defaults. */
    if (r == 0) {
        const char *dsys = default_system_id ? default_system_id : DEFAULT_SYSTEM_ID;
        const char **sysp = rec.kind == PAPYRA_KIND_EVENT   ? &rec.u.event.system_id
                            : rec.kind == PAPYRA_KIND_AUDIT ? &rec.u.audit.system_id
                                                            : &rec.u.dead_letter.system_id;
        if (!*sysp && !(*sysp = dup_bytes(dsys, strlen(dsys))))
            r = PAPYRA_ENOMEM;
        if (rec.kind == PAPYRA_KIND_EVENT) {
            if (r == 0 && !rec.u.event.event_type && !(rec.u.event.event_type = dup_bytes("", 0)))
                r = PAPYRA_ENOMEM;
            if (r == 0 && !rec.u.event.payload && !(rec.u.event.payload = dup_bytes("{}", 2)))
                r = PAPYRA_ENOMEM;
            rec.u.event.timestamp = info->timestamp;
        } else if (rec.kind == PAPYRA_KIND_AUDIT) {
            rec.u.audit.timestamp = info->timestamp;
        } else {
            if (r == 0 && !rec.u.dead_letter.message_type &&
                !(rec.u.dead_letter.message_type = dup_bytes("", 0)))
                r = PAPYRA_ENOMEM;
            rec.u.dead_letter.timestamp = info->timestamp;
        }
    }
    if (r != 0) {
        papyra__record_clear(&rec);
        return r;
    }
    *out = rec;
    return 0;
}
#undef KEY_IS
