/* SPDX-License-Identifier: Apache-2.0
 *
 * The YARA detector's compiled rule sets: one always-run set plus sets
 * gated by magic bytes and one gated by literals (see yara_split.h for the
 * analysis, yara_sets.c for why and how they are built and cached).
 *
 * Ownership: a ks_ysets owns its YR_RULES and the Vectorscan database;
 * ks__ysets_free() releases them. After build/load it is read-only and
 * shared by every worker; each worker brings its own hs_scratch_t.
 */
#ifndef KS_YARA_SETS_H
#define KS_YARA_SETS_H

#include <hs/hs.h>
#include <yara.h>
#include "detect/fileinfo.h"
#include "detect/yara_split.h"

#define KS_YSETS_MAX 24

/* What a rule of a set needs of a file, whenever its condition holds:
 * a size in [smin, smax], the magic bytes (magic.width 0: none) and, when
 * nlit > 0, one of its literals. A file lacking any of them cannot match
 * the rule: its strings need no verifying, and a set holding only such
 * rules (private ones aside) needs no libyara pass at all. */
typedef struct ks_yfacts {
    uint64_t smin, smax;
    ks_ymagic magic;
    uint32_t lit0, nlit;  /* its literals: ks_ysets.lit[lit0, lit0 + nlit) */
} ks_yfacts;

/* A rule of a compiled set with facts, bound to it. */
typedef struct ks_ygated {
    ks_yfacts fx;
    uint32_t rule;        /* its index in the set's rules_table */
    bool priv;            /* private: reports nothing */
    uint32_t *sidx;       /* its strings' YR_STRING.idx in the set; owned */
    uint32_t nsidx;
} ks_ygated;

/* The same, as built and cached, before it is bound to compiled rules. */
typedef struct ks_ygrule {
    uint32_t set;
    ks_yfacts fx;
    char *ns, *name;      /* owned */
} ks_ygrule;

/* A regex string of a set bound to its prefilter expression. */
typedef struct ks_yrebound {
    uint32_t sidx;        /* YR_STRING.idx in the set */
    uint32_t expr;        /* ks_yrefilter.expr index */
} ks_yrebound;

typedef struct ks_yset {
    YR_RULES *rules;
    ks_ygate gate;
    ks_ymagic magic;  /* KS_YG_MAGIC */
    bool with_always; /* KS_YG_LITERAL: holds the always-run rules too and
                       * replaces set 0 for a file it opens for */
    size_t nrules;
    ks_ygated *gated;     /* owned */
    size_t ngated;
    size_t nopen;         /* reported rules without facts: the set runs on
                           * every file its gate lets in */
    ks_yrebound *re;      /* its prefiltered regex strings; owned */
    size_t nre;
} ks_yset;

/* ---- the regex prefilter (yara_refilter.c) ---- */

/* A regex string as built and cached: the ord-th string of rule (ns,
 * name) in set `set` is found only where expression `expr` matches. */
typedef struct ks_yrestr {
    uint32_t set, expr, ord;
    char *ns, *name;      /* owned */
} ks_yrestr;

typedef struct ks_yrefilter {
    char **expr;          /* Vectorscan expressions, owned */
    unsigned *flags;
    bool *refused;        /* Vectorscan would not take it: never prefiltered */
    size_t nexpr, capexpr;
    ks_map *ids;          /* "flags:expr" -> id + 1, while building */
    ks_yrestr *str;
    size_t nstr, capstr;
    hs_database_t *db;    /* stream mode, ids = expr indices; NULL: none */
} ks_yrefilter;

/* A worker's prefilter state: which expressions the current file has. */
typedef struct ks_yrefws {
    hs_scratch_t *scr;
    uint64_t *hit;        /* a bit per expression */
    bool known;           /* the last scan completed */
} ks_yrefws;

/* Appends the Vectorscan form of a YARA regex body (read at least as
 * loosely as libyara reads it); false when it cannot. */
bool ks__yre_translate(const char *re, size_t n, ks_buf *out);

typedef struct ks_ysets {
    ks_yset set[KS_YSETS_MAX];
    ks_yrefilter rf;      /* regex strings of every set */
    size_t n;
    hs_database_t *lits;  /* prefilter of the literal-gated sets, or NULL */
    size_t nlits;
    /* literals as built, kept for the cache manifest; litset[i]: the set
     * literal i opens */
    ks_ylit *lit;
    uint8_t *litset;
    size_t litcap;
    uint32_t litmask;     /* bit i: set i is a literal set */
    size_t whole_files;   /* rule files kept whole (not split) */
    size_t ndual;         /* rules in two sets (magic or literals) */
    ks_ygrule *grule;     /* literal-gated rules, for the cache */
    size_t ngrule, capgrule;
    bool need_hits;       /* some rule has literal facts: the literal pass
                           * records every literal, not just the first */
} ks_ysets;

/* Makes a compiler with kensa's externals declared; diagnostics off. */
typedef int (*ks_ycompiler_fn)(void *ud, YR_COMPILER **out);

/* Splits and compiles the rule files paths[i] that compiled whole
 * (good[i]) into sets. KS_OK, or an error after which the caller compiles
 * unsplit (KS_EINTERNAL when libyara refused a part it had accepted). */
int ks__ysets_build(ks_ysets *s, char *const *paths, const bool *good, size_t n,
                    ks_ycompiler_fn mk, void *ud);

