/* SPDX-License-Identifier: Apache-2.0
 *
 * XML and HTML to text: tags dropped, character references and the common
 * named entities decoded, CDATA and <script> kept (keys live in scripts),
 * <style> dropped, comments kept as written, and the values of the
 * attributes that carry addresses and values (href, src, Target, action,
 * value, content, url, HTML data-*) kept on lines of their own, with their
 * names where the name is the key word (password="...", connectionString). Block-level elements (paragraphs, rows, cells, line
 * breaks, shared strings) become line ends or tabs; inline ones (runs)
 * join with nothing, so a word Word split into several <w:r> runs comes
 * out whole. This is also how the parts of OOXML and ODF documents are
 * read: every part is XML.
 *
 * A tolerant hand-written scanner, not a parser: no DTD, no external
 * entities (no billion-laughs, no XXE), linear time, never reads past the
 * end; damaged markup just yields more text.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "extract/extract_int.h"

/* Elements whose tags separate text: '\n' for blocks, '\t' for cells.
 * Matched on the local name (after any prefix), case-insensitively. */
static const struct {
    const char *name;
    char sep;
} seps[] = {
    {"p", '\n'}, {"br", '\n'}, {"cr", '\n'}, {"div", '\n'}, {"li", '\n'}, {"tr", '\n'}, {"row", '\n'},
    {"table-row", '\n'}, {"h", '\n'}, {"h1", '\n'}, {"h2", '\n'}, {"h3", '\n'}, {"h4", '\n'}, {"h5", '\n'},
    {"h6", '\n'}, {"title", '\n'}, {"si", '\n'}, {"line-break", '\n'}, {"hr", '\n'}, {"pre", '\n'},
    {"blockquote", '\n'}, {"section", '\n'}, {"article", '\n'}, {"header", '\n'}, {"footer", '\n'},
    {"option", '\n'}, {"dt", '\n'}, {"dd", '\n'}, {"table", '\n'}, {"form", '\n'}, {"textarea", '\n'},
    {"tab", '\t'}, {"c", '\t'}, {"td", '\t'}, {"th", '\t'}, {"tc", '\t'}, {"table-cell", '\t'},
};

static const char *const keep_attrs[] = {"href", "src", "target", "action", "value", "content", "url"};

static const struct {
    const char *name;
    uint32_t cp;
} entities[] = {
    {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '},
    {"copy", 0xA9}, {"reg", 0xAE}, {"euro", 0x20AC}, {"hellip", 0x2026}, {"ndash", 0x2013},
    {"mdash", 0x2014}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C}, {"rdquo", 0x201D},
    {"shy", 0xAD}, {"middot", 0xB7}, {"laquo", 0xAB}, {"raquo", 0xBB},
};

typedef struct mk {
    ks_buf *out;
    bool html;
    int rc;
    unsigned in_cell;  /* open table cells around the text */
    unsigned cells;    /* cells begun in the current row */
} mk;

static void put(mk *m, const char *p, size_t n)
{
    if (m->rc == KS_OK)
        m->rc = ks__buf_add(m->out, p, n);
}

static void put_sep(mk *m, char sep)
{
    if (m->out->n && m->out->p[m->out->n - 1] != sep && m->out->p[m->out->n - 1] != '\n')
        put(m, &sep, 1);
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == ':' || c == '.';
}

/* Local name of a qualified name ("w:p" -> "p"). */
static void local_name(const char *s, size_t n, const char **ln, size_t *lnn)
{
    const char *c = memrchr(s, ':', n);
    *ln = c ? c + 1 : s;
    *lnn = n - (size_t)(*ln - s);
}

static bool name_is(const char *s, size_t n, const char *name)
{
    return strlen(name) == n && !strncasecmp(s, name, n);
}

/* Decodes the entity at p ('&' .. ';') if known; returns bytes consumed
 * (0: not an entity, copy the '&'). */
