/* SPDX-License-Identifier: Apache-2.0
 *
 * A per-string prefilter for YARA regular expressions.
 *
 * Why: libyara finds a regex string through its atoms (often one or two
 * bytes such as "$_" or "<%") and then runs its own regex engine at every
 * atom hit. On web trees that verification is most of the scan (80% of
 * CPU with the bundled web shell rules), and almost none of it matches.
 * Vectorscan compiles every regex string of the rule sets into one
 * block-mode database in prefilter mode (it may report a match that is not
 * one, never miss one) and scans the buffer libyara is about to scan (the
 * file's mapping: it runs only for a file some set will scan), once and
 * whole; a regex string it does not find cannot
 * match, so its libyara verification is switched off for that scan (the
 * same per-scan strings_temp_disabled bits as the literal gates). Exact
 * for rule outcomes: only strings that match nowhere in the file go.
 *
 * The regex is translated so Vectorscan reads it at least as loosely as
 * libyara: the class escapes \w \s \d are spelled as YARA defines them
 * (ASCII; \s with \v), "{,n}" (YARA's "up to n") becomes "{0,n}", and
 * anything this does not know (an unknown escape, a negated class escape
 * inside brackets) leaves the string out of the prefilter. Expressions
 * Vectorscan refuses are left out too, and their strings always verified.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "detect/yara_sets.h"

#define MAX_EXPRS 100000

/* Appends re (a YARA regex body) as Vectorscan syntax; false when it
 * uses something not translated. */
bool ks__yre_translate(const char *re, size_t n, ks_buf *out)
{
    bool in_class = false;
    for (size_t i = 0; i < n; i++) {
        char c = re[i];
        const char *rep = NULL;
        if (c == '\\') {
            if (++i >= n)
                return false;
            char e = re[i];
            switch (e) {
            case 'w': rep = in_class ? "a-zA-Z0-9_" : "[a-zA-Z0-9_]"; break;
            case 'W': rep = in_class ? NULL : "[^a-zA-Z0-9_]"; break;
            case 's': rep = in_class ? "\\t\\n\\x0b\\f\\r " : "[\\t\\n\\x0b\\f\\r ]"; break;
            case 'S': rep = in_class ? NULL : "[^\\t\\n\\x0b\\f\\r ]"; break;
            case 'd': rep = in_class ? "0-9" : "[0-9]"; break;
            case 'D': rep = in_class ? NULL : "[^0-9]"; break;
            case 'b':
            case 'B':
                if (in_class)
                    return false; /* \b in a class: backspace in some dialects */
                rep = e == 'b' ? "\\b" : "\\B";
                break;
            case 'n': rep = "\\n"; break;
            case 't': rep = "\\t"; break;
            case 'r': rep = "\\r"; break;
            case 'f': rep = "\\f"; break;
            case 'a': rep = "\\x07"; break;
            case 'x':
                if (i + 2 >= n || ks__hexval(re[i + 1]) < 0 || ks__hexval(re[i + 2]) < 0)
                    return false;
                if (ks__buf_add(out, re + i - 1, 4) != KS_OK)
                    return false;
                i += 2;
                continue;
            default:
                if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
                    return false; /* an escape we do not know */
                /* an escaped symbol: itself, escaped for Vectorscan too */
                if (ks__buf_addc(out, '\\') != KS_OK || ks__buf_addc(out, e) != KS_OK)
                    return false;
                continue;
            }
            if (!rep || ks__buf_add(out, rep, strlen(rep)) != KS_OK)
                return false;
            continue;
        }
        if (in_class) {
            if (c == ']')
                in_class = false;
        } else if (c == '[') {
            in_class = true;
            if (ks__buf_addc(out, c) != KS_OK)
                return false;
            /* "[]..." and "[^]...": the first ']' is a member */
            if (i + 1 < n && re[i + 1] == '^') {
                if (ks__buf_addc(out, '^') != KS_OK)
                    return false;
                i++;
            }
            if (i + 1 < n && re[i + 1] == ']') {
                if (ks__buf_add(out, "\\]", 2) != KS_OK)
                    return false;
                i++;
            }
            continue;
        } else if (c == '{' && i + 1 < n && re[i + 1] == ',') {
            if (ks__buf_add(out, "{0", 2) != KS_OK)
                return false;
            continue;
        }
        if (ks__buf_addc(out, c) != KS_OK)
            return false;
    }
    return !in_class;
}

static void yref_release(ks_yrefilter *rf)
{
    for (size_t i = 0; i < rf->nexpr; i++)
        free(rf->expr[i]);
    free(rf->expr);
    free(rf->flags);
    free(rf->refused);
    for (size_t i = 0; i < rf->nstr; i++) {
        free(rf->str[i].ns);
        free(rf->str[i].name);
    }
    free(rf->str);
    hs_free_database(rf->db);
    ks__map_free(rf->ids);
    memset(rf, 0, sizeof *rf);
}

