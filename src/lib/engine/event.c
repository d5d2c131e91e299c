/* SPDX-License-Identifier: Apache-2.0
 *
 * Normalized events: building them (readers) and reading them (detectors,
 * outputs). Fields live in a worker-owned array reused across events; the
 * values may point into mapped evidence or the per-event arena.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kensa_int.h"

void ks__event_reset(ks_event *ev)
{
    ev->n = 0;
    ev->dropped = 0;
    ev->finished = false;
    ev->time = KS_TIME_NONE;
    ev->prov.record = 0;
    ev->prov.line = 0;
    ev->prov.offset = UINT64_MAX;
    ev->raw.p = NULL;
    ev->raw.n = 0;
    ev->raw_plus = false;
    ev->shape = 0;
    if (ev->arena)
        ks__arena_reset(ev->arena);
}

/* ks__event_add's slow path: no name, or the fields array is full. */
int ks__event_add_grow(ks_event *ev, ks_sym name, const ks_value *v)
{
    if (!name) {
        ev->dropped++;
        return KS_ELIMIT;
    }
    if (ev->n == ev->cap) {
        if (ev->n >= KS_EVENT_MAX_FIELDS) {
            ev->dropped++;
            return KS_ELIMIT;
        }
        if (ks__grow(&ev->fields, &ev->cap, ev->n, sizeof *ev->fields, 64) != KS_OK)
            return KS_ENOMEM;
    }
    ev->fields[ev->n].name = name;
    ev->fields[ev->n].v = *v;
    ev->n++;
    return KS_OK;
}

int ks__event_add_named(ks_event *ev, const char *name, size_t n, const ks_value *v)
{
    ks_sym id = ev->cache ? ks__symcache_intern(ev->cache, name, n)
                          : ks_symtab_intern(ev->syms, name, n);
    return ks__event_add(ev, id, v);
}

int ks__event_add_str(ks_event *ev, const char *name, size_t n, const char *s, size_t sn)
{
    ks_value v = {.type = KS_VSTR};
    v.u.s.p = s;
    v.u.s.n = sn;
    return ks__event_add_named(ev, name, n, &v);
}

size_t ks_event_nfields(const ks_event *ev) { return ev->n; }

const ks_field *ks_event_field(const ks_event *ev, size_t i)
{
    return i < ev->n ? &ev->fields[i] : NULL;
}

/* ---- lookups ---------------------------------------------------------------------
 *
 * A name resolves to the first field of that name, else the first field of
 * the name it is an alias of, else (a canonical name of the field schema)
 * the best alternate present. The first two depend only on the event's
 * field names in order, its layout, which the events of one EVTX template
 * or one W3C #Fields header share: detectors asking for a dozen absent
 * names on every IIS line paid two scans each. The worker's memo keeps,
 * for the last few layouts of the events it reads, where each name asked
 * for was found: a Security log interleaves a handful of templates
 * (4624, 4625, 4648, ...), and one remembered layout was forgotten on
 * nearly every event. An event's layout is found once per event (its
 * names hashed, then compared); a new alias registration (the EVTX reader
 * adds them as templates appear) empties the memo. */

#define IDX_SLOTS 256  /* names remembered per layout (open addressing) */
#define IDX_LAYOUTS 8  /* layouts remembered */

typedef struct layout {
    uint64_t id;             /* unique in the process (ks__event_have); 0 = unused */
    uint64_t hash;           /* of the names */
    uint64_t shape;          /* ks_event.shape of the event that last found it here
                                by its names, 0 = none */
    uint64_t last;           /* the event it last served (the least recent goes) */
    ks_sym *names;           /* field names in order */
    size_t n, cap;
    uint32_t used;           /* filled slots */
    ks_sym q[IDX_SLOTS];     /* name asked for, 0 = empty slot */
    int32_t at[IDX_SLOTS];   /* index of the field answering it, -1 = none */
    ks_canon_memo canon;     /* the canonical fields (fields.c) */
} layout;

struct ks_evindex {
    uint64_t seq;            /* the event cur was last found for */
    uint64_t alias_gen;      /* alias registrations the memo was made under */
    uint64_t tick;           /* events looked up */
    layout *cur;             /* the layout of event seq */
    layout l[IDX_LAYOUTS];
};

struct ks_evindex *ks__evindex_new(void)
{
    return calloc(1, sizeof(struct ks_evindex));
}

void ks__evindex_free(struct ks_evindex *x)
{
    if (x)
        for (size_t i = 0; i < IDX_LAYOUTS; i++)
            free(x->l[i].names);
    free(x);
}

