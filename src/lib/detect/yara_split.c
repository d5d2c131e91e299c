/* SPDX-License-Identifier: Apache-2.0
 *
 * YARA rule gates (see yara_split.h): a tokenizer for YARA source, a
 * reader of rule structure (modifiers, name, strings, condition), and the
 * analysis of a condition's top-level boolean shape.
 *
 * The tokenizer is told by the reader where a regular expression or a hex
 * string may start (after "=" in a strings section, after "matches"), as
 * YARA's own lexer is by its grammar; everywhere else "/" divides and "{"
 * opens a rule body. Anything unexpected makes the whole file "whole": it
 * then compiles exactly as written, in the always-run set, so a reader
 * mistake can cost speed but never a match.
 *
 * Condition analysis, from the grammar's precedence (or < and < not <
 * comparisons): a condition is split at depth-0 "or", then "and"; a
 * conjunction needs any one of its conjuncts' requirements (we keep the
 * most selective), a disjunction needs one of each disjunct's (union, only
 * when every disjunct has one). Atoms understood: $a, $a at/in ...,
 * #a > N (N >= 0), #a >= N / #a == N (N >= 1), any/all/N of them / (...),
 * uintN[be](K) == V (either side), pe.is_pe, filesize < <= > >= == N
 * (either side; sizes meet under "and", take the hull under "or"). "not",
 * "for", function calls, arithmetic: not understood, so no requirement.
 */
#include <stdlib.h>
#include <string.h>
#include <yara.h>
#include "detect/fileinfo.h"
#include "detect/yara_split.h"

#define MAX_RULE_STRINGS 100000
#define MAX_LINKED_RULES 4096 /* rules per file analysed for references */
#define MAX_TOKENS (1u << 20)

/* ---- tokens --------------------------------------------------------------------- */
typedef enum {
    T_EOF,
    T_ERR,
    T_IDENT,
    T_STRID, /* $name, $name*, $ */
    T_COUNT, /* #name */
    T_OFS,   /* @name */
    T_LEN,   /* !name */
    T_TEXT,
    T_REGEX,
    T_HEX,
    T_NUM,
    T_OP,    /* punctuation, 1 or 2 chars */
} tkind;

typedef struct tok {
    tkind k;
    size_t b, e;
} tok;

typedef struct lexer {
    const char *s;
    size_t n, pos;
} lexer;

static bool idch(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool tok_is(const lexer *lx, const tok *t, const char *w)
{
    size_t l = strlen(w);
    return t->e - t->b == l && memcmp(lx->s + t->b, w, l) == 0;
}

/* Skips blanks and comments; false on an unterminated comment. */
static bool skip_space(lexer *lx)
{
    while (lx->pos < lx->n) {
        char c = lx->s[lx->pos];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
            lx->pos++;
        } else if (c == '/' && lx->pos + 1 < lx->n && lx->s[lx->pos + 1] == '/') {
            while (lx->pos < lx->n && lx->s[lx->pos] != '\n')
                lx->pos++;
        } else if (c == '/' && lx->pos + 1 < lx->n && lx->s[lx->pos + 1] == '*') {
            const char *end = NULL;
            for (size_t i = lx->pos + 2; i + 1 < lx->n; i++)
                if (lx->s[i] == '*' && lx->s[i + 1] == '/') {
                    end = lx->s + i;
                    break;
                }
            if (!end)
                return false;
            lx->pos = (size_t)(end - lx->s) + 2;
        } else {
            break;
        }
    }
    return true;
}

/* Scans a "..." or /.../ body from pos (just after the opening quote) to
 * the closing delimiter; returns the position after it or 0. */
static size_t scan_delim(const lexer *lx, size_t pos, char close)
{
    while (pos < lx->n) {
        char c = lx->s[pos];
        if (c == '\n')
            return 0;
        if (c == '\\') {
            pos += 2;
            continue;
        }
        if (c == close)
            return pos + 1;
        pos++;
    }
    return 0;
}

/* Hex string body: up to the first '}' outside comments. */
static size_t scan_hex(const lexer *lx, size_t pos)
{
    while (pos < lx->n) {
        char c = lx->s[pos];
        if (c == '/' && pos + 1 < lx->n && lx->s[pos + 1] == '/') {
            while (pos < lx->n && lx->s[pos] != '\n')
                pos++;
            continue;
        }
        if (c == '/' && pos + 1 < lx->n && lx->s[pos + 1] == '*') {
            const char *e = NULL;
            for (size_t i = pos + 2; i + 1 < lx->n; i++)
                if (lx->s[i] == '*' && lx->s[i + 1] == '/') {
                    e = lx->s + i;
                    break;
                }
            if (!e)
                return 0;
            pos = (size_t)(e - lx->s) + 2;
            continue;
        }
        if (c == '}')
            return pos + 1;
        pos++;
    }
    return 0;
}

static tok lex(lexer *lx, bool value_ctx)
{
    tok t = {T_ERR, lx->pos, lx->pos};
    if (!skip_space(lx))
        return t;
    size_t p = lx->pos;
    t.b = p;
    if (p >= lx->n) {
        t.k = T_EOF;
        t.e = p;
        return t;
    }
    char c = lx->s[p];
    if (idch(c) && !(c >= '0' && c <= '9')) {
        while (p < lx->n && idch(lx->s[p]))
            p++;
        t.k = T_IDENT;
    } else if (c >= '0' && c <= '9') {
        if (c == '0' && p + 1 < lx->n && (lx->s[p + 1] == 'x' || lx->s[p + 1] == 'o'))
            p += 2;
        while (p < lx->n && (idch(lx->s[p])))
            p++;
        /* a fraction, not a range "1..2" */
        if (p + 1 < lx->n && lx->s[p] == '.' && lx->s[p + 1] >= '0' && lx->s[p + 1] <= '9') {
            p++;
            while (p < lx->n && idch(lx->s[p]))
                p++;
        }
        t.k = T_NUM;
    } else if (c == '$' || c == '#' || c == '@' || (c == '!' && !(p + 1 < lx->n && lx->s[p + 1] == '='))) {
        p++;
        while (p < lx->n && idch(lx->s[p]))
            p++;
        if (c == '$' && p < lx->n && lx->s[p] == '*')
            p++;
        t.k = c == '$' ? T_STRID : c == '#' ? T_COUNT : c == '@' ? T_OFS : T_LEN;
    } else if (c == '"') {
        if (!(p = scan_delim(lx, p + 1, '"')))
            return t;
        t.k = T_TEXT;
    } else if (c == '/' && value_ctx) {
        if (!(p = scan_delim(lx, p + 1, '/')))
            return t;
        while (p < lx->n && (lx->s[p] == 'i' || lx->s[p] == 's'))
            p++;
        t.k = T_REGEX;
    } else if (c == '{' && value_ctx) {
        if (!(p = scan_hex(lx, p + 1)))
            return t;
        t.k = T_HEX;
    } else {
        static const char *const two[] = {"==", "!=", "<=", ">=", "<<", ">>", ".."};
        p++;
        for (size_t i = 0; i < sizeof two / sizeof *two; i++)
            if (p < lx->n && lx->s[p - 1] == two[i][0] && lx->s[p] == two[i][1]) {
                p++;
                break;
            }
        t.k = T_OP;
    }
    t.e = p;
    lx->pos = p;
    return t;
}

