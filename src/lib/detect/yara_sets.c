/* SPDX-License-Identifier: Apache-2.0
 *
 * Compiled YARA rule sets gated by magic bytes and literals.
 *
 * Why: libyara 4.2 runs every rule's condition and builds every imported
 * module's object tree for every file; on a web-shell tree most of the
 * community set is PE rules ("uint16(0) == 0x5a4d and ...") that cannot
 * match a PHP page, yet they cost as much as the rules that can. Splitting
 * the rules by what their conditions require (yara_split.c) lets a file be
 * scanned only by the sets whose gate it passes: the always-run set, the
 * magic sets whose bytes it starts with, and the literal set when one
 * Vectorscan pass finds any of its literals. Results are those of one set
 * over all rules: a skipped rule is one whose condition is false.
 *
 * How: each rule file that compiled whole is read with ks__ysplit_parse();
 * its rules are assigned to sets (magic gates with too few rules overall
 * fall back to the always-run set) and each part is first compiled on its
 * own in a scratch compiler: a part libyara refuses (a rule this reader
 * misjudged, say) sends the whole file, as written, to the always-run set.
 * Namespaces stay one per file, so rule names and outputs do not change.
 *
 * Facts: each rule of each set also carries what its condition needs of
 * any file it matches (sizes, its magic bytes, a required literal). Per
 * file, a set none of whose reported rules can hold is not scanned at all
 * (a 40 MB event log against rules bounded to small scripts costs no
 * libyara pass), and in a set that is scanned the strings of the rules
 * that cannot hold are switched off.
 *
 * Cache: every set is saved with yr_rules_save() beside a manifest listing
 * the gates and literals; the manifest is renamed into place last, so a
 * reader sees either a whole cache or none.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "detect/fileinfo.h"
#include "detect/yara_sets.h"

/* A set per magic value with at least this many rules: each set a file
 * passes costs a libyara pass over it, and text magics ("<?", "<%") open
 * for most files of a web tree while gating only a few rules. */
#define MIN_MAGIC_RULES 16
#define MAX_SRC_BYTES ((size_t)64 << 20)
#define MANIFEST_MAGIC_(v) "kensa-yara-sets " #v
#define MANIFEST_MAGIC_V(v) MANIFEST_MAGIC_(v)
#define MANIFEST_MAGIC MANIFEST_MAGIC_V(KS_YSETS_FORMAT)

typedef struct yfile {
    char *src;
    size_t n;
    ks_ysplit sp;
    bool whole;     /* compile as written, into set 0 */
    int *rset;      /* set index per rule */
    int *lset;      /* per rule: the literal set holding it as well, or -1
                     * (KS_YG_MIXED: in its magic's set and a literal set) */
} yfile;

/* The literal sets: "light" holds the always-run rules plus the
 * literal-gated rules that use no costly module; "costly" the literal-gated
 * rules that do (pe's object tree alone costs ~0.2 ms per scan: a set
 * importing pe should run on the few files its literals point to, not on
 * the third of a web tree that opens the light set). */
typedef struct litsets {
    int light, costly;
} litsets;

typedef struct mcount {
    ks_ymagic m;
    size_t n;
} mcount;

static char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, len = 0;
    if (!fp)
        return NULL;
    for (;;) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            char *nb;
            if (nc > MAX_SRC_BYTES + 1 || !(nb = realloc(buf, nc + 1))) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + len, 1, cap - len, fp);
        len += r;
        if (r == 0)
            break;
    }
    fclose(fp);
    buf[len] = 0;
    *n = len;
    return buf;
}

static int lit_push(ks_ysets *s, const ks_ylit *l, int set)
{
    size_t cap = s->litcap;
    if (ks__grow(&s->lit, &s->litcap, s->nlits, sizeof *s->lit, 256) != KS_OK ||
        ks__grow(&s->litset, &cap, s->nlits, sizeof *s->litset, 256) != KS_OK)
        return KS_ENOMEM;
    uint8_t *b = malloc(l->len ? l->len : 1);
    if (!b)
        return KS_ENOMEM;
    memcpy(b, l->bytes, l->len);
    s->litset[s->nlits] = (uint8_t)set;
    s->lit[s->nlits++] = (ks_ylit){.bytes = b, .len = l->len, .caseless = l->caseless};
    return KS_OK;
}

static int grule_push(ks_ysets *s, uint32_t set, const ks_yfacts *fx, const char *ns,
                      const char *name, size_t nl)
{
    if (strchr(ns, '\n') || nl == 0)
        return KS_OK; /* not representable in the manifest: left ungated */
    if (ks__grow(&s->grule, &s->capgrule, s->ngrule, sizeof *s->grule, 256) != KS_OK)
        return KS_ENOMEM;
    ks_ygrule *g = &s->grule[s->ngrule];
    *g = (ks_ygrule){.set = set, .fx = *fx};
    if (!(g->ns = strdup(ns)) || !(g->name = strndup(name, nl))) {
        free(g->ns);
        return KS_ENOMEM;
    }
    s->ngrule++;
    return KS_OK;
}

static int compile_lits(ks_ysets *s)
{
    const char **ex = calloc(s->nlits ? s->nlits : 1, sizeof *ex);
    unsigned *fl = calloc(s->nlits ? s->nlits : 1, sizeof *fl);
    unsigned *ids = calloc(s->nlits ? s->nlits : 1, sizeof *ids);
    size_t *lens = calloc(s->nlits ? s->nlits : 1, sizeof *lens);
    hs_compile_error_t *cerr = NULL;
    int rc = KS_OK;
    if (!ex || !fl || !ids || !lens) {
        rc = KS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < s->nlits; i++) {
        /* Vectorscan's literal API takes a leading NUL for an empty
         * string; a literal's tail is as required as all of it. */
        size_t skip = 0;
        while (skip < s->lit[i].len && s->lit[i].bytes[skip] == 0)
            skip++;
        if (skip == s->lit[i].len) {
            rc = KS_OK; /* all NULs: no prefilter, the set always runs */
            goto out;
        }
        ex[i] = (const char *)s->lit[i].bytes + skip;
        lens[i] = s->lit[i].len - skip;
        fl[i] = HS_FLAG_SINGLEMATCH | (s->lit[i].caseless ? HS_FLAG_CASELESS : 0);
        ids[i] = (unsigned)i; /* distinct: equal ids make Vectorscan's compile crawl */
    }
    if (hs_compile_lit_multi(ex, fl, ids, lens, (unsigned)s->nlits, HS_MODE_STREAM, NULL,
                             &s->lits, &cerr) != HS_SUCCESS) {
        hs_free_compile_error(cerr);
        rc = KS_EINTERNAL;
    }
out:
    free(ex);
    free(fl);
    free(ids);
    free(lens);
    return rc;
}

