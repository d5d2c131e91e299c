/* SPDX-License-Identifier: Apache-2.0
 *
 * Sigma value modifiers (specification v2.1.0) as rows of one table:
 * (name, kind, compile, match).
 *
 *  - transforms rewrite the value's byte variants before comparison
 *    (base64, base64offset, utf16le/utf16be/utf16/wide, windash, expand);
 *  - flags change how the comparison is built (all, cased, re's i/m/s);
 *  - ops choose the comparison itself and carry its match function
 *    (the default string equality with wildcards, contains, startswith,
 *    endswith, re, cidr, exists, fieldref, neq, gt/gte/lt/lte, and the
 *    time parts minute/hour/day/week/month/year).
 *
 * sg__compile_value() runs a value through its modifiers. Strings compare
 * ASCII case-insensitively unless |cased; regexes are case-sensitive unless
 * |i, as the specification says. Wildcards `*` and `?` (escaped with `\`)
 * are honoured only on values no encoding transform touched.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sigma_int.h"

#define MAX_VARIANTS 64

/* ---- case-insensitive helpers ------------------------------------------------ */

static const unsigned char lower_tab[256] = {
#define L4(i) L1(i), L1(i + 1), L1(i + 2), L1(i + 3)
#define L1(i) (unsigned char)((i) >= 'A' && (i) <= 'Z' ? (i) + 32 : (i))
#define L16(i) L4(i), L4(i + 4), L4(i + 8), L4(i + 12)
#define L64(i) L16(i), L16(i + 16), L16(i + 32), L16(i + 48)
    L64(0), L64(64), L64(128), L64(192)
#undef L64
#undef L16
#undef L4
#undef L1
};
#define LC(c) lower_tab[(unsigned char)(c)]

/* pat is already lowercased (unless cased). */
static bool eq_ci(const char *pat, const char *s, size_t n, bool cased)
{
    if (cased)
        return memcmp(pat, s, n) == 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)pat[i] != LC(s[i]))
            return false;
    return true;
}

static bool find_ci(const char *pat, size_t pn, const char *s, size_t n, bool cased)
{
    if (pn == 0)
        return true;
    if (pn > n)
        return false;
    if (cased) {
        /* haystacks are short (field values) and needles many: memchr on the
         * first byte, check the last, then compare; no per-call set-up */
        const char *p = s, *end = s + n - pn + 1;
        char first = pat[0], last = pat[pn - 1];
        while (p < end && (p = memchr(p, first, (size_t)(end - p))) != NULL) {
            if (p[pn - 1] == last && memcmp(p + 1, pat + 1, pn > 1 ? pn - 1 : 0) == 0)
                return true;
            p++;
        }
        return false;
    }
    unsigned char f = (unsigned char)pat[0], F = f;
    if (f >= 'a' && f <= 'z')
        F = (unsigned char)(f - 32);
    const char *end = s + n - pn + 1, *p = s;
    while (p < end) {
        /* memchr on the rarer case first would need stats; try both */
        const char *a = memchr(p, f, (size_t)(end - p));
        const char *b = F != f ? memchr(p, F, (size_t)((a ? a : end) - p)) : NULL;
        const char *c = b ? b : a;
        if (!c)
            return false;
        if (eq_ci(pat + 1, c + 1, pn - 1, false))
            return true;
        p = c + 1;
    }
    return false;
}

bool sg__glob_match(const char *pat, size_t pn, const char *s, size_t n, bool cased)
{
    size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < n) {
        if (pi < pn && pat[pi] == SG_GLOB_STAR) {
            star_p = pi++;
            star_s = si;
        } else if (pi < pn && (pat[pi] == SG_GLOB_ONE ||
                               (cased ? pat[pi] == s[si]
                                      : (unsigned char)pat[pi] == LC(s[si])))) {
            pi++;
            si++;
        } else if (star_p != SIZE_MAX) {
            pi = star_p + 1;
            si = ++star_s;
        } else {
            return false;
        }
    }
    while (pi < pn && pat[pi] == SG_GLOB_STAR)
        pi++;
    return pi == pn;
}

static bool pat_match(const sg_pat *p, const char *s, size_t n, bool cased)
{
    switch (p->kind) {
    case SG_P_EQ:
        return n == p->n && eq_ci(p->s, s, n, cased);
    case SG_P_PREFIX:
        return n >= p->n && eq_ci(p->s, s, p->n, cased);
    case SG_P_SUFFIX:
        return n >= p->n && eq_ci(p->s, s + n - p->n, p->n, cased);
    case SG_P_CONTAINS:
        return find_ci(p->s, p->n, s, n, cased);
    default:
        return sg__glob_match(p->s, p->n, s, n, cased);
    }
}

/* ---- match functions ------------------------------------------------------------ */

