/* SPDX-License-Identifier: MIT */
/*
 * Tests of the growable buffer and of the JSON tree: parsing and writing must
 * match Python's json module byte for byte. The tables of expected results,
 * generated with python3, are in json-vectors.h.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <papyra/common.h>

#include "json-vectors.h"
#include "json/json.h"
#include "util/buf.h"
#include "util/utf8.h"

/* Parses text that must be valid; fails the test otherwise. */
static papyra_json *
parse_ok(const char *text, size_t len)
{
    papyra_json *v = NULL;

    assert_int_equal(papyra__json_parse(text, len, &v), 0);
    assert_non_null(v);
    return v;
}

/*
 * Writes v into a fresh buffer and compares the whole output with expected
 * (JSON output never holds a raw NUL byte, so strlen() gives its length).
 */
static void
assert_writes(const papyra_json *v, unsigned flags, const char *expected)
{
    papyra_buf b = {0};
    size_t len = strlen(expected);

    assert_int_equal(papyra__json_write(v, flags, &b), 0);
    if (b.len != len || memcmp(b.data, expected, len) != 0)
        fail_msg("wrote '%s', expected '%s'", b.data, expected);
    papyra__buf_free(&b);
}

/* Parses text and checks what json.dumps() would make of it. */
static void
assert_roundtrip(const char *text, unsigned flags, const char *expected)
{
    papyra_json *v = parse_ok(text, strlen(text));

    assert_writes(v, flags, expected);
    papyra__json_free(v);
}

static void
test_buf_should_grow_and_stay_nul_terminated(void **state)
{
    papyra_buf b = {0};
    int i;

    assert_int_equal(papyra__buf_puts(&b, "ab"), 0);
    assert_int_equal(papyra__buf_putc(&b, 'c'), 0);
    assert_int_equal(papyra__buf_append(&b, "d\0e", 3), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "abcd\0e", 7);
    for (i = 0; i < 1000; i++)
        assert_int_equal(papyra__buf_appendf(&b, "%d,", i), 0);
    assert_int_equal(b.data[b.len], '\0');
    assert_true(b.cap > b.len);
    papyra__buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    papyra__buf_free(&b);
    papyra__buf_free(NULL);
}

static void
test_buf_appendf_should_handle_output_longer_than_its_stack_buffer(void **state)
{
    papyra_buf b = {0};
    char big[1000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(papyra__buf_appendf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, sizeof(big) + 1);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[b.len - 1], '>');
    papyra__buf_free(&b);
}

static void
test_buf_steal_should_hand_over_the_string_and_empty_the_buffer(void **state)
{
    papyra_buf b = {0};
    char *s = papyra__buf_steal(&b);

    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(papyra__buf_puts(&b, "hello"), 0);
    s = papyra__buf_steal(&b);
    assert_string_equal(s, "hello");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(s);
}

static void
test_buf_reserve_should_refuse_sizes_that_overflow(void **state)
{
    papyra_buf b = {0};

    assert_int_equal(papyra__buf_puts(&b, "abc"), 0);
    assert_int_equal(papyra__buf_reserve(&b, SIZE_MAX), PAPYRA_ENOMEM);
    assert_int_equal(papyra__buf_reserve(&b, SIZE_MAX - 3), PAPYRA_ENOMEM);
    assert_string_equal(b.data, "abc");
    papyra__buf_free(&b);
}

static void
test_json_write_should_format_floats_like_python(void **state)
{
    papyra_buf b = {0};
    size_t i;

    for (i = 0; i < sizeof(float_vectors) / sizeof(float_vectors[0]); i++) {
        papyra__buf_reset(&b);
        assert_int_equal(papyra__json_write_double(float_vectors[i].value, &b), 0);
        if (strcmp(b.data, float_vectors[i].text) != 0)
            fail_msg("%a: wrote %s, expected %s", float_vectors[i].value, b.data,
                     float_vectors[i].text);
    }
    papyra__buf_free(&b);
}

static void
test_json_parse_should_read_back_every_float_vector_exactly(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(float_vectors) / sizeof(float_vectors[0]); i++) {
        const char *text = float_vectors[i].text;
        papyra_json *v = parse_ok(text, strlen(text));
        double d;

        assert_int_equal(papyra__json_number_as_double(v, &d), 0);
        if (memcmp(&d, &float_vectors[i].value, sizeof(d)) != 0)
            fail_msg("%s: read %a, expected %a", text, d, float_vectors[i].value);
        papyra__json_free(v);
    }
}

