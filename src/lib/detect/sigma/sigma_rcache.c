/* SPDX-License-Identifier: Apache-2.0
 *
 * Compiled Sigma rule sets kept between runs. With the parsed trees cached
 * (sigma_ycache.c) a warm start-up with every SigmaHQ rule still compiled
 * 3,754 rules from their trees, read the trees back and stat'ed every file
 * (128 ms of task-clock against a 29 ms process floor, issue 21). What
 * sg__ruleset_finish() leaves is stored instead and read back whole:
 *
 *   "sigma-rc-<key>.rc" in the compiled-rule cache directory, <key> the
 *   SHA-256 of kensa's build (version and the ELF build id of the code
 *   holding this file: a rebuilt kensa never meets an entry whose layout
 *   or compiler it does not share), the rule paths given, the mapping
 *   paths and the placeholders.
 *
 *   magic, u32 CRC-32 of the payload, u64 payload length, payload:
 *     dependencies: u32 n, then per path: u8 kind (1 stat, 2 lstat, 3 / 4
 *       missing to stat / lstat), text path, 40 bytes of stat key (as
 *       sigma_ycache.c's: device, inode, size, mtime and ctime in ns)
 *     symbols: u32 n, texts (the event paths items look up; re-interned once)
 *     diagnostics the load reported: u32 n, (u8 level, text path, u32 line,
 *       u8 reason, text message)
 *     statistics, the logsources, then the rules (references between
 *     rules, logsources and correlations as indexes)
 *   text: u32 length (UINT32_MAX for none), the bytes and a NUL
 *
 * Validity: every dependency stats as recorded (each rule file and mapping
 * file, and each directory walked: adding, removing or renaming a rule
 * changes its directory's times), none changed within 2 s of the run that
 * wrote the entry (an edit in the same clock tick would keep the times:
 * git's "racily clean" case, as in sigma_ycache.c) or of this run. Any
 * difference is a miss: the rules load as without this cache (the tree
 * cache still saves the parsing) and the entry is written again.
 *
 * The entry is an input: its CRC must match, every count is bounded by the
 * bytes left, every index is checked against what it indexes, every text
 * must end in its NUL, match functions come from a table by number and
 * regular expressions are compiled again from their text. A damaged entry
 * is a warning and a miss, never a crash. Strings stay in the mapped entry
 * (owned by the rule set): no copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "detect/fileinfo.h"
#include "sigma_corr.h"

#define RC_MAGIC "KSSGRC1\n"
#define RC_PREFIX "sigma-rc-"
#define RC_SUFFIX ".rc"
#define RC_HEAD (sizeof RC_MAGIC - 1 + 4 + 8)
#define RC_MAX ((size_t)512 << 20)
#define RC_RACY_NS 2000000000ll
#define RC_NONE UINT32_MAX
#define RC_COND_DEPTH 512
#define RC_DIR_DEPTH 40 /* the loader walks 32 deep */

enum { DEP_STAT = 1, DEP_LSTAT, DEP_MISSING };

typedef sg_stkey stkey;

struct sg_rcache {
    ks_engine *e;
    char dir[3800];
    char path[4096];        /* this configuration's entry */
    int64_t racy;           /* paths changed after this (ns) are not vouched for */
    ks_buf deps;            /* the dependencies section being recorded */
    uint32_t ndeps;
    ks_buf diags;           /* the diagnostics section being recorded */
    uint32_t ndiags;
    bool unsafe;            /* a dependency is too recent, or recording failed */
    sg_diag_fn diag;        /* the rule set's own diagnostics sink */
    void *diag_ud;
};

/* ---- the build's identity ----------------------------------------------------------- */

typedef struct bid {
    const void *addr;       /* an address inside the object wanted */
    uint8_t id[64];
    size_t n;
} bid;

static int find_build_id(struct dl_phdr_info *info, size_t size, void *ud)
{
    bid *b = ud;
    bool ours = false;
    KS_UNUSED(size);
    for (int i = 0; i < info->dlpi_phnum && !ours; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        ours = ph->p_type == PT_LOAD && (uintptr_t)b->addr >= lo && (uintptr_t)b->addr < lo + ph->p_memsz;
    }
    if (!ours)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
            size_t nn = (nh->n_namesz + 3u) & ~3u, dn = (nh->n_descsz + 3u) & ~3u;
            const uint8_t *name = p + sizeof *nh, *desc = name + nn;
            if ((size_t)(end - name) < nn + dn)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
                nh->n_descsz <= sizeof b->id) {
                memcpy(b->id, desc, nh->n_descsz);
                b->n = nh->n_descsz;
                return 1;
            }
            p = desc + dn;
        }
    }
    return 1;
}

/* ---- the key ------------------------------------------------------------------------ */

