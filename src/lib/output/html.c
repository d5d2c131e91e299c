/* SPDX-License-Identifier: Apache-2.0
 *
 * HTML report: one self-contained page (inline CSS and SVG, no external
 * asset or link, so it opens offline and can be attached to a ticket) that
 * reads without script and prints:
 *
 *  - the run summary and counts by severity;
 *  - a timeline chart (SVG): findings over time by severity, then one lane
 *    per host, account and client address (the busiest ones);
 *  - the ATT&CK tactic x technique matrix of what was seen;
 *  - per-host, per-rule and (file hunts) per-file score tables;
 *  - every finding as people read them (engine/group.c: grouped, one event
 *    hit by several rules once) with its evidence and provenance;
 *    secrets and personal data only redacted.
 *
 * A small inline script adds a text filter, severity toggles and sortable
 * columns; without it everything is still there. At most html.max_rows
 * findings are listed (the JSON lines have all). Every piece of evidence
 * text is HTML-escaped: log content is attacker-controlled.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output/summary.h"

#define BINS 60            /* timeline columns */
#define LANES 8            /* lanes per dimension in the timeline */
#define TABLE_ROWS 200     /* rows of the host/rule/file tables */
#define EVIDENCE_SHOWN 50  /* evidence records shown per finding */

/* Appends s HTML-escaped; invalid UTF-8 bytes become U+FFFD. */
static void esc(ks_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;"
                        : c == '"' ? "&quot;" : c == '\'' ? "&#39;" : NULL;
        if (rep) {
            ks__buf_adds(b, rep);
            i++;
        } else if (c < 0x80) {
            ks__buf_addc(b, (char)c);
            i++;
        } else {
            size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (len <= n - i && ks__utf8_valid_prefix(s + i, len) == len) {
                ks__buf_add(b, s + i, len);
                i += len;
            } else {
                ks__buf_adds(b, "\xef\xbf\xbd");
                i++;
            }
        }
    }
}

static const char *const css =
    "body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#1d232a;background:#fafbfc}"
    "h1{font-size:22px;margin:0 0 .2em}h2{font-size:17px;margin:1.4em 0 .4em}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;"
    "border-bottom:1px solid #e3e6ea;vertical-align:top}th{background:#eef1f4;position:sticky;top:0}"
    "table.sort th{cursor:pointer}.sev{font-weight:600;border-radius:4px;padding:1px 6px;color:#fff}"
    ".critical{background:#7a0016}.high{background:#c62828}.medium{background:#ef8f00}"
    ".low{background:#1e88e5}.info{background:#78909c}.cards span{display:inline-block;margin:0 "
    "8px 8px 0;padding:8px 14px;border-radius:6px;color:#fff}code{font:12px ui-monospace,monospace;"
    "word-break:break-all}details summary{cursor:pointer}.muted{color:#66707a}.num{text-align:right}"
    ".mx{table-layout:fixed}.mx td,.mx th{font-size:11px;padding:3px;overflow-wrap:anywhere}.mx div{margin:2px 0;padding:2px 4px;border-radius:3px;color:#fff}"
    ".ev{font-size:12px;color:#3b444d}.wrap{overflow-x:auto}#ctl{margin:.5em 0}"
    "#ctl input[type=search]{width:28em;padding:4px}svg text{font:11px system-ui,sans-serif;fill:#3b444d}"
    "@media print{#ctl{display:none}body{margin:0;background:#fff}tr{break-inside:avoid}"
    "th{position:static}details>summary{list-style:none}}";

