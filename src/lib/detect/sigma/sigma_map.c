/* SPDX-License-Identifier: Apache-2.0
 *
 * Logsource and field-name mapping, read from data files (YAML) so users
 * can add their own without touching code (docs/SIGMA.md, rules/sigma/
 * mappings/):
 *
 *   fieldmaps:
 *     windows:
 *       prefixes: ['', 'Event.EventData.', 'winlog.event_data.']
 *       fields:
 *         EventID: [Event.System.EventID, EventID, winlog.event_id]
 *   logsources:
 *     - product: windows
 *       service: security
 *       fieldmap: windows
 *       condition:              # a Sigma search, ANDed into every rule
 *         Channel: Security
 *
 * A Sigma field name becomes a list of candidate event paths (the first
 * present in an event wins): its explicit `fields` entry taken literally, or
 * else the name behind every prefix. A rule's logsource picks the entry that
 * names its category and service and matches all the keys the entry sets;
 * later files win ties, so a user file overrides the bundled one. Rules
 * whose logsource no entry covers are "unmapped" and do not run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sigma_int.h"

#define MAX_CANDIDATES 32

typedef struct fm_field {
    const char *name;      /* Sigma field name */
    const sg_yaml *paths;  /* scalar or seq of event paths */
} fm_field;

struct sg_fieldmap {
    const char *name;
    const sg_yaml *prefixes;  /* seq of strings, or NULL (name as is) */
    bool vary_case;           /* also try the name with its first letter
                                 lower/upper case (camelCase vs PascalCase) */
    fm_field *fields;
    size_t nfields, capfields;
};

typedef struct ls_entry {
    const char *product, *category, *service;
    const char *fieldmap;
    const sg_yaml *cond;      /* Sigma search or NULL */
    const char *path;
    uint32_t line;
    sg_lsrc *compiled;        /* built on first use */
    bool failed;
} ls_entry;

struct sg_mapping {
    sg_fieldmap **fms;
    size_t nfms, capfms;
    ls_entry *ents;
    size_t nents, capents;
};

static int grow(void **p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return KS_OK;
    size_t nc = *cap ? *cap * 2 : 16;
    if (nc > 100000)
        return KS_ELIMIT;
    void *q = realloc(*p, nc * elem);
    if (!q)
        return KS_ENOMEM;
    *p = q;
    *cap = nc;
    return KS_OK;
}

static struct sg_mapping *mapping(sg_ruleset *rs)
{
    if (!rs->map)
        rs->map = calloc(1, sizeof *rs->map);
    return rs->map;
}

static sg_fieldmap *fieldmap_get(sg_ruleset *rs, const char *name, bool create)
{
    struct sg_mapping *m = mapping(rs);
    if (!m || !name)
        return NULL;
    for (size_t i = 0; i < m->nfms; i++)
        if (strcmp(m->fms[i]->name, name) == 0)
            return m->fms[i];
    if (!create || grow((void **)&m->fms, &m->capfms, m->nfms, sizeof *m->fms) != KS_OK)
        return NULL;
    sg_fieldmap *fm = calloc(1, sizeof *fm);
    if (!fm)
        return NULL;
    fm->name = name;
    m->fms[m->nfms++] = fm;
    return fm;
}

static void diag(sg_ruleset *rs, const char *path, uint32_t line, const char *msg)
{
    if (rs->diag)
        rs->diag(rs->diag_ud, KS_DIAG_ERROR, path, line, SG_FAIL_SCHEMA, msg);
}