void ks__yref_free(ks_yrefilter *rf)
{
    yref_release(rf);
}

/* The id of expression (text, flags), added when new; -1 on error. */
static long expr_id(ks_yrefilter *rf, const char *text, size_t n, unsigned flags)
{
    ks_buf key = {0};
    long id = -1;
    if (!rf->ids && !(rf->ids = ks__map_new(256)))
        return -1;
    if (ks__buf_printf(&key, "%u:", flags) != KS_OK || ks__buf_add(&key, text, n) != KS_OK)
        goto out;
    uint64_t *slot = ks__map_slot(rf->ids, key.p, key.n, true);
    if (!slot)
        goto out;
    if (*slot) {
        id = (long)*slot - 1;
        goto out;
    }
    if (rf->nexpr >= MAX_EXPRS)
        goto out;
    size_t cap = rf->capexpr, cap2 = rf->capexpr;
    if (ks__grow(&rf->expr, &rf->capexpr, rf->nexpr, sizeof *rf->expr, 64) != KS_OK ||
        ks__grow(&rf->flags, &cap, rf->nexpr, sizeof *rf->flags, 64) != KS_OK ||
        ks__grow(&rf->refused, &cap2, rf->nexpr, sizeof *rf->refused, 64) != KS_OK ||
        !(rf->expr[rf->nexpr] = strndup(text, n)))
        goto out;
    rf->flags[rf->nexpr] = flags;
    rf->refused[rf->nexpr] = false;
    *slot = ++rf->nexpr;
    id = (long)rf->nexpr - 1;
out:
    ks__buf_release(&key);
    return id;
}

static int str_push(ks_yrefilter *rf, uint32_t set, uint32_t expr, uint32_t ord, const char *ns,
                    const char *name, size_t nl)
{
    if (strchr(ns, '\n') || nl == 0)
        return KS_OK; /* not representable in the manifest: always verified */
    if (ks__grow(&rf->str, &rf->capstr, rf->nstr, sizeof *rf->str, 256) != KS_OK)
        return KS_ENOMEM;
    ks_yrestr *s = &rf->str[rf->nstr];
    *s = (ks_yrestr){.set = set, .expr = expr, .ord = ord};
    if (!(s->ns = strdup(ns)) || !(s->name = strndup(name, nl))) {
        free(s->ns);
        return KS_ENOMEM;
    }
    rf->nstr++;
    return KS_OK;
}

int ks__yref_add(ks_yrefilter *rf, uint32_t set, const char *src, const ks_yregex *re,
                 const char *ns, const char *name, size_t nl)
{
    ks_buf b = {0};
    int rc = KS_OK;
    if (!ks__yre_translate(src + re->vb, re->ve - re->vb, &b) || b.n == 0)
        goto out; /* left to libyara */
    unsigned flags = HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH | (re->nocase ? HS_FLAG_CASELESS : 0) |
                     (re->dotall ? HS_FLAG_DOTALL : 0);
    long id = expr_id(rf, b.p, b.n, flags);
    if (id < 0)
        goto out;
    rc = str_push(rf, set, (uint32_t)id, re->ord, ns, name, nl);
out:
    ks__buf_release(&b);
    return rc;
}

int ks__yref_add_loaded(ks_yrefilter *rf, const char *text, unsigned flags, bool refused)
{
    long id = expr_id(rf, text, strlen(text), flags);
    if (id < 0 || (size_t)id != rf->nexpr - 1)
        return KS_EFORMAT; /* a repeated expression: not what was saved */
    rf->refused[id] = refused;
    return KS_OK;
}

int ks__yref_add_str(ks_yrefilter *rf, uint32_t set, uint32_t expr, uint32_t ord, const char *ns,
                     const char *name, size_t nl)
{
    if (expr >= rf->nexpr)
        return KS_EFORMAT;
    return str_push(rf, set, expr, ord, ns, name, nl);
}

void ks__yref_remap(ks_yrefilter *rf, const int *map)
{
    size_t kept = 0;
    for (size_t i = 0; i < rf->nstr; i++) {
        ks_yrestr s = rf->str[i];
        if (map[s.set] < 0) {
            free(s.ns);
            free(s.name);
            continue;
        }
        s.set = (uint32_t)map[s.set];
        rf->str[kept++] = s;
    }
    rf->nstr = kept;
}

static void on_refused(void *ud, unsigned id)
{
    ks_yrefilter *rf = ud;
    if (id < rf->nexpr)
        rf->refused[id] = true;
}