/* Sorting and filtering, when script runs; the page reads without it. */
static const char *const script =
    "(function(){var ctl=document.getElementById('ctl');ctl.hidden=false;"
    "var q=document.getElementById('q'),n=document.getElementById('shown'),"
    "rows=[].slice.call(document.querySelectorAll('#ft tbody tr')),"
    "sev=[].slice.call(document.querySelectorAll('#ctl input[type=checkbox]')),txt=null;"
    "function apply(){var t=q.value.toLowerCase(),on={},k=0;sev.forEach(function(c){on[c.value]=c.checked});"
    "if(t&&!txt)txt=rows.map(function(r){return r.textContent.toLowerCase()});"
    "rows.forEach(function(r,i){var ok=on[r.getAttribute('data-sev')]&&(!t||txt[i].indexOf(t)>=0);"
    "r.style.display=ok?'':'none';if(ok)k++});n.textContent=k}n.textContent=rows.length;"
    "q.addEventListener('input',apply);sev.forEach(function(c){c.addEventListener('change',apply)});"
    "[].forEach.call(document.querySelectorAll('table.sort'),function(tb){"
    "[].forEach.call(tb.tHead.rows[0].cells,function(th,i){th.addEventListener('click',function(){"
    "var body=tb.tBodies[0],rs=[].slice.call(body.rows),up=th.getAttribute('data-up')!=='1';"
    "th.setAttribute('data-up',up?'1':'0');function v(r){var c=r.cells[i];return c?(c.getAttribute('data-v')||"
    "c.textContent):''}rs.sort(function(a,b){var x=v(a),y=v(b),nx=parseFloat(x),ny=parseFloat(y),"
    "d=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return up?d:-d});"
    "rs.forEach(function(r){body.appendChild(r)})})})})})();";

static const char *const sev_fill[] = {"#78909c", "#1e88e5", "#ef8f00", "#c62828", "#7a0016"};

static void time_cell(ks_buf *b, int64_t t)
{
    char s[64] = "";
    ks_time_format(t, s, sizeof s);
    ks__buf_printf(b, "<td data-v='%" PRId64 "'><code>%s</code></td>", t == KS_TIME_NONE ? INT64_MAX : t,
                   s[0] ? s : "&mdash;");
}

static void sev_span(ks_buf *b, ks_severity s)
{
    const char *n = ks_severity_name(s);
    ks__buf_printf(b, "<span class='sev %s'>%s</span>", n, n);
}

/* ---- the timeline chart --------------------------------------------------------- */

typedef struct chart {
    int64_t t0, t1;                     /* span of the dated findings */
    uint64_t sev[BINS][KS_SEV_CRITICAL + 1];
    ks_dim dims[3];                     /* lanes: host, account, client */
    const char *lane[3][LANES];         /* keys of the busiest, from the summary */
    size_t nlane[3];
    uint64_t cell[3][LANES][BINS];
} chart;

static int bin_of(const chart *c, int64_t t)
{
    if (c->t1 <= c->t0)
        return 0;
    int64_t b = (int64_t)((double)(t - c->t0) / (double)(c->t1 - c->t0) * BINS);
    return (int)KS_MAX(0, KS_MIN(b, BINS - 1));
}

static const char *dim_key(ks_dim d, const ks_evidence *ev)
{
    return d == KS_DIM_HOST ? ev->host : d == KS_DIM_ACCOUNT ? ev->user : ev->source;
}

static int chart_add(void *ud, const ks_finding *f)
{
    chart *c = ud;
    if (f->first == KS_TIME_NONE)
        return KS_OK;
    int bin = bin_of(c, f->first);
    c->sev[bin][f->severity <= KS_SEV_CRITICAL ? f->severity : 0]++;
    if (!f->nevidence)
        return KS_OK;
    for (int d = 0; d < 3; d++) {
        const char *k = dim_key(c->dims[d], &f->evidence[0]);
        for (size_t l = 0; k && l < c->nlane[d]; l++)
            if (!strcmp(k, c->lane[d][l])) {
                c->cell[d][l][bin]++;
                break;
            }
    }
    return KS_OK;
}