int sg__map_load_mem(sg_ruleset *rs, const char *buf, size_t n, const char *path)
{
    sg_yaml **docs = NULL;
    size_t ndocs = 0;
    char err[256];
    uint32_t eline;
    struct sg_mapping *m = mapping(rs);
    int rc;

    if (!m)
        return KS_ENOMEM;
    path = ks__arena_strndup(rs->arena, path, strlen(path));
    if (!path)
        return KS_ENOMEM;
    if ((rc = sg__yaml_parse(rs->arena, buf, n, &docs, &ndocs, err, sizeof err, &eline)) != KS_OK) {
        diag(rs, path, eline, err);
        if (rc == KS_ENOMEM)
            return rc;
    }
    for (size_t d = 0; d < ndocs; d++) {
        const sg_yaml *fms = sg__yaml_get(docs[d], "fieldmaps");
        const sg_yaml *lss = sg__yaml_get(docs[d], "logsources");
        for (size_t i = 0; fms && fms->type == SG_Y_MAP && i + 1 < fms->nkids; i += 2) {
            sg_fieldmap *fm = fieldmap_get(rs, fms->kids[i]->s, true);
            const sg_yaml *def = fms->kids[i + 1];
            if (!fm)
                return KS_ENOMEM;
            const sg_yaml *pre = sg__yaml_get(def, "prefixes");
            if (pre)
                fm->prefixes = pre;
            const char *vc = sg__yaml_str(def, "vary_case");
            if (vc)
                fm->vary_case = strcmp(vc, "true") == 0 || strcmp(vc, "yes") == 0;
            const sg_yaml *fields = sg__yaml_get(def, "fields");
            for (size_t k = 0; fields && fields->type == SG_Y_MAP && k + 1 < fields->nkids; k += 2) {
                if ((rc = grow((void **)&fm->fields, &fm->capfields, fm->nfields,
                               sizeof *fm->fields)) != KS_OK)
                    return rc;
                fm->fields[fm->nfields].name = fields->kids[k]->s;
                fm->fields[fm->nfields++].paths = fields->kids[k + 1];
            }
        }
        for (size_t i = 0; lss && lss->type == SG_Y_SEQ && i < lss->nkids; i++) {
            const sg_yaml *e = lss->kids[i];
            if (e->type != SG_Y_MAP) {
                diag(rs, path, e->line, "logsource entry must be a map");
                continue;
            }
            if ((rc = grow((void **)&m->ents, &m->capents, m->nents, sizeof *m->ents)) != KS_OK)
                return rc;
            ls_entry *le = &m->ents[m->nents++];
            memset(le, 0, sizeof *le);
            le->product = sg__yaml_str(e, "product");
            le->category = sg__yaml_str(e, "category");
            le->service = sg__yaml_str(e, "service");
            le->fieldmap = sg__yaml_str(e, "fieldmap");
            le->cond = sg__yaml_get(e, "condition");
            le->path = path;
            le->line = e->line;
        }
    }
    return KS_OK;
}

