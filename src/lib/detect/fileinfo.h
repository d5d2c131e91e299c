/* SPDX-License-Identifier: Apache-2.0
 *
 * Helpers shared by the file detectors (yara.c, ioc.c): reading a file's
 * content once in chunks while hashing it (MD5/SHA-1/SHA-256 with OpenSSL),
 * a THOR/Loki-style file type from magic bytes, owner names, hex, and the
 * score-to-severity scale both detectors use.
 *
 * One read per file: a file up to KS_FREAD_MAP_MAX is read through the
 * source's mapping, the same bytes the IOC pass hashes, the YARA gates
 * and regex prefilter scan and libyara matches, so the kernel hands the
 * file over once and no detector opens it again. A file that shrinks
 * under the mapping reads zeros past its new end instead of raising
 * SIGBUS (core/sigbus.c) and the dispatcher reports it. A larger plain
 * file is streamed with pread() through a 1 MiB buffer, so that a
 * detector passing over a big log does not make the process's resident
 * set grow by the whole file (libyara, when a rule set does run on it,
 * still maps it: it matches one contiguous buffer). Compressed sources
 * and blobs are always read through the source's memory.
 *
 * Thread-safety: everything here is reentrant; a ks_fread holds one
 * worker's buffer.
 */
#ifndef KS_FILEINFO_H
#define KS_FILEINFO_H

#include <stdio.h>
#include "kensa_int.h"

/* Called for each chunk of content, in order; off is its stream offset.
 * Returning non-zero stops the read (the hashes are then incomplete). */
typedef int (*ks_chunk_fn)(void *ud, const uint8_t *p, size_t n, uint64_t off);

/* Per-worker read buffer (1 MiB). */
typedef struct ks_fread {
    uint8_t *buf;   /* owned */
    size_t cap;
} ks_fread;
int ks__fread_init(ks_fread *r);
void ks__fread_release(ks_fread *r);

/* Plain files larger than this are streamed with pread() (see above). */
#define KS_FREAD_MAP_MAX ((uint64_t)16 << 20)
/* Is f read with pread() rather than through its mapping? */
bool ks__file_streamed(const ks_file *f);

/* Reads f's whole content once, hashing with the algorithms in `want` and
 * passing every chunk to fn (may be NULL). KS_OK, or KS_EIO / KS_EPERM with
 * a sentence in errbuf (the caller reports it). out->have says what is
 * known. With f->fh (the file's shared digests), digests already there are
 * taken, not computed, those computed are added to it, and when nothing is
 * missing and fn is NULL the file is not read at all. A file that shrank
 * under its mapping gets no digests (out->nread: where it ended). */
int ks__file_read(ks_fread *r, const ks_file *f, unsigned want, ks_chunk_fn fn, void *ud,
                  ks_fhash *out, char *errbuf, size_t errcap);

/* Adds to dst the digests src has and dst lacks. */
void ks__fhash_merge(ks_fhash *dst, const ks_fhash *src);

/* Lowercase hex of p[0..n) into out (2n+1 bytes). */
void ks__hex(const uint8_t *p, size_t n, char *out);
/* Parses 2n hex digits; false on a bad digit. */
bool ks__unhex(const char *s, size_t n2, uint8_t *out);

/* THOR/Loki file type name from the first bytes ("EXE", "ELF", "ZIP",
 * "PHP", "JSP", "ASP", ...) or "" when unknown. `ext` is the lowercase
 * extension with its dot (may be ""). Static string. */
const char *ks__file_type(const uint8_t *head, size_t n, const char *ext);
/* Lowercase extension with the dot (".aspx") of name into out; "" if none. */
void ks__file_ext(const char *name, char *out, size_t cap);

/* ---- compiled-rule caches (YARA sets, Vectorscan databases, Sigma rules) ---- */

/* The cache directory: option yara.cache_dir ("" = no cache: NULL), else
 * $XDG_CACHE_HOME/kensa, ~/.cache/kensa, build/cache. buf holds the
 * built path. */
const char *ks__cache_dir(const ks_engine *e, char *buf, size_t cap);
/* mkdir -p with mode 0700 (best effort). */
void ks__cache_mkdirs(const char *path);
/* Cache files are written to ks__cache_tmp(path) and then
 * ks__cache_commit(fp or NULL, written ok, tmp, path): closes fp, renames
 * tmp into place when all went well, else removes it. True when placed.
 * Readers never see a half-written file. */
#define KS_CACHE_TMP_SUFFIX ".tmp"
void ks__cache_tmp(char *tmp, size_t cap, const char *path);
bool ks__cache_commit(FILE *fp, bool ok, const char *tmp, const char *path);

/* A cache entry mapped read-only (NULL when missing, empty or not a
 * regular file); ks__cache_unmap(p, len) releases it. A cache file may be
 * changed by another run only by renaming a new one in: the mapping stays
 * whole. Mapped rather than read so that no large buffer is freed (glibc
 * then raises its mmap threshold and a hunt's peak RSS grows). */
