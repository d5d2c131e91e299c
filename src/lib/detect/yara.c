/* SPDX-License-Identifier: Apache-2.0
 *
 * The YARA file detector, on libyara (so every community rule works).
 *
 * Compile once (create): rule files and directories from the list option
 * "yara" plus kensa's bundled rules (<rules_dir>/yara unless builtin=false)
 * are compiled, one namespace per file so two files may reuse a rule name,
 * into gated rule sets (yara_sets.c; one set with yara.split=false). A
 * file that fails to compile is reported (file, line, message) and left
 * out while the others load: YARA's compiler cannot be
 * used after an error, so on a failure we start a fresh compiler and replay
 * the good files. Loki/THOR external variables (filename, filepath,
 * extension, filetype, owner) are declared so rules written for those
 * scanners compile. The compiled rules are cached on disk under a key that
 * hashes the libyara version and every rule file's path and content
 * ("yara.cache_dir", default ~/.cache/kensa); a second run skips compiling
 * and replays the compile diagnostics stored beside the cache.
 *
 * Match many (on_file): each worker owns a YR_SCANNER per shared set; the
 * gates pick the sets for the file, the regex prefilter switches off the
 * regex strings it lacks, and each set is given the externals and scans
 * the source's mapping of it (under kensa's SIGBUS guard, core/sigbus.c)
 * with a per-file timeout ("yara.timeout"). The gates, the prefilter, the
 * hashes and libyara read that one mapping, which the IOC detector's pass
 * already faulted in (fileinfo.h: one read per file). It emits one
 * finding per matching rule: path, size, mtime/ctime, hashes, ATT&CK ids
 * from tags and meta, matched strings (offset, text or hex, truncated),
 * severity from meta score/severity.
 *
 * Speed without changing results: YARA's fast mode (stop looking for a
 * string once found) is on, which is exact for rule outcomes because YARA
 * only applies it to strings no condition counts or locates (#a, @a, !a).
 * Optional: "files.allowlist" (known-good SHA-256 list) and
 * "files.dedupe" (skip content already scanned clean; only when no rule
 * reads path-dependent externals, else the same bytes may match
 * differently at another path), "files.skip_types" (magic type names).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yara.h>
#include <openssl/evp.h>
#include "detect/fileinfo.h"
#include "detect/yara_sets.h"

#define MAX_RULE_FILES 20000
#define MAX_RULE_FILE_BYTES ((size_t)64 << 20)
#define MAX_DIAGS 10000
#define MAX_MATCH_KVS 12
#define MATCHES_PER_STRING 3
#define SHOW_TEXT 80       /* characters of a matched string shown */
#define SHOW_HEX 32        /* bytes of a binary match shown as hex */
#define MAX_TECHS 16
#define MAX_ALLOW 10000000

static const char *const externals[] = {"filename", "filepath", "extension", "filetype", "owner"};

/* ---- compile diagnostics (kept to store beside the cache) ------------------ */
typedef struct ydiag {
    char *file;   /* owned */
    int line;
    int level;    /* YARA_ERROR_LEVEL_* */
    char *msg;    /* owned */
} ydiag;

typedef struct load_ctx {
    ks_engine *e;
    ydiag *diags;
    size_t ndiags, cap;
    bool quiet;   /* replaying good files into a fresh compiler */
    int file_errors;
} load_ctx;

typedef struct yara_det {
    ks_engine *e;
    ks_ysets sets;            /* shared read-only by every scanner */
    size_t nrules;
    int timeout_s;
    int scan_flags;
    bool dedupe;              /* skip content already scanned clean */
    ks_map *allow;            /* sha256 (32 raw bytes) of known-good files */
    ks_map *seen;             /* dedupe: sha256 scanned clean; under lock */
    uint64_t seen_cap;
    pthread_mutex_t lock;
    const char **skip_types;
    size_t nskip;
    bool yr_init;
} yara_det;

typedef struct yara_ws {
    yara_det *d;
    YR_SCANNER *scanner[KS_YSETS_MAX]; /* this worker's, one per rule set */
    ks_ygatews gate;          /* for the literal gate */
    ks_fread rd;
    ks_arena *scratch;        /* finding strings, reset per file */
    uid_t owner_uid;          /* cache of the last owner lookup */
    char owner[64];
    bool owner_ok;
    /* the file being scanned */
    const ks_file *f;
    ks_fhash fh;
    bool hashed;
    int matches;
    /* rules reported for this file: a magic-or-literal rule sits in two
     * sets and a file passing both gates matches it twice */
    const YR_RULE **reported;
    size_t nreported, capreported;
    /* strings that matched too often on this file ("rule $s"): named when
     * a scan times out, as the likely slow part */
    char hot[4][96];
    size_t nhot;
} yara_ws;

/* ---- rule file discovery ------------------------------------------------------ */
typedef struct pathlist {
    char **v;
    size_t n, cap;
} pathlist;

static int pl_add(pathlist *pl, const char *p)
{
    if (pl->n >= MAX_RULE_FILES)
        return KS_ELIMIT;
    if (pl->n == pl->cap) {
        size_t nc = pl->cap ? pl->cap * 2 : 64;
        char **nv = realloc(pl->v, nc * sizeof *nv);
        if (!nv)
            return KS_ENOMEM;
        pl->v = nv;
        pl->cap = nc;
    }
    if (!(pl->v[pl->n] = strdup(p)))
        return KS_ENOMEM;
    pl->n++;
    return KS_OK;
}

