/* SPDX-License-Identifier: Apache-2.0
 *
 * The indicator (IOC) file detector: known-bad file hashes, file name/path
 * regexes with scores, and literal strings (C2 domains, keywords) inside
 * file contents, from the list option "ioc" plus kensa's bundled lists
 * (<rules_dir>/ioc unless builtin=false).
 *
 * Lists are read by ioclist.c (shared with the network C2 detector).
 * Formats, recognised per file (see docs/FILES.md):
 *  - hash lists: "HASH;description", plain "HASH", sha256sum's "HASH  name"
 *    (MD5, SHA-1, SHA-256 by length), and CSVs with a header naming
 *    MD5/SHA1/SHA256 columns (FireEye's indicator release);
 *  - filename IOCs: "REGEX;SCORE[;FALSE_POSITIVE_REGEX]" (Loki/THOR);
 *  - literal lists: files whose name says c2/domain/keyword/literal, or that
 *    carry a "# kensa: literal" line; one string per line ("[.]" refanged);
 *  - STIX 2.1 bundles: indicator objects whose pattern compares
 *    file:hashes.*, file:name, domain-name:value, url:value, ipv4-addr:value.
 *
 * Matching: file hashes are computed only when a hash list is loaded, and
 * only the algorithms present, in the same single read that feeds the
 * literal matcher. Thousands of literals are one Vectorscan literal
 * database (hs_compile_lit_multi) scanned in streaming mode across read
 * chunks; thousands of path regexes are one Vectorscan database, with the
 * few patterns Vectorscan cannot compile (look-arounds) left to PCRE2.
 * Hash lookups are one hash-map probe per algorithm. Compiled databases
 * are shared read-only; each worker owns its scratch space.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "detect/fileinfo.h"
#include "detect/ioclist.h"

#define MAX_ENTRIES 5000000
#define MIN_LITERAL 4
#define MAX_PATH_HITS 16        /* filename IOCs reported per file */
#define MAX_LIT_HITS 16         /* distinct literals reported per file */
#define DEFAULT_HASH_SCORE 100
#define DEFAULT_LIT_SCORE 70

typedef struct name_ioc {
    char *regex;         /* owned */
    int score;
    uint32_t src;        /* index in srcs */
    pcre2_code *fp;      /* false-positive regex, may be NULL */
    pcre2_code *slow;    /* set when Vectorscan could not take the regex */
} name_ioc;

typedef struct lit_ioc {
    char *s;             /* owned */
    size_t n;
    uint32_t src;
} lit_ioc;

typedef struct ioc_det {
    ks_engine *e;
    ks_ioc_srcs srcs;    /* where each indicator came from */
    ks_map *hashes;      /* raw digest (16/20/32 bytes) -> src index + 1 */
    unsigned algos;      /* KS_FH_* present in the lists */
    name_ioc *names;
    size_t nnames, capnames;
    lit_ioc *lits;
    size_t nlits, caplits;
    hs_database_t *name_db;  /* Vectorscan path regexes (block mode) */
    hs_database_t *lit_db;   /* Vectorscan literals (stream mode) */
    size_t nslow;            /* names matched with PCRE2 */
} ioc_det;

typedef struct ioc_ws {
    ioc_det *d;
    hs_scratch_t *name_scratch;
    hs_scratch_t *lit_scratch;
    hs_stream_t *stream;
    pcre2_match_data *md;
    ks_fread rd;
    ks_arena *scratch;
    /* per file */
    const ks_file *f;
    uint32_t path_hits[MAX_PATH_HITS];
    size_t npath_hits;
    uint32_t lit_hits[MAX_LIT_HITS];
    uint64_t lit_off[MAX_LIT_HITS];
    size_t nlit_hits;
    uint64_t chunk_off;
} ioc_ws;

/* ---- loading ------------------------------------------------------------------ */
static int add_hash(ioc_det *d, const char *h, size_t n, uint32_t src)
{
    uint8_t raw[32];
    if ((n != 32 && n != 40 && n != 64) || !ks__unhex(h, n, raw))
        return KS_EFORMAT;
    if (ks__map_count(d->hashes) >= MAX_ENTRIES)
        return KS_ELIMIT;
    uint64_t *slot = ks__map_slot(d->hashes, raw, n / 2, true);
    if (!slot)
        return KS_ENOMEM;
    if (*slot == 0)
        *slot = (uint64_t)src + 1;
    d->algos |= n == 32 ? KS_FH_MD5 : n == 40 ? KS_FH_SHA1 : KS_FH_SHA256;
    return KS_OK;
}

