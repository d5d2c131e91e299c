/* SPDX-License-Identifier: Apache-2.0
 *
 * Sigma loader: walks rule files and directories, splits multi-document
 * YAML, applies rule-collection actions (global / reset / repeat), reads
 * every rule's metadata and compiles its detection into searches and a
 * condition tree. Filters (meta-rules) and correlation rules are read here
 * and attached to the rules they name in sg__ruleset_finish().
 *
 * A rule that cannot be loaded is reported through the ruleset's diag
 * callback with its file, line and a classified reason (SG_FAIL_*), then
 * skipped: one bad rule never stops the others.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "detect/fileinfo.h"
#include "sigma_corr.h"

#define MAX_RULE_FILE ((size_t)4 << 20)
#define MAX_RULES 200000
#define MAX_DIR_DEPTH 32
#define MAX_MODS 12


const char *sg__fail_name(int f)
{
    static const char *const names[] = {
        "ok",
#define SG_FAIL_STR_(n, s) s,
        SG_FAIL_MAP(SG_FAIL_STR_)
#undef SG_FAIL_STR_
    };
    return f >= 0 && f < SG_FAIL_COUNT ? names[f] : "?";
}

int sg__ruleset_new(ks_symtab *syms, sg_diag_fn diag, void *ud, sg_ruleset **out)
{
    sg_ruleset *rs = calloc(1, sizeof *rs);
    if (!rs)
        return KS_ENOMEM;
    rs->arena = ks__arena_new(1 << 20, (size_t)2 << 30);
    if (!rs->arena) {
        free(rs);
        return KS_ENOMEM;
    }
    ks__arena_huge_pages(rs->arena); /* all SigmaHQ: ~12 MB, filled at start */
    rs->syms = syms;
    rs->diag = diag;
    rs->diag_ud = ud;
    *out = rs;
    return KS_OK;
}

void sg__ruleset_free(sg_ruleset *rs)
{
    if (!rs)
        return;
    sg__ycache_close(rs->yc); /* a load that failed half-way */
    for (size_t i = 0; i < rs->nres; i++)
        pcre2_code_free(rs->res[i]);
    free(rs->res);
    sg__corr_free(rs);
    sg__map_free(rs);
    free(rs->rules);
    free(rs->lsrcs);
    ks__arena_free(rs->arena);
    ks__cache_unmap(rs->cmap, rs->ncmap); /* after the arena: nothing reads it now */
    free(rs);
}

int sg__ruleset_add_regex(sg_ruleset *rs, pcre2_code *re)
{
    if (rs->nres == rs->capres) {
        size_t cap = rs->capres ? rs->capres * 2 : 64;
        pcre2_code **n = realloc(rs->res, cap * sizeof *n);
        if (!n) {
            pcre2_code_free(re);
            return KS_ENOMEM;
        }
        rs->res = n;
        rs->capres = cap;
    }
    rs->res[rs->nres++] = re;
    return KS_OK;
}

static void report(sg_ruleset *rs, ks_diag_level lvl, const char *path, uint32_t line, int fail,
                   const char *msg)
{
    if (rs->diag)
        rs->diag(rs->diag_ud, lvl, path, line, fail, msg);
}

/* ---- searches ------------------------------------------------------------------ */