sg_rcache *sg__rcache_open(ks_engine *e, const char *const *keys, size_t nkeys)
{
    char dbuf[3800], hex[65], ver[200];
    uint8_t dig[32];
    const char *dir;
    bid b = {.addr = (const void *)sg__rcache_open};
    if (!e || !ks__opt_bool(e, "sigma.cache") || !(dir = ks__cache_dir(e, dbuf, sizeof dbuf)) ||
        strlen(dir) >= sizeof ((sg_rcache *)0)->dir)
        return NULL;
    dl_iterate_phdr(find_build_id, &b);
    if (!b.n)
        return NULL; /* a build that cannot be told from another: nothing kept */
    sg_rcache *c = calloc(1, sizeof *c);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = c && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    snprintf(ver, sizeof ver, "%s kensa %s build ", RC_MAGIC, KENSA_VERSION);
    ok = ok && EVP_DigestUpdate(ctx, ver, strlen(ver)) == 1 && EVP_DigestUpdate(ctx, b.id, b.n) == 1;
    for (size_t i = 0; ok && i < nkeys; i++)
        ok = EVP_DigestUpdate(ctx, keys[i], strlen(keys[i]) + 1) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, dig, NULL) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        free(c);
        return NULL;
    }
    ks__hex(dig, 32, hex);
    c->e = e;
    memcpy(c->dir, dir, strlen(dir) + 1);
    snprintf(c->path, sizeof c->path, "%s/" RC_PREFIX "%s" RC_SUFFIX, dir, hex);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    c->racy = (int64_t)now.tv_sec * 1000000000ll + now.tv_nsec - RC_RACY_NS;
    return c;
}

void sg__rcache_close(sg_rcache *c)
{
    if (!c)
        return;
    ks__buf_release(&c->deps);
    ks__buf_release(&c->diags);
    free(c);
}

/* ---- recording a load ---------------------------------------------------------------- */

static void add_text(ks_buf *b, bool *bad, const char *s, size_t n)
{
    uint32_t l = s ? (uint32_t)n : RC_NONE;
    if (s && n >= RC_NONE)
        *bad = true;
    if (ks__buf_add(b, &l, 4) != KS_OK || (s && (ks__buf_add(b, s, n) != KS_OK || ks__buf_add(b, "", 1) != KS_OK)))
        *bad = true;
}

/* What path stats now (kind: DEP_STAT / DEP_LSTAT, or DEP_MISSING). */
static uint8_t dep_stat(const char *path, bool follow, stkey *k)
{
    struct stat st;
    memset(k, 0, sizeof *k);
    if ((follow ? stat(path, &st) : lstat(path, &st)) != 0)
        return DEP_MISSING;
    *k = sg__stat_key(&st);
    return follow ? DEP_STAT : DEP_LSTAT;
}

void sg__rcache_dep(sg_rcache *c, const char *path, bool follow)
{
    stkey k;
    if (!c)
        return;
    uint8_t kind = dep_stat(path, follow, &k);
    if (kind == DEP_MISSING)
        kind = follow ? DEP_MISSING : DEP_MISSING + 1; /* missing, and how it was looked at */
    if (k.mtime >= c->racy || k.ctime >= c->racy)
        c->unsafe = true; /* changed under this load, or too recently to trust its times */
    if (ks__buf_add(&c->deps, &kind, 1) != KS_OK)
        c->unsafe = true;
    add_text(&c->deps, &c->unsafe, path, strlen(path));
    if (ks__buf_add(&c->deps, &k, sizeof k) != KS_OK)
        c->unsafe = true;
    c->ndeps++;
}

static void record_diag(void *ud, ks_diag_level lvl, const char *path, uint32_t line, int fail,
                        const char *msg)
{
    sg_rcache *c = ud;
    uint8_t l = (uint8_t)lvl, f = (uint8_t)fail;
    if (ks__buf_add(&c->diags, &l, 1) != KS_OK || ks__buf_add(&c->diags, &f, 1) != KS_OK ||
        ks__buf_add(&c->diags, &line, 4) != KS_OK)
        c->unsafe = true;
    add_text(&c->diags, &c->unsafe, path, path ? strlen(path) : 0);
    add_text(&c->diags, &c->unsafe, msg, msg ? strlen(msg) : 0);
    c->ndiags++;
    if (c->diag)
        c->diag(c->diag_ud, lvl, path, line, fail, msg);
}

void sg__rcache_record(sg_rcache *c, sg_ruleset *rs)
{
    if (!c)
        return;
    c->diag = rs->diag;
    c->diag_ud = rs->diag_ud;
    rs->diag = record_diag;
    rs->diag_ud = c;
    rs->rc = c;
}

/* ---- the rule set, both ways ------------------------------------------------------------ */

/* One walk over the object graph writes it (w) or reads it back into the
 * rule set's arena: the two cannot drift apart. */