static tok peek(lexer *lx, bool value_ctx)
{
    size_t save = lx->pos;
    tok t = lex(lx, value_ctx);
    lx->pos = save;
    return t;
}

/* ---- numbers -------------------------------------------------------------------- */
/* A YARA integer literal (decimal, 0x hex, 0o octal, KB/MB suffix). */
static bool num_value(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0, mul = 1;
    unsigned base = 10;
    size_t i = 0;
    if (n >= 2 && (s[n - 2] == 'K' || s[n - 2] == 'M') && s[n - 1] == 'B') {
        mul = s[n - 2] == 'K' ? 1024 : 1024 * 1024;
        n -= 2;
    }
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
        base = s[1] == 'x' ? 16 : 8;
        i = 2;
    }
    if (i >= n)
        return false;
    for (; i < n; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 99;
        if (d >= base || v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    if (v > UINT64_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

static bool tok_num(const lexer *lx, const tok *t, uint64_t *v)
{
    return t->k == T_NUM && num_value(lx->s + t->b, t->e - t->b, v);
}

/* ---- strings and their literals ------------------------------------------------- */
enum { M_NOCASE = 1, M_WIDE = 2, M_ASCII = 4, M_XOR = 8, M_B64 = 16 };

typedef struct ystr {
    size_t nb, ne;       /* name without '$' */
    tkind kind;          /* T_TEXT, T_HEX, T_REGEX */
    size_t vb, ve;       /* value token */
    unsigned mods;
    /* best literal: bytes of one ASCII form; wide is derived */
    uint8_t *lit;
    size_t litlen;
    bool caseless;
    bool has_lit;
} ystr;

/* "\xHH" at s[i] ('x' at i): the byte, or -1; i + 2 must be inside n. */
static int esc_hex(const char *s, size_t n, size_t i)
{
    uint8_t b;
    return i + 2 < n && ks__unhex(s + i + 1, 2, &b) ? b : -1;
}

/* Keeps the longer of the current run and the best so far. */
static void run_close(uint8_t *run, size_t *rn, uint8_t *best, size_t *bn)
{
    if (*rn > *bn) {
        memcpy(best, run, *rn);
        *bn = *rn;
    }
    *rn = 0;
}

/* Text string: the whole unescaped text is the literal. */
static bool lit_text(const char *s, size_t n, uint8_t *out, size_t *on)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[k++] = (uint8_t)s[i];
            continue;
        }
        if (++i >= n)
            return false;
        switch (s[i]) {
        case '"': out[k++] = '"'; break;
        case '\\': out[k++] = '\\'; break;
        case 't': out[k++] = '\t'; break;
        case 'n': out[k++] = '\n'; break;
        case 'r': out[k++] = '\r'; break;
        case 'x': {
            int b = esc_hex(s, n, i);
            if (b < 0)
                return false;
            out[k++] = (uint8_t)b;
            i += 2;
            break;
        }
        default: return false; /* an escape we do not know: no literal */
        }
    }
    *on = k;
    return true;
}

/* Hex string: the longest run of exact bytes outside alternatives. */
static bool lit_hex(const char *s, size_t n, uint8_t *best, size_t *bn)
{
    uint8_t *run = malloc(n + 1);
    size_t rn = 0;
    int depth = 0;
    if (!run)
        return false;
    *bn = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '/' && i + 1 < n && (s[i + 1] == '/' || s[i + 1] == '*')) {
            bool line = s[i + 1] == '/';
            for (i += 2; i < n; i++)
                if (line ? s[i] == '\n' : (s[i] == '*' && i + 1 < n && s[i + 1] == '/'))
                    break;
            i += line ? 0 : 1;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        int h = ks__hexval(c), l = i + 1 < n ? ks__hexval(s[i + 1]) : -1;
        if (h >= 0 && l >= 0) {
            if (depth == 0)
                run[rn++] = (uint8_t)(h << 4 | l);
            i++;
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')')
            depth--;
        else if (c == '[') {
            while (i < n && s[i] != ']')
                i++;
        } else if (c == '?' || (h >= 0 && i + 1 < n && s[i + 1] == '?')) {
            i++; /* ?? or ?X or X? */
        } else if (c == '~') {
            i += 2; /* ~XX: any byte but XX; the byte is skipped with it */
        }
        run_close(run, &rn, best, bn);
    }
    run_close(run, &rn, best, bn);
    free(run);
    return *bn > 0;
}

/* Regex: the longest run of characters every match contains, when the
 * top level has no alternation. Conservative: a character followed by a
 * quantifier that allows zero copies is dropped, any group, class, dot or
 * class escape ends the run. */
static bool lit_regex(const char *s, size_t n, uint8_t *best, size_t *bn)
{
    uint8_t *run = malloc(n + 1);
    size_t rn = 0;
    int depth = 0;
    bool ok = true;
    if (!run)
        return false;
    *bn = 0;
    for (size_t i = 0; i < n && ok; i++) {
        char c = s[i];
        int lit = -1;
        if (c == '\\') {
            if (++i >= n) {
                ok = false;
                break;
            }
            char e = s[i];
            if (e == 'x') {
                if ((lit = esc_hex(s, n, i)) < 0) {
                    ok = false;
                    break;
                }
                i += 2;
            } else if (e == 'n') {
                lit = '\n';
            } else if (e == 't') {
                lit = '\t';
            } else if (e == 'r') {
                lit = '\r';
            } else if (e == 'f') {
                lit = '\f';
            } else if (e == 'a') {
                lit = '\a';
            } else if (!idch(e)) {
                lit = (unsigned char)e; /* \. \/ \\ \( ... */
            } /* \w \d \s \b \B and friends: not a literal */
        } else if (c == '(') {
            depth++;
        } else if (c == ')') {
            depth--;
        } else if (c == '|') {
            if (depth == 0)
                ok = false; /* top-level alternation: no required literal */
        } else if (c == '[') {
            size_t j = i + 1;
            if (j < n && s[j] == '^')
                j++;
            if (j < n && s[j] == ']')
                j++;
            for (; j < n && s[j] != ']'; j++)
                if (s[j] == '\\')
                    j++;
            i = j;
        } else if (c == '.' || c == '^' || c == '$' || c == '*' || c == '+' || c == '?' ||
                   c == '{') {
            /* a quantifier not after a literal, or an anchor/any */
            if (c == '{')
                while (i < n && s[i] != '}')
                    i++;
        } else {
            lit = (unsigned char)c;
        }
        if (lit < 0 || depth > 0) {
            run_close(run, &rn, best, bn);
            continue;
        }
        /* What follows decides whether this character is required. */
        char q = i + 1 < n ? s[i + 1] : 0;
        if (q == '*' || q == '?' || (q == '{' && i + 2 < n && (s[i + 2] == '0' || s[i + 2] == ','))) {
            run_close(run, &rn, best, bn);
            continue;
        }
        run[rn++] = (uint8_t)lit;
        if (q == '+' || q == '{')
            run_close(run, &rn, best, bn); /* required once, repeats unknown */
    }
    run_close(run, &rn, best, bn);
    free(run);
    return ok && *bn > 0;
}