static int compile_item(sg_ctx *c, const char *key, size_t keyn, const sg_yaml *vals,
                        sg_item *it)
{
    const sg_modifier *mods[MAX_MODS];
    size_t nmods = 0;
    const char *bar = key ? memchr(key, '|', keyn) : NULL;
    size_t fieldn = bar ? (size_t)(bar - key) : keyn;
    int rc;

    memset(it, 0, sizeof *it);
    if (bar) {
        const char *p = bar + 1, *end = key + keyn;
        while (p <= end) {
            const char *q = memchr(p, '|', (size_t)(end - p));
            size_t mn = q ? (size_t)(q - p) : (size_t)(end - p);
            const sg_modifier *m = sg__modifier_find(p, mn);
            if (!m || nmods == MAX_MODS) {
                snprintf(c->err, sizeof c->err, "unknown modifier '%.*s'", (int)KS_MIN(mn, 40), p);
                c->fail = SG_FAIL_MODIFIER;
                return KS_ERULE;
            }
            mods[nmods++] = m;
            if (!q)
                break;
            p = q + 1;
        }
    }
    if (key && fieldn) {
        it->field = ks__arena_strndup(c->rs->arena, key, fieldn);
        if (!it->field)
            return KS_ENOMEM;
        if ((rc = sg__map_field(c->rs, c->fm, key, fieldn, &it->syms, &it->nsyms)) != KS_OK)
            return rc;
    }
    size_t n = vals && vals->type == SG_Y_SEQ ? vals->nkids : 1;
    it->vals = ks__arena_alloc(c->rs->arena, (n ? n : 1) * sizeof *it->vals);
    if (!it->vals)
        return KS_ENOMEM;
    c->all = false;
    c->keyword = it->field == NULL;
    for (size_t i = 0; i < n; i++) {
        const sg_yaml *y = vals && vals->type == SG_Y_SEQ ? vals->kids[i] : vals;
        if ((rc = sg__compile_value(c, y, mods, nmods, &it->vals[i])) != KS_OK)
            return rc;
        if (it->vals[i].wants_missing)
            it->missing_ok = true;
    }
    it->nvals = (uint32_t)n;
    it->all = c->all;
    return KS_OK;
}

/* A map: AND of its items. */
static int compile_group(sg_ctx *c, const sg_yaml *m, sg_group *g)
{
    int rc;
    g->n = (uint32_t)(m->nkids / 2);
    g->items = ks__arena_alloc(c->rs->arena, (g->n ? g->n : 1) * sizeof *g->items);
    if (!g->items)
        return KS_ENOMEM;
    for (size_t i = 0; i < g->n; i++) {
        const sg_yaml *k = m->kids[2 * i], *v = m->kids[2 * i + 1];
        if (k->type != SG_Y_SCALAR) {
            snprintf(c->err, sizeof c->err, "line %u: field names must be scalars", k->line);
            c->fail = SG_FAIL_SCHEMA;
            return KS_ERULE;
        }
        if (v->type == SG_Y_MAP) {
            snprintf(c->err, sizeof c->err, "line %u: nested map under '%.60s'", v->line, k->s);
            c->fail = SG_FAIL_SCHEMA;
            return KS_ERULE;
        }
        c->at = k->line;
        if ((rc = compile_item(c, k->s, k->n, v, &g->items[i])) != KS_OK)
            return rc;
    }
    return KS_OK;
}

int sg__compile_search(sg_ctx *c, const char *name, const sg_yaml *y, sg_search *out)
{
    int rc;
    memset(out, 0, sizeof *out);
    out->name = name;
    if (!y) {
        snprintf(c->err, sizeof c->err, "empty search '%.60s'", name);
        c->fail = SG_FAIL_SCHEMA;
        return KS_ERULE;
    }
    size_t n = y->type == SG_Y_SEQ ? y->nkids : 1;
    out->groups = ks__arena_alloc(c->rs->arena, (n + 1) * sizeof *out->groups);
    if (!out->groups)
        return KS_ENOMEM;
    if (y->type == SG_Y_MAP)
        return (rc = compile_group(c, y, &out->groups[0])) == KS_OK ? (out->n = 1, KS_OK) : rc;
    if (y->type == SG_Y_SCALAR) {
        /* a single keyword */
        out->groups[0].n = 1;
        out->groups[0].items = ks__arena_alloc(c->rs->arena, sizeof(sg_item));
        if (!out->groups[0].items)
            return KS_ENOMEM;
        out->n = 1;
        return compile_item(c, NULL, 0, y, &out->groups[0].items[0]);
    }
    /* a list: maps become OR'ed groups; scalars are keywords (one item) */
    sg_yaml kw = {.type = SG_Y_SEQ, .line = y->line};
    kw.kids = ks__arena_alloc(c->rs->arena, (y->nkids + 1) * sizeof *kw.kids);
    if (!kw.kids)
        return KS_ENOMEM;
    for (size_t i = 0; i < y->nkids; i++) {
        const sg_yaml *k = y->kids[i];
        if (k->type == SG_Y_MAP) {
            if ((rc = compile_group(c, k, &out->groups[out->n++])) != KS_OK)
                return rc;
        } else if (k->type == SG_Y_SCALAR) {
            kw.kids[kw.nkids++] = (sg_yaml *)k;
        } else {
            snprintf(c->err, sizeof c->err, "line %u: nested list in search '%.60s'", k->line, name);
            c->fail = SG_FAIL_SCHEMA;
            return KS_ERULE;
        }
    }
    if (kw.nkids) {
        sg_group *g = &out->groups[out->n++];
        g->n = 1;
        g->items = ks__arena_alloc(c->rs->arena, sizeof(sg_item));
        if (!g->items)
            return KS_ENOMEM;
        if ((rc = compile_item(c, NULL, 0, &kw, &g->items[0])) != KS_OK)
            return rc;
    }
    return KS_OK;
}

