/* SPDX-License-Identifier: Apache-2.0
 *
 * The Sigma engine's private parts, shared by its files:
 *
 *   sigma_yaml.c   libyaml events -> a small read-only YAML tree (arena)
 *   sigma_cond.c   the condition language -> an expression tree
 *   sigma_mod.c    the value modifiers, as rows of one table
 *   sigma_load.c   files/dirs -> rule documents -> compiled rules
 *   sigma_map.c    logsource and field-name mapping data files
 *   sigma_match.c  evaluating compiled rules against one event
 *   sigma_corr.c   correlation rules (event_count, value_count, temporal...)
 *   sigma.c        the ks_detector_sigma vtable, prefilter, findings
 *   sigma_ycache.c parsed rule files kept between runs
 *   sigma_rcache.c compiled rule sets kept between runs
 *
 * Ownership: everything compiled lives in the ruleset's arena and is
 * immutable once sg__ruleset_finish() returned, so worker threads share it
 * without locks. Each worker owns an sg_scratch (regex match data, the
 * event index, the prefilter scratch, its correlation records).
 */
#ifndef KS_SIGMA_INT_H
#define KS_SIGMA_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sys/stat.h>
#include "kensa_int.h"

/* ---- YAML tree ------------------------------------------------------------ */
enum sg_ytype { SG_Y_SCALAR = 1, SG_Y_SEQ, SG_Y_MAP };

typedef struct sg_yaml sg_yaml;
struct sg_yaml {
    int type;          /* SG_Y_* */
    bool plain;        /* scalar written without quotes (null/number/bool) */
    uint32_t line;     /* 1-based line of the node's start */
    const char *s;     /* scalar text, NUL-terminated; NULL for collections */
    size_t n;          /* scalar length */
    sg_yaml **kids;    /* seq items; map: key, value, key, value ... */
    size_t nkids;      /* entries in kids (even for maps) */
};

#define SG_YAML_MAX_DEPTH 64
#define SG_YAML_MAX_NODES 200000

/* Parses every document of buf into arena nodes. On a syntax error returns
 * KS_EFORMAT with the reason in err and the 1-based line in *errline; the
 * documents parsed before the error are still returned. */
int sg__yaml_parse(ks_arena *a, const char *buf, size_t n, sg_yaml ***docs,
                   size_t *ndocs, char *err, size_t errcap, uint32_t *errline);
/* Value of key in a map node, NULL if absent or not a map. */
const sg_yaml *sg__yaml_get(const sg_yaml *map, const char *key);
/* Scalar text of a map key, or NULL. */
const char *sg__yaml_str(const sg_yaml *map, const char *key);
/* True for a plain null scalar (null, ~, empty). */
bool sg__yaml_is_null(const sg_yaml *y);
/* A new empty node of type at line, from the arena (parser and cache
 * reader alike); NULL when the arena is exhausted. */
sg_yaml *sg__yaml_node(ks_arena *a, int type, uint32_t line);
/* Parsed rule files kept between runs (sigma_ycache.c): the trees of one
 * rule configuration (the rule paths given, in order) in the engine's
 * compiled-rule cache, each keyed by its file's content. open: NULL when
 * the cache is off (sigma.cache) or unusable; then parse as usual. parse:
 * sg__yaml_parse's contract, from the cache when the content was seen;
 * st (or NULL): the file's fstat, remembered with its content hash.
 * known: the trees of a file whose stat (device, inode, size, mtime,
 * ctime) is the one a former run hashed, without reading it; false: read
 * and parse it. close: writes the entry when a file was parsed, prunes,
 * frees. */
typedef struct sg_ycache sg_ycache;
/* What a rule file's stat says, as both caches compare it (packed: the
 * bytes are stored). */
typedef struct __attribute__((packed)) sg_stkey {
    uint64_t dev, ino, size;
    int64_t mtime, ctime;   /* ns */
} sg_stkey;
sg_stkey sg__stat_key(const struct stat *st);
sg_ycache *sg__ycache_open(ks_engine *e, const char *const *roots, size_t nroots);
int sg__ycache_parse(sg_ycache *c, ks_arena *a, const char *buf, size_t n, const struct stat *st,
                     sg_yaml ***docs, size_t *ndocs, char *err, size_t errcap, uint32_t *errline);