static void str_literal(const lexer *lx, ystr *st)
{
    const char *v = lx->s + st->vb;
    size_t n = st->ve - st->vb;
    uint8_t *buf;
    size_t bn = 0;
    bool ok = false;
    if (st->mods & (M_XOR | M_B64))
        return; /* the bytes in the file are transformed */
    if (n < 2 || !(buf = malloc(n)))
        return;
    if (st->kind == T_TEXT) {
        ok = lit_text(v + 1, n - 2, buf, &bn);
        st->caseless = st->mods & M_NOCASE;
    } else if (st->kind == T_HEX) {
        ok = lit_hex(v + 1, n - 2, buf, &bn);
    } else if (st->kind == T_REGEX) {
        size_t close = n - 1;
        while (close > 0 && v[close] != '/')
            close--;
        bool icase = memchr(v + close, 'i', n - close) != NULL;
        ok = close > 1 && lit_regex(v + 1, close - 1, buf, &bn);
        st->caseless = icase || (st->mods & M_NOCASE);
    }
    if (!ok || bn < KS_YSPLIT_MIN_LIT) {
        free(buf);
        return;
    }
    st->lit = buf;
    st->litlen = bn;
    st->has_lit = true;
}

/* ---- requirements --------------------------------------------------------------- */
/* Strings of a rule one of which must match. */
typedef struct sset {
    size_t *v;    /* indices into the rule's strings; owned */
    size_t n, cap;
    size_t score; /* shortest literal among them (bigger: rarer) */
} sset;

/* What a condition implies: facts that all hold whenever it is true, each
 * optional. magic: the bytes are there. strs: one of the strings matches.
 * mix: the bytes mix_magic are there or one of the strings mix matches
 * ("uint16(0) == 0x5a4d and ... or 3 of them"). */
typedef struct req {
    bool size_ok;     /* filesize in [smin, smax] */
    uint64_t smin, smax;
    bool magic_ok;
    ks_ymagic magic;
    bool strs_ok;
    sset strs;
    bool mix_ok;
    ks_ymagic mix_magic;
    sset mix;
} req;

typedef struct rctx {
    const lexer *lx;
    const tok *t;     /* condition tokens */
    ystr *strs;
    size_t nstrs;
    bool has_pe;
    bool oom;
    int depth;        /* recursion, bounded against hostile nesting */
} rctx;

#define MAX_DEPTH 64
#define MAX_COND_TOKENS 20000

static void req_free(req *r)
{
    free(r->strs.v);
    free(r->mix.v);
    memset(r, 0, sizeof *r);
}

/* Adds string i; false when it has no literal or memory ran out. */
static bool sset_add(rctx *c, sset *s, size_t i)
{
    if (!c->strs[i].has_lit)
        return false;
    for (size_t k = 0; k < s->n; k++)
        if (s->v[k] == i)
            return true;
    if (ks__grow(&s->v, &s->cap, s->n, sizeof *s->v, 8) != KS_OK) {
        c->oom = true;
        return false;
    }
    s->v[s->n++] = i;
    size_t sc = c->strs[i].litlen;
    s->score = s->n == 1 || sc < s->score ? sc : s->score;
    return true;
}

static bool sset_union(rctx *c, sset *s, const sset *x)
{
    for (size_t k = 0; k < x->n; k++)
        if (!sset_add(c, s, x->v[k]))
            return false;
    return true;
}

/* a names rarer strings than b, or as rare and fewer */
static bool sset_better(const sset *a, const sset *b)
{
    return a->score > b->score || (a->score == b->score && a->n < b->n);
}

static bool req_add(rctx *c, req *r, size_t i)
{
    if (!sset_add(c, &r->strs, i))
        return false;
    r->strs_ok = true;
    return true;
}

/* The string named by token t ($name or $prefix*): calls back per match. */
static bool set_member(rctx *c, const tok *t, req *r, bool all)
{
    const char *name = c->lx->s + t->b + 1;
    size_t nl = t->e - t->b - 1;
    bool wild = nl > 0 && name[nl - 1] == '*';
    bool any = false;
    if (wild)
        nl--;
    for (size_t i = 0; i < c->nstrs; i++) {
        const ystr *s = &c->strs[i];
        size_t sl = s->ne - s->nb;
        bool hit = wild ? sl >= nl && memcmp(c->lx->s + s->nb, name, nl) == 0
                        : sl == nl && nl > 0 && memcmp(c->lx->s + s->nb, name, nl) == 0;
        if (!hit)
            continue;
        if (all && !c->strs[i].has_lit)
            continue; /* "all of": required anyway, another one will do */
        any = true;
        if (!req_add(c, r, i))
            return false;
    }
    return any;
}

static size_t match_paren(const tok *t, const lexer *lx, size_t i, size_t j)
{
    int d = 0;
    for (size_t k = i; k < j; k++) {
        if (t[k].k == T_OP && (tok_is(lx, &t[k], "(") || tok_is(lx, &t[k], "[")))
            d++;
        else if (t[k].k == T_OP && (tok_is(lx, &t[k], ")") || tok_is(lx, &t[k], "]")))
            if (--d == 0)
                return k;
    }
    return j;
}

/* Conjuncts that are never true on a file the pe module does not parse.
 * On such a file libyara 4.2's pe module sets only its UPPER_CASE
 * constants and is_pe; every other member is unset and every function
 * returns undefined, and undefined goes through comparisons, arithmetic,
 * "contains"... and "not" (yara 4.2.3 matches neither `$a and not
 * pe.is_dll()` nor `$a and pe.number_of_signatures == 0` on a text file).
 * "$a at pe.entry_point" and "for any i in (0..pe.number_of_signatures)"
 * are plain false there (so not under "not"). The module parses only files
 * that start with "MZ", so such a conjunct implies that magic. Only tokens
 * known to carry undefined through are accepted: strings, other
 * identifiers, "defined", quantifiers and and/or leave the conjunct
 * unanalysed. Tied to libyara 4.2's semantics: another version turns it
 * off (the split == whole test guards it). */