const char *ks__cache_map(const char *path, size_t *len);
void ks__cache_unmap(const char *p, size_t len);
/* Removes the dir's entries named "<prefix>*<suffix>" but the `keep` most
 * recently modified (a load touches its entry). */
void ks__cache_prune(const char *dir, const char *prefix, const char *suffix, size_t keep);

/* ---- compiled Vectorscan databases (hscache.c) ----
 * One kind per user: its file name prefix and the options that turn it on
 * and bound it. */
typedef struct ks_hscache_kind {
    const char *prefix;    /* entries are "<prefix><sha256>.hs" */
    const char *on_opt;    /* bool option: cache on */
    const char *keep_opt;  /* int option: entries of this kind kept */
} ks_hscache_kind;
extern const ks_hscache_kind ks_hscache_secrets, ks_hscache_secinfo, ks_hscache_ioc, ks_hscache_sigma;

/* An entry's key: init (false when the kind's cache is off or e is NULL;
 * then release), add everything the compiler is given, final (false:
 * not cached). After final, path names the entry. Versions and the format
 * are part of every key. */
typedef struct ks_hskey {
    const ks_engine *e;
    const ks_hscache_kind *kind;
    void *ctx;              /* EVP_MD_CTX, until final */
    bool ok;                /* still usable / path valid */
    const char *dir;        /* cache directory (dirbuf or the option's) */
    char dirbuf[3800];
    char path[4096];        /* the entry, after final */
} ks_hskey;
bool ks__hskey_init(ks_hskey *k, const ks_engine *e, const ks_hscache_kind *kind);
void ks__hskey_add(ks_hskey *k, const void *p, size_t n);
void ks__hskey_str(ks_hskey *k, const char *s); /* with its NUL */
bool ks__hskey_final(ks_hskey *k);
void ks__hskey_release(ks_hskey *k);

/* Loads k's entry: ndb databases into dbs (NULL where saved NULL) and, when
 * ids is not NULL, its id list (malloc'd, at most maxids, caller frees).
 * False when missing or damaged: nothing set, the caller compiles. */
struct hs_database;
bool ks__hscache_load(const ks_hskey *k, uint32_t maxids, uint32_t **ids, uint32_t *nids,
                      size_t ndb, struct hs_database **dbs);
/* Saves ids and dbs[0..ndb) (NULL allowed) as k's entry and prunes the
 * kind to its keep option. Best effort. */
void ks__hscache_save(const ks_hskey *k, const uint32_t *ids, uint32_t nids, size_t ndb,
                      struct hs_database *const *dbs);

/* The parallel arrays a Vectorscan compile takes, room for cap patterns:
 * init (KS_ENOMEM), ks__hspats_add each, release. lens only for literal
 * databases (with_lens), else NULL. */
typedef struct ks_hspats {
    const char **exprs;      /* borrowed from the caller's rules */
    unsigned *flags, *ids;
    size_t *lens;
    unsigned n;              /* added so far */
} ks_hspats;
int ks__hspats_init(ks_hspats *p, size_t cap, bool with_lens);
void ks__hspats_release(ks_hspats *p);
static inline void ks__hspats_add(ks_hspats *p, const char *expr, unsigned flags, unsigned id)
{
    p->exprs[p->n] = expr;
    p->flags[p->n] = flags;
    p->ids[p->n++] = id;
}

/* Compiles exprs[0..*n) (flags, ids) into one Vectorscan database; an
 * expression Vectorscan refuses at compile time is handed to drop(ud, id),
 * removed from the arrays (*n shrinks) and the rest compiled again.
 * KS_OK (a NULL *db when nothing is left), or KS_EINTERNAL when the
 * compiler fails without naming an expression. */
int ks__hs_compile_dropping(const char **exprs, unsigned *flags, unsigned *ids, unsigned *n,
                            unsigned mode, void (*drop)(void *ud, unsigned id), void *ud,
                            struct hs_database **db);
/* The same through the cache of `kind`: an entry of the same expressions,
 * flags, ids and mode is loaded instead of compiled and the ids refused
 * when it was made are replayed through drop, so the caller ends as a
 * compiling run would. *cached (may be NULL) tells which happened. */
int ks__hs_compile_cached(const ks_engine *e, const ks_hscache_kind *kind, const char **exprs,
                          unsigned *flags, unsigned *ids, unsigned *n, unsigned mode,
                          void (*drop)(void *ud, unsigned id), void *ud, struct hs_database **db,
                          bool *cached);

/* Loki/THOR scores (0..100) to kensa severities: >=90 critical, >=70 high,
 * >=50 medium, >=30 low, else info. */
ks_severity ks__score_severity(int64_t score);

#endif