static bool match_str(const sg_val *v, const ks_value *x, const ks_event *ev, sg_scratch *sc)
{
    const char *s;
    size_t n;
    bool cased = v->cased;
    char num[24];
    KS_UNUSED(ev);
    if (!x)
        return false;
    /* patterns are stored lowercased: compare with the lowered text exactly.
     * An integer's text has no letters, it is its own lowercase: written
     * here, not through the per-event lowered copy (a probe, a grow and a
     * copy per EventID item evaluated, ~5 % of Sigma on a Security log) */
    if (x->type == KS_VINT || (x->type == KS_VUINT && x->u.u <= (uint64_t)INT64_MAX)) {
        n = ks__fmt_i64(num, x->type == KS_VINT ? x->u.i : (int64_t)x->u.u);
        s = num;
        cased = true;
    } else if (!cased && sg__value_lower(x, sc, &s, &n))
        cased = true;
    else if (!sg__value_text(x, sc, &s, &n))
        return false;
    const uint64_t *hits = sc->hits_ok ? sc->hits : NULL;
    for (uint32_t i = 0; i < v->npats; i++) {
        uint32_t nd = v->pats[i].needle;
        /* the prefilter saw every literal in the event: no needle, no match */
        if (hits && nd && !(hits[(nd - 1) >> 6] >> ((nd - 1) & 63) & 1))
            continue;
        if (pat_match(&v->pats[i], s, n, cased))
            return true;
    }
    return false;
}

static bool match_neq(const sg_val *v, const ks_value *x, const ks_event *ev, sg_scratch *sc)
{
    return x && !match_str(v, x, ev, sc);
}

static bool match_never(const sg_val *v, const ks_value *x, const ks_event *ev, sg_scratch *sc)
{
    KS_UNUSED(v), KS_UNUSED(x), KS_UNUSED(ev), KS_UNUSED(sc);
    return false;
}

static bool match_null(const sg_val *v, const ks_value *x, const ks_event *ev, sg_scratch *sc)
{
    KS_UNUSED(v), KS_UNUSED(ev), KS_UNUSED(sc);
    return !x || x->type == KS_VNULL || (x->type == KS_VSTR && x->u.s.n == 0);
}

static bool match_exists(const sg_val *v, const ks_value *x, const ks_event *ev, sg_scratch *sc)
{
    KS_UNUSED(ev), KS_UNUSED(sc);
    return (x != NULL) == v->flag;
}

static bool match_re(const sg_val *v, const ks_value *x, const ks_event *ev, sg_scratch *sc)
{
    const char *s;
    size_t n;
    KS_UNUSED(ev);
    if (!x || !v->re || !sg__value_text(x, sc, &s, &n))
        return false;
    /* An error (match or depth limit: a catastrophic pattern or value) is
     * not a "no": it is recorded for the caller to report with the rule
     * and the record (sigma.c), and the value counts as not matching. */
    int rc = pcre2_match(v->re, (PCRE2_SPTR)s, n, 0, 0, sc->md, sc->mctx);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
        sc->re_err = rc;
    return rc >= 0;
}

static bool value_num(const ks_value *x, sg_scratch *sc, double *out)
{
    switch (x->type) {
    case KS_VINT:
        *out = (double)x->u.i;
        return true;
    case KS_VUINT:
        *out = (double)x->u.u;
        return true;
    case KS_VFLOAT:
        *out = x->u.f;
        return true;
    case KS_VBOOL:
        *out = x->u.b;
        return true;
    case KS_VSTR: {
        size_t n = x->u.s.n;
        if (n == 0 || n >= sizeof sc->tmp)
            return false;
        memcpy(sc->tmp, x->u.s.p, n);
        sc->tmp[n] = 0;
        char *end;
        *out = strtod(sc->tmp, &end);
        while (*end == ' ')
            end++;
        return *end == 0;
    }
    default:
        return false;
    }
}

static bool match_cmp(const sg_val *v, const ks_value *x, const ks_event *ev, sg_scratch *sc)
{
    double d;
    KS_UNUSED(ev);
    if (!x || !value_num(x, sc, &d))
        return false;
    switch (v->cmp) {
    case 1: return d > v->num;
    case 2: return d >= v->num;
    case 3: return d < v->num;
    case 4: return d <= v->num;
    default: return d == v->num;
    }
}

static bool match_timepart(const sg_val *v, const ks_value *x, const ks_event *ev, sg_scratch *sc)
{
    int64_t t;
    struct tm tm;
    KS_UNUSED(ev), KS_UNUSED(sc);
    if (!x)
        return false;
    if (x->type == KS_VTIME)
        t = x->u.t;
    else if (x->type != KS_VSTR || ks_time_parse(x->u.s.p, x->u.s.n, &t) != KS_OK)
        return false;
    time_t secs = (time_t)(t >= 0 ? t / 1000000000 : (t - 999999999) / 1000000000);
    if (!gmtime_r(&secs, &tm))
        return false;
    int got;
    switch (v->part) {
    case 1: got = tm.tm_min; break;
    case 2: got = tm.tm_hour; break;
    case 3: got = tm.tm_mday; break;
    case 4: { /* ISO 8601 week number */
        int wday = (tm.tm_wday + 6) % 7; /* Monday = 0 */
        got = (tm.tm_yday - wday + 10) / 7;
        if (got < 1)
            got = 52; /* belongs to the previous year's last week (52 or 53) */
        else if (got == 53 && (tm.tm_yday - wday + 7) / 7 > 52 && tm.tm_mday - wday > 28)
            got = 1;
        break;
    }
    case 5: got = tm.tm_mon + 1; break;
    default: got = tm.tm_year + 1900; break;
    }
    return (double)got == v->num;
}

