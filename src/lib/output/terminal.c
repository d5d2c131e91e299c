/* SPDX-License-Identifier: Apache-2.0
 *
 * What a responder reads after a hunt, in at most 40 lines whatever the
 * number of findings (terminal.list=summary, the default): the totals by
 * severity and the time span, the rules with the most findings ("and K
 * more"), hosts, accounts, client addresses, ATT&CK tactics and
 * techniques, the evidence files with most findings, the noisy rules, the
 * files with the highest Loki-style score (file hunts), and the most
 * severe findings — grouped (engine/group.c: one rule from one source in a
 * window is one finding with a count) with their first evidence. With
 * terminal.list=all every grouped finding is listed first, as a timeline
 * (at most findings.keep); the JSON lines output has everything.
 *
 * Colour only on a terminal, never when NO_COLOR is set or color=never.
 * Everything that comes from evidence (titles built from values, matched
 * values, file names) goes through ks__buf_add_term: evidence is hostile
 * and must never drive the terminal (ESC, C1 controls such as U+009B).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "output/summary.h"

static const char *const sev_color[] = {"\033[2m", "\033[36m", "\033[33m", "\033[31m", "\033[1;41;97m"};

#define MAX_VALUE_SHOWN 160
#define MAX_LINES 40      /* the summary's promise */
#define MAX_BEST 12       /* most severe findings remembered */
#define WIDTH 110         /* inline lists are cut here */

enum { LIST_SUMMARY, LIST_ALL, LIST_NONE };