bool sg__ycache_known(sg_ycache *c, ks_arena *a, const struct stat *st, sg_yaml ***docs, size_t *ndocs,
                      char *err, size_t errcap, uint32_t *errline, int *yrc);
void sg__ycache_close(sg_ycache *c);
/* Deep-merges b over a (maps merge, everything else: b wins). */
sg_yaml *sg__yaml_merge(ks_arena *ar, const sg_yaml *a, const sg_yaml *b);

/* ---- condition tree --------------------------------------------------------- */
enum sg_cop {
    SG_C_REF = 1, /* search identifier `ref` */
    SG_C_AND,     /* a and b */
    SG_C_OR,      /* a or b */
    SG_C_NOT,     /* not a */
    SG_C_ANY,     /* 1 of refs */
    SG_C_ALL,     /* all of refs */
    SG_C_TRUE     /* constant (empty "of" patterns never reach here) */
};

typedef struct sg_cond sg_cond;
struct sg_cond {
    uint8_t op;        /* SG_C_* */
    uint32_t ref;      /* SG_C_REF: index into the rule's searches */
    sg_cond *a, *b;    /* operands */
    uint32_t *refs;    /* SG_C_ANY / SG_C_ALL: search indices */
    uint32_t nrefs;
};

#define SG_COND_MAX_DEPTH 64
#define SG_COND_MAX_LEN 65536

/* Parses a condition over the search names. KS_ERULE with the reason in err
 * (unknown identifier, syntax, aggregation) on failure. */
int sg__cond_parse(ks_arena *a, const char *s, size_t n, const char *const *names,
                   size_t nnames, sg_cond **out, char *err, size_t errcap);

/* ---- compiled values ---------------------------------------------------------- */
typedef struct sg_scratch sg_scratch;
typedef struct sg_val sg_val;
typedef struct sg_ctx sg_ctx;

/* Literal patterns of the default/contains/startswith/endswith comparison. */
enum sg_pkind { SG_P_EQ = 0, SG_P_CONTAINS, SG_P_PREFIX, SG_P_SUFFIX, SG_P_GLOB };
#define SG_GLOB_STAR '\x01' /* in SG_P_GLOB text: `*` */
#define SG_GLOB_ONE '\x02'  /* in SG_P_GLOB text: `?` */

typedef struct sg_pat {
    uint8_t kind;      /* SG_P_* */
    uint32_t needle;   /* prefilter needle id + 1 of its longest literal run, 0 = none:
                          set once by sg__pre_build (one prefilter per ruleset) */
    const char *s;     /* pattern (lowercased unless cased), NUL-terminated */
    size_t n;
} sg_pat;

/* What the matched event value is handed to. */
typedef bool (*sg_match_fn)(const sg_val *v, const ks_value *x, const ks_event *ev,
                            sg_scratch *sc);

struct sg_val {
    sg_match_fn match;     /* the op's match function (modifier table) */
    bool cased;            /* |cased: byte-exact comparison */
    bool wants_missing;    /* also called when the field is absent (x = NULL) */
    bool negate;           /* |neq */
    sg_pat *pats;          /* string ops: OR over encoded variants */
    uint32_t npats;
    pcre2_code *re;        /* |re, owned by the ruleset */
    const char *resrc;     /* |re: the pattern compiled and its PCRE2 options, */
    uint32_t resrcn, reopts; /* kept for the compiled-rule cache (sigma_rcache.c) */
    const char *relit;     /* |re: a literal every match contains (prefilter), or NULL */
    size_t relitn;
    double num;            /* gt/gte/lt/lte, time parts */
    int cmp;               /* numeric op: 1 gt, 2 gte, 3 lt, 4 lte, 0 eq */
    int part;              /* time part: 1 minute .. 6 year */
    uint8_t net[16];       /* |cidr network (v4 in the first 4 bytes) */
    int netbits;           /* prefix length */
    int family;            /* 4 or 6 */
    bool flag;             /* |exists: expected presence */
    const ks_sym *ref;     /* |fieldref: candidate paths of the other field */
    uint32_t nref;
    uint8_t refkind;       /* |fieldref with contains/startswith/endswith */
};

