/* SPDX-License-Identifier: Apache-2.0
 *
 * The network view (netfields.h): the view's fields read from the field
 * schema (engine/fields.def, where their names per source live), and the
 * answers gathered from every answer field.
 */
#include <stdlib.h>
#include <string.h>
#include "detect/netfields.h"

static const char *const canon[KS_NET_NFIELDS] = {
#define X(id, name) name,
    KS_NET_FIELD_LIST(X)
#undef X
};

/* The view's fields are canonical fields of the engine's field schema
 * (engine/fields.def holds every source's names for them), found by name. */
#define ANS_MEMO 1024 /* names remembered as answer / not answer (direct-mapped) */
#define NET_SHAPES 16 /* field layouts remembered (direct-mapped by id) */

struct ks_net_syms {
    ks_symtab *t;
    int field[KS_NET_NFIELDS]; /* KS_F_x per view field, -1 if the schema lacks it */
    /* The view fields read one by one (all but the answers, and those the
     * schema has), as (view field, KS_F_x) pairs: the loop over every
     * view field with its two tests cost more than the reads. */
    int nread;
    uint8_t read_view[KS_NET_NFIELDS];
    int read_field[KS_NET_NFIELDS];
    ks_sym memo_sym[ANS_MEMO]; /* name in the slot (0 = empty) */
    bool memo_ans[ANS_MEMO];   /* ... is an answer field */
    /* What a field layout can hold, worked out once per layout: a canonical
     * field's value is one of the event's fields named as one of its
     * alternates, so a layout without such a name never has it (an IIS
     * line has 4 of the 16); and a name is an answer or not whatever its
     * value, so the answer positions follow from the layout too. Several
     * layouts are remembered: an EVTX log interleaves a few templates event
     * by event (4624, 4625, 4648 ...), and with one the mask (read fields x
     * event fields name tests) was made again on nearly every event. */
    struct net_shape {
        uint64_t id;        /* layout id (0: empty) */
        uint64_t ans_at;    /* bit i: field i is an answer field */
        uint32_t read_mask; /* bit k: read_field[k] may be present */
        bool ans_known;     /* ans_at holds (the layout has <= 64 fields) */
    } shape[NET_SHAPES];
};

/* The last event's view, per thread: SUNBURST, C2 and beaconing read the
 * same event in turn, and the view costs a pass over the event's fields.
 * Valid for the event (pointer, ks__event_finish sequence) it was made of;
 * handed out by address (the view is 416 bytes: a copy per detector, with
 * the clearing of a fresh one, was two thirds of the view's cost). */
static __thread struct {
    const ks_event *ev;       /* NULL: v was made of an unfinished event */
    uint64_t seq;
    const ks_symtab *t;
    bool any;
    ks_net_view v;
} last_;

ks_net_syms *ks__net_syms_new(ks_symtab *t)
{
    ks_net_syms *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->t = t;
    for (int i = 0; i < KS_NET_NFIELDS; i++) {
        s->field[i] = ks__field_find(canon[i]);
        if (i != KS_NET_ANSWERS && s->field[i] >= 0) {
            s->read_view[s->nread] = (uint8_t)i;
            s->read_field[s->nread++] = s->field[i];
        }
    }
    return s;
}

void ks__net_syms_free(ks_net_syms *s)
{
    free(s);
}

const char *ks__net_field_name(int i)
{
    return i >= 0 && i < KS_NET_NFIELDS ? canon[i] : "";
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* Indexed answer paths of array-of-object shapes: ECS
 * "dns.answers.N.data", Suricata "dns.answers.N.rdata", grouped answers
 * "dns.grouped.A", "dns.grouped.CNAME". */
static bool answer_path(const char *s, size_t n)
{
    static const char pre[] = "dns.answers.";
    static const char grp[] = "dns.grouped.";
    if (n > sizeof grp - 1 && !memcmp(s, grp, sizeof grp - 1))
        return !memchr(s + sizeof grp - 1, '.', n - (sizeof grp - 1));
    if (n <= sizeof pre - 1 || memcmp(s, pre, sizeof pre - 1))
        return false;
    const char *p = s + sizeof pre - 1, *dot = memchr(p, '.', (size_t)(s + n - p));
    if (!dot || !all_digits(p, (size_t)(dot - p)))
        return false;
    size_t leaf = (size_t)(s + n - dot - 1);
    return (leaf == 4 && !memcmp(dot + 1, "data", 4)) || (leaf == 5 && !memcmp(dot + 1, "rdata", 5));
}

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* Splits one answer value into items: Zeek vectors ("a,b"), Sysmon
 * QueryResults ("type:  5 cname.example;::ffff:1.2.3.4;"). */
static void add_answers(ks_net_view *v, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && v->nanswers < KS_NET_MAX_ANSWERS) {
        size_t b = i;
        while (i < n && p[i] != ';' && p[i] != ',')
            i++;
        const char *it = p + b;
        size_t in = i - b;
        i++;
        trim(&it, &in);
        if (in > 5 && !memcmp(it, "type:", 5)) {
            /* "type:  5 name": the record type number, then the name */
            it += 5, in -= 5;
            trim(&it, &in);
            while (in && *it >= '0' && *it <= '9')
                it++, in--;
            trim(&it, &in);
        }
        if (in > 7 && !memcmp(it, "::ffff:", 7))
            it += 7, in -= 7;
        if (in == 0 || (in == 1 && *it == '-'))
            continue;
        v->answers[v->nanswers++] = (ks_slice){it, in};
    }
}

