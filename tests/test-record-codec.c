/* SPDX-License-Identifier: MIT */
/*
 * Tests of the record codec: lines must be byte-identical to upstream
 * Papyra's (the expected lines come from upstream's reference document and
 * from python3's json.dumps()), and decoding must apply the defaults
 * for missing fields and refuse, never coerce, fields of the wrong type.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <papyra/common.h>
#include <papyra/record.h>

#include "json/json.h"
#include "record/codec.h"
#include "util/buf.h"

#define EXAMPLE_EVENT_JSON                                                                        \
    "{\"kind\": \"event\", \"system_id\": \"local\", \"actor_address\": {\"system\": \"local\", " \
    "\"actor_id\": 1}, \"event_type\": \"ActorStarted\", \"payload\": {}, \"timestamp\": "        \
    "4312.118907211}"
#define EXAMPLE_EVENT_ROTATING                                                                     \
    "{\"system_id\": \"local\", \"actor_address\": {\"system\": \"local\", \"actor_id\": 1}, "     \
    "\"event_type\": \"ActorStarted\", \"payload\": {}, \"timestamp\": 4312.118907211, \"kind\": " \
    "\"event\"}"
#define EXAMPLE_AUDIT_JSON                                                                       \
    "{\"kind\": \"audit\", \"system_id\": \"local\", \"timestamp\": 5.5, \"total_actors\": 1, "  \
    "\"alive_actors\": 1, \"stopping_actors\": 0, \"restarting_actors\": 0, \"registry_size\": " \
    "1, \"registry_orphans\": [\"a\"], \"registry_dead\": [], \"dead_letters_count\": 0}"
#define EXAMPLE_DEAD_LETTER_JSON                                                        \
    "{\"kind\": \"dead_letter\", \"system_id\": \"local\", \"target\": \"local://1\", " \
    "\"message_type\": \"str\", \"payload\": \"late\", \"timestamp\": 300.0}"

static papyra_record
example_event(void)
{
    papyra_record r = {.kind = PAPYRA_KIND_EVENT};

    r.u.event.system_id = "local";
    r.u.event.actor_address = "{\"system\":\"local\",\"actor_id\":1}";
    r.u.event.event_type = "ActorStarted";
    r.u.event.payload = "{}";
    r.u.event.timestamp = 4312.118907211;
    return r;
}

static void
assert_encodes(const papyra_record *r, int style, const char *expected)
{
    papyra_buf b = {0};

    assert_int_equal(papyra__record_encode(r, style, &b), 0);
    if (strcmp(b.data, expected) != 0)
        fail_msg("encoded\n%s\nexpected\n%s", b.data, expected);
    papyra__buf_free(&b);
}

static void
assert_encode_fails(const papyra_record *r, int style)
{
    papyra_buf b = {0};

    assert_int_equal(papyra__record_encode(r, style, &b), PAPYRA_EINVAL);
    assert_int_equal(b.len, 0);
    papyra__buf_free(&b);
}

/* Parses a line and decodes it; the caller clears the record. */
static int
decode_line(const char *line, const char *default_system_id, papyra_record *out)
{
    papyra_json *v = NULL;
    int r;

    assert_int_equal(papyra__json_parse(line, strlen(line), &v), 0);
    r = papyra__record_decode(v, default_system_id, out);
    papyra__json_free(v);
    return r;
}

/* Decodes a line and encodes it again in the given style. */
static void
assert_reencodes(const char *line, int style, const char *expected)
{
    papyra_record r;

    assert_int_equal(decode_line(line, NULL, &r), 0);
    assert_encodes(&r, style, expected);
    papyra__record_clear(&r);
}

static void
test_encode_should_write_the_upstream_event_line_in_both_styles(void **state)
{
    papyra_record r = example_event();

    assert_encodes(&r, PAPYRA_STYLE_JSON, EXAMPLE_EVENT_JSON);
    assert_encodes(&r, PAPYRA_STYLE_ROTATING, EXAMPLE_EVENT_ROTATING);
}

static void
test_encode_should_write_the_upstream_audit_line(void **state)
{
    static const char *const orphans[] = {"a"};
    papyra_record r = {.kind = PAPYRA_KIND_AUDIT};

    r.u.audit.system_id = "local";
    r.u.audit.timestamp = 5.5;
    r.u.audit.total_actors = 1;
    r.u.audit.alive_actors = 1;
    r.u.audit.registry_size = 1;
    r.u.audit.registry_orphans = orphans;
    r.u.audit.n_registry_orphans = 1;
    assert_encodes(&r, PAPYRA_STYLE_JSON, EXAMPLE_AUDIT_JSON);
}

static void
test_encode_should_write_the_upstream_dead_letter_line(void **state)
{
    papyra_record r = {.kind = PAPYRA_KIND_DEAD_LETTER};

    r.u.dead_letter.system_id = "local";
    r.u.dead_letter.target = "\"local://1\"";
    r.u.dead_letter.message_type = "str";
    r.u.dead_letter.payload = "\"late\"";
    r.u.dead_letter.timestamp = 300.0;
    assert_encodes(&r, PAPYRA_STYLE_JSON, EXAMPLE_DEAD_LETTER_JSON);
}

static void
test_encode_should_keep_non_ascii_raw_in_json_style_and_escape_it_in_rotating_style(void **state)
{
    papyra_record r = {.kind = PAPYRA_KIND_EVENT};

    r.u.event.system_id = "caf\xc3\xa9";
    r.u.event.actor_address = "{\"system\": \"caf\\u00e9\", \"actor_id\": 7}";
    r.u.event.event_type = "ActorCrashed";
    r.u.event.payload = "{\"error\":\"Boom: \xf0\x9f\x98\x80 \xc3\xa9\",\"reason\":\"x\\ny\"}";
    r.u.event.timestamp = 1712345678.25;
    assert_encodes(&r, PAPYRA_STYLE_JSON,
                   "{\"kind\": \"event\", \"system_id\": \"caf\xc3\xa9\", \"actor_address\": "
                   "{\"system\": \"caf\xc3\xa9\", \"actor_id\": 7}, \"event_type\": "
                   "\"ActorCrashed\", \"payload\": {\"error\": \"Boom: \xf0\x9f\x98\x80 "
                   "\xc3\xa9\", \"reason\": \"x\\ny\"}, \"timestamp\": 1712345678.25}");
    assert_encodes(&r, PAPYRA_STYLE_ROTATING,
                   "{\"system_id\": \"caf\\u00e9\", \"actor_address\": {\"system\": "
                   "\"caf\\u00e9\", \"actor_id\": 7}, \"event_type\": \"ActorCrashed\", "
                   "\"payload\": {\"error\": \"Boom: \\ud83d\\ude00 \\u00e9\", \"reason\": "
                   "\"x\\ny\"}, \"timestamp\": 1712345678.25, \"kind\": \"event\"}");
}

static void
test_encode_should_escape_audit_names_and_write_extreme_values_in_rotating_style(void **state)
{
    static const char *const orphans[] = {"\xc3\xa9", "b"};
    static const char *const dead[] = {"\xf0\x9f\x98\x80"};
    papyra_record r = {.kind = PAPYRA_KIND_AUDIT};

    r.u.audit.system_id = NULL;
    r.u.audit.timestamp = 1e16;
    r.u.audit.total_actors = -1;
    r.u.audit.alive_actors = INT64_MAX;
    r.u.audit.registry_size = 2;
    r.u.audit.registry_orphans = orphans;
    r.u.audit.n_registry_orphans = 2;
    r.u.audit.registry_dead = dead;
    r.u.audit.n_registry_dead = 1;
    r.u.audit.dead_letters_count = 3;
    assert_encodes(&r, PAPYRA_STYLE_ROTATING,
                   "{\"system_id\": \"local\", \"timestamp\": 1e+16, \"total_actors\": -1, "
                   "\"alive_actors\": 9223372036854775807, \"stopping_actors\": 0, "
                   "\"restarting_actors\": 0, \"registry_size\": 2, \"registry_orphans\": "
                   "[\"\\u00e9\", \"b\"], \"registry_dead\": [\"\\ud83d\\ude00\"], "
                   "\"dead_letters_count\": 3, \"kind\": \"audit\"}");
}

