/* SPDX-License-Identifier: Apache-2.0
 *
 * Rule files for the text scanner. Three formats, recognised by content:
 *
 *  - kensa's own YAML pack (rules/secrets/NAME.yml): a `rules:` list whose
 *    entries name a `type` (and `class`, `validate`, `context`, ...), see
 *    docs/SECRETS.md;
 *  - Nosey Parker YAML: `rules:` entries with name / id / pattern /
 *    examples / negative_examples / categories, patterns in Rust syntax
 *    (often verbose `(?x)`), the secret in the capture groups;
 *  - gitleaks TOML: `[[rules]]` with id / regex (Go RE2 syntax) /
 *    secretGroup / entropy / keywords / allowlists, plus the file's global
 *    `[allowlist]` regexes and stopwords.
 *
 * Each becomes a ts_rule in the scanner's arena. The regex dialects are
 * rewritten to what both PCRE2 and Vectorscan read (ks__ts_regex_convert):
 * verbose mode is expanded away (Rust ignores white space even inside
 * character classes, PCRE2 does not), Rust's `u` flag is dropped. A rule
 * that cannot be read is a located diagnostic; the others load.
 *
 * The YAML tree comes from the Sigma loader's reader (sg__yaml_parse), the
 * one YAML reader of the library.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "detect/sigma/sigma_int.h"
#include "detect/textscan_int.h"

#define MAX_RULE_FILE ((size_t)16 << 20)
#define MAX_RULES 20000
#define MAX_DIR_DEPTH 16

void ks__ts_diag(ts_rules *rs, ks_diag_level lvl, const char *file, uint32_t line,
                 const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ks_loc loc = KS_LOC_NONE;
    loc.path = file;
    loc.line = line;
    if (rs->e)
        ks__diag(rs->e, lvl, KS_ERULE, "secrets", &loc, "%s", msg);
    if (lvl >= KS_DIAG_WARN)
        rs->nfailed++;
}

/* ---- regex dialects ------------------------------------------------------------- */

/* Rewrites a flag group "(?flags)" / "(?flags:" starting at re[i] (re[i] ==
 * '(' and re[i+1] == '?'): drops x and u, reports whether x was set or
 * cleared. Returns the index after the group opener, or i when it is not
 * a flag group. */
static size_t flag_group(const char *re, size_t n, size_t i, ks_buf *out, int *xmode, bool *opened)
{
    size_t j = i + 2;
    bool neg = false;
    char kept[32];
    size_t nk = 0;
    int x = -1;
    while (j < n && re[j] != ')' && re[j] != ':') {
        char c = re[j];
        if (c == '-')
            neg = true;
        else if (!strchr("imsxuUJn", c))
            return i; /* (?P<, (?=, (?<!, ... */
        if (c == 'x')
            x = neg ? 0 : 1;
        else if (c != 'u' && nk + 1 < sizeof kept)
            kept[nk++] = c;
        j++;
    }
    if (j >= n)
        return i;
    /* a trailing '-' with nothing after it is not valid PCRE */
    while (nk && kept[nk - 1] == '-')
        nk--;
    *opened = re[j] == ':';
    if (nk || *opened) {
        ks__buf_add(out, "(?", 2);
        ks__buf_add(out, kept, nk);
        ks__buf_addc(out, re[j]);
    }
    if (x >= 0)
        *xmode = x;
    return j + 1;
}

