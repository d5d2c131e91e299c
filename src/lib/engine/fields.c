/* SPDX-License-Identifier: Apache-2.0
 *
 * The field schema (fields.def) at work. Each interned name is classified
 * once, when the symbol table first sees it (ks__symtab_set_classifier): the
 * schema rows it is an alternate of, at most two, packed into the symbol's
 * entry. When an input has filled an event, ks__event_finish() makes one
 * pass over its fields and keeps, per canonical field, the index of the
 * best-ranked alternate present; ks__field() and ks_event_get() on a
 * canonical name then cost one array read.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"

typedef struct alt_row {
    int field;          /* KS_F_* */
    const char *source; /* "windows", "entra", ... */
    const char *name;   /* as in the table ("@Leaf": behind Windows prefixes) */
} alt_row;

static const char *const canon[KS_F_COUNT] = {
#define KS_FIELD(id, name, doc) name,
#define KS_ALT(id, source, name)
#include "fields.def"
#undef KS_ALT
#undef KS_FIELD
};

static const alt_row alts[] = {
#define KS_FIELD(id, name, doc)
#define KS_ALT(id, source, name) {KS_F_##id, source, name},
#include "fields.def"
#undef KS_ALT
#undef KS_FIELD
};

/* A class is 1..KS_F_COUNT for a canonical name (rank 0), or
 * KS_F_COUNT + 1 + row for alternate row `row` (rank row + 1). */
#define CLS_ALT0 (KS_F_COUNT + 1)

static int cls_field(unsigned c)
{
    return c < CLS_ALT0 ? (int)c - 1 : alts[c - CLS_ALT0].field;
}

static unsigned cls_rank(unsigned c)
{
    return c < CLS_ALT0 ? 0 : c - CLS_ALT0 + 1;
}

const char *ks__field_name(int f)
{
    return f >= 0 && f < KS_F_COUNT ? canon[f] : NULL;
}

int ks__field_find(const char *name)
{
    for (int f = 0; f < KS_F_COUNT; f++)
        if (!strcmp(canon[f], name))
            return f;
    return -1;
}

/* ---- header names of exports (the csv input) ------------------------------------ */

size_t ks__header_norm(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        int c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c += 32;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out[k++] = (char)c;
    }
    out[k] = 0;
    return k;
}

/* Normalised names, built once: [0, KS_F_COUNT) canonical, then the rows. */
#define HDR_MAX 48
static char hdr_names[KS_F_COUNT + KS_ARRAY_LEN(alts)][HDR_MAX];
static pthread_once_t hdr_once = PTHREAD_ONCE_INIT;

static void hdr_build(void)
{
    for (int f = 0; f < KS_F_COUNT; f++)
        ks__header_norm(canon[f], strlen(canon[f]), hdr_names[f], HDR_MAX);
    for (size_t i = 0; i < KS_ARRAY_LEN(alts); i++)
        ks__header_norm(alts[i].name, strlen(alts[i].name), hdr_names[KS_F_COUNT + i], HDR_MAX);
}

int ks__field_of_header(const char *s, size_t n, const char *const *sources, const char **src)
{
    char want[HDR_MAX];
    if (n >= HDR_MAX || !ks__header_norm(s, n, want, sizeof want))
        return -1;
    pthread_once(&hdr_once, hdr_build);
    for (size_t i = 0; i < KS_ARRAY_LEN(alts); i++) {
        if (alts[i].name[0] == '@' || strcmp(want, hdr_names[KS_F_COUNT + i]))
            continue;
        for (size_t j = 0; sources[j]; j++)
            if (!strcmp(sources[j], alts[i].source)) {
                *src = alts[i].source;
                return alts[i].field;
            }
    }
    for (int f = 0; f < KS_F_COUNT; f++)
        if (!strcmp(want, hdr_names[f])) {
            *src = "canonical";
            return f;
        }
    return -1;
}

const char *ks__field_alt(int f, const char *source)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(alts); i++)
        if (alts[i].field == f && !strcmp(alts[i].source, source))
            return alts[i].name;
    return NULL;
}

/* ---- classifying names ------------------------------------------------------------ */

/* The classes of a table name: its canonical field and the alternate rows
 * that spell it, at most two. A linear scan, run once per distinct name the
 * symbol table ever sees (then kept with the symbol). */
static uint32_t lookup(const char *s, size_t n)
{
    uint32_t c = 0;
    int k = 0;
    for (int f = 0; f < KS_F_COUNT && k < 2; f++)
        if (canon[f][0] == s[0] && strlen(canon[f]) == n && !memcmp(canon[f], s, n))
            c |= (uint32_t)(f + 1) << (16 * k++);
    for (size_t i = 0; i < KS_ARRAY_LEN(alts) && k < 2; i++)
        if (alts[i].name[0] == s[0] && strlen(alts[i].name) == n && !memcmp(alts[i].name, s, n) &&
            (!c || cls_field(c & 0xffff) != alts[i].field))
            c |= (uint32_t)(CLS_ALT0 + i) << (16 * k++);
    return c;
}