static void pl_release(pathlist *pl)
{
    for (size_t i = 0; i < pl->n; i++)
        free(pl->v[i]);
    free(pl->v);
    memset(pl, 0, sizeof *pl);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_rule_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && !strcasecmp(name + n - 4, ".yar")) ||
           (n > 5 && !strcasecmp(name + n - 5, ".yara"));
}

/* Adds the rule files under path (a file is taken whatever its name; a
 * directory contributes its *.yar / *.yara files, recursively, sorted). */
static void collect(ks_engine *e, const char *path, pathlist *pl, int depth, bool named)
{
    struct stat st;
    ks_loc loc = KS_LOC_NONE;
    loc.path = path;
    if ((named ? stat(path, &st) : lstat(path, &st)) != 0) {
        ks__diag(e, KS_DIAG_ERROR, KS_ENOTFOUND, "yara", &loc, "cannot read rules: %s",
                 strerror(errno));
        return;
    }
    if (S_ISREG(st.st_mode)) {
        if (named || is_rule_name(path))
            if (pl_add(pl, path) == KS_ELIMIT && named)
                ks__diag(e, KS_DIAG_ERROR, KS_ELIMIT, "yara", &loc, "more than %d rule files",
                         MAX_RULE_FILES);
        return;
    }
    if (!S_ISDIR(st.st_mode) || depth > 32)
        return;
    DIR *d = opendir(path);
    if (!d) {
        ks__diag(e, KS_DIAG_ERROR, KS_EPERM, "yara", &loc, "cannot open rule directory: %s",
                 strerror(errno));
        return;
    }
    pathlist sub = {0};
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        size_t n = strlen(path) + strlen(de->d_name) + 2;
        char *child = malloc(n);
        if (!child)
            break;
        snprintf(child, n, "%s/%s", path, de->d_name);
        pl_add(&sub, child);
        free(child);
    }
    closedir(d);
    qsort(sub.v, sub.n, sizeof *sub.v, cmp_str);
    for (size_t i = 0; i < sub.n; i++)
        collect(e, sub.v[i], pl, depth + 1, false);
    pl_release(&sub);
}

/* ---- compile --------------------------------------------------------------------- */
static void on_compile_msg(int level, const char *file, int line, const YR_RULE *rule,
                           const char *msg, void *ud)
{
    load_ctx *lc = ud;
    (void)rule;
    if (level == YARA_ERROR_LEVEL_ERROR)
        lc->file_errors++;
    if (lc->quiet || lc->ndiags >= MAX_DIAGS)
        return;
    if (lc->ndiags == lc->cap) {
        size_t nc = lc->cap ? lc->cap * 2 : 32;
        ydiag *nd = realloc(lc->diags, nc * sizeof *nd);
        if (!nd)
            return;
        lc->diags = nd;
        lc->cap = nc;
    }
    ydiag *d = &lc->diags[lc->ndiags];
    d->file = strdup(file ? file : "");
    d->msg = strdup(msg ? msg : "");
    d->line = line;
    d->level = level;
    if (!d->file || !d->msg) {
        free(d->file);
        free(d->msg);
        return;
    }
    lc->ndiags++;
}

static int compiler_new(load_ctx *lc, YR_COMPILER **out)
{
    YR_COMPILER *c = NULL;
    if (yr_compiler_create(&c) != ERROR_SUCCESS)
        return KS_ENOMEM;
    yr_compiler_set_callback(c, on_compile_msg, lc);
    for (size_t i = 0; i < KS_ARRAY_LEN(externals); i++) {
        if (yr_compiler_define_string_variable(c, externals[i], "") != ERROR_SUCCESS) {
            yr_compiler_destroy(c);
            return KS_ENOMEM;
        }
    }
    *out = c;
    return KS_OK;
}

static int add_file(YR_COMPILER *c, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    int errs = yr_compiler_add_file(c, fp, path, path);
    fclose(fp);
    return errs;
}

/* Compiles every file in pl, leaving out those that fail. */
static int compile_all(load_ctx *lc, const pathlist *pl, YR_RULES **out, bool **good_out)
{
    YR_COMPILER *c = NULL;
    bool *good = calloc(pl->n ? pl->n : 1, sizeof *good);
    size_t ngood = 0;
    int rc = KS_OK;
    if (!good)
        return KS_ENOMEM;
    if ((rc = compiler_new(lc, &c)) != KS_OK)
        goto out;
    for (size_t i = 0; i < pl->n; i++) {
        lc->file_errors = 0;
        int errs = add_file(c, pl->v[i]);
        if (errs == 0) {
            good[i] = true;
            ngood++;
            continue;
        }
        if (errs < 0) {
            ks_loc loc = KS_LOC_NONE;
            loc.path = pl->v[i];
            ks__diag(lc->e, KS_DIAG_ERROR, KS_EIO, "yara", &loc, "cannot open rule file: %s",
                     strerror(errno));
            continue;
        }
        /* The compiler is spent: start again with the files that compiled. */
        yr_compiler_destroy(c);
        c = NULL;
        if ((rc = compiler_new(lc, &c)) != KS_OK)
            goto out;
        lc->quiet = true;
        for (size_t j = 0; j < i; j++)
            if (good[j] && add_file(c, pl->v[j]) != 0)
                good[j] = false; /* cannot happen: it compiled before */
        lc->quiet = false;
    }
    if (ngood == 0) {
        *out = NULL;
        goto out;
    }
    if (yr_compiler_get_rules(c, out) != ERROR_SUCCESS)
        rc = KS_ENOMEM;
out:
    if (c)
        yr_compiler_destroy(c);
    if (rc == KS_OK && good_out)
        *good_out = good;
    else
        free(good);
    return rc;
}

