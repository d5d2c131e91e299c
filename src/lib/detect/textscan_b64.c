/* SPDX-License-Identifier: Apache-2.0
 *
 * Secrets that their format wraps in base64 (interface: textscan_int.h).
 *
 * Some formats say a value is base64 and hold a whole secret inside it:
 * a kubeconfig's client-key-data (a PEM key), a Kubernetes Secret's
 * `data:` (every value: a password, a token, tls.key, a whole
 * .dockerconfigjson with its own base64 "auth"), a Helm value or an
 * environment variable holding `base64 < key.pem`. The rules here find
 * such a value; instead of being reported itself, it is decoded into a
 * view (ts_view) that the scanner reads again with every rule (textscan.c,
 * deliver_decoded), so the key inside is reported as the key, hashed as
 * the key file a responder holds, located at the base64 it was read from
 * and marked `decoded: base64`.
 *
 *   b64_pem          base64 of a PEM block anywhere: "-----BEGIN" always
 *                    encodes to "LS0tLS1CRUdJTi", whatever the key word
 *   k8s_secret_data  the `data:` of a Kubernetes Secret (YAML or JSON):
 *                    each entry becomes `key: decoded value`, the way
 *                    `stringData:` writes it, so the key's name is the
 *                    context the rules know ("password: ...")
 *
 * Only values that decode to text (UTF-8, no control characters but line
 * breaks and tabs) are read again; a binary value (a keystore) is left.
 */
#include <string.h>
#include "detect/textscan_int.h"

#define DECODED_MAX (64 * 1024) /* one decoded value (a PEM chain, a docker config) */
#define SIBLING_LINES 400       /* lines looked through for the Secret's "kind" */

static bool b64_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '+' || ch == '/';
}

/* End of the base64 run at t[i..n): base64 characters, then '=' padding. */
static size_t b64_run(const char *t, size_t n, size_t i)
{
    while (i < n && b64_char(t[i]))
        i++;
    for (int k = 0; k < 2 && i < n && t[i] == '='; k++)
        i++;
    return i;
}

/* Text a view may hold: valid UTF-8, no control characters but line
 * breaks and tabs. */
static bool texty(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t') || p[i] == 0x7f)
            return false;
    return ks__utf8_valid((const char *)p, n);
}

/* Appends the decoding of t[vs..ve) to the view as one segment; false
 * when it is not base64 of text (the view is left as it was). */
static bool view_decoded(ts_view *v, const char *t, size_t vs, size_t ve)
{
    size_t cap = (ve - vs) / 4 * 3 + 3;
    if (cap > DECODED_MAX || ks__buf_grow(&v->text, cap + 1) != KS_OK)
        return false;
    long dn = ks__ts_b64_decode(t + vs, ve - vs, (uint8_t *)v->text.p + v->text.n, cap);
    if (dn <= 0 || !texty((const uint8_t *)v->text.p + v->text.n, (size_t)dn))
        return false;
    if (ks__grow(&v->segs, &v->capsegs, v->nsegs, sizeof *v->segs, 8) != KS_OK)
        return false;
    v->segs[v->nsegs++] = (ts_seg){v->text.n, (size_t)dn, vs, ve};
    v->text.n += (size_t)dn;
    v->text.p[v->text.n] = 0;
    return true;
}

/* ---- base64 of a PEM block -------------------------------------------------------- */

/* The run from the match on; a run wrapped at a fixed width (base64(1)'s
 * 76 columns, a YAML block) goes on over the line breaks. */
static size_t pem_run_end(const char *t, size_t n, size_t vs)
{
    size_t e = b64_run(t, n, vs), ls = vs;
    while (e < n && t[e - 1] != '=' && e - ls >= 60) {
        size_t j = e + (t[e] == '\r');
        if (j >= n || t[j] != '\n')
            break;
        j++;
        while (j < n && (t[j] == ' ' || t[j] == '\t'))
            j++;
        size_t k = b64_run(t, n, j);
        if (k == j)
            break;
        ls = j;
        e = k;
    }
    return e;
}

static bool v_b64_pem(ts_cand *c)
{
    size_t e = pem_run_end(c->text, c->n, c->vs);
    uint8_t head[16];
    /* the block's first line decides: "-----BEGIN ... PRIVATE KEY" (or any
     * PEM: the view is read with every rule, a certificate gives nothing) */
    long hn = ks__ts_b64_decode(c->text + c->vs, 20, head, sizeof head);
    if (hn < 10 || memcmp(head, "-----BEGIN", 10) != 0 || e - c->vs < 40)
        return false;
    c->ve = e;
    return true;
}

static bool view_b64_pem(const char *t, size_t n, size_t vs, size_t ve, ts_view *v)
{
    (void)n;
    return view_decoded(v, t, vs, ve);
}

/* ---- a Kubernetes Secret's data -------------------------------------------------- */

