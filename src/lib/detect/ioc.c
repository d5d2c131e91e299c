/* SPDX-License-Identifier: Apache-2.0
 *
 * The indicator (IOC) file detector: known-bad file hashes, file name/path
 * regexes with scores, and literal strings (C2 domains, keywords) inside
 * file contents, from the list option "ioc" plus kensa's bundled lists
 * (<rules_dir>/ioc unless builtin=false).
 *
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
#include <dirent.h>
#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "detect/fileinfo.h"
#include "input/json.h"

#define MAX_IOC_FILE ((size_t)256 << 20)
#define MAX_ENTRIES 5000000
#define MAX_LINE_WARN 20        /* per IOC file */
#define MIN_LITERAL 4
#define MAX_PATH_HITS 16        /* filename IOCs reported per file */
#define MAX_LIT_HITS 16         /* distinct literals reported per file */
#define DEFAULT_HASH_SCORE 100
#define DEFAULT_LIT_SCORE 70
#define DEFAULT_NAME_SCORE 80

/* One indicator's description and origin, shared by its entries. */
typedef struct ioc_src {
    char *desc;          /* owned: description or "" */
    char *file;          /* owned: IOC file it came from */
    uint64_t line;
} ioc_src;

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
    ioc_src *srcs;
    size_t nsrcs, capsrcs;
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
static uint32_t add_src(ioc_det *d, const char *desc, size_t dn, const char *file, uint64_t line)
{
    if (d->nsrcs == d->capsrcs) {
        size_t nc = d->capsrcs ? d->capsrcs * 2 : 256;
        ioc_src *ns = realloc(d->srcs, nc * sizeof *ns);
        if (!ns)
            return UINT32_MAX;
        d->srcs = ns;
        d->capsrcs = nc;
    }
    ioc_src *s = &d->srcs[d->nsrcs];
    s->desc = strndup(desc ? desc : "", desc ? dn : 0);
    s->file = strdup(file);
    s->line = line;
    if (!s->desc || !s->file) {
        free(s->desc);
        free(s->file);
        return UINT32_MAX;
    }
    return (uint32_t)d->nsrcs++;
}

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

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
    /* Refang "evil[.]com" and "hxxp". */
    char *c = malloc(n + 1);
    size_t k = 0;
    if (!c)
        return KS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (i + 2 < n && s[i] == '[' && s[i + 1] == '.' && s[i + 2] == ']') {
            c[k++] = '.';
            i += 2;
        } else {
            c[k++] = s[i];
        }
    }
    c[k] = 0;
    d->lits[d->nlits++] = (lit_ioc){c, k, src};
    return KS_OK;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t' || **s == '\r' || **s == '"'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r' ||
                  (*s)[*n - 1] == '"'))
        (*n)--;
}

static void line_warn(ioc_det *d, const char *file, uint64_t line, int *nwarn, const char *why)
{
    if ((*nwarn)++ >= MAX_LINE_WARN)
        return;
    ks_loc loc = KS_LOC_NONE;
    loc.path = file;
    loc.line = line;
    ks__diag(d->e, KS_DIAG_WARN, KS_EFORMAT, "ioc", &loc, "%s; line skipped", why);
}

/* Splits a CSV line (quotes respected) into at most max fields. */
static size_t csv_split(const char *p, size_t n, const char **f, size_t *fn, size_t max)
{
    size_t nf = 0, i = 0;
    while (nf < max) {
        size_t start = i;
        bool q = false;
        while (i < n && (q || p[i] != ',')) {
            if (p[i] == '"')
                q = !q;
            i++;
        }
        f[nf] = p + start;
        fn[nf] = i - start;
        trim(&f[nf], &fn[nf]);
        nf++;
        if (i >= n)
            break;
        i++;
    }
    return nf;
}

static bool ieq(const char *a, size_t an, const char *b)
{
    return ks__ieq(a, an, b, strlen(b));
}

