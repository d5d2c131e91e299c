/* SPDX-License-Identifier: Apache-2.0
 *
 * The text scanner's compiler and matcher (interface: textscan.h).
 *
 * First pass: one Vectorscan block-mode database holds every rule's
 * pattern (or its explicit `prefilter`); patterns Vectorscan cannot take
 * exactly (look-arounds, back-references) go in with HS_FLAG_PREFILTER,
 * which matches a superset; patterns it refuses altogether run as PCRE2
 * over the whole text ("slow" rules, counted in a diagnostic). A hit only
 * says "rule r may match ending here": hits of one rule that lie within
 * its maximum width of each other merge into one region, so a run of
 * overlapping hits costs one confirmation, not thousands.
 *
 * Rules that name a hand-written first pass (textscan_pass.c: digit
 * clusters for the numeric personal data, '@' for e-mail) stay out of the
 * database; their loops report regions the same way.
 *
 * Second pass, per region: PCRE2 (JIT) searches from the region start
 * minus the rule's width, with an offset limit at the region end so a
 * false hit never makes PCRE2 walk the rest of a large text; the subject
 * stops a width past the region. Each match then goes through the rule's
 * filters (entropy, stopwords, allowlist regexes), its validator (checksums
 * and decoders in textscan_valid.c) and context words (Presidio's idea:
 * "phone" near a number raises confidence, "order no." lowers it).
 *
 * Confirmed matches are kept as small records, sorted, overlaps resolved
 * (a specific rule beats a generic one on the same bytes), and only then
 * re-validated one by one for the callback, so memory per scan is a few
 * dozen bytes per match, not the validator's working space.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hs/hs.h>
#include <openssl/evp.h>
#include "detect/fileinfo.h"
#include "detect/textscan_int.h"

#define DEFAULT_WIDTH 1024      /* confirmation window for unbounded patterns */
#define MAX_WIDTH 16384
#define HS_SEGMENT ((size_t)1 << 30)   /* hs_scan takes an unsigned length */
#define HS_OVERLAP ((size_t)1 << 16)
#define MAX_FOUND 1000000       /* confirmed matches kept per scan */
#define MAX_REGIONS 4000000
#define PCRE_MATCH_LIMIT 200000
#define PREFETCH_AHEAD 4        /* regions / values read ahead of the one in hand */

struct ks_textscan {
    ks_engine *e;
    ks_arena *a;              /* rules and their strings */
    ts_rule *rules;
    size_t nrules;
    hs_database_t *db;        /* NULL when every rule is slow */
    size_t *slow;             /* indexes of slow rules */
    size_t nslow;
    ts_pass_set pass;         /* rules served by a hand-written first pass */
    int min_confidence;       /* matches below are dropped */
    bool cached;              /* the database came from the compiled-rule cache */
    char region[8];           /* default phone region ("US") */
};

typedef struct region {
    uint32_t rule;
    uint64_t lo, hi;          /* first and last hit end offsets */
} region;

typedef struct found {
    uint32_t rule;
    int16_t confidence;
    uint8_t valid;
    uint64_t ms, me, vs, ve;
} found;

/* One rule's sorted records in a k-way merge: the next one and the end. */
typedef struct group {
    size_t at, end;
} group;

struct ks_textscratch {
    const ks_textscan *ts;
    hs_scratch_t *hs;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *jit;
    uint64_t *open_lo, *open_hi;   /* per rule: the region being grown */
    uint32_t *touched;             /* rules with an open region */
    size_t ntouched;
    region *regions;
    size_t nregions, capregions;
    found *found;
    size_t nfound, capfound;
    found *sorttmp;                /* sort_found's other buffer */
    size_t capsorttmp;
    size_t *rule_end;              /* sort_found: per rule, where its records end */
    group *groups;                 /* sort_found: per rule with records, its heap entry */
    bool truncated;                /* a cap was reached in the last scan */
    char hint[3];                  /* the unit's region (ks__textscratch_set_hint), "" none */
    ts_cand cand;                  /* the candidate being confirmed (1.5 KiB:
                                    * kept here, not allocated per text) */
    EVP_MD *sha256;                /* fetched once: OpenSSL 3's SHA256() looks the
                                    * digest up on every call, which cost more
                                    * than hashing a value (a sixth of a scan) */
    EVP_MD_CTX *md_ctx;
    EVP_MD_CTX *md_fresh;          /* initialised once: copying it into md_ctx is
                                    * half the cost of EVP_DigestInit_ex2 per value */
    ts_memo *memo;                 /* deliveries of repeated values (textscan_memo.c) */
    char *unesc;                   /* a delivered secret's decoded string escapes */
    size_t capunesc;
    char *unsl;                    /* the text with "\/" read as '/' (ks__textscan_run) */
    size_t capunsl;
    uint64_t *unslpos;             /* where in unsl a backslash was left out, in order */
    size_t nunslpos, capunslpos;
    ks_kv memo_details[TS_MAX_DETAILS]; /* a memoised delivery's details */
    ts_view view;                  /* a base64-wrapped value decoded (textscan_b64.c) */
    ks_textscratch *sub;           /* scans views; made on the first one */
    unsigned depth;                /* views within views: this scratch's level */
    /* current scan */
    uint64_t base;                 /* offset of the segment given to hs_scan */
    const char *text;
    size_t n;
    unsigned classes;
    long only_rule;                /* tests: this rule alone, no overlap rules */
};

#define NO_REGION UINT64_MAX

/* ---- compile ----------------------------------------------------------------- */

static unsigned rule_width(const char *expr, unsigned flags)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *err = NULL;
    unsigned w = DEFAULT_WIDTH;
    if (hs_expression_info(expr, flags, &info, &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        return w;
    }
    if (info->max_width != UINT_MAX)
        w = info->max_width;
    free(info);
    return KS_MIN(w, (unsigned)MAX_WIDTH);
}