static size_t entity(mk *m, const char *p, size_t n)
{
    const char *semi = memchr(p, ';', KS_MIN(n, (size_t)12));
    uint32_t cp = 0;
    if (!semi || semi - p < 2)
        return 0;
    size_t len = (size_t)(semi - p) + 1;
    if (p[1] == '#') {
        bool hex = len > 3 && (p[2] == 'x' || p[2] == 'X');
        for (const char *q = p + 2 + hex; q < semi; q++) {
            int v = hex ? ks__hexval(*q) : (*q >= '0' && *q <= '9' ? *q - '0' : -1);
            if (v < 0 || cp > 0x10FFFF)
                return 0;
            cp = cp * (hex ? 16 : 10) + (uint32_t)v;
        }
    } else {
        size_t i;
        for (i = 0; i < KS_ARRAY_LEN(entities); i++)
            if (name_is(p + 1, len - 2, entities[i].name))
                break;
        if (i == KS_ARRAY_LEN(entities))
            return 0;
        cp = entities[i].cp;
    }
    char u[4];
    put(m, u, ks__utf8_put(u, cp ? cp : 0xFFFD));
    return len;
}

/* Text with entities decoded. */
static void text(mk *m, const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        const char *amp = memchr(p + i, '&', n - i);
        size_t k = amp ? (size_t)(amp - (p + i)) : n - i;
        put(m, p + i, k);
        i += k;
        if (i < n) {
            size_t e = entity(m, p + i, n - i);
            if (!e) {
                put(m, "&", 1);
                e = 1;
            }
            i += e;
        }
    }
}

/* Attribute names that say their value is a credential or names a
 * person or account (web.config's connectionString, <network
 * password="...">, userName, apiKey): matched inside the local name,
 * case-insensitively. */
static const char *const credential_words[] = {"pass", "pwd", "secret", "token", "key", "connection",
                                               "credential", "auth", "user", "mail", "account"};

#define MAX_ATTRS 32

typedef struct attr {
    const char *name, *v; /* local name; value */
    size_t nn, vn;
} attr;

static bool has_word(const char *s, size_t n, const char *const *words, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        if (ks__memmem_ci(s, n, words[i], strlen(words[i])))
            return true;
    return false;
}

/* One attribute's value as a text line: alone (an address: href, src),
 * or after its name when the name is the key word a scanner needs
 * ("password: Mx7#...", "connectionString: Server=...;Password=...;"). */
static void attr_line(mk *m, const char *name, size_t nn, const char *v, size_t vn, char sep)
{
    put_sep(m, '\n');
    if (nn) {
        text(m, name, nn);
        put(m, &sep, 1);
        if (sep == ':')
            put(m, " ", 1);
    }
    text(m, v, vn);
    put(m, "\n", 1);
}

/* Attributes of a start tag s[0..n) (after the name), kept on lines of
 * their own: the values of keep_attrs; HTML data- attributes; named
 * credentials with their names; and a settings element's pair (<add
 * key="DbPassword" value="..."/>, <property name=... value=...>) as
 * "DbPassword=..." so the value keeps its key word. */
static void attrs(mk *m, const char *s, size_t n)
{
    attr a[MAX_ATTRS];
    size_t na = 0, i = 0;
    while (i < n && na < MAX_ATTRS) {
        while (i < n && !is_name_char(s[i]))
            i++;
        size_t a0 = i;
        while (i < n && is_name_char(s[i]))
            i++;
        size_t an = i - a0;
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i >= n || s[i] != '=')
            continue;
        i++;
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        size_t v0, vn;
        if (i < n && (s[i] == '"' || s[i] == '\'')) {
            const char *end = memchr(s + i + 1, s[i], n - i - 1);
            v0 = i + 1;
            vn = end ? (size_t)(end - (s + v0)) : n - v0;
            i = v0 + vn + 1;
        } else {
            v0 = i;
            while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '>')
                i++;
            vn = i - v0;
        }
        if (!vn)
            continue;
        local_name(s + a0, an, &a[na].name, &a[na].nn);
        a[na].v = s + v0;
        a[na].vn = vn;
        na++;
    }
    const attr *key = NULL, *val = NULL;
    for (size_t k = 0; k < na; k++) {
        if (name_is(a[k].name, a[k].nn, "key") || name_is(a[k].name, a[k].nn, "name"))
            key = key ? key : &a[k];
        else if (name_is(a[k].name, a[k].nn, "value"))
            val = val ? val : &a[k];
    }
    if (key && val && has_word(key->v, key->vn, credential_words, KS_ARRAY_LEN(credential_words)))
        attr_line(m, key->v, key->vn, val->v, val->vn, '=');
    else
        val = NULL;
    for (size_t k = 0; k < na; k++) {
        const attr *t = &a[k];
        if (t == val || t == key)
            continue;
        bool keep = false;
        for (size_t j = 0; j < KS_ARRAY_LEN(keep_attrs) && !keep; j++)
            keep = name_is(t->name, t->nn, keep_attrs[j]);
        if (keep || (m->html && t->nn > 5 && !strncasecmp(t->name, "data-", 5)))
            attr_line(m, NULL, 0, t->v, t->vn, 0);
        else if (has_word(t->name, t->nn, credential_words, KS_ARRAY_LEN(credential_words)))
            attr_line(m, t->name, t->nn, t->v, t->vn, ':');
    }
}