typedef struct sg_item {
    const char *field;     /* Sigma field name; NULL for keywords */
    const ks_sym *syms;    /* candidate event paths, tried in order */
    uint32_t nsyms;
    sg_val *vals;          /* OR over values (AND with |all) */
    uint32_t nvals;
    bool all;              /* |all */
    bool missing_ok;       /* some value accepts an absent field (null, exists: false) */
} sg_item;

typedef struct sg_group {  /* one map: AND of items */
    sg_item *items;
    uint32_t n;
} sg_group;

typedef struct sg_search { /* a search identifier: OR of maps */
    const char *name;
    sg_group *groups;
    uint32_t n;
} sg_search;

/* The modifier table (sigma_mod.c). */
typedef struct sg_modifier {
    const char *name;       /* as written after `|` */
    unsigned kind;          /* SG_MOD_* */
    /* Transform: rewrite the value variants; op: set up v; flag: set a bit. */
    int (*compile)(sg_ctx *c, sg_val *v);
    sg_match_fn match;      /* ops only */
} sg_modifier;
enum { SG_MOD_TRANSFORM = 1, SG_MOD_OP, SG_MOD_FLAG };
const sg_modifier *sg__modifier_find(const char *name, size_t n);

/* ---- field / logsource mapping ---------------------------------------------------- */
typedef struct sg_fieldmap sg_fieldmap;
typedef struct sg_lsrc {
    const char *key;        /* "product/category/service" for messages */
    sg_search cond;         /* compiled logsource condition (empty = all) */
    bool has_cond;
    const sg_fieldmap *fm;  /* field names for rules of this logsource */
    uint32_t idx;           /* per-event cache slot */
} sg_lsrc;

/* ---- rules --------------------------------------------------------------------- */
enum sg_rkind { SG_R_DETECTION = 1, SG_R_CORRELATION, SG_R_FILTER };

typedef struct sg_corr sg_corr;
typedef struct sg_rule sg_rule;
struct sg_rule {
    int kind;               /* SG_R_* */
    const char *id;         /* uuid or "" */
    const char *name;       /* `name:` for correlation references, or NULL */
    const char *title;
    const char *status, *level, *description, *author, *date;
    const char *path;       /* file it came from */
    uint32_t line;          /* line of its document */
    ks_severity sev;
    const char **tags;      /* as written */
    size_t ntags;
    const char **techniques;/* "T1059.001" */
    size_t ntech;
    const char **fields;    /* `fields:` */
    size_t nfields;
    const char **falsepositives;
    size_t nfp;
    const char *product, *category, *service; /* logsource */
    const sg_lsrc *ls;      /* mapping, NULL when unmapped */
    int re_reported;        /* a regex of it gave up once (reported; atomic) */
    int slow_reported;      /* a sampled evaluation was over sigma.slow_rule (atomic) */
    sg_search *searches;
    uint32_t nsearches;
    sg_cond *cond;
    sg_rule **filters;      /* filter rules ANDed into this rule */
    uint32_t nfilters;
    const char **filter_targets; /* SG_R_FILTER: rule ids/names */
    size_t ntargets;
    sg_corr *corr;          /* SG_R_CORRELATION */
    sg_corr **corr_uses;    /* correlations using this rule */
    uint32_t ncorr_uses;
    bool emit;              /* findings per event (false for correlation-only) */
    bool runs;              /* evaluated per event by the detector */
    uint32_t idx;           /* index in the ruleset */
};

/* Why a rule failed to load, for `kensa rules check`. */
#define SG_FAIL_MAP(X)                                                      \
    X(YAML, "yaml syntax")                                                  \
    X(SCHEMA, "missing or malformed section")                               \
    X(CONDITION, "condition syntax")                                        \
    X(AGGREGATION, "deprecated aggregation (| count)")                      \
    X(MODIFIER, "unknown modifier")                                         \
    X(VALUE, "bad value (regex, cidr, number)")                             \
    X(CORRELATION, "bad correlation")                                       \
    X(REFERENCE, "unknown rule reference")                                  \
    X(LIMIT, "limit exceeded")