/* The factory ks__ysets_build() compiles its parts with. */
static int quiet_compiler(void *ud, YR_COMPILER **out)
{
    load_ctx *lc = ud;
    lc->quiet = true;
    return compiler_new(lc, out);
}

/* Compiles the rule files, split into gated sets unless yara.split=false
 * or the split fails (then one set, as libyara would have it). */
static int compile_sets(ks_engine *e, load_ctx *lc, const pathlist *pl, ks_ysets *sets)
{
    YR_RULES *whole = NULL;
    bool *good = NULL;
    int rc = compile_all(lc, pl, &whole, &good);
    if (rc != KS_OK || !whole)
        goto out;
    if (ks__opt_bool(e, "yara.split") &&
        ks__ysets_build(sets, pl->v, good, pl->n, quiet_compiler, lc) == KS_OK) {
        yr_rules_destroy(whole);
        whole = NULL;
    } else {
        ks__ysets_single(sets, whole);
        whole = NULL;
    }
out:
    lc->quiet = false;
    if (whole)
        yr_rules_destroy(whole);
    free(good);
    return rc;
}

/* ---- cache --------------------------------------------------------------------- */
static bool is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* True when the rule text uses one of the path-dependent externals as an
 * identifier (coarse: a comment mentioning "filename" counts too, which
 * only turns the dedupe off). */
static bool uses_externals(const char *p, size_t n)
{
    for (size_t k = 0; k < KS_ARRAY_LEN(externals); k++) {
        size_t kl = strlen(externals[k]);
        const char *s = p, *end = p + n;
        while (s < end) {
            const char *hit = memmem(s, (size_t)(end - s), externals[k], kl);
            if (!hit)
                break;
            bool left = hit == p || !is_ident(hit[-1]);
            bool right = hit + kl == end || !is_ident(hit[kl]);
            if (left && right)
                return true;
            s = hit + kl;
        }
    }
    return false;
}

/* Hashes the rule set into key (hex) and reports whether any rule reads a
 * path-dependent external. */
static int rules_key(const pathlist *pl, char key[65], bool *path_ext)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t dig[32];
    unsigned int dl = 0;
    char *buf = NULL;
    int rc = KS_OK;
    *path_ext = false;
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = KS_ENOMEM;
        goto out;
    }
    char ver[128];
    /* the splitter's and the cache format's versions too: a better reader
     * must not meet an old cache, nor two builds share one entry */
    snprintf(ver, sizeof ver, "kensa-yara-2 split-%d sets-%d %s %s", KS_YSPLIT_VERSION,
             KS_YSETS_FORMAT, YR_VERSION, KENSA_VERSION);
    EVP_DigestUpdate(ctx, ver, strlen(ver) + 1);
    for (size_t i = 0; i < pl->n; i++) {
        FILE *fp = fopen(pl->v[i], "rb");
        size_t n = 0;
        EVP_DigestUpdate(ctx, pl->v[i], strlen(pl->v[i]) + 1);
        if (!fp)
            continue;
        if (!buf && !(buf = malloc(MAX_RULE_FILE_BYTES))) {
            fclose(fp);
            rc = KS_ENOMEM;
            goto out;
        }
        n = fread(buf, 1, MAX_RULE_FILE_BYTES, fp);
        fclose(fp);
        uint64_t n64 = n;
        EVP_DigestUpdate(ctx, &n64, sizeof n64);
        EVP_DigestUpdate(ctx, buf, n);
        if (!*path_ext && uses_externals(buf, n))
            *path_ext = true;
    }
    EVP_DigestFinal_ex(ctx, dig, &dl);
    ks__hex(dig, 32, key);
out:
    free(buf);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* Diagnostics file beside the cache: "level\tline\tfile\tmessage" lines. */
static void save_diags(const char *path, const load_ctx *lc)
{
    char tmp[4400];
    ks__cache_tmp(tmp, sizeof tmp, path);
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        return;
    for (size_t i = 0; i < lc->ndiags; i++) {
        const ydiag *d = &lc->diags[i];
        /* Tabs and newlines would break the line format. */
        for (char *m = d->msg; *m; m++)
            if (*m == '\t' || *m == '\n')
                *m = ' ';
        fprintf(fp, "%d\t%d\t%s\t%s\n", d->level, d->line, d->file, d->msg);
    }
    ks__cache_commit(fp, true, tmp, path);
}

static void load_diags(const char *path, load_ctx *lc)
{
    FILE *fp = fopen(path, "r");
    char line[8192];
    if (!fp)
        return;
    while (fgets(line, sizeof line, fp)) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL,
             *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
        if (!t3)
            continue;
        *t1 = *t2 = *t3 = 0;
        char *nl = strchr(t3 + 1, '\n');
        if (nl)
            *nl = 0;
        on_compile_msg((int)strtol(line, NULL, 10), t2 + 1, (int)strtol(t1 + 1, NULL, 10),
                       NULL, t3 + 1, lc);
    }
    fclose(fp);
}

static void report_diags(ks_engine *e, load_ctx *lc)
{
    size_t nwarn = 0;
    for (size_t i = 0; i < lc->ndiags; i++) {
        const ydiag *d = &lc->diags[i];
        ks_loc loc = KS_LOC_NONE;
        loc.path = d->file;
        loc.line = d->line > 0 ? (uint64_t)d->line : 0;
        if (d->level == YARA_ERROR_LEVEL_ERROR) {
            ks__diag(e, KS_DIAG_ERROR, KS_ERULE, "yara", &loc,
                     "rule file not loaded: %s", d->msg);
        } else {
            nwarn++;
            ks__diag(e, KS_DIAG_INFO, KS_ERULE, "yara", &loc, "%s", d->msg);
        }
    }
    if (nwarn) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(e, KS_DIAG_INFO, KS_OK, "yara", &loc,
                 "%zu compiler warnings in the rule files (shown with --verbose)", nwarn);
    }
}