static bool parse_ip(const char *s, size_t n, char *tmp, size_t cap, uint8_t out[16], int *fam)
{
    if (n == 0 || n >= cap)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    if (inet_pton(AF_INET, tmp, out) == 1) {
        *fam = 4;
        return true;
    }
    if (inet_pton(AF_INET6, tmp, out) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(out, mapped, 12) == 0) {
            memmove(out, out + 12, 4);
            *fam = 4;
        } else {
            *fam = 6;
        }
        return true;
    }
    return false;
}

static bool match_cidr(const sg_val *v, const ks_value *x, const ks_event *ev, sg_scratch *sc)
{
    const char *s;
    size_t n;
    uint8_t ip[16];
    int fam;
    KS_UNUSED(ev);
    if (!x || !sg__value_text(x, sc, &s, &n) || !parse_ip(s, n, sc->tmp, sizeof sc->tmp, ip, &fam))
        return false;
    if (fam != v->family)
        return false;
    int bits = v->netbits;
    int full = bits / 8, rest = bits % 8;
    if (memcmp(ip, v->net, (size_t)full) != 0)
        return false;
    if (rest) {
        uint8_t m = (uint8_t)(0xff << (8 - rest));
        if ((ip[full] & m) != (v->net[full] & m))
            return false;
    }
    return true;
}

static bool match_fieldref(const sg_val *v, const ks_value *x, const ks_event *ev, sg_scratch *sc)
{
    const char *a, *b;
    size_t an, bn;
    char copy[512];
    KS_UNUSED(ev);
    const ks_value *y = sg__lookup(sc, v->ref, v->nref);
    if (!x || !y || !sg__value_text(x, sc, &a, &an))
        return false;
    /* value text may live in sc->num: keep a copy before formatting y */
    if (a == sc->num) {
        if (an >= sizeof copy)
            return false;
        memcpy(copy, a, an);
        a = copy;
    }
    if (!sg__value_text(y, sc, &b, &bn))
        return false;
    bool cased = v->cased;
    /* compare b (the referenced value) as the pattern against a */
    switch (v->refkind) {
    case SG_P_CONTAINS: {
        if (bn > an)
            return false;
        for (size_t i = 0; i + bn <= an; i++) {
            size_t k = 0;
            while (k < bn && (cased ? a[i + k] == b[k] : LC(a[i + k]) == LC(b[k])))
                k++;
            if (k == bn)
                return true;
        }
        return false;
    }
    case SG_P_PREFIX:
        if (bn > an)
            return false;
        an = bn;
        break;
    case SG_P_SUFFIX:
        if (bn > an)
            return false;
        a += an - bn;
        an = bn;
        break;
    default:
        if (an != bn)
            return false;
    }
    for (size_t i = 0; i < an; i++)
        if (cased ? a[i] != b[i] : LC(a[i]) != LC(b[i]))
            return false;
    return true;
}

/* ---- variants ------------------------------------------------------------------- */

static int set_variants(sg_ctx *c, char **var, size_t *varn, size_t n)
{
    c->var = var;
    c->varn = varn;
    c->nvar = n;
    return KS_OK;
}

/* Runs fn over every variant, each producing up to `per` outputs. */
typedef size_t (*expand_fn)(sg_ctx *c, const char *s, size_t n, char **out, size_t *outn,
                            size_t room);

static int expand_all(sg_ctx *c, expand_fn fn, size_t per)
{
    size_t cap = c->nvar * per;
    if (cap > MAX_VARIANTS) {
        snprintf(c->err, sizeof c->err, "value expands to more than %d variants", MAX_VARIANTS);
        c->fail = SG_FAIL_LIMIT;
        return KS_ELIMIT;
    }
    char **var = ks__arena_alloc(c->rs->arena, cap * sizeof *var + 1);
    size_t *varn = ks__arena_alloc(c->rs->arena, cap * sizeof *varn + 1);
    if (!var || !varn)
        return KS_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < c->nvar; i++) {
        size_t got = fn(c, c->var[i], c->varn[i], var + k, varn + k, cap - k);
        if (got == SIZE_MAX)
            return KS_ENOMEM;
        /* drop duplicates (windash on a value without dashes) */
        size_t base = k;
        for (size_t j = 0; j < got; j++) {
            bool dup = false;
            for (size_t q = 0; q < k && !dup; q++)
                dup = varn[q] == varn[base + j] && memcmp(var[q], var[base + j], varn[q]) == 0;
            if (!dup) {
                var[k] = var[base + j];
                varn[k] = varn[base + j];
                k++;
            }
        }
    }
    return set_variants(c, var, varn, k);
}