/* Flags a pattern compiles with, or -1: exact first, else as a prefilter. */
static int hs_flags_for(const char *expr, unsigned *min_width)
{
    static const unsigned tries[] = {0, HS_FLAG_PREFILTER};
    for (size_t i = 0; i < KS_ARRAY_LEN(tries); i++) {
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *err = NULL;
        if (hs_expression_info(expr, tries[i], &info, &err) == HS_SUCCESS) {
            *min_width = info->min_width;
            free(info);
            return (int)tries[i];
        }
        hs_free_compile_error(err);
    }
    return -1;
}

static int compile_pcre(ks_textscan *ts, ts_rule *r)
{
    int err = 0;
    PCRE2_SIZE eoff = 0;
    r->re = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED, PCRE2_USE_OFFSET_LIMIT,
                          &err, &eoff, NULL);
    if (!r->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof msg);
        ks_loc loc = KS_LOC_NONE;
        loc.path = r->file;
        loc.line = r->line;
        if (ts->e)
            ks__diag(ts->e, KS_DIAG_WARN, KS_ERULE, "secrets", &loc,
                     "rule %s: pattern does not compile (PCRE2: %s at %zu); skipped", r->id,
                     (const char *)msg, (size_t)eoff);
        return KS_ERULE;
    }
    pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE); /* interpreted when JIT is unavailable */
    if (r->group == TS_GROUP_AUTO) {
        uint32_t ncap = 0;
        int named = pcre2_substring_number_from_name(r->re, (PCRE2_SPTR) "secret");
        pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &ncap);
        r->group = named > 0 ? named : ncap > 0 ? 1 : 0;
    }
    /* the pattern's one group spans the whole match: any group convention
     * that names it (or the match) gives the same value */
    r->email = ks__ts_email_pattern(r->pattern) &&
               (r->group == 0 || r->group == 1 || r->group == TS_GROUP_LAST);
    r->iban = ks__ts_iban_pattern(r->pattern);
    return KS_OK;
}

static void make_slow(void *ud, unsigned id)
{
    ks_textscan *ts = ud;
    ts->rules[id].slow = true;
}

/* Vectorscan's analysis of one rule, as three numbers: the flags its
 * first-pass pattern compiles with plus one (0: it does not), its minimum
 * width, and the window the rule needs (see build_db). */
static void analyse_rule(const ts_rule *r, uint32_t out[3])
{
    const char *pf = r->prefilter ? r->prefilter : r->pattern;
    unsigned minw = 0, maxw = 0;
    int fl = hs_flags_for(pf, &minw);
    if (fl >= 0 && minw) {
        /* The window reaches back to where a match may start: the
         * pattern's width, or with a prefix prefilter its own width and
         * the declared lookback (cheap: no analysis of a long pattern). */
        if (r->prefilter && r->lookback >= 0)
            maxw = KS_MIN(rule_width(r->prefilter, (unsigned)fl) + (unsigned)r->lookback, (unsigned)MAX_WIDTH);
        else if (r->prefilter)
            maxw = KS_MAX(rule_width(r->pattern, HS_FLAG_PREFILTER), rule_width(r->prefilter, (unsigned)fl));
        else
            maxw = rule_width(r->pattern, HS_FLAG_PREFILTER);
    }
    out[0] = (uint32_t)(fl + 1);
    out[1] = minw;
    out[2] = maxw;
}

/* Every rule's analysis, 3 x nrules numbers (caller frees; NULL: out of
 * memory). hs_expression_info parses and analyses a pattern: two or
 * three calls per rule were a quarter of a small hunt's CPU (~40 ms with
 * the bundled, Nosey Parker and gitleaks packs), the same answer on every
 * run, so the answers are kept in the compiled-rule cache beside the
 * database (kind secinfo-), keyed by every pattern, prefilter and
 * lookback and by the widths the analysis is bounded with. */
static uint32_t *analyse_rules(const ks_textscan *ts)
{
    static const char layout[] = "analysis 1: fl+1, min width, window";
    const uint32_t need = (uint32_t)(3 * ts->nrules), bounds[2] = {DEFAULT_WIDTH, MAX_WIDTH};
    uint32_t *v = NULL, nv = 0;
    ks_hskey k;
    bool keyed = ks__hskey_init(&k, ts->e, &ks_hscache_secinfo);
    if (keyed) {
        ks__hskey_str(&k, layout);
        ks__hskey_add(&k, bounds, sizeof bounds);
        for (size_t i = 0; i < ts->nrules; i++) {
            const ts_rule *r = &ts->rules[i];
            ks__hskey_str(&k, r->pattern);
            ks__hskey_str(&k, r->prefilter ? r->prefilter : "");
            ks__hskey_add(&k, &r->lookback, sizeof r->lookback);
        }
        keyed = ks__hskey_final(&k);
    }
    if (keyed && ks__hscache_load(&k, need, &v, &nv, 0, NULL) && nv == need)
        goto out;
    free(v);
    if (!(v = malloc(need * sizeof *v)))
        goto out;
    for (size_t i = 0; i < ts->nrules; i++)
        analyse_rule(&ts->rules[i], v + 3 * i);
    if (keyed)
        ks__hscache_save(&k, v, need, 0, NULL);
out:
    ks__hskey_release(&k);
    return v;
}