/* One always-run set holding rules (takes ownership). */
int ks__ysets_single(ks_ysets *s, YR_RULES *rules);

/* Cache: <prefix>.<i>.yarc per set, <prefix>.lits.hs (the literal
 * prefilter), then <prefix>.sets, written last. KS_YSETS_FORMAT is part of
 * the cache key: bump it when what is written changes, so two builds never
 * take turns overwriting one entry. */
#define KS_YSETS_FORMAT 8
int ks__ysets_save(const ks_ysets *s, const char *prefix);
int ks__ysets_load(ks_ysets *s, const char *prefix);

/* Cache files are written with ks__cache_tmp / ks__cache_commit (fileinfo.h). */

/* Bounds the cache dir: removes the cached rules ("yara-<key>...") but the
 * `keep` newest by manifest time and `current` (a prefix's basename), then
 * files left without a manifest by runs that died over an hour ago.
 * Returns the number of cache entries removed. Best effort. */
size_t ks__ysets_prune(const char *dir, const char *current, size_t keep);

/* A worker's Vectorscan state for the literal gate. */
typedef struct ks_ygatews {
    hs_scratch_t *scr;
    hs_stream_t *st;
    uint64_t *hit;        /* literals found in the current file (bits) */
    bool hits_known;      /* false: the pass failed or did not run */
    ks_yrefws re;         /* the regex prefilter */
    /* the file of the last ks__ysets_select(), for the facts */
    uint64_t size;
    const uint8_t *head;  /* borrowed for the file's scan */
    size_t nhead;
} ks_ygatews;
int ks__ysets_ws_init(const ks_ysets *s, ks_ygatews *g);
void ks__ysets_ws_free(ks_ygatews *g);

/* Streams a file's content to fn (see ks_chunk_fn); non-KS_OK when it
 * could not be read. */
typedef int (*ks_yread_fn)(void *ud, ks_chunk_fn fn, void *fnud);

/* Prefilter building (adds regex re of the rule named name in ns, source
 * src, as a string of set `set`), loading, binding to a compiled set,
 * and per-file use: scan, then switch off the strings of set y whose
 * expression the file lacks. */
int ks__yref_add(ks_yrefilter *rf, uint32_t set, const char *src, const ks_yregex *re,
                 const char *ns, const char *name, size_t nl);
int ks__yref_add_loaded(ks_yrefilter *rf, const char *text, unsigned flags, bool refused);
int ks__yref_add_str(ks_yrefilter *rf, uint32_t set, uint32_t expr, uint32_t ord, const char *ns,
                     const char *name, size_t nl);
void ks__yref_remap(ks_yrefilter *rf, const int *map);
int ks__yref_compile(ks_yrefilter *rf);
int ks__yref_bind(const ks_yrefilter *rf, ks_yset *y, size_t i);
void ks__yref_free(ks_yrefilter *rf);
/* A worker's Vectorscan stream over db (NULL: none) with a bit per
 * expression id (nbits), for the literal gate. */
int ks__ystream_open(const hs_database_t *db, size_t nbits, hs_scratch_t **scr, hs_stream_t **st,
                     uint64_t **hit);
void ks__ystream_close(hs_scratch_t **scr, hs_stream_t **st, uint64_t **hit);
int ks__yref_ws_init(const ks_yrefilter *rf, ks_yrefws *w);
void ks__yref_ws_free(ks_yrefws *w);
void ks__yref_scan(const ks_yrefilter *rf, ks_yrefws *w, const uint8_t *p, uint64_t n);
void ks__yref_skip(const ks_yset *y, const ks_yrefws *w, YR_SCANNER *sc);

/* Which sets to scan a file with (run[i] for set i). The gates read the
 * file's first bytes from head and its content through rd. A set runs
 * when its gate holds and some reported rule of it may hold by its facts
 * (size first, then magic, then the literals: the content is read only
 * when a set still depends on them). What cannot be checked runs. head
 * stays borrowed by g until the file is done. */
void ks__ysets_select(const ks_ysets *s, ks_ygatews *g, const uint8_t *head, size_t nhead,
                      uint64_t size, ks_yread_fn rd, void *rdud, bool *run);

/* After select: when a set that runs has prefiltered regex strings, scans
 * the file's whole content [p, p + n) (the buffer libyara scans next)
 * with the regex prefilter, for ks__ysets_skip_gated. */
void ks__ysets_prefilter(const ks_ysets *s, ks_ygatews *g, const bool *run, const uint8_t *p,
                         uint64_t n);

/* Before scanning the current file with set i: tells sc to skip
 * verifying the strings of the set's rules whose facts the file of the
 * last ks__ysets_select() lacks (libyara 4.2's per-scan
 * strings_temp_disabled bits, which it clears after every scan). Such a
 * rule's condition is false on the file either way; skipping its strings
 * spares their regex runs and match lists. */
void ks__ysets_skip_gated(const ks_ysets *s, size_t i, const ks_ygatews *g, YR_SCANNER *sc);

/* After the same select(): sets bit r of out (a bitmap of set i's rules,
 * by rule index) for each rule whose facts the file lacks, i.e. whose
 * condition is false on it whatever the scan says: a scan stopped by the
 * timeout left every other rule undecided. */
void ks__ysets_gated_out(const ks_ysets *s, size_t i, const ks_ygatews *g, uint8_t *out);
void ks__ysets_free(ks_ysets *s);

#endif