static void free_diags(load_ctx *lc)
{
    for (size_t i = 0; i < lc->ndiags; i++) {
        free(lc->diags[i].file);
        free(lc->diags[i].msg);
    }
    free(lc->diags);
    lc->diags = NULL;
    lc->ndiags = lc->cap = 0;
}

/* ---- options ------------------------------------------------------------------- */
/* Reads a list of SHA-256 values (one per line, first token; '#' comments). */
static int load_allowlist(yara_det *d, const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[1024];
    uint64_t lineno = 0;
    if (!fp) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = path;
        ks__diag(d->e, KS_DIAG_ERROR, KS_ENOTFOUND, "yara", &loc, "cannot read allowlist: %s",
                 strerror(errno));
        return KS_OK;
    }
    if (!d->allow && !(d->allow = ks__map_new(1024))) {
        fclose(fp);
        return KS_ENOMEM;
    }
    while (fgets(line, sizeof line, fp)) {
        uint8_t h[32];
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#' || *s == '\n' || *s == 0)
            continue;
        size_t n = 0;
        while (is_ident(s[n]))
            n++;
        if (n != 64 || !ks__unhex(s, 64, h)) {
            ks_loc loc = KS_LOC_NONE;
            loc.path = path;
            loc.line = lineno;
            ks__diag(d->e, KS_DIAG_WARN, KS_EFORMAT, "yara", &loc,
                     "allowlist line is not a SHA-256; skipped");
            continue;
        }
        if (ks__map_count(d->allow) >= MAX_ALLOW)
            break;
        ks__map_slot(d->allow, h, 32, true);
    }
    fclose(fp);
    return KS_OK;
}

/* Whole seconds, as libyara takes them; the registry bounds the option
 * to 1s..1d. */
static int parse_timeout(const ks_engine *e)
{
    return (int)(ks__opt_duration(e, "yara.timeout") / 1000000000LL);
}

static void yara_destroy(void *p);

static int yara_create(ks_engine *e, void **out)
{
    yara_det *d = NULL;
    pathlist pl = {0};
    load_ctx lc = {.e = e};
    const char **vals = NULL;
    size_t nv;
    char key[65], cdir_buf[3800], cpath[4000], dpath[4000];
    bool path_ext = false, from_cache = false;
    int rc = KS_OK;

    *out = NULL;
    nv = ks__opt_list(e, "yara", &vals);
    for (size_t i = 0; i < nv; i++)
        collect(e, vals[i], &pl, 0, true);
    if (ks__opt_bool(e, "builtin")) {
        char bdir[4096];
        if (ks__bundled(e, "yara", bdir, sizeof bdir))
            collect(e, bdir, &pl, 0, false);
    }
    if (pl.n == 0)
        goto out; /* nothing to do in this run */

    if (!(d = calloc(1, sizeof *d))) {
        rc = KS_ENOMEM;
        goto out;
    }
    d->e = e;
    pthread_mutex_init(&d->lock, NULL);
    if (yr_initialize() != ERROR_SUCCESS) {
        ks__seterr(e, "libyara could not initialise");
        rc = KS_EINTERNAL;
        goto out;
    }
    d->yr_init = true;
    if ((rc = rules_key(&pl, key, &path_ext)) != KS_OK)
        goto out;

    const char *cdir = ks__opt_bool(e, "yara.cache") ? ks__cache_dir(e, cdir_buf, sizeof cdir_buf)
                                                            : NULL;
    bool split = ks__opt_bool(e, "yara.split");
    if (cdir) {
        snprintf(cpath, sizeof cpath, "%s/yara-%s%s", cdir, key, split ? "" : "-whole");
        snprintf(dpath, sizeof dpath, "%.3990s.diag", cpath);
        if (ks__ysets_load(&d->sets, cpath) == KS_OK) {
            from_cache = true;
            load_diags(dpath, &lc);
        }
    }
    if (!from_cache) {
        if ((rc = compile_sets(e, &lc, &pl, &d->sets)) != KS_OK)
            goto out;
        if (cdir && d->sets.n) {
            ks__cache_mkdirs(cdir);
            /* Diagnostics first: the manifest, renamed last, marks a whole cache. */
            save_diags(dpath, &lc);
            if (ks__ysets_save(&d->sets, cpath) == KS_OK) {
                int64_t keep = ks__opt_int(e, "yara.cache_keep");
                ks__ysets_prune(cdir, cpath + strlen(cdir) + 1, keep > 0 ? (size_t)keep : 0);
            }
        }
    }
    report_diags(e, &lc);
    if (!d->sets.n) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(e, KS_DIAG_ERROR, KS_ERULE, "yara", &loc, "no YARA rule file compiled");
        goto out;
    }
    /* the light literal set repeats the always-run rules, and a
     * magic-or-literal rule sits in two sets */
    for (size_t i = 0; i < d->sets.n; i++)
        if (!d->sets.set[i].with_always)
            d->nrules += d->sets.set[i].nrules;
        else
            d->nrules += d->sets.set[i].nrules - d->sets.set[0].nrules;
    d->nrules -= KS_MIN(d->nrules, d->sets.ndual);
    d->timeout_s = parse_timeout(e);
    d->scan_flags = ks__opt_bool(e, "yara.fast") ? SCAN_FLAGS_FAST_MODE : 0;
    d->dedupe = ks__opt_bool(e, "files.dedupe") && !path_ext;
    if (ks__opt_bool(e, "files.dedupe") && path_ext) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(e, KS_DIAG_INFO, KS_OK, "yara", &loc,
                 "content dedupe off: rules read path-dependent external variables");
    }
    d->seen_cap = (uint64_t)ks__opt_int(e, "files.dedupe_max");
    if (d->dedupe && !(d->seen = ks__map_new(4096))) {
        rc = KS_ENOMEM;
        goto out;
    }
    {
        const char **al = NULL;
        size_t na = ks__opt_list(e, "files.allowlist", &al);
        for (size_t i = 0; i < na; i++)
            if ((rc = load_allowlist(d, al[i])) != KS_OK)
                goto out;
    }
    d->nskip = ks__opt_list(e, "files.skip_types", &d->skip_types);
    {
        ks_loc loc = KS_LOC_NONE;
        /* nrules counts each rule once, private copies aside */
        size_t gated = d->nrules - d->sets.set[0].nrules;
        ks__diag(e, KS_DIAG_INFO, KS_OK, "yara", &loc,
                 "%zu rules from %zu files%s; %zu gated in %zu sets by magic bytes or "
                 "literals (%zu literals), %zu files kept whole",
                 d->nrules, pl.n, from_cache ? " (compiled cache)" : "", gated,
                 d->sets.n - 1, d->sets.nlits, d->sets.whole_files);
    }
    *out = d;
    d = NULL;