static void
test_encode_should_apply_null_defaults_and_write_non_finite_timestamps(void **state)
{
    papyra_record ev = {.kind = PAPYRA_KIND_EVENT}, dl = {.kind = PAPYRA_KIND_DEAD_LETTER};

    ev.u.event.event_type = "ActorStopped";
    ev.u.event.timestamp = INFINITY;
    assert_encodes(&ev, PAPYRA_STYLE_JSON,
                   "{\"kind\": \"event\", \"system_id\": \"local\", \"actor_address\": null, "
                   "\"event_type\": \"ActorStopped\", \"payload\": {}, \"timestamp\": Infinity}");
    dl.u.dead_letter.message_type = "dict";
    dl.u.dead_letter.payload = "{\"a\":[1,2.0,null,true]}";
    dl.u.dead_letter.timestamp = NAN;
    assert_encodes(&dl, PAPYRA_STYLE_JSON,
                   "{\"kind\": \"dead_letter\", \"system_id\": \"local\", \"target\": null, "
                   "\"message_type\": \"dict\", \"payload\": {\"a\": [1, 2.0, null, true]}, "
                   "\"timestamp\": NaN}");
}

static void
test_encode_should_append_after_existing_content_without_a_newline(void **state)
{
    papyra_record r = example_event();
    papyra_buf b = {0};

    assert_int_equal(papyra__buf_puts(&b, "x\n"), 0);
    assert_int_equal(papyra__record_encode(&r, PAPYRA_STYLE_JSON, &b), 0);
    assert_string_equal(b.data, "x\n" EXAMPLE_EVENT_JSON);
    papyra__buf_free(&b);
}

static void
test_encode_should_reject_invalid_records_and_leave_the_buffer_alone(void **state)
{
    static const char *const bad_names[] = {"ok", NULL};
    papyra_record r = example_event(), a = {.kind = PAPYRA_KIND_AUDIT};
    papyra_buf b = {0};

    assert_int_equal(papyra__buf_puts(&b, "keep"), 0);
    r.u.event.payload = "{\"a\": }";
    assert_int_equal(papyra__record_encode(&r, PAPYRA_STYLE_JSON, &b), PAPYRA_EINVAL);
    r = example_event();
    r.u.event.actor_address = "";
    assert_int_equal(papyra__record_encode(&r, PAPYRA_STYLE_JSON, &b), PAPYRA_EINVAL);
    r = example_event();
    r.u.event.system_id = "bad\xff";
    assert_int_equal(papyra__record_encode(&r, PAPYRA_STYLE_ROTATING, &b), PAPYRA_EINVAL);
    r = example_event();
    r.u.event.event_type = NULL;
    assert_int_equal(papyra__record_encode(&r, PAPYRA_STYLE_JSON, &b), PAPYRA_EINVAL);
    r = example_event();
    assert_int_equal(papyra__record_encode(&r, 7, &b), PAPYRA_EINVAL);
    r.kind = PAPYRA_KIND_MAX;
    assert_int_equal(papyra__record_encode(&r, PAPYRA_STYLE_JSON, &b), PAPYRA_EINVAL);
    assert_int_equal(papyra__record_encode(NULL, PAPYRA_STYLE_JSON, &b), PAPYRA_EINVAL);
    a.u.audit.n_registry_dead = 1;
    assert_int_equal(papyra__record_encode(&a, PAPYRA_STYLE_JSON, &b), PAPYRA_EINVAL);
    a.u.audit.registry_dead = bad_names;
    a.u.audit.n_registry_dead = 2;
    assert_int_equal(papyra__record_encode(&a, PAPYRA_STYLE_JSON, &b), PAPYRA_EINVAL);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    papyra__buf_free(&b);
}

/*
 * A lone surrogate escape, which json.loads() accepts, decodes to WTF-8; the
 * encoder must take that record back and write the surrogate as the same
 * \udxxx escape in both styles (python3: json.loads() of the output gives the
 * original string), and encode(decode(line)) is stable.
 */
/* Encodes r expecting PAPYRA_EINVAL and the message @p why. */
static void
assert_refused_with(const papyra_record *r, int style, const char *why)
{
    papyra__encode_error err;
    papyra_buf b = {0};

    memset(&err, 'x', sizeof(err));
    assert_int_equal(papyra__record_encode_why(r, style, &b, &err), PAPYRA_EINVAL);
    assert_int_equal(b.len, 0);
    if (strcmp(err.text, why) != 0)
        fail_msg("message\n%s\nexpected\n%s", err.text, why);
    papyra__buf_free(&b);
}

/* A refused record is explained: which field, and why. */
static void
test_encode_should_name_the_field_and_the_reason_of_a_refusal(void **state)
{
    static const char *const names[] = {"ok", NULL, "b\xc3"};
    papyra_record r = example_event(), a = {.kind = PAPYRA_KIND_AUDIT};
    papyra_record d = {.kind = PAPYRA_KIND_DEAD_LETTER};
    papyra__encode_error err;
    papyra_buf b = {0};

    r.u.event.event_type = "Actor\xff";
    assert_refused_with(&r, PAPYRA_STYLE_JSON,
                        "field 'event_type' is not UTF-8 (invalid byte at offset 5)");
    r.u.event.event_type = NULL;
    assert_refused_with(&r, PAPYRA_STYLE_ROTATING,
                        "field 'event_type' is NULL (a string is required)");
    r = example_event();
    r.u.event.system_id = "\xed\xa0\x80\xed\xb0\x80";
    assert_refused_with(&r, PAPYRA_STYLE_JSON,
                        "field 'system_id' is not UTF-8 (invalid byte at offset 3)");
    r = example_event();
    r.u.event.payload = "{\"a\": }";
    assert_refused_with(&r, PAPYRA_STYLE_JSON,
                        "field 'payload' is not valid JSON (expected a value at offset 6)");
    r = example_event();
    r.u.event.actor_address = "";
    assert_refused_with(&r, PAPYRA_STYLE_JSON,
                        "field 'actor_address' is not valid JSON (empty text at offset 0)");
    r = example_event();
    r.u.event.actor_address = "[1, 2] x";
    assert_refused_with(&r, PAPYRA_STYLE_ROTATING,
                        "field 'actor_address' is not valid JSON "
                        "(extra data after the value at offset 7)");
    d.u.dead_letter.message_type = "m";
    d.u.dead_letter.target = "\"\\x\"";
    assert_refused_with(&d, PAPYRA_STYLE_JSON,
                        "field 'target' is not valid JSON (invalid escape in string at offset 1)");
    d.u.dead_letter.target = NULL;
    d.u.dead_letter.message_type = NULL;
    assert_refused_with(&d, PAPYRA_STYLE_JSON,
                        "field 'message_type' is NULL (a string is required)");
    a.u.audit.n_registry_dead = 2;
    assert_refused_with(&a, PAPYRA_STYLE_JSON,
                        "field 'registry_dead' is NULL but n_registry_dead is 2");
    a.u.audit.registry_dead = names;
    assert_refused_with(&a, PAPYRA_STYLE_JSON,
                        "field 'registry_dead[1]' is NULL (a string is required)");
    a.u.audit.registry_dead = names + 1;
    a.u.audit.registry_orphans = names + 2;
    a.u.audit.n_registry_orphans = 1;
    assert_refused_with(&a, PAPYRA_STYLE_JSON,
                        "field 'registry_orphans[0]' is not UTF-8 (invalid byte at offset 1)");
    r = example_event();
    r.kind = PAPYRA_KIND_MAX;
    assert_refused_with(&r, PAPYRA_STYLE_JSON, "kind 3 is not event, audit or dead_letter");
    r = example_event();
    assert_refused_with(&r, 7, "unknown line style 7");
    /* A record that is fine leaves no message and may pass a NULL err. */
    memset(&err, 'x', sizeof(err));
    assert_int_equal(papyra__record_encode_why(&r, PAPYRA_STYLE_JSON, &b, &err), 0);
    assert_string_equal(err.text, "");
    r.u.event.event_type = NULL;
    assert_int_equal(papyra__record_encode_why(&r, PAPYRA_STYLE_JSON, &b, NULL), PAPYRA_EINVAL);
    papyra__buf_free(&b);
}

