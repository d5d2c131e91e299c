/* SPDX-License-Identifier: Apache-2.0
 *
 * Parsed Sigma rule files kept between runs. Reading the YAML of every
 * SigmaHQ rule through libyaml was over half of a warm start-up (0.19 of
 * 0.36 CPU s, issue 21): the trees libyaml's events build are stored and
 * read back instead.
 *
 * Each file's tree is keyed by the SHA-256 of its content, so an edited
 * rule is parsed again and never meets an old tree. The trees of one rule
 * configuration (kensa version, libyaml version, the rule paths given)
 * live in one entry of the compiled-rule cache directory (ks__cache_dir),
 * "sigma-yt-<sha256>.yt":
 *
 *   magic, then per file: content sha256, u32 length, payload
 *   payload: i32 parse result, u32 error line, u16 + error text,
 *            u32 documents, the nodes in preorder
 *   node:    u8 type, u8 plain, u32 line, then u32 + text (scalars, NUL
 *            kept) or u32 children and the children
 *
 * An entry is rewritten (ks__cache_tmp/commit: whole or absent) when a
 * run parsed any file, holding the trees that run used, and mapped when
 * read; sigma.cache_keep entries are kept. Reading is bounds-checked
 * throughout: a damaged or truncated record is a miss (the file is
 * parsed) and a warning, never a crash. Anchors shared by the parser are
 * stored once per use: the tree reads the same.
 *
 * Reading and hashing 3,754 SigmaHQ files was a quarter of a warm
 * start-up, so unchanged files are not read at all, as build systems do:
 * "sigma-st-<same key>.st" holds, per file, what its stat said (device,
 * inode, size, modification and change times in ns) when its content was
 * hashed, and that hash:
 *
 *   magic, then entries of 40 bytes of stat + 32 bytes of content sha256
 *
 * A file whose stat is unchanged is taken to have that content and its
 * tree is read from the entry; any difference (an edit, a touch, a copy, a
 * restored mtime: the change time moves) reads and hashes the file again.
 * A file changed within 2 s of the run that hashed it is not vouched for
 * by its stat (git's "racily clean" case: an edit in the same clock tick
 * would keep the times), so it is hashed every run until it is older.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <yaml.h>
#include <openssl/evp.h>
#include "detect/fileinfo.h"
#include "sigma_int.h"

#define YT_MAGIC "KSSGYT1\n"
#define YT_PREFIX "sigma-yt-"
#define YT_MAX_ENTRY ((size_t)256 << 20)
#define ST_MAGIC "KSSGST1\n"
#define ST_PREFIX "sigma-st-"
#define ST_RACY_NS 2000000000ll

typedef sg_stkey stkey; /* the key of the stat index */

#define ST_ENTRY (sizeof(stkey) + 32)

struct sg_ycache {
    ks_engine *e;
    char dir[3800];         /* cache directory */
    char path[4096];        /* this configuration's entry */
    const char *blob;       /* the entry, mapped (NULL: none) */
    size_t nblob;
    ks_map *index;          /* content sha256 -> offset + 1 of its record in blob */
    ks_buf hits;            /* records of blob this run used: (offset, length) pairs */
    ks_buf rec;             /* the record being written */
    FILE *tmpfp;            /* the new entry, opened at the first parse */
    char tmp[4200];
    bool failed;            /* out of memory or a write failed: do not commit */
    char spath[4096];       /* this configuration's stat file */
    const char *sblob;      /* the stat file, mapped (NULL: none) */
    size_t nsblob;
    ks_map *sindex;         /* stkey -> 1 + its entry's index in sblob */
    ks_buf snew;            /* this run's entries, for the new stat file */
    bool sdirty;            /* snew differs from sblob */
    int64_t racy;           /* files changed after this (ns) are hashed */
    bool warned;            /* a damaged file was reported */
    size_t unread, read;    /* files taken by their stat / read and hashed */
};