#if YR_MAJOR_VERSION == 4 && YR_MINOR_VERSION == 2
#define PE_UNDEF_KNOWN 1
#else
#define PE_UNDEF_KNOWN 0
#endif

/* True when [i, j) holds only such tokens and a pe member that is unset
 * on a non-PE file. */
static bool pe_undef_span(rctx *c, size_t i, size_t j)
{
    static const char *const words[] = {"not",        "contains",    "icontains", "startswith",
                                        "istartswith", "endswith",   "iendswith", "iequals",
                                        "matches",    "filesize",    "true",      "false"};
    static const char ops[] = "()[],.=!<>+-*\\%&|^~";
    const tok *t = c->t;
    const lexer *lx = c->lx;
    bool undef = false;
    if (!PE_UNDEF_KNOWN || !c->has_pe)
        return false;
    for (size_t k = i; k < j; k++) {
        const char *w = lx->s + t[k].b;
        size_t wl = t[k].e - t[k].b;
        bool ok = t[k].k == T_NUM || t[k].k == T_TEXT || t[k].k == T_REGEX;
        if (t[k].k == T_OP)
            ok = wl == 2 ? strchr("=!<>.", w[0]) != NULL : strchr(ops, w[0]) != NULL;
        if (t[k].k == T_IDENT && k > i && tok_is(lx, &t[k - 1], "."))
            ok = true; /* a member name: pe.sections[0].name */
        if (t[k].k == T_IDENT && !ok && tok_is(lx, &t[k], "pe") && k + 2 < j &&
            tok_is(lx, &t[k + 1], ".") && t[k + 2].k == T_IDENT) {
            const char *m = lx->s + t[k + 2].b;
            size_t ml = t[k + 2].e - t[k + 2].b;
            if (tok_is(lx, &t[k + 2], "is_pe"))
                return false; /* defined (0) on any file */
            for (size_t x = 0; x < ml; x++)
                undef |= m[x] >= 'a' && m[x] <= 'z';
            ok = true;
        }
        for (size_t x = 0; t[k].k == T_IDENT && !ok && x < sizeof words / sizeof *words; x++)
            ok = tok_is(lx, &t[k], words[x]);
        if (!ok)
            return false;
    }
    return undef;
}

static bool pe_undef_atom(rctx *c, size_t i, size_t j)
{
    const tok *t = c->t;
    const lexer *lx = c->lx;
    uint64_t q = 0;
    /* for any|N i in (range) : (...) */
    if (j - i >= 6 && tok_is(lx, &t[i], "for") &&
        (tok_is(lx, &t[i + 1], "any") || (tok_num(lx, &t[i + 1], &q) && q >= 1)) &&
        t[i + 2].k == T_IDENT && tok_is(lx, &t[i + 3], "in") && tok_is(lx, &t[i + 4], "(")) {
        size_t close = match_paren(t, lx, i + 4, j);
        return close < j && pe_undef_span(c, i + 5, close);
    }
    /* $a at X, $a in (X..Y) */
    if (j - i >= 3 && t[i].k == T_STRID && (tok_is(lx, &t[i + 1], "at") || tok_is(lx, &t[i + 1], "in")))
        return pe_undef_span(c, i + 2, j);
    return pe_undef_span(c, i, j);
}

static bool magic_atom(rctx *c, size_t i, size_t j, ks_ymagic *m)
{
    const tok *t = c->t;
    const lexer *lx = c->lx;
    static const struct { const char *name; uint8_t w, be; } fns[] = {
        {"uint8", 1, 0},    {"uint16", 2, 0},    {"uint32", 4, 0},
        {"uint8be", 1, 1},  {"uint16be", 2, 1},  {"uint32be", 4, 1},
    };
    if ((j - i == 3 && c->has_pe && tok_is(lx, &t[i], "pe") && tok_is(lx, &t[i + 1], ".") &&
         tok_is(lx, &t[i + 2], "is_pe")) ||
        pe_undef_atom(c, i, j)) {
        *m = (ks_ymagic){.off = 0, .width = 2, .be = 0, .value = 0x5a4d};
        return true;
    }
    if (j - i != 6)
        return false;
    size_t f = i, v = i + 5, eq = i + 4;
    if (t[i].k == T_NUM) { /* V == uintN(K) */
        f = i + 2;
        v = i;
        eq = i + 1;
    }
    if (!tok_is(lx, &t[eq], "=="))
        return false;
    for (size_t k = 0; k < sizeof fns / sizeof *fns; k++) {
        uint64_t off, val;
        if (!tok_is(lx, &t[f], fns[k].name) || !tok_is(lx, &t[f + 1], "(") ||
            !tok_is(lx, &t[f + 3], ")") || !tok_num(lx, &t[f + 2], &off) ||
            !tok_num(lx, &t[v], &val))
            continue;
        if (off > UINT32_MAX - 4 || (fns[k].w < 4 && val >> (8 * fns[k].w)))
            return false;
        if (val > UINT32_MAX)
            return false;
        if (fns[k].be) /* one form per magic: uint16be(0) == 0x4d5a is the MZ set's */
            val = fns[k].w == 2   ? __builtin_bswap16((uint16_t)val)
                  : fns[k].w == 4 ? __builtin_bswap32((uint32_t)val)
                                  : val;
        *m = (ks_ymagic){.off = (uint32_t)off, .width = fns[k].w, .be = 0, .value = (uint32_t)val};
        return true;
    }
    return false;
}

/* filesize OP N or N OP filesize (OP one of < <= > >= ==): the sizes it
 * allows, [lo, hi]. */
static bool size_atom(rctx *c, size_t i, size_t j, uint64_t *lo, uint64_t *hi)
{
    static const char *const ops[] = {"<", "<=", ">", ">=", "=="};
    static const char *const flip[] = {">", ">=", "<", "<=", "=="};
    const tok *t = c->t;
    const lexer *lx = c->lx;
    uint64_t v;
    if (j - i != 3)
        return false;
    bool left = tok_is(lx, &t[i], "filesize");
    if (!(left ? tok_num(lx, &t[i + 2], &v) : tok_is(lx, &t[i + 2], "filesize") &&
                                                  tok_num(lx, &t[i], &v)))
        return false;
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
        /* written as filesize OP v */
        if (!tok_is(lx, &t[i + 1], left ? ops[k] : flip[k]))
            continue;
        *lo = 0;
        *hi = UINT64_MAX;
        switch (k) {
        case 0: if (v == 0) return false; *hi = v - 1; break;
        case 1: *hi = v; break;
        case 2: if (v == UINT64_MAX) return false; *lo = v + 1; break;
        case 3: *lo = v; break;
        default: *lo = *hi = v; break;
        }
        return true;
    }
    return false;
}

static req analyze(rctx *c, size_t i, size_t j);