static void
test_json_write_should_spell_non_finite_floats_like_python(void **state)
{
    papyra_buf b = {0};

    assert_int_equal(papyra__json_write_double(NAN, &b), 0);
    assert_int_equal(papyra__buf_putc(&b, ' '), 0);
    assert_int_equal(papyra__json_write_double(INFINITY, &b), 0);
    assert_int_equal(papyra__buf_putc(&b, ' '), 0);
    assert_int_equal(papyra__json_write_double(-INFINITY, &b), 0);
    assert_string_equal(b.data, "NaN Infinity -Infinity");
    papyra__buf_free(&b);
}

static void
test_json_write_should_escape_strings_like_python_in_both_modes(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(escape_vectors) / sizeof(escape_vectors[0]); i++) {
        papyra_json *v = papyra__json_new_string(escape_vectors[i].in, escape_vectors[i].len);

        assert_non_null(v);
        assert_writes(v, 0, escape_vectors[i].utf8);
        assert_writes(v, PAPYRA_JSON_ENSURE_ASCII, escape_vectors[i].ascii);
        papyra__json_free(v);
    }
}

static void
test_json_parse_should_accept_and_reject_like_python(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(parse_vectors) / sizeof(parse_vectors[0]); i++) {
        papyra_json *v = (papyra_json *)&parse_vectors; /* Must stay untouched on failure. */
        papyra_json *const sentinel = v;
        int r = papyra__json_parse(parse_vectors[i].in, parse_vectors[i].len, &v);

        if (!parse_vectors[i].out) {
            if (r != PAPYRA_ECORRUPT)
                fail_msg("vector %zu ('%s') gave %d, expected ECORRUPT", i, parse_vectors[i].in, r);
            assert_ptr_equal(v, sentinel);
            continue;
        }
        if (r != 0)
            fail_msg("vector %zu ('%s') rejected with %d", i, parse_vectors[i].in, r);
        assert_writes(v, 0, parse_vectors[i].out);
        papyra__json_free(v);
    }
}

static void
test_json_parse_should_not_read_past_the_given_length(void **state)
{
    papyra_json *v;

    /* The bytes after the length would make these documents invalid or different. */
    v = parse_ok("12345", 2);
    assert_writes(v, 0, "12");
    papyra__json_free(v);
    v = parse_ok("1.5e300", 3);
    assert_writes(v, 0, "1.5");
    papyra__json_free(v);
    assert_int_equal(papyra__json_parse("\"ab\"", 3, &v), PAPYRA_ECORRUPT);
    assert_int_equal(papyra__json_parse("tru", 3, &v), PAPYRA_ECORRUPT);
    assert_int_equal(papyra__json_parse("\"\\u00e9\"", 7, &v), PAPYRA_ECORRUPT);
}

static void
test_json_parse_should_reject_bad_arguments(void **state)
{
    papyra_json *v = NULL;

    assert_int_equal(papyra__json_parse(NULL, 1, &v), PAPYRA_EINVAL);
    assert_int_equal(papyra__json_parse("1", 1, NULL), PAPYRA_EINVAL);
    assert_int_equal(papyra__json_parse(NULL, 0, &v), PAPYRA_ECORRUPT);
    assert_null(v);
}

/* Builds n nested arrays around a 0. */
static char *
nested_arrays(size_t n, size_t *len)
{
    char *s = malloc(2 * n + 1);

    assert_non_null(s);
    memset(s, '[', n);
    s[n] = '0';
    memset(s + n + 1, ']', n);
    *len = 2 * n + 1;
    return s;
}

/* Builds n nested objects {"a": ...} around a 0, as json.dumps() writes them. */
static char *
nested_objects(size_t n, size_t *len)
{
    char *s = malloc(7 * n + 1), *p = s;
    size_t i;

    assert_non_null(s);
    for (i = 0; i < n; i++) {
        memcpy(p, "{\"a\": ", 6);
        p += 6;
    }
    *p++ = '0';
    memset(p, '}', n);
    *len = 7 * n + 1;
    return s;
}