/* The Windows event data prefixes a "@Leaf" row stands behind. */
static const char *const win_prefixes[] = {"Event.EventData.", "winlog.event_data.", "EventData.",
                                           "event_data."};

/* Both classes of a and b, at most two, without repeats. */
static uint32_t merge(uint32_t a, uint32_t b)
{
    for (; b; b >>= 16) {
        uint32_t c = b & 0xffff;
        if ((a & 0xffff) == c || (a >> 16) == c)
            continue;
        if (!(a & 0xffff))
            a = c;
        else if (!(a >> 16))
            a |= c << 16;
    }
    return a;
}

uint32_t ks__fields_classify(void *ctx, const char *s, size_t n)
{
    char key[256];
    uint32_t c = n ? lookup(s, n) : 0;
    (void)ctx;
    if (n + 1 >= sizeof key)
        return c;
    const char *leaf = s;
    size_t ln = n;
    for (size_t i = 0; i < KS_ARRAY_LEN(win_prefixes); i++) {
        size_t pl = strlen(win_prefixes[i]);
        if (n > pl && !memcmp(s, win_prefixes[i], pl)) {
            leaf = s + pl;
            ln = n - pl;
            break;
        }
    }
    if (leaf == s && n > 16 && !memcmp(s, "Event.UserData.", 15)) {
        const char *dot = memrchr(s, '.', n);
        leaf = dot + 1;
        ln = (size_t)(s + n - leaf);
    }
    key[0] = '@';
    memcpy(key + 1, leaf, ln);
    return merge(c, lookup(key, ln + 1));
}

ks_symtab *ks__symtab_new_schema(void)
{
    ks_symtab *t = ks__symtab_new();
    if (t)
        ks__symtab_set_classifier(t, ks__fields_classify, NULL);
    return t;
}

/* ---- resolving an event ---------------------------------------------------------------- */

/* One pass over the fields: per canonical field the best-ranked alternate
 * that is not null. With m, also the positions and nulls of the fields
 * that have a class, for ks__event_finish to reuse on the next event of
 * this layout. */
static void canon_scan(const ks_event *ev, uint32_t canon_out[KS_F_COUNT], ks_canon_memo *m)
{
    uint16_t best[KS_F_COUNT];
    bool fits = m != NULL;
    memset(canon_out, 0, KS_F_COUNT * sizeof *canon_out);
    memset(best, 0xff, sizeof best);
    if (m) {
        m->ok = false;
        m->n = 0;
        m->nulls = 0;
    }
    for (size_t i = 0; i < ev->n; i++) {
        uint32_t cc = ks__symtab_class(ev->syms, ev->fields[i].name);
        if (!cc)
            continue;
        bool null = ev->fields[i].v.type == KS_VNULL;
        if (fits && m->n == KS_ARRAY_LEN(m->at)) {
            fits = false;
        } else if (fits) {
            m->nulls |= (uint64_t)null << m->n;
            m->at[m->n++] = (uint32_t)i;
        }
        if (null)
            continue; /* a null alternate does not hide the next one */
        for (; cc; cc >>= 16) {
            unsigned c = cc & 0xffff;
            int f = cls_field(c);
            unsigned r = cls_rank(c);
            if (r < best[f]) {
                best[f] = (uint16_t)r;
                canon_out[f] = (uint32_t)i + 1;
            }
        }
    }
    if (fits) {
        memcpy(m->canon, canon_out, sizeof m->canon);
        m->ok = true;
    }
}

/* Whether m, the last resolution of ev's layout, holds for ev: the fields
 * with a class are null where they were. */
static bool canon_memo_holds(const ks_canon_memo *m, const ks_event *ev)
{
    uint64_t nulls = 0;
    if (!m->ok)
        return false;
    /* An event with its raw text set has only string values (kensa_int.h):
     * none is null, without a look at each of an IIS line's 16 classed
     * fields (~115 instructions a line). */
    if (ev->raw.p)
        return m->nulls == 0;
    for (uint32_t k = 0; k < m->n; k++)
        nulls |= (uint64_t)(ev->fields[m->at[k]].v.type == KS_VNULL) << k;
    return nulls == m->nulls;
}

void ks__event_canon(const ks_event *ev, uint32_t canon_out[KS_F_COUNT])
{
    if (ev->finished)
        memcpy(canon_out, ev->canon, sizeof ev->canon);
    else
        canon_scan(ev, canon_out, NULL);
}

