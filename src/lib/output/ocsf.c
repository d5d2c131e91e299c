/* SPDX-License-Identifier: Apache-2.0
 *
 * OCSF output: one Detection Finding (class_uid 2004, category 2 Findings)
 * per line, the format Prowler users load into their pipelines and AWS
 * Security Lake ingests. kensa's severity maps to severity_id 1..5, ATT&CK
 * ids go to finding_info.attacks, the evidence locations and matched values
 * to evidences / unmapped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
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
    for (size_t k = 0; k < f->ntechniques; k++) {
        ks__buf_adds(b, k ? ",{\"technique\":{" : "{\"technique\":{");
        str(b, "uid", f->techniques[k], false);
        ks__buf_adds(b, "}}");
    }
    ks__buf_adds(b, "]},\"evidences\":[");
    for (size_t k = 0; k < f->nevidence; k++) {
        const ks_evidence *ev = &f->evidence[k];
        ks__buf_adds(b, k ? ",{\"file\":{" : "{\"file\":{");
        str(b, "path", ev->path, false);
        ks__buf_adds(b, "},\"data\":{");
        ks__buf_printf(b, "\"record\":%" PRIu64 ",\"line\":%" PRIu64, ev->record, ev->line);
        if (ev->offset != UINT64_MAX)
            ks__buf_printf(b, ",\"offset\":%" PRIu64, ev->offset);
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