int ks__yref_compile(ks_yrefilter *rf)
{
    const char **ex = calloc(rf->nexpr ? rf->nexpr : 1, sizeof *ex);
    unsigned *fl = calloc(rf->nexpr ? rf->nexpr : 1, sizeof *fl);
    unsigned *ids = calloc(rf->nexpr ? rf->nexpr : 1, sizeof *ids);
    unsigned n = 0;
    int rc = KS_OK;
    if (!ex || !fl || !ids) {
        rc = KS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < rf->nexpr; i++) {
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *cerr = NULL;
        /* refused alone (syntax, empty matches): out before the costly
         * compile of all, which starts over for each one refused */
        if (rf->refused[i] ||
            hs_expression_info(rf->expr[i], rf->flags[i], &info, &cerr) != HS_SUCCESS) {
            hs_free_compile_error(cerr);
            rf->refused[i] = true;
            continue;
        }
        free(info);
        ex[n] = rf->expr[i];
        fl[n] = rf->flags[i];
        ids[n++] = (unsigned)i;
    }
    hs_free_database(rf->db);
    rf->db = NULL;
    if (n)
        rc = ks__hs_compile_dropping(ex, fl, ids, &n, HS_MODE_BLOCK, on_refused, rf, &rf->db);
out:
    free(ex);
    free(fl);
    free(ids);
    return rc;
}

int ks__yref_bind(const ks_yrefilter *rf, ks_yset *y, size_t i)
{
    ks_map *m = ks__map_new(64);
    ks_buf key = {0};
    int rc = KS_OK;
    YR_RULE *rule;
    if (!m)
        return KS_ENOMEM;
    free(y->re);
    y->re = NULL;
    y->nre = 0;
    /* (rule, ord) -> entries of this set; a rule's entries are few */
    for (size_t k = 0; k < rf->nstr && rc == KS_OK; k++) {
        const ks_yrestr *s = &rf->str[k];
        uint64_t *slot;
        if (s->set != i || rf->refused[s->expr])
            continue;
        ks__buf_reset(&key);
        if ((rc = ks__buf_printf(&key, "%s\n%s\n%u", s->ns, s->name, s->ord)) != KS_OK)
            break;
        if (!(slot = ks__map_slot(m, key.p, key.n, true)))
            rc = KS_ENOMEM;
        else
            *slot = k + 1;
    }
    size_t cap = 0;
    yr_rules_foreach(y->rules, rule)
    {
        const YR_STRING *str;
        uint32_t ord = 0;
        if (rc != KS_OK)
            break;
        yr_rule_strings_foreach(rule, str)
        {
            const uint64_t *slot;
            ks__buf_reset(&key);
            if ((rc = ks__buf_printf(&key, "%s\n%s\n%u", rule->ns->name, rule->identifier,
                                     ord++)) != KS_OK)
                break;
            /* only a regex string: a text or hex string in its place means
             * the rule is not the one analysed */
            if (!(slot = ks__map_get(m, key.p, key.n)) || !STRING_IS_REGEXP(str))
                continue;
            if ((rc = ks__grow(&y->re, &cap, y->nre, sizeof *y->re, 16)) != KS_OK)
                break;
            y->re[y->nre++] = (ks_yrebound){.sidx = str->idx,
                                            .expr = rf->str[*slot - 1].expr};
        }
    }
    ks__buf_release(&key);
    ks__map_free(m);
    return rc;
}

/* ---- per file ------------------------------------------------------------------- */
int ks__yref_ws_init(const ks_yrefilter *rf, ks_yrefws *w)
{
    memset(w, 0, sizeof *w);
    if (!rf->db)
        return KS_OK;
    if (hs_alloc_scratch(rf->db, &w->scr) != HS_SUCCESS ||
        !(w->hit = calloc((rf->nexpr + 63) / 64, sizeof *w->hit))) {
        ks__yref_ws_free(w);
        return KS_ENOMEM;
    }
    return KS_OK;
}

void ks__yref_ws_free(ks_yrefws *w)
{
    hs_free_scratch(w->scr);
    free(w->hit);
    memset(w, 0, sizeof *w);
}

static int on_re(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                 void *ud)
{
    ks_yrefws *w = ud;
    (void)from, (void)to, (void)flags;
    w->hit[id / 64] |= 1ull << (id % 64);
    return 0;
}

void ks__yref_scan(const ks_yrefilter *rf, ks_yrefws *w, const uint8_t *p, uint64_t n)
{
    w->known = false;
    /* block mode sees the whole content at once; a larger one (past what
     * one call takes) keeps every regex string on */
    if (!rf->db || !w->scr || n > UINT_MAX)
        return;
    memset(w->hit, 0, (rf->nexpr + 63) / 64 * sizeof *w->hit);
    w->known = hs_scan(rf->db, n ? (const char *)p : "", (unsigned)n, 0, w->scr, on_re, w) ==
               HS_SUCCESS;
}

void ks__yref_skip(const ks_yset *y, const ks_yrefws *w, YR_SCANNER *sc)
{
#if YR_MAJOR_VERSION == 4 && YR_MINOR_VERSION == 2
    if (!w->known)
        return;
    for (size_t k = 0; k < y->nre; k++)
        if (!(w->hit[y->re[k].expr / 64] >> (y->re[k].expr % 64) & 1))
            yr_bitmask_set(sc->strings_temp_disabled, y->re[k].sidx);
#else
    (void)y, (void)w, (void)sc;
#endif
}