/* ---- reading ---------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p, *end;
    ks_arena *a;
    size_t nodes;
} rd;

static bool get(rd *r, void *v, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    memcpy(v, r->p, n);
    r->p += n;
    return true;
}

static sg_yaml *read_node(rd *r, int depth)
{
    uint8_t type, plain;
    uint32_t line, n;
    if (depth > SG_YAML_MAX_DEPTH || ++r->nodes > SG_YAML_MAX_NODES || !get(r, &type, 1) ||
        !get(r, &plain, 1) || !get(r, &line, 4) || !get(r, &n, 4) || type < SG_Y_SCALAR ||
        type > SG_Y_MAP)
        return NULL;
    sg_yaml *y = sg__yaml_node(r->a, type, line);
    if (!y)
        return NULL;
    y->plain = plain != 0;
    if (type == SG_Y_SCALAR) {
        if ((size_t)(r->end - r->p) < (size_t)n + 1 || r->p[n] != 0 ||
            !(y->s = ks__arena_strndup(r->a, (const char *)r->p, n)))
            return NULL;
        y->n = n;
        r->p += (size_t)n + 1;
        return y;
    }
    if (n > (size_t)(r->end - r->p) / 10 || (type == SG_Y_MAP && n % 2))
        return NULL; /* every child takes 10 bytes at least */
    if (n && !(y->kids = ks__arena_alloc(r->a, n * sizeof *y->kids)))
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        if (!(y->kids[i] = read_node(r, depth + 1)))
            return NULL;
    y->nkids = n;
    return y;
}

/* A record's payload into arena trees; false when it does not read whole. */
static bool read_record(ks_arena *a, const uint8_t *p, size_t n, sg_yaml ***docs, size_t *ndocs,
                        int *yrc, char *err, size_t errcap, uint32_t *errline)
{
    rd r = {.p = p, .end = p + n, .a = a};
    int32_t rc;
    uint16_t el;
    uint32_t nd;
    if (!get(&r, &rc, 4) || !get(&r, errline, 4) || !get(&r, &el, 2) ||
        (size_t)(r.end - r.p) < el || el >= errcap)
        return false;
    memcpy(err, r.p, el);
    err[el] = 0;
    r.p += el;
    if (!get(&r, &nd, 4) || nd > (size_t)(r.end - r.p) / 10)
        return false;
    sg_yaml **d = nd ? ks__arena_alloc(a, nd * sizeof *d) : NULL;
    if (nd && !d)
        return false;
    for (uint32_t i = 0; i < nd; i++)
        if (!(d[i] = read_node(&r, 0)))
            return false;
    if (r.p != r.end)
        return false;
    *docs = d;
    *ndocs = nd;
    *yrc = rc;
    return true;
}

/* ---- writing ------------------------------------------------------------------ */

static void put(sg_ycache *c, const void *v, size_t n)
{
    if (!c->failed && ks__buf_add(&c->rec, v, n) != KS_OK)
        c->failed = true;
}

static void write_node(sg_ycache *c, const sg_yaml *y)
{
    uint8_t type = (uint8_t)y->type, plain = y->plain;
    uint32_t line = y->line, n = (uint32_t)(y->type == SG_Y_SCALAR ? y->n : y->nkids);
    put(c, &type, 1);
    put(c, &plain, 1);
    put(c, &line, 4);
    put(c, &n, 4);
    if (y->type == SG_Y_SCALAR) {
        put(c, y->s, y->n);
        put(c, "", 1);
        return;
    }
    for (size_t i = 0; i < y->nkids; i++)
        write_node(c, y->kids[i]);
}

