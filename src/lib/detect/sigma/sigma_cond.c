/* SPDX-License-Identifier: Apache-2.0
 *
 * The Sigma condition language, parsed into an expression tree:
 *
 *   expr    := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | '(' expr ')' | quant 'of' target | IDENT
 *   quant   := '1' | N | 'all' | 'any'
 *   target  := 'them' | PATTERN          (PATTERN may hold * wildcards)
 *
 * Identifiers are resolved to search indices here, so evaluation never
 * compares strings. `them` excludes identifiers starting with `_` (as the
 * specification says). The deprecated aggregation syntax (`| count() > 5`)
 * is refused with its own message so `kensa rules check` can classify it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "sigma_int.h"

typedef struct parser {
    ks_arena *a;
    const char *s;        /* condition text */
    size_t n, pos;
    const char *tok;      /* current token */
    size_t tokn;
    const char *const *names;
    size_t nnames;
    int depth;
    char *err;
    size_t errcap;
    bool failed;
} parser;

static void fail(parser *p, const char *fmt, const char *tok, size_t tokn)
{
    if (p->failed)
        return;
    p->failed = true;
    snprintf(p->err, p->errcap, fmt, (int)(tokn > 60 ? 60 : tokn), tok ? tok : "");
}

static void next(parser *p)
{
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                             p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
    p->tok = p->s + p->pos;
    if (p->pos >= p->n) {
        p->tokn = 0;
        return;
    }
    char c = p->s[p->pos];
    if (c == '(' || c == ')' || c == '|') {
        p->tokn = 1;
        p->pos++;
        return;
    }
    size_t st = p->pos;
    while (p->pos < p->n) {
        c = p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ')' || c == '|')
            break;
        p->pos++;
    }
    p->tokn = p->pos - st;
}

static bool is(const parser *p, const char *kw)
{
    size_t k = strlen(kw);
    return p->tokn == k && strncasecmp(p->tok, kw, k) == 0;
}

static sg_cond *node(parser *p, uint8_t op)
{
    sg_cond *c = ks__arena_alloc(p->a, sizeof *c);
    if (!c) {
        fail(p, "out of memory%.*s", "", 0);
        return NULL;
    }
    memset(c, 0, sizeof *c);
    c->op = op;
    return c;
}

/* Wildcard match of an identifier pattern (only `*`, case-sensitive). */
static bool name_match(const char *pat, size_t pn, const char *s)
{
    char buf[256];
    if (pn >= sizeof buf)
        return false;
    for (size_t i = 0; i < pn; i++)
        buf[i] = pat[i] == '*' ? SG_GLOB_STAR : pat[i];
    return sg__glob_match(buf, pn, s, strlen(s), true);
}

static sg_cond *parse_expr(parser *p);

static sg_cond *parse_of(parser *p, uint8_t op, uint32_t min)
{
    next(p); /* past the quantifier */
    if (!is(p, "of")) {
        fail(p, "expected 'of' near '%.*s'", p->tok, p->tokn);
        return NULL;
    }
    next(p);
    if (p->tokn == 0 || p->tok[0] == '(' || p->tok[0] == ')' || p->tok[0] == '|') {
        fail(p, "expected 'them' or a pattern after 'of' near '%.*s'", p->tok, p->tokn);
        return NULL;
    }
    sg_cond *c = node(p, op);
    if (!c)
        return NULL;
    c->ref = min;
    c->refs = ks__arena_alloc(p->a, (p->nnames + 1) * sizeof *c->refs);
    if (!c->refs) {
        fail(p, "out of memory%.*s", "", 0);
        return NULL;
    }
    bool them = is(p, "them");
    for (size_t i = 0; i < p->nnames; i++) {
        if (them ? p->names[i][0] != '_' : name_match(p->tok, p->tokn, p->names[i]))
            c->refs[c->nrefs++] = (uint32_t)i;
    }
    if (c->nrefs == 0) {
        fail(p, "no search identifier matches '%.*s'", p->tok, p->tokn);
        return NULL;
    }
    next(p);
    return c;
}