static int32_t scan_names(const ks_event *ev, ks_sym name)
{
    for (size_t i = 0; i < ev->n; i++)
        if (ev->fields[i].name == name)
            return (int32_t)i;
    ks_sym target = ks__symtab_alias(ev->syms, name);
    if (target)
        for (size_t i = 0; i < ev->n; i++)
            if (ev->fields[i].name == target)
                return (int32_t)i;
    return -1;
}

static uint64_t layout_ids; /* the last layout id given out (atomic) */
static uint64_t shape_ids;  /* the last shape given out (atomic) */

uint64_t ks__event_shape_new(void)
{
    return __atomic_add_fetch(&shape_ids, 1, __ATOMIC_RELAXED);
}

static uint64_t names_hash(const ks_event *ev)
{
    uint64_t h = ev->n * 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < ev->n; i++)
        h = (h ^ ev->fields[i].name) * 0x100000001B3ull;
    return h ^ h >> 29;
}

/* The memo of ev's layout, or NULL (then scan). */
static layout *layout_memo(const ks_event *ev)
{
    struct ks_evindex *x = ev->index;
    if (!x || !ev->finished || ev->n > INT32_MAX)
        return NULL;
    uint64_t gen = ks__symtab_alias_gen(ev->syms);
    if (x->seq == ev->seq && x->alias_gen == gen && x->cur)
        return x->cur;
    if (x->alias_gen != gen) { /* lookups may resolve otherwise now */
        for (size_t i = 0; i < IDX_LAYOUTS; i++)
            x->l[i].id = 0;
        x->alias_gen = gen;
    } else if (ev->shape && x->cur && x->cur->id && x->cur->shape == ev->shape) {
        /* The reader vouches for the names: the layout of the event
         * before, without hashing and comparing ~20 names per event. */
        x->cur->last = ++x->tick;
        x->seq = ev->seq;
        return x->cur;
    }
    uint64_t h = names_hash(ev);
    layout *m = NULL, *old = &x->l[0];
    for (size_t i = 0; i < IDX_LAYOUTS && !m; i++) {
        layout *c = &x->l[i];
        if (c->id && c->hash == h && c->n == ev->n) {
            size_t k = 0;
            while (k < ev->n && c->names[k] == ev->fields[k].name)
                k++;
            if (k == ev->n)
                m = c;
        }
        if (!c->id ? old->id != 0 : old->id && c->last < old->last)
            old = c; /* an unused one, else the least recent */
    }
    if (!m) {
        m = old;
        if (ev->n > m->cap) {
            size_t nc = ev->n < 64 ? 64 : ev->n;
            ks_sym *v = realloc(m->names, nc * sizeof *v);
            if (!v)
                return NULL;
            m->names = v;
            m->cap = nc;
        }
        for (size_t i = 0; i < ev->n; i++)
            m->names[i] = ev->fields[i].name;
        m->n = ev->n;
        m->hash = h;
        memset(m->q, 0, sizeof m->q);
        m->used = 0;
        m->canon.ok = false;
        m->id = __atomic_add_fetch(&layout_ids, 1, __ATOMIC_RELAXED);
    }
    m->shape = ev->shape; /* the names matched: this shape has them */
    m->last = ++x->tick;
    x->cur = m;
    x->seq = ev->seq;
    return m;
}

static int32_t find_field(const ks_event *ev, ks_sym name)
{
    layout *x = layout_memo(ev);
    if (!x)
        return scan_names(ev, name);
    uint32_t h = (name * 2654435761u) >> 24; /* 8 bits: IDX_SLOTS */
    for (uint32_t k = 0; k < IDX_SLOTS; k++, h = (h + 1) & (IDX_SLOTS - 1)) {
        if (x->q[h] == name)
            return x->at[h];
        if (!x->q[h])
            break;
    }
    int32_t at = scan_names(ev, name);
    if (x->used < IDX_SLOTS / 2 && !x->q[h]) { /* half full at most: probes stay short */
        x->q[h] = name;
        x->at[h] = at;
        x->used++;
    }
    return at;
}

const ks_value *ks_event_get(const ks_event *ev, ks_sym name)
{
    if (!name)
        return NULL;
    int32_t at = find_field(ev, name);
    if (at >= 0)
        return &ev->fields[at].v;
    /* A canonical name of the field schema ("host.name") stands for the
     * best alternate the event has. */
    int f = ks__field_of_sym(ev->syms, name);
    return f >= 0 ? ks__field(ev, f) : NULL;
}