static int add_name(ioc_det *d, const char *re, size_t n, int score, const char *fp, size_t fpn,
                    uint32_t src, const char *file, uint64_t line)
{
    if (d->nnames >= MAX_ENTRIES)
        return KS_ELIMIT;
    if (d->nnames == d->capnames) {
        size_t nc = d->capnames ? d->capnames * 2 : 256;
        name_ioc *nn = realloc(d->names, nc * sizeof *nn);
        if (!nn)
            return KS_ENOMEM;
        d->names = nn;
        d->capnames = nc;
    }
    name_ioc *ni = &d->names[d->nnames];
    memset(ni, 0, sizeof *ni);
    if (!(ni->regex = strndup(re, n)))
        return KS_ENOMEM;
    ni->score = score;
    ni->src = src;
    if (fp && fpn) {
        int err = 0;
        PCRE2_SIZE eoff = 0;
        ni->fp = pcre2_compile((PCRE2_SPTR)fp, fpn, PCRE2_CASELESS, &err, &eoff, NULL);
        if (!ni->fp) {
            ks_loc loc = KS_LOC_NONE;
            loc.path = file;
            loc.line = line;
            ks__diag(d->e, KS_DIAG_WARN, KS_EFORMAT, "ioc", &loc,
                     "false-positive regex does not compile; ignored");
        }
    }
    d->nnames++;
    return KS_OK;
}

static int add_lit(ioc_det *d, const char *s, size_t n, uint32_t src)
{
    if (n < MIN_LITERAL || d->nlits >= MAX_ENTRIES)
        return KS_OK;
    if (d->nlits == d->caplits) {
        size_t nc = d->caplits ? d->caplits * 2 : 256;
        lit_ioc *nl = realloc(d->lits, nc * sizeof *nl);
        if (!nl)
            return KS_ENOMEM;
        d->lits = nl;
        d->caplits = nc;
    }
    /* the loader refanged it */
    char *c = strndup(s, n);
    size_t k = n;
    if (!c)
        return KS_ENOMEM;
    d->lits[d->nlits++] = (lit_ioc){c, k, src};
    return KS_OK;
}

/* The loader's sink (ioclist.h): every kind of entry the file detector
 * uses; network-only kinds (JA3) are left to the C2 detector. */
static uint32_t sink_src(void *ud, const char *desc, size_t dn, const char *file, uint64_t line)
{
    ioc_det *d = ud;
    return ks__ioc_srcs_add(&d->srcs, desc, dn, file, line);
}

static int sink_hash(void *ud, const char *hex, size_t n, uint32_t src)
{
    return add_hash(ud, hex, n, src);
}

static int sink_name(void *ud, const char *re, size_t n, int score, const char *fp, size_t fpn,
                     uint32_t src, const char *file, uint64_t line)
{
    return add_name(ud, re, n, score, fp, fpn, src, file, line);
}

static int sink_lit(void *ud, ks_ioc_kind kind, const char *s, size_t n, uint32_t src)
{
    if (kind == KS_IOC_JA3 || kind == KS_IOC_JA3S)
        return KS_OK;
    return add_lit(ud, s, n, src);
}

/* ---- compile ----------------------------------------------------------------- */
static bool needs_pcre(const char *re)
{
    /* Constructs Vectorscan rejects; compiling them first would only fail. */
    return strstr(re, "(?=") || strstr(re, "(?!") || strstr(re, "(?<=") || strstr(re, "(?<!") ||
           strstr(re, "\\1") || strstr(re, "\\2") || strstr(re, "(?>");
}

/* A file name regex Vectorscan refused: PCRE2 matches it instead. */
static void name_to_pcre(void *ud, unsigned idx)
{
    ioc_det *d = ud;
    int err = 0;
    PCRE2_SIZE eoff = 0;
    d->names[idx].slow = pcre2_compile((PCRE2_SPTR)d->names[idx].regex, PCRE2_ZERO_TERMINATED,
                                       PCRE2_CASELESS, &err, &eoff, NULL);
    if (d->names[idx].slow) {
        d->nslow++;
    } else {
        const ks_ioc_src *s = &d->srcs.v[d->names[idx].src];
        ks_loc loc = KS_LOC_NONE;
        loc.path = s->file;
        loc.line = s->line;
        ks__diag(d->e, KS_DIAG_WARN, KS_EFORMAT, "ioc", &loc,
                 "file name regex does not compile; skipped");
    }
}