typedef struct line {
    size_t s, e;     /* the line, without its break */
    size_t key;      /* column of its first character that is no indentation
                      * nor a YAML list marker ("- ") */
    bool item;       /* starts a list item */
} line;

static line line_at(const char *t, size_t n, size_t s)
{
    line l = {s, s, 0, false};
    const char *nl = memchr(t + s, '\n', n - s);
    l.e = nl ? (size_t)(nl - t) : n;
    if (l.e > s && t[l.e - 1] == '\r')
        l.e--;
    size_t i = s;
    while (i < l.e && (t[i] == ' ' || (t[i] == '-' && i + 1 < l.e && t[i + 1] == ' '))) {
        l.item |= t[i] == '-';
        i++;
    }
    l.key = i - s;
    return l;
}

static size_t line_start(const char *t, size_t i)
{
    while (i > 0 && t[i - 1] != '\n')
        i--;
    return i;
}

static bool blank(const char *t, const line *l)
{
    size_t i = l->s + l->key;
    return i >= l->e || t[i] == '#';
}

/* `kind: Secret` (YAML) or `"kind": "Secret"` (JSON) at p[0..n). */
static bool kind_secret(const char *p, size_t n)
{
    size_t i = 0;
    bool q = n && p[0] == '"';
    i += q;
    if (n - i < 5 || memcmp(p + i, "kind", 4) != 0)
        return false;
    i += 4 + q;
    while (i < n && p[i] == ' ')
        i++;
    if (i >= n || p[i++] != ':')
        return false;
    while (i < n && p[i] == ' ')
        i++;
    if (i < n && (p[i] == '"' || p[i] == '\''))
        i++;
    return n - i >= 6 && !memcmp(p + i, "Secret", 6) &&
           (n - i == 6 || !((p[i + 6] | 0x20) >= 'a' && (p[i + 6] | 0x20) <= 'z'));
}

/* The mapping's other keys, at the data key's column (line l), before it
 * and after the block ending at end: one says kind Secret. Minified JSON
 * (the whole object on one line) is looked through on that line. */
static bool in_secret(const char *t, size_t n, const line *dl, size_t end)
{
    if (end <= dl->e) { /* one line */
        size_t s = dl->s > 4096 ? KS_MAX(dl->s, dl->s + dl->key - 4096) : dl->s;
        size_t e = KS_MIN(dl->e, end + 4096);
        for (const char *p = t + s; (p = memchr(p, '"', (size_t)(t + e - p))); p++)
            if (kind_secret(p, (size_t)(t + e - p)))
                return true;
        return false;
    }
    size_t at = dl->s;
    for (int k = 0; k < SIBLING_LINES && at > 0; k++) { /* up */
        line l = line_at(t, n, line_start(t, at - 1));
        at = l.s;
        if (blank(t, &l))
            continue;
        if (l.key < dl->key || (l.e - l.s >= 3 && !memcmp(t + l.s, "---", 3)))
            break;
        if (l.key == dl->key && kind_secret(t + l.s + l.key, l.e - l.s - l.key))
            return true;
        if (l.key == dl->key && l.item)
            break;
    }
    at = end;
    for (int k = 0; k < SIBLING_LINES && at < n; k++) { /* down */
        line l = line_at(t, n, at);
        const char *nl = memchr(t + l.e, '\n', n - l.e);
        at = nl ? (size_t)(nl - t) + 1 : n;
        if (blank(t, &l))
            continue;
        if (l.key < dl->key || (l.key == dl->key && l.item))
            break;
        if (l.key == dl->key && kind_secret(t + l.s + l.key, l.e - l.s - l.key))
            return true;
    }
    return false;
}

/* One entry of the data block: its key and its base64 value. */
typedef struct entry {
    size_t ks, ke, vs, ve;
} entry;

static bool key_char(char ch)
{
    return b64_char(ch) || ch == '.' || ch == '_' || ch == '-';
}

/* YAML: the entry on the line at i (deeper than col); false at the end of
 * the block. *next: where the next line starts. Lines that are no entry
 * inside the block (a comment) are passed with e->ks == e->ke. */
static bool yaml_entry(const char *t, size_t n, size_t i, size_t col, entry *e, size_t *next)
{
    if (i >= n)
        return false;
    line l = line_at(t, n, i);
    const char *nl = memchr(t + l.e, '\n', n - l.e);
    *next = nl ? (size_t)(nl - t) + 1 : n;
    *e = (entry){0, 0, 0, 0};
    if (blank(t, &l))
        return l.e > l.s + l.key || *next < n; /* a comment, or an empty line inside */
    if (l.key <= col || l.item)
        return false;
    size_t k = l.s + l.key, ke = k;
    while (ke < l.e && key_char(t[ke]))
        ke++;
    if (ke == k || ke >= l.e || t[ke] != ':')
        return true;
    size_t v = ke + 1;
    while (v < l.e && t[v] == ' ')
        v++;
    char q = v < l.e && (t[v] == '"' || t[v] == '\'') ? t[v] : 0;
    v += q != 0;
    size_t ve = b64_run(t, l.e, v);
    if (ve > v && (q ? ve < l.e && t[ve] == q : ve == l.e || t[ve] == ' '))
        *e = (entry){k, ke, v, ve};
    return true;
}

