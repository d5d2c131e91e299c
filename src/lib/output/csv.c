/* SPDX-License-Identifier: Apache-2.0
 *
 * CSV timeline: one row per finding as it is found (sort by the first
 * column for the timeline), RFC 4180 quoting, cells that a spreadsheet
 * would run as formulas made inert. Columns are fixed per format
 * (docs/OUTPUT.md) so timelines from several runs can be concatenated:
 *
 *  - kensa (csv.format, the default): times, severity, rule, ATT&CK
 *    techniques and tactics, the first evidence's context (host, channel,
 *    event id, record id, user, source address, where), values by hash
 *    (redacted only), matched values and details;
 *  - hayabusa / hayabusa-verbose: the columns of Hayabusa's default and
 *    verbose profiles (Timestamp, RuleTitle, Level, Computer, Channel,
 *    EventID, RecordID, Details, ExtraFieldInfo; MitreTactics, MitreTags,
 *    OtherTags, RuleFile, EvtxFile), so timelines load into the tools
 *    that read Hayabusa's (Timeline Explorer, Takajo).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "output/attack.h"
#include "kensa_int.h"

enum { CSV_KENSA, CSV_HAYABUSA, CSV_HAYABUSA_VERBOSE };

typedef struct csv_st {
    ks_outbuf ob;          /* first: freed by ks__outbuf_free */
    int format;
    ks_buf t;              /* a cell being built */
} csv_st;

static void cell(ks_buf *b, const char *s, bool last)
{
    ks__buf_add_csv(b, s ? s : "", s ? strlen(s) : 0);
    ks__buf_addc(b, last ? '\n' : ',');
}

static void num_cell(ks_buf *b, uint64_t v, bool have)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRIu64, v);
    cell(b, have ? num : "", false);
}

/* key=value; key=value (kensa) or "Key: value ¦ Key: value" (Hayabusa). */
static void kv_text(ks_buf *t, const ks_kv *kv, size_t n, const char *eq, const char *sep)
{
    for (size_t i = 0; i < n; i++)
        ks__buf_printf(t, "%s%s%s%s", t->n ? sep : "", kv[i].key, eq, kv[i].value);
}

/* Secrets and personal data: type, redacted form and count, never clear. */
static void values_text(ks_buf *t, const ks_finding *f, const char *sep)
{
    for (size_t i = 0; i < f->nvalues; i++)
        ks__buf_printf(t, "%s%s %s x%" PRIu64, t->n ? sep : "", f->values[i].type ? f->values[i].type : "",
                       f->values[i].redacted ? f->values[i].redacted : "", f->values[i].count);
}

static unsigned tactics_of(const ks_finding *f)
{
    unsigned bits = 0;
    for (size_t k = 0; k < f->ntechniques; k++)
        bits |= ks__technique_tactics(f->techniques[k]);
    return bits;
}

static void text_cell(csv_st *s, bool last)
{
    ks__buf_add_csv(&s->ob.b, s->t.p ? s->t.p : "", s->t.p ? s->t.n : 0);
    ks__buf_addc(&s->ob.b, last ? '\n' : ',');
    ks__buf_reset(&s->t);
}

static void kensa_row(csv_st *s, const ks_finding *f)
{
    ks_buf *b = &s->ob.b, *t = &s->t;
    char first[64], last[64];
    const ks_evidence *ev = f->nevidence ? &f->evidence[0] : NULL;
    ks_time_format(f->first, first, sizeof first);
    ks_time_format(f->last, last, sizeof last);
    cell(b, first, false);
    cell(b, last, false);
    cell(b, ks_severity_name(f->severity), false);
    cell(b, f->rule_id, false);
    cell(b, f->title, false);
    for (size_t k = 0; k < f->ntechniques; k++)
        ks__buf_printf(t, "%s%s", k ? " " : "", f->techniques[k]);
    text_cell(s, false);
    unsigned ta = tactics_of(f);
    for (int i = 0; i < KS_TACTICS; i++)
        if (ta & (1u << i))
            ks__buf_printf(t, "%s%s", t->n ? " " : "", ks__tactic_name(i));
    text_cell(s, false);
    num_cell(b, f->event_count, true);
    cell(b, ev ? ev->host : NULL, false);
    cell(b, ev ? ev->channel : NULL, false);
    cell(b, ev ? ev->event_id : NULL, false);
    cell(b, ev ? ev->record_id : NULL, false);
    cell(b, ev ? ev->user : NULL, false);
    cell(b, ev ? ev->source : NULL, false);
    cell(b, ev ? ev->path : NULL, false);
    num_cell(b, ev ? ev->record : 0, ev && ev->record);
    num_cell(b, ev ? ev->line : 0, ev && ev->line);
    num_cell(b, ev ? ev->offset : 0, ev && ev->offset != UINT64_MAX);
    values_text(t, f, "; ");
    text_cell(s, false);
    kv_text(t, f->matched, f->nmatched, "=", "; ");
    text_cell(s, false);
    kv_text(t, f->details, f->ndetails, "=", "; ");
    text_cell(s, true);
}