static int compile_names(ioc_det *d)
{
    ks_hspats hp;
    int rc = KS_OK;
    if (!d->nnames)
        return KS_OK;
    if ((rc = ks__hspats_init(&hp, d->nnames, false)) != KS_OK)
        return rc;
    for (size_t i = 0; i < d->nnames; i++)
        d->names[i].slow = NULL;
    for (size_t i = 0; i < d->nnames; i++) {
        if (needs_pcre(d->names[i].regex)) {
            name_to_pcre(d, (unsigned)i);
            continue;
        }
        ks__hspats_add(&hp, d->names[i].regex, HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL,
                       (unsigned)i);
    }
    /* A pattern Vectorscan refuses moves to PCRE2; then compile again. */
    if (ks__hs_compile_cached(d->e, &ks_hscache_ioc, hp.exprs, hp.flags, hp.ids, &hp.n, HS_MODE_BLOCK,
                              name_to_pcre, d, &d->name_db, NULL) != KS_OK) {
        rc = KS_EINTERNAL;
        ks__seterr(d->e, "vectorscan could not compile the file name IOCs");
    }
    ks__hspats_release(&hp);
    return rc;
}

static int compile_lits(ioc_det *d)
{
    ks_hspats hp;
    int rc = KS_OK;
    hs_compile_error_t *cerr = NULL;
    if (!d->nlits)
        return KS_OK;
    if ((rc = ks__hspats_init(&hp, d->nlits, true)) != KS_OK)
        return rc;
    for (size_t i = 0; i < d->nlits; i++) {
        hp.lens[i] = d->lits[i].n;
        ks__hspats_add(&hp, d->lits[i].s, HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH, (unsigned)i);
    }
    if (hs_compile_lit_multi(hp.exprs, hp.flags, hp.ids, hp.lens, hp.n, HS_MODE_STREAM, NULL,
                             &d->lit_db, &cerr) != HS_SUCCESS) {
        ks__seterr(d->e, "vectorscan could not compile the literal IOCs: %s",
                   cerr ? cerr->message : "?");
        hs_free_compile_error(cerr);
        rc = KS_EINTERNAL;
    }
    ks__hspats_release(&hp);
    return rc;
}

static void ioc_destroy(void *p);

static int ioc_create(ks_engine *e, void **out)
{
    ioc_det *d = NULL;
    int rc = KS_OK;
    *out = NULL;
    if (!(d = calloc(1, sizeof *d)) || !(d->hashes = ks__map_new(1024))) {
        rc = KS_ENOMEM;
        goto out;
    }
    d->e = e;
    ks_ioc_sink sink = {.e = e, .ud = d, .src = sink_src, .hash = sink_hash, .name = sink_name,
                        .lit = sink_lit};
    rc = ks__ioc_load_configured(&sink);
    if (rc != KS_OK)
        goto out;
    if (!ks__map_count(d->hashes) && !d->nnames && !d->nlits)
        goto out; /* nothing loaded: nothing to do */
    if ((rc = compile_names(d)) != KS_OK || (rc = compile_lits(d)) != KS_OK)
        goto out;
    {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(e, KS_DIAG_INFO, KS_OK, "ioc", &loc,
                 "%zu hashes, %zu file name regexes (%zu via PCRE2), %zu literals", ks__map_count(d->hashes),
                 d->nnames, d->nslow, d->nlits);
    }
    *out = d;
    d = NULL;
out:
    ioc_destroy(d);
    return rc;
}

static void ioc_destroy(void *p)
{
    ioc_det *d = p;
    if (!d)
        return;
    ks__ioc_srcs_free(&d->srcs);
    for (size_t i = 0; i < d->nnames; i++) {
        free(d->names[i].regex);
        pcre2_code_free(d->names[i].fp);
        pcre2_code_free(d->names[i].slow);
    }
    for (size_t i = 0; i < d->nlits; i++)
        free(d->lits[i].s);
    free(d->names);
    free(d->lits);
    ks__map_free(d->hashes);
    hs_free_database(d->name_db);
    hs_free_database(d->lit_db);
    free(d);
}