static void
test_records_with_lone_surrogates_should_be_written_back_as_the_same_escape(void **state)
{
    static const char dl_json[] =
        "{\"kind\": \"dead_letter\", \"system_id\": \"s \\udfff\", \"target\": \"\\ud800\", "
        "\"message_type\": \"x \\ud800\", \"payload\": [\"\\udbff \xc3\xa9\"], \"timestamp\": 1.5}";
    static const char dl_rot[] =
        "{\"system_id\": \"s \\udfff\", \"target\": \"\\ud800\", \"message_type\": \"x \\ud800\", "
        "\"payload\": [\"\\udbff \\u00e9\"], \"timestamp\": 1.5, \"kind\": \"dead_letter\"}";
    static const char audit_json[] =
        "{\"kind\": \"audit\", \"system_id\": \"local\", \"timestamp\": 2.0, \"total_actors\": 0, "
        "\"alive_actors\": 0, \"stopping_actors\": 0, \"restarting_actors\": 0, "
        "\"registry_size\": 0, \"registry_orphans\": [\"\\udc00a\"], \"registry_dead\": "
        "[\"\\ud83d\"], \"dead_letters_count\": 0}";
    static const char ev_json[] = "{\"kind\": \"event\", \"system_id\": \"local\", "
                                  "\"actor_address\": null, \"event_type\": \"\\ud800\\u00e9\", "
                                  "\"payload\": {}, \"timestamp\": 3.0}";
    papyra_record r;

    assert_int_equal(decode_line(dl_json, NULL, &r), 0);
    assert_string_equal(r.u.dead_letter.message_type, "x \xed\xa0\x80");
    papyra__record_clear(&r);
    assert_reencodes(dl_json, PAPYRA_STYLE_JSON, dl_json);
    assert_reencodes(dl_json, PAPYRA_STYLE_ROTATING, dl_rot);
    assert_reencodes(dl_rot, PAPYRA_STYLE_ROTATING, dl_rot);
    assert_reencodes(audit_json, PAPYRA_STYLE_JSON, audit_json);
    assert_reencodes(ev_json, PAPYRA_STYLE_JSON,
                     "{\"kind\": \"event\", \"system_id\": \"local\", \"actor_address\": null, "
                     "\"event_type\": \"\\ud800\xc3\xa9\", \"payload\": {}, \"timestamp\": 3.0}");

    /* A high then a low surrogate is not WTF-8: "\ud800\udc00" would read back as U+10000. */
    r = example_event();
    r.u.event.event_type = "\xed\xa0\x80\xed\xb0\x80";
    assert_encode_fails(&r, PAPYRA_STYLE_JSON);
    assert_encode_fails(&r, PAPYRA_STYLE_ROTATING);
    r.u.event.event_type = "\xed\xa0\x80x\xed\xb0\x80";
    assert_encodes(&r, PAPYRA_STYLE_ROTATING,
                   "{\"system_id\": \"local\", \"actor_address\": {\"system\": \"local\", "
                   "\"actor_id\": 1}, \"event_type\": \"\\ud800x\\udc00\", \"payload\": {}, "
                   "\"timestamp\": 4312.118907211, \"kind\": \"event\"}");
}

static void
test_decode_should_read_every_field_of_the_upstream_lines(void **state)
{
    papyra_record r;

    assert_int_equal(decode_line(EXAMPLE_EVENT_ROTATING, NULL, &r), 0);
    assert_int_equal(r.kind, PAPYRA_KIND_EVENT);
    assert_string_equal(r.u.event.system_id, "local");
    assert_string_equal(r.u.event.actor_address, "{\"system\": \"local\", \"actor_id\": 1}");
    assert_string_equal(r.u.event.event_type, "ActorStarted");
    assert_string_equal(r.u.event.payload, "{}");
    assert_true(r.u.event.timestamp == 4312.118907211);
    papyra__record_clear(&r);

    assert_int_equal(decode_line(EXAMPLE_AUDIT_JSON, NULL, &r), 0);
    assert_int_equal(r.kind, PAPYRA_KIND_AUDIT);
    assert_true(r.u.audit.timestamp == 5.5);
    assert_int_equal(r.u.audit.total_actors, 1);
    assert_int_equal(r.u.audit.registry_size, 1);
    assert_int_equal(r.u.audit.n_registry_orphans, 1);
    assert_string_equal(r.u.audit.registry_orphans[0], "a");
    assert_int_equal(r.u.audit.n_registry_dead, 0);
    papyra__record_clear(&r);

    assert_int_equal(decode_line(EXAMPLE_DEAD_LETTER_JSON, NULL, &r), 0);
    assert_int_equal(r.kind, PAPYRA_KIND_DEAD_LETTER);
    assert_string_equal(r.u.dead_letter.target, "\"local://1\"");
    assert_string_equal(r.u.dead_letter.message_type, "str");
    assert_string_equal(r.u.dead_letter.payload, "\"late\"");
    assert_true(r.u.dead_letter.timestamp == 300.0);
    papyra__record_clear(&r);
}

static void
test_decode_then_encode_should_reproduce_the_upstream_lines(void **state)
{
    assert_reencodes(EXAMPLE_EVENT_JSON, PAPYRA_STYLE_JSON, EXAMPLE_EVENT_JSON);
    assert_reencodes(EXAMPLE_EVENT_JSON, PAPYRA_STYLE_ROTATING, EXAMPLE_EVENT_ROTATING);
    assert_reencodes(EXAMPLE_EVENT_ROTATING, PAPYRA_STYLE_JSON, EXAMPLE_EVENT_JSON);
    assert_reencodes(EXAMPLE_AUDIT_JSON, PAPYRA_STYLE_JSON, EXAMPLE_AUDIT_JSON);
    assert_reencodes(EXAMPLE_DEAD_LETTER_JSON, PAPYRA_STYLE_JSON, EXAMPLE_DEAD_LETTER_JSON);
}

static void
test_decode_should_fill_defaults_for_a_minimal_event(void **state)
{
    papyra_record r;

    assert_int_equal(decode_line("{\"kind\":\"event\",\"timestamp\":1}", NULL, &r), 0);
    assert_string_equal(r.u.event.system_id, "local");
    assert_null(r.u.event.actor_address);
    assert_string_equal(r.u.event.event_type, "");
    assert_string_equal(r.u.event.payload, "{}");
    assert_true(r.u.event.timestamp == 1.0);
    papyra__record_clear(&r);

    assert_int_equal(decode_line("{\"kind\":\"event\",\"timestamp\":1}", "node-a", &r), 0);
    assert_string_equal(r.u.event.system_id, "node-a");
    papyra__record_clear(&r);
}

/* Parses a line and classifies it; the message goes to why. */
static int
classify_line(const char *line, char *why, size_t n)
{
    papyra_json *v = NULL;
    int r;

    assert_int_equal(papyra__json_parse(line, strlen(line), &v), 0);
    r = papyra__record_classify(v, why, n);
    papyra__json_free(v);
    return r;
}

/*
 * A field of the wrong JSON type is never coerced (upstream returns the
 * value as it is): the record is MISTYPED, decode refuses it and the reason
 * names the field and both types. A missing field takes its default.
 */