/* Compiles text alone, as libyara would in the real set: true if clean. */
static bool part_compiles(ks_ycompiler_fn mk, void *ud, const char *text, const char *ns)
{
    YR_COMPILER *c = NULL;
    if (mk(ud, &c) != KS_OK)
        return false;
    bool ok = yr_compiler_add_string(c, text, ns) == 0;
    yr_compiler_destroy(c);
    return ok;
}

/* Picks the magic values that get their own set, most rules first. */
static int choose_magics(ks_ysets *s, yfile *fs, size_t nf)
{
    mcount *mc = NULL;
    size_t nmc = 0, cap = 0;
    for (size_t f = 0; f < nf; f++)
        for (size_t r = 0; r < fs[f].sp.nrules; r++) {
            const ks_yrule *yr = &fs[f].sp.rules[r];
            if (yr->gate != KS_YG_MAGIC && yr->gate != KS_YG_MIXED)
                continue;
            size_t k = 0;
            while (k < nmc && !ks__ymagic_eq(&mc[k].m, &yr->magic))
                k++;
            if (k == nmc) {
                if (ks__grow(&mc, &cap, nmc, sizeof *mc, 32) != KS_OK) {
                    free(mc);
                    return KS_ENOMEM;
                }
                mc[nmc++] = (mcount){yr->magic, 0};
            }
            mc[k].n++;
        }
    /* selection by count: a handful of values, so a simple pass each */
    while (s->n < KS_YSETS_MAX - 2) { /* room for the two literal sets */
        size_t best = nmc;
        for (size_t k = 0; k < nmc; k++)
            if (mc[k].n >= MIN_MAGIC_RULES && (best == nmc || mc[k].n > mc[best].n))
                best = k;
        if (best == nmc)
            break;
        s->set[s->n++] = (ks_yset){.gate = KS_YG_MAGIC, .magic = mc[best].m};
        mc[best].n = 0;
    }
    free(mc);
    return KS_OK;
}

/* Where a rule goes: *set, and *lset, a literal set holding it as well
 * (-1: none). */
static void place_rule(const ks_ysets *s, const ks_yrule *r, litsets ls, int *set, int *lset)
{
    int lit = r->costly ? ls.costly : ls.light;
    *set = 0;
    *lset = -1;
    if (r->gate == KS_YG_MAGIC || r->gate == KS_YG_MIXED)
        for (size_t i = 1; i < s->n; i++)
            if (s->set[i].gate == KS_YG_MAGIC && ks__ymagic_eq(&s->set[i].magic, &r->magic)) {
                *set = (int)i;
                *lset = r->gate == KS_YG_MIXED ? lit : -1;
                return;
            }
    if (r->gate != KS_YG_MIXED && r->nlit)
        *set = lit; /* literal-gated, or its magic has no set: the literals may do */
}

/* The light literal set holds the always-run rules too (see
 * ks__ysets_select), and a magic-or-literal rule is in its magic's set and
 * a literal set: a file passing both gates runs it twice, and the detector
 * reports it once. */
static bool in_set(const yfile *f, size_t r, int set, litsets ls)
{
    return f->rset[r] == set || f->lset[r] == set || (set == ls.light && f->rset[r] == 0);
}

/* The literal set whose gate rule r's literals feed, or -1. */
static int lit_target(const ks_ysets *s, const yfile *f, size_t r)
{
    if (f->lset[r] >= 0)
        return f->lset[r];
    return s->set[f->rset[r]].gate == KS_YG_LITERAL ? f->rset[r] : -1;
}

/* Decides, for one file, each rule's set and whether the parts compile. */
static int plan_file(ks_ysets *s, yfile *f, const char *path, litsets ls, ks_ycompiler_fn mk,
                     void *ud)
{
    ks_buf b = {0};
    bool *pick = NULL;
    int rc = KS_OK;
    if (f->whole)
        return KS_OK;
    if (!(f->rset = calloc(f->sp.nrules ? f->sp.nrules : 1, sizeof *f->rset)) ||
        !(f->lset = calloc(f->sp.nrules ? f->sp.nrules : 1, sizeof *f->lset)) ||
        !(pick = calloc(f->sp.nrules ? f->sp.nrules : 1, sizeof *pick))) {
        rc = KS_ENOMEM;
        goto out;
    }
    for (size_t r = 0; r < f->sp.nrules; r++)
        place_rule(s, &f->sp.rules[r], ls, &f->rset[r], &f->lset[r]);
    for (size_t i = 1; i < s->n && !f->whole; i++) {
        bool any = false;
        for (size_t r = 0; r < f->sp.nrules; r++)
            any |= pick[r] = in_set(f, r, (int)i, ls);
        if (!any)
            continue;
        ks__buf_reset(&b);
        if ((rc = ks__ysplit_text(f->src, &f->sp, pick, &b)) != KS_OK ||
            (rc = ks__buf_addc(&b, 0)) != KS_OK)
            goto out;
        if (!part_compiles(mk, ud, b.p, path))
            f->whole = true;
    }
    if (!f->whole) {
        bool any = false;
        for (size_t r = 0; r < f->sp.nrules; r++)
            any |= pick[r] = f->rset[r] == 0;
        ks__buf_reset(&b);
        if (any && ((rc = ks__ysplit_text(f->src, &f->sp, pick, &b)) != KS_OK ||
                    (rc = ks__buf_addc(&b, 0)) != KS_OK))
            goto out;
        if (any && !part_compiles(mk, ud, b.p, path))
            f->whole = true;
    }
out:
    ks__buf_release(&b);
    free(pick);
    return rc;
}