static char *arena_bytes(sg_ctx *c, size_t n)
{
    return ks__arena_alloc(c->rs->arena, n + 1);
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64chars[v >> 18 & 63];
        out[o++] = b64chars[v >> 12 & 63];
        out[o++] = b64chars[v >> 6 & 63];
        out[o++] = b64chars[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64chars[v >> 18 & 63];
        out[o++] = b64chars[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = 0;
    return o;
}

static size_t x_base64(sg_ctx *c, const char *s, size_t n, char **out, size_t *outn, size_t room)
{
    KS_UNUSED(room);
    char *o = arena_bytes(c, (n + 2) / 3 * 4);
    if (!o)
        return SIZE_MAX;
    outn[0] = b64_encode((const uint8_t *)s, n, o);
    out[0] = o;
    return 1;
}

/* The three alignments a value can have inside a longer base64 text: encode
 * with 0, 1 or 2 leading bytes and keep only the characters that depend on
 * the value alone. */
static size_t x_base64offset(sg_ctx *c, const char *s, size_t n, char **out, size_t *outn,
                             size_t room)
{
    static const size_t start[3] = {0, 2, 3};
    static const size_t cut[3] = {0, 3, 2};
    KS_UNUSED(room);
    uint8_t *tmp = (uint8_t *)arena_bytes(c, n + 2);
    if (!tmp)
        return SIZE_MAX;
    size_t k = 0;
    for (size_t i = 0; i < 3; i++) {
        memset(tmp, 0, i);
        memcpy(tmp + i, s, n);
        char *o = arena_bytes(c, (n + i + 2) / 3 * 4);
        if (!o)
            return SIZE_MAX;
        size_t len = b64_encode(tmp, n + i, o);
        size_t e = cut[(n + i) % 3];
        if (len < start[i] + e || len - e <= start[i])
            continue;
        out[k] = o + start[i];
        outn[k] = len - e - start[i];
        out[k][outn[k]] = 0;
        k++;
    }
    return k;
}

/* UTF-8 to UTF-16 (le/be), optionally with a BOM. */
static size_t to_utf16(sg_ctx *c, const char *s, size_t n, char **out, size_t *outn, bool be,
                       bool bom)
{
    char *o = arena_bytes(c, n * 4 + 2);
    size_t k = 0;
    if (!o)
        return SIZE_MAX;
    if (bom) {
        o[k++] = be ? (char)0xfe : (char)0xff;
        o[k++] = be ? (char)0xff : (char)0xfe;
    }
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)s[i];
        uint32_t cp;
        size_t len = 1;
        if (b < 0x80) {
            cp = b;
        } else if ((b & 0xe0) == 0xc0 && i + 1 < n) {
            cp = (uint32_t)(b & 0x1f) << 6 | (s[i + 1] & 0x3f);
            len = 2;
        } else if ((b & 0xf0) == 0xe0 && i + 2 < n) {
            cp = (uint32_t)(b & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f);
            len = 3;
        } else if ((b & 0xf8) == 0xf0 && i + 3 < n) {
            cp = (uint32_t)(b & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 |
                 (uint32_t)(s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f);
            len = 4;
        } else {
            cp = 0xfffd;
        }
        i += len;
        uint16_t u[2];
        int nu = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            u[0] = (uint16_t)(0xd800 | cp >> 10);
            u[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
            nu = 2;
        } else {
            u[0] = (uint16_t)cp;
        }
        for (int j = 0; j < nu; j++) {
            o[k++] = be ? (char)(u[j] >> 8) : (char)(u[j] & 0xff);
            o[k++] = be ? (char)(u[j] & 0xff) : (char)(u[j] >> 8);
        }
    }
    o[k] = 0;
    out[0] = o;
    outn[0] = k;
    return 1;
}

static size_t x_utf16le(sg_ctx *c, const char *s, size_t n, char **o, size_t *on, size_t r)
{
    KS_UNUSED(r);
    return to_utf16(c, s, n, o, on, false, false);
}
static size_t x_utf16be(sg_ctx *c, const char *s, size_t n, char **o, size_t *on, size_t r)
{
    KS_UNUSED(r);
    return to_utf16(c, s, n, o, on, true, false);
}
static size_t x_utf16(sg_ctx *c, const char *s, size_t n, char **o, size_t *on, size_t r)
{
    KS_UNUSED(r);
    return to_utf16(c, s, n, o, on, false, true);
}

/* windash: a `-` or `/` that starts a word (command-line switch) may be
 * written with any of -, /, en dash, em dash, horizontal bar. */
static size_t x_windash(sg_ctx *c, const char *s, size_t n, char **out, size_t *outn, size_t room)
{
    static const char *const dashes[] = {"-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95"};
    size_t k = 0;
    for (size_t d = 0; d < KS_ARRAY_LEN(dashes) && k < room; d++) {
        size_t dl = strlen(dashes[d]);
        char *o = arena_bytes(c, n * 3);
        size_t m = 0;
        if (!o)
            return SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            bool word_start = i == 0 || s[i - 1] == ' ' || s[i - 1] == '*' || s[i - 1] == '\t';
            if ((s[i] == '-' || s[i] == '/') && word_start) {
                memcpy(o + m, dashes[d], dl);
                m += dl;
            } else {
                o[m++] = s[i];
            }
        }
        o[m] = 0;
        out[k] = o;
        outn[k++] = m;
    }
    return k;
}