/* Table rows and cells (HTML td/th, Word's w:tc, ODF's table-cell and
 * covered-table-cell, Excel's c): a row is a line and every cell starts
 * with a tab but the first, empty ones too, so each value stays in its
 * header's column (ODF's table:number-columns-repeated counts, up to
 * MAX_REPEAT); a row's trailing empty cells are dropped; the paragraphs
 * of a cell join with spaces. Returns true when the tag was one of them. */
#define MAX_REPEAT 64

static bool is_cell(const char *ln, size_t lnn)
{
    return name_is(ln, lnn, "td") || name_is(ln, lnn, "th") || name_is(ln, lnn, "tc") ||
           name_is(ln, lnn, "c") || name_is(ln, lnn, "table-cell") || name_is(ln, lnn, "covered-table-cell");
}

static void end_row(mk *m)
{
    while (m->out->n && m->out->p[m->out->n - 1] == '\t')
        m->out->n--;
    put_sep(m, '\n');
    m->cells = 0;
    m->in_cell = 0;
}

static bool table_tag(mk *m, const char *ln, size_t lnn, bool closing, const char *t, size_t tn)
{
    if (name_is(ln, lnn, "tr") || name_is(ln, lnn, "row") || name_is(ln, lnn, "table-row")) {
        end_row(m);
        return true;
    }
    if (!is_cell(ln, lnn))
        return false;
    if (closing) {
        while (m->in_cell && m->out->n && m->out->p[m->out->n - 1] == ' ')
            m->out->n--;
        if (m->in_cell)
            m->in_cell--;
        return true;
    }
    bool empty = t[tn - 1] == '/';
    unsigned rep = 1;
    const char *r = ks__memmem_ci(t, tn, "number-columns-repeated=", 24);
    if (r && r + 25 < t + tn) {
        unsigned long v = strtoul(r + 25, NULL, 10);
        rep = v < 1 ? 1 : v > MAX_REPEAT ? MAX_REPEAT : (unsigned)v;
    }
    for (unsigned k = 0; k < rep; k++) {
        if (m->cells++) {
            char tab = '\t';
            put(m, &tab, 1);
        } else if (m->out->n && m->out->p[m->out->n - 1] != '\n') {
            put(m, "\n", 1);
        }
    }
    if (!empty)
        m->in_cell++;
    return true;
}

/* Whitespace between XML tags that holds a line end is the file's
 * indentation, not text (a lone space in <w:t> is text and stays). */
static bool layout_space(const char *p, size_t n)
{
    bool nl = false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' || p[i] == '\r')
            nl = true;
        else if (p[i] != ' ' && p[i] != '\t')
            return false;
    }
    return nl;
}

/* End of a tag starting at p[i] == '<', honouring quoted attribute values
 * (which may hold '>'); n when unterminated. */
static size_t tag_end(const char *p, size_t n, size_t i)
{
    char q = 0;
    for (i++; i < n; i++) {
        if (q) {
            if (p[i] == q)
                q = 0;
        } else if (p[i] == '"' || p[i] == '\'') {
            q = p[i];
        } else if (p[i] == '>') {
            return i;
        }
    }
    return n;
}

