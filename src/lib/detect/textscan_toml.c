/* SPDX-License-Identifier: Apache-2.0
 *
 * The TOML subset gitleaks configurations are written in, read into a small
 * tree in the caller's arena (textscan_int.h): comments, [table] and
 * [[array.of.tables]] headers with dotted or quoted keys, dotted keys,
 * basic / literal / multi-line strings with escapes, integers and floats,
 * booleans, arrays (multi-line, trailing comma) and inline tables. Dates
 * are refused with a located error, as is anything else outside that
 * subset. Depth and node count are capped against hostile files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "detect/textscan_int.h"

#define TOML_MAX_DEPTH 32
#define TOML_MAX_NODES 200000
#define TOML_MAX_STRING (1u << 20)

typedef struct tparser {
    ks_arena *a;
    const char *p, *end;
    uint32_t line;
    size_t nodes;
    char *err;
    size_t errcap;
    int depth;
} tparser;

static int fail(tparser *t, const char *why)
{
    if (!t->err[0])
        snprintf(t->err, t->errcap, "%s", why);
    return KS_EFORMAT;
}

static ts_toml *node_new(tparser *t, int type)
{
    if (++t->nodes > TOML_MAX_NODES)
        return NULL;
    ts_toml *n = ks__arena_alloc(t->a, sizeof *n);
    if (n) {
        memset(n, 0, sizeof *n);
        n->type = type;
        n->line = t->line;
    }
    return n;
}

static int add_kid(tparser *t, ts_toml *parent, const char *key, ts_toml *kid)
{
    if (parent->nkids == parent->cap) {
        size_t nc = parent->cap ? parent->cap * 2 : 8;
        ts_toml **nk = ks__arena_alloc(t->a, nc * sizeof *nk);
        const char **nkeys = ks__arena_alloc(t->a, nc * sizeof *nkeys);
        if (!nk || !nkeys)
            return KS_ENOMEM;
        if (parent->nkids) {
            memcpy(nk, parent->kids, parent->nkids * sizeof *nk);
            memcpy(nkeys, parent->keys, parent->nkids * sizeof *nkeys);
        }
        parent->kids = nk;
        parent->keys = nkeys;
        parent->cap = nc;
    }
    parent->keys[parent->nkids] = key;
    parent->kids[parent->nkids++] = kid;
    return KS_OK;
}

const ts_toml *ks__toml_get(const ts_toml *t, const char *key)
{
    if (!t || t->type != TT_TABLE)
        return NULL;
    for (size_t i = t->nkids; i-- > 0;)
        if (t->keys[i] && !strcmp(t->keys[i], key))
            return t->kids[i];
    return NULL;
}

/* ---- lexing ------------------------------------------------------------------- */

/* Skips blanks, and with nl also newlines and comments. */
static void skip(tparser *t, bool nl)
{
    while (t->p < t->end) {
        char c = *t->p;
        if (c == ' ' || c == '\t' || c == '\r')
            t->p++;
        else if (c == '#') {
            while (t->p < t->end && *t->p != '\n')
                t->p++;
        } else if (nl && c == '\n') {
            t->line++;
            t->p++;
        } else
            break;
    }
}

static bool bare_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static int utf8_escape(tparser *t, ks_buf *b, int digits)
{
    uint32_t cp = 0;
    if (t->end - t->p < digits)
        return fail(t, "short unicode escape");
    for (int i = 0; i < digits; i++) {
        int v = ks__hexval((unsigned char)*t->p++);
        if (v < 0)
            return fail(t, "bad unicode escape");
        cp = cp * 16 + (uint32_t)v;
    }
    char u[4];
    return ks__buf_add(b, u, ks__utf8_put(u, cp));
}