static int build_db(ks_textscan *ts)
{
    ks_hspats hp = {0};
    uint32_t *an = NULL;
    int rc = KS_OK;
    if (!ts->nrules)
        return KS_OK;
    if (!(an = analyse_rules(ts)))
        return KS_ENOMEM;
    ts->slow = calloc(ts->nrules, sizeof *ts->slow);
    if (!ts->slow || (rc = ks__hspats_init(&hp, ts->nrules, false)) != KS_OK) {
        rc = KS_ENOMEM;
        goto out;
    }
    ts->pass.digits = calloc(ts->nrules, sizeof *ts->pass.digits);
    ts->pass.email = calloc(ts->nrules, sizeof *ts->pass.email);
    if (!ts->pass.digits || !ts->pass.email) {
        rc = KS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < ts->nrules; i++) {
        ts_rule *r = &ts->rules[i];
        const char *pf = r->prefilter ? r->prefilter : r->pattern;
        int fl = (int)an[3 * i] - 1;
        if (fl < 0 || an[3 * i + 1] == 0) {
            r->slow = true;
            continue;
        }
        r->fwd = r->prefilter ? MAX_WIDTH : 256; /* a prefilter hit may end early */
        r->maxw = an[3 * i + 2];
        if (r->pass != TS_PASS_NONE)
            ts->pass.cls |= r->cls;
        if (r->pass == TS_PASS_DIGITS) {
            ts->pass.digits[ts->pass.ndigits].id = (uint32_t)i;
            ts->pass.digits[ts->pass.ndigits++].rule = r;
            continue;
        }
        if (r->pass == TS_PASS_EMAIL) {
            ts->pass.email[ts->pass.nemail++] = (uint32_t)i;
            continue;
        }
        ks__hspats_add(&hp, pf, (unsigned)fl, (unsigned)i);
    }
    /* A pattern the analysis accepted but the compiler refuses ("pattern
     * too large") becomes slow; the rest compile again. Compiling is most
     * of a hunt's start (about two CPU seconds for the bundled pack): the
     * database comes from the compiled-rule cache when it can. */
    if (ks__hs_compile_cached(ts->e, &ks_hscache_secrets, hp.exprs, hp.flags, hp.ids, &hp.n, HS_MODE_BLOCK,
                              make_slow, ts, &ts->db, &ts->cached) != KS_OK) {
        if (ts->e)
            ks__seterr(ts->e, "vectorscan could not compile the secret rules");
        rc = KS_EINTERNAL;
        goto out;
    }
    for (size_t i = 0; i < ts->nrules; i++)
        if (ts->rules[i].slow)
            ts->slow[ts->nslow++] = i;
out:
    ks__hspats_release(&hp);
    free(an);
    return rc;
}

static int load_all(ks_textscan *ts, ts_rules *rs, ks_engine *e, const char *rules_dir)
{
    int rc = KS_OK;
    char path[4096];
    bool builtin = e ? ks__opt_bool(e, "builtin") : true;
    if (builtin && rules_dir) {
        snprintf(path, sizeof path, "%s/secrets", rules_dir);
        if ((rc = ks__ts_load_path(rs, path)) != KS_OK)
            return rc;
    }
    if (e) {
        const char **vals = NULL;
        size_t nv = ks__opt_list(e, "secrets.rules", &vals);
        for (size_t i = 0; i < nv && rc == KS_OK; i++)
            rc = ks__ts_load_path(rs, vals[i]);
    }
    (void)ts;
    return rc;
}

/* A gitleaks rule's allowlist regexes and their array (owned by the rule). */
static void rule_free_allow(ts_rule *r)
{
    for (size_t j = 0; j < r->nallow; j++)
        pcre2_code_free(r->allow[j]);
    free(r->allow);
    r->allow = NULL;
    r->nallow = 0;
}

int ks__textscan_new(ks_engine *e, const char *rules_dir, ks_textscan **out)
{
    ks_textscan *ts = NULL;
    ts_rules rs = {0};
    int rc = KS_OK;
    *out = NULL;
    if (!(ts = calloc(1, sizeof *ts)) || !(ts->a = ks__arena_new(1 << 16, 0))) {
        rc = KS_ENOMEM;
        goto out;
    }
    ts->e = e;
    ts->min_confidence = e ? (int)ks__opt_int(e, "secrets.min_confidence") : 50;
    snprintf(ts->region, sizeof ts->region, "%s",
             e ? ks__opt(e, "secrets.phone_region") : "US");
    rs.e = e;
    rs.a = ts->a;
    if ((rc = load_all(ts, &rs, e, rules_dir)) != KS_OK)
        goto out;
    /* PCRE2 first: a rule whose pattern does not compile is dropped. */
    size_t k = 0;
    for (size_t i = 0; i < rs.n; i++) {
        if (compile_pcre(ts, &rs.v[i]) == KS_OK)
            rs.v[k++] = rs.v[i];
        else
            rule_free_allow(&rs.v[i]);
    }
    ts->rules = rs.v;
    ts->nrules = k;
    rs.v = NULL;
    for (size_t i = 0; i < k; i++) {
        ts_rule *r = &ts->rules[i];
        r->ctxset = ks__ts_wordset_new(ts->a, r->context, r->ncontext);
        r->negset = ks__ts_wordset_new(ts->a, r->negctx, r->nnegctx);
        if ((r->ncontext && !r->ctxset) || (r->nnegctx && !r->negset)) {
            rc = KS_ENOMEM;
            goto out;
        }
    }
    if ((rc = build_db(ts)) != KS_OK)
        goto out;
    if (e) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(e, KS_DIAG_INFO, KS_OK, "secrets", &loc,
                 "%zu secret/personal-data rules (%zu via PCRE2 only, %zu refused)%s",
                 ts->nrules, ts->nslow, rs.nfailed + (rs.n - k),
                 ts->cached ? " (compiled cache)" : "");
    }
    *out = ts;
    ts = NULL;
out:
    for (size_t i = 0; rs.v && i < rs.n; i++) /* loading failed: the rules never reached ts */
        rule_free_allow(&rs.v[i]);
    free(rs.v);
    ks__textscan_free(ts);
    return rc;
}

void ks__textscan_free(ks_textscan *ts)
{
    if (!ts)
        return;
    for (size_t i = 0; i < ts->nrules; i++) {
        pcre2_code_free(ts->rules[i].re);
        rule_free_allow(&ts->rules[i]);
    }
    free(ts->rules);
    free(ts->slow);
    free(ts->pass.digits);
    free(ts->pass.email);
    hs_free_database(ts->db);
    ks__arena_free(ts->a);
    free(ts);
}

void ks__textscratch_set_hint(ks_textscratch *s, const char *addr)
{
    s->hint[0] = 0;
    if (addr)
        ks__ts_address_region(addr, strlen(addr), s->hint);
}

size_t ks__textscan_nrules(const ks_textscan *ts) { return ts->nrules; }
const ts_rule *ks__textscan_rule(const ks_textscan *ts, size_t i)
{
    return i < ts->nrules ? &ts->rules[i] : NULL;
}

