/* SPDX-License-Identifier: Apache-2.0
 *
 * Sigma correlation rules: parsing (sigma_load.c calls in), the compact
 * match records workers collect, and the windowed evaluation in finish().
 *
 * Memory: a record is 64 bytes plus its interned group-key / value strings
 * (one copy each, in the map).
 * Records beyond "sigma.correlation.max_records" (default 2,000,000 for the
 * whole run) are dropped and counted; a warning says how many, so the
 * result is explicit about being partial (docs/SIGMA.md, "Eviction").
 */
#ifndef KS_SIGMA_CORR_H
#define KS_SIGMA_CORR_H

#include "sigma_int.h"

enum sg_ctype {
    SG_CT_EVENT_COUNT = 1,
    SG_CT_VALUE_COUNT,
    SG_CT_TEMPORAL,
    SG_CT_TEMPORAL_ORDERED,
    SG_CT_VALUE_SUM,
    SG_CT_VALUE_AVG,
    SG_CT_VALUE_PERCENTILE
};

typedef struct sg_ccond {
    int op;          /* 1 gt, 2 gte, 3 lt, 4 lte, 5 eq, 6 neq */
    double v;
} sg_ccond;

struct sg_corr {
    int type;                 /* SG_CT_* */
    const char **refs;        /* rule ids / names as written */
    size_t nrefs;
    sg_rule **rules;          /* resolved, nrefs entries */
    const char **group_by;    /* field or alias names */
    size_t ngroup;
    const sg_yaml *aliases;   /* alias -> {rule name -> field} */
    const ks_sym ***gsyms;    /* [rule][group] candidate paths */
    uint32_t **ngsyms;
    const char *field;        /* condition field (value_*) */
    const ks_sym **fsyms;     /* [rule] candidate paths of field */
    uint32_t *nfsyms;
    int64_t span;             /* timespan, ns */
    sg_ccond conds[6];        /* all must hold */
    int nconds;
    bool generate;            /* referenced rules also report alone */
    uint32_t idx;             /* index among correlations */
    sg_rule *rule;            /* the correlation rule itself */
    int level;                /* 0: over detections; n: over level n-1 correlations */
    bool quiet;               /* only feeds a non-generating parent correlation */
    bool never;               /* a rule it needs all of is never evaluated: its
                               * groups cannot complete, nothing is stored */
    struct sg_corr **parents; /* correlations referencing this one */
    uint32_t nparents;
};

/* A base-rule match as a correlation sees it. */
typedef struct sg_rec {
    int64_t time;             /* event time, ns */
    double num;               /* numeric field value (value_sum/avg) */
    uint64_t record, line, offset; /* provenance */
    uint32_t corr;            /* correlation index */
    uint32_t which;           /* base rule position in the correlation */
    uint32_t key;             /* interned group key text */
    uint32_t val;             /* interned field value (value_count), 0 = none */
    uint32_t path;            /* interned evidence path */
    uint32_t format;          /* interned input format */
} sg_rec;

/* Strings of records: a map text -> id plus id -> text. */
typedef struct sg_strs {
    ks_map *map;
    const char **text;        /* id -> text, the map's NUL-terminated copy (id 0 unused) */
    uint32_t n, cap;
    size_t bytes, max_bytes;
} sg_strs;

typedef struct sg_recs {
    sg_rec *v;
    size_t n, cap, max;       /* max: cap on records */
    uint64_t dropped;
    sg_strs strs;
} sg_recs;

int sg__recs_init(sg_recs *r, size_t max);
void sg__recs_release(sg_recs *r);
/* Collects the records of one matched base rule (for every correlation
 * using it). */
int sg__corr_collect(const sg_ruleset *rs, const sg_rule *base, const ks_event *ev,
                     sg_scratch *sc, sg_recs *out);
/* Moves src's records into dst (re-interning strings). */
int sg__recs_merge(sg_recs *dst, sg_recs *src);
/* Evaluates every correlation over all records (sorted here by group and
 * event time, whatever order they arrived in); one finding per group. */
typedef int (*sg_emit_fn)(void *ud, const ks_finding *f);
int sg__corr_run(sg_ruleset *rs, sg_recs *all, sg_emit_fn emit, void *ud);

#endif