static void
test_decode_should_refuse_fields_of_the_wrong_type_and_default_missing_ones(void **state)
{
    static const struct {
        const char *line;
        const char *why;
    } cases[] = {
        {"{\"system_id\": 5, \"kind\": \"event\", \"timestamp\": 2.5}",
         "field 'system_id' is an integer, a string is required"},
        {"{\"kind\": \"event\", \"event_type\": [\"x\"], \"timestamp\": 2.5}",
         "field 'event_type' is a list, a string is required"},
        {"{\"kind\": \"event\", \"event_type\": 5, \"timestamp\": 2.5}",
         "field 'event_type' is an integer, a string is required"},
        {"{\"kind\": \"audit\", \"timestamp\": 3, \"total_actors\": 2.0}",
         "field 'total_actors' is a number, a 64-bit integer is required"},
        {"{\"kind\": \"audit\", \"timestamp\": 3, \"alive_actors\": true}",
         "field 'alive_actors' is a boolean, a 64-bit integer is required"},
        {"{\"kind\": \"audit\", \"timestamp\": 3, \"stopping_actors\": \"1\"}",
         "field 'stopping_actors' is a string, a 64-bit integer is required"},
        {"{\"kind\": \"audit\", \"timestamp\": 3, \"restarting_actors\": 99999999999999999999}",
         "field 'restarting_actors' is an integer beyond 64 bits, a 64-bit integer is required"},
        {"{\"kind\": \"audit\", \"timestamp\": 3, \"registry_size\": null}",
         "field 'registry_size' is null, a 64-bit integer is required"},
        {"{\"kind\": \"audit\", \"timestamp\": 3, \"registry_orphans\": [\"a\", 1]}",
         "field 'registry_orphans[1]' is an integer, a string is required"},
        {"{\"kind\": \"audit\", \"timestamp\": 3, \"registry_dead\": \"ab\"}",
         "field 'registry_dead' is a string, a list of strings is required"},
        {"{\"kind\": \"audit\", \"timestamp\": 3, \"dead_letters_count\": {}}",
         "field 'dead_letters_count' is an object, a 64-bit integer is required"},
        {"{\"kind\": \"dead_letter\", \"timestamp\": 0, \"message_type\": null}",
         "field 'message_type' is null, a string is required"},
    };
    papyra_record r;
    char why[160];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(classify_line(cases[i].line, why, sizeof(why)), PAPYRA__LINE_MISTYPED);
        if (strcmp(why, cases[i].why) != 0)
            fail_msg("%s:\n%s\nexpected\n%s", cases[i].line, why, cases[i].why);
        memset(&r, 0xa5, sizeof(r));
        assert_int_equal(decode_line(cases[i].line, NULL, &r), PAPYRA_ECORRUPT);
        assert_int_equal(((unsigned char *)&r)[0], 0xa5);
    }
    /* Fields that belong to another kind are not this kind's business. */
    assert_int_equal(classify_line("{\"kind\": \"event\", \"timestamp\": 1, \"total_actors\": "
                                   "\"x\", \"message_type\": 1, \"extra\": []}",
                                   why, sizeof(why)),
                     PAPYRA__LINE_RECORD);
    assert_string_equal(why, "");
    assert_int_equal(classify_line("{\"kind\": \"other\", \"timestamp\": 1, \"system_id\": 1}", why,
                                   sizeof(why)),
                     PAPYRA__LINE_OTHER);
    assert_int_equal(classify_line("{\"kind\": \"audit\", \"system_id\": 1}", why, sizeof(why)),
                     PAPYRA__LINE_OTHER);

    assert_int_equal(decode_line("{\"payload\": null, \"actor_address\": null, \"extra\": 1, "
                                 "\"kind\": \"event\", \"timestamp\": 2.5}",
                                 NULL, &r),
                     0);
    assert_string_equal(r.u.event.system_id, "local");
    assert_string_equal(r.u.event.event_type, "");
    assert_null(r.u.event.actor_address);
    /* An explicit null payload stays null: NULL would mean {} when encoded. */
    assert_string_equal(r.u.event.payload, "null");
    papyra__record_clear(&r);

    assert_int_equal(decode_line("{\"kind\": \"audit\", \"timestamp\": 3, \"registry_size\": 4, "
                                 "\"dead_letters_count\": -2, \"total_actors\": "
                                 "-9223372036854775808}",
                                 NULL, &r),
                     0);
    assert_true(r.u.audit.total_actors == INT64_MIN);
    assert_int_equal(r.u.audit.alive_actors, 0);
    assert_int_equal(r.u.audit.registry_size, 4);
    assert_int_equal(r.u.audit.dead_letters_count, -2);
    assert_int_equal(r.u.audit.n_registry_orphans, 0);
    assert_null(r.u.audit.registry_orphans);
    papyra__record_clear(&r);

    assert_int_equal(
        decode_line("{\"kind\": \"dead_letter\", \"timestamp\": 0, \"payload\": null}", "sys", &r),
        0);
    assert_string_equal(r.u.dead_letter.system_id, "sys");
    assert_null(r.u.dead_letter.target);
    assert_string_equal(r.u.dead_letter.message_type, "");
    assert_null(r.u.dead_letter.payload);
    papyra__record_clear(&r);
}

/*
 * The normal-form fast path says when a line may hold a mistyped field, so
 * that a scan parses exactly those; classify_line agrees with the tree.
 */
static void
test_classify_line_should_agree_with_the_parsed_tree(void **state)
{
    static const struct {
        const char *line;
        int cls;
    } cases[] = {
        {EXAMPLE_EVENT_JSON, PAPYRA__LINE_RECORD},
        {EXAMPLE_AUDIT_JSON, PAPYRA__LINE_RECORD},
        {EXAMPLE_DEAD_LETTER_JSON, PAPYRA__LINE_RECORD},
        {"{\"kind\": \"event\", \"event_type\": 5, \"timestamp\": 1.5}", PAPYRA__LINE_MISTYPED},
        {"{\"event_type\": \"x\", \"timestamp\": 1.5, \"kind\": \"event\", \"system_id\": null}",
         PAPYRA__LINE_MISTYPED},
        {"{\"kind\": \"audit\", \"timestamp\": 1.5, \"registry_dead\": [\"a\", [\"b\"]]}",
         PAPYRA__LINE_MISTYPED},
        {"{\"kind\": \"audit\", \"timestamp\": 1.5, \"registry_dead\": [\"a\", \"b\"], "
         "\"registry_orphans\": [], \"x\": [1, 2]}",
         PAPYRA__LINE_RECORD},
        {"{\"kind\": \"audit\", \"timestamp\": 1.5, \"total_actors\": 1.5}", PAPYRA__LINE_MISTYPED},
        {"{\"kind\": \"audit\", \"timestamp\": 1.5, \"total_actors\": 12345678901234567890123}",
         PAPYRA__LINE_MISTYPED},
        {"{\"kind\": \"event\", \"timestamp\": \"1\"}", PAPYRA__LINE_OTHER},
        {"{\"kind\": \"event\", \"timestamp\": 1.5", PAPYRA__LINE_CORRUPT},
        {"[1]", PAPYRA__LINE_CORRUPT},
        {"", PAPYRA__LINE_CORRUPT},
    };
    papyra__normal_info info;
    char why[160];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *l = cases[i].line;
        int got = papyra__record_classify_line(l, strlen(l), false, &info, why, sizeof(why));

        if (got != cases[i].cls)
            fail_msg("%s: class %d, expected %d", l, got, cases[i].cls);
        assert_int_equal(why[0] != '\0', got == PAPYRA__LINE_MISTYPED);
    }
}

/*
 * A scan's shapes (valid_only) after learning from @p learn take @p line
 * only when it is JSON the parser reads with the kind, timestamp and types
 * they say, and take at least what the full check takes.
 */
static void
check_valid_only(const char *learn, const char *line, bool ascii)
{
    papyra__normal_shapes shapes = {.valid_only = true};
    papyra__normal_info info;
    papyra_json *obj = NULL;
    size_t n = strlen(line);
    double ts;
    int cls;

    (void)papyra__json_normal_len_shaped(learn, strlen(learn), ascii, NULL, &shapes);
    if (n == 0 || papyra__json_normal_len_shaped(line, n, ascii, &info, &shapes) != n) {
        if (n > 0 && papyra__json_normal_len(line, n, ascii, NULL) == n)
            fail_msg("valid_only refuses what the full check takes: %s", line);
        return;
    }
    if (papyra__json_parse(line, n, &obj) != 0)
        fail_msg("shape of %s: valid_only takes what the parser refuses: %s", learn, line);
    cls = papyra__record_classify(obj, NULL, 0);
    if (info.kind != papyra__record_kind_of(obj) ||
        info.has_timestamp != papyra__record_timestamp(obj, &ts) ||
        (info.typed && cls == PAPYRA__LINE_MISTYPED))
        fail_msg("shape of %s: valid_only reads kind %d ts %d typed %d of %s, the tree %d %d %d",
                 learn, info.kind, info.has_timestamp, info.typed, line,
                 papyra__record_kind_of(obj), papyra__record_timestamp(obj, &ts), cls);
    papyra__json_free(obj);
}

/*
 * A shape learned from one line answers for another exactly what the full
 * check answers (length, kind, timestamp, typed), for lines that share the
 * shape with other values, values of another type, escapes, bytes that are
 * not UTF-8 or not ASCII, words, mistyped fields, more or fewer bytes, and
 * lines too long or with too many values to learn.
 */
