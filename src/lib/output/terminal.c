/* SPDX-License-Identifier: Apache-2.0
 *
 * The human summary: findings as a timeline a responder reads top to
 * bottom (time, severity, what, where, which values), then totals. Colour
 * only on a terminal, never when NO_COLOR is set or color=never.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kensa_int.h"

static const char *const sev_color[] = {"\033[2m", "\033[36m", "\033[33m", "\033[31m", "\033[1;41;97m"};

#define MAX_VALUE_SHOWN 160

static bool use_color(ks_engine *e, FILE *fp)
{
    const char *c = ks__opt(e, "color");
    if (!strcmp(c, "never") || getenv("NO_COLOR"))
        return false;
    if (!strcmp(c, "always"))
        return true;
    return isatty(fileno(fp));
}

static void print_value(FILE *fp, const char *v)
{
    size_t n = strlen(v);
    for (size_t i = 0; i < n && i < MAX_VALUE_SHOWN; i++) {
        unsigned char c = (unsigned char)v[i];
        /* Evidence is hostile: never let it drive the terminal. */
        if (c < 0x20 || c == 0x7f)
            fprintf(fp, "\\x%02x", c);
        else
            fputc(c, fp);
    }
    if (n > MAX_VALUE_SHOWN)
        fprintf(fp, "... (%zu bytes)", n);
}

static void print_where(FILE *fp, const ks_evidence *ev)
{
    fprintf(fp, "%s", ev->path ? ev->path : "?");
    if (ev->record)
        fprintf(fp, " record %" PRIu64, ev->record);
    if (ev->line)
        fprintf(fp, " line %" PRIu64, ev->line);
    if (ev->offset != UINT64_MAX)
        fprintf(fp, " @%" PRIu64, ev->offset);
}

static int terminal_write(ks_engine *e, FILE *fp)
{
    bool color = use_color(e, fp);
    const char *reset = color ? "\033[0m" : "", *bold = color ? "\033[1m" : "";
    size_t n = ks__nfindings(e);
    size_t by_sev[5] = {0};
    const ks_stats *st = ks_engine_stats(e);
    for (size_t i = 0; i < n; i++) {
        const ks_finding *f = ks__finding(e, i);
        char t[64] = "(no time)";
        if (f->first != KS_TIME_NONE)
            ks_time_format(f->first, t, sizeof t);
        by_sev[f->severity <= KS_SEV_CRITICAL ? f->severity : 0]++;
        fprintf(fp, "%s%-24s %s%-8s%s %s%s%s\n", "", t, color ? sev_color[f->severity] : "",
                ks_severity_name(f->severity), reset, bold, f->title, reset);
        fprintf(fp, "    rule %s", f->rule_id);
        if (f->ntechniques) {
            fprintf(fp, "  ATT&CK");
            for (size_t k = 0; k < f->ntechniques; k++)
                fprintf(fp, " %s", f->techniques[k]);
        }
        if (f->event_count > 1)
            fprintf(fp, "  events %" PRIu64, f->event_count);
        if (f->last != KS_TIME_NONE && f->last != f->first) {
            char l[64];
            ks_time_format(f->last, l, sizeof l);
            fprintf(fp, "  until %s", l);
        }
        fputc('\n', fp);
        for (size_t k = 0; k < f->nmatched; k++) {
            fprintf(fp, "    %s = ", f->matched[k].key);
            print_value(fp, f->matched[k].value);
            fputc('\n', fp);
        }
        for (size_t k = 0; k < f->ndetails; k++) {
            fprintf(fp, "    %s: ", f->details[k].key);
            print_value(fp, f->details[k].value);
            fputc('\n', fp);
        }
        for (size_t k = 0; k < f->nevidence && k < 3; k++) {
            fprintf(fp, "    at ");
            print_where(fp, &f->evidence[k]);
            fputc('\n', fp);
        }
        if (f->nevidence > 3)
            fprintf(fp, "    ... and %zu more records\n", f->nevidence - 3);
    }
    fprintf(fp, "%s%zu finding%s%s", bold, n, n == 1 ? "" : "s", reset);
    if (n)
        fprintf(fp, " (critical %zu, high %zu, medium %zu, low %zu, info %zu)", by_sev[4],
                by_sev[3], by_sev[2], by_sev[1], by_sev[0]);
    fprintf(fp, "\n%" PRIu64 " files (%" PRIu64 " parsed, %" PRIu64 " scanned), %" PRIu64
                " events, %.1f MB in %.2f s",
            st->files_seen, st->files_parsed, st->files_scanned, st->events,
            (double)st->bytes / 1e6, st->seconds);
    if (st->findings_dropped)
        fprintf(fp, "; %" PRIu64 " more findings over the per-rule cap were counted, not kept",
                st->findings_dropped);
    if (st->errors || st->warnings)
        fprintf(fp, "; %" PRIu64 " errors, %" PRIu64 " warnings (see above)", st->errors, st->warnings);
    fputc('\n', fp);
    return fflush(fp) == 0 ? KS_OK : KS_EIO;
}

const struct ks_output ks_output_terminal = {
    .abi = KS_OUTPUT_ABI_1,
    .name = "terminal",
    .description = "human-readable timeline of findings and a summary",
    .write = terminal_write,
};