static req atom(rctx *c, size_t i, size_t j)
{
    const tok *t = c->t;
    const lexer *lx = c->lx;
    req r = {0};
    size_t n = j - i;
    if (n == 0)
        return r;
    if (magic_atom(c, i, j, &r.magic)) {
        r.magic_ok = true;
        return r;
    }
    if (size_atom(c, i, j, &r.smin, &r.smax)) {
        r.size_ok = true;
        return r;
    }
    /* $a, $a at X, $a in (X..Y) */
    if (t[i].k == T_STRID && (n == 1 || tok_is(lx, &t[i + 1], "at") || tok_is(lx, &t[i + 1], "in"))) {
        const char *nm = lx->s + t[i].b;
        size_t nl = t[i].e - t[i].b;
        if (nl < 2 || nm[nl - 1] == '*' || !set_member(c, &t[i], &r, false))
            req_free(&r);
        return r;
    }
    /* #a > N ... */
    if (t[i].k == T_COUNT && n == 3) {
        uint64_t v;
        bool ok = tok_num(lx, &t[i + 2], &v) &&
                  ((tok_is(lx, &t[i + 1], ">")) ||
                   (v >= 1 && (tok_is(lx, &t[i + 1], ">=") || tok_is(lx, &t[i + 1], "=="))));
        tok as = t[i];
        as.k = T_STRID;
        if (!ok || t[i].e - t[i].b < 2 || !set_member(c, &as, &r, false))
            req_free(&r);
        return r;
    }
    /* any/all/N of them | ( ... ) [at/in ...] */
    uint64_t q = 0;
    bool quant = tok_is(lx, &t[i], "any") || tok_is(lx, &t[i], "all") ||
                 (tok_num(lx, &t[i], &q) && q >= 1);
    if (quant && n >= 3 && tok_is(lx, &t[i + 1], "of")) {
        size_t after;
        bool ok = true, all = tok_is(lx, &t[i], "all");
        if (tok_is(lx, &t[i + 2], "them")) {
            for (size_t k = 0; k < c->nstrs && ok; k++)
                if (!all || c->strs[k].has_lit)
                    ok = req_add(c, &r, k);
            after = i + 3;
        } else if (tok_is(lx, &t[i + 2], "(")) {
            size_t close = match_paren(t, lx, i + 2, j);
            for (size_t k = i + 3; k < close && ok; k++) {
                if (t[k].k == T_OP && tok_is(lx, &t[k], ","))
                    continue;
                ok = t[k].k == T_STRID && set_member(c, &t[k], &r, all);
            }
            after = close + 1;
        } else {
            ok = false;
            after = j;
        }
        if (ok && after < j && !tok_is(lx, &t[after], "at") && !tok_is(lx, &t[after], "in"))
            ok = false;
        if (!ok || r.strs.n == 0) {
            req_free(&r);
            return r;
        }
        if (all) {
            /* every one is required: the rarest single literal will do */
            sset *ss = &r.strs;
            size_t bi = 0;
            for (size_t k = 1; k < ss->n; k++)
                if (c->strs[ss->v[k]].litlen > c->strs[ss->v[bi]].litlen)
                    bi = k;
            ss->v[0] = ss->v[bi];
            ss->n = 1;
            ss->score = c->strs[ss->v[0]].litlen;
        }
        return r;
    }
    return r;
}

/* Conjunction: every fact of either side holds; keep the most selective
 * of each kind. */
static void req_and(req *acc, req *x)
{
    if (x->size_ok) {
        acc->smin = acc->size_ok && acc->smin > x->smin ? acc->smin : x->smin;
        acc->smax = acc->size_ok && acc->smax < x->smax ? acc->smax : x->smax;
        acc->size_ok = true;
    }
    if (x->magic_ok && !acc->magic_ok) {
        acc->magic_ok = true;
        acc->magic = x->magic;
    }
    if (x->strs_ok && (!acc->strs_ok || sset_better(&x->strs, &acc->strs))) {
        free(acc->strs.v);
        acc->strs = x->strs;
        acc->strs_ok = true;
        x->strs.v = NULL;
    }
    if (x->mix_ok && (!acc->mix_ok || sset_better(&x->mix, &acc->mix))) {
        free(acc->mix.v);
        acc->mix = x->mix;
        acc->mix_magic = x->mix_magic;
        acc->mix_ok = true;
        x->mix.v = NULL;
    }
    req_free(x);
}

/* "magic m or a string of the result": each side must imply m, or
 * m-or-strings, or strings. False when a side cannot (or memory ran out). */
static bool mix_cover(rctx *c, const req *const side[2], const ks_ymagic *m, sset *out)
{
    for (int k = 0; k < 2; k++) {
        const req *sd = side[k];
        if (sd->magic_ok && ks__ymagic_eq(&sd->magic, m))
            continue;
        if (sd->mix_ok && ks__ymagic_eq(&sd->mix_magic, m)) {
            if (!sset_union(c, out, &sd->mix))
                return false;
        } else if (!sd->strs_ok || !sset_union(c, out, &sd->strs))
            return false;
    }
    return out->n > 0; /* none: both sides imply m, a plain magic fact */
}

/* Disjunction: a fact holds when each side supplies it: the same magic;
 * strings (united); or a magic on one side and strings on the other. */
static void req_or(rctx *c, req *acc, req *x, bool first)
{
    if (first) {
        *acc = *x;
        memset(x, 0, sizeof *x);
        return;
    }
    req out = {0};
    const req *const side[2] = {acc, x};
    /* either side's sizes: the hull of both */
    out.size_ok = acc->size_ok && x->size_ok;
    out.smin = acc->smin < x->smin ? acc->smin : x->smin;
    out.smax = acc->smax > x->smax ? acc->smax : x->smax;
    out.magic_ok = acc->magic_ok && x->magic_ok && ks__ymagic_eq(&acc->magic, &x->magic);
    out.magic = acc->magic;
    if (acc->strs_ok && x->strs_ok) {
        out.strs_ok = sset_union(c, &out.strs, &acc->strs) && sset_union(c, &out.strs, &x->strs);
        if (!out.strs_ok)
            out.strs.n = 0;
    }
    for (int k = 0; k < 4 && !out.mix_ok; k++) {
        const req *sd = side[k / 2];
        const ks_ymagic *m = k % 2 ? &sd->mix_magic : &sd->magic;
        if (!(k % 2 ? sd->mix_ok : sd->magic_ok))
            continue;
        sset u = {0};
        if (mix_cover(c, side, m, &u)) {
            out.mix_ok = true;
            out.mix_magic = *m;
            out.mix = u;
        } else
            free(u.v);
    }
    req_free(acc);
    req_free(x);
    *acc = out;
}