/* FireEye-style CSV: header names the hash columns. */
static int load_csv(ioc_det *d, const char *file, const char *p, size_t n)
{
    enum { MAXF = 64 };
    const char *f[MAXF];
    size_t fn[MAXF];
    int hcol[3] = {-1, -1, -1}, desc_cols[4] = {-1, -1, -1, -1}, lit_cols[4] = {-1, -1, -1, -1};
    int nwarn = 0, rc;
    size_t ndesc = 0, nlitc = 0;
    const char *line = p, *end = p + n;
    uint64_t lineno = 0;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t ln = nl ? (size_t)(nl - line) : (size_t)(end - line);
        lineno++;
        size_t nf = csv_split(line, ln, f, fn, MAXF);
        if (lineno == 1) {
            for (size_t i = 0; i < nf; i++) {
                if (ieq(f[i], fn[i], "md5"))
                    hcol[0] = (int)i;
                else if (ieq(f[i], fn[i], "sha1") || ieq(f[i], fn[i], "sha-1"))
                    hcol[1] = (int)i;
                else if (ieq(f[i], fn[i], "sha256") || ieq(f[i], fn[i], "sha-256"))
                    hcol[2] = (int)i;
                else if (ndesc < 4 && (ieq(f[i], fn[i], "filename") || ieq(f[i], fn[i], "malware family") ||
                                       ieq(f[i], fn[i], "associated malware") ||
                                       ieq(f[i], fn[i], "description") || ieq(f[i], fn[i], "name")))
                    desc_cols[ndesc++] = (int)i;
                else if (nlitc < 4 && (ieq(f[i], fn[i], "fqdn") || ieq(f[i], fn[i], "domain") ||
                                       ieq(f[i], fn[i], "hostname") || ieq(f[i], fn[i], "ip") ||
                                       ieq(f[i], fn[i], "url")))
                    lit_cols[nlitc++] = (int)i;
            }
        } else if (ln > 0) {
            /* Rows that describe known-good files are context, not IOCs. */
            if (ks__memmem_ci(line, ln, "benign", 6) || ks__memmem_ci(line, ln, "legitimate", 10)) {
                line = nl ? nl + 1 : end;
                continue;
            }
            char desc[512];
            size_t dl = 0;
            for (size_t k = 0; k < ndesc; k++) {
                int c = desc_cols[k];
                if (c < 0 || (size_t)c >= nf || !fn[c])
                    continue;
                int w = snprintf(desc + dl, sizeof desc - dl, "%s%.*s", dl ? " " : "", (int)fn[c], f[c]);
                if (w > 0 && (size_t)w < sizeof desc - dl)
                    dl += (size_t)w;
            }
            uint32_t src = add_src(d, desc, dl, file, lineno);
            if (src == UINT32_MAX)
                return KS_ENOMEM;
            for (int a = 0; a < 3; a++) {
                int c = hcol[a];
                if (c < 0 || (size_t)c >= nf || fn[c] == 0)
                    continue;
                rc = add_hash(d, f[c], fn[c], src);
                if (rc == KS_ENOMEM)
                    return rc;
                if (rc != KS_OK)
                    line_warn(d, file, lineno, &nwarn, "hash column is not a hex digest");
            }
            for (size_t k = 0; k < nlitc; k++) {
                int c = lit_cols[k];
                if (c >= 0 && (size_t)c < nf && fn[c] && (rc = add_lit(d, f[c], fn[c], src)) != KS_OK)
                    return rc;
            }
        }
        line = nl ? nl + 1 : end;
    }
    return KS_OK;
}