/* Skips to the end of `close` (case-insensitive for HTML end tags). */
static size_t skip_past(const char *p, size_t n, size_t i, const char *close)
{
    const char *f = ks__memmem_ci(p + i, n - i, close, strlen(close));
    return f ? (size_t)(f - p) + strlen(close) : n;
}

int ks__xmarkup_text(const char *p, size_t n, bool html, ks_buf *out)
{
    mk m = {out, html, KS_OK};
    size_t i = 0;
    while (i < n && m.rc == KS_OK) {
        const char *lt = memchr(p + i, '<', n - i);
        size_t k = lt ? (size_t)(lt - (p + i)) : n - i;
        /* HTML keeps its white space but for the line ends between
         * elements that already end a line or a cell (a mail's table rows
         * written one a line would be parted by blank lines) */
        if (!layout_space(p + i, k) ||
            (html && !(out->n && (out->p[out->n - 1] == '\n' || out->p[out->n - 1] == '\t'))))
            text(&m, p + i, k);
        i += k;
        if (i >= n)
            break;
        if (n - i >= 4 && !memcmp(p + i, "<!--", 4)) {
            /* commented out is still written down: a retired connection
             * string, an old key, as the comment holds it (markup and all) */
            size_t e = skip_past(p, n, i + 4, "-->");
            size_t cn = e - (i + 4) - (e >= i + 7 && e <= n && !memcmp(p + e - 3, "-->", 3) ? 3 : 0);
            put_sep(&m, '\n');
            put(&m, p + i + 4, cn);
            put_sep(&m, '\n');
            i = e;
            continue;
        }
        if (n - i >= 9 && !memcmp(p + i, "<![CDATA[", 9)) {
            const char *end = ks__memmem_ci(p + i + 9, n - i - 9, "]]>", 3);
            size_t cn = end ? (size_t)(end - (p + i + 9)) : n - i - 9;
            put(&m, p + i + 9, cn);
            i += 9 + cn + (end ? 3 : 0);
            continue;
        }
        size_t e = tag_end(p, n, i);
        if (e >= n) {
            /* No end to this tag: what follows is text (stopping here, not
             * rescanning from every later '<', keeps this linear). */
            text(&m, p + i, n - i);
            break;
        }
        const char *t = p + i + 1;
        size_t tn = e - i - 1;
        i = e + 1;
        if (!tn || *t == '!' || *t == '?')
            continue; /* declarations, processing instructions */
        bool closing = *t == '/';
        const char *name = t + closing;
        size_t nn = 0;
        while (nn < tn - closing && is_name_char(name[nn]))
            nn++;
        if (!nn) {
            put(&m, "<", 1); /* "a < b" in sloppy HTML: it was text */
            i = (size_t)(t - p);
            continue;
        }
        const char *ln;
        size_t lnn;
        local_name(name, nn, &ln, &lnn);
        if (table_tag(&m, ln, lnn, closing, t, tn))
            ;
        else
            for (size_t s = 0; s < KS_ARRAY_LEN(seps); s++)
                if (name_is(ln, lnn, seps[s].name)) {
                    /* a paragraph or break inside a cell stays in its row */
                    if (m.in_cell && seps[s].sep == '\n') {
                        if (m.out->n && m.out->p[m.out->n - 1] != '\t')
                            put_sep(&m, ' ');
                    } else
                        put_sep(&m, seps[s].sep);
                    break;
                }
        if (closing)
            continue;
        attrs(&m, name + nn, tn - nn);
        if (html && name_is(ln, lnn, "style"))
            i = skip_past(p, n, i, "</style");
        else if (html && name_is(ln, lnn, "script")) {
            const char *end = ks__memmem_ci(p + i, n - i, "</script", 8);
            size_t sn = end ? (size_t)(end - (p + i)) : n - i;
            put_sep(&m, '\n');
            put(&m, p + i, sn);
            put_sep(&m, '\n');
            i += sn;
        }
    }
    return m.rc;
}

