/* SPDX-License-Identifier: Apache-2.0
 *
 * JSON lines output: one object per finding, schema "kensa.finding/1"
 * (docs/OUTPUT.md), for SIEM ingestion. Every string is escaped to valid
 * UTF-8 JSON whatever the evidence held. Lines are written as findings
 * come, so the file is a valid prefix at any moment.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "output/share.h"

static void add_key(ks_buf *b, const char *k)
{
    ks__buf_addc(b, '"');
    ks__buf_adds(b, k);
    ks__buf_adds(b, "\":");
}

static void add_str(ks_buf *b, const char *s)
{
    if (!s) {
        ks__buf_adds(b, "null");
        return;
    }
    ks__buf_addc(b, '"');
    ks__buf_add_json_str(b, s, strlen(s));
    ks__buf_addc(b, '"');
}

static void add_time(ks_buf *b, int64_t t)
{
    char tb[64];
    if (t == KS_TIME_NONE) {
        ks__buf_adds(b, "null");
        return;
    }
    ks_time_format(t, tb, sizeof tb);
    add_str(b, tb);
}

static void add_kvs(ks_buf *b, const ks_kv *kv, size_t n)
{
    ks__buf_addc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            ks__buf_addc(b, ',');
        add_str(b, kv[i].key);
        ks__buf_addc(b, ':');
        add_str(b, kv[i].value);
    }
    ks__buf_addc(b, '}');
}

/* "key":"value", with the comma that follows. */
static void str_member(ks_buf *b, const char *k, const char *v)
{
    add_key(b, k);
    add_str(b, v);
    ks__buf_addc(b, ',');
}

int ks__finding_to_json(ks_buf *b, const ks_finding *f);
int ks__finding_to_json(ks_buf *b, const ks_finding *f)
{
    ks__buf_adds(b, "{\"schema\":\"kensa.finding/1\",");
    str_member(b, "rule_id", f->rule_id);
    str_member(b, "title", f->title);
    str_member(b, "detector", f->detector);
    str_member(b, "severity", ks_severity_name(f->severity));
    add_key(b, "techniques");
    ks__buf_addc(b, '[');
    for (size_t i = 0; i < f->ntechniques; i++) {
        if (i)
            ks__buf_addc(b, ',');
        add_str(b, f->techniques[i]);
    }
    ks__buf_adds(b, "],");
    add_key(b, "first");
    add_time(b, f->first);
    ks__buf_addc(b, ',');
    add_key(b, "last");
    add_time(b, f->last);
    ks__buf_printf(b, ",\"event_count\":%" PRIu64 ",", f->event_count);
    add_key(b, "evidence");
    ks__buf_addc(b, '[');
    for (size_t i = 0; i < f->nevidence; i++) {
        const ks_evidence *ev = &f->evidence[i];
        if (i)
            ks__buf_addc(b, ',');
        ks__buf_addc(b, '{');
        str_member(b, "path", ev->path);
        add_key(b, "format");
        add_str(b, ev->format);
        ks__jplace(b, ev);
        ks__buf_addc(b, ',');
        add_key(b, "time");
        add_time(b, ev->time);
        /* the record's context, from the field schema (docs/OUTPUT.md) */
        static const char *const ctx_keys[] = {"host", "channel", "event_id", "record_id",
                                               "user", "target_user", "source"};
        const char *ctx_vals[] = {ev->host, ev->channel, ev->event_id, ev->record_id,
                                  ev->user, ev->target_user, ev->source};
        for (size_t k = 0; k < KS_ARRAY_LEN(ctx_keys); k++) {
            if (!ctx_vals[k])
                continue;
            ks__buf_addc(b, ',');
            add_key(b, ctx_keys[k]);
            add_str(b, ctx_vals[k]);
        }
        ks__buf_addc(b, '}');
    }
    ks__buf_adds(b, "],");
    add_key(b, "matched");
    add_kvs(b, f->matched, f->nmatched);
    ks__buf_addc(b, ',');
    add_key(b, "details");
    add_kvs(b, f->details, f->ndetails);
    if (f->nvalues) {
        /* values by hash: "values":[{"type":..,"value_sha256":..,"count":..}] */
        ks__buf_adds(b, ",\"values\":[");
        for (size_t i = 0; i < f->nvalues; i++) {
            const ks_fvalue *v = &f->values[i];
            ks__buf_adds(b, i ? ",{" : "{");
            str_member(b, "type", v->type);
            str_member(b, "value_sha256", v->sha256);
            str_member(b, "redacted", v->redacted);
            if (v->clear)
                str_member(b, "value", v->clear);
            ks__buf_printf(b, "\"count\":%" PRIu64 "}", v->count);
        }
        ks__buf_addc(b, ']');
    }
    if (f->description) {
        ks__buf_addc(b, ',');
        add_key(b, "description");
        add_str(b, f->description);
    }
    return ks__buf_adds(b, "}\n");
}

int ks_finding_to_json(const ks_finding *f, char **out, size_t *n)
{
    ks_buf b = KS_BUF_INIT;
    if (ks__finding_to_json(&b, f) != KS_OK || !b.p) {
        ks__buf_release(&b);
        return KS_ENOMEM;
    }
    *out = ks__buf_detach(&b, n);
    return *out ? KS_OK : KS_ENOMEM;
}

/* One whole line per write: a killed run leaves only complete lines. */
static int jsonl_finding(void *state, const ks_finding *f)
{
    ks_outbuf *s = state;
    ks__buf_reset(&s->b);
    int rc = ks__finding_to_json(&s->b, f);
    return rc == KS_OK ? ks__outbuf_flush(s) : rc;
}

/* With group.json the stream is the grouped view (engine/group.c), written
 * when the run is over: each group needs the whole run to be complete. */
typedef struct jsonl_st {
    ks_outbuf ob;          /* first: freed by ks__outbuf_free */
    bool grouped;
} jsonl_st;

static int jsonl_open(ks_engine *e, ks_outfile *o, void **state)
{
    int rc = ks__outbuf_new(e, o, sizeof(jsonl_st), state);
    if (rc == KS_OK)
        ((jsonl_st *)*state)->grouped = ks__opt_bool(e, "group.json");
    return rc;
}

static int jsonl_stream(void *state, const ks_finding *f)
{
    jsonl_st *s = state;
    return s->grouped ? KS_OK : jsonl_finding(s, f);
}

static int jsonl_close(void *state)
{
    jsonl_st *s = state;
    return s->grouped ? ks__findings_view(s->ob.e, jsonl_finding, s) : KS_OK;
}

const struct ks_output ks_output_jsonl = {
    .abi = KS_OUTPUT_ABI_2,
    .name = "jsonl",
    .description = "JSON lines, one finding per line (schema kensa.finding/1)",
    .flags = KS_OUT_STREAM,
    .open = jsonl_open,
    .on_finding = jsonl_stream,
    .close = jsonl_close,
    .free = ks__outbuf_free,
};