/* Parses s, writes it back byte for byte, clones it and writes the clone. */
static void
assert_deep_round_trip(const char *s, size_t len)
{
    papyra_json *v = NULL, *copy = NULL;
    papyra_buf b = {0};

    assert_int_equal(papyra__json_parse(s, len, &v), 0);
    assert_int_equal(papyra__json_write(v, 0, &b), 0);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, s, len);
    assert_int_equal(papyra__json_clone(v, &copy), 0);
    papyra__json_free(v);
    papyra__buf_reset(&b);
    assert_int_equal(papyra__json_write(copy, PAPYRA_JSON_ENSURE_ASCII, &b), 0);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, s, len);
    papyra__json_free(copy);
    papyra__buf_free(&b);
}

/*
 * Upstream (Python's json) reads ~994 levels by default and more when an
 * application raises its recursion limit; every walker here is iterative, so
 * depth is bounded by memory only and never by the C stack (the ASan build,
 * with its bigger frames, runs this too).
 */
static void
test_json_should_parse_write_and_clone_any_nesting_depth(void **state)
{
    static const size_t depths[] = {512, 513, 600, 1000, 5000, 100000, 1000000};
    papyra_json *v = NULL;
    size_t i, len;
    char *s;

    for (i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        s = nested_arrays(depths[i], &len);
        assert_deep_round_trip(s, len);
        /* Unclosed at the bottom: refused cleanly, not a stack overflow. */
        assert_int_equal(papyra__json_parse(s, len - 1, &v), PAPYRA_ECORRUPT);
        s[len - 1] = '}';
        assert_int_equal(papyra__json_parse(s, len, &v), PAPYRA_ECORRUPT);
        s[0] = '{';
        assert_int_equal(papyra__json_parse(s, len, &v), PAPYRA_ECORRUPT);
        free(s);
        s = nested_objects(depths[i], &len);
        assert_deep_round_trip(s, len);
        assert_int_equal(papyra__json_parse(s, len - 1, &v), PAPYRA_ECORRUPT);
        free(s);
    }
    assert_null(v);
}

/* A tree built by the constructors, as deep as any parsed one, writes and clones. */
static void
test_json_write_and_clone_should_take_deep_built_trees(void **state)
{
    papyra_json *v = papyra__json_new_int(0), *arr, *obj, *copy = NULL;
    papyra_buf b = {0};
    size_t i, n = 200000;

    assert_non_null(v);
    for (i = 0; i < n; i++) {
        arr = papyra__json_new_array();
        obj = papyra__json_new_object();
        assert_non_null(arr);
        assert_non_null(obj);
        assert_int_equal(papyra__json_array_append(arr, v), 0);
        assert_int_equal(papyra__json_object_set(obj, "k", 1, arr), 0);
        v = obj;
    }
    assert_int_equal(papyra__json_write(v, 0, &b), 0);
    assert_int_equal(b.len, n * 9 + 1);
    assert_int_equal(memcmp(b.data, "{\"k\": [{\"k\": [", 14), 0);
    assert_int_equal(papyra__json_clone(v, &copy), 0);
    papyra__json_free(v);
    papyra__buf_reset(&b);
    assert_int_equal(papyra__json_write(copy, 0, &b), 0);
    assert_int_equal(b.len, n * 9 + 1);
    papyra__json_free(copy);
    papyra__buf_free(&b);
}

static void
test_json_parse_should_keep_the_first_position_of_a_duplicate_key(void **state)
{
    papyra_json *v = parse_ok("{\"a\": 1, \"b\": 2, \"a\": 3}", 24);
    const char *key;
    int64_t i;

    assert_int_equal(papyra__json_object_len(v), 2);
    assert_non_null(papyra__json_object_at(v, 0, &key, NULL));
    assert_string_equal(key, "a");
    assert_int_equal(papyra__json_get_int(papyra__json_object_get(v, "a"), &i), 0);
    assert_int_equal(i, 3);
    assert_writes(v, 0, "{\"a\": 3, \"b\": 2}");
    papyra__json_free(v);
}