enum sg_fail {
    SG_FAIL_NONE = 0,
#define SG_FAIL_ENUM_(n, s) SG_FAIL_##n,
    SG_FAIL_MAP(SG_FAIL_ENUM_)
#undef SG_FAIL_ENUM_
    SG_FAIL_COUNT
};
const char *sg__fail_name(int f);

typedef void (*sg_diag_fn)(void *ud, ks_diag_level lvl, const char *path, uint32_t line,
                           int fail, const char *msg);

typedef struct sg_ruleset {
    ks_arena *arena;        /* owns every compiled object */
    ks_symtab *syms;        /* the engine's interner */
    sg_diag_fn diag;        /* load problems */
    void *diag_ud;
    sg_rule **rules;        /* every loaded rule */
    size_t nrules, caprules;
    sg_lsrc **lsrcs;        /* mapped logsources */
    size_t nlsrcs, caplsrcs;
    struct sg_mapping *map; /* mapping data (sigma_map.c) */
    pcre2_code **res;       /* regexes to free */
    size_t nres, capres;
    const char *const *placeholders; /* "name=v1,v2" (|expand) */
    size_t nplaceholders;
    uint32_t max_searches;  /* largest rule, for scratch sizing */
    sg_ycache *yc;          /* parsed-tree cache while rules load, or NULL */
    struct sg_rcache *rc;   /* compiled-rule cache recording what a load read, or NULL */
    const char *cmap;       /* the compiled-rule cache entry the rules were read */
    size_t ncmap;           /* from (their strings point into it), or NULL */
    /* load statistics */
    uint64_t files, docs, loaded, failed, unmapped;
    uint64_t fails[SG_FAIL_COUNT];
} sg_ruleset;

/* Compile context of one rule (sigma_load.c, sigma_mod.c). */
struct sg_ctx {
    sg_ruleset *rs;
    const char *path;
    uint32_t line;
    const sg_fieldmap *fm;
    char err[256];          /* reason on failure */
    int fail;               /* SG_FAIL_* */
    /* value variants being compiled (transforms rewrite them) */
    char **var;             /* NUL-terminated, arena */
    size_t *varn;
    size_t nvar;
    bool literal;           /* an encoding transform ran: no wildcards */
    bool is_null;           /* the YAML value was null */
    bool plain;             /* the YAML value was unquoted */
    uint8_t anchor;         /* SG_P_EQ/CONTAINS/PREFIX/SUFFIX */
    int reflags;            /* PCRE2 option bits from i/m/s */
    bool all;
    bool keyword;           /* compiling a field-less (keyword) item */
    uint32_t at;            /* line of the node being compiled (diagnostics) */
};

int sg__ruleset_new(ks_symtab *syms, sg_diag_fn diag, void *ud, sg_ruleset **out);
void sg__ruleset_free(sg_ruleset *rs);
/* Loads mapping data files (YAML) from a file or directory. */
int sg__ruleset_load_mappings(sg_ruleset *rs, const char *path);
/* Loads rules from a file or directory (recursive, *.yml / *.yaml). */
int sg__ruleset_load_path(sg_ruleset *rs, const char *path);
/* Loads rules from memory (tests, fuzzers). */
int sg__ruleset_load_mem(sg_ruleset *rs, const char *buf, size_t n, const char *path);
/* Resolves filter and correlation references; call once after loading. */
int sg__ruleset_finish(sg_ruleset *rs);

/* sigma_map.c */
int sg__map_load_mem(sg_ruleset *rs, const char *buf, size_t n, const char *path);
const sg_lsrc *sg__map_logsource(sg_ruleset *rs, const char *product, const char *category,
                                 const char *service);
/* Candidate event paths of a Sigma field name under a field map. */
int sg__map_field(sg_ruleset *rs, const sg_fieldmap *fm, const char *field, size_t n,
                  const ks_sym **syms, uint32_t *nsyms);
void sg__map_free(sg_ruleset *rs);

