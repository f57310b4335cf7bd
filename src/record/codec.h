/* SPDX-License-Identifier: MIT */
/*
 * Conversion between papyra_record and upstream Papyra's JSON lines.
 *
 * Both line styles hold the record's fields in the order of upstream's
 * dataclasses plus a "kind" key: the JSON-lines and Redis backends put "kind"
 * first and write non-ASCII characters as UTF-8, the rotating backend puts
 * "kind" last and escapes everything outside printable ASCII.
 */
#ifndef PAPYRA_RECORD_CODEC_H
#define PAPYRA_RECORD_CODEC_H

#include <stdbool.h>
#include <stdint.h>

#include <papyra/record.h>

#include "json/json.h"
#include "util/buf.h"

/* Line style of papyra__record_encode(). */
enum {
    PAPYRA_STYLE_JSON = 0,     /* "kind" first, ensure_ascii=False (JSON lines, Redis). */
    PAPYRA_STYLE_ROTATING = 1, /* "kind" last, ensure_ascii=True (rotating files). */
};

/*
 * Appends the line for r, without a newline, to out. JSON-text fields are
 * parsed and written back in normal form; NULL means null, except that an
 * event's NULL payload means {} and a NULL system_id means "local".
 * Strings may hold what the decoder produces: UTF-8 plus lone surrogates in
 * their 3-byte WTF-8 form (papyra__utf8_invalid_at()), which are written as
 * \udxxx escapes in both styles, as Python's json.dumps() writes them.
 * Returns PAPYRA_EINVAL for an unknown kind or style, a NULL event_type or
 * message_type, a NULL registry name, a string that is not WTF-8 or a
 * JSON-text field that is not valid JSON; PAPYRA_ENOMEM. On failure out is
 * left as it was.
 */
int papyra__record_encode(const papyra_record *r, int style, papyra_buf *out);

/* Why papyra__record_encode_why() refused a record. */
typedef struct papyra__encode_error {
    /*
     * "" on success; otherwise the field and the reason, e.g. "field
     * 'event_type' is not UTF-8 (invalid byte at offset 5)", "field
     * 'payload' is not valid JSON (expected a value at offset 6)", "field
     * 'registry_dead[1]' is NULL (a string is required)".
     */
    char text[256];
} papyra__encode_error;

/* papyra__record_encode(), explaining a refusal in *err (which may be NULL). */
int papyra__record_encode_why(const papyra_record *r,
                              int style,
                              papyra_buf *out,
                              papyra__encode_error *err);

/*
 * Builds a record from a parsed line, with one rule for every backend:
 * unknown keys are ignored, a field of the wrong JSON type makes the record
 * PAPYRA__LINE_MISTYPED (refused, PAPYRA_ECORRUPT: never coerced), and a
 * missing field takes its default (system_id: default_system_id, or "local" if
 * that is NULL; event_type and message_type: ""; an event's payload: {};
 * actor_address, target and a dead letter's payload: null; counters: 0; name
 * lists: empty). JSON-text fields come
 * back as normalised text (ensure_ascii=False), NULL for JSON null except an
 * event payload, which is always text. Every string of *out is malloc'd;
 * release them with papyra__record_clear().
 *
 * Returns PAPYRA_ENOENT when obj is not an object whose "kind" is "event",
 * "audit" or "dead_letter"; PAPYRA_ECORRUPT when "timestamp" is missing or
 * not a number (booleans are not numbers here) or a field is mistyped;
 * PAPYRA_ENOMEM. *out is
 * untouched on failure.
 */
int
papyra__record_decode(const papyra_json *obj, const char *default_system_id, papyra_record *out);

/*
 * What a stored line is, the one rule for list, scan, recover and compact of
 * every backend (docs/decisions.md, "Records that upstream wrote"):
 */
enum {
    /* Not a JSON object (invalid JSON or UTF-8, blank, an array, ...): an
     * anomaly that list skips and counts, scan reports, recover and compact drop. */
    PAPYRA__LINE_CORRUPT = 0,
    /* A JSON object that is not a record we know (unknown "kind", no numeric
     * "timestamp"): skipped by list, kept by recover and compact, outside retention. */
    PAPYRA__LINE_OTHER = 1,
    /* A record whose fields all have their type (or are missing: defaults). */
    PAPYRA__LINE_RECORD = 2,
    /* A record upstream reads, with a field the public structs cannot hold
     * (e.g. "total_actors" beyond int64, "event_type": 5): never coerced;
     * list skips it and counts an anomaly, scan reports it (MISTYPED_RECORD),
     * recover and compact keep it byte for byte, retention goes by its timestamp. */
    PAPYRA__LINE_MISTYPED = 3,
};

/*
 * Classifies a parsed JSON object: PAPYRA__LINE_OTHER, _RECORD or
 * _MISTYPED; for _MISTYPED @p why (may be NULL) gets "field 'KEY' is TYPE,
 * TYPE is required".
 */
int papyra__record_classify(const papyra_json *obj, char *why, size_t whylen);

/*
 * Frees the strings of a record filled by papyra__record_decode() and zeroes
 * it, keeping its kind. NULL is a no-op.
 */
void papyra__record_clear(papyra_record *r);

/* The papyra_kind named by obj's "kind" key, or -1 if it names none. */
int papyra__record_kind_of(const papyra_json *obj);

/*
 * Stores obj's "timestamp" as a double and returns true if it is an integer
 * or float; returns false otherwise.
 */
bool papyra__record_timestamp(const papyra_json *obj, double *ts);

