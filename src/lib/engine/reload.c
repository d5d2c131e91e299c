/* SPDX-License-Identifier: Apache-2.0
 *
 * Saved runs back into the finding store (ks_engine_report): each evidence
 * path is a JSON lines file of findings (schema kensa.finding/1, what
 * --json writes; .gz/.zst and - for stdin work as for evidence) and its
 * findings are emitted as if a hunt had found them, so every output renders
 * a saved run, or several runs merged (one report for many hosts), without
 * reading the evidence again.
 *
 * Each line goes through the JSON flattener (json.h) into a scratch event;
 * the finding is rebuilt from its paths (techniques.N, evidence.N.path,
 * matched.KEY, details.KEY). A finding that appears in two runs (same rule,
 * times, first evidence and matched values) is kept once. A line that is
 * not a kensa finding is a located warning; a file with none is an error.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"
#include "input/json.h"

#define MAX_LINE ((size_t)64 << 20)
#define MAX_LIST 256
#define MAX_VALUES 4096         /* values[] of a personal-data finding */

typedef struct rebuilt {
    ks_finding f;
    const char *tech[MAX_LIST];
    ks_evidence ev[MAX_LIST];
    ks_kv matched[MAX_LIST];
    ks_kv details[MAX_LIST];
    ks_fvalue values[MAX_VALUES];
} rebuilt;

/* A scratch string for the event's lifetime (values are slices). */
static const char *cstr(ks_event *ev, const ks_value *v)
{
    char tmp[64];
    if (v->type == KS_VNULL)
        return NULL;
    if (v->type == KS_VSTR)
        return ks__arena_strndup(ev->arena, v->u.s.p, v->u.s.n);
    ks_value_format(v, tmp, sizeof tmp);
    return ks__arena_strndup(ev->arena, tmp, strlen(tmp));
}

static uint64_t num(const ks_value *v)
{
    if (v->type == KS_VUINT)
        return v->u.u;
    if (v->type == KS_VINT && v->u.i >= 0)
        return (uint64_t)v->u.i;
    if (v->type == KS_VFLOAT && v->u.f >= 0)
        return (uint64_t)v->u.f;
    return 0;
}

static int64_t tval(const ks_value *v)
{
    int64_t t = KS_TIME_NONE;
    if (v->type == KS_VTIME)
        return v->u.t;
    if (v->type == KS_VSTR && ks_time_parse(v->u.s.p, v->u.s.n, &t) != KS_OK)
        t = KS_TIME_NONE;
    return t;
}

/* "evidence.3.path" -> index 3, member "path". */
static bool indexed(const char *name, const char *prefix, size_t *idx, const char **member)
{
    size_t pl = strlen(prefix);
    char *end = NULL;
    if (strncmp(name, prefix, pl) != 0 || name[pl] < '0' || name[pl] > '9')
        return false;
    unsigned long v = strtoul(name + pl, &end, 10);
    if (v >= MAX_LIST)
        return false;
    *idx = v;
    *member = *end == '.' ? end + 1 : end;
    return true;
}

static void grow_to(size_t *n, size_t idx)
{
    if (idx + 1 > *n)
        *n = idx + 1;
}

/* A member of a saved finding, its evidence or its values: the JSON name
 * and where it goes in the struct, as what kind of value. */
enum mkind { M_STR, M_NUM, M_TIME };
typedef struct member {
    const char *name;        /* after "evidence.N." / "values.N.", or top level */
    size_t off;              /* offsetof in ks_finding / ks_evidence / ks_fvalue */
    enum mkind kind;         /* const char *, uint64_t, int64_t (ns) */
} member;

#define MEMBER(T, name, field, kind) {name, offsetof(T, field), kind}
static const member finding_members[] = {
    MEMBER(ks_finding, "rule_id", rule_id, M_STR),
    MEMBER(ks_finding, "title", title, M_STR),
    MEMBER(ks_finding, "detector", detector, M_STR),
    MEMBER(ks_finding, "description", description, M_STR),
    MEMBER(ks_finding, "first", first, M_TIME),
    MEMBER(ks_finding, "last", last, M_TIME),
    MEMBER(ks_finding, "event_count", event_count, M_NUM),
};
static const member evidence_members[] = {
    MEMBER(ks_evidence, "path", path, M_STR),
    MEMBER(ks_evidence, "format", format, M_STR),
    MEMBER(ks_evidence, "record", record, M_NUM),
    MEMBER(ks_evidence, "line", line, M_NUM),
    MEMBER(ks_evidence, "offset", offset, M_NUM),
    MEMBER(ks_evidence, "time", time, M_TIME),
    MEMBER(ks_evidence, "host", host, M_STR),
    MEMBER(ks_evidence, "channel", channel, M_STR),
    MEMBER(ks_evidence, "event_id", event_id, M_STR),
    MEMBER(ks_evidence, "record_id", record_id, M_STR),
    MEMBER(ks_evidence, "user", user, M_STR),
    MEMBER(ks_evidence, "target_user", target_user, M_STR),
    MEMBER(ks_evidence, "source", source, M_STR),
};
static const member value_members[] = {
    MEMBER(ks_fvalue, "type", type, M_STR),
    MEMBER(ks_fvalue, "value_sha256", sha256, M_STR),
    MEMBER(ks_fvalue, "redacted", redacted, M_STR),
    MEMBER(ks_fvalue, "value", clear, M_STR),
    MEMBER(ks_fvalue, "count", count, M_NUM),
};
#undef MEMBER