/* A string of any of the four kinds; t->p at the opening quote. */
static int lex_string(tparser *t, const char **out, size_t *outn)
{
    char q = *t->p;
    bool multi = t->end - t->p >= 3 && t->p[1] == q && t->p[2] == q;
    ks_buf b = KS_BUF_INIT;
    int rc = KS_OK;
    b.limit = TOML_MAX_STRING;
    t->p += multi ? 3 : 1;
    if (multi && t->p < t->end && *t->p == '\n') {
        t->p++;
        t->line++;
    } else if (multi && t->end - t->p >= 2 && t->p[0] == '\r' && t->p[1] == '\n') {
        t->p += 2;
        t->line++;
    }
    for (;;) {
        if (t->p >= t->end) {
            rc = fail(t, "unterminated string");
            goto out;
        }
        char c = *t->p;
        if (c == q && (!multi || (t->end - t->p >= 3 && t->p[1] == q && t->p[2] == q))) {
            t->p += multi ? 3 : 1;
            /* up to two more quotes belong to a multi-line string */
            while (multi && t->p < t->end && *t->p == q && (rc = ks__buf_addc(&b, q)) == KS_OK)
                t->p++;
            break;
        }
        if (c == '\n') {
            if (!multi) {
                rc = fail(t, "newline in a single-line string");
                goto out;
            }
            t->line++;
        }
        if (c == '\\' && q == '"') {
            t->p++;
            if (t->p >= t->end) {
                rc = fail(t, "unterminated escape");
                goto out;
            }
            char e = *t->p++;
            switch (e) {
            case 'n': rc = ks__buf_addc(&b, '\n'); break;
            case 't': rc = ks__buf_addc(&b, '\t'); break;
            case 'r': rc = ks__buf_addc(&b, '\r'); break;
            case 'b': rc = ks__buf_addc(&b, '\b'); break;
            case 'f': rc = ks__buf_addc(&b, '\f'); break;
            case 'e': rc = ks__buf_addc(&b, 0x1b); break;
            case '"': rc = ks__buf_addc(&b, '"'); break;
            case '\\': rc = ks__buf_addc(&b, '\\'); break;
            case 'u': rc = utf8_escape(t, &b, 4); break;
            case 'U': rc = utf8_escape(t, &b, 8); break;
            default:
                if (multi && (e == '\n' || e == ' ' || e == '\t' || e == '\r')) {
                    /* line-ending backslash: trim the white space after it */
                    t->p--;
                    while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' || *t->p == '\r' ||
                                             *t->p == '\n')) {
                        if (*t->p == '\n')
                            t->line++;
                        t->p++;
                    }
                } else {
                    rc = fail(t, "unknown escape in a basic string");
                }
            }
            if (rc != KS_OK)
                goto out;
            continue;
        }
        if ((rc = ks__buf_addc(&b, c)) != KS_OK)
            goto out;
        t->p++;
    }
    if (rc == KS_OK) {
        *out = ks__arena_strndup(t->a, b.p ? b.p : "", b.n);
        *outn = b.n;
        if (!*out)
            rc = KS_ENOMEM;
    }
out:
    ks__buf_release(&b);
    return rc;
}

/* One key part: bare or quoted. */
static int lex_key(tparser *t, const char **out)
{
    size_t n;
    skip(t, false);
    if (t->p < t->end && (*t->p == '"' || *t->p == '\''))
        return lex_string(t, out, &n);
    const char *s = t->p;
    while (t->p < t->end && bare_char(*t->p))
        t->p++;
    if (t->p == s)
        return fail(t, "expected a key");
    *out = ks__arena_strndup(t->a, s, (size_t)(t->p - s));
    return *out ? KS_OK : KS_ENOMEM;
}

/* A dotted key: up to 16 parts. */
static int lex_dotted(tparser *t, const char **parts, size_t *np)
{
    int rc;
    *np = 0;
    for (;;) {
        if (*np == 16)
            return fail(t, "key with too many parts");
        if ((rc = lex_key(t, &parts[(*np)++])) != KS_OK)
            return rc;
        skip(t, false);
        if (t->p < t->end && *t->p == '.') {
            t->p++;
            continue;
        }
        return KS_OK;
    }
}

/* ---- values --------------------------------------------------------------------- */

static int parse_value(tparser *t, ts_toml **out);