static void write_record(sg_ycache *c, const uint8_t key[32], sg_yaml **docs, size_t ndocs,
                         int yrc, const char *err, uint32_t errline)
{
    size_t at = 0;
    uint32_t len = 0, nd = (uint32_t)ndocs;
    ks__buf_reset(&c->rec);
    int32_t rc = yrc;
    size_t el = yrc == KS_OK ? 0 : strnlen(err, 255);
    uint16_t el16 = (uint16_t)el;
    put(c, key, 32);
    put(c, &len, 4);
    put(c, &rc, 4);
    put(c, &errline, 4);
    put(c, &el16, 2);
    put(c, err, el);
    put(c, &nd, 4);
    for (size_t i = 0; i < ndocs; i++)
        write_node(c, docs[i]);
    if (c->failed)
        return;
    size_t payload = c->rec.n - at - 36;
    if (payload > UINT32_MAX) {
        c->failed = true;
        return;
    }
    len = (uint32_t)payload;
    memcpy(c->rec.p + at + 32, &len, 4);
    /* streamed to the new entry: a run that parses every file holds no
     * copy of them all (see ks__cache_map on large buffers) */
    if (!c->tmpfp) {
        ks__cache_mkdirs(c->dir);
        ks__cache_tmp(c->tmp, sizeof c->tmp, c->path);
        if (!(c->tmpfp = fopen(c->tmp, "wb")) ||
            fwrite(YT_MAGIC, 1, sizeof YT_MAGIC - 1, c->tmpfp) != sizeof YT_MAGIC - 1) {
            c->failed = true;
            return;
        }
    }
    if (fwrite(c->rec.p, 1, c->rec.n, c->tmpfp) != c->rec.n)
        c->failed = true;
}

/* ---- the cache ---------------------------------------------------------------- */

/* A damaged cache file is not used (the rules are read and parsed as
 * without it) and is replaced by this run: said once, not silently. */
static void damaged(sg_ycache *c, const char *path, const char *what)
{
    if (c->warned)
        return;
    c->warned = true;
    ks_loc loc = KS_LOC_NONE;
    loc.path = path;
    ks__diag(c->e, KS_DIAG_WARN, KS_EFORMAT, "sigma", &loc,
             "rule cache file damaged (%s): ignored, rule files read again", what);
}

static void load_entry(sg_ycache *c)
{
    size_t len = 0;
    const char *m = ks__cache_map(c->path, &len);
    if (!m)
        return;
    if (len < sizeof YT_MAGIC - 1 || len > YT_MAX_ENTRY ||
        memcmp(m, YT_MAGIC, sizeof YT_MAGIC - 1) != 0) {
        damaged(c, c->path, len > YT_MAX_ENTRY ? "too large" : "not a tree entry");
        ks__cache_unmap(m, len);
        return;
    }
    c->blob = m;
    c->nblob = len;
    /* index the records; a damaged tail only loses what follows it */
    for (size_t at = sizeof YT_MAGIC - 1; at < c->nblob;) {
        uint32_t rl;
        if (c->nblob - at < 36 || (memcpy(&rl, c->blob + at + 32, 4), rl > c->nblob - at - 36)) {
            damaged(c, c->path, "truncated");
            break;
        }
        uint64_t *slot = ks__map_slot(c->index, c->blob + at, 32, true);
        if (slot && !*slot)
            *slot = at + 1;
        at += 36 + (size_t)rl;
    }
    utimes(c->path, NULL); /* recently used: kept by the pruning */
}

static void load_stats(sg_ycache *c)
{
    size_t len = 0;
    const char *m = ks__cache_map(c->spath, &len);
    if (!m)
        return;
    if (len < sizeof ST_MAGIC - 1 || len > YT_MAX_ENTRY || memcmp(m, ST_MAGIC, sizeof ST_MAGIC - 1) != 0 ||
        (len - (sizeof ST_MAGIC - 1)) % ST_ENTRY) {
        damaged(c, c->spath, "not a whole stat file");
        ks__cache_unmap(m, len);
        c->sdirty = true;
        return;
    }
    c->sblob = m;
    c->nsblob = len;
    for (size_t i = 0, n = (len - (sizeof ST_MAGIC - 1)) / ST_ENTRY; i < n; i++) {
        uint64_t *slot = ks__map_slot(c->sindex, m + sizeof ST_MAGIC - 1 + i * ST_ENTRY, sizeof(stkey), true);
        if (slot && !*slot)
            *slot = i + 1;
    }
    utimes(c->spath, NULL);
}

static size_t stat_entries(const sg_ycache *c)
{
    return c->sblob ? (c->nsblob - (sizeof ST_MAGIC - 1)) / ST_ENTRY : 0;
}

