/* SPDX-License-Identifier: Apache-2.0
 *
 * Per-thread caches of the portal's hot reads (portal.h): which account a
 * token hash belongs to, an account's claim on a domain, a domain's
 * exposure answer. Without them every API request made three to five
 * SQLite round trips, each taking and dropping the file's locks (fcntl):
 * most of an exposure request's CPU.
 *
 * Freshness. An entry is used only while (a) the portal's state
 * generation is the one it was made under, and (b) it is younger than
 * PORTAL_CACHE_TTL_NS. Every write to the portal's tables (accounts.c)
 * bumps the generation, so this process never serves a claim, a
 * verification or an acknowledgement older than its own last write; the
 * TTL bounds how long a change made elsewhere (a new index batch by
 * `kensa index build`, a second portal process on the same file) takes to
 * show. Only positive answers are cached: an unknown token or an
 * unverified domain always goes to the database.
 *
 * Each thread owns its caches (no locks); each is bounded and emptied
 * when full.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include "httpd/portal.h"

#define CACHE_MAX 4096            /* entries per cache and thread */

typedef struct entry {
    int64_t made;                 /* monotonic ns */
    uint64_t gen;
    size_t n;
    unsigned char v[];            /* the value */
} entry;

typedef struct cache {
    ks_map *m;                    /* key -> entry pointer */
} cache;

typedef struct caches {
    cache c[PORTAL_CACHE_COUNT];
} caches;

static atomic_uint_fast64_t generation = 1;
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void cache_clear(cache *c)
{
    size_t it = 0, kn;
    const char *k;
    uint64_t *val;
    while (c->m && ks__map_iter(c->m, &it, &k, &kn, &val))
        free((void *)(uintptr_t)*val);
    ks__map_free(c->m);
    c->m = NULL;
}

static void caches_free(void *p)
{
    caches *cs = p;
    for (int i = 0; i < PORTAL_CACHE_COUNT; i++)
        cache_clear(&cs->c[i]);
    free(cs);
}

static void make_key(void)
{
    pthread_key_create(&key, caches_free);
}

static cache *mine(int which)
{
    caches *cs;
    if (which < 0 || which >= PORTAL_CACHE_COUNT)
        return NULL;
    pthread_once(&key_once, make_key);
    if (!(cs = pthread_getspecific(key))) {
        if (!(cs = calloc(1, sizeof *cs)))
            return NULL;
        if (pthread_setspecific(key, cs) != 0) {
            free(cs);
            return NULL;
        }
    }
    return &cs->c[which];
}

void portal_cache_bump(void)
{
    atomic_fetch_add(&generation, 1);
}

const void *portal_cache_get(int which, const void *k, size_t kn, size_t *n)
{
    cache *c = mine(which);
    uint64_t *slot = c && c->m ? ks__map_get(c->m, k, kn) : NULL;
    const entry *e = slot ? (const entry *)(uintptr_t)*slot : NULL;
    if (!e || e->gen != atomic_load(&generation) || ks__now_ns() - (uint64_t)e->made > PORTAL_CACHE_TTL_NS)
        return NULL;
    if (n)
        *n = e->n;
    return e->v;
}

uint64_t portal_cache_gen(void)
{
    return atomic_load(&generation);
}

void portal_cache_put(int which, uint64_t gen, const void *k, size_t kn, const void *v, size_t n)
{
    cache *c = mine(which);
    entry *e;
    if (!c)
        return;
    if (c->m && ks__map_count(c->m) >= CACHE_MAX)
        cache_clear(c);
    if (!c->m && !(c->m = ks__map_new(256)))
        return;
    if (!(e = malloc(sizeof *e + n + 1)))
        return;
    e->made = (int64_t)ks__now_ns();
    e->gen = gen;
    e->n = n;
    memcpy(e->v, v, n);
    e->v[n] = 0;
    uint64_t *slot = ks__map_slot(c->m, k, kn, true);
    if (!slot) {
        free(e);
        return;
    }
    free((void *)(uintptr_t)*slot);
    *slot = (uint64_t)(uintptr_t)e;
}
