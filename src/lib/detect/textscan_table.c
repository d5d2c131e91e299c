/* SPDX-License-Identifier: Apache-2.0
 *
 * Passwords a table's header names (interface: textscan_int.h).
 *
 * A password export (Chrome's "name,url,username,password,note", a
 * KeePass CSV, a spreadsheet kept by IT: "System;Benutzer;Passwort") has
 * no key word beside its values: the column's header is the only thing
 * that says what they are. The rule finds the key word in the text's
 * first line (a CSV), or on any line of a table written with tabs or
 * '|' (a sheet, a docx/ODF/HTML table as the extractors write them: a row
 * a line, cells tab-separated; a Markdown table in a mail or a wiki
 * page, where the table ends at the first line that is no row of it,
 * and the header is its first row);
 * when that line is a table's header (two fields or more, with ',', ';',
 * tab or '|', the next line as many; with tabs, rows may drop their
 * trailing empty cells) and the field is a
 * password's label (the key word ends it: "Password", "Admin password",
 * "Mot de passe", "Secret"; not "Password last changed", "Password
 * hash"), the cells of that column become a view of "password: cell"
 * lines, which the password rule reads again with its own judgement
 * (placeholders, masks, variables, samples are no passwords). Empty
 * cells, cells with white space in them (a note: "siehe KeePass") and
 * hashes (hex digests; crypt strings start with '$', which the password
 * rule refuses) are left out. Matches are located at the cell, with
 * `context: column header`.
 */
#include <ctype.h>
#include <string.h>
#include "detect/textscan_int.h"

#define HEADER_MAX 4096  /* a table's first line */
#define ROW_MAX 8192     /* and one of its rows */
#define LABEL_MAX 40

static const char delims[] = {',', ';', '\t', '|'};

/* Fields of t[s..e) split at d outside double quotes: their count, and
 * the index and bounds of the one holding offset at, or else of the one
 * numbered want (col SIZE_MAX: none). */
typedef struct field {
    size_t count, col, fs, fe;
} field;

static field split(const char *t, size_t s, size_t e, char d, size_t at, size_t want)
{
    field f = {1, SIZE_MAX, 0, 0};
    size_t start = s;
    bool q = false;
    for (size_t i = s; i <= e; i++) {
        if (i < e && t[i] == '"')
            q = !q;
        if (i < e && (q || t[i] != d))
            continue;
        if ((at >= start && at < i) || f.count - 1 == want) {
            f.col = f.count - 1;
            f.fs = start;
            f.fe = i;
        }
        if (i < e)
            f.count++;
        start = i + 1;
    }
    return f;
}

static void trim(const char *t, size_t *s, size_t *e)
{
    while (*s < *e && (t[*s] == ' ' || t[*s] == '"' || t[*s] == '\''))
        (*s)++;
    while (*e > *s && (t[*e - 1] == ' ' || t[*e - 1] == '"' || t[*e - 1] == '\'' || t[*e - 1] == '\r'))
        (*e)--;
}

static size_t line_end(const char *t, size_t n, size_t s, size_t max)
{
    const char *nl = memchr(t + s, '\n', KS_MIN(n - s, max));
    return nl ? (size_t)(nl - t) : SIZE_MAX;
}

/* Whether a row of `count` fields belongs to a table of nf under
 * delimiter d whose column col is read: as many fields; or, for tabs
 * (a sheet, a document's table: the extractors drop a row's trailing
 * empty cells), fewer but past col. */
static bool row_fits(char d, size_t count, size_t nf, size_t col)
{
    return count == nf || (d == '\t' && count >= 2 && count > col && count < nf);
}

/* The header's delimiter and the column of the key word at [vs, ve): the
 * field it ends, a short label without "hash"/"crypt" in it; the next line
 * has as many fields. The header is the text's first line (a CSV), or any
 * line of a table written with tabs or '|' (a document's or a sheet's
 * table as the extractors write it, a Markdown table): *first says which. */