out:
    if (d)
        yara_destroy(d);
    free_diags(&lc);
    pl_release(&pl);
    return rc;
}

static void yara_destroy(void *p)
{
    yara_det *d = p;
    if (!d)
        return;
    ks__ysets_free(&d->sets);
    ks__map_free(d->allow);
    ks__map_free(d->seen);
    pthread_mutex_destroy(&d->lock);
    if (d->yr_init)
        yr_finalize();
    free(d);
}

/* ---- scanning ------------------------------------------------------------------ */
static void yara_worker_done(void *det, void *p);

static int yara_worker_new(void *det, ks_worker *w, void **out)
{
    yara_det *d = det;
    yara_ws *ws = calloc(1, sizeof *ws);
    (void)w;
    *out = NULL;
    if (!ws)
        return KS_ENOMEM;
    ws->d = d;
    ws->owner_uid = (uid_t)-1;
    if (ks__fread_init(&ws->rd) != KS_OK || !(ws->scratch = ks__arena_new(16384, 8 << 20)))
        goto fail;
    for (size_t i = 0; i < d->sets.n; i++) {
        if (yr_scanner_create(d->sets.set[i].rules, &ws->scanner[i]) != ERROR_SUCCESS)
            goto fail;
        yr_scanner_set_timeout(ws->scanner[i], d->timeout_s);
        /* Only matching rules are reported: no callback per rule and file.
         * NO_TRYCATCH: libyara 4.2's guard installs its SIGSEGV/SIGBUS
         * handler per scan with an unlocked use count, so concurrent scans
         * can leave it installed for good; a later fault anywhere then
         * returns into the faulting instruction forever (a crash became a
         * hang at 100% CPU). Every buffer scanned here is heap or a source
         * mapping under kensa's own SIGBUS guard (core/sigbus.c), which
         * repairs a shrunk file with zero pages, whatever code reads it. */
        yr_scanner_set_flags(ws->scanner[i],
                             d->scan_flags | SCAN_FLAGS_REPORT_RULES_MATCHING | SCAN_FLAGS_NO_TRYCATCH);
    }
    if (ks__ysets_ws_init(&d->sets, &ws->gate) != KS_OK)
        goto fail;
    *out = ws;
    return KS_OK;
fail:
    yara_worker_done(det, ws);
    return KS_ENOMEM;
}

static void yara_worker_done(void *det, void *p)
{
    yara_ws *ws = p;
    (void)det;
    if (!ws)
        return;
    for (size_t i = 0; i < KS_YSETS_MAX; i++)
        if (ws->scanner[i])
            yr_scanner_destroy(ws->scanner[i]);
    ks__ysets_ws_free(&ws->gate);
    ks__fread_release(&ws->rd);
    ks__arena_free(ws->scratch);
    free(ws->reported);
    free(ws);
}

static const char *owner_name(yara_ws *ws, uid_t uid)
{
    if (ws->owner_uid != uid) {
        struct passwd pw, *res = NULL;
        char buf[1024];
        ws->owner_uid = uid;
        if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
            snprintf(ws->owner, sizeof ws->owner, "%s", res->pw_name);
        else
            snprintf(ws->owner, sizeof ws->owner, "%u", (unsigned)uid);
    }
    return ws->owner;
}