static void chart_svg(ks_buf *b, const chart *c)
{
    static const char *const names[] = {"host", "account", "client"};
    const int left = 190, w = 900, bw = w / BINS, top = 110;
    size_t lanes = 0;
    uint64_t max = 1, maxc = 1;
    char a[64], z[64];
    for (int i = 0; i < BINS; i++) {
        uint64_t t = 0;
        for (int s = 0; s <= KS_SEV_CRITICAL; s++)
            t += c->sev[i][s];
        max = KS_MAX(max, t);
    }
    for (int d = 0; d < 3; d++) {
        lanes += c->nlane[d] ? c->nlane[d] + 1 : 0;
        for (size_t l = 0; l < c->nlane[d]; l++)
            for (int i = 0; i < BINS; i++)
                maxc = KS_MAX(maxc, c->cell[d][l][i]);
    }
    int height = top + 30 + (int)lanes * 16;
    ks_time_format(c->t0, a, sizeof a);
    ks_time_format(c->t1, z, sizeof z);
    ks__buf_printf(b, "<div class=wrap><svg role=img aria-label='findings over time' width=%d height=%d "
                      "viewBox='0 0 %d %d'>",
                   left + w + 10, height, left + w + 10, height);
    ks__buf_printf(b, "<text x=%d y=12>findings per %s (max %" PRIu64 ")</text>", 0,
                   c->t1 - c->t0 > (int64_t)86400000000000 * 2 ? "period" : "interval", max);
    for (int i = 0; i < BINS; i++) {
        double y = top;
        for (int s = 0; s <= KS_SEV_CRITICAL; s++) {
            if (!c->sev[i][s])
                continue;
            double h = 90.0 * (double)c->sev[i][s] / (double)max;
            y -= h;
            ks__buf_printf(b, "<rect x=%d y=%.1f width=%d height=%.1f fill='%s'><title>%" PRIu64
                              " %s</title></rect>",
                           left + i * bw, y, bw - 1, h, sev_fill[s], c->sev[i][s], ks_severity_name((ks_severity)s));
        }
    }
    ks__buf_printf(b, "<text x=%d y=%d>%s</text><text x=%d y=%d text-anchor=end>%s</text>", left, top + 14, a,
                   left + w, top + 14, z);
    int y = top + 30;
    for (int d = 0; d < 3; d++) {
        if (!c->nlane[d])
            continue;
        ks__buf_printf(b, "<text x=0 y=%d font-weight=600>by %s</text>", y + 11, names[d]);
        y += 16;
        for (size_t l = 0; l < c->nlane[d]; l++, y += 16) {
            ks__buf_printf(b, "<text x=8 y=%d>", y + 11);
            char k[40];
            snprintf(k, sizeof k, "%.28s%s", c->lane[d][l], strlen(c->lane[d][l]) > 28 ? "..." : "");
            esc(b, k);
            ks__buf_adds(b, "</text>");
            for (int i = 0; i < BINS; i++) {
                uint64_t v = c->cell[d][l][i];
                if (!v)
                    continue;
                double op = 0.15 + 0.85 * (double)v / (double)maxc;
                ks__buf_printf(b, "<rect x=%d y=%d width=%d height=14 fill='#c62828' fill-opacity=%.2f>"
                                  "<title>%" PRIu64 "</title></rect>",
                               left + i * bw, y, bw - 1, op, v);
            }
        }
    }
    ks__buf_adds(b, "</svg></div>\n");
}

/* ---- summary tables ---------------------------------------------------------------- */

static void matrix(ks_buf *b, ks_summary *s)
{
    ks_tally *t = &s->dim[KS_DIM_TECHNIQUE];
    if (!t->n)
        return;
    ks__tally_sort(t, false);
    ks__buf_adds(b, "<h2>ATT&amp;CK tactics and techniques</h2><div class=wrap><table class=mx><thead><tr>");
    for (int ta = 0; ta <= KS_TACTICS; ta++) {
        if (ta == KS_TACTICS && !s->by_tactic[ta])
            continue;
        ks__buf_printf(b, "<th>%s<br><span class=muted>%" PRIu64 "</span></th>", ks__tactic_title(ta),
                       s->by_tactic[ta]);
    }
    ks__buf_adds(b, "</tr></thead><tbody><tr>");
    for (int ta = 0; ta <= KS_TACTICS; ta++) {
        if (ta == KS_TACTICS && !s->by_tactic[ta])
            continue;
        ks__buf_adds(b, "<td>");
        for (size_t i = 0; i < t->n; i++) {
            unsigned bits = ks__technique_tactics(t->rows[i].key);
            if (ta < KS_TACTICS ? !(bits & (1u << ta)) : bits != 0)
                continue;
            ks__buf_printf(b, "<div class=%s title='", ks_severity_name(t->rows[i].worst));
            esc(b, t->rows[i].label ? t->rows[i].label : t->rows[i].key);
            ks__buf_adds(b, "'>");
            esc(b, t->rows[i].key);
            if (t->rows[i].label) {
                ks__buf_adds(b, " ");
                esc(b, t->rows[i].label);
            }
            ks__buf_printf(b, " <b>%" PRIu64 "</b></div>", t->rows[i].findings);
        }
        ks__buf_adds(b, "</td>");
    }
    ks__buf_adds(b, "</tr></tbody></table></div>\n");
}