sg_stkey sg__stat_key(const struct stat *st)
{
    sg_stkey k = {(uint64_t)st->st_dev, (uint64_t)st->st_ino, (uint64_t)st->st_size,
               (int64_t)st->st_mtim.tv_sec * 1000000000ll + st->st_mtim.tv_nsec,
               (int64_t)st->st_ctim.tv_sec * 1000000000ll + st->st_ctim.tv_nsec};
    return k;
}

/* This run saw a file with stat k and content sha: kept for the next. */
static void note_stat(sg_ycache *c, const stkey *k, const uint8_t sha[32])
{
    if (k->mtime >= c->racy || k->ctime >= c->racy)
        return; /* changed too recently to trust its times */
    uint64_t *slot = c->sblob ? ks__map_get(c->sindex, k, sizeof *k) : NULL;
    if (!slot || memcmp(c->sblob + sizeof ST_MAGIC - 1 + (*slot - 1) * ST_ENTRY + sizeof *k, sha, 32) != 0)
        c->sdirty = true;
    if (ks__buf_add(&c->snew, k, sizeof *k) != KS_OK || ks__buf_add(&c->snew, sha, 32) != KS_OK)
        c->sdirty = false, c->failed = true;
}

/* The record of content sha read into trees; false when absent or damaged. */
static bool from_record(sg_ycache *c, ks_arena *a, const uint8_t sha[32], sg_yaml ***docs, size_t *ndocs,
                        char *err, size_t errcap, uint32_t *errline, int *yrc)
{
    uint64_t *slot = c->blob ? ks__map_get(c->index, sha, 32) : NULL;
    if (!slot || !*slot)
        return false;
    size_t at = (size_t)*slot - 1;
    uint32_t len;
    memcpy(&len, c->blob + at + 32, 4);
    if (!read_record(a, (const uint8_t *)c->blob + at + 36, len, docs, ndocs, yrc, err, errcap, errline)) {
        /* the arena keeps what was read (freed with the rule set) */
        damaged(c, c->path, "a record does not read");
        return false;
    }
    size_t span[2] = {at, 36 + (size_t)len};
    if (ks__buf_add(&c->hits, span, sizeof span) != KS_OK)
        c->failed = true;
    return true;
}

bool sg__ycache_known(sg_ycache *c, ks_arena *a, const struct stat *st, sg_yaml ***docs, size_t *ndocs,
                      char *err, size_t errcap, uint32_t *errline, int *yrc)
{
    stkey k = sg__stat_key(st);
    uint64_t *slot = c->sblob ? ks__map_get(c->sindex, &k, sizeof k) : NULL;
    if (!slot || k.mtime >= c->racy || k.ctime >= c->racy)
        return false;
    const uint8_t *sha = (const uint8_t *)c->sblob + sizeof ST_MAGIC - 1 + (*slot - 1) * ST_ENTRY + sizeof k;
    if (!from_record(c, a, sha, docs, ndocs, err, errcap, errline, yrc))
        return false;
    note_stat(c, &k, sha);
    c->unread++;
    return true;
}

sg_ycache *sg__ycache_open(ks_engine *e, const char *const *roots, size_t nroots)
{
    char dbuf[3800], key[65];
    uint8_t dig[32];
    const char *dir;
    if (!e || !ks__opt_bool(e, "sigma.cache") || !(dir = ks__cache_dir(e, dbuf, sizeof dbuf)) ||
        strlen(dir) >= sizeof ((sg_ycache *)0)->dir)
        return NULL;
    sg_ycache *c = calloc(1, sizeof *c);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = c && ctx && (c->index = ks__map_new(1024)) && (c->sindex = ks__map_new(1024)) &&
              EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    char ver[200];
    snprintf(ver, sizeof ver, "%s kensa %s libyaml %s", YT_MAGIC, KENSA_VERSION,
             yaml_get_version_string());
    ok = ok && EVP_DigestUpdate(ctx, ver, strlen(ver) + 1) == 1;
    for (size_t i = 0; ok && i < nroots; i++)
        ok = EVP_DigestUpdate(ctx, roots[i], strlen(roots[i]) + 1) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, dig, NULL) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        sg__ycache_close(c);
        return NULL;
    }
    ks__hex(dig, 32, key);
    c->e = e;
    memcpy(c->dir, dir, strlen(dir) + 1);
    snprintf(c->path, sizeof c->path, "%s/" YT_PREFIX "%s.yt", dir, key);
    snprintf(c->spath, sizeof c->spath, "%s/" ST_PREFIX "%s.st", dir, key);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    c->racy = (int64_t)now.tv_sec * 1000000000ll + now.tv_nsec - ST_RACY_NS;
    load_entry(c);
    if (c->blob)
        load_stats(c);
    return c;
}

