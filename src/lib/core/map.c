/* SPDX-License-Identifier: Apache-2.0
 *
 * Hash map from byte strings to a uint64 slot (a count, an index, or a
 * pointer cast to uintptr_t). Open addressing with linear probing, load
 * factor <= 1/2, keys copied into the map's arena. The hash is a small
 * multiply-mix over 8-byte words: fast on the short keys kensa uses (field
 * paths, account names, IP addresses).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

typedef struct slot {
    uint64_t hash;      /* 0 = empty (real hashes are forced non-zero) */
    const char *key;    /* in the arena */
    size_t n;
    uint64_t val;
} slot;

struct ks_map {
    slot *slots;        /* power-of-two array */
    size_t mask;        /* nslots - 1 */
    size_t count;       /* used slots */
    ks_arena *keys;     /* key storage */
};

#define MAP_MAX_ENTRIES ((size_t)1 << 28)

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t ks__hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xa0761d6478bd642full);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = mix(h ^ w, 0xe7037ed1a0b428dbull);
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, s, n);
        h = mix(h ^ w, 0x8ebc6af09c88c6e3ull);
    }
    h = mix(h, 0x589965cc75374cc3ull);
    return h ? h : 1;
}

ks_map *ks__map_new(size_t hint)
{
    ks_map *m = calloc(1, sizeof *m);
    size_t n = 16;
    if (!m)
        return NULL;
    while (n < hint * 2 && n < MAP_MAX_ENTRIES)
        n <<= 1;
    m->slots = calloc(n, sizeof(slot));
    m->keys = ks__arena_new(4096, 0);
    if (!m->slots || !m->keys) {
        ks__map_free(m);
        return NULL;
    }
    m->mask = n - 1;
    return m;
}

void ks__map_free(ks_map *m)
{
    if (!m)
        return;
    free(m->slots);
    ks__arena_free(m->keys);
    free(m);
}

static slot *find(const ks_map *m, uint64_t h, const void *key, size_t n)
{
    size_t i = h & m->mask;
    for (;;) {
        slot *s = &m->slots[i];
        if (s->hash == 0)
            return s;
        if (s->hash == h && s->n == n && memcmp(s->key, key, n) == 0)
            return s;
        i = (i + 1) & m->mask;
    }
}

static int grow(ks_map *m)
{
    size_t n = (m->mask + 1) * 2;
    slot *old = m->slots, *ns = calloc(n, sizeof(slot));
    if (!ns)
        return KS_ENOMEM;
    m->slots = ns;
    for (size_t i = 0; i <= m->mask; i++) {
        if (old[i].hash) {
            size_t j = old[i].hash & (n - 1);
            while (ns[j].hash)
                j = (j + 1) & (n - 1);
            ns[j] = old[i];
        }
    }
    m->mask = n - 1;
    free(old);
    return KS_OK;
}

uint64_t *ks__map_get(const ks_map *m, const void *key, size_t n)
{
    slot *s = find(m, ks__hash(key, n), key, n);
    return s->hash ? &s->val : NULL;
}

const char *ks__map_key(const uint64_t *val)
{
    const slot *s = (const slot *)(const void *)((const char *)val - offsetof(slot, val));
    return s->key;
}

uint64_t *ks__map_slot(ks_map *m, const void *key, size_t n, bool create)
{
    uint64_t h = ks__hash(key, n);
    slot *s = find(m, h, key, n);
    if (s->hash)
        return &s->val;
    if (!create || m->count >= MAP_MAX_ENTRIES)
        return NULL;
    if ((m->count + 1) * 2 > m->mask + 1) {
        if (grow(m) != KS_OK)
            return NULL;
        s = find(m, h, key, n);
    }
    char *k = ks__arena_strndup(m->keys, key, n);
    if (!k)
        return NULL;
    s->hash = h;
    s->key = k;
    s->n = n;
    s->val = 0;
    m->count++;
    return &s->val;
}

size_t ks__map_count(const ks_map *m)
{
    return m ? m->count : 0;
}

bool ks__map_iter(const ks_map *m, size_t *i, const char **key, size_t *n, uint64_t **val)
{
    for (; *i <= m->mask; (*i)++) {
        slot *s = &m->slots[*i];
        if (s->hash) {
            *key = s->key;
            *n = s->n;
            *val = &s->val;
            (*i)++;
            return true;
        }
    }
    return false;
}