ks_canon_memo *ks__event_canon_memo(const ks_event *ev)
{
    layout *x = layout_memo(ev);
    return x ? &x->canon : NULL;
}

uint64_t ks__event_layout_id(const ks_event *ev)
{
    const layout *x = layout_memo(ev);
    return x ? x->id : 0;
}

uint64_t ks__event_have(const ks_event *ev, ks_evhave *h)
{
    const layout *x = layout_memo(ev);
    uint32_t n = KS_MIN(h->n, 64u);
    uint64_t id = x ? x->id : 0;
    ks_evhave_memo *m = &h->memo[id % KS_ARRAY_LEN(h->memo)];
    if (!id || m->layout != id) {
        m->bits = m->canon = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (!h->names[i])
                continue;
            if (find_field(ev, h->names[i]) >= 0)
                m->bits |= (uint64_t)1 << i;
            else if (ks__field_of_sym(ev->syms, h->names[i]) >= 0)
                m->canon |= (uint64_t)1 << i;
        }
        m->layout = id; /* 0 without a memo: worked out each time */
    }
    uint64_t bits = m->bits;
    for (uint64_t c = m->canon; c; c &= c - 1) {
        int f = ks__field_of_sym(ev->syms, h->names[__builtin_ctzll(c)]);
        if (ks__field(ev, f))
            bits |= c & -c;
    }
    return bits;
}

const ks_value *ks_event_get_path(const ks_event *ev, const char *path)
{
    ks_sym id = ks_symtab_find(ev->syms, path, strlen(path));
    if (id)
        return ks_event_get(ev, id);
    /* a canonical name nobody interned yet */
    int f = ks__field_find(path);
    return f >= 0 ? ks__field(ev, f) : NULL;
}

int64_t ks_event_time(const ks_event *ev) { return ev->time; }
const ks_prov *ks_event_prov(const ks_event *ev) { return &ev->prov; }
const ks_symtab *ks_event_symtab(const ks_event *ev) { return ev->syms; }

size_t ks_value_format(const ks_value *v, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t need;
    if (cap == 0)
        return 0;
    switch (v->type) {
    case KS_VNULL:
        return (size_t)snprintf(buf, cap, "null");
    case KS_VSTR: {
        size_t k = KS_MIN(v->u.s.n, cap - 1);
        memcpy(buf, v->u.s.p, k);
        buf[k] = 0;
        return v->u.s.n;
    }
    case KS_VINT:
        return (size_t)snprintf(buf, cap, "%" PRId64, v->u.i);
    case KS_VUINT:
        return (size_t)snprintf(buf, cap, "%" PRIu64, v->u.u);
    case KS_VFLOAT:
        return (size_t)snprintf(buf, cap, "%.17g", v->u.f);
    case KS_VBOOL:
        return (size_t)snprintf(buf, cap, "%s", v->u.b ? "true" : "false");
    case KS_VTIME:
        return ks_time_format(v->u.t, buf, cap);
    case KS_VBIN:
        need = v->u.s.n * 2;
        for (size_t i = 0, o = 0; i < v->u.s.n && o + 2 < cap; i++, o += 2) {
            buf[o] = hex[(unsigned char)v->u.s.p[i] >> 4];
            buf[o + 1] = hex[(unsigned char)v->u.s.p[i] & 15];
            buf[o + 2] = 0;
        }
        if (v->u.s.n == 0)
            buf[0] = 0;
        return need;
    }
    buf[0] = 0;
    return 0;
}

int ks__buf_add_value(ks_buf *b, const ks_value *v)
{
    char tmp[96];
    static const char hex[] = "0123456789abcdef";
    switch (v->type) {
    case KS_VSTR:
        return ks__buf_add(b, v->u.s.p, v->u.s.n);
    case KS_VBIN: {
        int rc = ks__buf_grow(b, v->u.s.n * 2);
        if (rc)
            return rc;
        for (size_t i = 0; i < v->u.s.n; i++) {
            b->p[b->n++] = hex[(unsigned char)v->u.s.p[i] >> 4];
            b->p[b->n++] = hex[(unsigned char)v->u.s.p[i] & 15];
        }
        b->p[b->n] = 0;
        return KS_OK;
    }
    default: {
        size_t n = ks_value_format(v, tmp, sizeof tmp);
        return ks__buf_add(b, tmp, KS_MIN(n, sizeof tmp - 1));
    }
    }
}