/* Adds every file's parts to the set compilers and collects literals. */
static int fill_sets(ks_ysets *s, yfile *fs, char *const *paths, const bool *good, size_t nf,
                     YR_COMPILER **cc, litsets ls)
{
    ks_buf b = {0};
    bool *pick = NULL;
    size_t maxr = 1;
    int rc = KS_OK;
    for (size_t f = 0; f < nf; f++)
        maxr = fs[f].sp.nrules > maxr ? fs[f].sp.nrules : maxr;
    if (!(pick = calloc(maxr, sizeof *pick)))
        return KS_ENOMEM;
    for (size_t f = 0; f < nf && rc == KS_OK; f++) {
        if (!good[f])
            continue;
        if (fs[f].whole) {
            /* as written, from the file: includes resolve as before; into
             * the always-run set and the light literal set, which runs
             * instead of it on a file its literals open */
            const int to[2] = {0, ls.light};
            s->whole_files++;
            for (int k = 0; k < 2 && rc == KS_OK; k++) {
                FILE *fp = fopen(paths[f], "r");
                if (!fp || yr_compiler_add_file(cc[to[k]], fp, paths[f], paths[f]) != 0)
                    rc = KS_EINTERNAL;
                if (fp)
                    fclose(fp);
            }
            continue;
        }
        for (size_t i = 0; i < s->n && rc == KS_OK; i++) {
            bool any = false;
            for (size_t r = 0; r < fs[f].sp.nrules; r++)
                any |= pick[r] = in_set(&fs[f], r, (int)i, ls);
            if (!any)
                continue;
            ks__buf_reset(&b);
            if ((rc = ks__ysplit_text(fs[f].src, &fs[f].sp, pick, &b)) != KS_OK ||
                (rc = ks__buf_addc(&b, 0)) != KS_OK)
                break;
            if (yr_compiler_add_string(cc[i], b.p, paths[f]) != 0) {
                rc = KS_EINTERNAL;
                break;
            }
        }
        /* each literal-gated rule's literals, for its literal set's gate,
         * and the facts of each rule in each set holding it */
        for (size_t r = 0; r < fs[f].sp.nrules && rc == KS_OK; r++) {
            const ks_yrule *yr = &fs[f].sp.rules[r];
            int t = lit_target(s, &fs[f], r);
            size_t lit0 = s->nlits;
            s->ndual += fs[f].lset[r] >= 0;
            for (size_t k = 0; t >= 0 && k < yr->nlit && rc == KS_OK; k++)
                rc = lit_push(s, &fs[f].sp.lits[yr->lit0 + k], t);
            for (size_t i = 0; i < s->n && rc == KS_OK; i++) {
                ks_yfacts fx = {.smin = yr->size_min, .smax = yr->size_max};
                if (!in_set(&fs[f], r, (int)i, ls))
                    continue;
                if (yr->gate == KS_YG_MAGIC)
                    fx.magic = yr->magic;
                /* only where the literals are a conjunct: a magic-or-literal
                 * rule may hold in the literal set by its magic */
                if ((int)i == t && fs[f].lset[r] < 0 && yr->nlit) {
                    fx.lit0 = (uint32_t)lit0;
                    fx.nlit = (uint32_t)yr->nlit;
                }
                if (fx.smin || fx.smax != UINT64_MAX || fx.magic.width || fx.nlit)
                    rc = grule_push(s, (uint32_t)i, &fx, paths[f], fs[f].src + yr->nb,
                                    yr->ne - yr->nb);
            }
        }
        /* each regex string, for the prefilter of each set holding it */
        for (size_t x = 0; x < fs[f].sp.nregexes && rc == KS_OK; x++) {
            const ks_yregex *re = &fs[f].sp.regexes[x];
            const ks_yrule *yr = &fs[f].sp.rules[re->rule];
            for (size_t i = 0; i < s->n && rc == KS_OK; i++)
                if (in_set(&fs[f], re->rule, (int)i, ls))
                    rc = ks__yref_add(&s->rf, (uint32_t)i, fs[f].src, re, paths[f],
                                      fs[f].src + yr->nb, yr->ne - yr->nb);
        }
    }
    ks__buf_release(&b);
    free(pick);
    return rc;
}

/* Finds each rule with facts in its compiled set (by namespace and name)
 * and notes its index and strings' indices there; counts each set's
 * reported rules without facts. */
static int bind_gated(ks_ysets *s)
{
    ks_map *m = ks__map_new(s->ngrule * 2 + 16);
    ks_buf key = {0};
    int rc = KS_OK;
    if (!m)
        return KS_ENOMEM;
    for (size_t g = 0; g < s->ngrule && rc == KS_OK; g++) {
        const ks_ygrule *gr = &s->grule[g];
        uint64_t *slot;
        ks__buf_reset(&key);
        if ((rc = ks__buf_printf(&key, "%u\n%s\n%s", gr->set, gr->ns, gr->name)) != KS_OK)
            break;
        if (!(slot = ks__map_slot(m, key.p, key.n, true)))
            rc = KS_ENOMEM;
        else
            *slot = g + 1;
    }
    for (size_t i = 0; i < s->n && rc == KS_OK; i++) {
        ks_yset *y = &s->set[i];
        YR_RULE *rule;
        y->nopen = 0;
        if (!(y->gated = calloc(s->ngrule ? s->ngrule : 1, sizeof *y->gated))) {
            rc = KS_ENOMEM;
            break;
        }
        yr_rules_foreach(y->rules, rule)
        {
            const uint64_t *slot;
            const YR_STRING *str;
            ks__buf_reset(&key);
            if ((rc = ks__buf_printf(&key, "%zu\n%s\n%s", i, rule->ns->name, rule->identifier)) !=
                KS_OK)
                break;
            if (!(slot = ks__map_get(m, key.p, key.n))) {
                y->nopen += !RULE_IS_PRIVATE(rule);
                continue;
            }
            const ks_ygrule *gr = &s->grule[*slot - 1];
            ks_ygated *gd = &y->gated[y->ngated];
            size_t ns = 0;
            yr_rule_strings_foreach(rule, str) ns++;
            if (ns && !(gd->sidx = malloc(ns * sizeof *gd->sidx))) {
                rc = KS_ENOMEM;
                break;
            }
            yr_rule_strings_foreach(rule, str) gd->sidx[gd->nsidx++] = str->idx;
            gd->fx = gr->fx;
            gd->rule = (uint32_t)(rule - y->rules->rules_table);
            gd->priv = RULE_IS_PRIVATE(rule);
            s->need_hits |= gd->fx.nlit > 0;
            y->ngated++;
        }
        if (rc == KS_OK)
            rc = ks__yref_bind(&s->rf, y, i);
    }
    ks__buf_release(&key);
    ks__map_free(m);
    return rc;
}