int sg__ycache_parse(sg_ycache *c, ks_arena *a, const char *buf, size_t n, const struct stat *st,
                     sg_yaml ***docs, size_t *ndocs, char *err, size_t errcap, uint32_t *errline)
{
    uint8_t key[32];
    int yrc;
    c->read++;
    if (EVP_Digest(buf, n, key, NULL, EVP_sha256(), NULL) != 1)
        return sg__yaml_parse(a, buf, n, docs, ndocs, err, errcap, errline);
    if (st) {
        stkey k = sg__stat_key(st);
        note_stat(c, &k, key);
    }
    if (from_record(c, a, key, docs, ndocs, err, errcap, errline, &yrc))
        return yrc;
    *docs = NULL;
    *ndocs = 0;
    *errline = 0;
    err[0] = 0;
    yrc = sg__yaml_parse(a, buf, n, docs, ndocs, err, errcap, errline);
    if (yrc != KS_ENOMEM)
        write_record(c, key, *docs, *ndocs, yrc, err, *errline);
    return yrc;
}

void sg__ycache_close(sg_ycache *c)
{
    if (!c)
        return;
    if (c->unread + c->read) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(c->e, KS_DIAG_INFO, KS_OK, "sigma", &loc,
                 "rule cache: %zu files unchanged since a former run (not read), %zu read", c->unread,
                 c->read);
    }
    if (c->tmpfp) { /* a file was parsed: the new entry gets the rest too */
        bool ok = !c->failed;
        const size_t *span = (const size_t *)(const void *)c->hits.p;
        for (size_t i = 0; ok && i < c->hits.n / (2 * sizeof *span); i++)
            ok = fwrite(c->blob + span[2 * i], 1, span[2 * i + 1], c->tmpfp) == span[2 * i + 1];
        ks__cache_commit(c->tmpfp, ok, c->tmp, c->path);
    }
    if (!c->failed && (c->sdirty || c->snew.n / ST_ENTRY != stat_entries(c))) {
        char tmp[4200];
        FILE *fp;
        ks__cache_mkdirs(c->dir);
        ks__cache_tmp(tmp, sizeof tmp, c->spath);
        fp = fopen(tmp, "wb");
        bool ok = fp && fwrite(ST_MAGIC, 1, sizeof ST_MAGIC - 1, fp) == sizeof ST_MAGIC - 1 &&
                  fwrite(c->snew.p ? c->snew.p : "", 1, c->snew.n, fp) == c->snew.n;
        ks__cache_commit(fp, ok, tmp, c->spath);
    }
    if (c->tmpfp || c->sdirty) {
        int64_t keep = ks__opt_int(c->e, "sigma.cache_keep");
        ks__cache_prune(c->dir, YT_PREFIX, ".yt", keep > 0 ? (size_t)keep : 1);
        ks__cache_prune(c->dir, ST_PREFIX, ".st", keep > 0 ? (size_t)keep : 1);
    }
    ks__map_free(c->index);
    ks__map_free(c->sindex);
    ks__buf_release(&c->snew);
    ks__cache_unmap(c->sblob, c->nsblob);
    ks__buf_release(&c->hits);
    ks__buf_release(&c->rec);
    ks__cache_unmap(c->blob, c->nblob);
    free(c);
}