static void
test_normal_form_shapes_should_answer_as_the_full_check(void **state)
{
#define EV(id, type, ts)                                                                           \
    "{\"kind\": \"event\", \"system_id\": \"local\", \"actor_address\": {\"system\": \"local\", "  \
    "\"actor_id\": " id "}, \"event_type\": " type ", \"payload\": {\"n\": 1}, \"timestamp\": " ts \
    "}"
    static const char *const lines[] = {
        EV("1", "\"ActorStarted\"", "1764512345.1234567"),
        EV("22", "\"ActorStopped\"", "1.5"),
        EV("-3", "\"\"", "1764512345.2469134"),
        EV("\"x\"", "\"ActorStarted\"", "1.5"),
        EV("1", "5", "1.5"),
        EV("1", "null", "1.5"),
        EV("1", "\"ActorStarted\"", "\"1\""),
        EV("1", "\"ActorStarted\"", "0.0"),
        EV("1", "\"ActorStarted\"", "1e5"),
        EV("1", "\"ActorStarted\"", "0.30000000000000004"),
        EV("1", "\"ActorStarted\"", "0.30000000000000005"),
        EV("1", "\"ActorStarted\"", "1764512345.12345670"),
        EV("1", "\"ActorStarted\"", "1764512345.123456789012345678901234567890123"),
        EV("1", "\"ActorStarted\"", "17645123451234567890.5"),
        EV("1", "\"ActorStarted\"", "-0.5"),
        EV("1", "\"ActorStarted\"", "-01.5"),
        EV("1", "\"ActorStarted\"", "1."),
        EV("1", "\"ActorStarted\"", "1.5e"),
        EV("1", "\"ActorStarted\"", "-"),
        EV("01", "\"ActorStarted\"", "1.5"),
        EV("-0", "\"ActorStarted\"", "1.5"),
        EV("1.0", "\"ActorStarted\"", "1.50"),
        EV("1", "\"Actor\\\"Started\"", "1.5"),
        EV("1", "\"Actor\\u00e9\"", "1.5"),
        EV("1", "\"Actor\x01\"", "1.5"),
        EV("1", "\"Actor\xc3\xa9\"", "1.5"),
        EV("1", "\"Actor\xff\"", "1.5"),
        EV("1", "\"Actor\xc3\"", "1.5"),
        EV("1", "\"ActorStarted\"", "1.5") " ",
        EV("1", "\"ActorStarted\"", "1.5") "}",
        EV("1", "[\"ActorStarted\"]", "1.5"),
        "{\"kind\": \"audit\", \"system_id\": \"local\", \"timestamp\": 1.5}",
        "{\"kind\": \"nope\", \"system_id\": \"local\", \"timestamp\": 1.5}",
        "{\"kind\": 5, \"system_id\": \"local\", \"timestamp\": 1.5}",
        "{\"kind\": \"audit\", \"system_id\": \"local\", \"timestamp\": 2}",
        "{\"kind\": \"audit\", \"system_id\": \"local\", \"timestamp\": 1.5",
        "{\"kind\": \"audit\", \"system_id\": \"local\", \"timestamp\": true}",
        "{\"kind\": \"audit\", \"system_id\": \"local\", \"timestamp\": false}",
        "{\"kind\": \"audit\", \"timestamp\": 1.5, \"registry_dead\": [\"a\", \"b\"]}",
        "{\"kind\": \"audit\", \"timestamp\": 1.5, \"registry_dead\": [\"a\", 5]}",
        "{\"kind\": \"audit\", \"timestamp\": 1.5, \"registry_dead\": [\"a\", \"b\", \"c\"]}",
        "{\"kind\": \"audit\", \"timestamp\": 1.5, \"total_actors\": 1}",
        "{\"kind\": \"audit\", \"timestamp\": 1.5, \"total_actors\": 1.5}",
        "{\"kind\": \"audit\", \"timestamp\": 1.5, \"total_actors\": \"1\"}",
        "{\"k\xc3\xa9y\": \"v\", \"kind\": \"event\", \"timestamp\": 1.5}",
        "{\"k\xc3\xa9y\": \"\xc3\xa9\", \"kind\": \"event\", \"timestamp\": 1.5}",
        "{\"k\xc3\xa9y\": \"\xff\", \"kind\": \"event\", \"timestamp\": 1.5}",
        "{\"a\": 1, \"a\": 2}",
        "{\"a\": 1, \"b\": 2}",
        "{\"a\": \"x\", \"b\": \"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\"}",
        "{\"a\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", \"b\": \"y\"}",
        "{}",
        "[]",
        "",
    };
#undef EV
    /* A line too long to learn, and one with more values than a shape holds. */
    char longer[PAPYRA__SHAPE_BYTES + 64], many[PAPYRA__SHAPE_SLOTS * 8 + 16];
    const char *all[sizeof(lines) / sizeof(lines[0]) + 4];
    size_t n = 0, i, j, k;
    int ascii;

    (void)state;
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        all[n++] = lines[i];
    snprintf(longer, sizeof(longer), "{\"kind\": \"event\", \"timestamp\": 1.5, \"x\": \"%0*d\"}",
             PAPYRA__SHAPE_BYTES, 7);
    all[n++] = longer;
    k = (size_t)snprintf(many, sizeof(many), "[");
    for (i = 0; i <= PAPYRA__SHAPE_SLOTS; i++)
        k += (size_t)snprintf(many + k, sizeof(many) - k, "%s%zu", i ? ", " : "", i % 10);
    snprintf(many + k, sizeof(many) - k, "]");
    all[n++] = many;
    for (ascii = 0; ascii < 2; ascii++) {
        for (i = 0; i < n; i++) {
            for (j = 0; j < n; j++) {
                papyra__normal_shapes shapes = PAPYRA__NORMAL_SHAPES_INIT;
                papyra__normal_info want, got;
                size_t lb = strlen(all[j]), w, g;

                /* Learned from line i (without info, then by its own shape with it). */
                for (k = 0; k < 2; k++)
                    assert_int_equal(papyra__json_normal_len_shaped(all[i], strlen(all[i]), ascii,
                                                                    k ? &got : NULL, &shapes),
                                     papyra__json_normal_len(all[i], strlen(all[i]), ascii, &want));
                memset(&want, 0, sizeof(want));
                memset(&got, 0, sizeof(got));
                w = papyra__json_normal_len(all[j], lb, ascii, &want);
                g = papyra__json_normal_len_shaped(all[j], lb, ascii, &got, &shapes);
                if (w != g)
                    fail_msg("ascii %d, shape of %s: %s is %zu, full check %zu", ascii, all[i],
                             all[j], g, w);
                if (w && (want.kind != got.kind || want.has_timestamp != got.has_timestamp ||
                          (want.has_timestamp && want.timestamp != got.timestamp) ||
                          want.typed != got.typed))
                    fail_msg("ascii %d, shape of %s: %s reads kind %d ts %d %.17g typed %d, "
                             "full check %d %d %.17g %d",
                             ascii, all[i], all[j], got.kind, got.has_timestamp, got.timestamp,
                             got.typed, want.kind, want.has_timestamp, want.timestamp, want.typed);
                check_valid_only(all[i], all[j], ascii);
            }
        }
    }
    /* What a scan takes besides: digits repr() would not write, which the parser reads. */
    {
        papyra__normal_shapes shapes = {.valid_only = true};
        papyra__normal_info info;

        for (i = 0; i < 2; i++) {
            const char *l = lines[i == 0 ? 0 : 10]; /* learned, then 0.30000000000000005 */
            size_t len = strlen(l);

            assert_int_equal(papyra__json_normal_len_shaped(l, len, false, &info, &shapes), len);
            assert_int_equal(papyra__json_normal_len(l, len, false, NULL), i == 0 ? len : 0);
            assert_true(info.has_timestamp && info.kind == PAPYRA_KIND_EVENT && info.typed);
        }
    }
}

/*
 * The fast path on a "timestamp" of text @p num: it says normal form only
 * when parsing and writing back gives the same bytes (else "not sure" is
 * its answer), and then reads the value strtod() reads. Returns whether it
 * said normal form.
 */
static bool
check_number(const char *num)
{
    char line[128];
    papyra__normal_info info;
    papyra_json *v = NULL;
    papyra_buf out = {0};
    size_t n =
        (size_t)snprintf(line, sizeof(line), "{\"kind\": \"event\", \"timestamp\": %s}", num);
    bool normal = papyra__json_normal_len(line, n, false, &info) == n, same;

    assert_true(n < sizeof(line));
    same = papyra__json_parse(line, n, &v) == 0 && papyra__json_write(v, 0, &out) == 0 &&
           out.len == n && memcmp(out.data, line, n) == 0;
    if (normal && !same)
        fail_msg("%s: the fast path takes what parse and write change", num);
    if (normal && !(info.has_timestamp && info.timestamp == strtod(num, NULL)))
        fail_msg("%s: fast path reads %.17g", num, info.timestamp);
    papyra__buf_free(&out);
    papyra__json_free(v);
    return normal;
}

/*
 * Floats as the writer writes them, of every digit count from 1 to 17 and
 * every magnitude of fixed notation, are normal form without a parse
 * (upstream's time.time() stamps have 16 or 17 digits); the fast path never
 * takes the same digits with a trailing zero, one digit less or more, a
 * leading zero or an exponent unless parse and write give them back.
 */