static void lit_mask(ks_ysets *s)
{
    s->litmask = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->set[i].gate == KS_YG_LITERAL)
            s->litmask |= 1u << i;
}

int ks__ysets_build(ks_ysets *s, char *const *paths, const bool *good, size_t nf,
                    ks_ycompiler_fn mk, void *ud)
{
    yfile *fs = calloc(nf ? nf : 1, sizeof *fs);
    YR_COMPILER *cc[KS_YSETS_MAX] = {0};
    int rc = KS_OK, map[KS_YSETS_MAX];
    litsets ls;
    memset(s, 0, sizeof *s);
    if (!fs)
        return KS_ENOMEM;
    s->set[s->n++] = (ks_yset){.gate = KS_YG_ALWAYS};
    for (size_t f = 0; f < nf; f++) {
        if (!good[f])
            continue;
        if (!(fs[f].src = slurp(paths[f], &fs[f].n))) {
            rc = KS_EIO; /* it compiled a moment ago: give up splitting */
            goto out;
        }
        if ((rc = ks__ysplit_parse(fs[f].src, fs[f].n, &fs[f].sp)) != KS_OK)
            goto out;
        /* NUL inside the text would cut an add_string short */
        fs[f].whole = fs[f].sp.whole || memchr(fs[f].src, 0, fs[f].n) != NULL;
    }
    if ((rc = choose_magics(s, fs, nf)) != KS_OK)
        goto out;
    ls.light = (int)s->n;
    s->set[s->n++] = (ks_yset){.gate = KS_YG_LITERAL, .with_always = true};
    ls.costly = (int)s->n;
    s->set[s->n++] = (ks_yset){.gate = KS_YG_LITERAL};
    for (size_t f = 0; f < nf; f++)
        if (good[f] && (rc = plan_file(s, &fs[f], paths[f], ls, mk, ud)) != KS_OK)
            goto out;
    for (size_t i = 0; i < s->n; i++)
        if ((rc = mk(ud, &cc[i])) != KS_OK)
            goto out;
    if ((rc = fill_sets(s, fs, paths, good, nf, cc, ls)) != KS_OK)
        goto out;
    for (size_t i = 0; i < s->n; i++) {
        if (yr_compiler_get_rules(cc[i], &s->set[i].rules) != ERROR_SUCCESS) {
            rc = KS_ENOMEM;
            goto out;
        }
        YR_RULE *r;
        yr_rules_foreach(s->set[i].rules, r) s->set[i].nrules++;
    }
    if (s->nlits && (rc = compile_lits(s)) != KS_OK)
        goto out;
    /* empty gated sets cost a scanner each and do nothing: drop them (a
     * literal set no literal opens is empty too) */
    for (size_t i = 0, k = 0, n = s->n; i < n; i++) {
        const ks_yset *y = &s->set[k]; /* set i as built */
        bool used = i == 0 || (y->gate != KS_YG_LITERAL && y->nrules > 0);
        for (size_t l = 0; !used && y->gate == KS_YG_LITERAL && l < s->nlits; l++)
            used = s->litset[l] == i;
        map[i] = used ? (int)k : -1;
        if (!used) {
            yr_rules_destroy(y->rules);
            memmove(&s->set[k], &s->set[k + 1], (s->n - k - 1) * sizeof *s->set);
            s->n--;
        } else
            k++;
    }
    for (size_t l = 0; l < s->nlits; l++)
        s->litset[l] = (uint8_t)map[s->litset[l]];
    /* facts of rules in a dropped set go with it */
    size_t kept = 0;
    for (size_t g = 0; g < s->ngrule; g++) {
        ks_ygrule gr = s->grule[g];
        if (map[gr.set] < 0) {
            free(gr.ns);
            free(gr.name);
            continue;
        }
        gr.set = (uint32_t)map[gr.set];
        s->grule[kept++] = gr;
    }
    s->ngrule = kept;
    ks__yref_remap(&s->rf, map);
    if ((rc = ks__yref_compile(&s->rf)) != KS_OK)
        goto out;
    lit_mask(s);
    rc = bind_gated(s);
out:
    for (size_t i = 0; i < KS_YSETS_MAX; i++)
        if (cc[i])
            yr_compiler_destroy(cc[i]);
    for (size_t f = 0; f < nf; f++) {
        free(fs[f].src);
        free(fs[f].rset);
        free(fs[f].lset);
        ks__ysplit_free(&fs[f].sp);
    }
    free(fs);
    if (rc != KS_OK)
        ks__ysets_free(s);
    return rc;
}

int ks__ysets_single(ks_ysets *s, YR_RULES *rules)
{
    memset(s, 0, sizeof *s);
    s->set[0] = (ks_yset){.rules = rules, .gate = KS_YG_ALWAYS};
    YR_RULE *r;
    yr_rules_foreach(rules, r) s->set[0].nrules++;
    s->n = 1;
    return bind_gated(s); /* no facts: counts the rules that run */
}

/* ---- cache ---------------------------------------------------------------------- */

/* Every cache file is written under "<path>.<pid>.tmp" beside its place
 * and renamed into it: a reader never sees half a file, and pruning knows
 * the leftovers of a run that died by the suffix. */

/* The Vectorscan databases (the literal gate, "lits", and the regex
 * prefilter, "re") are cached serialized too: compiling thousands of
 * literals takes Vectorscan ~0.1 s, half of a warm start, and thousands
 * of regexes far more. Written before the manifest, so a manifest never
 * sits beside a database from other rules. Best effort: without one, its
 * expressions are compiled again. */