/* expand: %name% placeholders from the "sigma.placeholder" option
 * ("name=v1,v2"). A value whose placeholder has no definition matches
 * nothing (documented in docs/SIGMA.md). */
static size_t x_expand(sg_ctx *c, const char *s, size_t n, char **out, size_t *outn, size_t room)
{
    const char *a = memchr(s, '%', n);
    const char *b = a ? memchr(a + 1, '%', n - (size_t)(a + 1 - s)) : NULL;
    if (!a || !b || b == a + 1) {
        out[0] = (char *)s;
        outn[0] = n;
        return 1;
    }
    size_t nl = (size_t)(b - a - 1), k = 0;
    for (size_t i = 0; i < c->rs->nplaceholders; i++) {
        const char *def = c->rs->placeholders[i];
        const char *eq = strchr(def, '=');
        if (!eq || (size_t)(eq - def) != nl || memcmp(def, a + 1, nl) != 0)
            continue;
        for (const char *v = eq + 1; *v && k < room;) {
            const char *e = strchr(v, ',');
            size_t vl = e ? (size_t)(e - v) : strlen(v);
            size_t tot = (size_t)(a - s) + vl + (size_t)(s + n - b - 1);
            char *o = arena_bytes(c, tot);
            if (!o)
                return SIZE_MAX;
            memcpy(o, s, (size_t)(a - s));
            memcpy(o + (a - s), v, vl);
            memcpy(o + (a - s) + vl, b + 1, (size_t)(s + n - b - 1));
            o[tot] = 0;
            out[k] = o;
            outn[k++] = tot;
            v = e ? e + 1 : v + vl;
        }
    }
    return k;
}

/* ---- compile functions ---------------------------------------------------------- */