static int parse_array(tparser *t, ts_toml **out)
{
    ts_toml *arr = node_new(t, TT_ARR);
    int rc;
    if (!arr)
        return KS_ELIMIT;
    t->p++; /* [ */
    for (;;) {
        skip(t, true);
        if (t->p >= t->end)
            return fail(t, "unterminated array");
        if (*t->p == ']') {
            t->p++;
            break;
        }
        ts_toml *v = NULL;
        if ((rc = parse_value(t, &v)) != KS_OK || (rc = add_kid(t, arr, NULL, v)) != KS_OK)
            return rc;
        skip(t, true);
        if (t->p < t->end && *t->p == ',')
            t->p++;
        else if (t->p < t->end && *t->p != ']')
            return fail(t, "expected , or ] in an array");
    }
    *out = arr;
    return KS_OK;
}

static int set_dotted(tparser *t, ts_toml *tab, const char **parts, size_t np, ts_toml *v);

static int parse_inline_table(tparser *t, ts_toml **out)
{
    ts_toml *tab = node_new(t, TT_TABLE);
    int rc;
    if (!tab)
        return KS_ELIMIT;
    t->p++; /* { */
    for (;;) {
        skip(t, true);
        if (t->p >= t->end)
            return fail(t, "unterminated inline table");
        if (*t->p == '}') {
            t->p++;
            break;
        }
        const char *parts[16];
        size_t np;
        ts_toml *v = NULL;
        if ((rc = lex_dotted(t, parts, &np)) != KS_OK)
            return rc;
        skip(t, false);
        if (t->p >= t->end || *t->p != '=')
            return fail(t, "expected = in an inline table");
        t->p++;
        if ((rc = parse_value(t, &v)) != KS_OK || (rc = set_dotted(t, tab, parts, np, v)) != KS_OK)
            return rc;
        skip(t, true);
        if (t->p < t->end && *t->p == ',')
            t->p++;
    }
    *out = tab;
    return KS_OK;
}

static int parse_value(tparser *t, ts_toml **out)
{
    int rc = KS_OK;
    skip(t, false);
    if (t->p >= t->end)
        return fail(t, "expected a value");
    if (++t->depth > TOML_MAX_DEPTH)
        return fail(t, "values nested too deeply");
    char c = *t->p;
    if (c == '"' || c == '\'') {
        ts_toml *s = node_new(t, TT_STR);
        if (!s)
            rc = KS_ELIMIT;
        else if ((rc = lex_string(t, &s->s, &s->n)) == KS_OK)
            *out = s;
    } else if (c == '[') {
        rc = parse_array(t, out);
    } else if (c == '{') {
        rc = parse_inline_table(t, out);
    } else if (t->end - t->p >= 4 && !strncmp(t->p, "true", 4)) {
        ts_toml *b = node_new(t, TT_BOOL);
        t->p += 4;
        if (!b)
            rc = KS_ELIMIT;
        else {
            b->b = true;
            *out = b;
        }
    } else if (t->end - t->p >= 5 && !strncmp(t->p, "false", 5)) {
        ts_toml *b = node_new(t, TT_BOOL);
        t->p += 5;
        if (!b)
            rc = KS_ELIMIT;
        else
            *out = b;
    } else if ((c >= '0' && c <= '9') || c == '+' || c == '-') {
        char num[64];
        size_t o = 0;
        while (t->p < t->end && o + 1 < sizeof num &&
               (strchr("+-.eE_xob", *t->p) || (*t->p >= '0' && *t->p <= '9') ||
                (*t->p >= 'a' && *t->p <= 'f') || (*t->p >= 'A' && *t->p <= 'F'))) {
            if (*t->p != '_')
                num[o++] = *t->p;
            t->p++;
        }
        num[o] = 0;
        char *endp = NULL;
        ts_toml *v = node_new(t, TT_NUM);
        if (!v)
            rc = KS_ELIMIT;
        else {
            v->num = strtod(num, &endp);
            if (!endp || *endp)
                rc = fail(t, "not a number (dates are not supported)");
            *out = v;
        }
    } else {
        rc = fail(t, "unexpected character where a value belongs");
    }
    t->depth--;
    return rc;
}

/* ---- tables --------------------------------------------------------------------- */

/* The table under key in tab, created when absent; the last element of an
 * array of tables. */