/* The charset an XML declaration names (encoding="..."), copied to cs. */
static bool xml_decl_charset(const char *p, size_t n, char *cs, size_t cap)
{
    if (n < 6 || memcmp(p, "<?xml", 5) != 0)
        return false;
    const char *end = memchr(p, '>', KS_MIN(n, (size_t)256));
    const char *enc = end ? ks__memmem_ci(p, (size_t)(end - p), "encoding=", 9) : NULL;
    if (!enc || enc + 10 >= end)
        return false;
    char q = enc[9];
    const char *v = enc + 10, *ve = memchr(v, q, (size_t)(end - v));
    if ((q != '"' && q != '\'') || !ve || (size_t)(ve - v) >= cap)
        return false;
    memcpy(cs, v, (size_t)(ve - v));
    cs[ve - v] = 0;
    return true;
}

static int markup_rewrite(const char *s, size_t n, void *arg, ks_buf *out)
{
    return ks__xmarkup_text(s, n, *(const bool *)arg, out);
}

static int markup_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n, bool html)
{
    char cs[48];
    bool declared = !html && xml_decl_charset((const char *)p, n, cs, sizeof cs);
    return ks__xutf8_rewrite(x, node, p, n, declared ? cs : NULL, markup_rewrite, &html,
                             "text of the markup");
}

/* First bytes as ASCII, UTF-16 zeros dropped, leading space skipped, for
 * the probes, which both want a '<' first: a head that starts otherwise
 * (every attachment and text part that is not markup, probed by both)
 * stops at its first byte instead of copying the rest. */
static size_t probe_head(const uint8_t *head, size_t n, char *out, size_t cap)
{
    size_t bom, k = 0;
    const char *cs = ks__xsniff_charset(head, n, &bom);
    bool wide = cs && !strncmp(cs, "utf-16", 6);
    for (size_t i = bom; i < n && k + 1 < cap; i++) {
        if (wide && head[i] == 0)
            continue;
        if (!k && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
            continue;
        out[k++] = (char)head[i];
        if (k == 1 && out[0] != '<')
            break;
    }
    out[k] = 0;
    return k;
}

static int xml_probe(const uint8_t *head, size_t n, const char *name)
{
    static const char *const exts[] = {".xml", ".rels", ".xaml", ".plist", ".svg", ".config", ".csproj", ".xsd"};
    char h[512];
    size_t k = probe_head(head, n, h, sizeof h);
    if (k >= 5 && !memcmp(h, "<?xml", 5))
        return 30;
    /* No declaration (some writers of OOXML parts, .NET configs): an
     * element first and an XML name. */
    size_t nl = name ? strlen(name) : 0;
    if (k >= 2 && h[0] == '<' && ((h[1] >= 'a' && h[1] <= 'z') || (h[1] >= 'A' && h[1] <= 'Z')))
        for (size_t i = 0; i < KS_ARRAY_LEN(exts); i++) {
            size_t el = strlen(exts[i]);
            if (nl > el && !strcasecmp(name + nl - el, exts[i]))
                return 25;
        }
    return 0;
}

static int html_probe(const uint8_t *head, size_t n, const char *name)
{
    char h[1024];
    size_t k = probe_head(head, n, h, sizeof h);
    static const char *const marks[] = {"<!doctype html", "<html", "<head>", "<body", "<meta "};
    if (!k || h[0] != '<')
        return 0;
    for (size_t i = 0; i < KS_ARRAY_LEN(marks); i++)
        if (ks__memmem_ci(h, k, marks[i], strlen(marks[i])))
            return 60;
    size_t nl = name ? strlen(name) : 0;
    if ((nl > 4 && !strcasecmp(name + nl - 4, ".htm")) || (nl > 5 && !strcasecmp(name + nl - 5, ".html")))
        return 40;
    return 0;
}

static int xml_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    return markup_extract(x, node, p, n, false);
}

static int html_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    return markup_extract(x, node, p, n, true);
}

const struct ks_extractor ks_extractor_xml = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "xml",
    .description = "XML text and address-like attribute values (every OOXML/ODF part), no DTD/entities",
    .probe = xml_probe,
    .extract = xml_extract,
};

const struct ks_extractor ks_extractor_html = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "html",
    .description = "HTML text, scripts, link and form values; tags and styles dropped, entities decoded",
    .probe = html_probe,
    .extract = html_extract,
};
