/* SPDX-License-Identifier: MIT */
/*
 * Records to upstream JSON lines and back. Encoding writes straight into the
 * output buffer (only JSON-text fields go through a tree, to be validated and
 * normalised); decoding reads a parsed tree.
 */
#include "record-codec.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/common.h>
#include <papyra/record.h>

#include "buf.h"
#include "json.h"

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
    unsigned flags; /* PAPYRA_JSON_ENSURE_ASCII or 0. */
    bool first;     /* No member written yet. */
} encoder;

/* Writes the separator and "key": for a key that needs no escaping. */
static int
put_key(encoder *e, const char *key)
{
    int r = 0;

    if (!e->first)
        r = papyra__buf_append(e->out, ", ", 2);
    e->first = false;
    if (r == 0)
        r = papyra__buf_putc(e->out, '"');
    if (r == 0)
        r = papyra__buf_puts(e->out, key);
    if (r == 0)
        r = papyra__buf_append(e->out, "\": ", 3);
    return r;
}

static int
put_string_value(encoder *e, const char *s)
{
    size_t n;

    if (!s)
        return PAPYRA_EINVAL;
    n = strlen(s);
    if (!papyra__utf8_valid(s, n))
        return PAPYRA_EINVAL;
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
    papyra_json *v;
    int r = put_key(e, key);

    if (r < 0)
        return r;
    if (!text)
        return papyra__buf_puts(e->out, if_null);
    r = papyra__json_parse(text, strlen(text), &v);
    if (r == PAPYRA_ECORRUPT)
        return PAPYRA_EINVAL;
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
        r = PAPYRA_EINVAL;
    if (r == 0)
        r = papyra__buf_putc(e->out, '[');
    for (i = 0; r == 0 && i < n; i++) {
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
papyra__record_encode(const papyra_record *rec, int style, papyra_buf *out)
{
    encoder e = {.out = out, .first = true};
    const char *kind;
    size_t old_len;
    int r;

    if (!rec || !out || (style != PAPYRA_STYLE_JSON && style != PAPYRA_STYLE_ROTATING))
        return PAPYRA_EINVAL;
    kind = papyra_kind_name(rec->kind);
    if (!kind)
        return PAPYRA_EINVAL;
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
    return r;
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
