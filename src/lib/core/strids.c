/* SPDX-License-Identifier: Apache-2.0
 *
 * Compact string ids (see core.h): for analytics that keep one id per
 * record and may meet a distinct value on nearly every record (a spray's
 * random source addresses). ks_map spends a 32-byte slot at load <= 1/2
 * plus a 16-byte-aligned key copy: ~100 bytes a value. Here a value costs
 * a 4-byte id slot (load <= 1/2), a 4-byte hash, an 8-byte text pointer and
 * its text packed NUL-terminated in 64 KiB blocks: ~30 bytes plus the text.
 */
#include <stdlib.h>
#include <string.h>
#include "core.h"

#define STRIDS_MAX ((uint32_t)1 << 28) /* ids, as ks_map's entry cap */
#define TEXT_BLOCK ((size_t)1 << 16)

typedef struct tblock {
    struct tblock *next;
    size_t used, cap;
    char t[];
} tblock;

struct ks_strids {
    uint32_t *slot;     /* id, 0 = empty; power-of-two table */
    uint32_t mask;
    uint32_t *hash;     /* id -> low bits of its hash */
    const char **text;  /* id -> NUL-terminated text (id 0: "") */
    uint32_t n, cap;    /* ids 1..n-1 in use */
    tblock *blocks;     /* text storage, newest first */
};

ks_strids *ks__strids_new(void)
{
    ks_strids *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->mask = 255;
    t->slot = calloc((size_t)t->mask + 1, sizeof *t->slot);
    t->n = 1;
    if (!t->slot) {
        free(t);
        return NULL;
    }
    return t;
}

void ks__strids_free(ks_strids *t)
{
    if (!t)
        return;
    for (tblock *b = t->blocks, *nx; b; b = nx) {
        nx = b->next;
        free(b);
    }
    free(t->slot);
    free(t->hash);
    free(t->text);
    free(t);
}

static const char *keep_text(ks_strids *t, const char *s, size_t n)
{
    tblock *b = t->blocks;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > TEXT_BLOCK ? n + 1 : TEXT_BLOCK;
        if (!(b = malloc(sizeof *b + cap)))
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = t->blocks;
        t->blocks = b;
    }
    char *d = b->t + b->used;
    memcpy(d, s, n);
    d[n] = 0;
    b->used += n + 1;
    return d;
}

static int grow_slots(ks_strids *t)
{
    uint32_t mask = t->mask * 2 + 1;
    uint32_t *ns = calloc((size_t)mask + 1, sizeof *ns);
    if (!ns)
        return KS_ENOMEM;
    for (uint32_t id = 1; id < t->n; id++) {
        uint32_t i = t->hash[id] & mask;
        while (ns[i])
            i = (i + 1) & mask;
        ns[i] = id;
    }
    free(t->slot);
    t->slot = ns;
    t->mask = mask;
    return KS_OK;
}

uint32_t ks__strids_id(ks_strids *t, const char *s, size_t n)
{
    uint32_t h = (uint32_t)ks__hash(s, n), i = h & t->mask, id;
    while ((id = t->slot[i]) != 0) {
        if (t->hash[id] == h && memcmp(t->text[id], s, n) == 0 && t->text[id][n] == 0)
            return id;
        i = (i + 1) & t->mask;
    }
    if (t->n >= STRIDS_MAX)
        return 0;
    if ((uint64_t)t->n * 2 > (uint64_t)t->mask) { /* keep the load <= 1/2 */
        if (grow_slots(t) != KS_OK)
            return 0;
        for (i = h & t->mask; t->slot[i]; i = (i + 1) & t->mask)
            ;
    }
    if (t->n >= t->cap) {
        uint32_t nc = t->cap ? t->cap * 2 : 256;
        uint32_t *nh = realloc(t->hash, (size_t)nc * sizeof *nh);
        if (nh)
            t->hash = nh;
        const char **nt = nh ? realloc(t->text, (size_t)nc * sizeof *nt) : NULL;
        if (!nt)
            return 0;
        t->text = nt;
        t->text[0] = "";
        t->hash[0] = 0;
        t->cap = nc;
    }
    const char *k = keep_text(t, s, n);
    if (!k)
        return 0;
    id = t->n++;
    t->hash[id] = h;
    t->text[id] = k;
    t->slot[i] = id;
    return id;
}

const char *ks__strids_str(const ks_strids *t, uint32_t id)
{
    return id && id < t->n ? t->text[id] : "";
}

uint32_t ks__strids_count(const ks_strids *t)
{
    return t->n;
}