/* Line formats: hashes, REGEX;SCORE[;FP], or literals. */
static int load_lines(ioc_det *d, const char *file, const char *p, size_t n, bool literal)
{
    const char *line = p, *end = p + n;
    uint64_t lineno = 0;
    int nwarn = 0, rc;
    char comment[256] = "";
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t ln = nl ? (size_t)(nl - line) : (size_t)(end - line);
        const char *s = line;
        lineno++;
        line = nl ? nl + 1 : end;
        trim(&s, &ln);
        if (ln == 0) {
            comment[0] = 0; /* a block's description ends at a blank line */
            continue;
        }
        if (s[0] == '#' || (ln > 1 && s[0] == '/' && s[1] == '/')) {
            /* Comments above a block describe it (Loki's lists do this). */
            const char *c = s + 1;
            size_t cn = ln - 1;
            while (cn && (*c == '#' || *c == '/' || *c == ' '))
                c++, cn--;
            if (cn > 0 && strncmp(c, "kensa:", 6) != 0 && strncmp(c, "SPDX", 4) != 0)
                snprintf(comment, sizeof comment, "%.*s", (int)KS_MIN(cn, sizeof comment - 1), c);
            continue;
        }
        const char *semi = memchr(s, ';', ln);
        size_t first = semi ? (size_t)(semi - s) : ln;
        /* sha256sum / md5sum output: "HASH  name" */
        size_t tok = 0;
        while (tok < first && s[tok] != ' ' && s[tok] != '\t' && s[tok] != ',')
            tok++;
        if (literal) {
            uint32_t src = add_src(d, comment, strlen(comment), file, lineno);
            if (src == UINT32_MAX)
                return KS_ENOMEM;
            const char *v = s;
            size_t vn = first;
            trim(&v, &vn);
            if ((rc = add_lit(d, v, vn, src)) != KS_OK)
                return rc;
            continue;
        }
        if ((tok == 32 || tok == 40 || tok == 64) && is_hex(s, tok)) {
            const char *desc = semi ? semi + 1 : s + tok;
            size_t dn = (size_t)(s + ln - desc);
            trim(&desc, &dn);
            if (dn == 0) {
                desc = comment;
                dn = strlen(comment);
            }
            uint32_t src = add_src(d, desc, dn, file, lineno);
            if (src == UINT32_MAX)
                return KS_ENOMEM;
            if ((rc = add_hash(d, s, tok, src)) == KS_ENOMEM)
                return rc;
            continue;
        }
        if (semi) {
            const char *sc = semi + 1;
            const char *semi2 = memchr(sc, ';', (size_t)(s + ln - sc));
            size_t scn = semi2 ? (size_t)(semi2 - sc) : (size_t)(s + ln - sc);
            char *endp = NULL;
            char num[16];
            snprintf(num, sizeof num, "%.*s", (int)KS_MIN(scn, sizeof num - 1), sc);
            long score = strtol(num, &endp, 10);
            if (scn > 0 && endp && *endp == 0 && score >= -100 && score <= 200) {
                const char *fp = semi2 ? semi2 + 1 : NULL;
                size_t fpn = fp ? (size_t)(s + ln - fp) : 0;
                uint32_t src = add_src(d, comment, strlen(comment), file, lineno);
                if (src == UINT32_MAX)
                    return KS_ENOMEM;
                if (score <= 0)
                    continue; /* negative scores whitelist in Loki; nothing to report */
                if ((rc = add_name(d, s, first, (int)score, fp, fpn, src, file, lineno)) != KS_OK)
                    return rc;
                continue;
            }
        }
        line_warn(d, file, lineno, &nwarn,
                  "not a hash, a REGEX;SCORE line, or a literal list entry");
    }
    return KS_OK;
}

/* Reads a JSON string at p (pointing at the opening quote) into out;
 * returns the position after the closing quote or NULL. */
static const char *json_str(const char *p, const char *end, char *out, size_t cap)
{
    size_t k = 0;
    if (p >= end || *p != '"')
        return NULL;
    for (p++; p < end && *p != '"'; p++) {
        char c = *p;
        if (c == '\\' && p + 1 < end) {
            p++;
            c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
        }
        if (k + 1 < cap)
            out[k++] = c;
    }
    out[k] = 0;
    return p < end ? p + 1 : NULL;
}

/* Finds "key" : "value" at the top level of one object text. */
static bool obj_field(const char *o, size_t n, const char *key, char *out, size_t cap)
{
    char pat[64];
    int depth = 0;
    bool in_str = false;
    snprintf(pat, sizeof pat, "\"%s\"", key);
    size_t pl = strlen(pat);
    for (size_t i = 0; i < n; i++) {
        char c = o[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '"') {
            if (depth == 1 && i + pl <= n && memcmp(o + i, pat, pl) == 0) {
                size_t j = i + pl;
                while (j < n && (o[j] == ' ' || o[j] == '\t' || o[j] == '\n' || o[j] == '\r' || o[j] == ':'))
                    j++;
                return json_str(o + j, o + n, out, cap) != NULL;
            }
            in_str = true;
        }
    }
    return false;
}

/* Escapes a literal file name for a regex that matches it as the last path
 * component. */
static int add_exact_name(ioc_det *d, const char *name, uint32_t src)
{
    char re[1200];
    size_t k = 0;
    k += (size_t)snprintf(re, sizeof re, "(^|[\\\\/])");
    for (const char *s = name; *s && k + 4 < sizeof re; s++) {
        if (strchr("\\^$.|?*+()[]{}", *s))
            re[k++] = '\\';
        re[k++] = *s;
    }
    re[k++] = '$';
    re[k] = 0;
    return add_name(d, re, k, DEFAULT_NAME_SCORE, NULL, 0, src, "", 0);
}