#define XFORM(fn, per, lit)                                                        \
    static int c_##fn(sg_ctx *c, sg_val *v)                                        \
    {                                                                              \
        KS_UNUSED(v);                                                              \
        if (lit)                                                                   \
            c->literal = true;                                                     \
        return expand_all(c, x_##fn, per);                                         \
    }
XFORM(base64, 1, true)
XFORM(base64offset, 3, true)
XFORM(utf16le, 1, true)
XFORM(utf16be, 1, true)
XFORM(utf16, 1, true)
XFORM(windash, 5, false)
XFORM(expand, 16, false)

static int c_all(sg_ctx *c, sg_val *v) { KS_UNUSED(v); c->all = true; return KS_OK; }
static int c_cased(sg_ctx *c, sg_val *v) { KS_UNUSED(c); v->cased = true; return KS_OK; }
static int c_re_i(sg_ctx *c, sg_val *v) { KS_UNUSED(v); c->reflags |= PCRE2_CASELESS; return KS_OK; }
static int c_re_m(sg_ctx *c, sg_val *v) { KS_UNUSED(v); c->reflags |= PCRE2_MULTILINE; return KS_OK; }
static int c_re_s(sg_ctx *c, sg_val *v) { KS_UNUSED(v); c->reflags |= PCRE2_DOTALL; return KS_OK; }
static int c_contains(sg_ctx *c, sg_val *v) { KS_UNUSED(v); c->anchor = SG_P_CONTAINS; return KS_OK; }
static int c_startswith(sg_ctx *c, sg_val *v) { KS_UNUSED(v); c->anchor = SG_P_PREFIX; return KS_OK; }
static int c_endswith(sg_ctx *c, sg_val *v) { KS_UNUSED(v); c->anchor = SG_P_SUFFIX; return KS_OK; }

static int bad_value(sg_ctx *c, const char *what)
{
    snprintf(c->err, sizeof c->err, "%s '%.80s'", what, c->nvar ? c->var[0] : "");
    c->fail = SG_FAIL_VALUE;
    return KS_ERULE;
}

/* The longest literal that every match of a regex must contain, for the
 * prefilter. Conservative: only the top level of the pattern is read (no
 * alternation there, groups and classes are skipped whole, a quantified
 * character is dropped), and extended mode or \Q..\E give up. */
static void regex_literal(sg_ctx *c, sg_val *v, const char *re, size_t n)
{
    char run[256], best[256];
    size_t rn = 0, bn = 0;
    int depth = 0;
    if (memmem(re, n, "(?x", 3) || memmem(re, n, "\\Q", 2) || (c->reflags & PCRE2_EXTENDED))
        return;
#define END_RUN()                                                                  \
    do {                                                                           \
        if (rn > bn) {                                                             \
            memcpy(best, run, rn);                                                 \
            bn = rn;                                                               \
        }                                                                          \
        rn = 0;                                                                    \
    } while (0)
    for (size_t i = 0; i < n; i++) {
        char ch = re[i];
        if (ch == '\\' && i + 1 < n) {
            char e = re[++i];
            bool lit = !((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'));
            if (depth || !lit) {
                if (!depth)
                    END_RUN();
                continue;
            }
            ch = e;
        } else if (ch == '[') {
            /* skip the class: ']' right after '[' or '[^' is literal */
            size_t j = i + 1;
            if (j < n && re[j] == '^')
                j++;
            if (j < n && re[j] == ']')
                j++;
            while (j < n && re[j] != ']') {
                if (re[j] == '\\')
                    j++;
                j++;
            }
            i = j;
            if (!depth)
                END_RUN();
            continue;
        } else if (ch == '(') {
            depth++;
            if (depth == 1)
                END_RUN();
            continue;
        } else if (ch == ')') {
            if (depth)
                depth--;
            continue;
        } else if (depth) {
            continue;
        } else if (ch == '|') {
            return; /* top-level alternation: no single required literal */
        } else if (ch == '*' || ch == '?' || ch == '{' || ch == '+') {
            /* the previous character may be absent or repeated */
            if (rn)
                rn--;
            END_RUN();
            if (ch == '{') {
                while (i + 1 < n && re[i + 1] != '}')
                    i++;
                i++; /* the '}' */
            }
            continue;
        } else if (ch == '.' || ch == '^' || ch == '$') {
            END_RUN();
            continue;
        }
        if (rn < sizeof run)
            run[rn++] = ch;
    }
    END_RUN();
#undef END_RUN
    if (bn >= 3) {
        char *lit = ks__arena_strndup(c->rs->arena, best, bn);
        if (lit) {
            v->relit = lit;
            v->relitn = bn;
        }
    }
}

static int c_re(sg_ctx *c, sg_val *v)
{
    int ec;
    PCRE2_SIZE eo;
    if (c->nvar != 1)
        return bad_value(c, "regular expression needs one value");
    v->reopts = (uint32_t)c->reflags | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    v->resrc = c->var[0]; /* arena text: the compiled-rule cache compiles it again */
    v->resrcn = (uint32_t)c->varn[0];
    v->re = pcre2_compile((PCRE2_SPTR)c->var[0], c->varn[0], v->reopts, &ec, &eo, NULL);
    if (!v->re) {
        char msg[120];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof msg);
        snprintf(c->err, sizeof c->err, "regex at offset %zu: %s", (size_t)eo, msg);
        c->fail = SG_FAIL_VALUE;
        return KS_ERULE;
    }
    (void)pcre2_jit_compile(v->re, PCRE2_JIT_COMPLETE); /* interpreter if no JIT */
    regex_literal(c, v, c->var[0], c->varn[0]);
    return sg__ruleset_add_regex(c->rs, v->re);
}

static int c_cidr(sg_ctx *c, sg_val *v)
{
    char tmp[128];
    if (c->nvar != 1)
        return bad_value(c, "bad network");
    const char *slash = memchr(c->var[0], '/', c->varn[0]);
    size_t al = slash ? (size_t)(slash - c->var[0]) : c->varn[0];
    if (!parse_ip(c->var[0], al, tmp, sizeof tmp, v->net, &v->family))
        return bad_value(c, "bad network");
    int max = v->family == 4 ? 32 : 128;
    v->netbits = max;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || b < 0 || b > max)
            return bad_value(c, "bad prefix length in");
        v->netbits = (int)b;
    }
    return KS_OK;
}

static int c_exists(sg_ctx *c, sg_val *v)
{
    if (c->nvar != 1)
        return bad_value(c, "exists needs true or false");
    if (strcasecmp(c->var[0], "true") == 0 || strcasecmp(c->var[0], "yes") == 0)
        v->flag = true;
    else if (strcasecmp(c->var[0], "false") == 0 || strcasecmp(c->var[0], "no") == 0)
        v->flag = false;
    else
        return bad_value(c, "exists needs true or false, not");
    v->wants_missing = true;
    return KS_OK;
}

static int c_fieldref(sg_ctx *c, sg_val *v)
{
    if (c->nvar != 1 || c->varn[0] == 0)
        return bad_value(c, "fieldref needs a field name");
    v->refkind = c->anchor;
    return sg__map_field(c->rs, c->fm, c->var[0], c->varn[0], &v->ref, &v->nref);
}

static int number(sg_ctx *c, sg_val *v)
{
    char *end;
    if (c->nvar != 1)
        return bad_value(c, "not a number:");
    v->num = strtod(c->var[0], &end);
    if (end == c->var[0] || *end || !isfinite(v->num))
        return bad_value(c, "not a number:");
    return KS_OK;
}