static void
test_json_parse_should_find_duplicates_in_large_objects(void **state)
{
    papyra_buf in = {0}, expected = {0};
    papyra_json *v;
    int i;

    /* Enough keys to switch to the hash index, each given twice. */
    assert_int_equal(papyra__buf_putc(&in, '{'), 0);
    assert_int_equal(papyra__buf_putc(&expected, '{'), 0);
    for (i = 0; i < 200; i++) {
        assert_int_equal(papyra__buf_appendf(&in, "%s\"k%d\": %d", i ? ", " : "", i, i), 0);
        assert_int_equal(papyra__buf_appendf(&expected, "%s\"k%d\": %d", i ? ", " : "", i, -i), 0);
    }
    for (i = 199; i >= 0; i--)
        assert_int_equal(papyra__buf_appendf(&in, ", \"k%d\": %d", i, -i), 0);
    assert_int_equal(papyra__buf_putc(&in, '}'), 0);
    assert_int_equal(papyra__buf_putc(&expected, '}'), 0);
    v = parse_ok(in.data, in.len);
    assert_int_equal(papyra__json_object_len(v), 200);
    assert_writes(v, 0, expected.data);
    papyra__json_free(v);
    papyra__buf_free(&in);
    papyra__buf_free(&expected);
}

static void
test_json_should_round_trip_big_integers_verbatim(void **state)
{
    static const char *const texts[] = {
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "123456789012345678901234567890",
        "-1000000000000000000000000000000000000000000000000000000000000000000000000001",
    };
    size_t i;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        assert_roundtrip(texts[i], 0, texts[i]);
    assert_roundtrip("[-0, 0, -9223372036854775808]", 0, "[0, 0, -9223372036854775808]");
}