typedef struct io {
    bool w;
    bool bad;                /* writing: cannot be stored; reading: damaged */
    ks_buf out;
    const uint8_t *p, *end;
    sg_ruleset *rs;
    ks_map *symix;           /* writing: symbol -> its index + 1 */
    ks_buf syms;             /* writing: the symbols in index order */
    uint32_t nsyms;
    const ks_sym *rsyms;     /* reading: index -> this run's symbol */
    sg_corr **corrs;         /* reading: rule index -> its correlation, made on first reference */
} io;

static void io_raw_slow(io *s, void *v, size_t n)
{
    if (s->bad)
        return;
    if (s->w) {
        if (ks__buf_add(&s->out, v, n) != KS_OK)
            s->bad = true;
    } else if ((size_t)(s->end - s->p) < n) {
        s->bad = true;
        memset(v, 0, n);
    } else {
        memcpy(v, s->p, n);
        s->p += n;
    }
}

/* Reading whole fields is most of a warm start-up's rule set: inline. */
static inline __attribute__((always_inline)) void io_raw(io *s, void *v, size_t n)
{
    if (!s->w && !s->bad && (size_t)(s->end - s->p) >= n) {
        memcpy(v, s->p, n);
        s->p += n;
        return;
    }
    io_raw_slow(s, v, n);
}

#define IO_INT(name, type)                                                                       \
    static void name(io *s, type *v)                                                              \
    {                                                                                             \
        io_raw(s, v, sizeof *v);                                                                  \
    }
IO_INT(io_u32, uint32_t)
IO_INT(io_u64, uint64_t)
IO_INT(io_i64, int64_t)
IO_INT(io_f64, double)
#undef IO_INT

static void io_bool(io *s, bool *v)
{
    uint8_t b = *v ? 1 : 0;
    io_raw(s, &b, 1);
    if (!s->w)
        *v = b != 0;
    if (b > 1)
        s->bad = true;
}

/* An int stored as u32, read back only when it is within [lo, hi]. */
static void io_int(io *s, int *v, int lo, int hi)
{
    uint32_t u = (uint32_t)*v;
    io_u32(s, &u);
    if (!s->w)
        *v = (int)u;
    if ((int)u < lo || (int)u > hi)
        s->bad = true;
}

/* A count of elements each taking at least `min` bytes of the entry. */
static void io_count(io *s, uint32_t *n, size_t min)
{
    io_u32(s, n);
    if (!s->w && !s->bad && (size_t)*n > (size_t)(s->end - s->p) / (min ? min : 1))
        s->bad = true;
}

static void io_text(io *s, const char **t, size_t *len)
{
    uint32_t n = RC_NONE;
    if (s->w) {
        add_text(&s->out, &s->bad, *t, *t ? (len ? *len : strlen(*t)) : 0);
        return;
    }
    io_u32(s, &n);
    *t = NULL;
    if (s->bad || n == RC_NONE) {
        if (len)
            *len = 0;
        return;
    }
    if ((size_t)(s->end - s->p) <= n || s->p[n] != 0) {
        s->bad = true;
        return;
    }
    *t = (const char *)s->p;
    if (len)
        *len = n;
    s->p += (size_t)n + 1;
}

static void io_str(io *s, const char **t)
{
    io_text(s, t, NULL);
}

/* Reading: n zeroed elements from the arena (one when n is 0, as the
 * compiler allocates); false when out of memory (marked bad). */
static void *io_array(io *s, size_t n, size_t size)
{
    void *p = s->bad ? NULL : ks__arena_alloc(s->rs->arena, (n ? n : 1) * size);
    if (p)
        memset(p, 0, (n ? n : 1) * size);
    else
        s->bad = true;
    return p;
}

static void io_strs(io *s, const char ***v, size_t *n)
{
    uint32_t k = (uint32_t)*n, present = *v != NULL;
    io_u32(s, &present);
    if (!present) {
        *v = NULL, *n = 0;
        return;
    }
    io_count(s, &k, 5);
    if (!s->w) {
        *v = io_array(s, (size_t)k + 1, sizeof **v);
        *n = s->bad ? 0 : k;
    }
    for (uint32_t i = 0; i < k && !s->bad; i++)
        io_str(s, &(*v)[i]);
}

static void io_syms(io *s, const ks_sym **v, uint32_t *n)
{
    io_count(s, n, 4);
    ks_sym *out = s->w ? NULL : io_array(s, (size_t)*n + 1, sizeof *out);
    for (uint32_t i = 0; i < *n && !s->bad; i++) {
        uint32_t ix = 0;
        if (s->w) {
            uint64_t *slot = ks__map_slot(s->symix, &(*v)[i], sizeof(ks_sym), true);
            if (!slot) {
                s->bad = true;
                return;
            }
            if (!*slot) {
                *slot = ++s->nsyms;
                if (ks__buf_add(&s->syms, &(*v)[i], sizeof(ks_sym)) != KS_OK)
                    s->bad = true;
            }
            ix = (uint32_t)*slot - 1;
        }
        io_u32(s, &ix);
        if (!s->w && (ix >= s->nsyms || s->bad))
            s->bad = true;
        else if (!s->w)
            out[i] = s->rsyms[ix];
    }
    if (!s->w)
        *v = out;
}

