/* SPDX-License-Identifier: MIT */
/*
 * The JSON line parser and the normal-form fast path (src/json/,
 * src/record/codec.c). Properties, for any bytes:
 *
 * - the parser accepts or answers PAPYRA_ECORRUPT, and
 *   papyra__json_parse_object() accepts exactly the objects it accepts;
 * - whatever the fast path calls normal form (either ensure_ascii) parses,
 *   is written back to exactly the same bytes, and has the "kind" and
 *   "timestamp" the record codec reads from the tree;
 * - encode . decode is stable: what a parsed tree writes parses again and
 *   writes the same bytes (decode(encode(decode(x))) == decode(x)), in both
 *   styles, and the fast path never calls it anything but all or nothing;
 * - the lines of the input (split at "\n"), checked in turn with one cache
 *   of shapes, get what the full normal-form check answers for each, with
 *   the same kind, timestamp and typed; with a scan's cache (valid_only),
 *   what it takes besides is JSON the parser reads with that kind,
 *   has-timestamp and typed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json/json.h"
#include "record/codec.h"
#include "util/buf.h"

static void
check_info(const char *text, const papyra__normal_info *info, const papyra_json *v)
{
    double ts = 0;
    bool has = papyra__record_timestamp(v, &ts);

    PAPYRA_FUZZ_CHECK(info->kind == papyra__record_kind_of(v),
                      "normal-form kind %d, the tree's %d: %s", info->kind,
                      papyra__record_kind_of(v), text);
    PAPYRA_FUZZ_CHECK(info->has_timestamp == has, "normal-form timestamp %d, the tree's %d: %s",
                      info->has_timestamp, has, text);
    PAPYRA_FUZZ_CHECK(!has || (isnan(ts) && isnan(info->timestamp)) || ts == info->timestamp,
                      "normal-form timestamp %.17g, the tree's %.17g: %s", info->timestamp, ts,
                      text);
}

/* The fast path on @p text (NUL after it): all or nothing, and right when it says all. */
static void
check_fast(const char *text, size_t len, const papyra_json *v, int parsed)
{
    for (int ascii = 0; ascii < 2; ascii++) {
        papyra__normal_info info;
        size_t n = papyra__json_normal_len(text, len, ascii, &info);
        papyra_buf out = {0};

        if (n == 0)
            continue;
        PAPYRA_FUZZ_CHECK(n == len, "normal_len %zu of %zu bytes", n, len);
        PAPYRA_FUZZ_CHECK(parsed == 0, "fast path accepts what the parser rejects (%d): %s", parsed,
                          text);
        PAPYRA_FUZZ_CHECK(papyra__json_write(v, ascii ? PAPYRA_JSON_ENSURE_ASCII : 0, &out) == 0,
                          "a normal-form text cannot be written back: %s", text);
        PAPYRA_FUZZ_CHECK(out.len == len && memcmp(out.data, text, len) == 0,
                          "normal form (ascii %d) writes back otherwise: %s -> %.*s", ascii, text,
                          (int)out.len, out.data);
        papyra__buf_free(&out);
        check_info(text, &info, v);
    }
}

/*
 * A line a scan's shapes (valid_only) take but the full check does not: JSON
 * the parser reads with the kind, timestamp and types they say.
 */
static void
check_valid_only(const char *line, size_t n, const papyra__normal_info *got)
{
    papyra_json *v = NULL;
    double ts;
    int r = papyra__json_parse(line, n, &v);

    PAPYRA_FUZZ_CHECK(r == 0 || r == PAPYRA_ENOMEM,
                      "valid_only takes what the parser refuses: %.*s", (int)n, line);
    if (r != 0)
        return;
    PAPYRA_FUZZ_CHECK(got->kind == papyra__record_kind_of(v) &&
                          got->has_timestamp == papyra__record_timestamp(v, &ts) &&
                          (!got->typed || papyra__json_type(v) != PAPYRA_JSON_OBJECT ||
                           papyra__record_classify(v, NULL, 0) != PAPYRA__LINE_MISTYPED),
                      "valid_only reads otherwise than the tree: %.*s", (int)n, line);
    papyra__json_free(v);
}

/*
 * Every line of @p text through one cache of shapes: the answers of the full
 * check; through a scan's (valid_only), at least those, and only JSON.
 */