/* sigma_load.c: compiles a search (map or list of maps / keyword list). */
int sg__compile_search(sg_ctx *c, const char *name, const sg_yaml *y, sg_search *out);
int sg__ruleset_add_regex(sg_ruleset *rs, pcre2_code *re);
/* sigma_mod.c: one YAML value through its modifiers into v. */
int sg__compile_value(sg_ctx *c, const sg_yaml *y, const sg_modifier *const *mods, size_t nmods,
                      sg_val *v);
/* True when v is a plain string comparison (prefilter needles). */
bool sg__val_is_string(const sg_val *v);
/* True when v is a regular expression. */
bool sg__val_is_regex(const sg_val *v);
/* True when v is an |exists test (depends on presence only). */
bool sg__val_is_exists(const sg_val *v);
/* A rule by id or name, NULL if none. */
sg_rule *sg__rule_find(sg_ruleset *rs, const char *ref);
/* Appends p to the arena array of *n pointers at *(T ***)pv, copied one
 * longer (the links between rules are few and made once, at load).
 * KS_ENOMEM leaves the array as it was. */
int sg__link_add(ks_arena *a, void *pv, uint32_t *n, void *p);
/* sigma_corr.c */
int sg__corr_parse(sg_ctx *c, sg_rule *r, const sg_yaml *y);
int sg__corr_resolve(sg_ruleset *rs);
void sg__corr_free(sg_ruleset *rs);

/* ---- compiled-rule cache (sigma_rcache.c) ---------------------------------------- */
/* Compiled rule sets kept between runs (sigma_rcache.c): what
 * sg__ruleset_finish() left, for one rule configuration (kensa build, rule
 * paths, mappings, placeholders), valid while every file and directory the
 * load read stats the same. open: NULL when the cache is off or kensa's
 * build cannot be identified. load: true when rs (fresh) now holds the
 * cached rule set, its load diagnostics replayed; false leaves rs to be
 * freed (a miss, or a damaged entry: warned). record: sets rs up so that a
 * load from files notes what it read and reported (sg__rcache_dep); save:
 * writes the entry from the finished rs and ends the recording. close:
 * frees (after save). */
typedef struct sg_rcache sg_rcache;
sg_rcache *sg__rcache_open(ks_engine *e, const char *const *keys, size_t nkeys);
bool sg__rcache_load(sg_rcache *c, sg_ruleset *rs);
void sg__rcache_record(sg_rcache *c, sg_ruleset *rs);
/* A path the load depended on, stat'ed now (follow: stat, else lstat);
 * a missing path is a dependency too (it must stay missing). No-op for
 * a NULL c. */
void sg__rcache_dep(sg_rcache *c, const char *path, bool follow);
void sg__rcache_save(sg_rcache *c, sg_ruleset *rs);
void sg__rcache_close(sg_rcache *c);
/* The match functions as numbers (sigma_mod.c), for the cache: -1 / NULL
 * for one not in the table. */
int sg__match_code(sg_match_fn fn);
sg_match_fn sg__match_fn(int code);

/* ---- matching (sigma_match.c) --------------------------------------------------- */
/* The index of one field layout (the names of an event's fields in
 * order: one EVTX template, one W3C header): field symbol -> position,
 * open addressing. A generated Security log changes template on three
 * events in four (4624, 4625, 4771, 4776, 4648 interleaved): with one
 * index rebuilt at each change, the rebuild and the prefilter's
 * logsource positions it invalidates were ~3% of an EVTX hunt, so each
 * worker keeps the last few layouts' indexes. */
#define SG_LAYOUTS 8
typedef struct sg_layout {
    uint64_t hash;          /* of the names in order; 0 = slot unused */
    uint64_t build;         /* its number among index builds (sg_scratch.idx_build) */
    uint64_t last;          /* sg_scratch.tick when it last served: least recent is replaced */
    ks_sym *names;          /* the field names in order, n of cap */
    size_t n, cap;
    const void *syms;       /* the symbol table they are of */
    uint32_t canon[KS_F_COUNT]; /* the canonical fields it indexes (value-dependent) */
    ks_sym *sym;            /* the index: icap slots, 0 = empty */
    uint32_t *at;           /* position in ev->fields of the field sym names */
    uint32_t icap;          /* power of two, at least twice n */
    ks_sym dups[16];        /* field names that repeat in the layout (unnamed
                               EVTX <Data>, duplicate keys): any occurrence may match */
    uint32_t ndups;
    bool dups_overflow;     /* more than 16: every field is treated as repeatable */
} sg_layout;