/* A rule by index (reading: checked; RC_NONE is NULL). */
static void io_rule_ref(io *s, sg_rule **r)
{
    uint32_t ix = *r ? (*r)->idx : RC_NONE;
    io_u32(s, &ix);
    if (s->w)
        return;
    *r = NULL;
    if (ix != RC_NONE && ix >= s->rs->nrules)
        s->bad = true;
    else if (ix != RC_NONE && !s->bad)
        *r = s->rs->rules[ix];
}

/* A correlation by its rule's index: made zeroed on first reference. */
static void io_corr_ref(io *s, sg_corr **k)
{
    sg_rule *r = *k ? (*k)->rule : NULL;
    io_rule_ref(s, &r);
    if (s->w)
        return;
    *k = NULL;
    if (!r || s->bad) {
        s->bad = true; /* correlation links are never empty */
        return;
    }
    if (!s->corrs[r->idx])
        s->corrs[r->idx] = io_array(s, 1, sizeof(sg_corr));
    *k = s->corrs[r->idx];
}

static void io_val(io *s, sg_val *v)
{
    int code = s->w ? sg__match_code(v->match) : 0;
    if (s->w && code < 0)
        s->bad = true;
    io_int(s, &code, 0, 255);
    if (!s->w && !(v->match = sg__match_fn(code)))
        s->bad = true;
    io_bool(s, &v->cased);
    io_bool(s, &v->wants_missing);
    io_bool(s, &v->negate);
    io_count(s, &v->npats, 6);
    if (!s->w)
        v->pats = v->npats ? io_array(s, v->npats, sizeof *v->pats) : NULL;
    for (uint32_t i = 0; i < v->npats && !s->bad; i++) {
        sg_pat *p = &v->pats[i];
        int kind = p->kind;
        io_int(s, &kind, SG_P_EQ, SG_P_GLOB);
        p->kind = (uint8_t)kind;
        io_text(s, &p->s, &p->n);
        if (!s->w && !p->s)
            s->bad = true;
    }
    bool re = v->re != NULL;
    io_bool(s, &re);
    if (re) {
        size_t n = v->resrcn;
        io_text(s, &v->resrc, &n);
        io_u32(s, &v->reopts);
        v->resrcn = (uint32_t)n;
        if (!s->w && !s->bad) {
            int ec;
            PCRE2_SIZE eo;
            if (!v->resrc || !(v->re = pcre2_compile((PCRE2_SPTR)v->resrc, n, v->reopts, &ec, &eo, NULL)) ||
                sg__ruleset_add_regex(s->rs, v->re) != KS_OK)
                s->bad = true; /* add_regex frees it */
            else
                (void)pcre2_jit_compile(v->re, PCRE2_JIT_COMPLETE); /* interpreter if no JIT */
        }
    }
    io_text(s, &v->relit, &v->relitn);
    io_f64(s, &v->num);
    io_int(s, &v->cmp, 0, 4);
    io_int(s, &v->part, 0, 6);
    io_raw(s, v->net, sizeof v->net);
    io_int(s, &v->family, 0, 6);
    io_int(s, &v->netbits, 0, v->family == 4 ? 32 : 128);
    io_bool(s, &v->flag);
    io_syms(s, &v->ref, &v->nref);
    int rk = v->refkind;
    io_int(s, &rk, SG_P_EQ, SG_P_GLOB);
    v->refkind = (uint8_t)rk;
}

static void io_search(io *s, sg_search *se)
{
    io_str(s, &se->name);
    io_count(s, &se->n, 4);
    if (!s->w)
        se->groups = io_array(s, (size_t)se->n + 1, sizeof *se->groups);
    for (uint32_t g = 0; g < se->n && !s->bad; g++) {
        sg_group *gr = &se->groups[g];
        io_count(s, &gr->n, 4);
        if (!s->w)
            gr->items = io_array(s, gr->n, sizeof *gr->items);
        for (uint32_t i = 0; i < gr->n && !s->bad; i++) {
            sg_item *it = &gr->items[i];
            io_str(s, &it->field);
            io_syms(s, &it->syms, &it->nsyms);
            io_count(s, &it->nvals, 4);
            if (!s->w)
                it->vals = io_array(s, it->nvals, sizeof *it->vals);
            for (uint32_t k = 0; k < it->nvals && !s->bad; k++)
                io_val(s, &it->vals[k]);
            io_bool(s, &it->all);
            io_bool(s, &it->missing_ok);
        }
    }
}