static void tally_table(ks_buf *b, const char *title, const char *what, ks_tally *t, bool rules, bool score)
{
    if (!t->n)
        return;
    ks__tally_sort(t, score);
    ks__buf_printf(b, "<h2>%s <span class=muted>(%zu)</span></h2><div class=wrap><table class=sort><thead><tr>"
                      "<th>%s</th>%s<th>worst</th><th class=num>findings</th><th class=num>events</th>%s"
                      "<th>first</th><th>last</th></tr></thead><tbody>",
                   title, t->n, what, rules ? "<th>rule id</th>" : "", score ? "<th class=num>score</th>" : "");
    for (size_t i = 0; i < t->n && i < TABLE_ROWS; i++) {
        const ks_tally_row *r = &t->rows[i];
        ks__buf_adds(b, "<tr><td>");
        esc(b, rules && r->label ? r->label : r->key);
        ks__buf_adds(b, "</td>");
        if (rules) {
            ks__buf_adds(b, "<td><code>");
            esc(b, r->key);
            ks__buf_adds(b, "</code></td>");
        }
        ks__buf_printf(b, "<td data-v=%d>", (int)r->worst);
        sev_span(b, r->worst);
        ks__buf_printf(b, "</td><td class=num>%" PRIu64 "</td><td class=num>%" PRIu64 "</td>", r->findings,
                       r->events);
        if (score) {
            const char *lvl = ks__score_level(r->score);
            ks__buf_printf(b, "<td class=num data-v=%" PRId64 ">%" PRId64 " %s</td>", r->score, r->score,
                           lvl ? lvl : "");
        }
        time_cell(b, r->first);
        time_cell(b, r->last);
        ks__buf_adds(b, "</tr>");
    }
    ks__buf_adds(b, "</tbody></table></div>");
    if (t->n > TABLE_ROWS || t->other)
        ks__buf_printf(b, "<p class=muted>and %zu more</p>", t->n - KS_MIN(t->n, (size_t)TABLE_ROWS) +
                                                                 (size_t)t->other);
    ks__buf_addc(b, '\n');
}

/* ---- the findings -------------------------------------------------------------------- */

static void kv_list(ks_buf *b, const ks_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ks__buf_adds(b, "<div><span class=muted>");
        esc(b, kv[i].key);
        ks__buf_adds(b, "</span> <code>");
        esc(b, kv[i].value);
        ks__buf_adds(b, "</code></div>");
    }
}

static void evidence(ks_buf *b, const ks_evidence *ev)
{
    char t[64] = "";
    ks__buf_adds(b, "<div class=ev><code>");
    esc(b, ev->path);
    ks__buf_adds(b, "</code>");
    if (ev->record)
        ks__buf_printf(b, " record %" PRIu64, ev->record);
    if (ev->line)
        ks__buf_printf(b, " line %" PRIu64, ev->line);
    if (ev->offset != UINT64_MAX)
        ks__buf_printf(b, " offset %" PRIu64, ev->offset);
    if (ev->time != KS_TIME_NONE && ks_time_format(ev->time, t, sizeof t))
        ks__buf_printf(b, " at %s", t);
    static const char *const names[] = {"host", "channel", "event id", "record id", "user", "target", "source"};
    const char *vals[] = {ev->host, ev->channel, ev->event_id, ev->record_id, ev->user, ev->target_user, ev->source};
    for (size_t i = 0; i < KS_ARRAY_LEN(names); i++) {
        if (!vals[i])
            continue;
        ks__buf_printf(b, " &middot; %s <code>", names[i]);
        esc(b, vals[i]);
        ks__buf_adds(b, "</code>");
    }
    ks__buf_adds(b, "</div>");
}