struct sg_scratch {
    pcre2_match_data *md;   /* regex match data */
    pcre2_match_context *mctx; /* match/depth limits: a hostile regex cannot hang */
    sg_layout lays[SG_LAYOUTS]; /* indexes of the layouts seen last */
    const sg_layout *lay;   /* the event's; NULL: not indexed, lookups scan
                               (and every name counts as repeated) */
    uint32_t lay_slot;      /* lays[] index of lay (memos keyed per slot) */
    uint64_t idx_build;     /* index builds so far: lay->build is unique to
                               one layout's index (sigma_pre.c memoises the
                               logsource lookups' positions by it) */
    uint64_t tick;          /* events indexed */
    uint32_t egen;          /* of the event: bumped per event (low_gen) */
    const ks_event *ev;     /* event being indexed */
    int8_t *search_res;     /* per rule: -1 unknown, 0/1 */
    int8_t *ls_res;         /* per logsource: -1 unknown, 0/1 */
    size_t nls;
    /* per-event cache of lowercased value texts: case-insensitive matching
     * becomes memmem/memcmp on the lowered copy, computed once per field */
    const ks_value **low_key;
    uint32_t *low_off, *low_len, *low_gen;
    uint32_t low_cap, low_used;   /* slots (power of two), used this event */
    ks_buf low;                   /* the lowered texts */
    const uint64_t *hits;   /* prefilter needles seen in this event (bitset) */
    bool hits_ok;           /* hits is complete: a pattern whose needle is not
                               in it cannot match */
    const char *text;       /* every value of the event, newline-separated, when
                               the prefilter built it whole (else NULL); or the
                               event's raw record (ks_event.raw) */
    size_t textn;
    bool text_plus;         /* text is raw with '+' for the values' spaces */
    char num[64];           /* non-string values as text */
    char tmp[128];          /* NUL-terminated copies (numbers, IPs) */
    int re_err;             /* last PCRE2 error of this rule evaluation (match
                               or depth limit): the rule could not decide */
    /* canonical names of the field schema that mappings or rules use
     * ("event.code"): indexed too, standing for the event's best alternate */
    ks_sym canon_sym[KS_F_COUNT];
    bool canon_init;
};

int sg__scratch_init(sg_scratch *sc, const sg_ruleset *rs);
void sg__scratch_release(sg_scratch *sc);
/* Indexes ev's fields (first occurrence of each name wins). */
void sg__scratch_event(sg_scratch *sc, const ks_event *ev);
const ks_value *sg__lookup(sg_scratch *sc, const ks_sym *syms, uint32_t n);
/* The same, also telling which candidate path was found. */
const ks_value *sg__lookup_sym(sg_scratch *sc, const ks_sym *syms, uint32_t n, ks_sym *found);
/* Whether field name s occurs more than once in the indexed event (then
 * any occurrence may match, not only the one looked up). */
bool sg__repeated(const sg_scratch *sc, ks_sym s);
/* Text of a value for string comparisons (non-strings formatted into sc). */
bool sg__value_text(const ks_value *v, sg_scratch *sc, const char **p, size_t *n);
/* The same text ASCII-lowercased, cached per event; false if it does not
 * fit the cache (callers then compare case-insensitively themselves). */
bool sg__value_lower(const ks_value *v, sg_scratch *sc, const char **p, size_t *n);
bool sg__search_eval(const sg_search *s, const ks_event *ev, sg_scratch *sc);
/* Full rule evaluation (logsource, condition, filters). */
bool sg__rule_eval(const sg_rule *r, const ks_event *ev, sg_scratch *sc);
bool sg__glob_match(const char *pat, size_t pn, const char *s, size_t n, bool cased);
/* The longest literal run of a pattern (between glob wildcards): every
 * text the pattern matches contains it (sigma_pre.c). */
void sg__pat_run(const sg_pat *p, const char **s, size_t *n);

#endif
