/* SPDX-License-Identifier: Apache-2.0
 *
 * Gating YARA rules so libyara only runs the ones a file could match.
 *
 * libyara 4.2 evaluates every rule of a compiled set on every file and
 * instantiates every imported module (pe's object tree alone is ~15% of the
 * per-file cost on small files). Most community rules say up front what a
 * file must look like: "uint16(0) == 0x5a4d and ..." (a PE), or "... and
 * any of them" over strings with a fixed literal. This module reads a rule
 * file's source (YARA's own grammar, tokens only: it never evaluates
 * anything) and gives each rule a gate:
 *
 *   KS_YG_ALWAYS   no provable precondition: the rule runs on every file
 *   KS_YG_MAGIC    a top-level conjunct fixes bytes at an offset
 *                  (uintN[be](K) == V, or pe.is_pe which implies "MZ" at 0)
 *   KS_YG_LITERAL  a top-level conjunct needs one string out of a set to
 *                  match, and every string of that set contains a literal
 *                  (text, hex run, regex run) that any match of it contains
 *   KS_YG_MIXED    the magic holds or one of the literals is there
 *                  ("uint16(0) == 0x5a4d and ... or 3 of them")
 *
 * Besides its gate, each rule gets the file sizes its condition allows
 * (size_min, size_max): with its magic and literals, facts the detector
 * checks per file before libyara runs (yara_sets.c).
 *
 * A conjunct that only uses the pe module's members and functions (never
 * true on a file the module does not parse, see pe_undef_atom) counts as
 * the "MZ" magic.
 *
 * The detector compiles one rule set per gate and scans a file with a set
 * only when the gate holds (magic bytes compared; literals found by one
 * Vectorscan pass). Sound by construction: a gated rule skipped on a file is
 * a rule whose condition is false on it. Anything the analysis does not
 * fully understand stays ALWAYS: rules that reference reported rules or
 * are referenced (a private rule named by a gated rule is copied into its
 * set instead), files with a global rule or an include, xor/base64 strings,
 * regexes with alternation at the top, conditions under "not" or "for".
 *
 * Ownership: ks__ysplit_parse() fills *out with memory the caller frees
 * with ks__ysplit_free(); it borrows src only for the call. Reentrant.
 */
#ifndef KS_YARA_SPLIT_H
#define KS_YARA_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/core.h"

typedef enum { KS_YG_ALWAYS = 0, KS_YG_MAGIC, KS_YG_LITERAL, KS_YG_MIXED } ks_ygate;

typedef struct ks_ymagic {
    uint32_t off;   /* byte offset in the file */
    uint8_t width;  /* 1, 2 or 4 */
    uint8_t be;     /* big-endian read (uint16be ...) */
    uint32_t value;
} ks_ymagic;

typedef struct ks_ylit {
    uint8_t *bytes; /* owned */
    size_t len;
    bool caseless;  /* ASCII letters either case (YARA nocase, regex /i) */
} ks_ylit;

typedef struct ks_yrule {
    size_t begin, end;    /* the rule's source text [begin, end) */
    size_t nb, ne;        /* its name in the source */
    ks_ygate gate;
    ks_ymagic magic;      /* KS_YG_MAGIC, KS_YG_MIXED */
    size_t lit0, nlit;    /* its literals in ks_ysplit.lits when it has a literal
                           * gate (KS_YG_LITERAL, KS_YG_MIXED, or KS_YG_MAGIC
                           * as well) */
    /* filesize lies in [size_min, size_max] whenever the condition holds
     * (top-level "filesize < N" and kin); [0, UINT64_MAX] when unknown */
    uint64_t size_min, size_max;
    uint64_t modules;     /* bit i: uses the module of imports[i] */
    bool costly;          /* uses a module with a costly per-scan set-up
                           * (any but math, hash, time, string, console) */
} ks_yrule;

/* A regular-expression string of a rule, for the per-string prefilter
 * (yara_refilter.c): the k-th string of rules[rule], its body between the
 * slashes in the source. Only ascii-form regexes (no wide modifier). */
typedef struct ks_yregex {
    size_t rule;
    uint32_t ord;         /* its place among the rule's strings */
    size_t vb, ve;        /* body in the source */
    bool nocase, dotall;  /* /i or nocase; /s */
} ks_yregex;

typedef struct ks_yimport {
    size_t begin, end;    /* source text of the import statement */
    char name[32];
} ks_yimport;

typedef struct ks_ysplit {
    bool whole;           /* keep the file as it is (why says why) */
    const char *why;      /* static string */
    ks_yrule *rules;
    size_t nrules;
    ks_ylit *lits;
    size_t nlits;
    ks_yimport *imports;
    size_t nimports;
    ks_yregex *regexes;
    size_t nregexes;
    bool *deps;           /* deps[i * nrules + j]: rule i needs private rule j
                           * (copied with it); NULL when none were analysed */
} ks_ysplit;

/* Shortest literal worth gating on: shorter ones occur in most files. */
#define KS_YSPLIT_MIN_LIT 4

/* A rule is literal-gated only when its every literal is this long:
 * shorter ones ("exec", "request", "<form") are in most web pages, and a
 * gate that nearly always opens costs a second libyara pass for nothing
 * (measured on a web-shell tree: literals >= 6 bytes opened on 98% of
 * files, >= 10 bytes on 28%). */
#define KS_YSPLIT_GATE_LIT 10

/* The same for a rule using a costly module: it would otherwise make the
 * always-run set build that module's objects for every file, and its
 * literal set is a small one that opens apart from the others. */
#define KS_YSPLIT_COSTLY_LIT 8
/* Bumped when the analysis changes: part of the compiled-rules cache key. */
#define KS_YSPLIT_VERSION 9

/* Reads a rule file's source. Returns KS_OK (out->whole set when it could
 * not or must not be split) or KS_ENOMEM. */
int ks__ysplit_parse(const char *src, size_t n, ks_ysplit *out);

/* Appends to out the source of a part: the imports the picked rules use,
 * then the picked rules (pick[i] for rules[i]). */
int ks__ysplit_text(const char *src, const ks_ysplit *s, const bool *pick, ks_buf *out);

void ks__ysplit_free(ks_ysplit *s);

bool ks__ymagic_eq(const ks_ymagic *a, const ks_ymagic *b);
/* True when data satisfies the magic gate. */
bool ks__ymagic_holds(const ks_ymagic *m, const uint8_t *data, size_t n);

#endif