static void
test_json_parse_should_type_integers_by_range(void **state)
{
    papyra_json *v = parse_ok("[9223372036854775807, 9223372036854775808, 1e2, 2.0]", 52);
    const char *digits;
    int64_t i;
    double d;

    assert_int_equal(papyra__json_type(papyra__json_array_get(v, 0)), PAPYRA_JSON_INT);
    assert_int_equal(papyra__json_get_int(papyra__json_array_get(v, 0), &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(papyra__json_type(papyra__json_array_get(v, 1)), PAPYRA_JSON_BIGINT);
    digits = papyra__json_bigint_text(papyra__json_array_get(v, 1), NULL);
    assert_string_equal(digits, "9223372036854775808");
    assert_int_equal(papyra__json_number_as_double(papyra__json_array_get(v, 1), &d), 0);
    assert_true(d == 9223372036854775808.0);
    assert_int_equal(papyra__json_type(papyra__json_array_get(v, 2)), PAPYRA_JSON_FLOAT);
    assert_int_equal(papyra__json_get_float(papyra__json_array_get(v, 3), &d), 0);
    assert_true(d == 2.0);
    assert_writes(v, 0, "[9223372036854775807, 9223372036854775808, 100.0, 2.0]");
    papyra__json_free(v);
}

static void
test_json_parse_should_refuse_integers_python_refuses_to_convert(void **state)
{
    char *s = malloc(PAPYRA_JSON_MAX_INT_DIGITS + 3);
    papyra_json *v;

    assert_non_null(s);
    s[0] = '-';
    memset(s + 1, '7', PAPYRA_JSON_MAX_INT_DIGITS + 1);
    assert_int_equal(papyra__json_parse(s + 1, PAPYRA_JSON_MAX_INT_DIGITS, &v), 0);
    assert_int_equal(papyra__json_type(v), PAPYRA_JSON_BIGINT);
    papyra__json_free(v);
    assert_int_equal(papyra__json_parse(s, PAPYRA_JSON_MAX_INT_DIGITS + 1, &v), 0);
    papyra__json_free(v);
    assert_int_equal(papyra__json_parse(s + 1, PAPYRA_JSON_MAX_INT_DIGITS + 1, &v),
                     PAPYRA_ECORRUPT);
    /* Floats have no such limit in Python. */
    s[PAPYRA_JSON_MAX_INT_DIGITS + 1] = '.';
    s[PAPYRA_JSON_MAX_INT_DIGITS + 2] = '5';
    assert_int_equal(papyra__json_parse(s, PAPYRA_JSON_MAX_INT_DIGITS + 3, &v), 0);
    assert_writes(v, 0, "-Infinity");
    papyra__json_free(v);
    free(s);
}

static void
test_json_should_keep_embedded_nul_bytes_in_strings(void **state)
{
    papyra_json *v = parse_ok("{\"a\\u0000b\": \"x\\u0000y\"}", 24);
    const char *key, *s;
    size_t keylen, len;

    assert_non_null(papyra__json_object_at(v, 0, &key, &keylen));
    assert_int_equal(keylen, 3);
    assert_memory_equal(key, "a\0b", 4);
    assert_null(papyra__json_object_get(v, "a"));
    assert_non_null(papyra__json_object_getn(v, "a\0b", 3));
    s = papyra__json_string(papyra__json_object_getn(v, "a\0b", 3), &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "x\0y", 4);
    assert_writes(v, 0, "{\"a\\u0000b\": \"x\\u0000y\"}");
    papyra__json_free(v);
}

static void
test_json_should_write_lone_surrogates_back_as_escapes(void **state)
{
    papyra_json *v = parse_ok("\"a\\ud800b\\uDC01\\ud83d\\ude00\"", 28);
    const char *s;
    size_t len;

    /* WTF-8 for the lone ones, real UTF-8 for the pair. */
    s = papyra__json_string(v, &len);
    assert_int_equal(len, 12);
    assert_memory_equal(s,
                        "a\xed\xa0\x80"
                        "b\xed\xb0\x81\xf0\x9f\x98\x80",
                        12);
    assert_writes(v, 0, "\"a\\ud800b\\udc01\xf0\x9f\x98\x80\"");
    assert_writes(v, PAPYRA_JSON_ENSURE_ASCII, "\"a\\ud800b\\udc01\\ud83d\\ude00\"");
    papyra__json_free(v);
}

static void
test_json_write_should_refuse_invalid_utf8_and_keep_the_buffer(void **state)
{
    papyra_json *v = papyra__json_new_string("ok\xff", 3);
    papyra_buf b = {0};

    assert_non_null(v);
    assert_int_equal(papyra__buf_puts(&b, "prefix"), 0);
    assert_int_equal(papyra__json_write(v, 0, &b), PAPYRA_EINVAL);
    assert_int_equal(papyra__json_write(v, PAPYRA_JSON_ENSURE_ASCII, &b), PAPYRA_EINVAL);
    assert_int_equal(papyra__json_write_string("\xc0\xaf", 2, 0, &b), PAPYRA_EINVAL);
    assert_int_equal(b.len, 6);
    assert_string_equal(b.data, "prefix");
    papyra__json_free(v);
    papyra__buf_free(&b);
}

static void
test_utf8_valid_should_be_strict(void **state)
{
    assert_true(papyra__utf8_valid("", 0));
    assert_true(papyra__utf8_valid("a\0b", 3));
    assert_true(papyra__utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    assert_true(papyra__utf8_valid("\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80", 10));
    assert_false(papyra__utf8_valid("\xc3", 1));
    assert_false(papyra__utf8_valid("\x80", 1));
    assert_false(papyra__utf8_valid("\xc0\xaf", 2));
    assert_false(papyra__utf8_valid("\xc1\xbf", 2));
    assert_false(papyra__utf8_valid("\xe0\x9f\xbf", 3));
    assert_false(papyra__utf8_valid("\xed\xa0\x80", 3));
    assert_false(papyra__utf8_valid("\xed\xbf\xbf", 3));
    assert_false(papyra__utf8_valid("\xf0\x8f\xbf\xbf", 4));
    assert_false(papyra__utf8_valid("\xf4\x90\x80\x80", 4));
    assert_false(papyra__utf8_valid("\xf5\x80\x80\x80", 4));
    assert_false(papyra__utf8_valid("\xe2\x82", 2));
    assert_false(papyra__utf8_valid("\xe2\x28\xa1", 3));
}

static void
test_json_builders_should_make_trees_that_write_like_python(void **state)
{
    papyra_json *obj = papyra__json_new_object(), *arr = papyra__json_new_array();
    int i;

    assert_non_null(obj);
    assert_non_null(arr);
    assert_int_equal(papyra__json_array_append(arr, papyra__json_new_null()), 0);
    assert_int_equal(papyra__json_array_append(arr, papyra__json_new_bool(true)), 0);
    assert_int_equal(papyra__json_array_append(arr, papyra__json_new_bool(false)), 0);
    assert_int_equal(papyra__json_array_append(arr, papyra__json_new_int(-42)), 0);
    assert_int_equal(papyra__json_array_append(arr, papyra__json_new_float(0.5)), 0);
    assert_int_equal(
        papyra__json_array_append(arr, papyra__json_new_bigint("-99999999999999999999", 21)), 0);
    assert_int_equal(papyra__json_array_append(arr, papyra__json_new_string("\xc3\xa9", 2)), 0);
    for (i = 0; i < 20; i++)
        assert_int_equal(papyra__json_array_append(arr, papyra__json_new_array()), 0);
    assert_int_equal(papyra__json_object_set(obj, "z", 1, papyra__json_new_int(1)), 0);
    assert_int_equal(papyra__json_object_set(obj, "list", 4, arr), 0);
    assert_int_equal(papyra__json_object_set(obj, "empty", 5, papyra__json_new_object()), 0);
    /* Setting an existing key replaces the value in place, like a Python dict. */
    assert_int_equal(papyra__json_object_set(obj, "z", 1, papyra__json_new_string("new", 3)), 0);
    assert_int_equal(papyra__json_object_len(obj), 3);
    assert_writes(obj, 0,
                  "{\"z\": \"new\", \"list\": [null, true, false, -42, 0.5, -99999999999999999999, "
                  "\"\xc3\xa9\", [], [], [], [], [], [], [], [], [], [], [], [], [], [], [], [], "
                  "[], [], [], []], \"empty\": {}}");
    papyra__json_free(obj);
}

static void
test_json_builders_should_take_ownership_even_on_failure(void **state)
{
    papyra_json *num = papyra__json_new_int(1), *arr = papyra__json_new_array();

    /* The item is freed when the container is of the wrong type; ASan checks the leak. */
    assert_int_equal(papyra__json_array_append(num, papyra__json_new_int(2)), PAPYRA_EINVAL);
    assert_int_equal(papyra__json_object_set(arr, "k", 1, papyra__json_new_int(2)), PAPYRA_EINVAL);
    assert_int_equal(papyra__json_array_append(arr, NULL), PAPYRA_EINVAL);
    assert_int_equal(papyra__json_array_append(arr, arr), PAPYRA_EINVAL);
    assert_null(papyra__json_new_bigint("012", 3));
    assert_null(papyra__json_new_bigint("-", 1));
    assert_null(papyra__json_new_bigint("12a", 3));
    papyra__json_free(num);
    papyra__json_free(arr);
    papyra__json_free(NULL);
}

static void
test_json_parsed_trees_should_accept_modification(void **state)
{
    papyra_json *v = parse_ok("{\"kind\":\"event\",\"list\":[1]}", 27);
    int i;

    for (i = 0; i < 10; i++)
        assert_int_equal(papyra__json_object_set(v, "n", 1, papyra__json_new_int(i)), 0);
    assert_int_equal(papyra__json_object_set(v, "kind", 4, papyra__json_new_null()), 0);
    assert_int_equal(papyra__json_object_set(v, "x", 1, papyra__json_new_int(7)), 0);
    assert_writes(v, 0, "{\"kind\": null, \"list\": [1], \"n\": 9, \"x\": 7}");
    papyra__json_free(v);
}

static void
test_json_clone_should_copy_any_subtree(void **state)
{
    static const char text[] =
        "{\"a\": [1, 2.5, \"s\\u0000\", {\"b\": null}], \"c\": 12345678901234567890, \"d\": {}}";
    papyra_json *v = parse_ok(text, strlen(text)), *copy = NULL, *sub = NULL;

    assert_int_equal(papyra__json_clone(v, &copy), 0);
    papyra__json_free(v);
    assert_writes(copy, 0, text);
    assert_int_equal(papyra__json_clone(papyra__json_object_get(copy, "a"), &sub), 0);
    papyra__json_free(copy);
    assert_writes(sub, 0, "[1, 2.5, \"s\\u0000\", {\"b\": null}]");
    assert_int_equal(papyra__json_array_append(sub, papyra__json_new_int(3)), 0);
    assert_writes(sub, 0, "[1, 2.5, \"s\\u0000\", {\"b\": null}, 3]");
    papyra__json_free(sub);
}

static void
test_json_accessors_should_answer_safely_for_other_types_and_null(void **state)
{
    papyra_json *v = parse_ok("[\"s\", true]", 11);
    int64_t i = 5;
    double d = 5;
    bool b = false;

    assert_int_equal(papyra__json_type(NULL), PAPYRA_JSON_NULL);
    assert_int_equal(papyra__json_get_int(v, &i), PAPYRA_EINVAL);
    assert_int_equal(papyra__json_get_float(NULL, &d), PAPYRA_EINVAL);
    assert_int_equal(papyra__json_number_as_double(papyra__json_array_get(v, 0), &d),
                     PAPYRA_EINVAL);
    assert_int_equal(i, 5);
    assert_true(d == 5);
    assert_int_equal(papyra__json_get_bool(papyra__json_array_get(v, 1), &b), 0);
    assert_true(b);
    assert_null(papyra__json_string(v, NULL));
    assert_null(papyra__json_array_get(v, 2));
    assert_null(papyra__json_object_get(v, "k"));
    assert_null(papyra__json_object_get(NULL, "k"));
    assert_null(papyra__json_object_at(v, 0, NULL, NULL));
    assert_int_equal(papyra__json_object_len(v), 0);
    assert_int_equal(papyra__json_array_len(NULL), 0);
    assert_int_equal(papyra__json_array_len(v), 2);
    papyra__json_free(v);
}

static void
test_json_should_reserialise_a_compact_record_with_python_spacing(void **state)
{
    assert_roundtrip("{\"kind\":\"event\",\"timestamp\":1}", 0,
                     "{\"kind\": \"event\", \"timestamp\": 1}");
    assert_roundtrip(" {\"a\":[1,2,{}],\"b\":\"/\"} ", 0, "{\"a\": [1, 2, {}], \"b\": \"/\"}");
}

static void
test_json_parse_should_handle_long_strings_and_many_values(void **state)
{
    papyra_buf in = {0};
    papyra_json *v;
    int i;

    /* Larger than the parser's inline scratch and first chunk estimate. */
    assert_int_equal(papyra__buf_putc(&in, '['), 0);
    for (i = 0; i < 20000; i++)
        assert_int_equal(papyra__buf_appendf(&in, "%s[%d, \"x\\n%d\"]", i ? ", " : "", i, i), 0);
    assert_int_equal(papyra__buf_putc(&in, ']'), 0);
    v = parse_ok(in.data, in.len);
    assert_int_equal(papyra__json_array_len(v), 20000);
    papyra__json_free(v);
    papyra__buf_free(&in);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_should_grow_and_stay_nul_terminated),
        cmocka_unit_test(test_buf_appendf_should_handle_output_longer_than_its_stack_buffer),
        cmocka_unit_test(test_buf_steal_should_hand_over_the_string_and_empty_the_buffer),
        cmocka_unit_test(test_buf_reserve_should_refuse_sizes_that_overflow),
        cmocka_unit_test(test_json_write_should_format_floats_like_python),
        cmocka_unit_test(test_json_parse_should_read_back_every_float_vector_exactly),
        cmocka_unit_test(test_json_write_should_spell_non_finite_floats_like_python),
        cmocka_unit_test(test_json_write_should_escape_strings_like_python_in_both_modes),
        cmocka_unit_test(test_json_parse_should_accept_and_reject_like_python),
        cmocka_unit_test(test_json_parse_should_not_read_past_the_given_length),
        cmocka_unit_test(test_json_parse_should_reject_bad_arguments),
        cmocka_unit_test(test_json_should_parse_write_and_clone_any_nesting_depth),
        cmocka_unit_test(test_json_write_and_clone_should_take_deep_built_trees),
        cmocka_unit_test(test_json_parse_should_keep_the_first_position_of_a_duplicate_key),
        cmocka_unit_test(test_json_parse_should_find_duplicates_in_large_objects),
        cmocka_unit_test(test_json_should_round_trip_big_integers_verbatim),
        cmocka_unit_test(test_json_parse_should_type_integers_by_range),
        cmocka_unit_test(test_json_parse_should_refuse_integers_python_refuses_to_convert),
        cmocka_unit_test(test_json_should_keep_embedded_nul_bytes_in_strings),
        cmocka_unit_test(test_json_should_write_lone_surrogates_back_as_escapes),
        cmocka_unit_test(test_json_write_should_refuse_invalid_utf8_and_keep_the_buffer),
        cmocka_unit_test(test_utf8_valid_should_be_strict),
        cmocka_unit_test(test_json_builders_should_make_trees_that_write_like_python),
        cmocka_unit_test(test_json_builders_should_take_ownership_even_on_failure),
        cmocka_unit_test(test_json_parsed_trees_should_accept_modification),
        cmocka_unit_test(test_json_clone_should_copy_any_subtree),
        cmocka_unit_test(test_json_accessors_should_answer_safely_for_other_types_and_null),
        cmocka_unit_test(test_json_should_reserialise_a_compact_record_with_python_spacing),
        cmocka_unit_test(test_json_parse_should_handle_long_strings_and_many_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