static req analyze(rctx *c, size_t i, size_t j)
{
    const tok *t = c->t;
    const lexer *lx = c->lx;
    req acc = {0};
    if (c->depth >= MAX_DEPTH)
        return acc;
    /* strip parentheses around the whole expression */
    while (j - i >= 2 && tok_is(lx, &t[i], "(") && match_paren(t, lx, i, j) == j - 1) {
        i++;
        j--;
    }
    static const char *const ops[] = {"or", "and"};
    for (int o = 0; o < 2; o++) {
        int d = 0;
        size_t start = i;
        bool split = false;
        for (size_t k = i; k <= j; k++) {
            bool at_end = k == j;
            if (!at_end && t[k].k == T_OP) {
                if (tok_is(lx, &t[k], "(") || tok_is(lx, &t[k], "["))
                    d++;
                else if (tok_is(lx, &t[k], ")") || tok_is(lx, &t[k], "]"))
                    d--;
            }
            if (at_end ? !split : !(d == 0 && t[k].k == T_IDENT && tok_is(lx, &t[k], ops[o])))
                continue;
            c->depth++;
            req x = analyze(c, start, k);
            c->depth--;
            if (o == 0)
                req_or(c, &acc, &x, !split);
            else
                req_and(&acc, &x);
            split = true;
            start = k + 1;
        }
        if (split)
            return acc;
    }
    return atom(c, i, j);
}

/* ---- the reader ----------------------------------------------------------------- */
typedef struct tokvec {
    tok *v;
    size_t n, cap;
} tokvec;

static bool tv_push(tokvec *tv, tok t)
{
    if (tv->n >= MAX_TOKENS || ks__grow(&tv->v, &tv->cap, tv->n, sizeof *tv->v, 64) != KS_OK)
        return false;
    tv->v[tv->n++] = t;
    return true;
}

typedef struct rawrule {
    size_t begin, end;
    size_t nb, ne;   /* name */
    bool global;
    bool priv;       /* private: never reported, so it may be copied */
    tokvec cond;
    ystr *strs;
    size_t nstrs, cap;
} rawrule;

static void raw_free(rawrule *r)
{
    for (size_t i = 0; i < r->nstrs; i++)
        free(r->strs[i].lit);
    free(r->strs);
    free(r->cond.v);
}

static const char *const modifier_names[] = {"nocase", "wide",  "ascii",   "xor",
                                             "base64", "base64wide", "fullword", "private"};
static const unsigned modifier_bits[] = {M_NOCASE, M_WIDE, M_ASCII, M_XOR, M_B64, M_B64, 0, 0};

/* Reads one rule's body after '{'. Returns false on anything unexpected. */
static bool read_body(lexer *lx, rawrule *r)
{
    enum { S_NONE, S_META, S_STRINGS, S_COND } sec = S_NONE;
    for (;;) {
        tok t = lex(lx, false);
        if (t.k == T_EOF || t.k == T_ERR)
            return false;
        if (t.k == T_OP && tok_is(lx, &t, "}")) {
            r->end = t.e;
            return true;
        }
        if (t.k == T_IDENT && sec != S_COND) {
            tok nx = peek(lx, false);
            if (nx.k == T_OP && tok_is(lx, &nx, ":")) {
                if (tok_is(lx, &t, "meta"))
                    sec = S_META;
                else if (tok_is(lx, &t, "strings"))
                    sec = S_STRINGS;
                else if (tok_is(lx, &t, "condition"))
                    sec = S_COND;
                else
                    return false;
                lex(lx, false);
                continue;
            }
        } else if (t.k == T_IDENT && tok_is(lx, &t, "condition")) {
            return false; /* a second condition section */
        }
        if (sec == S_META) {
            /* key = value: values are text, numbers, true/false, -N */
            continue;
        }
        if (sec == S_COND) {
            if (!tv_push(&r->cond, t))
                return false;
            if (t.k == T_IDENT && tok_is(lx, &t, "matches")) {
                tok re = lex(lx, true);
                if (re.k != T_REGEX || !tv_push(&r->cond, re))
                    return false;
            }
            continue;
        }
        if (sec != S_STRINGS || t.k != T_STRID)
            return false;
        tok eq = lex(lx, false);
        if (eq.k != T_OP || !tok_is(lx, &eq, "="))
            return false;
        tok v = lex(lx, true);
        if (v.k != T_TEXT && v.k != T_HEX && v.k != T_REGEX)
            return false;
        if (r->nstrs >= MAX_RULE_STRINGS)
            return false;
        if (ks__grow(&r->strs, &r->cap, r->nstrs, sizeof *r->strs, 8) != KS_OK)
            return false;
        ystr *st = &r->strs[r->nstrs++];
        memset(st, 0, sizeof *st);
        st->nb = t.b + 1;
        st->ne = t.e;
        st->kind = v.k;
        st->vb = v.b;
        st->ve = v.e;
        /* modifiers, some with arguments in parentheses */
        for (;;) {
            tok m = peek(lx, false);
            size_t k = 0;
            if (m.k != T_IDENT)
                break;
            for (; k < sizeof modifier_names / sizeof *modifier_names; k++)
                if (tok_is(lx, &m, modifier_names[k]))
                    break;
            if (k == sizeof modifier_names / sizeof *modifier_names)
                break;
            lex(lx, false);
            st->mods |= modifier_bits[k];
            tok p = peek(lx, false);
            if (p.k == T_OP && tok_is(lx, &p, "(")) {
                int d = 0;
                do {
                    p = lex(lx, false);
                    if (p.k == T_EOF || p.k == T_ERR)
                        return false;
                    if (p.k == T_OP && tok_is(lx, &p, "("))
                        d++;
                    if (p.k == T_OP && tok_is(lx, &p, ")"))
                        d--;
                } while (d > 0);
            }
        }
        str_literal(lx, st);
    }
}

static int push_lits(ks_ysplit *out, size_t *cap, const ystr *st)
{
    bool wide = st->mods & M_WIDE, ascii = (st->mods & M_ASCII) || !wide;
    for (int form = 0; form < 2; form++) {
        if ((form == 0 && !ascii) || (form == 1 && !wide))
            continue;
        size_t n = form ? st->litlen * 2 : st->litlen;
        if (ks__grow(&out->lits, cap, out->nlits, sizeof *out->lits, 64) != KS_OK)
            return KS_ENOMEM;
        uint8_t *b = malloc(n);
        if (!b)
            return KS_ENOMEM;
        for (size_t i = 0; i < st->litlen; i++) {
            if (form) {
                b[2 * i] = st->lit[i];
                b[2 * i + 1] = 0;
            } else {
                b[i] = st->lit[i];
            }
        }
        out->lits[out->nlits++] = (ks_ylit){.bytes = b, .len = n, .caseless = st->caseless};
    }
    return KS_OK;
}

/* Notes string k of rule i when it is a regex libyara matches as written
 * (not wide: those bytes are interleaved with zeros). */