static int64_t ts_ns(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* Hashes computed once per file, only when needed (a match, allowlist,
 * dedupe), or taken from those the ioc detector (which runs first)
 * computed in its read. False if the file could not be read. */
static bool ensure_hashes(yara_ws *ws, unsigned want)
{
    char err[256];
    if (ws->hashed && (ws->fh.have & want) == want)
        return true;
    if (ks__file_read(&ws->rd, ws->f, want | ws->fh.have, NULL, NULL, &ws->fh, err,
                      sizeof err) != KS_OK)
        return false;
    ws->hashed = true;
    return (ws->fh.have & want) == want;
}

static bool is_tech_id(const char *s, size_t n)
{
    if (n < 5 || (s[0] != 'T' && s[0] != 't'))
        return false;
    for (size_t i = 1; i < 5; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    if (n == 5)
        return true;
    if (n != 9 || (s[5] != '.' && s[5] != '_'))
        return false;
    for (size_t i = 6; i < 9; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Adds every ATT&CK technique id found in s (T1505.003, attack.t1505_003). */
static void add_techs(ks_arena *a, const char *s, const char **techs, size_t *nt)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n && *nt < MAX_TECHS; i++) {
        if ((s[i] != 'T' && s[i] != 't') || (i > 0 && is_ident(s[i - 1]) && s[i - 1] != '_'))
            continue;
        size_t len = (i + 9 <= n && is_tech_id(s + i, 9)) ? 9 : (i + 5 <= n && is_tech_id(s + i, 5)) ? 5 : 0;
        if (!len || (i + len < n && (s[i + len] >= '0' && s[i + len] <= '9')))
            continue;
        char *t = ks__arena_strndup(a, s + i, len);
        if (!t)
            return;
        t[0] = 'T';
        if (len == 9)
            t[5] = '.';
        bool dup = false;
        for (size_t k = 0; k < *nt; k++)
            dup |= strcmp(techs[k], t) == 0;
        if (!dup)
            techs[(*nt)++] = t;
        i += len - 1;
    }
}

/* Renders a matched string: text when printable, else hex. */
static const char *show_match(ks_arena *a, const uint8_t *p, size_t n, size_t full)
{
    bool text = true;
    for (size_t i = 0; i < n && text; i++)
        text = (p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\t';
    if (text) {
        size_t k = KS_MIN(n, (size_t)SHOW_TEXT);
        return ks__arena_printf(a, "%.*s%s", (int)k, (const char *)p, full > k ? "..." : "");
    }
    size_t k = KS_MIN(n, (size_t)SHOW_HEX);
    char hex[2 * SHOW_HEX + 1];
    ks__hex(p, k, hex);
    return ks__arena_printf(a, "hex:%s%s", hex, full > k ? "..." : "");
}

static void emit_rule(yara_ws *ws, YR_SCAN_CONTEXT *ctx, YR_RULE *rule)
{
    yara_det *d = ws->d;
    ks_arena *a = ws->scratch;
    const ks_file *f = ws->f;
    const struct stat *st = f->st;
    const YR_META *meta;
    const YR_STRING *str;
    const char *tag;
    const char *techs[MAX_TECHS];
    size_t nt = 0, nm = 0, nd = 0;
    ks_kv matched[MAX_MATCH_KVS];
    ks_kv details[16];
    const char *desc = NULL, *reference = NULL, *author = NULL;
    int64_t score = 75; /* Loki's default for a YARA match */
    int sev = -1;
    uint64_t first_off = UINT64_MAX;
    char tags[512] = "";
    size_t tl = 0;

    yr_rule_metas_foreach(rule, meta)
    {
        const char *id = meta->identifier;
        if (meta->type == META_TYPE_INTEGER) {
            if (!strcasecmp(id, "score"))
                score = meta->integer;
            continue;
        }
        if (meta->type != META_TYPE_STRING || !meta->string)
            continue;
        if (!strcasecmp(id, "description") && !desc)
            desc = meta->string;
        else if (!strcasecmp(id, "reference") && !reference)
            reference = meta->string;
        else if (!strcasecmp(id, "author") && !author)
            author = meta->string;
        else if (!strcasecmp(id, "score"))
            score = strtoll(meta->string, NULL, 10);
        else if (!strcasecmp(id, "severity") || !strcasecmp(id, "level"))
            sev = ks_severity_parse(meta->string);
        else if (strstr(id, "mitre") || strstr(id, "attack") || strstr(id, "technique") ||
                 strstr(id, "MITRE") || strstr(id, "ATTACK"))
            add_techs(a, meta->string, techs, &nt);
    }
    yr_rule_tags_foreach(rule, tag)
    {
        add_techs(a, tag, techs, &nt);
        int w = snprintf(tags + tl, sizeof tags - tl, "%s%s", tl ? "," : "", tag);
        if (w > 0 && (size_t)w < sizeof tags - tl)
            tl += (size_t)w;
    }
    yr_rule_strings_foreach(rule, str)
    {
        int per = 0;
        /* libyara's match notebook does not align YR_MATCH: copy each one
         * out instead of reading through the pointer (UBSan). */
        const YR_MATCH *mp = ctx->matches[str->idx].head;
        while (mp) {
            YR_MATCH m;
            memcpy(&m, mp, sizeof m);
            mp = m.next;
            if (m.is_private)
                continue;
            if ((uint64_t)(m.base + m.offset) < first_off)
                first_off = (uint64_t)(m.base + m.offset);
            if (nm >= MAX_MATCH_KVS || per >= MATCHES_PER_STRING)
                continue;
            per++;
            matched[nm].key = ks__arena_printf(a, "%s@0x%llx", str->identifier,
                                               (unsigned long long)(m.base + m.offset));
            matched[nm].value = show_match(a, m.data, (size_t)m.data_length,
                                           (size_t)m.match_length);
            if (matched[nm].key && matched[nm].value)
                nm++;
        }
    }

    char sha256[65] = "", md5[33] = "", tbuf[2][48];
    if (ensure_hashes(ws, KS_FH_SHA256 | KS_FH_MD5)) {
        ks__hex(ws->fh.sha256, 32, sha256);
        ks__hex(ws->fh.md5, 16, md5);
    }
    int64_t mt = st ? ts_ns(&st->st_mtim) : KS_TIME_NONE;
    int64_t ct = st ? ts_ns(&st->st_ctim) : KS_TIME_NONE;
    ks_time_format(mt, tbuf[0], sizeof tbuf[0]);
    ks_time_format(ct, tbuf[1], sizeof tbuf[1]);
    /* In-memory files (git blobs) have no stat: the source knows the size. */
    uint64_t size = st ? (uint64_t)st->st_size : ks__source_size(f->src);
    details[nd++] = (ks_kv){"size", ks__arena_printf(a, "%llu", size == UINT64_MAX ? 0ull : (unsigned long long)size)};
    if (st) {
        details[nd++] = (ks_kv){"mtime", tbuf[0]};
        details[nd++] = (ks_kv){"ctime", tbuf[1]};
        details[nd++] = (ks_kv){"owner", owner_name(ws, st->st_uid)};
    }
    if (sha256[0]) {
        details[nd++] = (ks_kv){"sha256", sha256};
        details[nd++] = (ks_kv){"md5", md5};
    }
    details[nd++] = (ks_kv){"rule", rule->identifier};
    details[nd++] = (ks_kv){"rule_file", rule->ns->name};
    if (tl)
        details[nd++] = (ks_kv){"tags", tags};
    if (reference)
        details[nd++] = (ks_kv){"reference", reference};
    if (author)
        details[nd++] = (ks_kv){"author", author};
    for (size_t i = 0; i < nd; i++)
        if (!details[i].value)
            details[i].value = "";

    ks_evidence ev = {.path = f->path, .format = "file", .offset = first_off, .time = mt};
    ks_finding fd = {
        .rule_id = ks__arena_printf(a, "yara:%s", rule->identifier),
        .title = desc ? desc : ks__arena_printf(a, "YARA rule %s", rule->identifier),
        .detector = "yara",
        .description = desc,
        .severity = sev >= 0 ? (ks_severity)sev : ks__score_severity(score),
        .techniques = techs,
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
    if (!fd.rule_id || !fd.title)
        return;
    ks__emit(d->e, &fd);
}

/* True the first time this file matches rule r (by namespace and name:
 * the two sets hold separate copies). */
static bool first_report(yara_ws *ws, const YR_RULE *r)
{
    for (size_t i = 0; i < ws->nreported; i++) {
        const YR_RULE *o = ws->reported[i];
        if (!strcmp(o->identifier, r->identifier) && !strcmp(o->ns->name, r->ns->name))
            return false;
    }
    if (ks__grow(&ws->reported, &ws->capreported, ws->nreported, sizeof *ws->reported, 16) !=
        KS_OK)
        return true; /* a duplicate finding beats a lost one */
    ws->reported[ws->nreported++] = r;
    return true;
}

static int scan_callback(YR_SCAN_CONTEXT *ctx, int msg, void *data, void *ud)
{
    yara_ws *ws = ud;
    if (msg == CALLBACK_MSG_RULE_MATCHING) {
        if (!first_report(ws, data))
            return CALLBACK_CONTINUE;
        ws->matches++;
        emit_rule(ws, ctx, (YR_RULE *)data);
    } else if (msg == CALLBACK_MSG_TOO_MANY_MATCHES) {
        const YR_STRING *str = data;
        if (ws->nhot < KS_ARRAY_LEN(ws->hot))
            snprintf(ws->hot[ws->nhot++], sizeof ws->hot[0], "%s %s",
                     ctx->rules->rules_table[str->rule_idx].identifier, str->identifier);
        ks_loc loc = KS_LOC_NONE;
        loc.path = ws->f->path;
        ks__diag(ws->d->e, KS_DIAG_INFO, KS_ELIMIT, "yara", &loc,
                 "string %s matched too often; later matches not recorded",
                 ((YR_STRING *)data)->identifier);
    }
    return CALLBACK_CONTINUE;
}

static bool skip_type(const yara_det *d, const char *type)
{
    for (size_t i = 0; i < d->nskip; i++) {
        /* Values may be comma-separated lists too. */
        const char *s = d->skip_types[i];
        size_t tl = strlen(type);
        while (*s) {
            const char *c = strchr(s, ',');
            size_t n = c ? (size_t)(c - s) : strlen(s);
            if (tl && n == tl && !strncasecmp(s, type, n))
                return true;
            s += n + (c ? 1 : 0);
        }
    }
    return false;
}

/* The gates' read of the file (fileinfo.h): the mapping libyara scans,
 * or pread() in chunks for a file too large to be held whole for a gate. */
static int gate_read(void *ud, ks_chunk_fn fn, void *fnud)
{
    yara_ws *ws = ud;
    ks_fhash fh;
    char err[256];
    return ks__file_read(&ws->rd, ws->f, 0, fn, fnud, &fh, err, sizeof err);
}

/* A scan stopped by yara.timeout decides no rule of its set: libyara
 * evaluates the conditions only after the whole content was searched, and
 * reports rules only after every condition ran. So name the rules that
 * stayed undecided on this file (they count as not matching), leaving out
 * those whose literals the gate did not find (false whatever the scan),
 * and the strings that matched too often (the likely slow part). Rules
 * of the file's other sets are decided as usual. */
static void timeout_report(yara_ws *ws, size_t set, const ks_loc *loc)
{
    yara_det *d = ws->d;
    YR_RULES *rules = d->sets.set[set].rules;
    uint8_t *out = calloc((size_t)rules->num_rules / 8 + 1, 1);
    ks_buf names = KS_BUF_INIT, hot = KS_BUF_INIT;
    size_t n = 0;
    const YR_RULE *r;
    if (out)
        ks__ysets_gated_out(&d->sets, set, &ws->gate, out);
    yr_rules_foreach(rules, r) {
        size_t idx = (size_t)(r - rules->rules_table);
        if (RULE_IS_PRIVATE(r) || (out && (out[idx / 8] >> (idx % 8) & 1)))
            continue;
        if (n < 8)
            ks__buf_printf(&names, "%s%s", n ? ", " : "", r->identifier);
        n++;
    }
    if (n > 8)
        ks__buf_printf(&names, " and %zu more", n - 8);
    for (size_t i = 0; i < ws->nhot; i++)
        ks__buf_printf(&hot, "%s%s", i ? ", " : "; strings that matched too often (the likely slow part): ",
                       ws->hot[i]);
    ks__diag(d->e, KS_DIAG_WARN, KS_ETIMEOUT, "yara", loc,
             "scan stopped after %d s (yara.timeout): %zu rule%s stayed undecided on this file and "
             "count as not matching: %s%s", d->timeout_s, n, n == 1 ? "" : "s",
             names.p ? names.p : "", hot.p ? hot.p : "");
    free(out);
    ks__buf_release(&names);
    ks__buf_release(&hot);
}

/* Scans data with set `set`'s scanner; false when the file is to be left. */
static bool scan_set(yara_ws *ws, size_t set, const ks_file *f, const char *ext,
                     const char *type, const uint8_t *data, uint64_t n, const ks_loc *loc)
{
    YR_SCANNER *sc = ws->scanner[set];
    yara_det *d = ws->d;
    yr_scanner_define_string_variable(sc, "filename", f->name);
    yr_scanner_define_string_variable(sc, "filepath", f->path);
    yr_scanner_define_string_variable(sc, "extension", ext);
    yr_scanner_define_string_variable(sc, "filetype", type);
    yr_scanner_define_string_variable(sc, "owner", f->st ? owner_name(ws, f->st->st_uid) : "");
    yr_scanner_set_callback(sc, scan_callback, ws);
    int yr = yr_scanner_scan_mem(sc, n ? data : (const uint8_t *)"", (size_t)n);
    if (yr == ERROR_SCAN_TIMEOUT) {
        timeout_report(ws, set, loc);
        return true;
    }
    if (yr != ERROR_SUCCESS) {
        ks__diag(d->e, KS_DIAG_ERROR, KS_EIO, "yara", loc, "scan failed (libyara error %d%s)", yr,
                 yr == ERROR_COULD_NOT_MAP_FILE ? ": the file changed or vanished while read" : "");
        return false;
    }
    return true;
}

static int yara_on_file(void *p, const ks_file *f)
{
    yara_ws *ws = p;
    yara_det *d = ws->d;
    const uint8_t *data = NULL;
    uint64_t n = 0;
    char ext[32];
    ks_loc loc = KS_LOC_NONE;
    loc.path = f->path;
    int rc;

    ks__arena_reset(ws->scratch);
    ws->f = f;
    ws->hashed = false;
    ws->matches = 0;
    ws->nreported = 0;
    ws->nhot = 0;
    memset(&ws->fh, 0, sizeof ws->fh);
    ks__file_ext(f->name, ext, sizeof ext);
    const char *type = ks__file_type(f->head, f->nhead, ext);
    if (d->nskip && skip_type(d, type))
        return KS_OK;
    if (d->allow || d->dedupe) {
        if (!ensure_hashes(ws, KS_FH_SHA256))
            goto scan; /* unreadable: the mapping below says why */
        if (d->allow && ks__map_get(d->allow, ws->fh.sha256, 32))
            return KS_OK;
        if (d->dedupe) {
            pthread_mutex_lock(&d->lock);
            bool seen = ks__map_get(d->seen, ws->fh.sha256, 32) != NULL;
            pthread_mutex_unlock(&d->lock);
            if (seen)
                return KS_OK;
        }
    }
scan:
    rc = ks__source_map(f->src, &data, &n);
    if (rc != KS_OK) {
        ks__diag(d->e, KS_DIAG_ERROR, rc, "yara", &loc, "cannot read for scanning: %s",
                 ks_strerror(rc));
        return rc;
    }
    bool run[KS_YSETS_MAX];
    ks__ysets_select(&d->sets, &ws->gate, f->head, f->nhead, n, gate_read, ws, run);
    ks__ysets_prefilter(&d->sets, &ws->gate, run, data, n);
    for (size_t i = 0; i < d->sets.n; i++) {
        if (!run[i])
            continue;
        ks__ysets_skip_gated(&d->sets, i, &ws->gate, ws->scanner[i]);
        if (!scan_set(ws, i, f, ext, type, data, n, &loc))
            return KS_OK;
    }
    if (d->dedupe && ws->matches == 0 && ws->hashed && (ws->fh.have & KS_FH_SHA256)) {
        pthread_mutex_lock(&d->lock);
        if (ks__map_count(d->seen) < d->seen_cap)
            ks__map_slot(d->seen, ws->fh.sha256, 32, true);
        pthread_mutex_unlock(&d->lock);
    }
    return KS_OK;
}

const struct ks_detector ks_detector_yara = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "yara",
    .description = "YARA rules over files (bundled web shell / SUNBURST rules + --yara)",
    .flags = KS_DET_FILES,
    .create = yara_create,
    .worker_new = yara_worker_new,
    .on_file = yara_on_file,
    .worker_done = yara_worker_done,
    .destroy = yara_destroy,
};
