/* SPDX-License-Identifier: MIT */
/*
 * A small JSON value tree that reads and writes exactly like Python's json
 * module, so that lines we write are byte-identical to upstream Papyra's and
 * lines upstream accepts are the ones we accept.
 *
 * Nesting has no limit but memory: parse, write and clone walk a tree with
 * an explicit stack, never by recursion, and freeing a tree is a walk over
 * its arena's chunks. Python's json reads as deep as its recursion limit
 * allows (about 994 levels by default, more when an application raises it),
 * and a line upstream reads must never look corrupt here.
 *
 * Python compatibility rules:
 *
 * - Parsing follows json.loads(): the value may be surrounded by ' ', '\t',
 *   '\n' and '\r' only; NaN, Infinity and -Infinity are accepted; a duplicate
 *   key replaces the earlier value but keeps the earlier position (a Python
 *   dict); raw control characters in strings, a BOM, leading zeros, trailing
 *   commas and anything after the value are rejected. Input must be valid
 *   UTF-8. A \u escape of a lone surrogate is accepted and kept as a 3-byte
 *   WTF-8 sequence, so that it is written back as the same escape. Integers
 *   with more than 4300 digits are rejected, as Python 3.11+ raises for them.
 * - Writing follows json.dumps() with the default separators ", " and ": ".
 *   Floats are written as repr(float) (shortest round-trip digits, Python's
 *   choice between fixed and exponent notation) and non-finite values as NaN,
 *   Infinity and -Infinity. Integers outside int64 keep their original
 *   digits. PAPYRA_JSON_ENSURE_ASCII selects ensure_ascii=True. Lone
 *   surrogates are always written as \udxxx escapes because they have no
 *   UTF-8 form.
 *
 * Memory model: a value returned by papyra__json_parse(), papyra__json_clone()
 * or a papyra__json_new_*() constructor is a root. A root owns an arena that
 * holds its whole tree, and papyra__json_free() releases it in one go. Only a
 * root may be modified or freed; values reached through the accessors are
 * read-only views that stay valid until their root is freed. Appending a root
 * to a container moves its arena into the container's root.
 */
#ifndef PAPYRA_JSON_H
#define PAPYRA_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Python refuses to convert integers with more digits than this. */
#define PAPYRA_JSON_MAX_INT_DIGITS 4300

/* Flag of papyra__json_write(): behave like ensure_ascii=True. */
#define PAPYRA_JSON_ENSURE_ASCII 0x1u

typedef enum papyra_json_type {
    PAPYRA_JSON_NULL = 0,
    PAPYRA_JSON_FALSE,
    PAPYRA_JSON_TRUE,
    PAPYRA_JSON_INT,    /* Fits in int64_t. */
    PAPYRA_JSON_BIGINT, /* Outside int64_t; the decimal digits are kept as text. */
    PAPYRA_JSON_FLOAT,
    PAPYRA_JSON_STRING,
    PAPYRA_JSON_ARRAY,
    PAPYRA_JSON_OBJECT,
} papyra_json_type;

typedef struct papyra_json papyra_json;

/*
 * Parses len bytes (no terminator needed) as one JSON document. On success
 * *ret receives a root to release with papyra__json_free(). Returns
 * PAPYRA_ECORRUPT for input json.loads() would reject, PAPYRA_ENOMEM (the
 * only bound on nesting), or PAPYRA_EINVAL for
 * NULL arguments; *ret is untouched on failure.
 */
int papyra__json_parse(const char *buf, size_t len, papyra_json **ret);

/* Where and why papyra__json_parse_why() refused its input. */
typedef struct papyra__json_error {
    size_t offset;      /* of the offending byte in the input */
    const char *reason; /* static text, e.g. "expected ',' or '}'" */
} papyra__json_error;

/*
 * papyra__json_parse(), and on PAPYRA_ECORRUPT the reason and the offset in
 * *err (which may be NULL).
 */
int papyra__json_parse_why(const char *buf, size_t len, papyra_json **ret, papyra__json_error *err);

/*
 * The one rule for a stored line (both file backends, every operation):
 * 1 and a root in *obj when the @p len bytes are a JSON object; 0 when the
 * line is an anomaly (blank, invalid JSON or UTF-8, not an object), *obj
 * NULL; or PAPYRA_ENOMEM.
 */
int papyra__json_parse_object(const char *buf, size_t len, papyra_json **obj);

/*
 * Appends what json.dumps(v) produces to out. Returns PAPYRA_EINVAL if a
 * string is not WTF-8 (papyra__utf8_invalid_at(): UTF-8 plus lone
 * surrogates, but not a high surrogate directly followed by a low one),
 * PAPYRA_ENOMEM; on failure out is left as it was.
 */
int papyra__json_write(const papyra_json *v, unsigned flags, papyra_buf *out);

/* Appends s as a JSON string literal; same rules and errors as above. */
int papyra__json_write_string(const char *s, size_t n, unsigned flags, papyra_buf *out);