/* Sets member m of the struct at base from v; false when m is not one of
 * the n in tab. */
static bool set_member(void *base, const member *tab, size_t n, const char *m, ks_event *ev,
                       const ks_value *v)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(tab[i].name, m))
            continue;
        char *at = (char *)base + tab[i].off;
        if (tab[i].kind == M_STR) {
            const char *x = cstr(ev, v);
            memcpy(at, &x, sizeof x);
        } else if (tab[i].kind == M_NUM) {
            uint64_t x = num(v);
            memcpy(at, &x, sizeof x);
        } else {
            int64_t x = tval(v);
            memcpy(at, &x, sizeof x);
        }
        return true;
    }
    return false;
}

/* "values.N.member": N may exceed MAX_LIST (personal-data findings). */
static bool value_index(const char *name, size_t *idx, const char **member)
{
    char *end = NULL;
    if (strncmp(name, "values.", 7) != 0 || name[7] < '0' || name[7] > '9')
        return false;
    unsigned long v = strtoul(name + 7, &end, 10);
    if (v >= MAX_VALUES || *end != '.')
        return false;
    *idx = v;
    *member = end + 1;
    return true;
}

/* Fills r from the flattened line; false when it is not a kensa finding. */
static bool rebuild(rebuilt *r, ks_event *ev, const ks_symtab *syms)
{
    bool schema = false;
    memset(&r->f, 0, sizeof r->f);
    for (size_t i = 0; i < MAX_LIST; i++)
        r->ev[i] = (ks_evidence){.offset = UINT64_MAX, .time = KS_TIME_NONE};
    memset(r->values, 0, sizeof r->values);
    r->f.first = r->f.last = KS_TIME_NONE;
    r->f.techniques = r->tech;
    r->f.evidence = r->ev;
    r->f.matched = r->matched;
    r->f.details = r->details;
    r->f.values = r->values;
    for (size_t i = 0; i < ks_event_nfields(ev); i++) {
        const ks_field *fl = ks_event_field(ev, i);
        const char *name = ks_symtab_str(syms, fl->name, NULL);
        const ks_value *v = &fl->v;
        size_t idx;
        const char *m;
        if (!name)
            continue;
        if (set_member(&r->f, finding_members, KS_ARRAY_LEN(finding_members), name, ev, v))
            continue;
        if (!strcmp(name, "schema"))
            schema = v->type == KS_VSTR && v->u.s.n == 15 && !memcmp(v->u.s.p, "kensa.finding/1", 15);
        else if (!strcmp(name, "severity")) {
            int s = ks_severity_parse(cstr(ev, v));
            r->f.severity = s < 0 ? KS_SEV_INFO : (ks_severity)s;
        } else if (indexed(name, "techniques.", &idx, &m) && !*m) {
            r->tech[idx] = cstr(ev, v);
            grow_to(&r->f.ntechniques, idx);
        } else if (indexed(name, "evidence.", &idx, &m)) {
            grow_to(&r->f.nevidence, idx);
            set_member(&r->ev[idx], evidence_members, KS_ARRAY_LEN(evidence_members), m, ev, v);
        } else if (!strncmp(name, "matched.", 8) && r->f.nmatched < MAX_LIST)
            r->matched[r->f.nmatched++] = (ks_kv){name + 8, cstr(ev, v)};
        else if (!strncmp(name, "details.", 8) && r->f.ndetails < MAX_LIST)
            r->details[r->f.ndetails++] = (ks_kv){name + 8, cstr(ev, v)};
        else if (value_index(name, &idx, &m)) {
            grow_to(&r->f.nvalues, idx);
            set_member(&r->values[idx], value_members, KS_ARRAY_LEN(value_members), m, ev, v);
        }
    }
    /* Holes (an index never seen) would be NULL strings: close them up. */
    size_t k = 0;
    for (size_t i = 0; i < r->f.ntechniques; i++)
        if (r->tech[i])
            r->tech[k++] = r->tech[i];
    r->f.ntechniques = k;
    return schema && r->f.rule_id;
}