static void finding_row(ks_buf *b, const ks_finding *f)
{
    const char *sev = ks_severity_name(f->severity);
    const ks_evidence *ev0 = f->nevidence ? &f->evidence[0] : NULL;
    ks__buf_printf(b, "<tr class='f' data-sev=%s>", sev);
    time_cell(b, f->first);
    ks__buf_printf(b, "<td data-v=%d>", (int)f->severity);
    sev_span(b, f->severity);
    ks__buf_adds(b, "</td><td><details><summary>");
    esc(b, f->title);
    ks__buf_adds(b, "</summary>");
    if (f->last != KS_TIME_NONE && f->last != f->first) {
        char l[64];
        ks_time_format(f->last, l, sizeof l);
        ks__buf_printf(b, "<div class=muted>until %s</div>", l);
    }
    if (f->description) {
        ks__buf_adds(b, "<p>");
        esc(b, f->description);
        ks__buf_adds(b, "</p>");
    }
    kv_list(b, f->matched, f->nmatched);
    for (size_t i = 0; i < f->nvalues; i++) {
        /* secrets and personal data: redacted and hashed, never in clear */
        ks__buf_adds(b, "<div><span class=muted>value</span> ");
        esc(b, f->values[i].type);
        ks__buf_adds(b, " <code>");
        esc(b, f->values[i].redacted);
        ks__buf_printf(b, "</code> &times;%" PRIu64 " <span class=muted>sha256 ", f->values[i].count);
        esc(b, f->values[i].sha256);
        ks__buf_adds(b, "</span></div>");
    }
    kv_list(b, f->details, f->ndetails);
    ks__buf_printf(b, "<div class=muted>detector ");
    esc(b, f->detector);
    ks__buf_adds(b, "</div>");
    for (size_t i = 0; i < f->nevidence && i < EVIDENCE_SHOWN; i++)
        evidence(b, &f->evidence[i]);
    if (f->nevidence > EVIDENCE_SHOWN)
        ks__buf_printf(b, "<div class=muted>and %zu more records (JSON lines output)</div>",
                       f->nevidence - EVIDENCE_SHOWN);
    ks__buf_adds(b, "</details></td><td>");
    esc(b, ev0 ? ev0->host : NULL);
    ks__buf_printf(b, "</td><td class=num>%" PRIu64 "</td><td><code>", f->event_count);
    esc(b, f->rule_id);
    ks__buf_adds(b, "</code></td><td>");
    for (size_t i = 0; i < f->ntechniques; i++) {
        const char *name = ks__technique_name(f->techniques[i]);
        ks__buf_adds(b, "<span title='");
        esc(b, name ? name : "");
        ks__buf_adds(b, "'>");
        esc(b, f->techniques[i]);
        ks__buf_adds(b, "</span> ");
    }
    ks__buf_adds(b, "</td></tr>\n");
}

typedef struct html_st {
    ks_outbuf ob;         /* first: freed by ks__outbuf_free */
    size_t listed, groups, max_rows;
} html_st;

static int html_row(void *ud, const ks_finding *f)
{
    html_st *h = ud;
    h->groups++;
    if (h->listed >= h->max_rows)
        return KS_OK;
    finding_row(&h->ob.b, f);
    h->listed++;
    return h->ob.b.n > 65536 ? ks__outbuf_flush(&h->ob) : KS_OK;
}

static int html_open(ks_engine *e, ks_outfile *o, void **state)
{
    int rc = ks__outbuf_new(e, o, sizeof(html_st), state);
    if (rc == KS_OK)
        ((html_st *)*state)->max_rows = (size_t)KS_MAX(ks__opt_int(e, "html.max_rows"), 1);
    return rc;
}

static void head(ks_buf *b, const ks_stats *st, ks_summary *s)
{
    ks__buf_printf(b, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
                      "<meta name=viewport content='width=device-width,initial-scale=1'>"
                      "<title>kensa report</title><style>%s</style></head><body>\n"
                      "<h1>kensa %s report</h1><p class=muted>%" PRIu64 " findings, %" PRIu64 " events behind them; %"
                      PRIu64 " files (%" PRIu64 " parsed, %" PRIu64 " scanned), %" PRIu64
                      " events read, %.1f MB in %.2f s; %" PRIu64 " errors, %" PRIu64 " warnings",
                   css, ks_version(), s->findings, s->events, st->files_seen, st->files_parsed,
                   st->files_scanned, st->events, (double)st->bytes / 1e6, st->seconds, st->errors, st->warnings);
    if (s->first != KS_TIME_NONE) {
        char a[64], z[64];
        ks_time_format(s->first, a, sizeof a);
        ks_time_format(s->last, z, sizeof z);
        ks__buf_printf(b, "; from %s to %s", a, z);
    }
    if (st->findings_filtered)
        ks__buf_printf(b, "; %" PRIu64 " findings filtered", st->findings_filtered);
    ks__buf_adds(b, "</p><div class=cards>");
    for (int v = KS_SEV_CRITICAL; v >= KS_SEV_INFO; v--)
        ks__buf_printf(b, "<span class=%s>%" PRIu64 " %s</span>", ks_severity_name((ks_severity)v),
                       s->by_sev[v], ks_severity_name((ks_severity)v));
    ks__buf_adds(b, "</div>");
    if (st->findings_dropped)
        ks__buf_printf(b, "<p>%" PRIu64 " further findings over the per-rule cap were counted, not listed.</p>",
                       st->findings_dropped);
}