static void io_cond(io *s, sg_cond **cp, uint32_t nsearches, int depth)
{
    bool present = *cp != NULL;
    io_bool(s, &present);
    if (!present || s->bad) {
        if (!s->w)
            *cp = NULL;
        return;
    }
    if (depth > RC_COND_DEPTH) {
        s->bad = true;
        return;
    }
    sg_cond *c = s->w ? *cp : io_array(s, 1, sizeof *c);
    if (!c)
        return;
    int op = c->op;
    io_int(s, &op, SG_C_REF, SG_C_TRUE);
    c->op = (uint8_t)op;
    io_u32(s, &c->ref);
    io_count(s, &c->nrefs, 4);
    if (!s->w)
        c->refs = c->nrefs ? io_array(s, c->nrefs, sizeof *c->refs) : NULL;
    for (uint32_t i = 0; i < c->nrefs && !s->bad; i++) {
        io_u32(s, &c->refs[i]);
        if (c->refs[i] >= nsearches)
            s->bad = true;
    }
    io_cond(s, &c->a, nsearches, depth + 1);
    io_cond(s, &c->b, nsearches, depth + 1);
    if (!s->w && !s->bad) {
        *cp = c;
        /* what evaluation dereferences without looking */
        if ((c->op == SG_C_REF && c->ref >= nsearches) ||
            ((c->op == SG_C_AND || c->op == SG_C_OR) && (!c->a || !c->b)) || (c->op == SG_C_NOT && !c->a))
            s->bad = true;
    }
}

static void io_corr(io *s, sg_corr *k)
{
    io_int(s, &k->type, SG_CT_EVENT_COUNT, SG_CT_VALUE_PERCENTILE);
    io_strs(s, &k->refs, &k->nrefs);
    if (!s->w)
        k->rules = io_array(s, k->nrefs, sizeof *k->rules);
    for (size_t i = 0; i < k->nrefs && !s->bad; i++) {
        io_rule_ref(s, &k->rules[i]);
        if (!k->rules[i])
            s->bad = true;
    }
    io_strs(s, &k->group_by, &k->ngroup);
    if (!s->w && !s->bad) {
        k->gsyms = io_array(s, k->nrefs, sizeof *k->gsyms);
        k->ngsyms = io_array(s, k->nrefs, sizeof *k->ngsyms);
        k->fsyms = io_array(s, k->nrefs, sizeof *k->fsyms);
        k->nfsyms = io_array(s, k->nrefs, sizeof *k->nfsyms);
    }
    for (size_t i = 0; i < k->nrefs && !s->bad; i++) {
        bool has = k->gsyms[i] != NULL;
        io_bool(s, &has);
        if (!has)
            continue;
        if (!s->w) {
            k->gsyms[i] = io_array(s, k->ngroup + 1, sizeof **k->gsyms);
            k->ngsyms[i] = io_array(s, k->ngroup + 1, sizeof **k->ngsyms);
        }
        for (size_t g = 0; g < k->ngroup && !s->bad; g++)
            io_syms(s, &k->gsyms[i][g], &k->ngsyms[i][g]);
    }
    io_str(s, &k->field);
    for (size_t i = 0; i < k->nrefs && !s->bad; i++)
        io_syms(s, &k->fsyms[i], &k->nfsyms[i]);
    io_i64(s, &k->span);
    io_int(s, &k->nconds, 0, 6);
    for (int i = 0; i < k->nconds && !s->bad; i++) {
        io_int(s, &k->conds[i].op, 1, 6);
        io_f64(s, &k->conds[i].v);
    }
    io_bool(s, &k->generate);
    io_u32(s, &k->idx);
    int lvl = k->level;
    io_int(s, &lvl, 0, 64);
    k->level = lvl;
    io_bool(s, &k->quiet);
    io_bool(s, &k->never);
    io_count(s, &k->nparents, 4);
    if (!s->w)
        k->parents = k->nparents ? io_array(s, k->nparents, sizeof *k->parents) : NULL;
    for (uint32_t i = 0; i < k->nparents && !s->bad; i++)
        io_corr_ref(s, &k->parents[i]);
}