/* STIX 2.1 bundle: each indicator's pattern comparisons become entries. */
static int load_stix(ioc_det *d, const char *file, const char *p, size_t n)
{
    const char *objs = ks__memmem_ci(p, n, "\"objects\"", 9);
    const char *end = p + n;
    char *pattern = malloc(65536), name[512];
    int rc = KS_OK, nwarn = 0;
    size_t nind = 0;
    if (!pattern)
        return KS_ENOMEM;
    if (!objs) {
        line_warn(d, file, 0, &nwarn, "STIX bundle without \"objects\"");
        goto out;
    }
    const char *q = memchr(objs, '[', (size_t)(end - objs));
    while (q && q < end) {
        const char *o = memchr(q, '{', (size_t)(end - q));
        if (!o)
            break;
        size_t len = ks__json_extent(o, (size_t)(end - o), false);
        if (len == 0 || len == (size_t)-1)
            break;
        char type[64];
        if (obj_field(o, len, "type", type, sizeof type) && !strcmp(type, "indicator") &&
            obj_field(o, len, "pattern", pattern, 65536)) {
            if (!obj_field(o, len, "name", name, sizeof name))
                snprintf(name, sizeof name, "STIX indicator");
            uint32_t src = add_src(d, name, strlen(name), file, 0);
            if (src == UINT32_MAX) {
                rc = KS_ENOMEM;
                goto out;
            }
            nind++;
            /* Comparisons: object:path = 'value' (OR/AND joined). */
            for (char *s = pattern; (s = strchr(s, '=')) != NULL;) {
                char *lhs_end = s;
                char *lhs = s;
                while (lhs > pattern && lhs[-1] != '[' && lhs[-1] != '(' && !(lhs[-1] == ' ' && lhs - 1 > pattern &&
                       (lhs[-2] == 'R' || lhs[-2] == 'D')))
                    lhs--;
                char *v = s + 1;
                while (*v == ' ')
                    v++;
                s++;
                if (*v != '\'')
                    continue;
                char *ve = strchr(v + 1, '\'');
                if (!ve)
                    break;
                size_t ll = (size_t)(lhs_end - lhs);
                char lhsbuf[128];
                snprintf(lhsbuf, sizeof lhsbuf, "%.*s", (int)KS_MIN(ll, sizeof lhsbuf - 1), lhs);
                size_t vl = (size_t)(ve - v - 1);
                char *val = v + 1;
                if (strstr(lhsbuf, "file:hashes")) {
                    add_hash(d, val, vl, src);
                } else if (strstr(lhsbuf, "file:name")) {
                    char nm[1024];
                    snprintf(nm, sizeof nm, "%.*s", (int)KS_MIN(vl, sizeof nm - 1), val);
                    if ((rc = add_exact_name(d, nm, src)) != KS_OK)
                        goto out;
                } else if (strstr(lhsbuf, "domain-name:value") || strstr(lhsbuf, "url:value") ||
                           strstr(lhsbuf, "ipv4-addr:value")) {
                    if ((rc = add_lit(d, val, vl, src)) != KS_OK)
                        goto out;
                }
                s = ve + 1;
            }
        }
        q = o + len;
    }
    if (nind == 0)
        line_warn(d, file, 0, &nwarn, "STIX bundle has no indicator objects");
out:
    free(pattern);
    return rc;
}

static bool name_has(const char *path, const char *w)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    return ks__memmem_ci(b, strlen(b), w, strlen(w)) != NULL;
}

