/* SPDX-License-Identifier: Apache-2.0
 *
 * CSV timeline: one row per finding as it is found (sort by the first
 * column for the timeline), RFC 4180 quoting, cells
 * that a spreadsheet would run as formulas made inert. Columns are fixed
 * (docs/OUTPUT.md) so timelines from several runs can be concatenated.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "kensa_int.h"

static void cell(ks_buf *b, const char *s, bool last)
{
    ks__buf_add_csv(b, s ? s : "", s ? strlen(s) : 0);
    ks__buf_addc(b, last ? '\n' : ',');
}

static void kv_cell(ks_buf *b, const ks_kv *kv, size_t n, bool last)
{
    ks_buf t = KS_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        ks__buf_printf(&t, "%s%s=%s", i ? "; " : "", kv[i].key, kv[i].value);
    cell(b, t.p, last);
    ks__buf_release(&t);
}

static int csv_open(ks_engine *e, ks_outfile *o, void **state)
{
    int rc = ks__outbuf_open(e, o, state);
    if (rc != KS_OK)
        return rc;
    ks_outbuf *s = *state;
    ks__buf_adds(&s->b, "first,last,severity,rule_id,title,techniques,event_count,path,record,line,"
                        "offset,matched,details\n");
    return ks__outbuf_flush(s);
}

/* One row per write: a killed run leaves only complete rows. */
static int csv_finding(void *state, const ks_finding *f)
{
    ks_outbuf *s = state;
    ks_buf *b = &s->b;
    char first[64], last[64], num[32];
    ks__buf_reset(b);
    ks_time_format(f->first, first, sizeof first);
    ks_time_format(f->last, last, sizeof last);
    cell(b, first, false);
    cell(b, last, false);
    cell(b, ks_severity_name(f->severity), false);
    cell(b, f->rule_id, false);
    cell(b, f->title, false);
    ks_buf t = KS_BUF_INIT;
    for (size_t k = 0; k < f->ntechniques; k++)
        ks__buf_printf(&t, "%s%s", k ? " " : "", f->techniques[k]);
    cell(b, t.p, false);
    ks__buf_release(&t);
    snprintf(num, sizeof num, "%" PRIu64, f->event_count);
    cell(b, num, false);
    const ks_evidence *ev = f->nevidence ? &f->evidence[0] : NULL;
    cell(b, ev ? ev->path : "", false);
    snprintf(num, sizeof num, "%" PRIu64, ev ? ev->record : 0);
    cell(b, ev && ev->record ? num : "", false);
    snprintf(num, sizeof num, "%" PRIu64, ev ? ev->line : 0);
    cell(b, ev && ev->line ? num : "", false);
    snprintf(num, sizeof num, "%" PRIu64, ev ? ev->offset : 0);
    cell(b, ev && ev->offset != UINT64_MAX ? num : "", false);
    kv_cell(b, f->matched, f->nmatched, false);
    kv_cell(b, f->details, f->ndetails, true);
    return ks__outbuf_flush(s);
}

const struct ks_output ks_output_csv = {
    .abi = KS_OUTPUT_ABI_2,
    .name = "csv",
    .description = "CSV timeline of findings, one row each, in the order they are found",
    .flags = KS_OUT_STREAM,
    .open = csv_open,
    .on_finding = csv_finding,
    .free = ks__outbuf_free,
};