int ks__textscratch_new(const ks_textscan *ts, ks_textscratch **out)
{
    ks_textscratch *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return KS_ENOMEM;
    s->ts = ts;
    s->only_rule = -1;
    size_t nr = ts->nrules ? ts->nrules : 1;
    s->open_lo = malloc(nr * sizeof *s->open_lo);
    s->open_hi = malloc(nr * sizeof *s->open_hi);
    s->touched = malloc(nr * sizeof *s->touched);
    s->rule_end = malloc(nr * sizeof *s->rule_end);
    s->groups = malloc(nr * sizeof *s->groups);
    s->md = pcre2_match_data_create(32, NULL);
    s->mc = pcre2_match_context_create(NULL);
    s->jit = pcre2_jit_stack_create(32 << 10, 1 << 20, NULL);
    s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    s->md_ctx = EVP_MD_CTX_new();
    s->md_fresh = EVP_MD_CTX_new();
    s->memo = ks__ts_memo_new();
    if (!s->open_lo || !s->open_hi || !s->touched || !s->rule_end || !s->groups || !s->md || !s->mc || !s->jit || !s->sha256 ||
        !s->md_ctx || !s->md_fresh || !s->memo || EVP_DigestInit_ex2(s->md_fresh, s->sha256, NULL) != 1)
        goto fail;
    for (size_t i = 0; i < nr; i++)
        s->open_hi[i] = NO_REGION;
    pcre2_jit_stack_assign(s->mc, NULL, s->jit);
    pcre2_set_match_limit(s->mc, PCRE_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mc, PCRE_MATCH_LIMIT / 10);
    if (ts->db && hs_alloc_scratch(ts->db, &s->hs) != HS_SUCCESS)
        goto fail;
    *out = s;
    return KS_OK;
fail:
    ks__textscratch_free(s);
    return KS_ENOMEM;
}

void ks__textscratch_free(ks_textscratch *s)
{
    if (!s)
        return;
    hs_free_scratch(s->hs);
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mc);
    pcre2_jit_stack_free(s->jit);
    EVP_MD_CTX_free(s->md_ctx);
    EVP_MD_CTX_free(s->md_fresh);
    EVP_MD_free(s->sha256);
    ks__ts_memo_free(s->memo);
    free(s->unesc);
    ks__buf_release(&s->view.text);
    free(s->view.segs);
    if (s->sub)
        ks__textscratch_free(s->sub);
    free(s->unsl);
    free(s->unslpos);
    free(s->open_lo);
    free(s->open_hi);
    free(s->touched);
    free(s->rule_end);
    free(s->groups);
    free(s->regions);
    free(s->found);
    free(s->sorttmp);
    free(s);
}

/* ---- first pass: hits -> regions ---------------------------------------------- */

static void push_region(ks_textscratch *s, uint32_t rule, uint64_t lo, uint64_t hi)
{
    if (s->nregions >= MAX_REGIONS ||
        ks__grow(&s->regions, &s->capregions, s->nregions, sizeof *s->regions, 256) != KS_OK) {
        s->truncated = true;
        return;
    }
    s->regions[s->nregions++] = (region){rule, lo, hi};
}

/* A candidate span [lo, hi] of rule id joins the rule's open region when
 * it starts within the rule's width of it; else the open one is kept. */
static void on_span(void *ud, uint32_t id, uint64_t lo, uint64_t hi)
{
    ks_textscratch *s = ud;
    const ts_rule *r = &s->ts->rules[id];
    if (!(s->classes & r->cls) || (s->only_rule >= 0 && (long)id != s->only_rule))
        return;
    if (s->open_hi[id] == NO_REGION) {
        s->open_lo[id] = lo;
        s->open_hi[id] = hi;
        s->touched[s->ntouched++] = id;
    } else if (lo <= s->open_hi[id] + r->maxw) {
        if (hi > s->open_hi[id])
            s->open_hi[id] = hi;
    } else {
        push_region(s, id, s->open_lo[id], s->open_hi[id]);
        s->open_lo[id] = lo;
        s->open_hi[id] = hi;
    }
}

static int on_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ud)
{
    ks_textscratch *s = ud;
    uint64_t end = s->base + (uint64_t)to;
    (void)from, (void)flags;
    on_span(s, id, end, end);
    return 0;
}

static void close_regions(ks_textscratch *s)
{
    for (size_t i = 0; i < s->ntouched; i++) {
        uint32_t id = s->touched[i];
        push_region(s, id, s->open_lo[id], s->open_hi[id]);
        s->open_hi[id] = NO_REGION;
    }
    s->ntouched = 0;
}

/* ---- second pass: confirm ---------------------------------------------------------- */

static bool contains_ci(const char *p, size_t n, const char *const *words, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        if (ks__memmem_ci(p, n, words[i], strlen(words[i])))
            return true;
    return false;
}

/* Runs filters, validator and context on a candidate. */
static bool confirm(const ks_textscan *ts, ks_textscratch *s, const ts_rule *r, ts_cand *c)
{
    const char *v = c->text + c->vs;
    size_t vn = c->ve - c->vs;
    if (vn == 0)
        return false;
    if (r->min_entropy > 0 && ks__ts_entropy(v, vn) < r->min_entropy)
        return false;
    if (r->nstop && contains_ci(v, vn, r->stopwords, r->nstop))
        return false;
    for (size_t i = 0; i < r->nallow; i++)
        if (pcre2_match(r->allow[i], (PCRE2_SPTR)v, vn, 0, 0, s->md, NULL) >= 0)
            return false;
    c->confidence = r->confidence;
    c->valid = KS_TV_UNCHECKED;
    c->type = r->type;
    /* the context words may be looked for by an expensive validator, to
     * skip what could not reach the threshold; again if it moved the span */
    size_t vs = c->vs, ve = c->ve;
    c->ctx = -1;
    c->ctxw = r->ctxset;
    c->min_confidence = ts->min_confidence;
    if (r->validator && !r->validator->fn(c))
        return false;
    if (c->valid == KS_TV_UNCHECKED && ks__ts_is_example(c->text + c->vs, c->ve - c->vs))
        c->valid = KS_TV_EXAMPLE;
    /* a documented value is an example even when its structure checks out
     * (the storage emulator's account key is a well-formed key) */
    if (c->valid == KS_TV_VALID && r->cls == KS_TC_SECRET &&
        ks__ts_known_example(c->text + c->vs, c->ve - c->vs))
        c->valid = KS_TV_EXAMPLE;
    if (c->vs != vs || c->ve != ve)
        c->ctx = -1;
    if (ks__ts_context(c))
        c->confidence += 30;
    if (r->negset && ks__ts_negative(c, r->negset))
        c->confidence -= 40;
    c->confidence = KS_MAX(0, KS_MIN(100, c->confidence));
    (void)ts;
    return c->confidence >= ts->min_confidence || c->valid == KS_TV_EXAMPLE;
}

