/* SPDX-License-Identifier: Apache-2.0
 *
 * xlsx worksheets as tables (interface: extract_int.h).
 *
 * A workbook keeps its cells' strings in xl/sharedStrings.xml, one <si>
 * per distinct string, and its sheets as <c r="B2" t="s"><v>17</v></c>:
 * read part by part, a sheet is a list of indexes and the strings are one
 * a line with no table left. An IT sheet of accounts ("Dienst | Login |
 * Passwort") then loses the only thing that says what its third column
 * holds. Here each sheet is rebuilt as the tab-separated text a CSV export
 * of it would be: a row a line, each cell in the column its reference
 * names (Excel omits empty cells, so gaps are tabs), shared and inline
 * strings resolved, tabs and line ends inside a cell turned to spaces.
 * The scanner's table rules then read a sheet exactly as a CSV.
 *
 * Shared strings no cell refers to (a deleted row's) are still given, a
 * line each, so nothing the file holds goes unread. Bounded: the parts
 * are those the archive walk read under its budgets, columns past
 * MAX_COL are cut, and the text goes through ks__extract_text's total.
 */
#include <stdlib.h>
#include <string.h>
#include "extract/extract_int.h"

#define MAX_PARTS 256   /* sheets kept per workbook; more go the ordinary way */
#define MAX_COL 1024    /* columns written per row (gaps are tabs) */

static bool is_sheet(const char *m)
{
    if (strncmp(m, "xl/worksheets/", 14) != 0 || strchr(m + 14, '/'))
        return false;
    size_t n = strlen(m);
    return n > 18 && !strcmp(m + n - 4, ".xml");
}

bool ks__xsheets_take(void *ud, const char *member, uint8_t *p, size_t n)
{
    ks_xsheets *s = ud;
    if (!strcmp(member, "xl/sharedStrings.xml") && !s->sst) {
        s->sst = p;
        s->sstn = n;
        return true;
    }
    if (!is_sheet(member) || s->nparts >= MAX_PARTS ||
        ks__grow(&s->parts, &s->cap, s->nparts, sizeof *s->parts, 8) != KS_OK)
        return false;
    char *name = strdup(member);
    if (!name)
        return false;
    s->parts[s->nparts++] = (struct ks_xsheet_part){name, p, n};
    return true;
}

void ks__xsheets_free(ks_xsheets *s)
{
    for (size_t i = 0; i < s->nparts; i++) {
        free(s->parts[i].name);
        free(s->parts[i].p);
    }
    free(s->parts);
    free(s->sst);
    *s = (ks_xsheets){0};
}

/* The inner bytes of each <si> of the shared-string table. */
typedef struct span {
    size_t s, e;
} span;

static int sst_index(const char *p, size_t n, span **out, size_t *nout)
{
    size_t cap = 0;
    *out = NULL;
    *nout = 0;
    for (size_t i = 0; i + 4 <= n;) {
        const char *o = ks__memmem_ci(p + i, n - i, "<si", 3);
        if (!o)
            break;
        size_t at = (size_t)(o - p) + 3;
        if (at < n && p[at] != '>' && p[at] != ' ' && p[at] != '/') {
            i = at;
            continue;
        }
        const char *gt = memchr(p + at, '>', n - at);
        if (!gt)
            break;
        size_t s = (size_t)(gt - p) + 1, e = s;
        if (gt[-1] != '/') {
            const char *c = ks__memmem_ci(p + s, n - s, "</si>", 5);
            e = c ? (size_t)(c - p) : n;
        }
        if (ks__grow(out, &cap, *nout, sizeof **out, 64) != KS_OK)
            return KS_ENOMEM;
        (*out)[(*nout)++] = (span){s, e};
        i = e;
    }
    return KS_OK;
}