static sg_cond *parse_unary(parser *p)
{
    sg_cond *c = NULL;
    if (p->failed)
        return NULL;
    if (++p->depth > SG_COND_MAX_DEPTH) {
        fail(p, "condition nested too deeply%.*s", "", 0);
        return NULL;
    }
    if (p->tokn == 0) {
        fail(p, "unexpected end of condition%.*s", "", 0);
    } else if (is(p, "not")) {
        next(p);
        sg_cond *a = parse_unary(p);
        if (a && (c = node(p, SG_C_NOT)))
            c->a = a;
    } else if (is(p, "(")) {
        next(p);
        c = parse_expr(p);
        if (c && !is(p, ")")) {
            fail(p, "expected ')' near '%.*s'", p->tok, p->tokn);
            c = NULL;
        } else if (c) {
            next(p);
        }
    } else if (is(p, "all")) {
        c = parse_of(p, SG_C_ALL, 0);
    } else if (is(p, "any")) {
        c = parse_of(p, SG_C_ANY, 1);
    } else if (p->tok[0] >= '0' && p->tok[0] <= '9') {
        uint32_t v = 0;
        for (size_t i = 0; i < p->tokn; i++) {
            if (p->tok[i] < '0' || p->tok[i] > '9' || v > 100000) {
                fail(p, "bad quantifier '%.*s'", p->tok, p->tokn);
                return NULL;
            }
            v = v * 10 + (uint32_t)(p->tok[i] - '0');
        }
        /* A number might also be a search identifier named "1": prefer it. */
        for (size_t i = 0; i < p->nnames; i++)
            if (strlen(p->names[i]) == p->tokn && memcmp(p->names[i], p->tok, p->tokn) == 0) {
                if ((c = node(p, SG_C_REF)))
                    c->ref = (uint32_t)i;
                next(p);
                p->depth--;
                return c;
            }
        c = parse_of(p, SG_C_ANY, v ? v : 1);
    } else if (is(p, ")") || is(p, "and") || is(p, "or") || is(p, "of") || is(p, "them")) {
        fail(p, "unexpected '%.*s'", p->tok, p->tokn);
    } else if (is(p, "|")) {
        fail(p, "aggregation expressions are deprecated (use correlation rules)%.*s", "", 0);
    } else {
        size_t i;
        for (i = 0; i < p->nnames; i++)
            if (strlen(p->names[i]) == p->tokn && memcmp(p->names[i], p->tok, p->tokn) == 0)
                break;
        if (i == p->nnames) {
            fail(p, "unknown search identifier '%.*s'", p->tok, p->tokn);
        } else if ((c = node(p, SG_C_REF))) {
            c->ref = (uint32_t)i;
            next(p);
        }
    }
    p->depth--;
    return p->failed ? NULL : c;
}

static sg_cond *parse_and(parser *p)
{
    sg_cond *l = parse_unary(p);
    while (l && is(p, "and")) {
        next(p);
        sg_cond *r = parse_unary(p), *c;
        if (!r || !(c = node(p, SG_C_AND)))
            return NULL;
        c->a = l;
        c->b = r;
        l = c;
    }
    return l;
}

static sg_cond *parse_expr(parser *p)
{
    sg_cond *l = parse_and(p);
    while (l && is(p, "or")) {
        next(p);
        sg_cond *r = parse_and(p), *c;
        if (!r || !(c = node(p, SG_C_OR)))
            return NULL;
        c->a = l;
        c->b = r;
        l = c;
    }
    return l;
}

int sg__cond_parse(ks_arena *a, const char *s, size_t n, const char *const *names,
                   size_t nnames, sg_cond **out, char *err, size_t errcap)
{
    parser p;
    memset(&p, 0, sizeof p);
    p.a = a;
    p.s = s;
    p.n = n;
    p.names = names;
    p.nnames = nnames;
    p.err = err;
    p.errcap = errcap;
    if (n > SG_COND_MAX_LEN) {
        snprintf(err, errcap, "condition longer than %d bytes", SG_COND_MAX_LEN);
        return KS_ERULE;
    }
    next(&p);
    sg_cond *c = parse_expr(&p);
    if (c && p.tokn != 0) {
        if (is(&p, "|"))
            fail(&p, "aggregation expressions are deprecated (use correlation rules)%.*s", "", 0);
        else
            fail(&p, "unexpected '%.*s' after the expression", p.tok, p.tokn);
        c = NULL;
    }
    if (!c) {
        if (!p.failed)
            snprintf(err, errcap, "empty condition");
        return KS_ERULE;
    }
    *out = c;
    return KS_OK;
}
