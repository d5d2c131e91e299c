/* SPDX-License-Identifier: Apache-2.0
 *
 * OCSF output: one Detection Finding (class_uid 2004, category 2 Findings)
 * per line, the format Prowler users load into their pipelines and AWS
 * Security Lake ingests. kensa's severity maps to severity_id 1..5; each
 * ATT&CK technique becomes one finding_info.attacks entry per tactic it
 * belongs to (technique, sub_technique, tactic with ATT&CK ids and names:
 * output/attack.def); the host of the first evidence is the finding's
 * device; each evidence carries its file, device, acting user and source
 * address; matched values and details go to unmapped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "output/attack.h"
#include "kensa_int.h"

static void str(ks_buf *b, const char *k, const char *v, bool comma)
{
    ks__buf_printf(b, "\"%s\":\"", k);
    ks__buf_add_json_str(b, v ? v : "", v ? strlen(v) : 0);
    ks__buf_adds(b, comma ? "\"," : "\"");
}

static int64_t ms(int64_t t)
{
    return t == KS_TIME_NONE ? 0 : t / 1000000;
}

/* technique "T1110" (+ sub_technique "T1110.003") under each of its
 * tactics; a technique of no known tactic goes alone. */
static void attacks(ks_buf *b, const ks_finding *f)
{
    bool first = true;
    for (size_t k = 0; k < f->ntechniques; k++) {
        const char *id = f->techniques[k], *dot = strchr(id, '.');
        const char *name = ks__technique_name(id);
        unsigned tactics = ks__technique_tactics(id);
        char parent[16];
        snprintf(parent, sizeof parent, "%.*s", dot ? (int)(dot - id) : (int)strlen(id), id);
        for (int ta = 0; ta < KS_TACTICS || (ta == KS_TACTICS && !tactics); ta++) {
            if (ta < KS_TACTICS && !(tactics & (1u << ta)))
                continue;
            ks__buf_adds(b, first ? "{\"technique\":{" : ",{\"technique\":{");
            first = false;
            if (name)
                str(b, "name", name, true);
            str(b, "uid", parent, false);
            ks__buf_adds(b, "},");
            if (dot) {
                ks__buf_adds(b, "\"sub_technique\":{");
                str(b, "uid", id, false);
                ks__buf_adds(b, "},");
            }
            if (ta < KS_TACTICS) {
                ks__buf_adds(b, "\"tactic\":{");
                str(b, "name", ks__tactic_title(ta), true);
                str(b, "uid", ks__tactic_uid(ta), false);
                ks__buf_adds(b, "},");
            }
            str(b, "version", "18", false);
            ks__buf_adds(b, "}");
        }
    }
}

/* One Detection Finding a line, one write each (a valid prefix at any
 * moment). Undated findings take the time they are written. */
static int ocsf_finding(void *state, const ks_finding *f)
{
    ks_outbuf *s = state;
    ks_buf *b = &s->b;
    int sev = (int)f->severity + 1; /* OCSF: 1 informational .. 5 critical */
    int64_t t = f->first != KS_TIME_NONE ? f->first : ks__wall_ns();
    ks__buf_reset(b);
    ks__buf_printf(b, "{\"class_uid\":2004,\"class_name\":\"Detection Finding\",\"category_uid\":2,"
                       "\"category_name\":\"Findings\",\"activity_id\":1,\"activity_name\":\"Create\","
                       "\"type_uid\":200401,\"severity_id\":%d,", sev);
    str(b, "severity", sev == 1 ? "Informational" : sev == 2 ? "Low" : sev == 3 ? "Medium" : sev == 4 ? "High" : "Critical", true);
    ks__buf_printf(b, "\"time\":%" PRId64 ",\"status_id\":1,\"status\":\"New\",", ms(t));
    str(b, "message", f->title, true);
    ks__buf_adds(b, "\"metadata\":{\"version\":\"1.1.0\",\"product\":{\"name\":\"kensa\",\"vendor_name\":\"kensa\",");
    str(b, "version", ks_version(), false);
    ks__buf_adds(b, "}},\"finding_info\":{");
    char uid[160];
    snprintf(uid, sizeof uid, "%s#%" PRIu64, f->rule_id, f->seq);
    str(b, "uid", uid, true);
    str(b, "title", f->title, true);
    if (f->description)
        str(b, "desc", f->description, true);
    ks__buf_printf(b, "\"first_seen_time\":%" PRId64 ",\"last_seen_time\":%" PRId64 ",", ms(f->first),
                   ms(f->last != KS_TIME_NONE ? f->last : f->first));
    ks__buf_adds(b, "\"analytic\":{\"type_id\":1,\"type\":\"Rule\",");
    str(b, "uid", f->rule_id, true);
    str(b, "name", f->detector, false);
    ks__buf_adds(b, "},\"attacks\":[");
    attacks(b, f);
    ks__buf_adds(b, "]},");
    if (f->nevidence && f->evidence[0].host) {
        ks__buf_adds(b, "\"device\":{\"type_id\":0,\"type\":\"Unknown\",");
        str(b, "hostname", f->evidence[0].host, false);
        ks__buf_adds(b, "},");
    }
    ks__buf_adds(b, "\"evidences\":[");
    for (size_t k = 0; k < f->nevidence; k++) {
        const ks_evidence *ev = &f->evidence[k];
        ks__buf_adds(b, k ? ",{\"file\":{" : "{\"file\":{");
        str(b, "path", ev->path, false);
        ks__buf_adds(b, "},");
        if (ev->host) {
            ks__buf_adds(b, "\"device\":{\"type_id\":0,");
            str(b, "hostname", ev->host, false);
            ks__buf_adds(b, "},");
        }
        if (ev->user) {
            ks__buf_adds(b, "\"actor\":{\"user\":{");
            str(b, "name", ev->user, false);
            ks__buf_adds(b, "}},");
        }
        if (ev->source) {
            ks__buf_adds(b, "\"src_endpoint\":{");
            str(b, "ip", ev->source, false);
            ks__buf_adds(b, "},");
        }
        ks__buf_adds(b, "\"data\":{");
        ks__buf_printf(b, "\"record\":%" PRIu64 ",\"line\":%" PRIu64, ev->record, ev->line);
        if (ev->offset != UINT64_MAX)
            ks__buf_printf(b, ",\"offset\":%" PRIu64, ev->offset);
        const char *ctx[][2] = {{"channel", ev->channel}, {"event_id", ev->event_id}, {"record_id", ev->record_id}};
        for (size_t c = 0; c < KS_ARRAY_LEN(ctx); c++)
            if (ctx[c][1]) {
                ks__buf_addc(b, ',');
                str(b, ctx[c][0], ctx[c][1], false);
            }
        ks__buf_adds(b, "}}");
    }
    ks__buf_printf(b, "],\"count\":%" PRIu64 ",\"unmapped\":{", f->event_count);
    for (size_t k = 0; k < f->nmatched; k++)
        str(b, f->matched[k].key, f->matched[k].value, k + 1 < f->nmatched || f->ndetails);
    for (size_t k = 0; k < f->ndetails; k++)
        str(b, f->details[k].key, f->details[k].value, k + 1 < f->ndetails);
    ks__buf_adds(b, "}}\n");
    return ks__outbuf_flush(s);
}

const struct ks_output ks_output_ocsf = {
    .abi = KS_OUTPUT_ABI_2,
    .name = "ocsf",
    .description = "OCSF 1.1 Detection Finding (class 2004) JSON lines",
    .flags = KS_OUT_STREAM,
    .open = ks__outbuf_open,
    .on_finding = ocsf_finding,
    .free = ks__outbuf_free,
};
