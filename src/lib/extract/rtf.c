/* SPDX-License-Identifier: Apache-2.0
 *
 * RTF to text: a small tokenizer over groups and control words. Kept:
 * body text, \'hh bytes decoded in the document's code page (\ansicpgN,
 * default 1252, double-byte pages included, through iconv), \uN Unicode
 * with its \ucN fallback skipped, paragraph/line/cell breaks, and the
 * \info group (author, title). Skipped: font/colour/style tables,
 * pictures, \* destinations (a field's instruction excepted: a HYPERLINK's
 * target) and \bin data. Groups deeper than 256 are
 * flattened (no recursion: a nesting bomb costs nothing).
 */
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "extract/extract_int.h"

#define RTF_MAX_DEPTH 256

static const char *const skip_dest[] = {"fonttbl", "colortbl", "stylesheet", "listtable", "listoverridetable",
                                        "pict", "themedata", "colorschememapping", "datastore", "latentstyles",
                                        "rsidtbl", "generator", "xmlnstbl", "mmathPr", "filetbl", "revtbl",
                                        "objdata", "bkmkstart", "bkmkend"};

typedef struct rtf {
    ks_buf *out;
    char cp[24];            /* iconv name of the code page */
    uint8_t pend[64];       /* \'hh bytes not yet converted */
    size_t npend;
    int rc;
} rtf;

static void out_add(rtf *r, const char *p, size_t n)
{
    if (r->rc == KS_OK)
        r->rc = ks__buf_add(r->out, p, n);
}

/* Converts the pending \'hh bytes in the document's code page. */
static void flush_bytes(rtf *r)
{
    if (!r->npend)
        return;
    int rc = ks__xconvert_buf((const char *)r->pend, r->npend, r->cp, r->out);
    if (rc == KS_EUNSUPPORTED)
        ks__xconvert_buf((const char *)r->pend, r->npend, "windows-1252", r->out);
    else if (rc != KS_OK && r->rc == KS_OK)
        r->rc = rc;
    r->npend = 0;
}

static void out_char(rtf *r, char c)
{
    flush_bytes(r);
    out_add(r, &c, 1);
}

static void out_cp(rtf *r, uint32_t cp)
{
    char u[4];
    flush_bytes(r);
    out_add(r, u, ks__utf8_put(u, cp));
}