static int push_regex(ks_ysplit *out, size_t *cap, const lexer *lx, size_t i, size_t k,
                      const ystr *st)
{
    if (st->kind != T_REGEX || (st->mods & M_WIDE))
        return KS_OK;
    const char *v = lx->s + st->vb;
    size_t n = st->ve - st->vb, close = n - 1;
    while (close > 0 && v[close] != '/')
        close--;
    if (close < 2)
        return KS_OK;
    if (ks__grow(&out->regexes, cap, out->nregexes, sizeof *out->regexes, 64) != KS_OK)
        return KS_ENOMEM;
    out->regexes[out->nregexes++] = (ks_yregex){
        .rule = i, .ord = (uint32_t)k, .vb = st->vb + 1, .ve = st->vb + close,
        .nocase = (st->mods & M_NOCASE) || memchr(v + close, 'i', n - close) != NULL,
        .dotall = memchr(v + close, 's', n - close) != NULL};
    return KS_OK;
}

static bool uses_ident(const lexer *lx, const tokvec *tv, const char *name, size_t nl)
{
    for (size_t k = 0; k < tv->n; k++) {
        const tok *t = &tv->v[k];
        if (t->k == T_IDENT && t->e - t->b == nl && memcmp(lx->s + t->b, name, nl) == 0)
            return true;
    }
    return false;
}

/* Rule references. A rule naming a private rule takes a copy of it (and
 * of what that one names) into whatever part it lands in: private rules
 * report nothing, so a copy in another set changes no output. A rule
 * naming a reported rule, and the reported rules so named, are "linked"
 * and stay in the always-run set together. dep[i * nraw + j]: i needs j. */
static int mark_links(const lexer *lx, const rawrule *raw, size_t nraw, bool *linked, bool *dep)
{
    ks_map *names = ks__map_new(nraw * 2 + 8);
    if (!names)
        return KS_ENOMEM;
    for (size_t i = 0; i < nraw; i++) {
        uint64_t *v = ks__map_slot(names, lx->s + raw[i].nb, raw[i].ne - raw[i].nb, true);
        if (!v) {
            ks__map_free(names);
            return KS_ENOMEM;
        }
        *v = i + 1;
    }
    for (size_t i = 0; i < nraw; i++)
        for (size_t k = 0; k < raw[i].cond.n; k++) {
            const tok *t = &raw[i].cond.v[k];
            uint64_t *v = t->k == T_IDENT ? ks__map_get(names, lx->s + t->b, t->e - t->b) : NULL;
            if (!v || *v == i + 1)
                continue;
            if (raw[*v - 1].priv)
                dep[i * nraw + (*v - 1)] = true;
            else
                linked[i] = linked[*v - 1] = true;
        }
    ks__map_free(names);
    /* transitive closure (Warshall); files with private references are
     * small, and MAX_LINKED_RULES bounds the square */
    for (size_t k = 0; k < nraw; k++)
        for (size_t i = 0; i < nraw; i++)
            if (dep[i * nraw + k])
                for (size_t j = 0; j < nraw; j++)
                    dep[i * nraw + j] |= dep[k * nraw + j];
    for (size_t i = 0; i < nraw; i++)
        for (size_t j = 0; j < nraw; j++)
            if (dep[i * nraw + j] && linked[j])
                linked[i] = true;
    return KS_OK;
}

/* Modules whose load is a handful of objects are cheap; pe, elf, dotnet...
 * declare hundreds of members and parse the file on every scan. */
static bool costly_module(const char *name)
{
    static const char *const cheap[] = {"math", "hash", "time", "string", "console"};
    for (size_t i = 0; i < sizeof cheap / sizeof *cheap; i++)
        if (!strcmp(name, cheap[i]))
            return false;
    return true;
}

/* Gives each rule its gate once the whole file is read. */
static int classify(const lexer *lx, rawrule *raw, size_t nraw, ks_ysplit *out)
{
    bool has_pe = false;
    bool *linked = calloc(nraw ? nraw : 1, sizeof *linked);
    bool *dep = NULL;
    size_t litcap = 0, recap = 0;
    int rc = KS_OK;
    if (!linked || !(out->rules = calloc(nraw ? nraw : 1, sizeof *out->rules))) {
        rc = KS_ENOMEM;
        goto out;
    }
    out->nrules = nraw;
    if (nraw > MAX_LINKED_RULES) {
        /* too many for the square matrix: every rule runs always */
        for (size_t i = 0; i < nraw; i++) {
            out->rules[i].begin = raw[i].begin;
            out->rules[i].nb = raw[i].nb;
            out->rules[i].ne = raw[i].ne;
            out->rules[i].end = raw[i].end;
            out->rules[i].size_max = UINT64_MAX;
            out->rules[i].modules = ~0ull;
        }
        goto out;
    }
    if (!(dep = calloc(nraw ? nraw * nraw : 1, sizeof *dep)) ||
        !(out->deps = calloc(nraw ? nraw * nraw : 1, sizeof *out->deps))) {
        rc = KS_ENOMEM;
        goto out;
    }
    if ((rc = mark_links(lx, raw, nraw, linked, dep)) != KS_OK)
        goto out;
    memcpy(out->deps, dep, nraw * nraw * sizeof *dep);
    for (size_t m = 0; m < out->nimports; m++)
        has_pe |= !strcmp(out->imports[m].name, "pe");
    for (size_t i = 0; i < nraw; i++) {
        rawrule *r = &raw[i];
        ks_yrule *o = &out->rules[i];
        o->begin = r->begin;
        o->nb = r->nb;
        o->ne = r->ne;
        o->end = r->end;
        o->size_max = UINT64_MAX;
        for (size_t m = 0; m < out->nimports && m < 64; m++)
            if (uses_ident(lx, &r->cond, out->imports[m].name, strlen(out->imports[m].name))) {
                o->modules |= 1ull << m;
                o->costly |= costly_module(out->imports[m].name);
            }
        for (size_t k = 0; k < r->nstrs && rc == KS_OK; k++)
            rc = push_regex(out, &recap, lx, i, k, &r->strs[k]);
        if (rc != KS_OK)
            goto out;
        if (linked[i] || r->cond.n > MAX_COND_TOKENS)
            continue;
        rctx c = {.lx = lx, .t = r->cond.v, .strs = r->strs, .nstrs = r->nstrs, .has_pe = has_pe};
        req q = analyze(&c, 0, r->cond.n);
        if (c.oom)
            rc = KS_ENOMEM;
        /* both gates are kept: the set builder prefers the magic one when
         * that magic gets a set of its own */
        if (q.size_ok && q.smin <= q.smax) {
            o->size_min = q.smin;
            o->size_max = q.smax;
        }
        if (rc == KS_OK && q.magic_ok) {
            o->gate = KS_YG_MAGIC;
            o->magic = q.magic;
        }
        const sset *lits = NULL;
        size_t min_lit = o->costly ? KS_YSPLIT_COSTLY_LIT : KS_YSPLIT_GATE_LIT;
        if (rc == KS_OK && q.strs_ok && q.strs.n > 0 && q.strs.score >= min_lit) {
            o->gate = o->gate == KS_YG_MAGIC ? KS_YG_MAGIC : KS_YG_LITERAL;
            lits = &q.strs;
        } else if (rc == KS_OK && !q.magic_ok && q.mix_ok && q.mix.score >= min_lit) {
            o->gate = KS_YG_MIXED;
            o->magic = q.mix_magic;
            lits = &q.mix;
        }
        if (lits) {
            o->lit0 = out->nlits;
            for (size_t k = 0; k < lits->n && rc == KS_OK; k++)
                rc = push_lits(out, &litcap, &r->strs[lits->v[k]]);
            o->nlit = out->nlits - o->lit0;
        }
        req_free(&q);
        if (rc != KS_OK)
            goto out;
    }
out:
    free(linked);
    free(dep);
    return rc;
}