/* Appends a double as json.dumps() writes a float. */
int papyra__json_write_double(double d, papyra_buf *out);

/* Room for any double as papyra__json_format_double() writes it. */
#define PAPYRA__JSON_DOUBLE_MAX 32

/*
 * Writes d as repr(float) and json.dumps() do (the shortest digits that read
 * back as d; "NaN", "Infinity", "-0.0", "1e-05", "1e+16") to text, which
 * has room for PAPYRA__JSON_DOUBLE_MAX bytes, without a terminating NUL.
 * Returns the length. The one formatter of doubles (src/json/dtoa.c).
 */
size_t papyra__json_format_double(double d, char *text);

/*
 * Constructors. Each returns a new root, or NULL when memory runs out.
 * new_string copies n bytes (which may include NUL bytes); new_bigint copies
 * an optional '-' and decimal digits without leading zeros and returns NULL
 * if they are malformed.
 */
papyra_json *papyra__json_new_null(void);
papyra_json *papyra__json_new_bool(bool b);
papyra_json *papyra__json_new_int(int64_t i);
papyra_json *papyra__json_new_bigint(const char *digits, size_t n);
papyra_json *papyra__json_new_float(double d);
papyra_json *papyra__json_new_string(const char *s, size_t n);
papyra_json *papyra__json_new_array(void);
papyra_json *papyra__json_new_object(void);

/*
 * Appends item to the root array arr. Takes ownership of item, which must be
 * a root and is freed on failure. Returns PAPYRA_EINVAL if arr is not an
 * array, PAPYRA_ENOMEM.
 */
int papyra__json_array_append(papyra_json *arr, papyra_json *item);

/*
 * Sets key (keylen bytes) of the root object obj to item, like assigning to a
 * Python dict: a new key goes last, an existing key keeps its position. Takes
 * ownership of item, which is freed on failure. Returns PAPYRA_EINVAL if obj
 * is not an object, PAPYRA_ENOMEM.
 */
int papyra__json_object_set(papyra_json *obj, const char *key, size_t keylen, papyra_json *item);

/* Releases a root and everything in it. NULL is a no-op. */
void papyra__json_free(papyra_json *v);

/*
 * Deep-copies any value (a root or a view) into a new root. Returns
 * PAPYRA_ENOMEM; *ret is untouched on failure.
 */
int papyra__json_clone(const papyra_json *v, papyra_json **ret);

/*
 * Accessors. They accept NULL and values of the wrong type, answering as
 * each comment says, so that lookups can be chained without checks.
 */

/* Type of v; PAPYRA_JSON_NULL for a NULL pointer. */
papyra_json_type papyra__json_type(const papyra_json *v);

/* Returns 0 and stores the value, or PAPYRA_EINVAL for a non-boolean. */
int papyra__json_get_bool(const papyra_json *v, bool *ret);

/* Returns 0 and stores the value, or PAPYRA_EINVAL unless the type is INT. */
int papyra__json_get_int(const papyra_json *v, int64_t *ret);

/* Returns 0 and stores the value, or PAPYRA_EINVAL unless the type is FLOAT. */
int papyra__json_get_float(const papyra_json *v, double *ret);

/*
 * Converts INT, BIGINT or FLOAT to the nearest double. A BIGINT beyond the
 * double range becomes an infinity (where Python's float() would raise).
 * Returns PAPYRA_EINVAL for other types, PAPYRA_ENOMEM.
 */
int papyra__json_number_as_double(const papyra_json *v, double *ret);

/*
 * Returns the bytes of a STRING (NUL-terminated for convenience, but may hold
 * NUL bytes) and stores their count in *len if len is not NULL; NULL for
 * other types.
 */
const char *papyra__json_string(const papyra_json *v, size_t *len);

/* Returns the digits of a BIGINT as a NUL-terminated string; NULL otherwise. */
const char *papyra__json_bigint_text(const papyra_json *v, size_t *len);

/* Number of elements of an ARRAY; 0 for other types. */
size_t papyra__json_array_len(const papyra_json *v);

/* Element i of an ARRAY; NULL when out of range or not an array. */
const papyra_json *papyra__json_array_get(const papyra_json *v, size_t i);

/* Number of members of an OBJECT; 0 for other types. */
size_t papyra__json_object_len(const papyra_json *v);

/*
 * Member i of an OBJECT in insertion order: returns its value and stores its
 * key (NUL-terminated, may hold NUL bytes) in *key and *keylen when those are
 * not NULL. NULL when out of range or not an object.
 */
const papyra_json *
papyra__json_object_at(const papyra_json *v, size_t i, const char **key, size_t *keylen);

/* Value of a key given as a C string, or NULL (linear search). */
const papyra_json *papyra__json_object_get(const papyra_json *v, const char *key);

/* Same as papyra__json_object_get() for a key of keylen bytes. */
const papyra_json *papyra__json_object_getn(const papyra_json *v, const char *key, size_t keylen);

#endif /* PAPYRA_JSON_H */