static void io_rule(io *s, sg_rule *r)
{
    io_int(s, &r->kind, 0, SG_R_FILTER);
    io_str(s, &r->id);
    io_str(s, &r->name);
    io_str(s, &r->title);
    io_str(s, &r->status);
    io_str(s, &r->level);
    io_str(s, &r->description);
    io_str(s, &r->author);
    io_str(s, &r->date);
    io_str(s, &r->path);
    io_u32(s, &r->line);
    int sev = (int)r->sev;
    io_int(s, &sev, KS_SEV_INFO, KS_SEV_CRITICAL);
    r->sev = (ks_severity)sev;
    io_strs(s, &r->tags, &r->ntags);
    io_strs(s, &r->techniques, &r->ntech);
    io_strs(s, &r->fields, &r->nfields);
    io_strs(s, &r->falsepositives, &r->nfp);
    io_str(s, &r->product);
    io_str(s, &r->category);
    io_str(s, &r->service);
    uint32_t ls = r->ls ? r->ls->idx : RC_NONE;
    io_u32(s, &ls);
    if (!s->w && ls != RC_NONE && (ls >= s->rs->nlsrcs || s->bad))
        s->bad = true;
    else if (!s->w)
        r->ls = ls == RC_NONE ? NULL : s->rs->lsrcs[ls];
    io_count(s, &r->nsearches, 8);
    if (!s->w)
        r->searches = io_array(s, (size_t)r->nsearches + 1, sizeof *r->searches);
    for (uint32_t i = 0; i < r->nsearches && !s->bad; i++)
        io_search(s, &r->searches[i]);
    io_cond(s, &r->cond, r->nsearches, 0);
    io_count(s, &r->nfilters, 4);
    if (!s->w)
        r->filters = r->nfilters ? io_array(s, r->nfilters, sizeof *r->filters) : NULL;
    for (uint32_t i = 0; i < r->nfilters && !s->bad; i++)
        io_rule_ref(s, &r->filters[i]);
    io_strs(s, &r->filter_targets, &r->ntargets);
    /* a correlation's own record (only a live one's: a disabled one may
     * hold links it never finished) */
    bool corr = r->kind == SG_R_CORRELATION;
    io_bool(s, &corr);
    if (corr) {
        sg_corr *k = r->corr;
        if (!s->w) {
            if (!s->corrs[r->idx])
                s->corrs[r->idx] = io_array(s, 1, sizeof(sg_corr));
            k = r->corr = s->corrs[r->idx];
        }
        if (k) {
            k->rule = r;
            io_corr(s, k);
        }
    }
    io_count(s, &r->ncorr_uses, 4);
    if (!s->w)
        r->corr_uses = r->ncorr_uses ? io_array(s, r->ncorr_uses, sizeof *r->corr_uses) : NULL;
    for (uint32_t i = 0; i < r->ncorr_uses && !s->bad; i++)
        io_corr_ref(s, &r->corr_uses[i]);
    io_bool(s, &r->emit);
}

/* What the matcher and the correlations take for granted, checked once
 * every rule is read (links may point forward). */
static bool links_ok(const io *s)
{
    const sg_ruleset *rs = s->rs;
    for (size_t i = 0; i < rs->nrules; i++) {
        const sg_rule *r = rs->rules[i];
        if ((r->kind == SG_R_DETECTION || r->kind == SG_R_FILTER) && !r->cond)
            return false;
        if (s->corrs[i] && r->kind != SG_R_CORRELATION)
            return false; /* referenced as a correlation, stored as none */
        for (uint32_t f = 0; f < r->nfilters; f++)
            if (r->filters[f]->kind != SG_R_FILTER)
                return false;
        if (r->kind != SG_R_CORRELATION)
            continue;
        const sg_corr *k = r->corr;
        if (!k)
            return false;
        for (size_t j = 0; j < k->nrefs; j++) {
            const sg_rule *b = k->rules[j];
            if (b->kind == SG_R_DETECTION ? !k->gsyms[j] : b->kind != SG_R_CORRELATION)
                return false;
        }
    }
    return true;
}

static void io_ruleset(io *s)
{
    sg_ruleset *rs = s->rs;
    io_u64(s, &rs->files);
    io_u64(s, &rs->docs);
    io_u64(s, &rs->loaded);
    io_u64(s, &rs->failed);
    io_u64(s, &rs->unmapped);
    for (int i = 0; i < SG_FAIL_COUNT; i++)
        io_u64(s, &rs->fails[i]);
    uint32_t nls = (uint32_t)rs->nlsrcs, nr = (uint32_t)rs->nrules;
    io_count(s, &nls, 8);
    if (!s->w && !s->bad) {
        rs->lsrcs = calloc(nls ? nls : 1, sizeof *rs->lsrcs);
        s->bad = !rs->lsrcs;
        for (uint32_t i = 0; i < nls && !s->bad; i++)
            rs->lsrcs[i] = io_array(s, 1, sizeof(sg_lsrc));
        rs->nlsrcs = rs->caplsrcs = s->bad ? 0 : nls;
    }
    for (uint32_t i = 0; i < nls && !s->bad; i++) {
        sg_lsrc *ls = rs->lsrcs[i];
        ls->idx = i;
        io_str(s, &ls->key);
        io_bool(s, &ls->has_cond);
        if (ls->has_cond)
            io_search(s, &ls->cond);
    }
    io_count(s, &nr, 16);
    if (!s->w && !s->bad) {
        rs->rules = calloc(nr ? nr : 1, sizeof *rs->rules);
        s->corrs = calloc(nr ? nr : 1, sizeof *s->corrs);
        s->bad = !rs->rules || !s->corrs;
        for (uint32_t i = 0; i < nr && !s->bad; i++) {
            rs->rules[i] = io_array(s, 1, sizeof(sg_rule));
            if (rs->rules[i])
                rs->rules[i]->idx = i;
        }
        rs->nrules = rs->caprules = s->bad ? 0 : nr;
    }
    for (uint32_t i = 0; i < nr && !s->bad; i++) {
        io_rule(s, rs->rules[i]);
        if (rs->rules[i]->nsearches > rs->max_searches)
            rs->max_searches = rs->rules[i]->nsearches;
    }
    if (!s->w && !s->bad && (s->p != s->end || !links_ok(s)))
        s->bad = true;
}