void ks__event_finish(ks_event *ev)
{
    /* Finished first: the layout memo serves finished events only. The
     * events of one EVTX template or W3C header share a layout, and a
     * class lookup per field per event was ~1.5 % of an EVTX hunt. */
    ev->finished = true;
    ev->seq++;
    ks_canon_memo *m = ks__event_canon_memo(ev);
    if (m && canon_memo_holds(m, ev))
        memcpy(ev->canon, m->canon, sizeof ev->canon);
    else
        canon_scan(ev, ev->canon, m);
}

/* The value of canonical field f of an event not finished (built by hand
 * in tests and tools), resolved on the spot; finished events are read by
 * the inline ks__field (kensa_int.h). */
const ks_value *ks__field_resolve(const ks_event *ev, int f)
{
    unsigned bestr = UINT32_MAX;
    const ks_value *v = NULL;
    if (f < 0 || f >= KS_F_COUNT)
        return NULL;
    for (size_t i = 0; i < ev->n; i++) {
        if (ev->fields[i].v.type == KS_VNULL)
            continue;
        for (uint32_t cc = ks__symtab_class(ev->syms, ev->fields[i].name); cc; cc >>= 16)
            if (cls_field(cc & 0xffff) == f && cls_rank(cc & 0xffff) < bestr) {
                bestr = cls_rank(cc & 0xffff);
                v = &ev->fields[i].v;
            }
    }
    return v;
}

const char *ks__field_source(const ks_event *ev, int f)
{
    const ks_value *v = ks__field(ev, f);
    if (!v)
        return NULL;
    const ks_field *fl = (const ks_field *)((const char *)v - offsetof(ks_field, v));
    for (uint32_t cc = ks__symtab_class(ev->syms, fl->name); cc; cc >>= 16) {
        unsigned c = cc & 0xffff;
        if (cls_field(c) == f)
            return c < CLS_ALT0 ? "canonical" : alts[c - CLS_ALT0].source;
    }
    return NULL;
}

bool ks__field_sym_is(const ks_symtab *t, ks_sym name, int f)
{
    for (uint32_t cc = ks__symtab_class(t, name); cc && f >= 0; cc >>= 16)
        if (cls_field(cc & 0xffff) == f)
            return true;
    return false;
}

int ks__field_of_sym(const ks_symtab *t, ks_sym name)
{
    uint32_t c = ks__symtab_class(t, name) & 0xffff;
    return c && c < CLS_ALT0 ? (int)c - 1 : -1;
}

/* ---- evidence context ------------------------------------------------------------------- */

/* The text of canonical field f, interned (stable for the engine's life:
 * detectors keep evidence past the event) or, with `out` (513 bytes),
 * copied there; NULL when absent. */
static const char *context(const ks_event *ev, int f, char *out)
{
    char tmp[128];
    const ks_value *v = ks__field(ev, f);
    const char *s;
    size_t n;
    if (!v)
        return NULL;
    if (v->type == KS_VSTR) {
        s = v->u.s.p;
        n = v->u.s.n;
    } else {
        n = KS_MIN(ks_value_format(v, tmp, sizeof tmp), sizeof tmp - 1);
        s = tmp;
    }
    if (!n || n > 512)
        return NULL;
    if (out) {
        memcpy(out, s, n);
        out[n] = 0;
        return out;
    }
    ks_sym id = ev->cache ? ks__symcache_intern(ev->cache, s, n) : ks_symtab_intern(ev->syms, s, n);
    return id ? ks_symtab_str(ev->syms, id, NULL) : NULL;
}

static void evidence(ks_evidence *ev, const ks_event *e, char *buf)
{
    static const int ctx[] = {KS_F_HOST, KS_F_CHANNEL, KS_F_EVENT_ID, KS_F_RECORD_ID,
                              KS_F_USER, KS_F_TARGET_USER, KS_F_SOURCE_IP};
    const char *v[KS_ARRAY_LEN(ctx)];
    for (size_t i = 0; i < KS_ARRAY_LEN(ctx); i++)
        v[i] = context(e, ctx[i], buf ? buf + i * 513 : NULL);
    ev->path = e->prov.path;
    ev->format = e->prov.format;
    ev->record = e->prov.record;
    ev->line = e->prov.line;
    ev->offset = e->prov.offset;
    ev->time = e->time;
    ev->host = v[0];
    ev->channel = v[1];
    ev->event_id = v[2];
    ev->record_id = v[3];
    ev->user = v[4];
    ev->target_user = v[5];
    ev->source = v[6];
}

void ks__evidence_from_event(ks_evidence *ev, const ks_event *e)
{
    evidence(ev, e, NULL);
}

void ks__evidence_from_event_buf(ks_evidence *ev, const ks_event *e, char *buf)
{
    evidence(ev, e, buf);
}