static void cand_init(ts_cand *c, const ks_textscratch *s)
{
    c->text = s->text;
    c->n = s->n;
    c->code = (s->classes & KS_TC_CODE) != 0;
    c->nnorm = 0;
    c->norm[0] = 0;
    c->ndetails = 0;
    c->ndbuf = 0;
    c->region = NULL;
    c->hint = s->hint[0] ? s->hint : NULL;
    c->severity = -1;
    c->ps = c->pe = 0;
    c->ctx = -1;
    c->ctxw = NULL;
    c->min_confidence = INT_MIN; /* delivery: validators never give up */
    c->delivering = false;
    c->memo = s->memo;
}

/* Value span of a match per the rule's group convention; false if none. */
static bool value_span(const ts_rule *r, const PCRE2_SIZE *ov, int rc, size_t *vs, size_t *ve)
{
    int g = r->group;
    if (g < 0) {
        g = 0;
        for (int i = rc - 1; i >= 1; i--)
            if (ov[2 * i] != PCRE2_UNSET && ov[2 * i + 1] > ov[2 * i]) {
                g = i;
                break;
            }
    }
    if (g >= rc || ov[2 * g] == PCRE2_UNSET)
        return false;
    *vs = ov[2 * g];
    *ve = ov[2 * g + 1];
    return *ve > *vs;
}

static void add_found(ks_textscratch *s, uint32_t rule, const ts_cand *c)
{
    if (s->nfound >= MAX_FOUND ||
        ks__grow(&s->found, &s->capfound, s->nfound, sizeof *s->found, 64) != KS_OK) {
        s->truncated = true;
        return;
    }
    s->found[s->nfound++] = (found){rule, (int16_t)c->confidence, (uint8_t)c->valid,
                                    c->ms, c->me, c->vs, c->ve};
}

static void confirm_region(ks_textscratch *s, const region *g, ts_cand *c)
{
    const ks_textscan *ts = s->ts;
    const ts_rule *r = &ts->rules[g->rule];
    uint64_t w = (uint64_t)r->maxw + 1;
    size_t start = g->lo > w ? (size_t)(g->lo - w) : 0;
    /* A digit-pass region starts at its first cluster, and a match lies
     * inside one cluster (the pass's contract): before it, within the
     * width, there are only clusters too short for a match the validator
     * accepts (min_digits), and the previous region's clusters end before
     * lo - w. PCRE2 from lo finds the same matches without trying each
     * byte of the width before it (the phone pattern opens with
     * look-behinds: no start-byte optimisation). */
    if (r->pass == TS_PASS_DIGITS && !r->letters_before)
        start = (size_t)g->lo;
    size_t subj = (size_t)KS_MIN((uint64_t)s->n, g->hi + r->fwd);
    pcre2_set_offset_limit(s->mc, (PCRE2_SIZE)g->hi);
    while (start <= g->hi && start <= subj) {
        size_t ms, me, vs = 0, ve = 0;
        bool has_value;
        if (r->email) { /* four matches in five on mail: by hand, no PCRE2 call */
            if (!ks__ts_email_match(s->text, subj, start, (size_t)g->hi, &ms, &me))
                break;
            vs = ms;
            ve = me;
            has_value = me > ms;
        } else {
            if (r->iban && (start = ks__ts_iban_start(s->text, subj, start, (size_t)g->hi)) == SIZE_MAX)
                break; /* no start PCRE2 would match from */
            int rc = pcre2_match(r->re, (PCRE2_SPTR)s->text, subj, start, 0, s->md, s->mc);
            if (rc <= 0)
                break;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
            ms = ov[0];
            me = ov[1];
            has_value = value_span(r, ov, rc, &vs, &ve);
        }
        cand_init(c, s);
        c->region = ts->region;
        c->ms = ms;
        c->me = me;
        c->vs = vs;
        c->ve = ve;
        if (has_value && confirm(ts, s, r, c))
            add_found(s, g->rule, c);
        start = me > ms ? me : ms + 1;
    }
}

/* Sort order: value start, then priority (highest first), the longer
 * value, the rule. */
static inline bool found_before(const ts_rule *rules, const found *a, const found *b)
{
    if (a->vs != b->vs)
        return a->vs < b->vs;
    int pa = rules[a->rule].priority, pb = rules[b->rule].priority;
    if (pa != pb)
        return pa > pb;
    if (a->ve != b->ve)
        return a->ve > b->ve;
    return a->rule < b->rule;
}

/* Stable merge sort of a[0..n) by runs, with aux[0..n) as working space;
 * the result ends in a. */