/* The numeric modifiers: a comparison (cmp) or a date part (part), then
 * the value as a number. */
#define NUMERIC(name, field, k)                                                    \
    static int c_##name(sg_ctx *c, sg_val *v)                                      \
    {                                                                              \
        v->field = k;                                                              \
        return number(c, v);                                                       \
    }
NUMERIC(gt, cmp, 1)
NUMERIC(gte, cmp, 2)
NUMERIC(lt, cmp, 3)
NUMERIC(lte, cmp, 4)
NUMERIC(minute, part, 1)
NUMERIC(hour, part, 2)
NUMERIC(day, part, 3)
NUMERIC(week, part, 4)
NUMERIC(month, part, 5)
NUMERIC(year, part, 6)

/* neq: the string comparison, negated (built by the default path). */
static int c_neq(sg_ctx *c, sg_val *v)
{
    KS_UNUSED(c), KS_UNUSED(v);
    return KS_OK;
}

/* ---- the table ------------------------------------------------------------------ */

static const sg_modifier modifiers[] = {
    {.name = "contains", .kind = SG_MOD_FLAG, .compile = c_contains},
    {.name = "startswith", .kind = SG_MOD_FLAG, .compile = c_startswith},
    {.name = "endswith", .kind = SG_MOD_FLAG, .compile = c_endswith},
    {.name = "all", .kind = SG_MOD_FLAG, .compile = c_all},
    {.name = "cased", .kind = SG_MOD_FLAG, .compile = c_cased},
    {.name = "i", .kind = SG_MOD_FLAG, .compile = c_re_i},
    {.name = "ignorecase", .kind = SG_MOD_FLAG, .compile = c_re_i},
    {.name = "m", .kind = SG_MOD_FLAG, .compile = c_re_m},
    {.name = "multiline", .kind = SG_MOD_FLAG, .compile = c_re_m},
    {.name = "s", .kind = SG_MOD_FLAG, .compile = c_re_s},
    {.name = "dotall", .kind = SG_MOD_FLAG, .compile = c_re_s},
    {.name = "base64", .kind = SG_MOD_TRANSFORM, .compile = c_base64},
    {.name = "base64offset", .kind = SG_MOD_TRANSFORM, .compile = c_base64offset},
    {.name = "utf16le", .kind = SG_MOD_TRANSFORM, .compile = c_utf16le},
    {.name = "wide", .kind = SG_MOD_TRANSFORM, .compile = c_utf16le},
    {.name = "utf16be", .kind = SG_MOD_TRANSFORM, .compile = c_utf16be},
    {.name = "utf16", .kind = SG_MOD_TRANSFORM, .compile = c_utf16},
    {.name = "windash", .kind = SG_MOD_TRANSFORM, .compile = c_windash},
    {.name = "expand", .kind = SG_MOD_TRANSFORM, .compile = c_expand},
    {.name = "re", .kind = SG_MOD_OP, .compile = c_re, .match = match_re},
    {.name = "cidr", .kind = SG_MOD_OP, .compile = c_cidr, .match = match_cidr},
    {.name = "exists", .kind = SG_MOD_OP, .compile = c_exists, .match = match_exists},
    {.name = "fieldref", .kind = SG_MOD_OP, .compile = c_fieldref, .match = match_fieldref},
    {.name = "neq", .kind = SG_MOD_OP, .compile = c_neq, .match = match_neq},
    {.name = "gt", .kind = SG_MOD_OP, .compile = c_gt, .match = match_cmp},
    {.name = "gte", .kind = SG_MOD_OP, .compile = c_gte, .match = match_cmp},
    {.name = "lt", .kind = SG_MOD_OP, .compile = c_lt, .match = match_cmp},
    {.name = "lte", .kind = SG_MOD_OP, .compile = c_lte, .match = match_cmp},
    {.name = "minute", .kind = SG_MOD_OP, .compile = c_minute, .match = match_timepart},
    {.name = "hour", .kind = SG_MOD_OP, .compile = c_hour, .match = match_timepart},
    {.name = "day", .kind = SG_MOD_OP, .compile = c_day, .match = match_timepart},
    {.name = "week", .kind = SG_MOD_OP, .compile = c_week, .match = match_timepart},
    {.name = "month", .kind = SG_MOD_OP, .compile = c_month, .match = match_timepart},
    {.name = "year", .kind = SG_MOD_OP, .compile = c_year, .match = match_timepart},
};

const sg_modifier *sg__modifier_find(const char *name, size_t n)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(modifiers); i++)
        if (strlen(modifiers[i].name) == n && memcmp(modifiers[i].name, name, n) == 0)
            return &modifiers[i];
    return NULL;
}

/* ---- building string patterns ------------------------------------------------------ */