static void add_answer_field(ks_net_view *v, const ks_field *fl)
{
    if (fl->v.type == KS_VSTR)
        add_answers(v, fl->v.u.s.p, fl->v.u.s.n);
}

/* Whether the field named sym holds DNS answers: the schema's answer
 * field, or an indexed answer path. Remembered per name. */
static bool is_answer(ks_net_syms *s, ks_sym sym)
{
    uint32_t slot = (sym * 2654435761u) >> 22; /* 10 bits: ANS_MEMO */
    if (s->memo_sym[slot] == sym)
        return s->memo_ans[slot];
    size_t n = 0;
    const char *name;
    bool ans = ks__field_sym_is(s->t, sym, s->field[KS_NET_ANSWERS]) ||
               ((name = ks_symtab_str(s->t, sym, &n)) && answer_path(name, n));
    s->memo_sym[slot] = sym;
    s->memo_ans[slot] = ans;
    return ans;
}

const ks_net_view *ks__net_view_of(ks_net_syms *s, const ks_event *ev)
{
    bool any = false;
    if (ev->finished && last_.ev == ev && last_.seq == ev->seq && last_.t == s->t)
        return last_.any ? &last_.v : NULL;
    ks_net_view *v = &last_.v;
    /* answers[] past nanswers is never read: not cleared */
    memset(v->f, 0, sizeof v->f);
    v->nanswers = 0;
    v->time = ev->time;
    uint64_t id = ks__event_layout_id(ev);
    struct net_shape *sh = &s->shape[(id * 0x9e3779b97f4a7c15ull) >> 60];
    uint32_t read_mask;
    if (!id || sh->id != id) {
        read_mask = 0;
        for (int k = 0; k < s->nread; k++)
            for (size_t i = 0; i < ev->n && !(read_mask >> k & 1); i++)
                if (!id || ks__field_sym_is(s->t, ev->fields[i].name, s->read_field[k]))
                    read_mask |= 1u << k;
        if (id) {
            sh->id = id;
            sh->read_mask = read_mask;
            sh->ans_known = false;
        }
    } else {
        read_mask = sh->read_mask;
    }
    for (uint32_t m = read_mask; m; m &= m - 1) {
        int k = __builtin_ctz(m);
        const ks_value *x = ks__field(ev, s->read_field[k]);
        v->f[s->read_view[k]] = x;
        any |= x != NULL;
    }
    /* every answer, not only the best-ranked field: answers repeat */
    if (!id || !sh->ans_known) {
        uint64_t at = 0;
        for (size_t i = 0; i < ev->n; i++)
            if (is_answer(s, ev->fields[i].name)) {
                at |= i < 64 ? (uint64_t)1 << i : 0;
                add_answer_field(v, &ev->fields[i]);
                any = true;
            }
        /* up to 64 fields the positions say it all; past that, ask again */
        if (id && ev->n <= 64) {
            sh->ans_at = at;
            sh->ans_known = true;
        }
    } else {
        for (uint64_t at = sh->ans_at; at; at &= at - 1)
            add_answer_field(v, &ev->fields[__builtin_ctzll(at)]);
        any |= sh->ans_at != 0;
    }
    last_.ev = ev->finished ? ev : NULL;
    last_.seq = ev->seq;
    last_.t = s->t;
    last_.any = any;
    return any ? v : NULL;
}

bool ks__net_view(ks_net_syms *s, const ks_event *ev, ks_net_view *v)
{
    const ks_net_view *x = ks__net_view_of(s, ev);
    if (!x) {
        memset(v, 0, sizeof *v);
        v->time = ev->time;
        return false;
    }
    *v = *x;
    return true;
}

int64_t ks__net_int(const ks_net_view *v, int i)
{
    const ks_value *x = v->f[i];
    if (!x)
        return -1;
    switch (x->type) {
    case KS_VINT:
        return x->u.i;
    case KS_VUINT:
        return x->u.u > INT64_MAX ? -1 : (int64_t)x->u.u;
    case KS_VFLOAT:
        return (int64_t)x->u.f;
    case KS_VSTR: {
        int64_t r = 0;
        if (!all_digits(x->u.s.p, x->u.s.n) || x->u.s.n > 18)
            return -1;
        for (size_t k = 0; k < x->u.s.n; k++)
            r = r * 10 + (x->u.s.p[k] - '0');
        return r;
    }
    default:
        return -1;
    }
}

size_t ks__net_name_lower(const char *s, size_t n, char *buf, size_t cap)
{
    if (n && s[n - 1] == '.')
        n--;
    if (n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        buf[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    buf[n] = 0;
    return n;
}