/* ---- rules ---------------------------------------------------------------------- */

static const char **str_list(sg_ruleset *rs, const sg_yaml *y, size_t *n)
{
    *n = 0;
    if (!y)
        return NULL;
    size_t cnt = y->type == SG_Y_SEQ ? y->nkids : 1;
    const char **out = ks__arena_alloc(rs->arena, (cnt + 1) * sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < cnt; i++) {
        const sg_yaml *k = y->type == SG_Y_SEQ ? y->kids[i] : y;
        if (k->type == SG_Y_SCALAR)
            out[(*n)++] = k->s;
    }
    return out;
}

/* attack.t1059.001 -> T1059.001 */
static void techniques(sg_ruleset *rs, sg_rule *r)
{
    r->techniques = ks__arena_alloc(rs->arena, (r->ntags + 1) * sizeof *r->techniques);
    if (!r->techniques)
        return;
    for (size_t i = 0; i < r->ntags; i++) {
        const char *t = r->tags[i];
        if (strncasecmp(t, "attack.t", 8) != 0 || t[8] < '0' || t[8] > '9')
            continue;
        char *s = ks__arena_strndup(rs->arena, t + 7, strlen(t + 7));
        if (!s)
            return;
        for (char *p = s; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 32);
        r->techniques[r->ntech++] = s;
    }
}

static const char *sdup(sg_ruleset *rs, const char *s)
{
    return s ? ks__arena_strndup(rs->arena, s, strlen(s)) : NULL;
}

/* Searches of a detection/filter map: every key except `condition` (and the
 * filter's `rules`). */
static int compile_searches(sg_ctx *c, sg_rule *r, const sg_yaml *det, const char ***names)
{
    int rc;
    size_t n = det->nkids / 2;
    r->searches = ks__arena_alloc(c->rs->arena, (n + 1) * sizeof *r->searches);
    *names = ks__arena_alloc(c->rs->arena, (n + 1) * sizeof **names);
    if (!r->searches || !*names)
        return KS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const sg_yaml *k = det->kids[2 * i];
        if (k->type != SG_Y_SCALAR || strcmp(k->s, "condition") == 0 ||
            (r->kind == SG_R_FILTER && strcmp(k->s, "rules") == 0) ||
            strcmp(k->s, "timeframe") == 0)
            continue;
        if ((rc = sg__compile_search(c, k->s, det->kids[2 * i + 1],
                                     &r->searches[r->nsearches])) != KS_OK)
            return rc;
        (*names)[r->nsearches++] = k->s;
    }
    return KS_OK;
}