/* Hayabusa's abbreviations (its config/mitre_tactics.txt). */
static const char *const hb_tactics[KS_TACTICS] = {
    "Recon", "ResDev", "InitAccess", "Exec", "Persis", "PrivEsc", "Evas",
    "CredAccess", "Disc", "LatMov", "Collect", "C2", "Exfil", "Impact",
};

static void hayabusa_row(csv_st *s, const ks_finding *f)
{
    static const char *const level[] = {"info", "low", "med", "high", "crit"};
    ks_buf *b = &s->ob.b, *t = &s->t;
    const ks_evidence *ev = f->nevidence ? &f->evidence[0] : NULL;
    bool verbose = s->format == CSV_HAYABUSA_VERBOSE;
    char ts[64] = "";
    if (f->first != KS_TIME_NONE) {
        /* 2021-12-12 07:44:55.384 +00:00 */
        char iso[64];
        ks_time_format(f->first, iso, sizeof iso);
        int64_t ms = (f->first % 1000000000 + 1000000000) % 1000000000 / 1000000;
        snprintf(ts, sizeof ts, "%.10s %.8s.%03d +00:00", iso, iso + 11, (int)ms);
    }
    cell(b, ts, false);
    cell(b, f->title, false);
    cell(b, level[f->severity <= KS_SEV_CRITICAL ? f->severity : 0], false);
    cell(b, ev ? ev->host : NULL, false);
    cell(b, ev ? ev->channel : NULL, false);
    cell(b, ev ? ev->event_id : NULL, false);
    if (verbose) {
        unsigned ta = tactics_of(f);
        for (int i = 0; i < KS_TACTICS; i++)
            if (ta & (1u << i))
                ks__buf_printf(t, "%s%s", t->n ? " ¦ " : "", hb_tactics[i]);
        text_cell(s, false);
        for (size_t k = 0; k < f->ntechniques; k++)
            ks__buf_printf(t, "%s%s", k ? " ¦ " : "", f->techniques[k]);
        text_cell(s, false);
        cell(b, f->detector, false);
    }
    cell(b, ev ? ev->record_id : NULL, false);
    kv_text(t, f->matched, f->nmatched, ": ", " ¦ ");
    text_cell(s, false);
    kv_text(t, f->details, f->ndetails, ": ", " ¦ ");
    values_text(t, f, " ¦ ");
    text_cell(s, !verbose);
    if (verbose) {
        const char *rf = NULL;
        for (size_t i = 0; i < f->ndetails && !rf; i++)
            if (!strcmp(f->details[i].key, "rule_file"))
                rf = f->details[i].value;
        const char *base = rf ? strrchr(rf, '/') : NULL;
        cell(b, base ? base + 1 : rf ? rf : f->rule_id, false);
        cell(b, ev ? ev->path : NULL, true);
    }
}

static int csv_open(ks_engine *e, ks_outfile *o, void **state)
{
    int rc = ks__outbuf_new(e, o, sizeof(csv_st), state);
    if (rc != KS_OK)
        return rc;
    csv_st *s = *state;
    const char *fmt = ks__opt(e, "csv.format");
    s->format = !strcmp(fmt, "hayabusa") ? CSV_HAYABUSA
              : !strcmp(fmt, "hayabusa-verbose") ? CSV_HAYABUSA_VERBOSE : CSV_KENSA;
    ks__buf_adds(&s->ob.b,
                 s->format == CSV_HAYABUSA ? "Timestamp,RuleTitle,Level,Computer,Channel,EventID,RecordID,"
                                             "Details,ExtraFieldInfo\n"
                 : s->format == CSV_HAYABUSA_VERBOSE
                     ? "Timestamp,RuleTitle,Level,Computer,Channel,EventID,MitreTactics,MitreTags,OtherTags,"
                       "RecordID,Details,ExtraFieldInfo,RuleFile,EvtxFile\n"
                     : "first,last,severity,rule_id,title,techniques,tactics,event_count,host,channel,event_id,"
                       "record_id,user,source,path,record,line,offset,values,matched,details\n");
    return ks__outbuf_flush(&s->ob);
}

/* One row per write: a killed run leaves only complete rows. */
static int csv_finding(void *state, const ks_finding *f)
{
    csv_st *s = state;
    ks__buf_reset(&s->ob.b);
    ks__buf_reset(&s->t);
    if (s->format == CSV_KENSA)
        kensa_row(s, f);
    else
        hayabusa_row(s, f);
    return ks__outbuf_flush(&s->ob);
}

static void csv_free(void *state)
{
    csv_st *s = state;
    if (s)
        ks__buf_release(&s->t);
    ks__outbuf_free(state);
}

const struct ks_output ks_output_csv = {
    .abi = KS_OUTPUT_ABI_2,
    .name = "csv",
    .description = "CSV timeline of findings, one row each, in the order they are found (Hayabusa columns as an option)",
    .flags = KS_OUT_STREAM,
    .open = csv_open,
    .on_finding = csv_finding,
    .free = csv_free,
};