const char *ks__ts_regex_convert(ks_arena *a, const char *re, size_t n, enum ts_dialect d)
{
    ks_buf out = KS_BUF_INIT;
    int xstack[64];
    int depth = 0, xmode = 0;
    bool in_class = false;
    const char *res = NULL;
    (void)d;
    for (size_t i = 0; i < n; i++) {
        char c = re[i];
        if (c == '\\' && i + 1 < n) {
            char e = re[i + 1];
            if (xmode && (e == ' ' || e == '\t'))
                ks__buf_printf(&out, "\\x%02x", (unsigned char)e);
            else if (e == 'z' && !in_class)
                ks__buf_add(&out, "\\z", 2);
            else
                ks__buf_add(&out, re + i, 2);
            i++;
            continue;
        }
        if (in_class) {
            if (xmode && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
                continue;
            if (c == '[' && i + 1 < n && re[i + 1] == ':') {
                /* re is n bytes, not a C string: memmem, never strstr */
                const char *close = memmem(re + i, n - i, ":]", 2);
                if (close) {
                    ks__buf_add(&out, re + i, (size_t)(close - re - (long)i) + 2);
                    i = (size_t)(close - re) + 1;
                    continue;
                }
            }
            if (c == ']')
                in_class = false;
            ks__buf_addc(&out, c);
            continue;
        }
        if (xmode && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
            continue;
        if (xmode && c == '#') {
            while (i < n && re[i] != '\n')
                i++;
            continue;
        }
        if (c == '[') {
            in_class = true;
            ks__buf_addc(&out, c);
            /* ']' first (or after '^') is a literal */
            if (i + 1 < n && re[i + 1] == '^') {
                ks__buf_addc(&out, '^');
                i++;
            }
            if (i + 1 < n && re[i + 1] == ']') {
                ks__buf_add(&out, "\\]", 2);
                i++;
            }
            continue;
        }
        if (c == '(' && i + 2 < n && re[i + 1] == '?' && re[i + 2] == '#') {
            /* an inline comment group: dropped whole */
            while (i < n && re[i] != ')')
                i++;
            continue;
        }
        if (c == '(') {
            if (depth < 64)
                xstack[depth] = xmode;
            depth++;
            if (i + 1 < n && re[i + 1] == '?') {
                bool opened = false;
                size_t j = flag_group(re, n, i, &out, &xmode, &opened);
                if (j != i) {
                    if (!opened) {
                        /* (?x) applies to the rest of the enclosing group */
                        depth--;
                        if (depth < 64 && depth > 0)
                            xstack[depth] = xstack[depth];
                    }
                    i = j - 1;
                    continue;
                }
            }
            ks__buf_addc(&out, c);
            continue;
        }
        if (c == ')') {
            if (depth > 0) {
                depth--;
                if (depth < 64)
                    xmode = xstack[depth];
            }
            ks__buf_addc(&out, c);
            continue;
        }
        ks__buf_addc(&out, c);
    }
    res = ks__arena_strndup(a, out.p ? out.p : "", out.n);
    ks__buf_release(&out);
    return res;
}

/* ---- common ------------------------------------------------------------------------- */

static ts_rule *rule_new(ts_rules *rs, const char *file, uint32_t line)
{
    if (rs->n >= MAX_RULES)
        return NULL;
    if (ks__grow(&rs->v, &rs->cap, rs->n, sizeof *rs->v, 64) != KS_OK)
        return NULL;
    ts_rule *r = &rs->v[rs->n];
    memset(r, 0, sizeof *r);
    r->file = ks__arena_strndup(rs->a, file, strlen(file));
    r->line = line;
    r->cls = KS_TC_SECRET;
    r->sev = KS_SEV_HIGH;
    r->confidence = 70;
    r->group = TS_GROUP_AUTO;
    r->lookback = -1;
    return r;
}

static const char *astr(ts_rules *rs, const char *s)
{
    return s ? ks__arena_strndup(rs->a, s, strlen(s)) : NULL;
}

/* "AWS API Key" -> "aws_api_key" */
static const char *type_from_name(ts_rules *rs, const char *prefix, const char *name)
{
    char buf[128];
    size_t o = (size_t)snprintf(buf, sizeof buf, "%s", prefix);
    bool us = false;
    for (const char *p = name; *p && o + 2 < sizeof buf; p++) {
        char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            buf[o++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
            us = false;
        } else if (!us && o > strlen(prefix)) {
            buf[o++] = '_';
            us = true;
        }
    }
    while (o > strlen(prefix) && buf[o - 1] == '_')
        o--;
    buf[o] = 0;
    return ks__arena_strndup(rs->a, buf, o);
}

/* A YAML sequence of scalars (or one scalar) into an arena array. */
static const char **yaml_list(ts_rules *rs, const sg_yaml *y, size_t *n)
{
    *n = 0;
    if (!y)
        return NULL;
    if (y->type == SG_Y_SCALAR) {
        const char **v = ks__arena_alloc(rs->a, sizeof *v);
        if (v) {
            v[0] = y->s;
            *n = 1;
        }
        return v;
    }
    if (y->type != SG_Y_SEQ || !y->nkids)
        return NULL;
    const char **v = ks__arena_alloc(rs->a, y->nkids * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < y->nkids; i++)
        if (y->kids[i]->type == SG_Y_SCALAR)
            v[(*n)++] = y->kids[i]->s;
    return v;
}

/* Context words: lower-case copies (the scanner lower-cases the window
 * around a value once and looks for each word as is). */
static const char **yaml_words(ts_rules *rs, const sg_yaml *y, size_t *n)
{
    const char **v = yaml_list(rs, y, n);
    for (size_t i = 0; v && i < *n; i++) {
        char *w = ks__arena_strndup(rs->a, v[i], strlen(v[i]));
        if (!w) {
            *n = i;
            break;
        }
        for (char *q = w; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q + 32);
        v[i] = w;
    }
    return v;
}

static pcre2_code *compile_allow(ts_rules *rs, const char *re, const char *file, uint32_t line,
                                 enum ts_dialect d)
{
    int err = 0;
    PCRE2_SIZE eoff = 0;
    const char *conv = ks__ts_regex_convert(rs->a, re, strlen(re), d);
    pcre2_code *c = conv ? pcre2_compile((PCRE2_SPTR)conv, PCRE2_ZERO_TERMINATED, 0, &err, &eoff,
                                         NULL)
                         : NULL;
    if (!c)
        ks__ts_diag(rs, KS_DIAG_INFO, file, line, "allowlist regex does not compile; ignored");
    return c;
}

/* ---- kensa YAML ------------------------------------------------------------------------ */

static int load_kensa_rule(ts_rules *rs, const sg_yaml *y, const char *file)
{
    const char *id = sg__yaml_str(y, "id"), *pattern = sg__yaml_str(y, "pattern");
    const char *type = sg__yaml_str(y, "type"), *v;
    if (!id || !pattern || !type) {
        ks__ts_diag(rs, KS_DIAG_WARN, file, y->line, "rule needs id, type and pattern; skipped");
        return KS_OK;
    }
    ts_rule *r = rule_new(rs, file, y->line);
    if (!r)
        return KS_ENOMEM;
    r->id = id;
    r->type = type;
    r->name = (v = sg__yaml_str(y, "name")) ? v : id;
    r->pattern = ks__ts_regex_convert(rs->a, pattern, strlen(pattern), TS_D_PCRE);
    if ((v = sg__yaml_str(y, "prefilter")))
        r->prefilter = ks__ts_regex_convert(rs->a, v, strlen(v), TS_D_PCRE);
    if ((v = sg__yaml_str(y, "class")))
        r->cls = !strcmp(v, "pii") ? KS_TC_PII : KS_TC_SECRET;
    if ((v = sg__yaml_str(y, "severity"))) {
        int s = ks_severity_parse(v);
        if (s >= 0)
            r->sev = (ks_severity)s;
    }
    if ((v = sg__yaml_str(y, "validate")) && !(r->validator = ks__ts_validator_find(v))) {
        ks__ts_diag(rs, KS_DIAG_WARN, file, y->line, "rule %s: unknown validator %s; skipped", id, v);
        return KS_OK;
    }
    if ((v = sg__yaml_str(y, "lookback")))
        r->lookback = (int)strtol(v, NULL, 10);
    if ((v = sg__yaml_str(y, "first_pass"))) {
        int pass = ks__ts_pass_parse(v);
        if (pass < 0) {
            ks__ts_diag(rs, KS_DIAG_WARN, file, y->line, "rule %s: unknown first_pass %s; skipped",
                        id, v);
            return KS_OK;
        }
        r->pass = (uint8_t)pass;
    }
    if ((v = sg__yaml_str(y, "min_digits")))
        r->min_digits = (uint16_t)strtoul(v, NULL, 10);
    if ((v = sg__yaml_str(y, "letters_before")))
        r->letters_before = (uint8_t)strtoul(v, NULL, 10);
    if ((v = sg__yaml_str(y, "group")))
        r->group = !strcmp(v, "last") ? TS_GROUP_LAST : (int)strtol(v, NULL, 10);
    if ((v = sg__yaml_str(y, "entropy")))
        r->min_entropy = strtod(v, NULL);
    if ((v = sg__yaml_str(y, "confidence")))
        r->confidence = (int)strtol(v, NULL, 10);
    if ((v = sg__yaml_str(y, "priority")))
        r->priority = (int)strtol(v, NULL, 10);
    r->context = yaml_words(rs, sg__yaml_get(y, "context"), &r->ncontext);
    r->negctx = yaml_words(rs, sg__yaml_get(y, "negative_context"), &r->nnegctx);
    r->stopwords = yaml_list(rs, sg__yaml_get(y, "stopwords"), &r->nstop);
    r->examples = yaml_list(rs, sg__yaml_get(y, "examples"), &r->nexamples);
    r->negatives = yaml_list(rs, sg__yaml_get(y, "negative_examples"), &r->nnegatives);
    if (!r->pattern)
        return KS_ENOMEM;
    rs->n++;
    return KS_OK;
}

/* ---- Nosey Parker YAML ------------------------------------------------------------------- */

static int load_np_rule(ts_rules *rs, const sg_yaml *y, const char *file)
{
    const char *id = sg__yaml_str(y, "id"), *pattern = sg__yaml_str(y, "pattern");
    const char *name = sg__yaml_str(y, "name");
    if (!id || !pattern) {
        ks__ts_diag(rs, KS_DIAG_WARN, file, y->line, "Nosey Parker rule needs id and pattern; skipped");
        return KS_OK;
    }
    ts_rule *r = rule_new(rs, file, y->line);
    if (!r)
        return KS_ENOMEM;
    r->id = id;
    r->name = name ? name : id;
    r->type = type_from_name(rs, "np.", r->name);
    r->pattern = ks__ts_regex_convert(rs->a, pattern, strlen(pattern), TS_D_RUST);
    r->group = TS_GROUP_LAST;
    size_t ncat = 0;
    const char **cats = yaml_list(rs, sg__yaml_get(y, "categories"), &ncat);
    bool secret = false, ident = false, fuzzy = false;
    for (size_t i = 0; i < ncat; i++) {
        secret |= !strcmp(cats[i], "secret");
        ident |= !strcmp(cats[i], "identifier");
        fuzzy |= !strcmp(cats[i], "fuzzy");
    }
    r->sev = secret ? KS_SEV_HIGH : ident ? KS_SEV_LOW : KS_SEV_MEDIUM;
    r->confidence = fuzzy ? 60 : 80;
    r->examples = yaml_list(rs, sg__yaml_get(y, "examples"), &r->nexamples);
    r->negatives = yaml_list(rs, sg__yaml_get(y, "negative_examples"), &r->nnegatives);
    if (!r->pattern || !r->type)
        return KS_ENOMEM;
    rs->n++;
    return KS_OK;
}

static int load_yaml(ts_rules *rs, const char *buf, size_t n, const char *file)
{
    /* The tree lives in the rules' arena: rules point at its scalars. */
    ks_arena *ya = rs->a;
    sg_yaml **docs = NULL;
    size_t ndocs = 0;
    char err[256];
    uint32_t eline = 0;
    int rc = KS_OK;
    if (sg__yaml_parse(ya, buf, n, &docs, &ndocs, err, sizeof err, &eline) != KS_OK)
        ks__ts_diag(rs, KS_DIAG_WARN, file, eline, "YAML: %s", err);
    for (size_t d = 0; d < ndocs && rc == KS_OK; d++) {
        const sg_yaml *rules = sg__yaml_get(docs[d], "rules");
        if (!rules) {
            if (!sg__yaml_get(docs[d], "rulesets")) /* Nosey Parker rule set lists: not rules */
                ks__ts_diag(rs, KS_DIAG_INFO, file, docs[d]->line, "no rules: list; ignored");
            continue;
        }
        if (rules->type != SG_Y_SEQ) {
            ks__ts_diag(rs, KS_DIAG_WARN, file, rules->line, "rules: is not a list");
            continue;
        }
        for (size_t i = 0; i < rules->nkids && rc == KS_OK; i++) {
            const sg_yaml *y = rules->kids[i];
            if (y->type != SG_Y_MAP) {
                ks__ts_diag(rs, KS_DIAG_WARN, file, y->line, "rule is not a mapping; skipped");
                continue;
            }
            rc = sg__yaml_get(y, "type") || sg__yaml_get(y, "class") ? load_kensa_rule(rs, y, file)
                                                                      : load_np_rule(rs, y, file);
        }
    }
    return rc;
}

/* ---- gitleaks TOML ------------------------------------------------------------------------- */

/* Strings of a TOML array into an arena array. */
static const char **toml_list(ts_rules *rs, const ts_toml *t, size_t *n)
{
    *n = 0;
    if (!t || t->type != TT_ARR || !t->nkids)
        return NULL;
    const char **v = ks__arena_alloc(rs->a, t->nkids * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < t->nkids; i++)
        if (t->kids[i]->type == TT_STR)
            v[(*n)++] = t->kids[i]->s;
    return v;
}

typedef struct gl_allow {
    const char **regexes;
    size_t nregexes;
    const char **stop;
    size_t nstop;
} gl_allow;

/* Adds an allowlist table's value regexes and stopwords to r. Allowlists
 * that test the match or the line (regexTarget) or the path are not the
 * value and are skipped. */
static void add_allow(ts_rules *rs, ts_rule *r, const ts_toml *al, const char *file,
                      pcre2_code **buf, size_t *nbuf, size_t cap, const char ***stop,
                      size_t *nstop, size_t stopcap)
{
    const ts_toml *target = ks__toml_get(al, "regexTarget");
    size_t n = 0;
    const char **res = toml_list(rs, ks__toml_get(al, "regexes"), &n);
    if (!target || (target->type == TT_STR && !strcmp(target->s, "secret")))
        for (size_t i = 0; i < n && *nbuf < cap; i++) {
            pcre2_code *c = compile_allow(rs, res[i], file, al->line, TS_D_GO);
            if (c)
                buf[(*nbuf)++] = c;
        }
    const char **sw = toml_list(rs, ks__toml_get(al, "stopwords"), &n);
    for (size_t i = 0; i < n && *nstop < stopcap; i++)
        (*stop)[(*nstop)++] = sw[i];
    (void)r;
}

static int load_gitleaks(ts_rules *rs, const char *buf, size_t n, const char *file)
{
    ts_toml *root = NULL;
    char err[256];
    uint32_t eline = 0;
    int rc = ks__toml_parse(rs->a, buf, n, &root, err, sizeof err, &eline);
    if (rc != KS_OK) {
        if (rc == KS_ENOMEM)
            return rc;
        ks__ts_diag(rs, KS_DIAG_WARN, file, eline, "TOML: %s", err);
        return KS_OK;
    }
    const ts_toml *rules = ks__toml_get(root, "rules");
    const ts_toml *global = ks__toml_get(root, "allowlist");
    const ts_toml *globals = ks__toml_get(root, "allowlists");
    if (!rules || rules->type != TT_ARR) {
        ks__ts_diag(rs, KS_DIAG_INFO, file, 1, "no [[rules]]; ignored");
        return KS_OK;
    }
    for (size_t i = 0; i < rules->nkids; i++) {
        const ts_toml *t = rules->kids[i];
        const ts_toml *id = ks__toml_get(t, "id"), *re = ks__toml_get(t, "regex");
        if (!id || id->type != TT_STR) {
            ks__ts_diag(rs, KS_DIAG_WARN, file, t->line, "gitleaks rule without id; skipped");
            continue;
        }
        if (!re || re->type != TT_STR) {
            /* path-only rules judge file names, not text */
            ks__ts_diag(rs, KS_DIAG_INFO, file, t->line, "gitleaks rule %s has no regex; skipped",
                        id->s);
            continue;
        }
        ts_rule *r = rule_new(rs, file, t->line);
        if (!r)
            return KS_ENOMEM;
        char idbuf[160];
        snprintf(idbuf, sizeof idbuf, "gitleaks.%s", id->s);
        r->id = astr(rs, idbuf);
        const ts_toml *desc = ks__toml_get(t, "description");
        r->name = desc && desc->type == TT_STR ? desc->s : r->id;
        r->type = type_from_name(rs, "gitleaks.", id->s);
        r->pattern = ks__ts_regex_convert(rs->a, re->s, re->n, TS_D_GO);
        const ts_toml *sg = ks__toml_get(t, "secretGroup"), *ent = ks__toml_get(t, "entropy");
        if (sg && sg->type == TT_NUM)
            r->group = (int)sg->num;
        if (ent && ent->type == TT_NUM)
            r->min_entropy = ent->num;
        /* Allowlists: the rule's own ([[rules.allowlists]] or the older
         * [rules.allowlist]) and the file's global ones. */
        const ts_toml *lists[16];
        size_t nl = 0;
        const ts_toml *own = ks__toml_get(t, "allowlists"), *own1 = ks__toml_get(t, "allowlist");
        if (own && own->type == TT_ARR)
            for (size_t k = 0; k < own->nkids && nl < 12; k++)
                lists[nl++] = own->kids[k];
        if (own1 && own1->type == TT_TABLE)
            lists[nl++] = own1;
        if (global && global->type == TT_TABLE)
            lists[nl++] = global;
        if (globals && globals->type == TT_ARR)
            for (size_t k = 0; k < globals->nkids && nl < 16; k++)
                lists[nl++] = globals->kids[k];
        pcre2_code *allow[64];
        size_t nallow = 0, nstop = 0;
        const char **stop = ks__arena_alloc(rs->a, 256 * sizeof *stop);
        if (!stop || !r->pattern || !r->id || !r->type)
            return KS_ENOMEM;
        for (size_t k = 0; k < nl; k++)
            add_allow(rs, r, lists[k], file, allow, &nallow, KS_ARRAY_LEN(allow), &stop, &nstop,
                      256);
        if (nallow) {
            r->allow = malloc(nallow * sizeof *r->allow); /* freed with the rule */
            if (!r->allow) {
                for (size_t k = 0; k < nallow; k++)
                    pcre2_code_free(allow[k]);
                return KS_ENOMEM;
            }
            memcpy(r->allow, allow, nallow * sizeof *allow);
            r->nallow = nallow;
        }
        r->stopwords = stop;
        r->nstop = nstop;
        rs->n++;
    }
    return KS_OK;
}

/* ---- files ------------------------------------------------------------------------------- */

int ks__ts_load_mem(ts_rules *rs, const char *buf, size_t n, const char *path)
{
    /* gitleaks: TOML tables; the YAML packs: a rules: key */
    if (memmem(buf, n, "[[rules]]", 9) || (strlen(path) > 5 && !strcmp(path + strlen(path) - 5, ".toml")))
        return load_gitleaks(rs, buf, n, path);
    return load_yaml(rs, buf, n, path);
}

static bool rule_file_name(const char *name)
{
    size_t l = strlen(name);
    return (l > 4 && (!strcmp(name + l - 4, ".yml") || !strcmp(name + l - 5, ".yaml"))) ||
           (l > 5 && !strcmp(name + l - 5, ".toml"));
}

static int load_file(ts_rules *rs, const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    int rc = KS_OK;
    if (!fp) {
        ks__ts_diag(rs, KS_DIAG_ERROR, path, 0, "cannot open rule file: %s", strerror(errno));
        return KS_OK;
    }
    if (!(buf = malloc(MAX_RULE_FILE + 1))) {
        fclose(fp);
        return KS_ENOMEM;
    }
    n = fread(buf, 1, MAX_RULE_FILE + 1, fp);
    fclose(fp);
    if (n > MAX_RULE_FILE)
        ks__ts_diag(rs, KS_DIAG_ERROR, path, 0, "rule file larger than 16 MiB; skipped");
    else {
        buf[n] = 0;
        rc = ks__ts_load_mem(rs, buf, n, path);
    }
    free(buf);
    return rc;
}

static int load_dir(ts_rules *rs, const char *path, int depth)
{
    DIR *d = opendir(path);
    struct dirent *de;
    char **names = NULL;
    size_t nn = 0, cap = 0;
    int rc = KS_OK;
    if (!d) {
        ks__ts_diag(rs, KS_DIAG_ERROR, path, 0, "cannot read rule directory: %s", strerror(errno));
        return KS_OK;
    }
    while ((de = readdir(d)) != NULL && rc == KS_OK) {
        if (de->d_name[0] == '.')
            continue;
        if (ks__grow(&names, &cap, nn, sizeof *names, 32) != KS_OK ||
            !(names[nn] = strdup(de->d_name)))
            rc = KS_ENOMEM;
        else
            nn++;
    }
    closedir(d);
    /* sorted: rule order (and so overlap ties) does not depend on readdir */
    for (size_t i = 1; i < nn; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < nn && rc == KS_OK; i++) {
        char full[4096];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < MAX_DIR_DEPTH)
            rc = load_dir(rs, full, depth + 1);
        else if (S_ISREG(st.st_mode) && rule_file_name(names[i]))
            rc = load_file(rs, full);
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    return rc;
}

int ks__ts_load_path(ts_rules *rs, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        ks__ts_diag(rs, KS_DIAG_ERROR, path, 0, "rule path not found: %s", strerror(errno));
        return KS_OK;
    }
    return S_ISDIR(st.st_mode) ? load_dir(rs, path, 0) : load_file(rs, path);
}