static void
check_shapes(const char *text, size_t len)
{
    for (int mode = 0; mode < 4; mode++) {
        bool ascii = mode & 1, valid_only = mode & 2;
        papyra__normal_shapes shapes = {.valid_only = valid_only};
        size_t at = 0;

        while (at <= len) {
            const char *nl = memchr(text + at, '\n', len - at);
            size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
            papyra__normal_info want = {0}, got = {0};
            size_t w = papyra__json_normal_len(text + at, n, ascii, &want);
            size_t g = papyra__json_normal_len_shaped(text + at, n, ascii, &got, &shapes);

            if (valid_only) {
                PAPYRA_FUZZ_CHECK(g == w || (g == n && n > 0 && w == 0),
                                  "valid_only %zu, full check %zu: %.*s", g, w, (int)n, text + at);
                if (g == n && n > 0 && w == 0)
                    check_valid_only(text + at, n, &got);
                PAPYRA_FUZZ_CHECK(!w || (want.kind == got.kind &&
                                         want.has_timestamp == got.has_timestamp &&
                                         want.typed == got.typed),
                                  "valid_only info differs: %.*s", (int)n, text + at);
                at += n + 1;
                continue;
            }
            PAPYRA_FUZZ_CHECK(w == g, "shaped %zu, full check %zu: %.*s", g, w, (int)n, text + at);
            PAPYRA_FUZZ_CHECK(!w || (want.kind == got.kind &&
                                     want.has_timestamp == got.has_timestamp &&
                                     want.typed == got.typed &&
                                     (!want.has_timestamp || want.timestamp == got.timestamp)),
                              "shaped info differs: %.*s", (int)n, text + at);
            at += n + 1;
        }
    }
}

/* encode . decode is stable in the style @p flags. */
static void
check_stable(const char *text, const papyra_json *v, unsigned flags)
{
    papyra_buf w1 = {0}, w2 = {0};
    papyra_json *v2 = NULL;
    int r;

    r = papyra__json_write(v, flags, &w1);
    PAPYRA_FUZZ_CHECK(r == 0, "a parsed tree cannot be written (flags %u, %d): %s", flags, r, text);
    r = papyra__json_parse(w1.data, w1.len, &v2);
    PAPYRA_FUZZ_CHECK(r == 0, "what the writer wrote does not parse (%d): %.*s", r, (int)w1.len,
                      w1.data);
    r = papyra__json_write(v2, flags, &w2);
    PAPYRA_FUZZ_CHECK(r == 0, "a re-parsed tree cannot be written (%d)", r);
    PAPYRA_FUZZ_CHECK(w1.len == w2.len && memcmp(w1.data, w2.data, w1.len) == 0,
                      "encode twice differs: %.*s / %.*s", (int)w1.len, w1.data, (int)w2.len,
                      w2.data);
    /* The writer's output is normal form, so the fast path may say so, but never in part. */
    {
        char *copy = papyra_fuzz_strndup((const uint8_t *)w1.data, w1.len);
        check_fast(copy, w1.len, v2, 0);
        free(copy);
    }
    papyra__json_free(v2);
    papyra__buf_free(&w1);
    papyra__buf_free(&w2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = papyra_fuzz_strndup(data, size);
    papyra_json *v = NULL, *obj = NULL;
    int r = papyra__json_parse(text, size, &v);
    int o = papyra__json_parse_object(text, size, &obj);

    PAPYRA_FUZZ_CHECK(r == 0 || r == PAPYRA_ECORRUPT || r == PAPYRA_ENOMEM, "parse answered %d", r);
    PAPYRA_FUZZ_CHECK(o == (r == 0 && papyra__json_type(v) == PAPYRA_JSON_OBJECT) ||
                          o == PAPYRA_ENOMEM,
                      "parse_object answered %d where parse answered %d (type %d)", o, r,
                      r == 0 ? (int)papyra__json_type(v) : -1);
    PAPYRA_FUZZ_CHECK((o == 1) == (obj != NULL), "parse_object's object and answer disagree");
    check_fast(text, size, v, r);
    check_shapes(text, size);
    if (r == 0) {
        check_stable(text, v, 0);
        check_stable(text, v, PAPYRA_JSON_ENSURE_ASCII);
    }
    papyra__json_free(obj);
    papyra__json_free(v);
    free(text);
    return 0;
}