/* Value of attribute `name` in the tag t[0..n) (no quotes inside). */
static bool attr(const char *t, size_t n, const char *name, const char **v, size_t *vn)
{
    size_t ln = strlen(name);
    for (size_t i = 1; i + ln + 2 < n; i++) {
        if ((t[i - 1] == ' ' || t[i - 1] == '\t' || t[i - 1] == '\n' || t[i - 1] == '\r') &&
            !memcmp(t + i, name, ln) && t[i + ln] == '=' && (t[i + ln + 1] == '"' || t[i + ln + 1] == '\'')) {
            const char *q = memchr(t + i + ln + 2, t[i + ln + 1], n - (i + ln + 2));
            if (!q)
                return false;
            *v = t + i + ln + 2;
            *vn = (size_t)(q - *v);
            return true;
        }
    }
    return false;
}

/* "AB12" -> column 27 (0-based), row 12; false without letters. */
static bool cell_ref(const char *v, size_t n, size_t *col, size_t *row)
{
    size_t i = 0, c = 0, r = 0;
    for (; i < n && v[i] >= 'A' && v[i] <= 'Z' && c < 100000; i++)
        c = c * 26 + (size_t)(v[i] - 'A' + 1);
    if (!i)
        return false;
    for (; i < n && v[i] >= '0' && v[i] <= '9' && r < 100000000; i++)
        r = r * 10 + (size_t)(v[i] - '0');
    *col = c - 1;
    *row = r;
    return true;
}

/* Text of markup q[0..n) appended to out as one cell: no tabs or line ends. */
static int cell_text(ks_buf *out, const char *q, size_t n)
{
    size_t at = out->n;
    int rc = ks__xmarkup_text(q, n, false, out);
    for (size_t i = at; i < out->n; i++)
        if (out->p[i] == '\t' || out->p[i] == '\n' || out->p[i] == '\r')
            out->p[i] = ' ';
    return rc;
}

/* Inner bytes of the first <tag>..</tag> in p[s..e), without attributes
 * on tag. */
static bool inner(const char *p, size_t s, size_t e, const char *open, const char *close, size_t *is, size_t *ie)
{
    const char *o = ks__memmem_ci(p + s, e - s, open, strlen(open));
    if (!o)
        return false;
    *is = (size_t)(o - p) + strlen(open);
    const char *c = ks__memmem_ci(p + *is, e - *is, close, strlen(close));
    *ie = c ? (size_t)(c - p) : e;
    return true;
}

/* One worksheet's cells as a tab-separated table in out; marks the
 * shared strings it uses. */
static int sheet_table(const char *p, size_t n, const char *sst, const span *si, size_t nsi, bool *used,
                       ks_buf *out)
{
    size_t row = 0, out_row = 0, out_col = 0;
    bool any = false;
    int rc = KS_OK;
    for (size_t i = 0; i < n && rc == KS_OK;) {
        const char *lt = memchr(p + i, '<', n - i);
        if (!lt)
            break;
        size_t t = (size_t)(lt - p);
        const char *gt = memchr(p + t, '>', n - t);
        if (!gt)
            break;
        size_t te = (size_t)(gt - p);
        i = te + 1;
        const char *tag = p + t + 1;
        size_t tn = te - t - 1;
        bool is_row = tn >= 3 && !memcmp(tag, "row", 3) && (tn == 3 || tag[3] == ' ');
        bool is_c = tn >= 1 && tag[0] == 'c' && (tn == 1 || tag[1] == ' ' || tag[1] == '/');
        const char *v;
        size_t vn, col, r;
        if (is_row) {
            row = attr(tag, tn, "r", &v, &vn) ? (size_t)strtoul(v, NULL, 10) : row + 1;
            continue;
        }
        if (!is_c || tag[tn - 1] == '/')
            continue; /* an empty cell (style only) */
        size_t ce = n;
        const char *close = ks__memmem_ci(p + i, n - i, "</c>", 4);
        if (close)
            ce = (size_t)(close - p);
        size_t cell_row = row;
        if (attr(tag, tn, "r", &v, &vn) && cell_ref(v, vn, &col, &r))
            cell_row = r ? r : row;
        else
            col = any && out_row == row ? out_col + 1 : 0;
        const char *ty = NULL;
        size_t tyn = 0;
        attr(tag, tn, "t", &ty, &tyn);
        size_t is, ie;
        bool have;
        if (ty && tyn == 9 && !memcmp(ty, "inlineStr", 9))
            have = inner(p, i, ce, "<is>", "</is>", &is, &ie);
        else
            have = inner(p, i, ce, "<v>", "</v>", &is, &ie);
        i = close ? ce + 4 : n;
        if (!have || ie <= is || col >= MAX_COL)
            continue;
        if (!any || cell_row != out_row) {
            if (any)
                rc = ks__buf_addc(out, '\n');
            out_row = cell_row;
            out_col = 0;
            for (size_t k = 0; k < col && rc == KS_OK; k++)
                rc = ks__buf_addc(out, '\t');
        } else {
            for (size_t k = out_col; k < col && rc == KS_OK; k++)
                rc = ks__buf_addc(out, '\t');
        }
        any = true;
        out_col = col;
        if (rc != KS_OK)
            break;
        if (ty && tyn == 1 && ty[0] == 's') {
            size_t k = (size_t)strtoul(p + is, NULL, 10);
            if (k < nsi) {
                used[k] = true;
                rc = cell_text(out, sst + si[k].s, si[k].e - si[k].s);
            }
        } else {
            rc = cell_text(out, p + is, ie - is);
        }
    }
    if (any && rc == KS_OK)
        rc = ks__buf_addc(out, '\n');
    return rc;
}