/* ---- saving -------------------------------------------------------------------------- */

void sg__rcache_save(sg_rcache *c, sg_ruleset *rs)
{
    io s = {.w = true, .rs = rs};
    ks_buf body = KS_BUF_INIT;
    FILE *fp = NULL;
    char tmp[4200];
    if (!c)
        return;
    rs->diag = c->diag; /* recording ends */
    rs->diag_ud = c->diag_ud;
    rs->rc = NULL;
    if (c->unsafe || !(s.symix = ks__map_new(1024)))
        goto out;
    io_ruleset(&s);
    uint32_t nsyms = s.nsyms;
    bool bad = s.bad || ks__buf_add(&body, &c->ndeps, 4) != KS_OK ||
               ks__buf_add(&body, c->deps.p ? c->deps.p : "", c->deps.n) != KS_OK ||
               ks__buf_add(&body, &nsyms, 4) != KS_OK;
    for (uint32_t i = 0; i < nsyms && !bad; i++) {
        size_t n = 0;
        const char *t = ks_symtab_str(rs->syms, ((const ks_sym *)(const void *)s.syms.p)[i], &n);
        add_text(&body, &bad, t ? t : "", t ? n : 0);
    }
    bad = bad || ks__buf_add(&body, &c->ndiags, 4) != KS_OK ||
          ks__buf_add(&body, c->diags.p ? c->diags.p : "", c->diags.n) != KS_OK ||
          ks__buf_add(&body, s.out.p, s.out.n) != KS_OK;
    if (bad)
        goto out;
    uint32_t crc = ks__crc32(0, body.p, body.n);
    uint64_t len = body.n;
    ks__cache_mkdirs(c->dir);
    ks__cache_tmp(tmp, sizeof tmp, c->path);
    fp = fopen(tmp, "wb");
    bool ok = fp && fwrite(RC_MAGIC, 1, sizeof RC_MAGIC - 1, fp) == sizeof RC_MAGIC - 1 &&
              fwrite(&crc, 4, 1, fp) == 1 && fwrite(&len, 8, 1, fp) == 1 &&
              fwrite(body.p, 1, body.n, fp) == body.n;
    if (ks__cache_commit(fp, ok, tmp, c->path)) {
        int64_t keep = ks__opt_int(c->e, "sigma.cache_keep");
        ks__cache_prune(c->dir, RC_PREFIX, RC_SUFFIX, keep > 0 ? (size_t)keep : 1);
    }
out:
    ks__map_free(s.symix);
    ks__buf_release(&s.syms);
    ks__buf_release(&s.out);
    ks__buf_release(&body);
}

/* ---- loading --------------------------------------------------------------------------- */

static void damaged(sg_rcache *c, const char *what)
{
    ks_loc loc = KS_LOC_NONE;
    loc.path = c->path;
    ks__diag(c->e, KS_DIAG_WARN, KS_EFORMAT, "sigma", &loc,
             "compiled rule cache damaged (%s): ignored, rules compiled again", what);
}

/* The directories above the path being checked, open: a rule file is
 * stat'ed by its name in its directory (fstatat), not by walking its whole
 * path again (the stat of 4,291 paths was an eighth of a warm start-up
 * with every SigmaHQ rule). Dependencies come in walk order: a directory,
 * then its entries. */
typedef struct dirs {
    int fd[RC_DIR_DEPTH];
    const char *path[RC_DIR_DEPTH];
    size_t len[RC_DIR_DEPTH];
    int n;
} dirs;