static bool same(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

/* Specificity score of an entry for a logsource, -1 if it does not apply. */
static int score(const ls_entry *e, const char *product, const char *category, const char *service)
{
    int s = 0;
    if (e->product && !same(e->product, product))
        return -1;
    if (e->category ? !same(e->category, category) : category != NULL)
        return -1;
    if (e->service ? !same(e->service, service) : service != NULL)
        return -1;
    s += e->product ? 1 : 0;
    s += e->category ? 2 : 0;
    s += e->service ? 2 : 0;
    return s;
}

const sg_lsrc *sg__map_logsource(sg_ruleset *rs, const char *product, const char *category,
                                 const char *service)
{
    struct sg_mapping *m = rs->map;
    ls_entry *best = NULL;
    int bs = -1;
    if (!m || (!product && !category && !service))
        return NULL;
    for (size_t i = 0; i < m->nents; i++) {
        int s = score(&m->ents[i], product, category, service);
        if (s >= bs && s >= 0) { /* later entries win ties */
            bs = s;
            best = &m->ents[i];
        }
    }
    if (!best || best->failed)
        return NULL;
    if (best->compiled)
        return best->compiled;
    sg_lsrc *ls = ks__arena_alloc(rs->arena, sizeof *ls);
    if (!ls)
        return NULL;
    memset(ls, 0, sizeof *ls);
    ls->key = ks__arena_printf(rs->arena, "%s/%s/%s", best->product ? best->product : "*",
                               best->category ? best->category : "*",
                               best->service ? best->service : "*");
    ls->fm = fieldmap_get(rs, best->fieldmap, false);
    if (best->cond) {
        sg_ctx c;
        memset(&c, 0, sizeof c);
        c.rs = rs;
        c.path = best->path;
        c.line = best->line;
        c.fm = ls->fm;
        if (sg__compile_search(&c, "logsource", best->cond, &ls->cond) != KS_OK) {
            diag(rs, best->path, best->line, c.err);
            best->failed = true;
            return NULL;
        }
        ls->has_cond = true;
    }
    if (grow((void **)&rs->lsrcs, &rs->caplsrcs, rs->nlsrcs, sizeof *rs->lsrcs) != KS_OK)
        return NULL;
    ls->idx = (uint32_t)rs->nlsrcs;
    rs->lsrcs[rs->nlsrcs++] = ls;
    best->compiled = ls;
    return ls;
}

static int add_sym(sg_ruleset *rs, ks_sym *out, uint32_t *n, const char *a, size_t an,
                   const char *b, size_t bn)
{
    char buf[512];
    if (*n >= MAX_CANDIDATES || an + bn >= sizeof buf)
        return KS_OK;
    memcpy(buf, a, an);
    memcpy(buf + an, b, bn);
    ks_sym s = ks_symtab_intern(rs->syms, buf, an + bn);
    if (!s)
        return KS_ELIMIT;
    for (uint32_t i = 0; i < *n; i++)
        if (out[i] == s)
            return KS_OK;
    out[(*n)++] = s;
    return KS_OK;
}

/* The name behind every prefix (and in both first-letter cases). */
static int expand(sg_ruleset *rs, const sg_fieldmap *fm, ks_sym *out, uint32_t *k,
                  const char *field, size_t n)
{
    char alt[256];
    int rc = KS_OK;
    size_t np = fm && fm->prefixes && fm->prefixes->type == SG_Y_SEQ ? fm->prefixes->nkids : 0;
    bool vary = fm && fm->vary_case && n && n < sizeof alt;
    if (vary) {
        memcpy(alt, field, n);
        char c = alt[0];
        alt[0] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c >= 'A' && c <= 'Z' ? c + 32 : c);
        vary = alt[0] != c;
    }
    if (!np) {
        rc = add_sym(rs, out, k, field, n, "", 0);
        if (rc == KS_OK && vary)
            rc = add_sym(rs, out, k, alt, n, "", 0);
        return rc;
    }
    for (size_t i = 0; i < np && rc == KS_OK; i++) {
        const sg_yaml *p = fm->prefixes->kids[i];
        if (p->type != SG_Y_SCALAR)
            continue;
        rc = add_sym(rs, out, k, p->s, p->n, field, n);
        if (rc == KS_OK && vary)
            rc = add_sym(rs, out, k, p->s, p->n, alt, n);
    }
    return rc;
}

int sg__map_field(sg_ruleset *rs, const sg_fieldmap *fm, const char *field, size_t n,
                  const ks_sym **syms, uint32_t *nsyms)
{
    ks_sym tmp[MAX_CANDIDATES];
    uint32_t k = 0;
    int rc = KS_OK;
    const sg_yaml *paths = NULL;

    for (size_t i = 0; fm && i < fm->nfields; i++)
        if (strlen(fm->fields[i].name) == n && memcmp(fm->fields[i].name, field, n) == 0)
            paths = fm->fields[i].paths; /* last definition wins */
    if (paths) {
        /* explicit paths are taken literally; "@Name" means Name behind the prefixes */
        size_t cnt = paths->type == SG_Y_SEQ ? paths->nkids : 1;
        for (size_t i = 0; i < cnt && rc == KS_OK; i++) {
            const sg_yaml *p = paths->type == SG_Y_SEQ ? paths->kids[i] : paths;
            if (p->type != SG_Y_SCALAR || !p->n)
                continue;
            if (p->s[0] == '@')
                rc = expand(rs, fm, tmp, &k, p->s + 1, p->n - 1);
            else
                rc = add_sym(rs, tmp, &k, p->s, p->n, "", 0);
        }
    } else {
        rc = expand(rs, fm, tmp, &k, field, n);
    }
    if (rc != KS_OK)
        return rc;
    ks_sym *out = ks__arena_alloc(rs->arena, (k + 1) * sizeof *out);
    if (!out)
        return KS_ENOMEM;
    memcpy(out, tmp, k * sizeof *out);
    *syms = out;
    *nsyms = k;
    return KS_OK;
}

void sg__map_free(sg_ruleset *rs)
{
    struct sg_mapping *m = rs->map;
    if (!m)
        return;
    for (size_t i = 0; i < m->nfms; i++) {
        free(m->fms[i]->fields);
        free(m->fms[i]);
    }
    free(m->fms);
    free(m->ents);
    free(m);
    rs->map = NULL;
}