static int load_file(ioc_det *d, const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    int rc = KS_OK;
    ks_loc loc = KS_LOC_NONE;
    loc.path = path;
    if (!fp) {
        ks__diag(d->e, KS_DIAG_ERROR, KS_ENOTFOUND, "ioc", &loc, "cannot read IOC file: %s",
                 strerror(errno));
        return KS_OK;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || (uint64_t)st.st_size > MAX_IOC_FILE) {
        ks__diag(d->e, KS_DIAG_ERROR, KS_ELIMIT, "ioc", &loc, "IOC file larger than 256 MiB; skipped");
        goto out;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = KS_ENOMEM;
        goto out;
    }
    n = fread(buf, 1, (size_t)st.st_size, fp);
    buf[n] = 0;
    size_t i = 0;
    while (i < n && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
        i++;
    if (i < n && (buf[i] == '{' || buf[i] == '[')) {
        rc = load_stix(d, path, buf + i, n - i);
    } else {
        const char *nl = memchr(buf, '\n', n);
        size_t l1 = nl ? (size_t)(nl - buf) : n;
        bool csv = memchr(buf, ',', l1) && (ks__memmem_ci(buf, l1, "sha256", 6) ||
                                             ks__memmem_ci(buf, l1, "md5", 3) ||
                                             ks__memmem_ci(buf, l1, "sha1", 4) ||
                                             ks__memmem_ci(buf, l1, "fqdn", 4));
        bool literal = name_has(path, "c2") || name_has(path, "domain") ||
                       name_has(path, "keyword") || name_has(path, "literal") ||
                       strstr(buf, "# kensa: literal") != NULL;
        rc = csv ? load_csv(d, path, buf, n) : load_lines(d, path, buf, n, literal);
    }
out:
    free(buf);
    fclose(fp);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_path(ioc_det *d, const char *path, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = path;
        ks__diag(d->e, KS_DIAG_ERROR, KS_ENOTFOUND, "ioc", &loc, "cannot read IOC path: %s",
                 strerror(errno));
        return KS_OK;
    }
    if (!S_ISDIR(st.st_mode))
        return load_file(d, path);
    if (depth > 16)
        return KS_OK;
    DIR *dir = opendir(path);
    if (!dir)
        return KS_OK;
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *de;
    int rc = KS_OK;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.' || name_has(de->d_name, "readme") || strstr(de->d_name, ".md"))
            continue;
        if (nn == cap) {
            size_t nc = cap ? cap * 2 : 32;
            char **nv = realloc(names, nc * sizeof *nv);
            if (!nv)
                break;
            names = nv;
            cap = nc;
        }
        size_t l = strlen(path) + strlen(de->d_name) + 2;
        if (!(names[nn] = malloc(l)))
            break;
        snprintf(names[nn++], l, "%s/%s", path, de->d_name);
    }
    closedir(dir);
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) {
        if (rc == KS_OK)
            rc = load_path(d, names[i], depth + 1);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---- compile ----------------------------------------------------------------- */
static bool needs_pcre(const char *re)
{
    /* Constructs Vectorscan rejects; compiling them first would only fail. */
    return strstr(re, "(?=") || strstr(re, "(?!") || strstr(re, "(?<=") || strstr(re, "(?<!") ||
           strstr(re, "\\1") || strstr(re, "\\2") || strstr(re, "(?>");
}

static int compile_names(ioc_det *d)
{
    const char **exprs = NULL;
    unsigned *flags = NULL, *ids = NULL;
    unsigned n = 0;
    int rc = KS_OK;
    if (!d->nnames)
        return KS_OK;
    exprs = calloc(d->nnames, sizeof *exprs);
    flags = calloc(d->nnames, sizeof *flags);
    ids = calloc(d->nnames, sizeof *ids);
    if (!exprs || !flags || !ids) {
        rc = KS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < d->nnames; i++)
        d->names[i].slow = NULL;
    for (size_t i = 0; i < d->nnames; i++) {
        if (needs_pcre(d->names[i].regex)) {
            int err = 0;
            PCRE2_SIZE eoff = 0;
            d->names[i].slow = pcre2_compile((PCRE2_SPTR)d->names[i].regex, PCRE2_ZERO_TERMINATED,
                                             PCRE2_CASELESS, &err, &eoff, NULL);
            if (!d->names[i].slow) {
                const ioc_src *s = &d->srcs[d->names[i].src];
                ks_loc loc = KS_LOC_NONE;
                loc.path = s->file;
                loc.line = s->line;
                ks__diag(d->e, KS_DIAG_WARN, KS_EFORMAT, "ioc", &loc,
                         "file name regex does not compile; skipped");
            } else {
                d->nslow++;
            }
            continue;
        }
        exprs[n] = d->names[i].regex;
        flags[n] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL;
        ids[n] = (unsigned)i;
        n++;
    }
    /* A pattern Vectorscan refuses moves to PCRE2; then compile again. */
    while (n > 0) {
        hs_compile_error_t *cerr = NULL;
        if (hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &d->name_db, &cerr) ==
            HS_SUCCESS)
            break;
        int bad = cerr ? cerr->expression : -1;
        hs_free_compile_error(cerr);
        if (bad < 0 || (unsigned)bad >= n) {
            rc = KS_EINTERNAL;
            ks__seterr(d->e, "vectorscan could not compile the file name IOCs");
            goto out;
        }
        size_t idx = ids[bad];
        int err = 0;
        PCRE2_SIZE eoff = 0;
        d->names[idx].slow = pcre2_compile((PCRE2_SPTR)d->names[idx].regex, PCRE2_ZERO_TERMINATED,
                                           PCRE2_CASELESS, &err, &eoff, NULL);
        if (d->names[idx].slow) {
            d->nslow++;
        } else {
            const ioc_src *s = &d->srcs[d->names[idx].src];
            ks_loc loc = KS_LOC_NONE;
            loc.path = s->file;
            loc.line = s->line;
            ks__diag(d->e, KS_DIAG_WARN, KS_EFORMAT, "ioc", &loc,
                     "file name regex does not compile; skipped");
        }
        memmove(&exprs[bad], &exprs[bad + 1], (n - (unsigned)bad - 1) * sizeof *exprs);
        memmove(&flags[bad], &flags[bad + 1], (n - (unsigned)bad - 1) * sizeof *flags);
        memmove(&ids[bad], &ids[bad + 1], (n - (unsigned)bad - 1) * sizeof *ids);
        n--;
    }
out:
    free(exprs);
    free(flags);
    free(ids);
    return rc;
}