static int compile_condition(sg_ctx *c, sg_rule *r, const sg_yaml *cy, const char **names)
{
    if (!cy) {
        snprintf(c->err, sizeof c->err, "detection has no condition");
        c->fail = SG_FAIL_SCHEMA;
        return KS_ERULE;
    }
    size_t n = cy->type == SG_Y_SEQ ? cy->nkids : 1;
    for (size_t i = 0; i < n; i++) {
        const sg_yaml *y = cy->type == SG_Y_SEQ ? cy->kids[i] : cy;
        sg_cond *one = NULL;
        c->at = y->line;
        if (y->type != SG_Y_SCALAR) {
            snprintf(c->err, sizeof c->err, "line %u: condition must be text", y->line);
            c->fail = SG_FAIL_SCHEMA;
            return KS_ERULE;
        }
        if (sg__cond_parse(c->rs->arena, y->s, y->n, names, r->nsearches, &one, c->err,
                           sizeof c->err) != KS_OK) {
            c->fail = strstr(c->err, "aggregation") ? SG_FAIL_AGGREGATION : SG_FAIL_CONDITION;
            return KS_ERULE;
        }
        if (!r->cond) {
            r->cond = one;
        } else {
            sg_cond *o = ks__arena_alloc(c->rs->arena, sizeof *o);
            if (!o)
                return KS_ENOMEM;
            memset(o, 0, sizeof *o);
            o->op = SG_C_OR;
            o->a = r->cond;
            o->b = one;
            r->cond = o;
        }
    }
    return KS_OK;
}

static int add_rule(sg_ruleset *rs, sg_rule *r)
{
    if (rs->nrules == rs->caprules) {
        size_t cap = rs->caprules ? rs->caprules * 2 : 256;
        if (cap > MAX_RULES)
            return KS_ELIMIT;
        sg_rule **n = realloc(rs->rules, cap * sizeof *n);
        if (!n)
            return KS_ENOMEM;
        rs->rules = n;
        rs->caprules = cap;
    }
    r->idx = (uint32_t)rs->nrules;
    rs->rules[rs->nrules++] = r;
    if (r->nsearches > rs->max_searches)
        rs->max_searches = r->nsearches;
    return KS_OK;
}

static int compile_rule(sg_ctx *c, const sg_yaml *doc)
{
    sg_ruleset *rs = c->rs;
    sg_rule *r = ks__arena_alloc(rs->arena, sizeof *r);
    const char **names = NULL;
    int rc;

    if (!r)
        return KS_ENOMEM;
    memset(r, 0, sizeof *r);
    r->path = c->path;
    r->line = c->line;
    r->emit = true;
    if (doc->type != SG_Y_MAP) {
        snprintf(c->err, sizeof c->err, "a rule must be a YAML map");
        c->fail = SG_FAIL_SCHEMA;
        return KS_ERULE;
    }
    r->title = sdup(rs, sg__yaml_str(doc, "title"));
    r->id = sdup(rs, sg__yaml_str(doc, "id"));
    r->name = sdup(rs, sg__yaml_str(doc, "name"));
    r->status = sdup(rs, sg__yaml_str(doc, "status"));
    r->level = sdup(rs, sg__yaml_str(doc, "level"));
    r->description = sdup(rs, sg__yaml_str(doc, "description"));
    r->author = sdup(rs, sg__yaml_str(doc, "author"));
    r->date = sdup(rs, sg__yaml_str(doc, "date"));
    r->tags = str_list(rs, sg__yaml_get(doc, "tags"), &r->ntags);
    r->fields = str_list(rs, sg__yaml_get(doc, "fields"), &r->nfields);
    r->falsepositives = str_list(rs, sg__yaml_get(doc, "falsepositives"), &r->nfp);
    techniques(rs, r);
    if (!r->title) {
        snprintf(c->err, sizeof c->err, "rule has no title");
        c->fail = SG_FAIL_SCHEMA;
        return KS_ERULE;
    }
    if (!r->id)
        r->id = r->name ? r->name : r->title;
    int sev = ks_severity_parse(r->level ? r->level : "medium");
    r->sev = sev < 0 ? KS_SEV_MEDIUM : (ks_severity)sev;
    const sg_yaml *ls = sg__yaml_get(doc, "logsource");
    r->product = sdup(rs, sg__yaml_str(ls, "product"));
    r->category = sdup(rs, sg__yaml_str(ls, "category"));
    r->service = sdup(rs, sg__yaml_str(ls, "service"));

    const sg_yaml *corr = sg__yaml_get(doc, "correlation");
    const sg_yaml *filt = sg__yaml_get(doc, "filter");
    const sg_yaml *det = sg__yaml_get(doc, "detection");
    if (corr) {
        r->kind = SG_R_CORRELATION;
        if ((rc = sg__corr_parse(c, r, corr)) != KS_OK)
            return rc;
        const char *gen = sg__yaml_str(doc, "generate"); /* also accepted at top level */
        if (gen && (strcmp(gen, "true") == 0 || strcmp(gen, "yes") == 0))
            r->corr->generate = true;
        return add_rule(rs, r);
    }
    r->ls = sg__map_logsource(rs, r->product, r->category, r->service);
    c->fm = r->ls ? r->ls->fm : NULL;
    if (filt && !det) {
        r->kind = SG_R_FILTER;
        det = filt;
        r->filter_targets = str_list(rs, sg__yaml_get(filt, "rules"), &r->ntargets);
    } else {
        r->kind = SG_R_DETECTION;
    }
    if (!det || det->type != SG_Y_MAP) {
        snprintf(c->err, sizeof c->err, "rule has no detection map");
        c->fail = SG_FAIL_SCHEMA;
        return KS_ERULE;
    }
    if ((rc = compile_searches(c, r, det, &names)) != KS_OK)
        return rc;
    if ((rc = compile_condition(c, r, sg__yaml_get(det, "condition"), names)) != KS_OK)
        return rc;
    return add_rule(rs, r);
}