static int sub_table(tparser *t, ts_toml *tab, const char *key, ts_toml **out)
{
    ts_toml *k = (ts_toml *)ks__toml_get(tab, key);
    if (k && k->type == TT_ARR && k->nkids && k->kids[k->nkids - 1]->type == TT_TABLE) {
        *out = k->kids[k->nkids - 1];
        return KS_OK;
    }
    if (k && k->type == TT_TABLE) {
        *out = k;
        return KS_OK;
    }
    if (k)
        return fail(t, "key already holds a value");
    ts_toml *n = node_new(t, TT_TABLE);
    if (!n)
        return KS_ELIMIT;
    *out = n;
    return add_kid(t, tab, key, n);
}

static int set_dotted(tparser *t, ts_toml *tab, const char **parts, size_t np, ts_toml *v)
{
    int rc;
    for (size_t i = 0; i + 1 < np; i++)
        if ((rc = sub_table(t, tab, parts[i], &tab)) != KS_OK)
            return rc;
    if (ks__toml_get(tab, parts[np - 1]))
        return fail(t, "duplicate key");
    return add_kid(t, tab, parts[np - 1], v);
}

static int header(tparser *t, ts_toml *root, ts_toml **cur)
{
    bool array = t->end - t->p >= 2 && t->p[1] == '[';
    const char *parts[16];
    size_t np;
    int rc;
    t->p += array ? 2 : 1;
    if ((rc = lex_dotted(t, parts, &np)) != KS_OK)
        return rc;
    skip(t, false);
    if (t->end - t->p < (array ? 2 : 1) || t->p[0] != ']' || (array && t->p[1] != ']'))
        return fail(t, "unterminated table header");
    t->p += array ? 2 : 1;
    ts_toml *tab = root;
    for (size_t i = 0; i + 1 < np; i++)
        if ((rc = sub_table(t, tab, parts[i], &tab)) != KS_OK)
            return rc;
    const char *last = parts[np - 1];
    if (!array)
        return sub_table(t, tab, last, cur);
    ts_toml *arr = (ts_toml *)ks__toml_get(tab, last);
    if (!arr) {
        if (!(arr = node_new(t, TT_ARR)))
            return KS_ELIMIT;
        if ((rc = add_kid(t, tab, last, arr)) != KS_OK)
            return rc;
    } else if (arr->type != TT_ARR) {
        return fail(t, "[[array]] over a key that is not an array");
    }
    ts_toml *elem = node_new(t, TT_TABLE);
    if (!elem)
        return KS_ELIMIT;
    *cur = elem;
    return add_kid(t, arr, NULL, elem);
}

int ks__toml_parse(ks_arena *a, const char *buf, size_t n, ts_toml **root, char *err,
                   size_t errcap, uint32_t *errline)
{
    tparser t = {.a = a, .p = buf, .end = buf + n, .line = 1, .err = err, .errcap = errcap};
    ts_toml *top = NULL, *cur;
    int rc = KS_OK;
    err[0] = 0;
    *errline = 0;
    *root = NULL;
    if (!(top = node_new(&t, TT_TABLE)))
        return KS_ENOMEM;
    cur = top;
    for (;;) {
        skip(&t, true);
        if (t.p >= t.end)
            break;
        if (*t.p == '[') {
            rc = header(&t, top, &cur);
        } else {
            const char *parts[16];
            size_t np;
            ts_toml *v = NULL;
            if ((rc = lex_dotted(&t, parts, &np)) == KS_OK) {
                skip(&t, false);
                if (t.p >= t.end || *t.p != '=')
                    rc = fail(&t, "expected =");
                else {
                    t.p++;
                    if ((rc = parse_value(&t, &v)) == KS_OK)
                        rc = set_dotted(&t, cur, parts, np, v);
                }
            }
        }
        if (rc != KS_OK)
            break;
        skip(&t, false);
        if (t.p < t.end && *t.p != '\n') {
            rc = fail(&t, "unexpected text after a value");
            break;
        }
    }
    if (rc != KS_OK) {
        if (rc == KS_ELIMIT)
            fail(&t, "too many TOML values");
        *errline = t.line;
        return rc == KS_ENOMEM ? rc : KS_EFORMAT;
    }
    *root = top;
    return KS_OK;
}