/* ---- matching ----------------------------------------------------------------- */
static void ioc_worker_done(void *det, void *p);

static int ioc_worker_new(void *det, ks_worker *w, void **out)
{
    ioc_det *d = det;
    ioc_ws *ws = calloc(1, sizeof *ws);
    (void)w;
    *out = NULL;
    if (!ws)
        return KS_ENOMEM;
    ws->d = d;
    if (ks__fread_init(&ws->rd) != KS_OK || !(ws->scratch = ks__arena_new(8192, 4 << 20)) ||
        !(ws->md = pcre2_match_data_create(4, NULL)))
        goto fail;
    if (d->name_db && hs_alloc_scratch(d->name_db, &ws->name_scratch) != HS_SUCCESS)
        goto fail;
    if (d->lit_db && hs_alloc_scratch(d->lit_db, &ws->lit_scratch) != HS_SUCCESS)
        goto fail;
    *out = ws;
    return KS_OK;
fail:
    ioc_worker_done(det, ws);
    return KS_ENOMEM;
}

static void ioc_worker_done(void *det, void *p)
{
    ioc_ws *ws = p;
    (void)det;
    if (!ws)
        return;
    hs_free_scratch(ws->name_scratch);
    hs_free_scratch(ws->lit_scratch);
    pcre2_match_data_free(ws->md);
    ks__fread_release(&ws->rd);
    ks__arena_free(ws->scratch);
    free(ws);
}

static int on_name_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                       void *ud)
{
    ioc_ws *ws = ud;
    (void)from, (void)to, (void)flags;
    for (size_t i = 0; i < ws->npath_hits; i++)
        if (ws->path_hits[i] == id)
            return 0;
    if (ws->npath_hits < MAX_PATH_HITS)
        ws->path_hits[ws->npath_hits++] = id;
    return 0;
}

static int on_lit_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                      void *ud)
{
    ioc_ws *ws = ud;
    (void)from, (void)flags;
    for (size_t i = 0; i < ws->nlit_hits; i++)
        if (ws->lit_hits[i] == id)
            return 0;
    if (ws->nlit_hits < MAX_LIT_HITS) {
        ws->lit_off[ws->nlit_hits] = (uint64_t)to - ws->d->lits[id].n;
        ws->lit_hits[ws->nlit_hits++] = id;
    }
    return 0;
}

static int on_chunk(void *ud, const uint8_t *p, size_t n, uint64_t off)
{
    ioc_ws *ws = ud;
    (void)off;
    if (ws->stream)
        hs_scan_stream(ws->stream, (const char *)p, (unsigned)n, 0, ws->lit_scratch, on_lit_hit, ws);
    return 0;
}

static bool pcre_hit(ioc_ws *ws, const pcre2_code *re, const char *s, size_t n)
{
    return pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, ws->md, NULL) >= 0;
}