/* A file's parsed documents (yrc, err, eline: the parse's result). */
static int load_docs(sg_ruleset *rs, const char *path, sg_yaml **docs, size_t ndocs, int yrc,
                     const char *err, uint32_t eline)
{
    sg_yaml *global = NULL, *prev = NULL;
    const char *p = ks__arena_strndup(rs->arena, path ? path : "-", strlen(path ? path : "-"));

    if (!p)
        return KS_ENOMEM;
    rs->files++;
    for (size_t i = 0; i < ndocs; i++) {
        sg_yaml *doc = docs[i];
        const char *action = sg__yaml_str(doc, "action");
        rs->docs++;
        if (action && strcmp(action, "global") == 0) {
            global = doc;
            continue;
        }
        if (action && strcmp(action, "reset") == 0) {
            global = NULL;
            continue;
        }
        if (action && strcmp(action, "repeat") == 0)
            doc = sg__yaml_merge(rs->arena, prev, doc);
        else if (global)
            doc = sg__yaml_merge(rs->arena, global, doc);
        if (!doc)
            return KS_ENOMEM;
        prev = doc;
        /* mapping data files may sit beside rules: not rules */
        if (sg__yaml_get(doc, "logsources") || sg__yaml_get(doc, "fieldmaps")) {
            rs->docs--;
            continue;
        }
        sg_ctx c;
        memset(&c, 0, sizeof c);
        c.rs = rs;
        c.path = p;
        c.line = doc->line;
        int rc = compile_rule(&c, doc);
        if (rc == KS_ENOMEM)
            return rc;
        if (rc != KS_OK) {
            int f = c.fail ? c.fail : (rc == KS_ELIMIT ? SG_FAIL_LIMIT : SG_FAIL_SCHEMA);
            rs->failed++;
            rs->fails[f]++;
            report(rs, KS_DIAG_ERROR, p, c.at ? c.at : c.line, f, c.err[0] ? c.err : ks_strerror(rc));
            continue;
        }
        rs->loaded++;
    }
    if (yrc != KS_OK) {
        rs->failed++;
        rs->fails[SG_FAIL_YAML]++;
        report(rs, KS_DIAG_ERROR, p, eline, SG_FAIL_YAML, err);
    }
    return KS_OK;
}

/* One YAML text: every document, with collection actions. st: the file's
 * fstat when it is one (the cache remembers it with the content). */
static int load_text(sg_ruleset *rs, const char *buf, size_t n, const char *path, const struct stat *st)
{
    sg_yaml **docs = NULL;
    size_t ndocs = 0;
    char err[256];
    uint32_t eline = 0;
    int yrc = rs->yc ? sg__ycache_parse(rs->yc, rs->arena, buf, n, st, &docs, &ndocs, err, sizeof err,
                                        &eline)
                     : sg__yaml_parse(rs->arena, buf, n, &docs, &ndocs, err, sizeof err, &eline);
    if (yrc == KS_ENOMEM)
        return yrc;
    return load_docs(rs, path, docs, ndocs, yrc, err, eline);
}