/* Same rule, times, first evidence and matched values: one finding. */
static bool seen_before(ks_map *seen, const ks_finding *f)
{
    ks_buf k = KS_BUF_INIT;
    bool dup = false;
    ks__buf_printf(&k, "%s|%" PRId64 "|%" PRId64 "|%" PRIu64, f->rule_id, f->first, f->last,
                   f->event_count);
    if (f->nevidence)
        ks__buf_printf(&k, "|%s|%" PRIu64 "|%" PRIu64 "|%" PRIu64,
                       f->evidence[0].path ? f->evidence[0].path : "", f->evidence[0].record,
                       f->evidence[0].line, f->evidence[0].offset);
    for (size_t i = 0; i < f->nmatched; i++)
        ks__buf_printf(&k, "|%s=%s", f->matched[i].key, f->matched[i].value);
    uint64_t *slot = k.p ? ks__map_slot(seen, k.p, k.n, true) : NULL;
    if (slot) {
        dup = *slot != 0;
        *slot = 1;
    }
    ks__buf_release(&k);
    return dup;
}

static int load_one(ks_engine *e, const char *path, ks_event *ev, rebuilt *r, ks_map *seen)
{
    ks_source *src = NULL;
    ks_lines lines;
    char err[256] = "";
    const char *line;
    size_t n;
    uint64_t lineno, off, nfound = 0, nbad = 0;
    ks_loc loc = KS_LOC_NONE;
    int rc = ks__source_open(AT_FDCWD, NULL, path, &src, err, sizeof err);
    loc.path = path;
    if (rc != KS_OK) {
        ks__diag(e, KS_DIAG_ERROR, rc, "report", &loc, "%s", err);
        return rc;
    }
    ks__lines_init(&lines, src, MAX_LINE);
    while ((rc = ks__lines_next(&lines, &line, &n, &lineno, &off)) != KS_EOF) {
        uint64_t eoff = 0;
        const char *why = NULL;
        loc.line = lineno;
        loc.offset = off;
        if (rc != KS_OK) {
            if (rc != KS_ELIMIT)
                break;
            nbad++;
            continue;
        }
        if (n == 0)
            continue;
        ks__event_reset(ev);
        if (ks__json_flatten(ev, "", 0, line, n, &eoff, &why) != KS_OK || !rebuild(r, ev, e->syms)) {
            if (nbad++ < 5)
                ks__diag(e, KS_DIAG_WARN, KS_EFORMAT, "report", &loc,
                         "not a kensa finding (schema kensa.finding/1)%s%s", why ? ": " : "",
                         why ? why : "");
            continue;
        }
        nfound++;
        if (seen_before(seen, &r->f))
            continue;
        if ((rc = ks__emit(e, &r->f)) != KS_OK)
            break;
    }
    if (rc == KS_EIO || rc == KS_EFORMAT)
        ks__diag(e, KS_DIAG_ERROR, rc, "report", &loc, "read error: %s", ks_strerror(rc));
    ks__source_close(src);
    loc.line = 0;
    loc.offset = UINT64_MAX;
    if (!nfound) {
        ks__diag(e, KS_DIAG_ERROR, KS_EFORMAT, "report", &loc,
                 "no kensa findings in this file (%" PRIu64 " other lines)", nbad);
        return KS_EFORMAT;
    }
    KS_STAT_ADD(e, files_parsed, 1);
    return rc == KS_EOF || rc == KS_OK ? KS_OK : rc;
}

int ks_engine_report(ks_engine *e)
{
    ks_event ev;
    rebuilt *r = NULL;
    ks_map *seen = NULL;
    int rc = KS_ENOMEM;
    uint64_t t0 = ks__now_ns();
    memset(&ev, 0, sizeof ev);
    if (e->ran) {
        ks__seterr(e, "an engine runs once; create a new one");
        return KS_EUSAGE;
    }
    e->ran = true;
    if ((rc = ks_engine_open_outputs(e)) != KS_OK)
        return rc;
    rc = KS_ENOMEM;
    ev.syms = e->syms;
    ev.cache = ks__symcache_new(e->syms);
    ev.arena = ks__arena_new(65536, MAX_LINE * 4);
    r = malloc(sizeof *r);
    seen = ks__map_new(1024);
    if (!ev.cache || !ev.arena || !r || !seen)
        goto out;
    rc = KS_OK;
    for (size_t i = 0; i < e->npaths; i++) {
        KS_STAT_ADD(e, files_seen, 1);
        load_one(e, e->paths[i], &ev, r, seen); /* errors are diagnostics */
    }
    ks__findings_sort(e);
out:
    free(ev.fields);
    ks__arena_free(ev.arena);
    ks__symcache_free(ev.cache);
    ks__map_free(seen);
    free(r);
    e->stats.seconds = (double)(ks__now_ns() - t0) / 1e9;
    ks__outputs_close(e);
    return rc;
}