static void
test_normal_form_should_take_written_floats_of_every_length(void **state)
{
    unsigned seed = 13;
    int taken = 0;

    (void)state;
    for (int i = 0; i < 20000; i++) {
        int digits = 1 + i % 17, e10 = -4 + (i / 17) % 20;
        double mant = 0;
        papyra_buf b = {0};
        char var[64];
        size_t n;

        for (int d = 0; d < digits; d++)
            mant = mant * 10 + (double)(1 + (unsigned)rand_r(&seed) % 9);
        mant = mant / pow(10, digits - 1) * pow(10, e10);
        if (i % 3 == 0)
            mant = -mant;
        assert_int_equal(papyra__json_write_double(mant, &b), 0);
        /* Every written float in fixed notation is taken. */
        if (strchr(b.data, 'e') == NULL)
            assert_true(check_number(b.data));
        else
            check_number(b.data);
        taken++;
        n = b.len;
        snprintf(var, sizeof(var), "%s0", b.data);
        check_number(var);
        if (n > 3) {
            snprintf(var, sizeof(var), "%.*s", (int)n - 1, b.data);
            check_number(var);
            snprintf(var, sizeof(var), "%s%d", b.data, i % 10);
            check_number(var);
            memcpy(var, b.data, n + 1);
            var[n - 1] = (char)('0' + (var[n - 1] - '0' + 1) % 10);
            check_number(var);
        }
        snprintf(var, sizeof(var), "0%s", b.data);
        check_number(var);
        snprintf(var, sizeof(var), "%se0", b.data);
        check_number(var);
        papyra__buf_free(&b);
    }
    assert_int_equal(taken, 20000);
    static const char *const edges[] = {"0.0",
                                        "-0.0",
                                        "0.0001",
                                        "0.00001",
                                        "0.00012",
                                        "1e-05",
                                        "1.0",
                                        "-1.5",
                                        "10.0",
                                        "1.50",
                                        "00.5",
                                        "-0",
                                        "-01.5",
                                        "1.",
                                        ".5",
                                        "1.5.5",
                                        "1e16",
                                        "1e+16",
                                        "9999999999999998.0",
                                        "1e+22",
                                        "123456789012345.6",
                                        "1234567890123456.7",
                                        "0.1",
                                        "0.30000000000000004",
                                        "5e-324",
                                        "1.7976931348623157e+308"};
    for (size_t k = 0; k < sizeof(edges) / sizeof(edges[0]); k++)
        check_number(edges[k]);
    /* Doubles of random bits through fixed notation's range, and time.time() stamps. */
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = ((uint64_t)rand_r(&seed) << 33) ^ ((uint64_t)rand_r(&seed) << 11) ^
                        (uint64_t)rand_r(&seed);
        double x;
        papyra_buf b = {0};
        char var[64];
        size_t n;

        bits = (bits & (((uint64_t)1 << 52) - 1)) |
               ((uint64_t)(1023 - 14 + (i % 68)) << 52); /* 2^-14 .. 2^53 */
        memcpy(&x, &bits, sizeof(x));
        if (i % 4 == 1)
            x = 1.7e9 + (double)(bits % 1000000000u) / 1e9 * 1e8;
        assert_int_equal(papyra__json_write_double(x, &b), 0);
        if (strchr(b.data, 'e') == NULL && x >= 1e-4)
            assert_true(check_number(b.data));
        n = b.len;
        for (int delta = -2; delta <= 2; delta += 1) {
            memcpy(var, b.data, n + 1);
            if (var[n - 1] >= '0' && var[n - 1] <= '9' && delta != 0) {
                var[n - 1] = (char)('0' + (var[n - 1] - '0' + 10 + delta) % 10);
                check_number(var);
            }
        }
        snprintf(var, sizeof(var), "%s%d", b.data, i % 10);
        check_number(var);
        snprintf(var, sizeof(var), "%.*s", (int)n - 1, b.data);
        check_number(var);
        papyra__buf_free(&b);
    }
    assert_true(check_number("1764512345.1343641"));
    assert_true(check_number("0.30000000000000004"));
}

/*
 * The fast path on @p line in one style: normal form only when parse and
 * write give the same bytes. Returns whether it said normal form.
 */
static bool
check_line(const char *line, size_t n, bool ascii)
{
    papyra_json *v = NULL;
    papyra_buf out = {0};
    bool normal = papyra__json_normal_len(line, n, ascii, NULL) == n, same;

    same = papyra__json_parse(line, n, &v) == 0 &&
           papyra__json_write(v, ascii ? PAPYRA_JSON_ENSURE_ASCII : 0, &out) == 0 && out.len == n &&
           memcmp(out.data, line, n) == 0;
    if (normal && !same)
        fail_msg("%s (ascii %d): the fast path takes what parse and write change", line, ascii);
    papyra__buf_free(&out);
    papyra__json_free(v);
    return normal;
}

/*
 * Strings are looked at 16 bytes at a time: a byte that needs a look (an
 * escape, a control, 0x7f, UTF-8 or not) at every position of strings of
 * every length up to 40, before and after the blocks, is judged as parse
 * and write judge it, and plain strings are normal form.
 */
static void
test_normal_form_should_see_every_byte_of_a_string(void **state)
{
    static const char *const specials[] = {"\\\"", "\\\\", "\\n",      "\\u0041", "\\/", "\x01",
                                           "\x1f", "\x7f", "\xc3\xa9", "\xff",    "\"",  "\\"};
    char str[64], line[160];

    (void)state;
    for (size_t len = 0; len <= 40; len++) {
        for (size_t at = 0; at <= len; at++) {
            for (size_t k = 0; k <= sizeof(specials) / sizeof(specials[0]); k++) {
                size_t n;

                memset(str, 'a', len);
                str[len] = '\0';
                if (k < sizeof(specials) / sizeof(specials[0])) {
                    if (at == len)
                        continue;
                    snprintf(str + at, sizeof(str) - at, "%s%.*s", specials[k], (int)(len - at),
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
                }
                n = (size_t)snprintf(line, sizeof(line),
                                     "{\"kind\": \"event\", \"s\": \"%s\", \"timestamp\": 1.5}",
                                     str);
                for (int ascii = 0; ascii < 2; ascii++) {
                    bool normal = check_line(line, n, ascii);
                    if (k == sizeof(specials) / sizeof(specials[0]) || k < 3)
                        assert_true(normal);
                }
            }
        }
    }
}

/*
 * Keys are told apart by a print before a memcmp: a duplicate key of every
 * length up to 24 is never normal form, and keys that differ in one byte
 * anywhere (the print's blind middle included) are.
 */
static void
test_normal_form_should_find_duplicate_keys_of_every_length(void **state)
{
    char k1[32], k2[32], line[160];

    (void)state;
    for (size_t n = 1; n <= 24; n++) {
        for (size_t at = 0; at < n; at++) {
            size_t len;

            memset(k1, 'k', n);
            k1[n] = '\0';
            memcpy(k2, k1, n + 1);
            k2[at] = 'j';
            len = (size_t)snprintf(line, sizeof(line),
                                   "{\"kind\": \"event\", \"%s\": 1, \"x\": {\"%s\": 2}, "
                                   "\"%s\": 3, \"timestamp\": 1.5}",
                                   k1, k1, k2);
            assert_true(check_line(line, len, false));
            len = (size_t)snprintf(
                line, sizeof(line),
                "{\"kind\": \"event\", \"%s\": 1, \"%s\": 3, \"timestamp\": 1.5}", k2, k2);
            assert_false(check_line(line, len, false));
        }
    }
}

static void
test_decode_should_normalise_json_text_fields_without_escaping_non_ascii(void **state)
{
    papyra_record r;

    assert_int_equal(decode_line("{\"kind\":\"event\",\"timestamp\":1.50,\"system_id\":"
                                 "\"caf\\u00e9\",\"actor_address\":\"\\ud83d\\ude00\","
                                 "\"payload\":{\"k\":[1.0,1E2,\"\\u00e9\\u0000\"]}}",
                                 NULL, &r),
                     0);
    assert_string_equal(r.u.event.system_id, "caf\xc3\xa9");
    assert_string_equal(r.u.event.actor_address, "\"\xf0\x9f\x98\x80\"");
    assert_string_equal(r.u.event.payload, "{\"k\": [1.0, 100.0, \"\xc3\xa9\\u0000\"]}");
    assert_true(r.u.event.timestamp == 1.5);
    assert_encodes(&r, PAPYRA_STYLE_ROTATING,
                   "{\"system_id\": \"caf\\u00e9\", \"actor_address\": \"\\ud83d\\ude00\", "
                   "\"event_type\": \"\", \"payload\": {\"k\": [1.0, 100.0, "
                   "\"\\u00e9\\u0000\"]}, \"timestamp\": 1.5, \"kind\": \"event\"}");
    papyra__record_clear(&r);
}

static void
test_decode_should_refuse_unknown_kinds_and_bad_timestamps_without_touching_out(void **state)
{
    static const struct {
        const char *line;
        int err;
    } cases[] = {
        {"{\"kind\": \"metric\", \"timestamp\": 1}", PAPYRA_ENOENT},
        {"{\"kind\": \"Event\", \"timestamp\": 1}", PAPYRA_ENOENT},
        {"{\"kind\": \"event\\u0000\", \"timestamp\": 1}", PAPYRA_ENOENT},
        {"{\"kind\": 1, \"timestamp\": 1}", PAPYRA_ENOENT},
        {"{\"timestamp\": 1}", PAPYRA_ENOENT},
        {"[\"event\"]", PAPYRA_ENOENT},
        {"\"event\"", PAPYRA_ENOENT},
        {"{\"kind\": \"event\"}", PAPYRA_ECORRUPT},
        {"{\"kind\": \"audit\", \"timestamp\": \"1\"}", PAPYRA_ECORRUPT},
        {"{\"kind\": \"dead_letter\", \"timestamp\": null}", PAPYRA_ECORRUPT},
        {"{\"kind\": \"event\", \"timestamp\": true}", PAPYRA_ECORRUPT},
    };
    papyra_record r;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&r, 0xa5, sizeof(r));
        if (decode_line(cases[i].line, NULL, &r) != cases[i].err)
            fail_msg("%s: wrong error", cases[i].line);
        assert_int_equal(((unsigned char *)&r)[0], 0xa5);
    }
    assert_int_equal(papyra__record_decode(NULL, NULL, &r), PAPYRA_ENOENT);
}

