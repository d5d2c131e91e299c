/* SPDX-License-Identifier: Apache-2.0
 *
 * The human summary: findings as a timeline a responder reads top to
 * bottom (time, severity, what, where, which values), then totals. Colour
 * only on a terminal, never when NO_COLOR is set or color=never.
 *
 * Everything that comes from evidence (titles built from values, matched
 * values, file names) goes through ks__buf_add_term: evidence is hostile
 * and must never drive the terminal (ESC, C1 controls such as U+009B).
 * The timeline lists at most findings.keep findings; the JSON lines output
 * has them all.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kensa_int.h"

static const char *const sev_color[] = {"\033[2m", "\033[36m", "\033[33m", "\033[31m", "\033[1;41;97m"};

#define MAX_VALUE_SHOWN 160

typedef struct term {
    ks_outbuf ob;          /* first: freed by ks__outbuf_free */
    bool color;
    size_t by_sev[5];
    size_t shown, max_shown;
} term;

static bool use_color(ks_engine *e, int fd)
{
    const char *c = ks__opt(e, "color");
    if (!strcmp(c, "never") || getenv("NO_COLOR"))
        return false;
    if (!strcmp(c, "always"))
        return true;
    return isatty(fd);
}

static void text(ks_buf *b, const char *s)
{
    s = s ? s : "?";
    ks__buf_add_term(b, s, strlen(s));
}

static void value(ks_buf *b, const char *v)
{
    size_t n = strlen(v);
    ks__buf_add_term(b, v, KS_MIN(n, (size_t)MAX_VALUE_SHOWN));
    if (n > MAX_VALUE_SHOWN)
        ks__buf_printf(b, "... (%zu bytes)", n);
}

static void kv_lines(ks_buf *b, const ks_kv *kv, size_t n, const char *sep)
{
    for (size_t k = 0; k < n; k++) {
        ks__buf_adds(b, "    ");
        text(b, kv[k].key);
        ks__buf_adds(b, sep);
        value(b, kv[k].value);
        ks__buf_addc(b, '\n');
    }
}

static void where(ks_buf *b, const ks_evidence *ev)
{
    text(b, ev->path);
    if (ev->record)
        ks__buf_printf(b, " record %" PRIu64, ev->record);
    if (ev->line)
        ks__buf_printf(b, " line %" PRIu64, ev->line);
    if (ev->offset != UINT64_MAX)
        ks__buf_printf(b, " @%" PRIu64, ev->offset);
}

static int term_row(void *ud, const ks_finding *f)
{
    term *t = ud;
    ks_buf *b = &t->ob.b;
    const char *reset = t->color ? "\033[0m" : "", *bold = t->color ? "\033[1m" : "";
    char tm[64] = "(no time)";
    t->by_sev[f->severity <= KS_SEV_CRITICAL ? f->severity : 0]++;
    if (t->max_shown && t->shown >= t->max_shown)
        return KS_OK;
    t->shown++;
    if (f->first != KS_TIME_NONE)
        ks_time_format(f->first, tm, sizeof tm);
    ks__buf_printf(b, "%-24s %s%-8s%s %s", tm, t->color ? sev_color[f->severity] : "",
                   ks_severity_name(f->severity), reset, bold);
    text(b, f->title);
    ks__buf_printf(b, "%s\n    rule ", reset);
    text(b, f->rule_id);
    if (f->ntechniques) {
        ks__buf_adds(b, "  ATT&CK");
        for (size_t k = 0; k < f->ntechniques; k++) {
            ks__buf_addc(b, ' ');
            text(b, f->techniques[k]);
        }
    }
    if (f->event_count > 1)
        ks__buf_printf(b, "  events %" PRIu64, f->event_count);
    if (f->last != KS_TIME_NONE && f->last != f->first) {
        char l[64];
        ks_time_format(f->last, l, sizeof l);
        ks__buf_printf(b, "  until %s", l);
    }
    ks__buf_addc(b, '\n');
    kv_lines(b, f->matched, f->nmatched, " = ");
    kv_lines(b, f->details, f->ndetails, ": ");
    for (size_t k = 0; k < f->nevidence && k < 3; k++) {
        ks__buf_adds(b, "    at ");
        where(b, &f->evidence[k]);
        ks__buf_addc(b, '\n');
    }
    if (f->nevidence > 3)
        ks__buf_printf(b, "    ... and %zu more records\n", f->nevidence - 3);
    return b->n > 65536 ? ks__outbuf_flush(&t->ob) : KS_OK;
}

static int term_open(ks_engine *e, ks_outfile *o, void **state)
{
    int rc = ks__outbuf_new(e, o, sizeof(term), state);
    if (rc != KS_OK)
        return rc;
    term *t = *state;
    t->color = use_color(e, ks__out_fd(o));
    t->max_shown = (size_t)KS_MAX(ks__opt_int(e, "findings.keep"), 0);
    return KS_OK;
}

static int term_close(void *state)
{
    term *t = state;
    ks_buf *b = &t->ob.b;
    const char *reset = t->color ? "\033[0m" : "", *bold = t->color ? "\033[1m" : "";
    const ks_stats *st = ks_engine_stats(t->ob.e);
    int rc = ks__findings_each(t->ob.e, term_row, t);
    size_t n = 0;
    if (rc != KS_OK)
        return rc;
    for (int s = 0; s < 5; s++)
        n += t->by_sev[s];
    /* The kept findings may be fewer than the run's (findings.keep). */
    if (st->findings - st->findings_dropped > n)
        n = (size_t)(st->findings - st->findings_dropped);
    if (n > t->shown)
        ks__buf_printf(b, "... %zu more findings not shown here (see the JSON lines output)\n", n - t->shown);
    ks__buf_printf(b, "%s%zu finding%s%s", bold, n, n == 1 ? "" : "s", reset);
    if (n)
        ks__buf_printf(b, " (critical %zu, high %zu, medium %zu, low %zu, info %zu)", t->by_sev[4],
                       t->by_sev[3], t->by_sev[2], t->by_sev[1], t->by_sev[0]);
    ks__buf_printf(b, "\n%" PRIu64 " files (%" PRIu64 " parsed, %" PRIu64 " scanned), %" PRIu64
                      " events, %.1f MB in %.2f s",
                   st->files_seen, st->files_parsed, st->files_scanned, st->events,
                   (double)st->bytes / 1e6, st->seconds);
    if (st->findings_dropped)
        ks__buf_printf(b, "; %" PRIu64 " more findings over the per-rule cap were counted, not kept",
                       st->findings_dropped);
    if (st->errors || st->warnings)
        ks__buf_printf(b, "; %" PRIu64 " errors, %" PRIu64 " warnings (see above)", st->errors, st->warnings);
    ks__buf_addc(b, '\n');
    return ks__outbuf_flush(&t->ob);
}

const struct ks_output ks_output_terminal = {
    .abi = KS_OUTPUT_ABI_2,
    .name = "terminal",
    .description = "human-readable timeline of findings and a summary",
    .flags = KS_OUT_REPORT | KS_OUT_ALL,
    .open = term_open,
    .close = term_close,
    .free = ks__outbuf_free,
};
