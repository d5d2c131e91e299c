/* SPDX-License-Identifier: Apache-2.0
 *
 * The symbol interner. Field paths are interned once per engine so events
 * carry 32-bit ids and rules compare ids. Readers run on many threads:
 * lookups of published symbols take no lock (id -> string lives in pages
 * that never move; the string -> id table is guarded by a mutex, and each
 * worker keeps a private ks_symcache in front of it so steady-state
 * interning is lock-free). Capped so hostile input cannot exhaust memory.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

#define PAGE_BITS 12
#define PAGE_SIZE (1u << PAGE_BITS)
#define NPAGES (KS_SYM_MAX / PAGE_SIZE)

typedef struct sym_entry {
    const char *s;  /* NUL-terminated, in the table's arena */
    size_t n;
    _Atomic ks_sym alias; /* canonical symbol this one stands for, 0 = none */
    uint32_t cls;         /* the classifier's verdict, written before publication */
} sym_entry;

struct ks_symtab {
    pthread_mutex_t lock;              /* guards map, arena, page creation */
    ks_map *map;                       /* text -> id */
    ks_arena *arena;                   /* text storage */
    _Atomic(sym_entry *) pages[NPAGES];/* id -> text; pages never move */
    atomic_uint count;                 /* ids 1..count are published */
    atomic_uint_fast64_t alias_gen;    /* alias registrations so far */
    ks_sym_classify_fn classify;       /* optional, see core.h */
    void *classify_ctx;
};

ks_symtab *ks__symtab_new(void)
{
    ks_symtab *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    t->map = ks__map_new(1024);
    t->arena = ks__arena_new(65536, KS_SYM_BYTES);
    if (!t->map || !t->arena) {
        ks__symtab_free(t);
        return NULL;
    }
    return t;
}

void ks__symtab_free(ks_symtab *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < NPAGES; i++)
        free(atomic_load(&t->pages[i]));
    ks__map_free(t->map);
    ks__arena_free(t->arena);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

ks_sym ks_symtab_find(const ks_symtab *t, const char *s, size_t n)
{
    uint64_t *v;
    ks_sym id = 0;
    pthread_mutex_lock((pthread_mutex_t *)&t->lock);
    v = ks__map_get(t->map, s, n);
    if (v)
        id = (ks_sym)*v;
    pthread_mutex_unlock((pthread_mutex_t *)&t->lock);
    return id;
}

ks_sym ks_symtab_intern(ks_symtab *t, const char *s, size_t n)
{
    uint64_t *v;
    ks_sym id = 0;
    pthread_mutex_lock(&t->lock);
    v = ks__map_get(t->map, s, n);
    if (v) {
        id = (ks_sym)*v;
        goto out;
    }
    unsigned next = atomic_load(&t->count) + 1;
    if (next >= KS_SYM_MAX)
        goto out;
    size_t page = next >> PAGE_BITS;
    sym_entry *pg = atomic_load(&t->pages[page]);
    if (!pg) {
        pg = calloc(PAGE_SIZE, sizeof *pg);
        if (!pg)
            goto out;
        atomic_store(&t->pages[page], pg);
    }
    char *copy = ks__arena_strndup(t->arena, s, n);
    if (!copy)
        goto out;
    v = ks__map_slot(t->map, copy, n, true);
    if (!v)
        goto out;
    *v = next;
    pg[next & (PAGE_SIZE - 1)].s = copy;
    pg[next & (PAGE_SIZE - 1)].n = n;
    pg[next & (PAGE_SIZE - 1)].cls = t->classify ? t->classify(t->classify_ctx, copy, n) : 0;
    atomic_store(&t->count, next); /* publish after the entry is written */
    id = next;
out:
    pthread_mutex_unlock(&t->lock);
    return id;
}

const char *ks_symtab_str(const ks_symtab *t, ks_sym id, size_t *len)
{
    if (!t || id == 0 || id > atomic_load(&t->count))
        return NULL;
    sym_entry *pg = atomic_load(&t->pages[id >> PAGE_BITS]);
    if (!pg)
        return NULL;
    if (len)
        *len = pg[id & (PAGE_SIZE - 1)].n;
    return pg[id & (PAGE_SIZE - 1)].s;
}

static sym_entry *entry(const ks_symtab *t, ks_sym id)
{
    if (!t || id == 0 || id > atomic_load(&t->count))
        return NULL;
    sym_entry *pg = atomic_load(&t->pages[id >> PAGE_BITS]);
    return pg ? &pg[id & (PAGE_SIZE - 1)] : NULL;
}

void ks__symtab_set_alias(ks_symtab *t, ks_sym alias, ks_sym target)
{
    sym_entry *e = entry(t, alias);
    ks_sym none = 0;
    if (e && alias != target && /* the first registration wins */
        atomic_compare_exchange_strong(&e->alias, &none, target))
        atomic_fetch_add(&t->alias_gen, 1);
}

uint64_t ks__symtab_alias_gen(const ks_symtab *t)
{
    return atomic_load(&((ks_symtab *)t)->alias_gen);
}

ks_sym ks__symtab_alias(const ks_symtab *t, ks_sym id)
{
    sym_entry *e = entry(t, id);
    return e ? atomic_load(&e->alias) : 0;
}

void ks__symtab_set_classifier(ks_symtab *t, ks_sym_classify_fn fn, void *ctx)
{
    pthread_mutex_lock(&t->lock);
    t->classify = fn;
    t->classify_ctx = ctx;
    pthread_mutex_unlock(&t->lock);
}

uint32_t ks__symtab_class(const ks_symtab *t, ks_sym id)
{
    sym_entry *e = entry(t, id);
    return e ? e->cls : 0;
}

/* ---- per-thread cache ---------------------------------------------------- */

struct ks_symcache {
    ks_symtab *t;
    ks_map *map;  /* text -> id, private to one thread */
};

#define SYMCACHE_MAX 200000  /* past this the cache is dropped and refilled */

ks_symcache *ks__symcache_new(ks_symtab *t)
{
    ks_symcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->t = t;
    c->map = ks__map_new(1024);
    if (!c->map) {
        free(c);
        return NULL;
    }
    return c;
}

void ks__symcache_free(ks_symcache *c)
{
    if (!c)
        return;
    ks__map_free(c->map);
    free(c);
}

ks_sym ks__symcache_intern(ks_symcache *c, const char *s, size_t n)
{
    uint64_t *v = ks__map_get(c->map, s, n);
    ks_sym id;
    if (v)
        return (ks_sym)*v;
    id = ks_symtab_intern(c->t, s, n);
    if (!id)
        return 0;
    if (ks__map_count(c->map) >= SYMCACHE_MAX) {
        ks_map *fresh = ks__map_new(1024);
        if (fresh) {
            ks__map_free(c->map);
            c->map = fresh;
        }
    }
    v = ks__map_slot(c->map, s, n, true);
    if (v)
        *v = id;
    return id;
}