static void save_db(const hs_database_t *db, const char *prefix, const char *what)
{
    char path[4200], tmp[4300], *bytes = NULL;
    size_t len = 0;
    FILE *fp;
    snprintf(path, sizeof path, "%s.%s.hs", prefix, what);
    if (!db) {
        unlink(path);
        return;
    }
    if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
        return;
    ks__cache_tmp(tmp, sizeof tmp, path);
    if ((fp = fopen(tmp, "wb")))
        ks__cache_commit(fp, fwrite(bytes, 1, len, fp) == len, tmp, path);
    free(bytes); /* hs_serialize_database allocates with the default (libc) allocator */
}

/* True when <prefix>.<what>.hs held a database for this build of
 * Vectorscan (another version or CPU feature set is refused and
 * recompiled). */
static bool load_db(hs_database_t **db, const char *prefix, const char *what)
{
    char path[4200];
    size_t n = 0;
    snprintf(path, sizeof path, "%s.%s.hs", prefix, what);
    char *bytes = slurp(path, &n);
    bool ok = bytes && hs_deserialize_database(bytes, n, db) == HS_SUCCESS;
    free(bytes);
    return ok;
}

int ks__ysets_save(const ks_ysets *s, const char *prefix)
{
    char path[4200], tmp[4300];
    FILE *fp = NULL;
    save_db(s->lits, prefix, "lits");
    save_db(s->rf.db, prefix, "re");
    for (size_t i = 0; i < s->n; i++) {
        snprintf(path, sizeof path, "%s.%zu.yarc", prefix, i);
        ks__cache_tmp(tmp, sizeof tmp, path);
        if (!ks__cache_commit(NULL, yr_rules_save(s->set[i].rules, tmp) == ERROR_SUCCESS, tmp,
                               path))
            return KS_EIO;
    }
    snprintf(path, sizeof path, "%s.sets", prefix);
    ks__cache_tmp(tmp, sizeof tmp, path);
    if (!(fp = fopen(tmp, "w")))
        return KS_EIO;
    fprintf(fp, "%s\n", MANIFEST_MAGIC);
    for (size_t i = 0; i < s->n; i++) {
        const ks_yset *y = &s->set[i];
        if (y->gate == KS_YG_MAGIC)
            fprintf(fp, "set magic %u %u %u %u\n", y->magic.off, y->magic.width, y->magic.be,
                    y->magic.value);
        else if (y->gate == KS_YG_LITERAL)
            fprintf(fp, "set literal%s\n", y->with_always ? " always" : "");
        else
            fprintf(fp, "set always\n");
    }
    fprintf(fp, "dual %zu\n", s->ndual);
    for (size_t g = 0; g < s->ngrule; g++) {
        const ks_yfacts *fx = &s->grule[g].fx;
        fprintf(fp, "rule %u %u %u %llu %llu %u %u %u %u %s %s\n", s->grule[g].set, fx->lit0,
                fx->nlit, (unsigned long long)fx->smin, (unsigned long long)fx->smax,
                fx->magic.off, fx->magic.width, fx->magic.be, fx->magic.value, s->grule[g].name,
                s->grule[g].ns);
    }
    for (size_t i = 0; i < s->rf.nexpr; i++) {
        fprintf(fp, "re %u %d ", s->rf.flags[i], s->rf.refused[i] ? 1 : 0);
        for (const char *c = s->rf.expr[i]; *c; c++)
            fprintf(fp, "%02x", (unsigned char)*c);
        fputc('\n', fp);
    }
    for (size_t k = 0; k < s->rf.nstr; k++)
        fprintf(fp, "rs %u %u %u %s %s\n", s->rf.str[k].set, s->rf.str[k].expr, s->rf.str[k].ord,
                s->rf.str[k].name, s->rf.str[k].ns);
    for (size_t i = 0; i < s->nlits; i++) {
        fprintf(fp, "lit %d %u ", s->lit[i].caseless ? 1 : 0, s->litset[i]);
        for (size_t k = 0; k < s->lit[i].len; k++)
            fprintf(fp, "%02x", s->lit[i].bytes[k]);
        fputc('\n', fp);
    }
    return ks__cache_commit(fp, true, tmp, path) ? KS_OK : KS_EIO;
}

/* "<caseless> <set> <hex>" */
static int load_lit(ks_ysets *s, const char *line)
{
    int c = line[0] - '0';
    char *end;
    unsigned long set = strtoul(line + 2, &end, 10);
    const char *h = end + 1;
    size_t hl = strcspn(h, "\r\n");
    if ((c != 0 && c != 1) || line[1] != ' ' || end == line + 2 || *end != ' ' ||
        set >= s->n || s->set[set].gate != KS_YG_LITERAL || hl == 0 || hl % 2)
        return KS_EFORMAT;
    ks_ylit l = {.len = hl / 2, .caseless = c == 1};
    if (!(l.bytes = malloc(l.len)))
        return KS_ENOMEM;
    if (!ks__unhex(h, hl, l.bytes)) {
        free(l.bytes);
        return KS_EFORMAT;
    }
    int rc = lit_push(s, &l, (int)set);
    free(l.bytes);
    return rc;
}

/* "<set> <lit0> <nlit> <smin> <smax> <magic off width be value> <name>
 * <namespace>" */
static int load_grule(ks_ysets *s, char *line)
{
    unsigned set, lit0, nlit, w, be;
    unsigned long long lo, hi;
    ks_yfacts fx = {0};
    int at = 0;
    line[strcspn(line, "\r\n")] = 0;
    if (sscanf(line, "%u %u %u %llu %llu %u %u %u %u %n", &set, &lit0, &nlit, &lo, &hi,
               &fx.magic.off, &w, &be, &fx.magic.value, &at) != 9 ||
        at == 0 || set >= s->n || lo > hi || (w != 0 && w != 1 && w != 2 && w != 4) || be > 1)
        return KS_EFORMAT;
    fx.lit0 = lit0;
    fx.nlit = nlit;
    fx.smin = lo;
    fx.smax = hi;
    fx.magic.width = (uint8_t)w;
    fx.magic.be = (uint8_t)be;
    char *name = line + at, *sp = strchr(name, ' ');
    if (!sp || sp == name || !sp[1])
        return KS_EFORMAT;
    return grule_push(s, set, &fx, sp + 1, name, (size_t)(sp - name));
}