static uint8_t dep_stat_in(dirs *d, const char *path, bool follow, stkey *k)
{
    size_t len = strlen(path);
    /* the innermost open directory that holds path */
    while (d->n && !(len > d->len[d->n - 1] && path[d->len[d->n - 1]] == '/' &&
                     memcmp(path, d->path[d->n - 1], d->len[d->n - 1]) == 0))
        close(d->fd[--d->n]);
    const char *name = d->n ? path + d->len[d->n - 1] + 1 : NULL;
    struct stat st;
    memset(k, 0, sizeof *k);
    if (name && *name && !strchr(name, '/')
            ? fstatat(d->fd[d->n - 1], name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0
            : (follow ? stat(path, &st) : lstat(path, &st)) != 0)
        return DEP_MISSING;
    *k = sg__stat_key(&st);
    int fd;
    if (S_ISDIR(st.st_mode) && d->n < RC_DIR_DEPTH &&
        (fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        d->fd[d->n] = fd;
        d->path[d->n] = path;
        d->len[d->n++] = len;
    }
    return follow ? DEP_STAT : DEP_LSTAT;
}

/* True when every dependency stats as recorded, none too recently. */
static bool deps_hold(sg_rcache *c, io *s, uint32_t *n)
{
    dirs d = {.n = 0};
    bool ok = true;
    io_count(s, n, 1 + 4 + 1 + sizeof(stkey));
    for (uint32_t i = 0; ok && i < *n && !s->bad; i++) {
        uint8_t kind;
        const char *path;
        stkey want, got;
        io_raw(s, &kind, 1);
        io_str(s, &path);
        io_raw(s, &want, sizeof want);
        if (s->bad || !path || kind < DEP_STAT || kind > DEP_MISSING + 1) {
            s->bad = true;
            break;
        }
        bool follow = kind == DEP_STAT || kind == DEP_MISSING;
        uint8_t now = dep_stat_in(&d, path, follow, &got);
        bool missing = kind >= DEP_MISSING;
        ok = missing == (now == DEP_MISSING) && memcmp(&want, &got, sizeof got) == 0 &&
             got.mtime < c->racy && got.ctime < c->racy;
    }
    while (d.n)
        close(d.fd[--d.n]);
    return ok && !s->bad;
}

/* The diagnostics section: checked whole (rs NULL), or reported through
 * rs's sink once the rest of the entry proved whole. */
static bool replay_diags(sg_ruleset *rs, io *s)
{
    uint32_t n;
    io_count(s, &n, 1 + 1 + 4 + 4 + 4);
    for (uint32_t i = 0; i < n && !s->bad; i++) {
        uint8_t lvl, fail;
        uint32_t line;
        const char *path, *msg;
        io_raw(s, &lvl, 1);
        io_raw(s, &fail, 1);
        io_u32(s, &line);
        io_str(s, &path);
        io_str(s, &msg);
        if (s->bad || lvl > KS_DIAG_ERROR || fail >= SG_FAIL_COUNT || !msg)
            return s->bad = true, false;
        if (rs && rs->diag)
            rs->diag(rs->diag_ud, (ks_diag_level)lvl, path, line, fail, msg);
    }
    return !s->bad;
}

bool sg__rcache_load(sg_rcache *c, sg_ruleset *rs)
{
    size_t len = 0;
    uint32_t crc, ndeps = 0, nsyms = 0;
    uint64_t plen;
    ks_sym *syms = NULL;
    bool hit = false;
    io s = {.rs = rs};
    const char *m = c ? ks__cache_map(c->path, &len) : NULL;
    if (!m)
        return false;
    if (len < RC_HEAD || len > RC_MAX || memcmp(m, RC_MAGIC, sizeof RC_MAGIC - 1) != 0) {
        damaged(c, "not a compiled rule set");
        goto out;
    }
    memcpy(&crc, m + sizeof RC_MAGIC - 1, 4);
    memcpy(&plen, m + sizeof RC_MAGIC - 1 + 4, 8);
    s.p = (const uint8_t *)m + RC_HEAD;
    s.end = (const uint8_t *)m + len;
    if (plen != len - RC_HEAD || ks__crc32(0, s.p, (size_t)plen) != crc) {
        damaged(c, plen != len - RC_HEAD ? "truncated" : "checksum");
        goto out;
    }
    if (!deps_hold(c, &s, &ndeps)) {
        if (s.bad)
            damaged(c, "dependencies");
        goto out; /* a rule file changed: compiled again */
    }
    io_count(&s, &nsyms, 5);
    syms = s.bad ? NULL : malloc(((size_t)nsyms + 1) * sizeof *syms);
    for (uint32_t i = 0; syms && i < nsyms && !s.bad; i++) {
        const char *t;
        size_t n;
        io_text(&s, &t, &n);
        if (!s.bad && (!t || !(syms[i] = ks_symtab_intern(rs->syms, t, n))))
            s.bad = true;
    }
    s.rsyms = syms;
    s.nsyms = nsyms;
    const uint8_t *diags = s.p;
    if (!syms || s.bad || !replay_diags(NULL, &s)) {
        damaged(c, "symbols or diagnostics");
        goto out;
    }
    io_ruleset(&s);
    if (s.bad) {
        damaged(c, "rules");
        goto out;
    }
    io d = {.rs = rs, .p = diags, .end = s.end};
    replay_diags(rs, &d); /* as the load that wrote the entry reported them */
    hit = true;
    rs->cmap = m;
    rs->ncmap = len;
    utimes(c->path, NULL); /* recently used: kept by the pruning */
    ks_loc loc = KS_LOC_NONE;
    ks__diag(c->e, KS_DIAG_INFO, KS_OK, "sigma", &loc,
             "compiled rule cache: %zu rules of %u unchanged files and directories taken whole",
             rs->nrules, ndeps);
out:
    free(syms);
    free(s.corrs);
    if (!hit)
        ks__cache_unmap(m, len);
    return hit;
}