static bool header_col(const char *t, size_t n, size_t vs, size_t ve, char *d, size_t *col,
                       size_t *nf, size_t *he, bool *first)
{
    size_t ls = vs;
    while (ls > 0 && t[ls - 1] != '\n' && vs - ls < HEADER_MAX)
        ls--;
    if (vs - ls >= HEADER_MAX)
        return false;
    *first = ls == 0;
    *he = line_end(t, n, vs, HEADER_MAX - (vs - ls));
    if (*he == SIZE_MAX)
        return false;
    size_t he2 = *he + 1 < n ? line_end(t, n, *he + 1, ROW_MAX) : SIZE_MAX;
    size_t row_e = he2 == SIZE_MAX ? n : he2;
    for (size_t i = 0; i < sizeof delims; i++) {
        if (!*first && delims[i] != '\t' && delims[i] != '|')
            continue;
        field f = split(t, ls, *he, delims[i], vs, SIZE_MAX);
        if (f.count < 2 || f.col == SIZE_MAX ||
            !row_fits(delims[i], split(t, *he + 1, row_e, delims[i], SIZE_MAX, SIZE_MAX).count, f.count, f.col))
            continue;
        /* inside a text, a header is its table's first row: a row whose
         * cell is "Password" below another (a keyword list, a label beside
         * its value, an ASCII-art table's wrapped cell) heads nothing */
        if (!*first) {
            size_t ps = ls - 1;
            while (ps > 0 && t[ps - 1] != '\n' && ls - ps < ROW_MAX)
                ps--;
            if (split(t, ps, ls - 1, delims[i], SIZE_MAX, SIZE_MAX).count >= 2)
                return false;
        }
        size_t ls = f.fs, le = f.fe;
        trim(t, &ls, &le);
        if (le != ve || le - ls > LABEL_MAX || ks__memmem_ci(t + ls, le - ls, "hash", 4) ||
            ks__memmem_ci(t + ls, le - ls, "crypt", 5))
            return false;
        *d = delims[i];
        *col = f.col;
        *nf = f.count;
        return true;
    }
    return false;
}

bool ks__tsv_password_column(ts_cand *c)
{
    char d;
    size_t col, nf, he;
    bool first;
    /* the key word starts a label or follows a separator in it ("Admin
     * password", "db_password"), never inside a word */
    if (c->vs > 0 && isalpha((unsigned char)c->text[c->vs - 1]))
        return false;
    return header_col(c->text, c->n, c->vs, c->ve, &d, &col, &nf, &he, &first);
}

/* A digest written in hex (MD5, SHA-1, SHA-2): a hash, not the password. */
static bool hex_digest(const char *p, size_t n)
{
    if (n != 32 && n != 40 && n != 56 && n != 64 && n != 96 && n != 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)p[i]))
            return false;
    return true;
}

bool ks__ts_password_column_view(const char *t, size_t n, size_t vs, size_t ve, ts_view *v)
{
    char d;
    size_t col, nf, he;
    bool first;
    if (!header_col(t, n, vs, ve, &d, &col, &nf, &he, &first))
        return false;
    v->b64 = false;
    v->classes = KS_TC_SECRET;
    v->dkey = "context";
    v->dval = "column header";
    for (size_t s = he + 1; s < n;) {
        size_t e = line_end(t, n, s, n - s);
        if (e == SIZE_MAX)
            e = n;
        field f = e - s <= ROW_MAX ? split(t, s, e, d, SIZE_MAX, col) : (field){0, SIZE_MAX, 0, 0};
        size_t fs = f.fs, fe = f.fe;
        if (!row_fits(d, f.count, nf, col) || f.col != col) {
            if (!first)
                break; /* the end of a table inside a text */
        } else {
            trim(t, &fs, &fe);
            bool space = false, rule = true;
            for (size_t i = fs; i < fe && !space; i++) {
                space = isspace((unsigned char)t[i]) || t[i] == '"';
                rule = rule && (t[i] == '-' || t[i] == ':' || t[i] == '=');
            }
            /* a Markdown table's |---|:--:| line is no row */
            if (fe > fs && !space && !rule && !hex_digest(t + fs, fe - fs)) {
                if (ks__buf_add(&v->text, "password: ", 10) != KS_OK ||
                    ks__grow(&v->segs, &v->capsegs, v->nsegs, sizeof *v->segs, 16) != KS_OK)
                    return v->nsegs > 0;
                v->segs[v->nsegs++] = (ts_seg){v->text.n, fe - fs, fs, fe};
                if (ks__buf_add(&v->text, t + fs, fe - fs) != KS_OK || ks__buf_addc(&v->text, '\n') != KS_OK)
                    return v->nsegs > 0;
            }
        }
        s = e + 1;
    }
    return v->nsegs > 0;
}