/* "<flags> <refused> <hex>" */
static int load_re(ks_ysets *s, char *line)
{
    unsigned flags;
    int refused, at = 0;
    line[strcspn(line, "\r\n")] = 0;
    if (sscanf(line, "%u %d %n", &flags, &refused, &at) != 2 || at == 0 || refused < 0 ||
        refused > 1)
        return KS_EFORMAT;
    size_t hl = strlen(line + at);
    char *text = malloc(hl / 2 + 1);
    if (!text)
        return KS_ENOMEM;
    int rc = hl && hl % 2 == 0 && ks__unhex(line + at, hl, (uint8_t *)text) ? KS_OK : KS_EFORMAT;
    text[hl / 2] = 0;
    if (rc == KS_OK && strlen(text) != hl / 2)
        rc = KS_EFORMAT;
    if (rc == KS_OK)
        rc = ks__yref_add_loaded(&s->rf, text, flags, refused == 1);
    free(text);
    return rc;
}

/* "<set> <expr> <ord> <name> <namespace>" */
static int load_restr(ks_ysets *s, char *line)
{
    unsigned set, expr, ord;
    int at = 0;
    line[strcspn(line, "\r\n")] = 0;
    if (sscanf(line, "%u %u %u %n", &set, &expr, &ord, &at) != 3 || at == 0)
        return KS_EFORMAT;
    char *name = line + at, *sp = strchr(name, ' ');
    if (!sp || sp == name || !sp[1])
        return KS_EFORMAT;
    return ks__yref_add_str(&s->rf, set, expr, ord, sp + 1, name, (size_t)(sp - name));
}

int ks__ysets_load(ks_ysets *s, const char *prefix)
{
    /* a regex line is twice its expression in hex: room for long ones */
    const int linecap = 1 << 20;
    char path[4200], *line = NULL;
    FILE *fp;
    int rc = KS_OK;
    memset(s, 0, sizeof *s);
    snprintf(path, sizeof path, "%s.sets", prefix);
    if (!(fp = fopen(path, "r")))
        return KS_ENOTFOUND;
    if (!(line = malloc((size_t)linecap))) {
        rc = KS_ENOMEM;
        goto out;
    }
    if (!fgets(line, linecap, fp) || strncmp(line, MANIFEST_MAGIC, strlen(MANIFEST_MAGIC))) {
        rc = KS_EFORMAT;
        goto out;
    }
    while (rc == KS_OK && fgets(line, linecap, fp)) {
        if (!strncmp(line, "lit ", 4)) {
            rc = load_lit(s, line + 4);
            continue;
        }
        if (sscanf(line, "dual %zu", &s->ndual) == 1)
            continue;
        if (!strncmp(line, "rule ", 5)) {
            rc = load_grule(s, line + 5);
            continue;
        }
        if (!strncmp(line, "re ", 3)) {
            rc = load_re(s, line + 3);
            continue;
        }
        if (!strncmp(line, "rs ", 3)) {
            rc = load_restr(s, line + 3);
            continue;
        }
        unsigned off, w, be, val;
        ks_yset y = {0};
        if (sscanf(line, "set magic %u %u %u %u", &off, &w, &be, &val) == 4 &&
            (w == 1 || w == 2 || w == 4) && be <= 1)
            y = (ks_yset){.gate = KS_YG_MAGIC,
                          .magic = {.off = off, .width = (uint8_t)w, .be = (uint8_t)be, .value = val}};
        else if (!strcmp(line, "set literal\n") || !strcmp(line, "set literal always\n")) {
            y.gate = KS_YG_LITERAL;
            y.with_always = line[11] == ' ';
        }
        else if (!strcmp(line, "set always\n") && s->n == 0)
            y.gate = KS_YG_ALWAYS;
        else {
            rc = KS_EFORMAT;
            break;
        }
        if (s->n == KS_YSETS_MAX) {
            rc = KS_EFORMAT;
            break;
        }
        snprintf(path, sizeof path, "%s.%zu.yarc", prefix, s->n);
        if (yr_rules_load(path, &y.rules) != ERROR_SUCCESS) {
            rc = KS_EFORMAT;
            break;
        }
        YR_RULE *r;
        yr_rules_foreach(y.rules, r) y.nrules++;
        s->set[s->n++] = y;
    }
    if (rc == KS_OK && s->n == 0)
        rc = KS_EFORMAT;
    for (size_t g = 0; rc == KS_OK && g < s->ngrule; g++)
        if ((uint64_t)s->grule[g].fx.lit0 + s->grule[g].fx.nlit > s->nlits ||
            (s->grule[g].fx.nlit && s->set[s->grule[g].set].gate != KS_YG_LITERAL))
            rc = KS_EFORMAT;
    for (size_t k = 0; rc == KS_OK && k < s->rf.nstr; k++)
        if (s->rf.str[k].set >= s->n)
            rc = KS_EFORMAT;
    if (rc == KS_OK && s->rf.nexpr && !load_db(&s->rf.db, prefix, "re"))
        rc = ks__yref_compile(&s->rf);
    lit_mask(s);
    if (rc == KS_OK)
        rc = bind_gated(s);
    if (rc == KS_OK && s->nlits && !load_db(&s->lits, prefix, "lits"))
        rc = compile_lits(s);
out:
    fclose(fp);
    free(line);
    if (rc != KS_OK)
        ks__ysets_free(s);
    return rc;
}

/* ---- cache pruning -------------------------------------------------------------- */

/* Files of a run that died mid-write are this old before they count as
 * orphans; a writer in progress is younger. */
#define ORPHAN_AGE_S 3600

typedef struct centry {
    char prefix[256];
    time_t mtime;
} centry;

static int centry_newer(const void *a, const void *b)
{
    time_t x = ((const centry *)a)->mtime, y = ((const centry *)b)->mtime;
    return (x < y) - (x > y);
}

/* "yara-<key>[-whole].<anything>" -> length of "yara-<key>[-whole]", or 0. */
static size_t cache_prefix(const char *name)
{
    if (strncmp(name, "yara-", 5) != 0)
        return 0;
    size_t n = strcspn(name, ".");
    return name[n] && n < sizeof ((centry *)0)->prefix ? n : 0;
}