static int rtf_text(const char *p, size_t n, ks_buf *out)
{
    rtf r = {.out = out, .cp = "WINDOWS-1252", .rc = KS_OK};
    /* Per group: skipping, and the \uc fallback count. */
    bool skip[RTF_MAX_DEPTH];
    bool nl_on_close[RTF_MAX_DEPTH]; /* \info fields end with a line */
    int uc[RTF_MAX_DEPTH];
    int depth = 0, pending_skip = 0;
    bool star = false;
    skip[0] = false;
    nl_on_close[0] = false;
    uc[0] = 1;
    for (size_t i = 0; i < n && r.rc == KS_OK;) {
        char c = p[i];
        if (c == '{') {
            if (depth + 1 < RTF_MAX_DEPTH) {
                depth++;
                skip[depth] = skip[depth - 1];
                uc[depth] = uc[depth - 1];
                nl_on_close[depth] = false;
            }
            star = false;
            i++;
            continue;
        }
        if (c == '}') {
            if (nl_on_close[depth] && !skip[depth])
                out_char(&r, '\n');
            if (depth > 0)
                depth--;
            i++;
            continue;
        }
        if (c == '\r' || c == '\n') {
            i++;
            continue;
        }
        if (c != '\\') {
            if (pending_skip > 0)
                pending_skip--;
            else if (!skip[depth])
                out_char(&r, c);
            i++;
            continue;
        }
        /* A control symbol or word. */
        if (i + 1 >= n)
            break;
        char s = p[i + 1];
        if (s == '\\' || s == '{' || s == '}') {
            if (pending_skip > 0)
                pending_skip--;
            else if (!skip[depth])
                out_char(&r, s);
            i += 2;
            continue;
        }
        if (s == '\'') {
            int hi = i + 2 < n ? ks__hexval(p[i + 2]) : -1, lo = i + 3 < n ? ks__hexval(p[i + 3]) : -1;
            i += 4;
            if (hi < 0 || lo < 0)
                continue;
            if (pending_skip > 0)
                pending_skip--;
            else if (!skip[depth]) {
                if (r.npend == sizeof r.pend)
                    flush_bytes(&r);
                r.pend[r.npend++] = (uint8_t)(hi << 4 | lo);
            }
            continue;
        }
        if (s == '*') {
            star = true;
            i += 2;
            continue;
        }
        if (!((s >= 'a' && s <= 'z') || (s >= 'A' && s <= 'Z'))) {
            /* \~ non-breaking space, \_ hyphen, \- optional hyphen, ... */
            if (!skip[depth] && (s == '~' || s == '_'))
                out_char(&r, s == '~' ? ' ' : '-');
            i += 2;
            continue;
        }
        size_t w0 = i + 1, w = w0;
        while (w < n && w - w0 < 32 && ((p[w] >= 'a' && p[w] <= 'z') || (p[w] >= 'A' && p[w] <= 'Z')))
            w++;
        size_t wl = w - w0;
        bool has_arg = false, neg = false;
        long arg = 0;
        if (w < n && p[w] == '-') {
            neg = true;
            w++;
        }
        while (w < n && p[w] >= '0' && p[w] <= '9') {
            if (arg < 100000000)
                arg = arg * 10 + (p[w] - '0');
            has_arg = true;
            w++;
        }
        if (neg)
            arg = -arg;
        if (w < n && p[w] == ' ')
            w++; /* the delimiter space belongs to the word */
        i = w;
        const char *word = p + w0;
#define IS(lit) (wl == sizeof(lit) - 1 && !memcmp(word, lit, wl))
        bool dest = star;
        star = false;
        /* a field's instruction is read, on a line of its own: HYPERLINK
         * "ftp://user:password@host/" shows only its result text */
        if (dest && IS("fldinst") && !skip[depth]) {
            out_char(&r, '\n');
            nl_on_close[depth] = true;
            continue;
        }
        for (size_t k = 0; k < KS_ARRAY_LEN(skip_dest) && !dest; k++)
            dest = wl == strlen(skip_dest[k]) && !memcmp(word, skip_dest[k], wl);
        if (dest) {
            skip[depth] = true;
            continue;
        }
        if (IS("bin") && has_arg && arg > 0) {
            i += KS_MIN((size_t)arg, n - i);
            continue;
        }
        if (IS("ansicpg") && has_arg && arg > 0) {
            snprintf(r.cp, sizeof r.cp, "CP%ld", arg);
            continue;
        }
        if (IS("uc") && has_arg && arg >= 0 && arg < 10) {
            uc[depth] = (int)arg;
            continue;
        }
        if (skip[depth])
            continue;
        if (IS("author") || IS("title") || IS("subject") || IS("keywords") || IS("company") ||
            IS("operator") || IS("doccomm") || IS("comment")) {
            nl_on_close[depth] = true;
        } else if (IS("u") && has_arg) {
            out_cp(&r, (uint32_t)(arg < 0 ? arg + 65536 : arg));
            pending_skip = uc[depth];
        } else if (IS("par") || IS("line") || IS("sect") || IS("row") || IS("page")) {
            out_char(&r, '\n');
        } else if (IS("tab") || IS("cell")) {
            out_char(&r, '\t');
        }
#undef IS
    }
    flush_bytes(&r);
    return r.rc;
}

static int rtf_probe(const uint8_t *head, size_t n, const char *name)
{
    KS_UNUSED(name);
    return n >= 5 && !memcmp(head, "{\\rtf", 5) ? 80 : 0;
}

static int rtf_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    ks_buf out = KS_BUF_INIT;
    out.limit = (size_t)KS_MIN((uint64_t)SIZE_MAX / 8, x->budget.max_blob * 4 + 4096);
    int rc = rtf_text((const char *)p, n, &out);
    if (rc != KS_OK)
        ks__xdiag(x, node, KS_DIAG_WARN, rc, "RTF text cut at %zu bytes", out.n);
    rc = ks__extract_text(x, node, "text", out.p ? out.p : "", out.n, "utf-8");
    ks__buf_release(&out);
    return rc;
}

const struct ks_extractor ks_extractor_rtf = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "rtf",
    .description = "RTF: text in its code page, \\u Unicode, info group, field instructions; tables, pictures, other \\* destinations skipped",
    .probe = rtf_probe,
    .extract = rtf_extract,
};