/* The whole page at close, from the run's findings in timeline order (the
 * spool: memory does not grow with the number of findings). Written under
 * a temporary name and renamed by the engine when complete. */
static int html_close(void *state)
{
    html_st *h = state;
    ks_buf *b = &h->ob.b;
    ks_engine *e = h->ob.e;
    const ks_stats *st = ks_engine_stats(e);
    ks_summary s;
    chart *c = NULL;
    int rc = ks__summary_init(&s);
    if (rc != KS_OK)
        return rc;
    if ((rc = ks__findings_each(e, ks__summary_each, &s)) != KS_OK)
        goto out;
    head(b, st, &s);
    if (s.first != KS_TIME_NONE) {
        static const ks_dim dims[3] = {KS_DIM_HOST, KS_DIM_ACCOUNT, KS_DIM_CLIENT};
        if (!(c = calloc(1, sizeof *c))) {
            rc = KS_ENOMEM;
            goto out;
        }
        c->t0 = s.first;
        c->t1 = s.last;
        for (int d = 0; d < 3; d++) {
            ks_tally *t = &s.dim[dims[d]];
            c->dims[d] = dims[d];
            ks__tally_sort(t, false);
            for (size_t l = 0; l < t->n && l < LANES; l++)
                c->lane[d][c->nlane[d]++] = t->rows[l].key;
        }
        if ((rc = ks__findings_each(e, chart_add, c)) != KS_OK)
            goto out;
        ks__buf_adds(b, "<h2>Timeline</h2>");
        chart_svg(b, c);
    }
    matrix(b, &s);
    tally_table(b, "Hosts", "host", &s.dim[KS_DIM_HOST], false, false);
    tally_table(b, "Rules", "rule", &s.dim[KS_DIM_RULE], true, false);
    tally_table(b, "Files by score", "file", &s.dim[KS_DIM_SCORE], false, true);
    ks__buf_adds(b, "<h2>Findings</h2><div id=ctl hidden><input id=q type=search placeholder='filter: host, "
                    "rule, value, path...'> ");
    for (int v = KS_SEV_CRITICAL; v >= KS_SEV_INFO; v--)
        ks__buf_printf(b, "<label><input type=checkbox value=%s checked> %s</label> ",
                       ks_severity_name((ks_severity)v), ks_severity_name((ks_severity)v));
    ks__buf_adds(b, "<span class=muted><span id=shown></span> shown</span></div>"
                    "<div class=wrap><table id=ft class=sort><thead><tr><th>time (UTC)</th><th>severity</th>"
                    "<th>finding</th><th>host</th><th class=num>events</th><th>rule</th><th>ATT&amp;CK</th>"
                    "</tr></thead><tbody>\n");
    if ((rc = ks__findings_view(e, html_row, h)) != KS_OK)
        goto out;
    ks__buf_adds(b, "</tbody></table></div>");
    if (h->groups > h->listed)
        ks__buf_printf(b, "<p>%zu further findings are not listed here (html.max_rows; see the JSON lines "
                          "output).</p>", h->groups - h->listed);
    uint64_t total = st->findings - st->findings_dropped;
    if (total > s.findings)
        ks__buf_printf(b, "<p>%" PRIu64 " findings could not be kept for this report (output.spool_max).</p>",
                       total - s.findings);
    ks__buf_printf(b, "<p class=muted>%zu rows after grouping (%" PRIu64 " findings)</p><script>%s</script>"
                      "</body></html>\n", h->groups, s.findings, script);
    rc = ks__outbuf_flush(&h->ob);
out:
    free(c);
    ks__summary_release(&s);
    return rc;
}

const struct ks_output ks_output_html = {
    .abi = KS_OUTPUT_ABI_2,
    .name = "html",
    .description = "self-contained HTML report: summary, timeline chart, ATT&CK matrix, tables, findings",
    .flags = KS_OUT_REPORT | KS_OUT_ALL,
    .open = html_open,
    .close = html_close,
    .free = ks__outbuf_free,
};