static void
test_kind_helpers_should_name_and_find_kinds(void **state)
{
    static const char big[] =
        "{\"kind\": \"dead_letter\", \"timestamp\": 123456789012345678901234567890}";
    static const char odd[] = "{\"kind\": \"x\", \"timestamp\": false}";
    papyra_json *v = NULL;
    double ts = 0;

    assert_string_equal(papyra_kind_name(PAPYRA_KIND_EVENT), "event");
    assert_string_equal(papyra_kind_name(PAPYRA_KIND_AUDIT), "audit");
    assert_string_equal(papyra_kind_name(PAPYRA_KIND_DEAD_LETTER), "dead_letter");
    assert_null(papyra_kind_name(PAPYRA_KIND_MAX));
    assert_null(papyra_kind_name((papyra_kind)-1));

    assert_int_equal(papyra__json_parse(big, strlen(big), &v), 0);
    assert_int_equal(papyra__record_kind_of(v), PAPYRA_KIND_DEAD_LETTER);
    assert_true(papyra__record_timestamp(v, &ts));
    assert_true(ts == 123456789012345678901234567890.0);
    papyra__json_free(v);
    assert_int_equal(papyra__json_parse(odd, strlen(odd), &v), 0);
    assert_int_equal(papyra__record_kind_of(v), -1);
    assert_false(papyra__record_timestamp(v, &ts));
    assert_int_equal(papyra__record_kind_of(NULL), -1);
    papyra__json_free(v);
}

static void
test_clear_should_accept_null_and_cleared_records(void **state)
{
    papyra_record r;

    papyra__record_clear(NULL);
    assert_int_equal(decode_line(EXAMPLE_AUDIT_JSON, NULL, &r), 0);
    papyra__record_clear(&r);
    assert_int_equal(r.kind, PAPYRA_KIND_AUDIT);
    assert_null(r.u.audit.system_id);
    papyra__record_clear(&r);
}

/* Whether two strings are both NULL or equal. */
static bool
same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool
same_names(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb || (!a) != (!b))
        return false;
    for (size_t i = 0; i < na; i++) {
        if (!same_str(a[i], b[i]))
            return false;
    }
    return true;
}

/* Whether two decoded records are the same, field by field (NULLs included). */
static bool
same_record(const papyra_record *a, const papyra_record *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case PAPYRA_KIND_EVENT:
        return same_str(a->u.event.system_id, b->u.event.system_id) &&
               same_str(a->u.event.actor_address, b->u.event.actor_address) &&
               same_str(a->u.event.event_type, b->u.event.event_type) &&
               same_str(a->u.event.payload, b->u.event.payload) &&
               memcmp(&a->u.event.timestamp, &b->u.event.timestamp, sizeof(double)) == 0;
    case PAPYRA_KIND_AUDIT:
        return same_str(a->u.audit.system_id, b->u.audit.system_id) &&
               a->u.audit.total_actors == b->u.audit.total_actors &&
               a->u.audit.alive_actors == b->u.audit.alive_actors &&
               a->u.audit.stopping_actors == b->u.audit.stopping_actors &&
               a->u.audit.restarting_actors == b->u.audit.restarting_actors &&
               a->u.audit.registry_size == b->u.audit.registry_size &&
               a->u.audit.dead_letters_count == b->u.audit.dead_letters_count &&
               same_names(a->u.audit.registry_orphans, a->u.audit.n_registry_orphans,
                          b->u.audit.registry_orphans, b->u.audit.n_registry_orphans) &&
               same_names(a->u.audit.registry_dead, a->u.audit.n_registry_dead,
                          b->u.audit.registry_dead, b->u.audit.n_registry_dead) &&
               memcmp(&a->u.audit.timestamp, &b->u.audit.timestamp, sizeof(double)) == 0;
    default:
        return same_str(a->u.dead_letter.system_id, b->u.dead_letter.system_id) &&
               same_str(a->u.dead_letter.target, b->u.dead_letter.target) &&
               same_str(a->u.dead_letter.message_type, b->u.dead_letter.message_type) &&
               same_str(a->u.dead_letter.payload, b->u.dead_letter.payload) &&
               memcmp(&a->u.dead_letter.timestamp, &b->u.dead_letter.timestamp, sizeof(double)) ==
                   0;
    }
}

/*
 * Decodes @p l with papyra__record_decode_normal() when the normal-form
 * check lets it, and with papyra__record_decode() on the parsed tree, and
 * fails unless both give the same record. Returns whether the fast path
 * decoded it.
 */
static bool
check_decode_normal(const char *l, size_t n)
{
    papyra__normal_info info;
    papyra_record a, b;
    papyra_json *obj = NULL;
    int ra, rb;

    if (papyra__json_parse(l, n, &obj) != 0)
        fail_msg("%s: not JSON", l);
    rb = papyra__record_decode(obj, "sys", &b);
    papyra__json_free(obj);
    ra = 1;
    /* Only for what the normal-form check accepts: otherwise the caller parses. */
    if (papyra__json_normal_len(l, n, false, &info) == n && info.typed && info.kind >= 0 &&
        info.has_timestamp)
        ra = papyra__record_decode_normal(l, n, &info, "sys", &a);
    if (ra == 0) {
        if (rb != 0)
            fail_msg("%s: decode_normal 0, decode %d", l, rb);
        if (!same_record(&a, &b))
            fail_msg("%s: decode_normal and decode differ", l);
        papyra__record_clear(&a);
    } else if (ra != 1) {
        fail_msg("%s: decode_normal %d", l, ra);
    }
    if (rb == 0)
        papyra__record_clear(&b);
    return ra == 0;
}

/*
 * Decoding a normal-form line straight from its text (the Redis backend's
 * reads) gives exactly the record the parsed tree gives: defaults, nulls,
 * escapes, nested JSON text, non-ASCII, unknown keys and any key order.
 */