static int64_t ts_ns(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* Fills the details common to every IOC finding. */
static size_t file_details(ioc_ws *ws, const ks_fhash *fh, ks_kv *kv, char tb[2][48],
                           char hex[3][65])
{
    const struct stat *st = ws->f->st;
    size_t n = 0;
    if (st) {
        ks_time_format(ts_ns(&st->st_mtim), tb[0], 48);
        ks_time_format(ts_ns(&st->st_ctim), tb[1], 48);
        kv[n++] = (ks_kv){"size", ks__arena_printf(ws->scratch, "%llu", (unsigned long long)st->st_size)};
        kv[n++] = (ks_kv){"mtime", tb[0]};
        kv[n++] = (ks_kv){"ctime", tb[1]};
    }
    if (fh && (fh->have & KS_FH_SHA256)) {
        ks__hex(fh->sha256, 32, hex[2]);
        kv[n++] = (ks_kv){"sha256", hex[2]};
    }
    if (fh && (fh->have & KS_FH_SHA1)) {
        ks__hex(fh->sha1, 20, hex[1]);
        kv[n++] = (ks_kv){"sha1", hex[1]};
    }
    if (fh && (fh->have & KS_FH_MD5)) {
        ks__hex(fh->md5, 16, hex[0]);
        kv[n++] = (ks_kv){"md5", hex[0]};
    }
    for (size_t i = 0; i < n; i++)
        if (!kv[i].value)
            kv[i].value = "";
    return n;
}

static void emit(ioc_ws *ws, const char *rule_id, const char *title, int score, const ks_kv *matched,
                 size_t nm, const ks_fhash *fh, const ks_ioc_src *src, uint64_t off)
{
    const struct stat *st = ws->f->st;
    ks_kv details[12];
    char tb[2][48], hex[3][65];
    size_t nd = file_details(ws, fh, details, tb, hex);
    details[nd++] = (ks_kv){"ioc_file", src->file};
    if (src->line)
        details[nd++] = (ks_kv){"ioc_line", ks__arena_printf(ws->scratch, "%llu", (unsigned long long)src->line)};
    if (!details[nd - 1].value)
        details[nd - 1].value = "";
    int64_t mt = st ? ts_ns(&st->st_mtim) : KS_TIME_NONE;
    int64_t ct = st ? ts_ns(&st->st_ctim) : KS_TIME_NONE;
    /* ATT&CK from what the IOC list says it is about. */
    static const struct {
        const char *word;
        const char *tech;
    } tech_words[] = {{"shell", "T1505.003"}, {"aspx", "T1505.003"}, {"sunburst", "T1195.002"},
                      {"solarwinds", "T1195.002"}, {"command-and-control", "T1071"},
                      {"c2", "T1071"}};
    const char *techs[4];
    size_t nt = 0;
    for (size_t i = 0; i < KS_ARRAY_LEN(tech_words) && nt < KS_ARRAY_LEN(techs); i++) {
        size_t wl = strlen(tech_words[i].word);
        if (!ks__memmem_ci(title, strlen(title), tech_words[i].word, wl) &&
            !ks__memmem_ci(src->desc, strlen(src->desc), tech_words[i].word, wl))
            continue;
        bool dup = false;
        for (size_t k = 0; k < nt; k++)
            dup |= strcmp(techs[k], tech_words[i].tech) == 0;
        if (!dup)
            techs[nt++] = tech_words[i].tech;
    }
    ks_evidence ev = {.path = ws->f->path, .format = "file", .offset = off, .time = mt};
    ks_finding fd = {
        .rule_id = rule_id,
        .title = title,
        .detector = "ioc",
        .description = src->desc[0] ? src->desc : NULL,
        .severity = ks__score_severity(score),
        .techniques = nt ? techs : NULL,
        .ntechniques = nt,
        .first = (mt != KS_TIME_NONE && ct != KS_TIME_NONE) ? KS_MIN(mt, ct) : mt,
        .last = (mt != KS_TIME_NONE && ct != KS_TIME_NONE) ? KS_MAX(mt, ct) : mt,
        .evidence = &ev,
        .nevidence = 1,
        .event_count = 1,
        .matched = matched,
        .nmatched = nm,
        .details = details,
        .ndetails = nd,
    };
    ks__emit(ws->d->e, &fd);
}

static int ioc_on_file(void *p, const ks_file *f)
{
    ioc_ws *ws = p;
    ioc_det *d = ws->d;
    ks_fhash fh;
    bool have_fh = false;
    char err[256];
    ks_loc loc = KS_LOC_NONE;
    loc.path = f->path;

    ks__arena_reset(ws->scratch);
    ws->f = f;
    ws->npath_hits = ws->nlit_hits = 0;
    memset(&fh, 0, sizeof fh);

    /* Names: the path as walked and with Windows separators, since public
     * lists are written for Windows paths. */
    size_t pl = strlen(f->path);
    char *wpath = ks__arena_strndup(ws->scratch, f->path, pl);
    if (wpath)
        for (char *c = wpath; *c; c++)
            if (*c == '/')
                *c = '\\';
    if (d->name_db) {
        hs_scan(d->name_db, f->path, (unsigned)pl, 0, ws->name_scratch, on_name_hit, ws);
        if (wpath)
            hs_scan(d->name_db, wpath, (unsigned)pl, 0, ws->name_scratch, on_name_hit, ws);
    }
    if (d->nslow) {
        for (size_t i = 0; i < d->nnames && ws->npath_hits < MAX_PATH_HITS; i++)
            if (d->names[i].slow && (pcre_hit(ws, d->names[i].slow, f->path, pl) ||
                                     (wpath && pcre_hit(ws, d->names[i].slow, wpath, pl))))
                on_name_hit((unsigned)i, 0, 0, 0, ws);
    }

    /* Content: one read for the hashes and the literals, whose digests
     * the file detectors after this one take from f->fh. */
    if (d->algos || d->lit_db) {
        ws->stream = NULL;
        if (d->lit_db && hs_open_stream(d->lit_db, 0, &ws->stream) != HS_SUCCESS)
            ws->stream = NULL;
        int rc = ks__file_read(&ws->rd, f, d->algos, ws->stream ? on_chunk : NULL, ws, &fh, err,
                               sizeof err);
        if (ws->stream)
            hs_close_stream(ws->stream, ws->lit_scratch, on_lit_hit, ws);
        ws->stream = NULL;
        if (rc != KS_OK)
            ks__diag(d->e, KS_DIAG_ERROR, rc, "ioc", &loc, "%s", err);
        else
            have_fh = true;
    }

    /* Findings. */
    if (have_fh) {
        const uint8_t *digs[3] = {fh.md5, fh.sha1, fh.sha256};
        static const size_t lens[3] = {16, 20, 32};
        static const char *const names[3] = {"md5", "sha1", "sha256"};
        for (int a = 0; a < 3; a++) {
            if (!(fh.have & (1u << a)) || !(d->algos & (1u << a)))
                continue;
            uint64_t *v = ks__map_get(d->hashes, digs[a], lens[a]);
            if (!v)
                continue;
            const ks_ioc_src *src = &d->srcs.v[*v - 1];
            char hex[65];
            ks__hex(digs[a], lens[a], hex);
            ks_kv m = {names[a], hex};
            const char *title = ks__arena_printf(ws->scratch, "Known-bad file hash%s%s",
                                                 src->desc[0] ? ": " : "", src->desc);
            emit(ws, ks__arena_printf(ws->scratch, "ioc:hash:%s", names[a]),
                 title ? title : "Known-bad file hash", DEFAULT_HASH_SCORE, &m, 1, &fh, src,
                 UINT64_MAX);
            break; /* one finding per file even if several algorithms hit */
        }
    }
    /* Several path IOCs often describe one file: report the strongest. */
    const name_ioc *best = NULL;
    for (size_t i = 0; i < ws->npath_hits; i++) {
        const name_ioc *ni = &d->names[ws->path_hits[i]];
        if (ni->fp && (pcre_hit(ws, ni->fp, f->path, pl) || (wpath && pcre_hit(ws, ni->fp, wpath, pl))))
            continue;
        if (!best || ni->score > best->score)
            best = ni;
    }
    if (best) {
        const ks_ioc_src *src = &d->srcs.v[best->src];
        ks_kv m2[2] = {{"path", f->path}, {"regex", best->regex}};
        const char *title = ks__arena_printf(ws->scratch, "File name/path IOC%s%s",
                                             src->desc[0] ? ": " : "", src->desc);
        emit(ws, "ioc:filename", title ? title : "File name/path IOC", best->score, m2, 2,
             have_fh ? &fh : NULL, src, UINT64_MAX);
    }
    for (size_t i = 0; i < ws->nlit_hits; i++) {
        const lit_ioc *li = &d->lits[ws->lit_hits[i]];
        const ks_ioc_src *src = &d->srcs.v[li->src];
        ks_kv m = {"literal", li->s};
        const char *title = ks__arena_printf(ws->scratch, "IOC string in file: %s%s%s", li->s,
                                             src->desc[0] ? " — " : "", src->desc);
        emit(ws, "ioc:literal", title ? title : "IOC string in file", DEFAULT_LIT_SCORE, &m, 1,
             have_fh ? &fh : NULL, src, ws->lit_off[i]);
    }
    return KS_OK;
}

const struct ks_detector ks_detector_ioc = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "ioc",
    .description = "file hashes, file name regexes, STIX 2.1 and literal IOCs (--ioc)",
    .flags = KS_DET_FILES,
    .create = ioc_create,
    .worker_new = ioc_worker_new,
    .on_file = ioc_on_file,
    .worker_done = ioc_worker_done,
    .destroy = ioc_destroy,
};