static void merge_runs(const ts_rule *rules, found *a, found *aux, size_t n)
{
    found *src = a, *dst = aux;
    for (;;) {
        size_t runs = 0;
        for (size_t i = 0; i < n; runs++) { /* each two neighbouring runs into dst */
            size_t m = i + 1;
            while (m < n && !found_before(rules, &src[m], &src[m - 1]))
                m++;
            size_t e = m < n ? m + 1 : n;
            while (e < n && !found_before(rules, &src[e], &src[e - 1]))
                e++;
            size_t l = i, r = m, o = i;
            while (l < m && r < e)
                dst[o++] = found_before(rules, &src[r], &src[l]) ? src[r++] : src[l++];
            while (l < m)
                dst[o++] = src[l++];
            while (r < e)
                dst[o++] = src[r++];
            i = e;
        }
        found *t = src;
        src = dst;
        dst = t;
        if (runs <= 1)
            break;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

static void heap_down(const ts_rule *rules, const found *v, group *h, size_t k, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < k && found_before(rules, &v[h[l].at], &v[h[m].at]))
            m = l;
        if (l + 1 < k && found_before(rules, &v[h[l + 1].at], &v[h[m].at]))
            m = l + 1;
        if (m == i)
            return;
        group t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Sorts the confirmed matches, stably (two records of one rule and span
 * keep their order, as qsort's merge sort kept them). Each rule's records
 * arrive in text order (its regions are confirmed in order) but the
 * rules' interleave in hundreds of short runs per unit of mail: they are
 * put apart by rule (a counting sort), each rule's checked (and sorted if
 * a validator moved a span back), and the rules merged through a heap.
 * qsort with its comparator called through a pointer, then a merge of
 * the runs, were a twentieth of a scan of mail. */
static int sort_found(ks_textscratch *s)
{
    const ts_rule *rules = s->ts->rules;
    size_t n = s->nfound, nr = s->ts->nrules, k = 0;
    if (ks__grow(&s->sorttmp, &s->capsorttmp, n - 1, sizeof *s->sorttmp, n) != KS_OK)
        return KS_ENOMEM;
    found *f = s->found, *g = s->sorttmp;
    size_t *end = s->rule_end;
    memset(end, 0, nr * sizeof *end);
    for (size_t i = 0; i < n; i++)
        end[f[i].rule]++;
    for (size_t r = 0, sum = 0; r < nr; r++) /* end[r]: where rule r's records start, for now */
        sum += end[r], end[r] = sum - end[r];
    for (size_t i = 0; i < n; i++) /* stable: each rule's records keep their order */
        g[end[f[i].rule]++] = f[i];
    group *h = s->groups;
    for (size_t r = 0, start = 0; r < nr; start = end[r++]) {
        if (end[r] == start)
            continue;
        for (size_t i = start + 1; i < end[r]; i++)
            if (found_before(rules, &g[i], &g[i - 1])) {
                merge_runs(rules, g + start, f + start, end[r] - start);
                break;
            }
        h[k++] = (group){start, end[r]};
    }
    for (size_t i = k; i-- > 0;)
        heap_down(rules, g, h, k, i);
    for (size_t o = 0; k; o++) {
        f[o] = g[h[0].at++];
        if (h[0].at == h[0].end)
            h[0] = h[--k];
        heap_down(rules, g, h, k, 0);
    }
    return KS_OK;
}

/* Keeps, among matches of one class whose values overlap, the one of the
 * highest priority (the earlier on ties). */
static void resolve_overlaps(ks_textscratch *s)
{
    const ks_textscan *ts = s->ts;
    size_t k = 0;
    long last[3] = {-1, -1, -1}; /* index in the kept prefix, per class */
    for (size_t i = 0; i < s->nfound; i++) {
        found *f = &s->found[i];
        int cls = ts->rules[f->rule].cls;
        long li = last[cls];
        if (li >= 0 && f->vs < s->found[li].ve) {
            found *p = &s->found[li];
            if (ts->rules[f->rule].priority > ts->rules[p->rule].priority)
                *p = *f;
            continue;
        }
        s->found[k] = *f;
        last[cls] = (long)k;
        k++;
    }
    s->nfound = k;
}

/* ---- results ------------------------------------------------------------------------ */

void ks__ts_redact(const char *p, size_t n, char out[64])
{
    size_t k = n >= 32 ? 4 : n >= 16 ? 3 : n >= 8 ? 2 : n >= 5 ? 1 : 0;
    size_t o = 0;
    for (size_t i = 0; i < k; i++)
        out[o++] = (p[i] > 0x20 && p[i] < 0x7f) ? p[i] : '?';
    memcpy(out + o, "\xe2\x80\xa6", 3); /* U+2026 */
    o += 3;
    for (size_t i = n - k; i < n; i++)
        out[o++] = (p[i] > 0x20 && p[i] < 0x7f) ? p[i] : '?';
    out[o] = 0;
}

/* An offset in the scanned text as an offset in the caller's (the text
 * scanned with "\/" read as '/' is shorter by the backslashes before). */
static uint64_t raw_offset(const ks_textscratch *s, uint64_t off)
{
    size_t lo = 0, hi = s->nunslpos;
    while (lo < hi) { /* positions at or before off */
        size_t mid = lo + (hi - lo) / 2;
        if (s->unslpos[mid] <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return off + lo;
}

#define VIEW_DEPTH 2 /* a .dockerconfigjson in a Secret: base64 in base64 */

typedef struct view_wrap {
    ks_tmatch_fn fn;
    void *ud;
    const ks_textscratch *outer;
    int stop;
} view_wrap;

/* A match in a decoded view, delivered as a match of the text the view
 * was decoded from: located at the encoded bytes (3 bytes per 4
 * characters in), marked decoded. Matches outside the decoded pieces (a
 * Secret's key names) are the text's own, delivered already. */
static int on_view_match(void *ud, const ks_tmatch *m)
{
    view_wrap *w = ud;
    const ts_view *v = &w->outer->view;
    const ts_seg *g = NULL;
    for (size_t i = 0; i < v->nsegs && !g; i++)
        if (m->offset >= v->segs[i].at && m->offset < v->segs[i].at + v->segs[i].len)
            g = &v->segs[i];
    if (!g)
        return 0;
    ks_tmatch o = *m;
    ks_kv det[TS_MAX_DETAILS + 1];
    size_t nd = KS_MIN(m->ndetails, (size_t)TS_MAX_DETAILS);
    memcpy(det, m->details, nd * sizeof *det);
    det[nd++] = (ks_kv){v->dkey, v->dval};
    o.details = det;
    o.ndetails = nd;
    uint64_t in = m->offset - g->at;
    o.offset = raw_offset(w->outer, KS_MIN(g->vs + (v->b64 ? in / 3 * 4 : in), g->ve - 1));
    return (w->stop = w->fn(w->ud, &o));
}

/* A decoder's value (a base64-wrapped key, a Secret's data) is not
 * reported itself: its decoded view is scanned with every rule. */
static int deliver_view(ks_textscratch *s, const ts_rule *r, const found *f, ks_tmatch_fn fn,
                        void *ud)
{
    if (s->depth >= VIEW_DEPTH)
        return 0;
    if (!s->sub) {
        if (ks__textscratch_new(s->ts, &s->sub) != KS_OK)
            return 0;
        s->sub->depth = s->depth + 1;
    }
    ks__buf_reset(&s->view.text);
    s->view.nsegs = 0;
    s->view.b64 = true;
    s->view.classes = 0;
    s->view.dkey = "decoded";
    s->view.dval = "base64";
    if (!r->validator->view(s->text, s->n, f->vs, f->ve, &s->view) || !s->view.text.n)
        return 0;
    view_wrap w = {fn, ud, s, 0};
    unsigned classes = s->view.classes ? s->view.classes & s->classes : s->classes;
    ks__textscan_run(s->ts, s->sub, classes & ~(unsigned)KS_TC_CODE, s->view.text.p,
                     s->view.text.n, on_view_match, &w);
    return w.stop;
}

static int deliver(ks_textscratch *s, const found *f, ts_cand *c, ks_tmatch_fn fn, void *ud)
{
    const ts_rule *r = &s->ts->rules[f->rule];
    ks_tmatch m;
    if (r->validator && r->validator->view)
        return deliver_view(s, r, f, fn, ud);
    /* a secret with a backslash may be decoded (below), by the text
     * around: not one delivery for every place of the value */
    bool memo = (!r->validator || r->validator->pure) &&
                !(r->cls == KS_TC_SECRET && memchr(s->text + f->vs, '\\', (size_t)(f->ve - f->vs)));
    if (memo) { /* a value delivered before: the same but for its place */
        const ts_memo_ent *e = ks__ts_memo_find(s->memo, f->rule, (ks_tvalid)f->valid,
                                                s->text + f->vs, (size_t)(f->ve - f->vs));
        if (e) {
            memset(&m, 0, sizeof m);
            m.cls = r->cls;
            m.rule_id = r->id;
            m.rule_name = r->name;
            m.valid = (ks_tvalid)f->valid;
            m.confidence = f->confidence;
            m.value = s->text + f->vs;
            m.nvalue = (size_t)(f->ve - f->vs);
            m.offset = raw_offset(s, f->vs);
            ks__ts_memo_fill(e, &m, s->memo_details);
            return fn(ud, &m);
        }
    }
    cand_init(c, s);
    c->region = s->ts->region;
    c->ms = f->ms;
    c->me = f->me;
    c->vs = f->vs;
    c->ve = f->ve;
    /* The validator runs again to rebuild what the record does not keep
     * (normalised form, details); it is deterministic, the spans moved
     * already. */
    c->confidence = f->confidence;
    c->valid = (ks_tvalid)f->valid;
    c->type = r->type;
    c->delivering = true;
    if (r->validator) {
        ks_tvalid keep = c->valid;
        r->validator->fn(c);
        c->vs = f->vs;
        c->ve = f->ve;
        c->valid = keep;
    }
    c->confidence = f->confidence;
    memset(&m, 0, sizeof m);
    m.cls = r->cls;
    m.type = c->type;
    m.rule_id = r->id;
    m.rule_name = r->name;
    m.severity = r->sev;
    m.valid = c->valid;
    m.confidence = c->confidence;
    m.value = s->text + f->vs;
    m.nvalue = (size_t)(f->ve - f->vs);
    m.norm = c->nnorm ? c->norm : m.value;
    m.nnorm = c->nnorm ? c->nnorm : m.nvalue;
    /* written in a string literal ("private_key": "-----BEGIN...\n...")
     * or a list of them (a notebook's output lines): the secret is the
     * string they spell (textscan_esc.c) */
    if (r->cls == KS_TC_SECRET && memchr(m.norm, '\\', m.nnorm) &&
        ks__grow(&s->unesc, &s->capunesc, m.nnorm, 1, 4096) == KS_OK) {
        bool quoted = f->vs > 0 && s->text[f->vs - 1] == '"';
        size_t k = quoted ? ks__ts_join_strings(m.norm, m.nnorm, s->unesc) : 0;
        if (k || ks__ts_escaped(m.norm, m.nnorm, quoted)) {
            m.nnorm = ks__ts_unescape(k ? s->unesc : m.norm, k ? k : m.nnorm, s->unesc);
            m.norm = s->unesc;
        }
    }
    if (EVP_MD_CTX_copy_ex(s->md_ctx, s->md_fresh) != 1 ||
        EVP_DigestUpdate(s->md_ctx, m.norm, m.nnorm) != 1 ||
        EVP_DigestFinal_ex(s->md_ctx, m.sha256, NULL) != 1)
        return 0; /* cannot hash: not delivered (never seen with SHA-256) */
    ks__ts_redact(m.value, m.nvalue, m.redacted);
    m.offset = raw_offset(s, f->vs);
    if (c->pe > c->ps) {
        m.pair = s->text + c->ps;
        m.npair = c->pe - c->ps;
    }
    m.details = c->details;
    m.ndetails = c->ndetails;
    if (c->severity >= 0)
        m.severity = (ks_severity)c->severity;
    if (m.valid == KS_TV_EXAMPLE)
        m.severity = KS_SEV_INFO;
    if (memo && c->pe <= c->ps)
        ks__ts_memo_add(s->memo, f->rule, &m);
    return fn(ud, &m);
}

static const char *unslash(ks_textscratch *s, const char *text, size_t *n);

/* Forgets the regions reported so far (the text is read again). */
static void drop_regions(ks_textscratch *s)
{
    for (size_t i = 0; i < s->ntouched; i++)
        s->open_hi[s->touched[i]] = NO_REGION;
    s->ntouched = 0;
    s->nregions = 0;
    s->truncated = false;
}

/* Scans *text: the hand passes first, whose loop also looks for "\/"
 * when unsl is set (the text is then read with '/' for "\/": *text and
 * *n become the copy's), then Vectorscan, then the confirmation. */
static int scan(const ks_textscan *ts, ks_textscratch *s, unsigned classes, const char **textp,
                size_t *np, bool unsl)
{
    ts_cand *c = &s->cand;
    const char *text = *textp;
    size_t n = *np;
    s->text = text;
    s->n = n;
    s->classes = classes;
    s->nregions = s->nfound = 0;
    s->nunslpos = 0;
    s->truncated = false;
    /* on_span keeps only the classes asked for: a scan for secrets alone
     * (the text of a log) gains nothing from the personal-data passes, a
     * third of the secrets pass over an IIS log (a cluster per date, time,
     * address and status); their loop then only looks for "\/" */
    static const ts_pass_set slash_only;
    const ts_pass_set *ps = (ts->pass.cls & classes) ? &ts->pass : &slash_only;
    if (!ks__ts_pass_run(ps, text, n, unsl, on_span, s)) {
        drop_regions(s);
        *textp = text = unslash(s, text, &n);
        *np = n;
        s->text = text;
        s->n = n;
        ks__ts_pass_run(ps, text, n, false, on_span, s);
    }
    if (ts->db) {
        for (size_t off = 0; off < n;) {
            size_t len = KS_MIN(n - off, HS_SEGMENT);
            s->base = off;
            hs_scan(ts->db, text + off, (unsigned)len, 0, s->hs, on_hit, s);
            if (off + len >= n)
                break;
            off += len - HS_OVERLAP;
        }
    }
    close_regions(s);
    for (size_t i = 0; i < ts->nslow; i++) {
        const ts_rule *r = &ts->rules[ts->slow[i]];
        if ((classes & r->cls) && (s->only_rule < 0 || (size_t)s->only_rule == ts->slow[i]))
            push_region(s, (uint32_t)ts->slow[i], 0, n);
    }
    for (size_t i = 0; i < s->nregions; i++) {
        if (i + PREFETCH_AHEAD < s->nregions) /* where the confirmation will start reading */
            __builtin_prefetch(text + s->regions[i + PREFETCH_AHEAD].lo);
        confirm_region(s, &s->regions[i], c);
    }
    if (s->nfound > 1) {
        if (sort_found(s) != KS_OK) {
            s->nfound = 0; /* no room to sort: nothing delivered, the caller told */
            s->truncated = true;
            return KS_OK;
        }
        /* The same rule can confirm one match from two regions (segments). */
        size_t k = 0;
        for (size_t i = 0; i < s->nfound; i++)
            if (!k || s->found[k - 1].rule != s->found[i].rule ||
                s->found[k - 1].vs != s->found[i].vs || s->found[k - 1].ve != s->found[i].ve)
                s->found[k++] = s->found[i];
        s->nfound = k;
    }
    if (s->only_rule < 0)
        resolve_overlaps(s);
    return KS_OK;
}

/* JSON writers that escape every '/' as "\/" (Slack's export, PHP's
 * json_encode) cut each URL and base64 secret at its slashes: such a text
 * is scanned with "\/" read as '/' (s->unsl), offsets mapped back. A
 * backslash that escapes another ("\\/") is kept with it. Returns the
 * text to scan. Called when the passes' loop met a "\/" (scan). */
static const char *unslash(ks_textscratch *s, const char *text, size_t *n)
{
    s->nunslpos = 0;
    const char *p = memchr(text, '\\', *n), *end = text + *n;
    while (p && p + 1 < end && p[1] != '/')
        p = memchr(p + 2, '\\', p + 2 < end ? (size_t)(end - p - 2) : 0);
    if (!p || p + 1 >= end || ks__grow(&s->unsl, &s->capunsl, *n, 1, 4096) != KS_OK)
        return text;
    size_t o = 0;
    /* copied a run at a time from one backslash to the next (a byte loop
     * over the whole text was a tenth of a scan of source text) */
    for (size_t i = 0; i < *n;) {
        const char *b = memchr(text + i, '\\', *n - i);
        size_t k = b ? (size_t)(b - text) : *n;
        memcpy(s->unsl + o, text + i, k - i);
        o += k - i;
        if ((i = k) >= *n)
            break;
        if (i + 1 < *n && text[i + 1] == '/') {
            if (ks__grow(&s->unslpos, &s->capunslpos, s->nunslpos, sizeof *s->unslpos, 64) != KS_OK) {
                s->nunslpos = 0;
                return text;
            }
            s->unslpos[s->nunslpos++] = o;
            i++; /* the '/' is copied with the next run */
            continue;
        }
        s->unsl[o++] = text[i++]; /* a backslash and what it escapes, as they are */
        if (i < *n)
            s->unsl[o++] = text[i++];
    }
    *n = o;
    return s->unsl;
}

int ks__textscan_run(const ks_textscan *ts, ks_textscratch *s, unsigned classes,
                     const char *text, size_t n, ks_tmatch_fn fn, void *ud)
{
    int rc;
    if (!n)
        return KS_OK;
    if ((rc = scan(ts, s, classes, &text, &n, true)) != KS_OK)
        return rc;
    for (size_t i = 0; i < s->nfound; i++) {
        /* the text of a unit is out of the cache by now (confirmed a few
         * MiB ago): a few values ahead are fetched while this one goes */
        if (i + PREFETCH_AHEAD < s->nfound)
            __builtin_prefetch(text + s->found[i + PREFETCH_AHEAD].vs);
        if (deliver(s, &s->found[i], &s->cand, fn, ud))
            break;
    }
    return s->truncated ? KS_ELIMIT : KS_OK;
}

size_t ks__textscan_rule_count(const ks_textscan *ts, ks_textscratch *s, size_t rule,
                               const char *text, size_t n)
{
    s->only_rule = (long)rule;
    int rc = n ? scan(ts, s, KS_TC_SECRET | KS_TC_PII, &text, &n, false) : KS_OK;
    s->only_rule = -1;
    return rc == KS_OK && n ? s->nfound : 0;
}
