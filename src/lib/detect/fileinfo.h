/* SPDX-License-Identifier: Apache-2.0
 *
 * Helpers shared by the file detectors (yara.c, ioc.c): reading a file's
 * content once in chunks while hashing it (MD5/SHA-1/SHA-256 with OpenSSL),
 * a THOR/Loki-style file type from magic bytes, owner names, hex, and the
 * score-to-severity scale both detectors use.
 *
 * Why read with pread() and not the walker's mapping: a file truncated
 * while we read a mapping of it raises SIGBUS and would kill the process;
 * a short read is just a short file. (YARA protects its own scans of the
 * mapping with its exception handler.) Compressed sources are read through
 * the source's window, which decompresses into memory.
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

/* Reads f's whole content once, hashing with the algorithms in `want` and
 * passing every chunk to fn (may be NULL). KS_OK, or KS_EIO / KS_EPERM with
 * a sentence in errbuf (the caller reports it). out->have says what is
 * known. With f->fh (the file's shared digests), digests already there are
 * taken, not computed, those computed are added to it, and when nothing is
 * missing and fn is NULL the file is not read at all. */
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

/* ---- compiled-rule caches (YARA sets, the secret scanner's database) ---- */

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

/* Compiles exprs[0..*n) (flags, ids) into one Vectorscan database; an
 * expression Vectorscan refuses at compile time is handed to drop(ud, id),
 * removed from the arrays (*n shrinks) and the rest compiled again.
 * KS_OK (a NULL *db when nothing is left), or KS_EINTERNAL when the
 * compiler fails without naming an expression. */
struct hs_database;
int ks__hs_compile_dropping(const char **exprs, unsigned *flags, unsigned *ids, unsigned *n,
                            unsigned mode, void (*drop)(void *ud, unsigned id), void *ud,
                            struct hs_database **db);

/* Loki/THOR scores (0..100) to kensa severities: >=90 critical, >=70 high,
 * >=50 medium, >=30 low, else info. */
ks_severity ks__score_severity(int64_t score);

#endif