/* The timestamp of a record of any kind; NaN for an invalid kind. */
double papyra__record_time(const papyra_record *r);

/*
 * The length of @p text when it is already in json.dumps()'s normal form
 * (parsing it and writing it back with papyra__json_write() would give the
 * same bytes), or 0 when that is not certain. The byte at text[len] must not
 * continue a JSON token (a NUL or a newline). Lets the encoder copy a
 * JSON-text field and a rewrite copy a line as they are (record/codec.c).
 */
typedef struct papyra__normal_info {
    int kind;           /* what papyra__record_kind_of() gives for the text */
    bool has_timestamp; /* what papyra__record_timestamp() gives */
    double timestamp;
    /*
     * false when a top-level field whose type matters to some kind (e.g.
     * "event_type", "total_actors") may have another type: then only
     * papyra__record_classify() on the parsed tree can tell.
     */
    bool typed;
} papyra__normal_info;

/*
 * With @p info (may be NULL) set for an accepted text: its top-level "kind"
 * and "timestamp", as the record-codec functions would read them from the
 * parsed tree, so that a normal-form line needs no parse at all.
 */
size_t papyra__json_normal_len(const char *text, size_t len, bool ascii, papyra__normal_info *info);

/*
 * The shapes of the last lines a reader found in normal form: each line's
 * bytes with where its strings and numbers lie, the rest (keys, brackets,
 * separators, true, false, null) being the shape. A line with the same
 * shape is checked by comparing those bytes and checking only its strings
 * and numbers (record/codec.c), which answers exactly what
 * papyra__json_normal_len() answers. A cache: zero it before the first use
 * (PAPYRA__NORMAL_SHAPES_INIT); it holds no pointers and needs no free.
 */
#define PAPYRA__SHAPE_BYTES 1024
#define PAPYRA__SHAPE_SLOTS 40
#define PAPYRA__SHAPES 4

typedef struct papyra__normal_shape {
    uint32_t len; /* bytes of the line it was learned from; 0: empty */
    uint16_t nslots;
    bool ascii;  /* learned for this ensure_ascii */
    bool hi;     /* a key holds bytes above 0x7e */
    int8_t kind; /* the papyra_kind of the line it was learned from (-1: none) */
    struct {
        uint16_t start, end; /* the value's bytes in text[] */
        uint8_t type;        /* '"' a string, '0' a number */
        uint8_t want;        /* 1: the top-level "kind", 2: the top-level "timestamp" */
        uint8_t expect;      /* the type the record codec requires there (or any) */
    } slot[PAPYRA__SHAPE_SLOTS];
    char text[PAPYRA__SHAPE_BYTES + 16]; /* 16 bytes to spare for 16-byte loads */
} papyra__normal_shape;

typedef struct papyra__normal_shapes {
    /*
     * Set by a reader that only classifies lines (a scan): a line that
     * matches a shape is then accepted when it is valid JSON with the
     * shape's structure, a float in it when it is a JSON number in fixed
     * notation (whether repr() would write it so, and its value, are not
     * looked at: info's timestamp is NaN). Kind, has_timestamp and typed are
     * what the parsed tree gives, which is all that classifying needs; the
     * line may not be in normal form, so it must not be copied on that word.
     */
    bool valid_only;
    unsigned last; /* the shape that matched last, tried first */
    unsigned next; /* where the next shape is learned */
    papyra__normal_shape shape[PAPYRA__SHAPES];
} papyra__normal_shapes;

#define PAPYRA__NORMAL_SHAPES_INIT \
    {                              \
        0                          \
    }

/*
 * papyra__json_normal_len() for a stream of lines: tries the shapes in
 * @p shapes (may be NULL) first and learns the shape of a line it accepts
 * otherwise (see valid_only for what a scan may take besides).
 */
size_t papyra__json_normal_len_shaped(const char *text,
                                      size_t len,
                                      bool ascii,
                                      papyra__normal_info *info,
                                      papyra__normal_shapes *shapes);

/*
 * Classifies the @p len bytes of a line (without its newline): any
 * PAPYRA__LINE_* or PAPYRA_ENOMEM. Lines in normal form (papyra__json_normal_len()
 * with @p ascii) are not parsed unless a field may be mistyped. @p info (may
 * be NULL) gets the kind and timestamp.
 */
int papyra__record_classify_line(
    const char *p, size_t len, bool ascii, papyra__normal_info *info, char *why, size_t whylen);

/*
 * papyra__record_decode() straight from the text, without a parse, for a
 * text that papyra__json_normal_len() accepted whole with ascii false and
 * @p info saying typed, a known kind and a timestamp (what we and upstream
 * write): JSON-text fields are copied as they are (they are in normal form
 * already), strings unescaped, missing fields take the same defaults.
 * Returns 0, PAPYRA_ENOMEM, PAPYRA_EINVAL for an @p info that does not say
 * so, or 1 when only the parsed tree can tell (an integer of more than 18
 * digits): then decode the parsed tree. *out is untouched unless 0.
 */
int papyra__record_decode_normal(const char *text,
                                 size_t len,
                                 const papyra__normal_info *info,
                                 const char *default_system_id,
                                 papyra_record *out);

/* papyra__record_classify_line() with the normal-form check of @p shapes (may be NULL). */
int papyra__record_classify_line_shaped(const char *p,
                                        size_t len,
                                        bool ascii,
                                        papyra__normal_info *info,
                                        papyra__normal_shapes *shapes,
                                        char *why,
                                        size_t whylen);

#endif /* PAPYRA_RECORD_CODEC_H */