typedef struct term {
    ks_outbuf ob;          /* first: freed by ks__outbuf_free */
    bool color;
    int list;              /* terminal.list */
    size_t top;            /* rows per table */
    size_t shown, max_shown;
    uint64_t groups;       /* findings after grouping */
    ks_finding *best[MAX_BEST]; /* most severe grouped findings, best first */
    size_t nbest;
    ks_finding *lead[MAX_BEST]; /* the most severe of each detector */
    size_t nlead;
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

/* s escaped, cut to at most max bytes on a character boundary. */
static void cut(ks_buf *b, const char *s, size_t max)
{
    size_t n;
    s = s ? s : "?";
    n = strlen(s);
    if (n <= max) {
        ks__buf_add_term(b, s, n);
        return;
    }
    while (max && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    ks__buf_add_term(b, s, max);
    ks__buf_adds(b, "...");
}

static void text(ks_buf *b, const char *s)
{
    s = s ? s : "?";
    ks__buf_add_term(b, s, strlen(s));
}

static void value(ks_buf *b, const char *v)
{
    size_t n = strlen(v);
    cut(b, v, MAX_VALUE_SHOWN);
    if (n > MAX_VALUE_SHOWN)
        ks__buf_printf(b, " (%zu bytes)", n);
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

/* Values counted by hash (secrets, personal data): redacted only, never
 * the clear value (that is --reveal, for the JSON lines). */
static void values_line(ks_buf *b, const ks_finding *f)
{
    if (!f->nvalues)
        return;
    ks__buf_adds(b, "    values");
    for (size_t k = 0; k < f->nvalues && k < 4; k++) {
        ks__buf_adds(b, k ? ", " : " ");
        text(b, f->values[k].type);
        ks__buf_addc(b, ' ');
        cut(b, f->values[k].redacted, 40);
        if (f->values[k].count > 1)
            ks__buf_printf(b, " x%" PRIu64, f->values[k].count);
    }
    if (f->nvalues > 4)
        ks__buf_printf(b, " and %zu more", f->nvalues - 4);
    ks__buf_addc(b, '\n');
}

static const char *detail(const ks_finding *f, const char *key)
{
    for (size_t i = 0; i < f->ndetails; i++)
        if (f->details[i].key && !strcmp(f->details[i].key, key))
            return f->details[i].value;
    return NULL;
}

static void head_line(term *t, const ks_finding *f)
{
    ks_buf *b = &t->ob.b;
    const char *reset = t->color ? "\033[0m" : "", *bold = t->color ? "\033[1m" : "";
    char tm[64] = "(no time)";
    if (f->first != KS_TIME_NONE)
        ks_time_format(f->first, tm, sizeof tm);
    ks__buf_printf(b, "%-24s %s%-8s%s %s", tm, t->color ? sev_color[f->severity] : "",
                   ks_severity_name(f->severity), reset, bold);
    cut(b, f->title, 100);
    ks__buf_adds(b, reset);
}

/* ---- terminal.list=all: every grouped finding ------------------------------- */

static void full_row(term *t, const ks_finding *f)
{
    ks_buf *b = &t->ob.b;
    head_line(t, f);
    ks__buf_adds(b, "\n    rule ");
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
    values_line(b, f);
    for (size_t k = 0; k < f->nevidence && k < 3; k++) {
        ks__buf_adds(b, "    at ");
        where(b, &f->evidence[k]);
        ks__buf_addc(b, '\n');
    }
    if (f->nevidence > 3)
        ks__buf_printf(b, "    ... and %zu more records\n", f->nevidence - 3);
}

/* ---- the most severe grouped findings ------------------------------------------ */

static bool better(const ks_finding *a, const ks_finding *b)
{
    if (a->severity != b->severity)
        return a->severity > b->severity;
    return a->event_count > b->event_count;
}

/* Inserts a copy of f into list (n of MAX_BEST, best first) when it ranks. */
static void rank_insert(ks_finding **list, size_t *n, const ks_finding *f, size_t at)
{
    if (at >= MAX_BEST)
        return;
    ks_finding *c = ks__finding_dup(f);
    if (!c)
        return;
    if (*n == MAX_BEST)
        free(list[--*n]);
    memmove(&list[at + 1], &list[at], (*n - at) * sizeof *list);
    list[at] = c;
    (*n)++;
}

/* The most severe overall, and the most severe of each detector: one busy
 * detector (twelve critical secrets) must not hide the others. */
static void keep_best(term *t, const ks_finding *f)
{
    size_t at = t->nbest;
    while (at > 0 && better(f, t->best[at - 1]))
        at--;
    rank_insert(t->best, &t->nbest, f, at);
    for (size_t i = 0; i < t->nlead; i++) {
        if (!t->lead[i]->detector || !f->detector || strcmp(t->lead[i]->detector, f->detector))
            continue;
        if (better(f, t->lead[i])) {
            ks_finding *c = ks__finding_dup(f);
            if (c) {
                free(t->lead[i]);
                t->lead[i] = c;
            }
        }
        return;
    }
    rank_insert(t->lead, &t->nlead, f, t->nlead);
}

static bool same_finding(const ks_finding *a, const ks_finding *b)
{
    return a->seq == b->seq && !strcmp(a->rule_id, b->rule_id);
}

static int cmp_best(const void *pa, const void *pb)
{
    const ks_finding *a = *(ks_finding *const *)pa, *b = *(ks_finding *const *)pb;
    return better(a, b) ? -1 : better(b, a) ? 1 : ks__finding_cmp(a, b);
}

/* Up to room findings: each detector's most severe, then the most severe
 * of all; shown most severe first. */
static size_t pick_best(term *t, const ks_finding **out, size_t room)
{
    size_t n = 0;
    ks_finding *lead[MAX_BEST];
    memcpy(lead, t->lead, t->nlead * sizeof *lead);
    qsort(lead, t->nlead, sizeof *lead, cmp_best);
    for (size_t i = 0; i < t->nlead && n < room; i++)
        out[n++] = lead[i];
    for (size_t i = 0; i < t->nbest && n < room; i++) {
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = same_finding(out[k], t->best[i]);
        if (!dup)
            out[n++] = t->best[i];
    }
    qsort(out, n, sizeof *out, cmp_best);
    return n;
}

/* Two lines: when and what; rule, ATT&CK, host, where, and the values
 * that matched (redacted values for secrets and personal data). */
static void best_entry(term *t, const ks_finding *f)
{
    ks_buf *b = &t->ob.b;
    const ks_evidence *ev = f->nevidence ? &f->evidence[0] : NULL;
    const char *n = detail(f, "group_findings"), *also = detail(f, "also_rules");
    size_t line;
    head_line(t, f);
    if (f->event_count > 1 || n)
        ks__buf_printf(b, "  (%" PRIu64 " events%s%s%s)", f->event_count, n ? ", " : "", n ? n : "",
                       n ? " findings" : "");
    ks__buf_adds(b, "\n    ");
    line = b->n;
    cut(b, f->rule_id, 40);
    for (size_t k = 0; k < f->ntechniques && k < 3; k++) {
        ks__buf_adds(b, k ? " " : "  ");
        text(b, f->techniques[k]);
    }
    if (ev && ev->host) {
        ks__buf_adds(b, "  host ");
        cut(b, ev->host, 30);
    }
    if (ev) {
        ks__buf_adds(b, "  at ");
        where(b, ev);
        if (f->nevidence > 1)
            ks__buf_printf(b, " (+%zu)", f->nevidence - 1);
    }
    size_t room = b->n - line < 200 ? 200 - (b->n - line) : 20;
    if (f->nvalues) {
        for (size_t k = 0; k < f->nvalues && k < 3; k++) {
            ks__buf_adds(b, k ? ", " : "  values ");
            text(b, f->values[k].type);
            ks__buf_addc(b, ' ');
            cut(b, f->values[k].redacted, 40);
        }
    } else if (f->nmatched) {
        for (size_t k = 0; k < f->nmatched && room > 20; k++) {
            size_t kl = strlen(f->matched[k].key), vl = strlen(f->matched[k].value);
            ks__buf_adds(b, k ? "; " : "  ");
            text(b, f->matched[k].key);
            ks__buf_adds(b, " = ");
            cut(b, f->matched[k].value, room);
            room -= KS_MIN(room, kl + vl + 5);
        }
    } else if (also) {
        ks__buf_adds(b, "  also ");
        cut(b, also, room);
    }
    ks__buf_addc(b, '\n');
}

static int term_view(void *ud, const ks_finding *f)
{
    term *t = ud;
    t->groups++;
    keep_best(t, f);
    if (t->list != LIST_ALL || (t->max_shown && t->shown >= t->max_shown))
        return KS_OK;
    t->shown++;
    full_row(t, f);
    return t->ob.b.n > 65536 ? ks__outbuf_flush(&t->ob) : KS_OK;
}

/* ---- the summary ------------------------------------------------------------------- */

static size_t lines_of(const ks_buf *b, size_t from)
{
    size_t n = 0;
    for (size_t i = from; i < b->n; i++)
        n += b->p[i] == '\n';
    return n;
}

/* "  hosts (12): a 40, b 30, ... and 9 more" on one line. */
static void inline_list(ks_buf *b, const char *what, ks_tally *tl, size_t top)
{
    size_t start = b->n, shown = 0;
    if (!tl->n)
        return;
    ks__tally_sort(tl, false);
    ks__buf_printf(b, "%-12s", what);
    for (size_t i = 0; i < tl->n && shown < top && b->n - start < WIDTH; i++, shown++) {
        ks__buf_adds(b, i ? ", " : " ");
        cut(b, tl->rows[i].key, 40);
        ks__buf_printf(b, " %" PRIu64, tl->rows[i].findings);
    }
    if (tl->n > shown || tl->other)
        ks__buf_printf(b, ", and %zu more", tl->n - shown + (tl->other ? 1 : 0));
    ks__buf_addc(b, '\n');
}

static void rules_table(term *t, ks_summary *s)
{
    ks_buf *b = &t->ob.b;
    ks_tally *tl = &s->dim[KS_DIM_RULE];
    size_t shown = 0;
    uint64_t rest = 0;
    ks__tally_sort(tl, false);
    ks__buf_printf(b, "By rule (%zu):\n", tl->n);
    for (size_t i = 0; i < tl->n; i++) {
        if (shown >= t->top) {
            rest += tl->rows[i].findings;
            continue;
        }
        shown++;
        ks__buf_printf(b, "  %7" PRIu64 "  %-8s ", tl->rows[i].findings, ks_severity_name(tl->rows[i].worst));
        cut(b, tl->rows[i].label ? tl->rows[i].label : tl->rows[i].key, 90);
        ks__buf_addc(b, '\n');
    }
    if (tl->n > shown)
        ks__buf_printf(b, "  and %zu more rules (%" PRIu64 " findings)\n", tl->n - shown, rest);
}

/* Tactics by findings, most first (the matrix order is the HTML's). */
static void tactics_line(ks_buf *b, const ks_summary *s)
{
    size_t start = b->n, shown = 0;
    int order[KS_TACTICS + 1], n = 0;
    for (int i = 0; i <= KS_TACTICS; i++)
        if (s->by_tactic[i]) {
            int k = n++;
            while (k > 0 && s->by_tactic[order[k - 1]] < s->by_tactic[i]) {
                order[k] = order[k - 1];
                k--;
            }
            order[k] = i;
        }
    if (!n)
        return;
    ks__buf_printf(b, "%-12s", "tactics");
    for (int i = 0; i < n && b->n - start < WIDTH; i++, shown++)
        ks__buf_printf(b, "%s%s %" PRIu64, i ? ", " : " ", ks__tactic_name(order[i]), s->by_tactic[order[i]]);
    if ((size_t)n > shown)
        ks__buf_printf(b, ", and %zu more", (size_t)n - shown);
    ks__buf_addc(b, '\n');
}

/* Rules that fill the run: over the per-rule cap, or a twentieth of it. */
static void noisy_line(term *t, ks_summary *s)
{
    ks_buf *b = &t->ob.b;
    ks_tally *tl = &s->dim[KS_DIM_RULE];
    size_t start = b->n, n = 0;
    for (size_t i = 0; i < tl->n && n < 3; i++) {
        uint64_t all = ks__rule_emitted(t->ob.e, tl->rows[i].key);
        bool capped = all > tl->rows[i].findings;
        if (!capped && (tl->rows[i].findings < 20 || tl->rows[i].findings * 20 < s->findings))
            continue;
        ks__buf_adds(b, n++ ? "; " : "noisy rules: ");
        cut(b, tl->rows[i].label ? tl->rows[i].label : tl->rows[i].key, 50);
        if (capped)
            ks__buf_printf(b, " (%" PRIu64 " found, %" PRIu64 " kept: findings.max_per_rule)", all,
                           tl->rows[i].findings);
        else
            ks__buf_printf(b, " (%" PRIu64 "%%)", tl->rows[i].findings * 100 / s->findings);
    }
    if (b->n > start)
        ks__buf_addc(b, '\n');
}

static void scores_table(ks_buf *b, ks_summary *s, size_t top)
{
    ks_tally *tl = &s->dim[KS_DIM_SCORE];
    if (!tl->n)
        return;
    ks__tally_sort(tl, true);
    ks__buf_printf(b, "Files by score (%zu files; ALERT >= 100, WARNING >= 60, NOTICE >= 40):\n", tl->n);
    for (size_t i = 0; i < tl->n && i < top; i++) {
        const char *lvl = ks__score_level(tl->rows[i].score);
        ks__buf_printf(b, "  %5" PRId64 " %-7s ", tl->rows[i].score, lvl ? lvl : "");
        cut(b, tl->rows[i].key, 100);
        ks__buf_printf(b, " (%" PRIu64 " hits)\n", tl->rows[i].findings);
    }
}

static void files_table(ks_buf *b, ks_summary *s, size_t top)
{
    ks_tally *tl = &s->dim[KS_DIM_FILE];
    if (!tl->n)
        return;
    ks__tally_sort(tl, false);
    ks__buf_printf(b, "Top sources (%zu evidence files):\n", tl->n);
    for (size_t i = 0; i < tl->n && i < top; i++) {
        ks__buf_printf(b, "  %7" PRIu64 "  ", tl->rows[i].findings);
        cut(b, tl->rows[i].key, 110);
        ks__buf_addc(b, '\n');
    }
}

/* "N files no reader claimed: 3 .json binary, 1 .php text": what the
 * summary's counts would otherwise pass over in silence (issue 14). */
static void unclaimed_line(ks_buf *b, const ks_engine *e)
{
    const char *type;
    uint64_t n, total = 0;
    size_t i;
    for (i = 0; ks_engine_unclaimed(e, i, &type, &n) == KS_OK; i++)
        total += n;
    if (!total)
        return;
    ks__buf_printf(b, "%" PRIu64 " file%s no reader claimed:", total, total == 1 ? "" : "s");
    for (i = 0; ks_engine_unclaimed(e, i, &type, &n) == KS_OK; i++)
        ks__buf_printf(b, "%s %" PRIu64 " %s", i ? "," : "", n, type);
    ks__buf_addc(b, '\n');
}

static void stats_line(term *t, uint64_t n)
{
    ks_buf *b = &t->ob.b;
    const ks_stats *st = ks_engine_stats(t->ob.e);
    ks__buf_printf(b, "%" PRIu64 " files (%" PRIu64 " parsed, %" PRIu64 " scanned), %" PRIu64
                      " events, %.1f MB in %.2f s",
                   st->files_seen, st->files_parsed, st->files_scanned, st->events,
                   (double)st->bytes / 1e6, st->seconds);
    if (st->findings_dropped)
        ks__buf_printf(b, "; %" PRIu64 " more findings over the per-rule cap were counted, not kept",
                       st->findings_dropped);
    if (st->findings_filtered)
        ks__buf_printf(b, "; %" PRIu64 " findings filtered (--min-level, --status, --since/--until)",
                       st->findings_filtered);
    (void)n;
    if (t->list == LIST_ALL && t->shown < t->groups)
        ks__buf_printf(b, "; %" PRIu64 " grouped findings not listed", t->groups - t->shown);
    if (st->errors || st->warnings)
        ks__buf_printf(b, "; %" PRIu64 " errors, %" PRIu64 " warnings (see above)", st->errors, st->warnings);
    ks__buf_addc(b, '\n');
    unclaimed_line(b, t->ob.e);
}

static void summary(term *t, ks_summary *s)
{
    ks_buf *b = &t->ob.b;
    const char *reset = t->color ? "\033[0m" : "", *bold = t->color ? "\033[1m" : "";
    size_t start = b->n;
    uint64_t n = s->findings;
    ks__buf_printf(b, "%s%" PRIu64 " finding%s%s", bold, n, n == 1 ? "" : "s", reset);
    if (n)
        ks__buf_printf(b, " (critical %" PRIu64 ", high %" PRIu64 ", medium %" PRIu64 ", low %" PRIu64
                          ", info %" PRIu64 ")",
                       s->by_sev[4], s->by_sev[3], s->by_sev[2], s->by_sev[1], s->by_sev[0]);
    if (t->groups && t->groups != n)
        ks__buf_printf(b, ", %" PRIu64 " after grouping", t->groups);
    ks__buf_addc(b, '\n');
    if (!n) {
        stats_line(t, n);
        return;
    }
    if (s->first != KS_TIME_NONE) {
        char a[64], z[64];
        ks_time_format(s->first, a, sizeof a);
        ks_time_format(s->last, z, sizeof z);
        ks__buf_printf(b, "%-12s %s .. %s", "time", a, z);
        if (s->undated)
            ks__buf_printf(b, " (%" PRIu64 " undated)", s->undated);
        ks__buf_addc(b, '\n');
    }
    rules_table(t, s);
    inline_list(b, "hosts", &s->dim[KS_DIM_HOST], t->top);
    inline_list(b, "accounts", &s->dim[KS_DIM_ACCOUNT], t->top);
    inline_list(b, "clients", &s->dim[KS_DIM_CLIENT], t->top);
    tactics_line(b, s);
    inline_list(b, "techniques", &s->dim[KS_DIM_TECHNIQUE], t->top);
    files_table(b, s, KS_MIN(t->top, (size_t)3));
    scores_table(b, s, KS_MIN(t->top, (size_t)3));
    noisy_line(t, s);
    /* The most severe findings fill what is left of the 40 lines. */
    size_t used = lines_of(b, start) + 2; /* this header, the stats line */
    size_t room = used + 1 < MAX_LINES ? (MAX_LINES - used - 1) / 2 : 0;
    const ks_finding *pick[2 * MAX_BEST];
    size_t np = room ? pick_best(t, pick, KS_MIN(room, (size_t)MAX_BEST)) : 0;
    if (np) {
        ks__buf_printf(b, "Most severe%s:\n", t->groups != n ? " (grouped)" : "");
        for (size_t i = 0; i < np; i++)
            best_entry(t, pick[i]);
    }
    stats_line(t, n);
}

static int term_open(ks_engine *e, ks_outfile *o, void **state)
{
    int rc = ks__outbuf_new(e, o, sizeof(term), state);
    if (rc != KS_OK)
        return rc;
    term *t = *state;
    const char *l = ks__opt(e, "terminal.list");
    t->color = use_color(e, ks__out_fd(o));
    t->list = !strcmp(l, "all") ? LIST_ALL : !strcmp(l, "none") ? LIST_NONE : LIST_SUMMARY;
    t->top = (size_t)KS_MAX(ks__opt_int(e, "terminal.top"), 1);
    t->max_shown = (size_t)KS_MAX(ks__opt_int(e, "findings.keep"), 0);
    return KS_OK;
}

static int term_close(void *state)
{
    term *t = state;
    ks_summary s;
    int rc = ks__summary_init(&s);
    if (rc != KS_OK)
        return rc;
    if ((rc = ks__findings_each(t->ob.e, ks__summary_each, &s)) == KS_OK &&
        (rc = ks__findings_view(t->ob.e, term_view, t)) == KS_OK) {
        if (t->list == LIST_NONE)
            stats_line(t, s.findings);
        else
            summary(t, &s);
        rc = ks__outbuf_flush(&t->ob);
    }
    ks__summary_release(&s);
    return rc;
}

static void term_free(void *state)
{
    term *t = state;
    for (size_t i = 0; t && i < t->nbest; i++)
        free(t->best[i]);
    for (size_t i = 0; t && i < t->nlead; i++)
        free(t->lead[i]);
    ks__outbuf_free(state);
}

const struct ks_output ks_output_terminal = {
    .abi = KS_OUTPUT_ABI_2,
    .name = "terminal",
    .description = "summary for people: counts by severity, rule, host, tactic, and the most severe findings",
    .flags = KS_OUT_REPORT | KS_OUT_ALL,
    .open = term_open,
    .close = term_close,
    .free = term_free,
};
