/* SPDX-License-Identifier: Apache-2.0
 *
 * The personal-data tally of one finding: counts by type and every
 * distinct value by the SHA-256 of its normalised form, bounded. The
 * secrets detector keeps one per message or file (secrets.c) and the
 * mail-access join one per read message (mailaccess_join.c); both report
 * the same rows, so they count the same way here.
 *
 * A tally is a caller-owned struct: zero it to start, ks__pii_tally_release
 * frees what it holds and zeroes it again. Not thread-safe (one worker's).
 */
#ifndef KS_DETECT_PII_TALLY_H
#define KS_DETECT_PII_TALLY_H

#include "kensa_int.h"
#include "detect/textscan.h"

#define KS_PII_MAX_TYPES 16     /* types listed per finding; more are not counted */
#define KS_PII_MAX_VALUES 1000  /* distinct values kept per finding; more are counted in dropped */

typedef struct ks_pii_val {
    uint8_t sha[32];         /* of the normalised value */
    const char *type;        /* the scanner's (static) */
    char redacted[64];
    char *clear;             /* only when revealing; owned */
    uint64_t count;
} ks_pii_val;

typedef struct ks_pii_tally {
    const char *types[KS_PII_MAX_TYPES]; /* the scanner's (static) */
    uint64_t counts[KS_PII_MAX_TYPES];
    size_t ntypes;
    ks_severity sev;         /* the highest of the matches counted */
    ks_map *ix;              /* sha -> index + 1; NULL while values are few (a list) */
    ks_pii_val *v;
    size_t nv, capv;
    uint64_t dropped;        /* distinct values not kept (over the cap, no memory) */
} ks_pii_tally;

/* Counts m (a personal-data match) under its type and its value; the
 * normalised value is copied only when reveal. Returns false when m was not
 * counted at all (its type is one too many). */
bool ks__pii_tally_add(ks_pii_tally *t, const ks_tmatch *m, bool reveal);

/* Writes one (type, count) row per type into det (counts holds the digits,
 * KS_PII_MAX_TYPES of them) and returns how many; *sum gets the total. */
size_t ks__pii_tally_counts(const ks_pii_tally *t, char (*counts)[24], ks_kv *det, uint64_t *sum);

/* Fills vals[0..t->nv) with the values, their digests written into
 * hex[0..t->nv) (the caller's, as long as vals is used). */
void ks__pii_tally_values(const ks_pii_tally *t, ks_fvalue *vals, char (*hex)[65]);

void ks__pii_tally_release(ks_pii_tally *t);

#endif
