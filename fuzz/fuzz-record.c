/* SPDX-License-Identifier: MIT */
/*
 * The record codec (src/record/codec.c): a stored line -> papyra_record ->
 * a line again. Property: whatever decoding returns (what list would hand
 * to an application) can be written back, in both line styles (json:/Redis
 * and rotating:), and the written line decodes to the same record, so the
 * second encoding gives the same bytes as the first.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json/json.h"
#include "record/codec.h"
#include "util/buf.h"

static const char *const style_names[] = {"json", "rotating"};

static void
check_style(const char *text, const papyra_record *rec, int style)
{
    papyra_buf l1 = {0}, l2 = {0};
    papyra_json *obj = NULL;
    papyra_record back;
    const char *why = NULL;
    int r;

    r = papyra__record_encode(rec, style, &l1);
    PAPYRA_FUZZ_CHECK(r == 0, "a decoded %s record cannot be written back in the %s style (%d): %s",
                      papyra_kind_name(rec->kind), style_names[style], r, text);
    r = papyra__json_parse_object(l1.data, l1.len, &obj);
    PAPYRA_FUZZ_CHECK(r == 1, "the %s-style line is not a JSON object (%d): %.*s",
                      style_names[style], r, (int)l1.len, l1.data);
    memset(&back, 0, sizeof(back));
    r = papyra__record_decode(obj, NULL, &back);
    PAPYRA_FUZZ_CHECK(r == 0, "the %s-style line does not decode (%d): %.*s", style_names[style], r,
                      (int)l1.len, l1.data);
    PAPYRA_FUZZ_CHECK(papyra_fuzz_record_equal(rec, &back, &why),
                      "the %s-style line decodes to another %s: %s -> %.*s", style_names[style],
                      why, text, (int)l1.len, l1.data);
    r = papyra__record_encode(&back, style, &l2);
    PAPYRA_FUZZ_CHECK(r == 0 && l1.len == l2.len && memcmp(l1.data, l2.data, l1.len) == 0,
                      "encoding the record twice (%s style) differs: %.*s / %.*s",
                      style_names[style], (int)l1.len, l1.data, (int)l2.len, l2.data);
    papyra__record_clear(&back);
    papyra__json_free(obj);
    papyra__buf_free(&l1);
    papyra__buf_free(&l2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = papyra_fuzz_strndup(data, size);
    papyra_json *obj = NULL;
    papyra_record rec;
    int r = papyra__json_parse_object(text, size, &obj);

    PAPYRA_FUZZ_CHECK(r == 0 || r == 1 || r == PAPYRA_ENOMEM, "parse_object answered %d", r);
    if (r == 1) {
        memset(&rec, 0, sizeof(rec));
        r = papyra__record_decode(obj, NULL, &rec);
        PAPYRA_FUZZ_CHECK(r == 0 || r == PAPYRA_ENOENT || r == PAPYRA_ECORRUPT ||
                              r == PAPYRA_ENOMEM,
                          "decode answered %d", r);
        PAPYRA_FUZZ_CHECK((r == PAPYRA_ENOENT) == (papyra__record_kind_of(obj) < 0),
                          "decode (%d) and kind_of (%d) disagree", r, papyra__record_kind_of(obj));
        if (r == 0) {
            check_style(text, &rec, PAPYRA_STYLE_JSON);
            check_style(text, &rec, PAPYRA_STYLE_ROTATING);
            papyra__record_clear(&rec);
        }
    }
    papyra__json_free(obj);
    free(text);
    return 0;
}