int ks__xsheets_emit(ks_xctx *x, const ks_xnode *node, ks_xsheets *s)
{
    if (!s->nparts) {
        /* no sheet: nothing to rebuild; the string table is text */
        if (s->sst)
            return ks__extract_child(x, node, "xl/sharedStrings.xml", NULL, NULL, UINT64_MAX, s->sst, s->sstn);
        return KS_OK;
    }
    span *si = NULL;
    size_t nsi = 0;
    const char *sst = s->sst ? (const char *)s->sst : "";
    int rc = sst_index(sst, s->sstn, &si, &nsi);
    bool *used = rc == KS_OK ? calloc(nsi + 1, 1) : NULL;
    ks_buf out = KS_BUF_INIT;
    out.limit = (size_t)KS_MIN((uint64_t)SIZE_MAX / 8, x->budget.max_blob * 4 + 4096);
    if (!used)
        rc = KS_ENOMEM;
    for (size_t k = 0; k < s->nparts && rc == KS_OK && !x->stopped; k++) {
        ks_xnode child;
        if (ks__extract_enter(x, node, s->parts[k].name, "xlsx", NULL, UINT64_MAX, &child) != KS_OK)
            continue;
        out.n = 0;
        int r = sheet_table((const char *)s->parts[k].p, s->parts[k].n, sst, si, nsi, used, &out);
        if (r != KS_OK)
            ks__xdiag(x, &child, KS_DIAG_WARN, r, "sheet's table cut at %zu bytes", out.n);
        const char *base = strrchr(s->parts[k].name, '/') + 1;
        char part[64];
        size_t bl = strlen(base) - 4; /* without .xml */
        snprintf(part, sizeof part, "%.*s", (int)KS_MIN(bl, sizeof part - 1), base);
        rc = ks__extract_text(x, &child, part, out.p ? out.p : "", out.n, "utf-8");
    }
    /* the strings no cell shows */
    ks_xnode child;
    if (rc == KS_OK && nsi && ks__extract_enter(x, node, "xl/sharedStrings.xml", "xlsx", NULL, UINT64_MAX, &child) == KS_OK) {
        out.n = 0;
        for (size_t k = 0; k < nsi && rc == KS_OK; k++)
            if (!used[k] && (rc = cell_text(&out, sst + si[k].s, si[k].e - si[k].s)) == KS_OK)
                rc = ks__buf_addc(&out, '\n');
        if (rc == KS_OK && out.n)
            rc = ks__extract_text(x, &child, "text", out.p, out.n, "utf-8");
    }
    ks__buf_release(&out);
    free(used);
    free(si);
    return rc == KS_ELIMIT ? KS_OK : rc;
}
