/* SPDX-License-Identifier: Apache-2.0
 *
 * Timesketch output (--timesketch FILE): JSON lines Timesketch imports as a
 * timeline. Each finding is one line with the three fields Timesketch
 * requires (message, datetime, timestamp_desc) plus timestamp in
 * microseconds and the finding's facts as attributes, so analysts can
 * filter by rule, severity, technique, host or file beside their other
 * timelines. A finding that spans time gets a second line at its last
 * event; an undated one (a file sweep hit) is placed at the report time
 * with timestamp_desc "Reported".
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "output/share.h"

static void line(ks_buf *b, const ks_finding *f, int64_t t, const char *desc)
{
    ks_buf msg = KS_BUF_INIT;
    ks__buf_printf(&msg, "[%s] %s", ks_severity_name(f->severity), f->title ? f->title : f->rule_id);
    if (f->nevidence && f->evidence[0].path)
        ks__buf_printf(&msg, " in %s", f->evidence[0].path);
    ks__buf_addc(b, '{');
    ks__jmember(b, "message", msg.p, true);
    ks__buf_adds(b, "\"datetime\":");
    ks__jtime_ms(b, t);
    ks__buf_printf(b, ",\"timestamp\":%" PRId64 ",", t / 1000);
    ks__jmember(b, "timestamp_desc", desc, true);
    ks__jmember(b, "data_type", "kensa:finding", true);
    ks__jmember(b, "rule_id", f->rule_id, true);
    ks__jmember(b, "detector", f->detector, true);
    ks__jmember(b, "severity", ks_severity_name(f->severity), true);
    ks__buf_adds(b, "\"tag\":[");
    for (size_t i = 0; i < f->ntechniques; i++) {
        if (i)
            ks__buf_addc(b, ',');
        ks__buf_addc(b, '"');
        ks__buf_add_json_str(b, f->techniques[i], strlen(f->techniques[i]));
        ks__buf_addc(b, '"');
    }
    ks__buf_printf(b, "],\"event_count\":%" PRIu64, f->event_count);
    if (f->nevidence) {
        const ks_evidence *ev = &f->evidence[0];
        ks__buf_addc(b, ',');
        ks__jmember(b, "source_file", ev->path, false);
        ks__jplace(b, ev);
    }
    /* Matched values and details as attributes of their own; the prefixes
     * keep them from colliding with Timesketch's reserved names. */
    for (size_t i = 0; i < f->nmatched; i++) {
        ks_buf k = KS_BUF_INIT;
        ks__buf_printf(&k, "matched_%s", f->matched[i].key);
        ks__buf_addc(b, ',');
        ks__jmember(b, k.p, f->matched[i].value, false);
        ks__buf_release(&k);
    }
    for (size_t i = 0; i < f->ndetails; i++) {
        ks_buf k = KS_BUF_INIT;
        ks__buf_printf(&k, "detail_%s", f->details[i].key);
        ks__buf_addc(b, ',');
        ks__jmember(b, k.p, f->details[i].value, false);
        ks__buf_release(&k);
    }
    ks__buf_adds(b, "}\n");
    ks__buf_release(&msg);
}

/* A stream: each finding's lines with one write as it is found. */
static int timesketch_finding(void *state, const ks_finding *f)
{
    ks_outbuf *s = state;
    ks__buf_reset(&s->b);
    if (f->first == KS_TIME_NONE) {
        line(&s->b, f, ks__report_time(), "Reported");
    } else {
        line(&s->b, f, f->first, "First Seen");
        if (f->last != KS_TIME_NONE && f->last != f->first)
            line(&s->b, f, f->last, "Last Seen");
    }
    return ks__outbuf_flush(s);
}

const struct ks_output ks_output_timesketch = {
    .abi = KS_OUTPUT_ABI_2,
    .name = "timesketch",
    .description = "Timesketch JSON lines (message, datetime, timestamp_desc)",
    .flags = KS_OUT_STREAM,
    .open = ks__outbuf_open,
    .on_finding = timesketch_finding,
    .free = ks__outbuf_free,
};