int sg__ruleset_load_mem(sg_ruleset *rs, const char *buf, size_t n, const char *path)
{
    return load_text(rs, buf, n, path, NULL);
}

/* Reads a whole (small) file; NULL buf with a message in msg on failure. */
static int read_small(const char *path, char **buf, size_t *n, char *msg, size_t cap)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    size_t got = 0;
    *buf = NULL;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(msg, cap, "cannot open: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return KS_EIO;
    }
    if ((size_t)st.st_size > MAX_RULE_FILE) {
        snprintf(msg, cap, "file larger than 4 MiB");
        close(fd);
        return KS_ELIMIT;
    }
    *buf = malloc((size_t)st.st_size + 1);
    if (!*buf) {
        close(fd);
        return KS_ENOMEM;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, *buf + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    (*buf)[got] = 0;
    *n = got;
    return KS_OK;
}

int sg__ruleset_load_mappings(sg_ruleset *rs, const char *path)
{
    struct stat st;
    char msg[300];
    int rc = KS_OK;
    sg__rcache_dep(rs->rc, path, true);
    if (stat(path, &st) != 0) {
        snprintf(msg, sizeof msg, "cannot open mapping: %s", strerror(errno));
        report(rs, KS_DIAG_ERROR, path, 0, SG_FAIL_SCHEMA, msg);
        return KS_OK;
    }
    if (S_ISDIR(st.st_mode)) {
        struct dirent **ents = NULL;
        int n = scandir(path, &ents, NULL, alphasort);
        for (int i = 0; i < n; i++) {
            char sub[4096];
            size_t l = strlen(ents[i]->d_name);
            if (rc == KS_OK && ents[i]->d_name[0] != '.' && l > 4 &&
                (strcmp(ents[i]->d_name + l - 4, ".yml") == 0 ||
                 strcmp(ents[i]->d_name + l - 5, ".yaml") == 0) &&
                (size_t)snprintf(sub, sizeof sub, "%s/%s", path, ents[i]->d_name) < sizeof sub)
                rc = sg__ruleset_load_mappings(rs, sub);
            free(ents[i]);
        }
        free(ents);
        return rc;
    }
    char *buf = NULL;
    size_t n = 0;
    rc = read_small(path, &buf, &n, msg, sizeof msg);
    if (rc == KS_OK)
        rc = sg__map_load_mem(rs, buf, n, path);
    else if (rc != KS_ENOMEM)
        report(rs, KS_DIAG_ERROR, path, 0, SG_FAIL_SCHEMA, msg), rc = KS_OK;
    free(buf);
    return rc;
}