static int compile_lits(ioc_det *d)
{
    const char **exprs = NULL;
    unsigned *flags = NULL, *ids = NULL;
    size_t *lens = NULL;
    int rc = KS_OK;
    hs_compile_error_t *cerr = NULL;
    if (!d->nlits)
        return KS_OK;
    exprs = calloc(d->nlits, sizeof *exprs);
    flags = calloc(d->nlits, sizeof *flags);
    ids = calloc(d->nlits, sizeof *ids);
    lens = calloc(d->nlits, sizeof *lens);
    if (!exprs || !flags || !ids || !lens) {
        rc = KS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < d->nlits; i++) {
        exprs[i] = d->lits[i].s;
        lens[i] = d->lits[i].n;
        flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        ids[i] = (unsigned)i;
    }
    if (hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned)d->nlits, HS_MODE_STREAM, NULL,
                             &d->lit_db, &cerr) != HS_SUCCESS) {
        ks__seterr(d->e, "vectorscan could not compile the literal IOCs: %s",
                   cerr ? cerr->message : "?");
        hs_free_compile_error(cerr);
        rc = KS_EINTERNAL;
    }
out:
    free(exprs);
    free(flags);
    free(ids);
    free(lens);
    return rc;
}

static void ioc_destroy(void *p);

static int ioc_create(ks_engine *e, void **out)
{
    ioc_det *d = NULL;
    const char **vals = NULL;
    size_t nv;
    int rc = KS_OK;
    *out = NULL;
    if (!(d = calloc(1, sizeof *d)) || !(d->hashes = ks__map_new(1024))) {
        rc = KS_ENOMEM;
        goto out;
    }
    d->e = e;
    nv = ks__opt_list(e, "ioc", &vals);
    for (size_t i = 0; i < nv && rc == KS_OK; i++)
        rc = load_path(d, vals[i], 0);
    if (rc == KS_OK && ks__opt_bool(e, "builtin")) {
        char bdir[4096];
        struct stat st;
        snprintf(bdir, sizeof bdir, "%s/ioc", ks__rules_dir(e));
        if (stat(bdir, &st) == 0)
            rc = load_path(d, bdir, 0);
    }
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
    for (size_t i = 0; i < d->nsrcs; i++) {
        free(d->srcs[i].desc);
        free(d->srcs[i].file);
    }
    for (size_t i = 0; i < d->nnames; i++) {
        free(d->names[i].regex);
        pcre2_code_free(d->names[i].fp);
        pcre2_code_free(d->names[i].slow);
    }
    for (size_t i = 0; i < d->nlits; i++)
        free(d->lits[i].s);
    free(d->srcs);
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
                 size_t nm, const ks_fhash *fh, const ioc_src *src, uint64_t off)
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
            const ioc_src *src = &d->srcs[*v - 1];
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
        const ioc_src *src = &d->srcs[best->src];
        ks_kv m2[2] = {{"path", f->path}, {"regex", best->regex}};
        const char *title = ks__arena_printf(ws->scratch, "File name/path IOC%s%s",
                                             src->desc[0] ? ": " : "", src->desc);
        emit(ws, "ioc:filename", title ? title : "File name/path IOC", best->score, m2, 2,
             have_fh ? &fh : NULL, src, UINT64_MAX);
    }
    for (size_t i = 0; i < ws->nlit_hits; i++) {
        const lit_ioc *li = &d->lits[ws->lit_hits[i]];
        const ioc_src *src = &d->srcs[li->src];
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
