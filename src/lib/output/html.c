/* SPDX-License-Identifier: Apache-2.0
 *
 * HTML report: one self-contained page (no scripts, no external assets, so
 * it opens offline and can be mailed) with the run summary, counts by
 * severity, and the timeline of findings; each finding expands to its
 * matched values, details and evidence locations. Every piece of evidence
 * text is HTML-escaped: log content is attacker-controlled.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "kensa_int.h"

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
    "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d232a;background:#fafbfc}"
    "h1{font-size:22px;margin:0 0 .2em}table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e6ea;vertical-align:top}"
    "th{background:#eef1f4}.sev{font-weight:600;border-radius:4px;padding:1px 6px;color:#fff}"
    ".critical{background:#7a0016}.high{background:#c62828}.medium{background:#ef8f00}"
    ".low{background:#1e88e5}.info{background:#78909c}.cards span{display:inline-block;margin:0 "
    "8px 8px 0;padding:8px 14px;border-radius:6px;color:#fff}code{font:12px ui-monospace,monospace;"
    "word-break:break-all}details summary{cursor:pointer}.muted{color:#66707a}";

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

static void finding_row(ks_buf *b, const ks_finding *f)
{
    char t[64] = "", l[64] = "";
    const char *sev = ks_severity_name(f->severity);
    ks_time_format(f->first, t, sizeof t);
    ks_time_format(f->last, l, sizeof l);
    ks__buf_printf(b, "<tr><td><code>%s</code>", t[0] ? t : "&mdash;");
    if (l[0] && strcmp(l, t))
        ks__buf_printf(b, "<br><span class=muted>to %s</span>", l);
    ks__buf_printf(b, "</td><td><span class='sev %s'>%s</span></td><td><details><summary>", sev, sev);
    esc(b, f->title);
    ks__buf_printf(b, " <span class=muted>(%" PRIu64 " event%s)</span></summary>", f->event_count,
                   f->event_count == 1 ? "" : "s");
    if (f->description) {
        ks__buf_adds(b, "<p>");
        esc(b, f->description);
        ks__buf_adds(b, "</p>");
    }
    kv_list(b, f->matched, f->nmatched);
    kv_list(b, f->details, f->ndetails);
    for (size_t i = 0; i < f->nevidence; i++) {
        const ks_evidence *ev = &f->evidence[i];
        ks__buf_adds(b, "<div class=muted>at <code>");
        esc(b, ev->path);
        ks__buf_adds(b, "</code>");
        if (ev->record)
            ks__buf_printf(b, " record %" PRIu64, ev->record);
        if (ev->line)
            ks__buf_printf(b, " line %" PRIu64, ev->line);
        if (ev->offset != UINT64_MAX)
            ks__buf_printf(b, " offset %" PRIu64, ev->offset);
        ks__buf_adds(b, "</div>");
    }
    ks__buf_adds(b, "</details></td><td><code>");
    esc(b, f->rule_id);
    ks__buf_adds(b, "</code></td><td>");
    for (size_t i = 0; i < f->ntechniques; i++) {
        /* T1110.003 -> https://attack.mitre.org/techniques/T1110/003/ */
        char url[96];
        const char *t2 = f->techniques[i];
        size_t k = 0;
        for (const char *p = t2; *p && k + 2 < sizeof url - 40; p++)
            url[k++] = *p == '.' ? '/' : *p;
        url[k] = 0;
        ks__buf_adds(b, "<a href='https://attack.mitre.org/techniques/");
        esc(b, url);
        ks__buf_adds(b, "/'>");
        esc(b, t2);
        ks__buf_adds(b, "</a> ");
    }
    ks__buf_adds(b, "</td></tr>\n");
}

typedef struct html_st {
    ks_outbuf ob;         /* first: freed by ks__outbuf_free */
    size_t listed;
} html_st;

static int html_row(void *ud, const ks_finding *f)
{
    html_st *h = ud;
    finding_row(&h->ob.b, f);
    h->listed++;
    return h->ob.b.n > 65536 ? ks__outbuf_flush(&h->ob) : KS_OK;
}

static int count_sev(void *ud, const ks_finding *f)
{
    size_t *by_sev = ud;
    by_sev[f->severity <= KS_SEV_CRITICAL ? f->severity : 0]++;
    return KS_OK;
}

static int html_open(ks_engine *e, ks_outfile *o, void **state)
{
    return ks__outbuf_new(e, o, sizeof(html_st), state);
}

/* The whole page at close, from the run's findings in timeline order (the
 * spool: memory does not grow with the number of findings). Written under
 * a temporary name and renamed by the engine when complete. */
static int html_close(void *state)
{
    html_st *h = state;
    ks_buf *b = &h->ob.b;
    const ks_stats *st = ks_engine_stats(h->ob.e);
    size_t by_sev[5] = {0};
    int rc = ks__findings_each(h->ob.e, count_sev, by_sev);
    if (rc != KS_OK)
        return rc;
    ks__buf_printf(b, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
                      "<title>kensa report</title><style>%s</style></head><body>\n"
                      "<h1>kensa %s report</h1><p class=muted>%" PRIu64 " files (%" PRIu64
                      " parsed, %" PRIu64 " scanned), %" PRIu64 " events, %.1f MB in %.2f s; %"
                      PRIu64 " errors, %" PRIu64 " warnings</p><div class=cards>",
                   css, ks_version(), st->files_seen, st->files_parsed, st->files_scanned,
                   st->events, (double)st->bytes / 1e6, st->seconds, st->errors, st->warnings);
    for (int s = KS_SEV_CRITICAL; s >= KS_SEV_INFO; s--)
        ks__buf_printf(b, "<span class=%s>%zu %s</span>", ks_severity_name((ks_severity)s),
                       by_sev[s], ks_severity_name((ks_severity)s));
    ks__buf_adds(b, "</div>");
    if (st->findings_dropped)
        ks__buf_printf(b, "<p>%" PRIu64 " further findings over the per-rule cap were counted, not listed.</p>",
                       st->findings_dropped);
    ks__buf_adds(b, "<table><tr><th>time (UTC)</th><th>severity</th><th>finding</th><th>rule</th>"
                    "<th>ATT&amp;CK</th></tr>\n");
    if ((rc = ks__findings_each(h->ob.e, html_row, h)) != KS_OK)
        return rc;
    ks__buf_adds(b, "</table>");
    uint64_t total = st->findings - st->findings_dropped;
    if (total > h->listed)
        ks__buf_printf(b, "<p>%" PRIu64 " further findings could not be listed here (see the JSON "
                          "lines output).</p>", total - (uint64_t)h->listed);
    ks__buf_adds(b, "</body></html>\n");
    return ks__outbuf_flush(&h->ob);
}

const struct ks_output ks_output_html = {
    .abi = KS_OUTPUT_ABI_2,
    .name = "html",
    .description = "self-contained HTML report: summary and expandable timeline",
    .flags = KS_OUT_REPORT | KS_OUT_ALL,
    .open = html_open,
    .close = html_close,
    .free = ks__outbuf_free,
};