static int load_file(sg_ruleset *rs, const char *path)
{
    struct stat st;
    char *buf = NULL;
    int rc = KS_OK;
    char msg[300];
    sg__rcache_dep(rs->rc, path, false);
    if (rs->yc && lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= MAX_RULE_FILE) {
        /* unchanged since a former run hashed it: its trees, unread */
        sg_yaml **docs = NULL;
        size_t ndocs = 0;
        uint32_t eline = 0;
        int yrc;
        if (sg__ycache_known(rs->yc, rs->arena, &st, &docs, &ndocs, msg, sizeof msg, &eline, &yrc))
            return load_docs(rs, path, docs, ndocs, yrc, msg, eline);
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
        report(rs, KS_DIAG_ERROR, path, 0, SG_FAIL_YAML, msg);
        rs->failed++;
        rs->fails[SG_FAIL_YAML]++;
        goto out;
    }
    if ((size_t)st.st_size > MAX_RULE_FILE) {
        report(rs, KS_DIAG_ERROR, path, 0, SG_FAIL_LIMIT, "rule file larger than 4 MiB");
        rs->failed++;
        rs->fails[SG_FAIL_LIMIT]++;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = KS_ENOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    rc = load_text(rs, buf, got, path, got == (size_t)st.st_size ? &st : NULL);
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

static bool yaml_name(const char *n)
{
    size_t l = strlen(n);
    return (l > 4 && strcmp(n + l - 4, ".yml") == 0) || (l > 5 && strcmp(n + l - 5, ".yaml") == 0);
}

static int load_dir(sg_ruleset *rs, const char *path, int depth)
{
    struct dirent **ents = NULL;
    int n, rc = KS_OK;
    if (depth > MAX_DIR_DEPTH)
        return KS_OK;
    sg__rcache_dep(rs->rc, path, depth == 0); /* an entry added, removed or renamed moves its times */
    n = scandir(path, &ents, NULL, alphasort);
    if (n < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot read directory: %s", strerror(errno));
        report(rs, KS_DIAG_ERROR, path, 0, SG_FAIL_YAML, msg);
        return KS_OK;
    }
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        char sub[4096];
        struct stat st;
        /* the entry's type when the file system gives it: a stat per file
         * was a tenth of the start-up with every SigmaHQ rule */
        unsigned char t = ents[i]->d_type;
        if (rc == KS_OK && nm[0] != '.' &&
            (size_t)snprintf(sub, sizeof sub, "%s/%s", path, nm) < sizeof sub &&
            (t == DT_DIR || t == DT_REG || lstat(sub, &st) == 0)) {
            bool isdir = t == DT_DIR || (t != DT_REG && S_ISDIR(st.st_mode));
            bool isreg = t == DT_REG || (t != DT_DIR && S_ISREG(st.st_mode));
            if (isdir && strcmp(nm, "mappings") != 0)
                rc = load_dir(rs, sub, depth + 1);
            else if (isreg && yaml_name(nm))
                rc = load_file(rs, sub);
        }
        free(ents[i]);
    }
    free(ents);
    return rc;
}

int sg__ruleset_load_path(sg_ruleset *rs, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        char msg[300];
        sg__rcache_dep(rs->rc, path, true); /* must stay missing */
        snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
        report(rs, KS_DIAG_ERROR, path, 0, SG_FAIL_YAML, msg);
        return KS_OK;
    }
    return S_ISDIR(st.st_mode) ? load_dir(rs, path, 0) : load_file(rs, path);
}

/* ---- references ------------------------------------------------------------------ */

sg_rule *sg__rule_find(sg_ruleset *rs, const char *ref)
{
    for (size_t i = 0; i < rs->nrules; i++) {
        sg_rule *r = rs->rules[i];
        if ((r->id && strcmp(r->id, ref) == 0) || (r->name && strcmp(r->name, ref) == 0))
            return r;
    }
    return NULL;
}

int sg__link_add(ks_arena *a, void *pv, uint32_t *n, void *p)
{
    void **old, **nv = ks__arena_alloc(a, (*n + 1) * sizeof *nv);
    if (!nv)
        return KS_ENOMEM;
    /* pv points at a T **: copied, not read as a void ** (aliasing rules) */
    memcpy(&old, pv, sizeof old);
    if (*n)
        memcpy(nv, old, *n * sizeof *nv);
    nv[(*n)++] = p;
    memcpy(pv, &nv, sizeof nv);
    return KS_OK;
}

int sg__ruleset_finish(sg_ruleset *rs)
{
    /* filters: AND NOT... into their targets (the filter's condition must hold) */
    for (size_t i = 0; i < rs->nrules; i++) {
        sg_rule *f = rs->rules[i];
        if (f->kind != SG_R_FILTER)
            continue;
        for (size_t k = 0; k < f->ntargets; k++) {
            sg_rule *t = sg__rule_find(rs, f->filter_targets[k]);
            if (!t || t->kind != SG_R_DETECTION) {
                char msg[200];
                snprintf(msg, sizeof msg, "filter names unknown rule '%.80s'", f->filter_targets[k]);
                report(rs, KS_DIAG_WARN, f->path, f->line, SG_FAIL_REFERENCE, msg);
                continue;
            }
            if (sg__link_add(rs->arena, &t->filters, &t->nfilters, f) != KS_OK)
                return KS_ENOMEM;
        }
    }
    int rc = sg__corr_resolve(rs);
    for (size_t i = 0; i < rs->nrules; i++)
        if (rs->rules[i]->kind == SG_R_DETECTION && !rs->rules[i]->ls)
            rs->unmapped++;
    return rc;
}