size_t ks__ysets_prune(const char *dir, const char *current, size_t keep)
{
    DIR *d = opendir(dir);
    centry *v = NULL;
    size_t n = 0, cap = 0, removed = 0;
    ks_map *gone = NULL;
    struct dirent *de;
    struct stat st;
    if (!d || !(gone = ks__map_new(16)))
        goto out;
    int fd = dirfd(d);
    while ((de = readdir(d))) {
        size_t pl = cache_prefix(de->d_name);
        if (!pl || strcmp(de->d_name + pl, ".sets") != 0 ||
            fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (ks__grow(&v, &cap, n, sizeof *v, 16) != KS_OK)
            goto out;
        memcpy(v[n].prefix, de->d_name, pl);
        v[n].prefix[pl] = 0;
        v[n++].mtime = st.st_mtime;
    }
    qsort(v, n, sizeof *v, centry_newer);
    /* Manifests go first: a reader then finds no cache, never half of one. */
    for (size_t i = 0, kept = 0; i < n; i++) {
        char name[300];
        if (!strcmp(v[i].prefix, current) || kept < keep) {
            kept += strcmp(v[i].prefix, current) != 0;
            continue;
        }
        snprintf(name, sizeof name, "%s.sets", v[i].prefix);
        if (unlinkat(fd, name, 0) == 0 && ks__map_slot(gone, v[i].prefix, strlen(v[i].prefix), true))
            removed++;
    }
    /* Then the files of removed entries, and orphans: files of a prefix
     * without a manifest (a run that died before renaming it), once old. */
    rewinddir(d);
    time_t now = time(NULL);
    while ((de = readdir(d))) {
        size_t pl = cache_prefix(de->d_name);
        if (!pl || fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        bool victim = ks__map_get(gone, de->d_name, pl) != NULL;
        if (!victim && now - st.st_mtime > ORPHAN_AGE_S && strcmp(de->d_name + pl, ".sets") != 0) {
            char man[300];
            size_t nl = strlen(de->d_name);
            snprintf(man, sizeof man, "%.*s.sets", (int)pl, de->d_name);
            size_t sl = strlen(KS_CACHE_TMP_SUFFIX);
            victim = (nl > sl && !strcmp(de->d_name + nl - sl, KS_CACHE_TMP_SUFFIX)) ||
                     fstatat(fd, man, &st, AT_SYMLINK_NOFOLLOW) != 0;
        }
        if (victim)
            unlinkat(fd, de->d_name, 0);
    }
out:
    if (d)
        closedir(d);
    ks__map_free(gone);
    free(v);
    return removed;
}

/* ---- selection ------------------------------------------------------------------ */
int ks__ystream_open(const hs_database_t *db, size_t nbits, hs_scratch_t **scr, hs_stream_t **st,
                     uint64_t **hit)
{
    *scr = NULL;
    *st = NULL;
    *hit = NULL;
    if (!db)
        return KS_OK;
    if (hs_alloc_scratch(db, scr) != HS_SUCCESS || hs_open_stream(db, 0, st) != HS_SUCCESS ||
        !(*hit = calloc((nbits + 63) / 64, sizeof **hit))) {
        ks__ystream_close(scr, st, hit);
        return KS_ENOMEM;
    }
    return KS_OK;
}

void ks__ystream_close(hs_scratch_t **scr, hs_stream_t **st, uint64_t **hit)
{
    if (*st)
        hs_close_stream(*st, *scr, NULL, NULL);
    hs_free_scratch(*scr);
    free(*hit);
    *scr = NULL;
    *st = NULL;
    *hit = NULL;
}

int ks__ysets_ws_init(const ks_ysets *s, ks_ygatews *g)
{
    memset(g, 0, sizeof *g);
    if (ks__yref_ws_init(&s->rf, &g->re) != KS_OK ||
        ks__ystream_open(s->lits, s->nlits, &g->scr, &g->st, &g->hit) != KS_OK) {
        ks__ysets_ws_free(g);
        return KS_ENOMEM;
    }
    return KS_OK;
}

void ks__ysets_ws_free(ks_ygatews *g)
{
    ks__ystream_close(&g->scr, &g->st, &g->hit);
    ks__yref_ws_free(&g->re);
    memset(g, 0, sizeof *g);
}

typedef struct litscan {
    const ks_ysets *s;
    ks_ygatews *g;
    uint32_t hit; /* literal sets opened so far */
    bool failed;
} litscan;

/* Every literal set open and no gated rule to tell apart: the rest of
 * the file can change nothing. */
static bool lit_done(const litscan *ls)
{
    return ls->hit == ls->s->litmask && !ls->s->need_hits;
}

static int on_lit(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ud)
{
    litscan *ls = ud;
    (void)from, (void)to, (void)flags;
    if (id < ls->s->nlits) {
        ls->hit |= 1u << ls->s->litset[id];
        ls->g->hit[id / 64] |= 1ull << (id % 64);
    }
    return lit_done(ls); /* non-zero stops the scan */
}

static int lit_chunk(void *ud, const uint8_t *p, size_t n, uint64_t off)
{
    litscan *ls = ud;
    (void)off;
    while (n > 0 && !lit_done(ls) && !ls->failed) {
        unsigned part = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        hs_error_t e =
            hs_scan_stream(ls->g->st, (const char *)p, part, 0, ls->g->scr, on_lit, ls);
        if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED)
            ls->failed = true;
        p += part;
        n -= part;
    }
    return lit_done(ls) || ls->failed;
}

/* The literal sets (bits) whose literals occur in the file; all of them
 * when that cannot be told. */
static uint32_t literal_gate(const ks_ysets *s, ks_ygatews *g, uint64_t size, ks_yread_fn rd,
                             void *rdud)
{
    litscan ls = {.s = s, .g = g};
    g->hits_known = false;
    if (size == 0)
        return 0; /* a literal needs bytes */
    if (!s->lits || !g->st)
        return s->litmask;
    memset(g->hit, 0, (s->nlits + 63) / 64 * sizeof *g->hit);
    if (hs_reset_stream(g->st, 0, g->scr, NULL, NULL) != HS_SUCCESS)
        return s->litmask;
    if (rd(rdud, lit_chunk, &ls) != KS_OK)
        return s->litmask; /* unreadable here: libyara will say why */
    g->hits_known = !ls.failed;
    return ls.failed ? s->litmask : ls.hit;
}

/* Did the literal pass find one of fx's literals? True when it cannot
 * tell (not run, or failed). */
static bool lits_found(const ks_yfacts *fx, const ks_ygatews *g)
{
    if (!fx->nlit || !g->hits_known)
        return true;
    for (uint32_t l = fx->lit0; l < fx->lit0 + fx->nlit; l++)
        if (g->hit[l / 64] >> (l % 64) & 1)
            return true;
    return false;
}

/* Does the current file (ks__ysets_select's) have what a rule needs?
 * Only what is known counts against it: magic bytes past the head, and
 * literals before the literal pass, are taken as there. */
static bool facts_hold(const ks_yfacts *fx, const ks_ygatews *g)
{
    if (g->size < fx->smin || g->size > fx->smax)
        return false;
    if (fx->magic.width) {
        uint64_t need = (uint64_t)fx->magic.off + fx->magic.width;
        if (need <= g->nhead ? !ks__ymagic_holds(&fx->magic, g->head, g->nhead) : need > g->size)
            return false; /* past the end, uintN() is undefined: the condition is false */
    }
    return lits_found(fx, g);
}

/* Can a reported rule of y match the current file? */
static bool set_can_match(const ks_yset *y, const ks_ygatews *g)
{
    if (y->nopen)
        return true;
    for (size_t k = 0; k < y->ngated; k++)
        if (!y->gated[k].priv && facts_hold(&y->gated[k].fx, g))
            return true;
    return false;
}

static bool has_lit_facts(const ks_yset *y)
{
    for (size_t k = 0; k < y->ngated; k++)
        if (y->gated[k].fx.nlit)
            return true;
    return false;
}

void ks__ysets_select(const ks_ysets *s, ks_ygatews *g, const uint8_t *head, size_t nhead,
                      uint64_t size, ks_yread_fn rd, void *rdud, bool *run)
{
    bool want_lits = false;
    g->size = size;
    g->head = head;
    g->nhead = nhead;
    g->hits_known = false;
    /* The facts that need no reading first: a file no literal set could
     * match (a 40 MB log against rules for small scripts) is not read. */
    for (size_t i = 0; i < s->n; i++)
        want_lits |= (s->set[i].gate == KS_YG_LITERAL || has_lit_facts(&s->set[i])) &&
                     set_can_match(&s->set[i], g);
    uint32_t lit = s->litmask && want_lits ? literal_gate(s, g, size, rd, rdud) : 0;
    bool always_replaced = false; /* a light literal set runs instead of set 0 */
    for (size_t i = 0; i < s->n; i++)
        always_replaced |= s->set[i].gate == KS_YG_LITERAL && s->set[i].with_always &&
                           (lit >> i & 1);
    for (size_t i = 0; i < s->n; i++) {
        const ks_yset *y = &s->set[i];
        uint64_t need = (uint64_t)y->magic.off + y->magic.width;
        switch (y->gate) {
        case KS_YG_ALWAYS:
            run[i] = !always_replaced;
            break;
        case KS_YG_MAGIC:
            if (need <= nhead)
                run[i] = ks__ymagic_holds(&y->magic, head, nhead);
            else
                run[i] = need <= size; /* past the head: not checked, run */
            break;
        case KS_YG_LITERAL:
            run[i] = lit >> i & 1;
            break;
        case KS_YG_MIXED: /* a rule's gate, never a set's */
            run[i] = true;
            break;
        }
        /* a set whose every reported rule lacks a fact on this file cannot
         * report anything: its private rules matter only to those */
        run[i] = run[i] && set_can_match(y, g);
    }
    g->re.known = false;
}

void ks__ysets_prefilter(const ks_ysets *s, ks_ygatews *g, const bool *run, const uint8_t *p,
                         uint64_t n)
{
    bool want_re = false;
    for (size_t i = 0; i < s->n; i++)
        want_re |= run[i] && s->set[i].nre > 0;
    g->re.known = false;
    if (want_re && n > 0)
        ks__yref_scan(&s->rf, &g->re, p, n);
}

void ks__ysets_skip_gated(const ks_ysets *s, size_t i, const ks_ygatews *g, YR_SCANNER *sc)
{
#if YR_MAJOR_VERSION == 4 && YR_MINOR_VERSION == 2
    const ks_yset *y = &s->set[i];
    for (size_t k = 0; k < y->ngated; k++) {
        const ks_ygated *gd = &y->gated[k];
        for (uint32_t x = 0; x < gd->nsidx && !facts_hold(&gd->fx, g); x++)
            yr_bitmask_set(sc->strings_temp_disabled, gd->sidx[x]);
    }
    ks__yref_skip(y, &g->re, sc);
#else
    (void)s, (void)i, (void)g, (void)sc;
#endif
}

void ks__ysets_gated_out(const ks_ysets *s, size_t i, const ks_ygatews *g, uint8_t *out)
{
    const ks_yset *y = &s->set[i];
    for (size_t k = 0; k < y->ngated; k++) {
        const ks_ygated *gd = &y->gated[k];
        if (!facts_hold(&gd->fx, g))
            out[gd->rule / 8] |= (uint8_t)(1u << (gd->rule % 8));
    }
}

void ks__ysets_free(ks_ysets *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->set[i].rules)
            yr_rules_destroy(s->set[i].rules);
        for (size_t g = 0; g < s->set[i].ngated; g++)
            free(s->set[i].gated[g].sidx);
        free(s->set[i].gated);
        free(s->set[i].re);
    }
    ks__yref_free(&s->rf);
    hs_free_database(s->lits);
    for (size_t i = 0; i < s->nlits; i++)
        free(s->lit[i].bytes);
    free(s->lit);
    free(s->litset);
    for (size_t g = 0; g < s->ngrule; g++) {
        free(s->grule[g].ns);
        free(s->grule[g].name);
    }
    free(s->grule);
    memset(s, 0, sizeof *s);
}