static void
test_decode_normal_should_agree_with_the_parsed_tree(void **state)
{
    static const char *const lines[] = {
        EXAMPLE_EVENT_JSON,
        EXAMPLE_AUDIT_JSON,
        EXAMPLE_DEAD_LETTER_JSON,
        "{\"kind\": \"event\", \"timestamp\": 1.5}",
        "{\"timestamp\": 2, \"kind\": \"event\", \"payload\": null, \"actor_address\": null}",
        "{\"kind\": \"event\", \"system_id\": \"s\\\"q\\\\b\\n\\r\\t\\b\\f\", \"timestamp\": 1.5, "
        "\"event_type\": \"e\"}",
        "{\"kind\": \"event\", \"event_type\": \"\\u00e9\", \"timestamp\": 1.5}",
        "{\"kind\": \"event\", \"system_id\": \"caf\xc3\xa9\", \"timestamp\": -1.25, "
        "\"actor_address\": {\"a\": [1, {\"b\": \"}]\\\"\"}], \"c\": null}, \"event_type\": "
        "\"T\\\\\", \"payload\": [\"x, y\", {}, [], 1.5, true, false], \"extra\": {\"k\": 1}}",
        "{\"kind\": \"event\", \"payload\": \"\\\"\", \"timestamp\": 1700000000.1234567, "
        "\"event_type\": \"\"}",
        "{\"kind\": \"audit\", \"timestamp\": 1.5}",
        "{\"kind\": \"audit\", \"timestamp\": 3, \"total_actors\": -123456789012345678, "
        "\"alive_actors\": 0, \"stopping_actors\": 1, \"restarting_actors\": 2, "
        "\"registry_size\": 3, \"dead_letters_count\": 4, \"registry_orphans\": [], "
        "\"registry_dead\": [\"a\\\"b\", \"\", \"c, d\", \"\xc3\xa9\"], \"system_id\": \"s\"}",
        "{\"kind\": \"audit\", \"timestamp\": 1.5, \"total_actors\": 1234567890123456789}",
        "{\"kind\": \"dead_letter\", \"timestamp\": 1.5}",
        "{\"kind\": \"dead_letter\", \"target\": null, \"payload\": null, \"message_type\": "
        "\"m\\tn\", \"timestamp\": 0.5, \"system_id\": \"\"}",
        "{\"kind\": \"dead_letter\", \"target\": \"t\", \"payload\": {\"p\": [null]}, "
        "\"timestamp\": 2.5}",
        "{\"message_type\": 5, \"kind\": \"event\", \"timestamp\": 1.5}",
    };
    size_t i, fast = 0;

    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        fast += check_decode_normal(lines[i], strlen(lines[i]));
    /* All but three take the fast path: a \u escape, 19 digits and a mistyped field do not. */
    assert_int_equal(fast, sizeof(lines) / sizeof(lines[0]) - 3);
}

/* A random string of up to 12 characters, escapes and non-ASCII among them. */
static char *
random_string(unsigned *seed)
{
    static const char *const parts[] = {
        "a",    "Z",    "0",  " ",  "\"", "\\",       "\n",
        "\t",   "\b",   "\f", "\r", "/",  "\xc3\xa9", "\xe2\x82\xac",
        "\x01", "kind", "{",  "]",  ",",  ":"};
    char *out = calloc(1, 64);
    int n = rand_r(seed) % 13;

    assert_non_null(out);
    for (int i = 0; i < n; i++)
        strcat(out, parts[rand_r(seed) % (sizeof(parts) / sizeof(parts[0]))]);
    return out;
}

/*
 * Records of every kind with random strings, JSON-text fields and numbers,
 * encoded as we write them, decode the same from the text as from the tree.
 */
static void
test_decode_normal_should_agree_with_the_parser_on_random_records(void **state)
{
    static const char *const texts[] = {NULL,
                                        "null",
                                        "1",
                                        "-2.5",
                                        "\"s\\\\t\\\"r\"",
                                        "{}",
                                        "[]",
                                        "{\"a\": [1, {\"b\": null}]}",
                                        "[\"x, y\", \"]\", {\"}\": \"{\"}]",
                                        "\"\xc3\xa9\"",
                                        "true",
                                        "1e+300"};
    enum { N_TEXTS = sizeof(texts) / sizeof(texts[0]) };
    unsigned seed = 20261130;
    size_t fast = 0, total = 2000;

    for (size_t i = 0; i < total; i++) {
        papyra_record r = {.kind = (papyra_kind)(rand_r(&seed) % PAPYRA_KIND_MAX)};
        char *strs[4] = {random_string(&seed), random_string(&seed), random_string(&seed),
                         random_string(&seed)};
        const char *names[3] = {strs[1], strs[2], strs[3]};
        double ts = (double)(rand_r(&seed) % 2000000000) + (double)(rand_r(&seed) % 1000) / 1000.0;
        papyra_buf line = {0};

        switch (r.kind) {
        case PAPYRA_KIND_EVENT:
            r.u.event.system_id = rand_r(&seed) % 4 ? strs[0] : NULL;
            r.u.event.actor_address = texts[rand_r(&seed) % N_TEXTS];
            r.u.event.event_type = strs[1];
            r.u.event.payload = texts[rand_r(&seed) % N_TEXTS];
            r.u.event.timestamp = ts;
            break;
        case PAPYRA_KIND_AUDIT:
            r.u.audit.system_id = strs[0];
            r.u.audit.timestamp = ts;
            r.u.audit.total_actors = (int64_t)rand_r(&seed) * (rand_r(&seed) % 2 ? -1 : 1);
            r.u.audit.alive_actors = rand_r(&seed) % 3;
            r.u.audit.registry_size = INT64_C(999999999999999999);
            r.u.audit.dead_letters_count = INT64_C(-999999999999999999);
            r.u.audit.registry_orphans = names;
            r.u.audit.n_registry_orphans = (size_t)(rand_r(&seed) % 4);
            r.u.audit.registry_dead = names + 1;
            r.u.audit.n_registry_dead = (size_t)(rand_r(&seed) % 3);
            break;
        default:
            r.u.dead_letter.system_id = strs[0];
            r.u.dead_letter.target = texts[rand_r(&seed) % N_TEXTS];
            r.u.dead_letter.message_type = strs[2];
            r.u.dead_letter.payload = texts[rand_r(&seed) % N_TEXTS];
            r.u.dead_letter.timestamp = ts;
            break;
        }
        assert_int_equal(papyra__record_encode(&r, PAPYRA_STYLE_JSON, &line), 0);
        fast += check_decode_normal(line.data, line.len);
        papyra__buf_free(&line);
        for (int k = 0; k < 4; k++)
            free(strs[k]);
    }
    /* Those with \u0001 or 1e+300 are not in normal form: the parser decodes them. */
    assert_true(fast > total / 3); /* about half here */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_should_write_the_upstream_event_line_in_both_styles),
        cmocka_unit_test(test_encode_should_write_the_upstream_audit_line),
        cmocka_unit_test(test_encode_should_write_the_upstream_dead_letter_line),
        cmocka_unit_test(
            test_encode_should_keep_non_ascii_raw_in_json_style_and_escape_it_in_rotating_style),
        cmocka_unit_test(
            test_encode_should_escape_audit_names_and_write_extreme_values_in_rotating_style),
        cmocka_unit_test(test_encode_should_apply_null_defaults_and_write_non_finite_timestamps),
        cmocka_unit_test(test_encode_should_append_after_existing_content_without_a_newline),
        cmocka_unit_test(test_encode_should_reject_invalid_records_and_leave_the_buffer_alone),
        cmocka_unit_test(test_encode_should_name_the_field_and_the_reason_of_a_refusal),
        cmocka_unit_test(
            test_records_with_lone_surrogates_should_be_written_back_as_the_same_escape),
        cmocka_unit_test(test_decode_should_read_every_field_of_the_upstream_lines),
        cmocka_unit_test(test_decode_then_encode_should_reproduce_the_upstream_lines),
        cmocka_unit_test(test_decode_should_fill_defaults_for_a_minimal_event),
        cmocka_unit_test(
            test_decode_should_refuse_fields_of_the_wrong_type_and_default_missing_ones),
        cmocka_unit_test(test_classify_line_should_agree_with_the_parsed_tree),
        cmocka_unit_test(test_normal_form_shapes_should_answer_as_the_full_check),
        cmocka_unit_test(test_normal_form_should_take_written_floats_of_every_length),
        cmocka_unit_test(test_normal_form_should_see_every_byte_of_a_string),
        cmocka_unit_test(test_normal_form_should_find_duplicate_keys_of_every_length),
        cmocka_unit_test(test_decode_should_normalise_json_text_fields_without_escaping_non_ascii),
        cmocka_unit_test(
            test_decode_should_refuse_unknown_kinds_and_bad_timestamps_without_touching_out),
        cmocka_unit_test(test_kind_helpers_should_name_and_find_kinds),
        cmocka_unit_test(test_clear_should_accept_null_and_cleared_records),
        cmocka_unit_test(test_decode_normal_should_agree_with_the_parsed_tree),
        cmocka_unit_test(test_decode_normal_should_agree_with_the_parser_on_random_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