/* JSON: the entry at i inside the data object; false at its end. */
static bool json_entry(const char *t, size_t n, size_t i, entry *e, size_t *next)
{
    while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n' || t[i] == ','))
        i++;
    if (i >= n || t[i] != '"')
        return false;
    size_t k = ++i;
    while (i < n && key_char(t[i]))
        i++;
    if (i >= n || t[i] != '"')
        return false;
    size_t ke = i++;
    while (i < n && (t[i] == ' ' || t[i] == ':'))
        i++;
    if (i >= n || t[i] != '"')
        return false;
    size_t v = ++i, ve = b64_run(t, n, v);
    if (ve >= n || t[ve] != '"')
        return false;
    *e = (entry){k, ke, v, ve};
    *next = ve + 1;
    return true;
}

/* The data block whose key the match found at vs: its entries one by
 * one (fn per entry with a value); the block's end. */
static size_t k8s_entries(const char *t, size_t n, size_t vs,
                          bool (*fn)(void *ud, const char *t, const entry *e), void *ud)
{
    bool json = memchr(t + vs, '{', n - vs) && t[vs] == '"';
    size_t i, next, end = vs;
    entry e;
    if (json) {
        i = (size_t)((const char *)memchr(t + vs, '{', n - vs) - t) + 1;
        while (json_entry(t, n, i, &e, &next)) {
            if (fn && !fn(ud, t, &e))
                break;
            end = i = next;
        }
        return end;
    }
    line dl = line_at(t, n, line_start(t, vs));
    const char *nl = memchr(t + dl.e, '\n', n - dl.e);
    for (i = nl ? (size_t)(nl - t) + 1 : n; yaml_entry(t, n, i, dl.key, &e, &next); i = next) {
        if (e.ke > e.ks && fn && !fn(ud, t, &e))
            break;
        if (e.ke > e.ks)
            end = next;
    }
    return end;
}

static bool entry_texty(void *ud, const char *t, const entry *e)
{
    uint8_t head[48];
    if (*(bool *)ud)
        return true;
    long dn = ks__ts_b64_decode(t + e->vs, KS_MIN(e->ve - e->vs, (size_t)64), head, sizeof head);
    if (dn > 0 && texty(head, (size_t)dn - (dn > 3 ? 3 : 0))) /* a cut UTF-8 tail */
        *(bool *)ud = true;
    return true;
}

static bool v_k8s_data(ts_cand *c)
{
    /* the match is the key ("data:" / "\"data\": {"): from its name on */
    size_t vs = c->vs;
    while (vs < c->ve && c->text[vs] != 'd' && c->text[vs] != '"')
        vs++;
    bool any = false;
    size_t end = k8s_entries(c->text, c->n, vs, entry_texty, &any);
    if (!any || end <= vs)
        return false;
    line dl = line_at(c->text, c->n, line_start(c->text, vs));
    if (!in_secret(c->text, c->n, &dl, end))
        return false;
    c->vs = vs;
    c->ve = end;
    return true;
}

/* `key: decoded` per entry, one line each (a PEM's own lines follow). */
static bool view_entry(void *ud, const char *t, const entry *e)
{
    ts_view *v = ud;
    size_t mark = v->text.n;
    if (ks__buf_add(&v->text, t + e->ks, e->ke - e->ks) != KS_OK || ks__buf_add(&v->text, ": ", 2) != KS_OK)
        return false;
    if (!view_decoded(v, t, e->vs, e->ve)) {
        v->text.n = mark; /* not text: left out */
        v->text.p[mark] = 0;
        return true;
    }
    return ks__buf_addc(&v->text, '\n') == KS_OK;
}

static bool view_k8s_data(const char *t, size_t n, size_t vs, size_t ve, ts_view *v)
{
    (void)ve;
    k8s_entries(t, n, vs, view_entry, v);
    return v->nsegs > 0;
}

/* ---- table of decoders (and textscan_table.c's column view) ----------------------- */

static const ts_validator decoders[] = {
    {"b64_pem", v_b64_pem, false, view_b64_pem},
    {"k8s_secret_data", v_k8s_data, false, view_k8s_data},
    {"password_column", ks__tsv_password_column, false, ks__ts_password_column_view},
};

const ts_validator *ks__ts_decoder_find(const char *name)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(decoders); i++)
        if (!strcmp(decoders[i].name, name))
            return &decoders[i];
    return NULL;
}