int ks__ysplit_parse(const char *src, size_t n, ks_ysplit *out)
{
    lexer lx = {src, n, 0};
    rawrule *raw = NULL;
    size_t nraw = 0, cap = 0;
    int rc = KS_OK;
    memset(out, 0, sizeof *out);
    for (;;) {
        tok t = lex(&lx, false);
        if (t.k == T_EOF)
            break;
        if (t.k == T_IDENT && tok_is(&lx, &t, "import")) {
            tok nm = lex(&lx, false);
            if (nm.k != T_TEXT || nm.e - nm.b - 2 >= sizeof out->imports->name) {
                out->why = "unreadable import";
                goto whole;
            }
            ks_yimport *nv = realloc(out->imports, (out->nimports + 1) * sizeof *nv);
            if (!nv) {
                rc = KS_ENOMEM;
                goto fail;
            }
            out->imports = nv;
            ks_yimport *im = &out->imports[out->nimports++];
            im->begin = t.b;
            im->end = nm.e;
            memcpy(im->name, src + nm.b + 1, nm.e - nm.b - 2);
            im->name[nm.e - nm.b - 2] = 0;
            continue;
        }
        if (t.k == T_IDENT && tok_is(&lx, &t, "include")) {
            out->why = "include";
            goto whole;
        }
        size_t begin = t.b;
        bool global = false, priv = false;
        while (t.k == T_IDENT && (tok_is(&lx, &t, "private") || tok_is(&lx, &t, "global"))) {
            global |= tok_is(&lx, &t, "global");
            priv |= tok_is(&lx, &t, "private");
            t = lex(&lx, false);
        }
        if (global) {
            out->why = "global rule";
            goto whole;
        }
        if (t.k != T_IDENT || !tok_is(&lx, &t, "rule")) {
            out->why = "unexpected text between rules";
            goto whole;
        }
        tok name = lex(&lx, false);
        if (name.k != T_IDENT) {
            out->why = "rule without a name";
            goto whole;
        }
        tok x = lex(&lx, false);
        if (x.k == T_OP && tok_is(&lx, &x, ":"))
            do
                x = lex(&lx, false);
            while (x.k == T_IDENT);
        if (x.k != T_OP || !tok_is(&lx, &x, "{")) {
            out->why = "rule header not understood";
            goto whole;
        }
        if (ks__grow(&raw, &cap, nraw, sizeof *raw, 16) != KS_OK) {
            rc = KS_ENOMEM;
            goto fail;
        }
        rawrule *r = &raw[nraw++];
        memset(r, 0, sizeof *r);
        r->begin = begin;
        r->priv = priv;
        r->nb = name.b;
        r->ne = name.e;
        if (!read_body(&lx, r)) {
            out->why = "rule body not understood";
            goto whole;
        }
    }
    if ((rc = classify(&lx, raw, nraw, out)) != KS_OK)
        goto fail;
    goto done;
whole:
    out->whole = true;
    free(out->rules);
    out->rules = NULL;
    out->nrules = 0;
    goto done;
fail:
    ks__ysplit_free(out);
done:
    for (size_t i = 0; i < nraw; i++)
        raw_free(&raw[i]);
    free(raw);
    return rc;
}

/* True when rule i is emitted for pick: picked, or a private rule a
 * picked rule needs (rules are defined before use, so source order works). */
static bool emitted(const ks_ysplit *s, const bool *pick, size_t i)
{
    if (pick[i])
        return true;
    for (size_t k = 0; s->deps && k < s->nrules; k++)
        if (pick[k] && s->deps[k * s->nrules + i])
            return true;
    return false;
}

int ks__ysplit_text(const char *src, const ks_ysplit *s, const bool *pick, ks_buf *out)
{
    uint64_t mods = 0;
    bool *emit = calloc(s->nrules ? s->nrules : 1, sizeof *emit);
    int rc = KS_OK;
    if (!emit)
        return KS_ENOMEM;
    for (size_t i = 0; i < s->nrules; i++)
        if ((emit[i] = emitted(s, pick, i)))
            mods |= s->rules[i].modules;
    for (size_t m = 0; m < s->nimports && rc == KS_OK; m++) {
        /* keep an import the emitted rules use (or any past 64: rare) */
        if (m < 64 && !(mods >> m & 1))
            continue;
        if ((rc = ks__buf_add(out, src + s->imports[m].begin,
                              s->imports[m].end - s->imports[m].begin)) == KS_OK)
            rc = ks__buf_addc(out, '\n');
    }
    for (size_t i = 0; i < s->nrules && rc == KS_OK; i++) {
        if (!emit[i])
            continue;
        if ((rc = ks__buf_add(out, src + s->rules[i].begin, s->rules[i].end - s->rules[i].begin)) ==
            KS_OK)
            rc = ks__buf_addc(out, '\n');
    }
    free(emit);
    return rc;
}

void ks__ysplit_free(ks_ysplit *s)
{
    for (size_t i = 0; i < s->nlits; i++)
        free(s->lits[i].bytes);
    free(s->lits);
    free(s->regexes);
    free(s->rules);
    free(s->deps);
    free(s->imports);
    memset(s, 0, sizeof *s);
}

bool ks__ymagic_eq(const ks_ymagic *a, const ks_ymagic *b)
{
    return a->off == b->off && a->width == b->width && a->be == b->be && a->value == b->value;
}

bool ks__ymagic_holds(const ks_ymagic *m, const uint8_t *data, size_t n)
{
    if ((uint64_t)m->off + m->width > n)
        return false;
    uint32_t v = 0;
    const uint8_t *p = data + m->off;
    for (unsigned i = 0; i < m->width; i++)
        v |= (uint32_t)(m->be ? p[m->width - 1 - i] : p[i]) << (8 * i);
    return v == m->value;
}
