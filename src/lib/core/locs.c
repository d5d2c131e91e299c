/* SPDX-License-Identifier: Apache-2.0
 *
 * Evidence locations of analytics records, delta-coded (see core.h). A
 * record kept for later analysis needs its location only if it ends up in
 * a finding's evidence, yet 28 of its bytes were offset, record number,
 * line and path. Here each location is the zigzag varint of its difference
 * from the previous one (a file's records are a few hundred bytes and one
 * record number apart: ~5 bytes), with a checkpoint of absolute values
 * every LOCS_STEP locations for random access (at most LOCS_STEP - 1
 * locations decoded to reach one).
 */
#include <stdlib.h>
#include <string.h>
#include "core.h"

#define LOCS_STEP 64

struct ks_locs_ck {
    size_t pos;                /* stream position of location k * LOCS_STEP */
    uint64_t v[KS_LOC_FIELDS]; /* the values before it */
};

static uint8_t *put_varint(uint8_t *p, uint64_t x)
{
    while (x >= 0x80) {
        *p++ = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    *p++ = (uint8_t)x;
    return p;
}

static const uint8_t *get_varint(const uint8_t *p, uint64_t *x)
{
    uint64_t v = 0;
    for (int sh = 0;; sh += 7) {
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80))
            break;
    }
    *x = v;
    return p;
}

int ks__locs_add(ks_locs *l, const uint64_t v[KS_LOC_FIELDS])
{
    if (l->count % LOCS_STEP == 0) {
        if (l->nck == l->capck) {
            size_t nc = l->capck ? l->capck * 2 : 64;
            struct ks_locs_ck *nk = realloc(l->ck, nc * sizeof *nk);
            if (!nk)
                return KS_ENOMEM;
            l->ck = nk;
            l->capck = nc;
        }
        l->ck[l->nck].pos = l->n;
        memcpy(l->ck[l->nck++].v, l->last, sizeof l->last);
    }
    if (l->cap - l->n < KS_LOC_FIELDS * 10) {
        size_t nc = l->cap ? l->cap * 2 : 4096;
        uint8_t *nb = realloc(l->b, nc);
        if (!nb) {
            if (l->count % LOCS_STEP == 0)
                l->nck--;
            return KS_ENOMEM;
        }
        l->b = nb;
        l->cap = nc;
    }
    uint8_t *p = l->b + l->n;
    for (int f = 0; f < KS_LOC_FIELDS; f++) {
        int64_t d = (int64_t)(v[f] - l->last[f]); /* mod 2^64: exact for any values */
        p = put_varint(p, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
        l->last[f] = v[f];
    }
    l->n = (size_t)(p - l->b);
    l->count++;
    return KS_OK;
}

void ks__locs_next(const ks_locs *l, ks_locs_cur *c, uint64_t v[KS_LOC_FIELDS])
{
    const uint8_t *p = l->b + c->pos;
    for (int f = 0; f < KS_LOC_FIELDS; f++) {
        uint64_t z;
        p = get_varint(p, &z);
        c->v[f] += (z >> 1) ^ (0 - (z & 1));
        v[f] = c->v[f];
    }
    c->pos = (size_t)(p - l->b);
}

void ks__locs_get(const ks_locs *l, uint64_t i, uint64_t v[KS_LOC_FIELDS])
{
    const struct ks_locs_ck *k = &l->ck[i / LOCS_STEP];
    ks_locs_cur c = {k->pos, {0}};
    memcpy(c.v, k->v, sizeof c.v);
    for (uint64_t j = i - i % LOCS_STEP; j <= i; j++)
        ks__locs_next(l, &c, v);
}

void ks__locs_release(ks_locs *l)
{
    free(l->b);
    free(l->ck);
    memset(l, 0, sizeof *l);
}