/* One variant to a pattern: wildcards (unless literal), anchor, case. */
static int build_pat(sg_ctx *c, const char *s, size_t n, bool cased, sg_pat *out)
{
    char *o = arena_bytes(c, n + 2);
    size_t m = 0;
    bool wild = false;
    if (!o)
        return KS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!c->literal && ch == '\\' && i + 1 < n &&
            (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            ch = s[++i];
        } else if (!c->literal && ch == '*') {
            ch = SG_GLOB_STAR;
            wild = true;
        } else if (!c->literal && ch == '?') {
            ch = SG_GLOB_ONE;
            wild = true;
        }
        o[m++] = cased ? ch : (char)LC(ch);
    }
    uint8_t kind = c->anchor;
    if (wild) {
        /* leading / trailing stars fold into the anchor; inner ones need a glob */
        bool lead = kind == SG_P_CONTAINS || kind == SG_P_SUFFIX;
        bool trail = kind == SG_P_CONTAINS || kind == SG_P_PREFIX;
        size_t st = 0;
        while (st < m && o[st] == SG_GLOB_STAR)
            st++, lead = true;
        while (m > st && o[m - 1] == SG_GLOB_STAR)
            m--, trail = true;
        bool inner = memchr(o + st, SG_GLOB_STAR, m - st) || memchr(o + st, SG_GLOB_ONE, m - st);
        if (!inner) {
            memmove(o, o + st, m - st);
            m -= st;
            kind = lead && trail ? SG_P_CONTAINS : lead ? SG_P_SUFFIX : trail ? SG_P_PREFIX : SG_P_EQ;
            if (m == 0 && (lead || trail))
                kind = SG_P_CONTAINS; /* `*` alone: anything (incl. empty) */
        } else {
            char *g = arena_bytes(c, m - st + 2);
            size_t k = 0;
            if (!g)
                return KS_ENOMEM;
            if (lead)
                g[k++] = SG_GLOB_STAR;
            memcpy(g + k, o + st, m - st);
            k += m - st;
            if (trail)
                g[k++] = SG_GLOB_STAR;
            o = g;
            m = k;
            kind = SG_P_GLOB;
        }
    }
    o[m] = 0;
    out->needle = 0;
    out->kind = kind;
    out->s = o;
    out->n = m;
    return KS_OK;
}

int sg__compile_value(sg_ctx *c, const sg_yaml *y, const sg_modifier *const *mods, size_t nmods,
                      sg_val *v)
{
    const sg_modifier *op = NULL;
    char *one[1];
    size_t onen[1];
    int rc;

    memset(v, 0, sizeof *v);
    c->literal = false;
    c->anchor = c->keyword ? SG_P_CONTAINS : SG_P_EQ; /* keywords: full-text search */
    c->reflags = 0;
    c->is_null = sg__yaml_is_null(y);
    c->plain = y && y->plain;
    if (y && y->type != SG_Y_SCALAR) {
        snprintf(c->err, sizeof c->err, "line %u: a value must be a scalar", y->line);
        c->fail = SG_FAIL_SCHEMA;
        return KS_ERULE;
    }
    one[0] = y ? (char *)y->s : (char *)"";
    onen[0] = y ? y->n : 0;
    set_variants(c, one, onen, 1);
    for (size_t i = 0; i < nmods; i++) {
        if (mods[i]->kind == SG_MOD_OP) {
            op = mods[i];
            continue;
        }
        if ((rc = mods[i]->compile(c, v)) != KS_OK)
            return rc;
    }
    if (c->is_null && !op) {
        v->match = match_null;
        v->wants_missing = true;
        return KS_OK;
    }
    if (op && op->match != match_neq) {
        v->match = op->match;
        return op->compile(c, v);
    }
    if (c->nvar == 0) {
        v->match = match_never;
        return KS_OK;
    }
    v->match = op ? op->match : match_str;
    v->pats = ks__arena_alloc(c->rs->arena, c->nvar * sizeof *v->pats);
    if (!v->pats)
        return KS_ENOMEM;
    for (size_t i = 0; i < c->nvar; i++)
        if ((rc = build_pat(c, c->var[i], c->varn[i], v->cased, &v->pats[i])) != KS_OK)
            return rc;
    v->npats = (uint32_t)c->nvar;
    return KS_OK;
}

/* Every function a value's match may be, numbered for the compiled-rule
 * cache (sigma_rcache.c): append only within one build (the cache is keyed
 * by kensa's build). */
static const sg_match_fn match_fns[] = {
    match_str, match_neq, match_never, match_null, match_exists, match_re,
    match_cmp, match_timepart, match_cidr, match_fieldref,
};

int sg__match_code(sg_match_fn fn)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(match_fns); i++)
        if (match_fns[i] == fn)
            return (int)i;
    return -1;
}

sg_match_fn sg__match_fn(int code)
{
    return code >= 0 && (size_t)code < KS_ARRAY_LEN(match_fns) ? match_fns[code] : NULL;
}

bool sg__val_is_string(const sg_val *v)
{
    return v->match == match_str;
}

bool sg__val_is_exists(const sg_val *v)
{
    return v->match == match_exists;
}

bool sg__val_is_regex(const sg_val *v)
{
    return v->match == match_re;
}
