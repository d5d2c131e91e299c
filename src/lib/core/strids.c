/* SPDX-License-Identifier: Apache-2.0
 *
 * Compact string ids (see core.h): for analytics that keep one id per
 * record and may meet a distinct value on nearly every record (a spray's
 * random source addresses). ks_map spends a 32-byte slot at load <= 1/2
 * plus a 16-byte-aligned key copy: ~100 bytes a value. Here a value costs
 * a 4-byte id slot (load <= 1/2: 8-16 bytes), a 4-byte hash and a 4-byte
 * text reference (block and offset, not an 8-byte pointer) plus its text
 * packed NUL-terminated in 64 KiB blocks: ~16-24 bytes plus the text.
 *
 * An IPv4 address in its canonical dotted form ("10.1.2.3": no leading
 * zeros) keeps the 32-bit address in place of the hash and no text at all
 * until asked for (ks__strids_str writes it then): most values of a spray
 * are such addresses and most are never shown in a finding, so they cost
 * 16-24 bytes each instead of ~30 plus the text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

#define STRIDS_MAX ((uint32_t)1 << 28) /* ids, as ks_map's entry cap */
#define BLOCK_BITS 16
#define TEXT_BLOCK ((size_t)1 << BLOCK_BITS)
#define MAX_BLOCKS ((uint32_t)1 << 15) /* ref: 15 bits of block, 16 of offset */
#define PACKED 0x80000000u              /* ref flag: kr[].key is an IPv4 address */
/* A slot holds its id (under STRIDS_MAX) and in the bits above it the top
 * bits of the value's hash: a probe passes other values' slots without
 * reading their key (a cache miss each in a table of a spray's addresses:
 * a quarter of the interning of an EVTX hunt's identity pass). */
#define ID_MASK (STRIDS_MAX - 1)
#define TAG(h) ((h) & ~ID_MASK)

typedef struct kref {
    uint32_t key;       /* low bits of its hash, or the packed address */
    uint32_t ref;       /* PACKED | block << 16 | offset of its text
                         * (0: a packed address not written out yet) */
} kref;

struct ks_strids {
    uint32_t *slot;     /* id | tag, 0 = empty; power-of-two table */
    uint32_t mask;
    kref *kr;           /* id -> its key and text reference, side by side: a
                         * probe that meets its tag reads one cache line */
    uint32_t n, cap;    /* ids 1..n-1 in use */
    char **blk;         /* text blocks; block 0 starts with the "" of id 0 */
    uint32_t nblk, capblk;
    size_t used;        /* bytes used in the last block */
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
    for (uint32_t i = 0; i < t->nblk; i++)
        free(t->blk[i]);
    free(t->blk);
    free(t->slot);
    free(t->kr);
    free(t);
}

static int new_block(ks_strids *t, size_t cap)
{
    if (t->nblk >= MAX_BLOCKS)
        return KS_ELIMIT;
    if (t->nblk == t->capblk) {
        uint32_t nc = t->capblk ? t->capblk * 2 : 16;
        char **nb = realloc(t->blk, (size_t)nc * sizeof *nb);
        if (!nb)
            return KS_ENOMEM;
        t->blk = nb;
        t->capblk = nc;
    }
    if (!(t->blk[t->nblk] = malloc(cap)))
        return KS_ENOMEM;
    t->blk[t->nblk][0] = 0; /* offset 0 of block 0: id 0's "" */
    t->used = t->nblk == 0 ? 1 : 0;
    t->nblk++;
    return KS_OK;
}

/* Stores s[0..n) NUL-terminated; its reference, or 0 when full. A text
 * longer than a block gets a block of its own (offset 0). */
static uint32_t keep_text(ks_strids *t, const char *s, size_t n)
{
    if (!t->nblk && new_block(t, TEXT_BLOCK) != KS_OK)
        return 0;
    if (n + 1 > TEXT_BLOCK) {
        if (new_block(t, n + 1) != KS_OK)
            return 0;
        memcpy(t->blk[t->nblk - 1], s, n);
        t->blk[t->nblk - 1][n] = 0;
        t->used = TEXT_BLOCK; /* full: the next text opens a new block */
        return (t->nblk - 1) << BLOCK_BITS;
    }
    if (TEXT_BLOCK - t->used < n + 1 && new_block(t, TEXT_BLOCK) != KS_OK)
        return 0;
    char *d = t->blk[t->nblk - 1] + t->used;
    memcpy(d, s, n);
    d[n] = 0;
    uint32_t r = (t->nblk - 1) << BLOCK_BITS | (uint32_t)t->used;
    t->used += n + 1;
    return r;
}

static const char *text_at(const ks_strids *t, uint32_t ref)
{
    ref &= ~PACKED;
    return t->blk[ref >> BLOCK_BITS] + (ref & (TEXT_BLOCK - 1));
}

/* A canonical dotted IPv4 address (each part 0-255 without leading zeros:
 * the only spelling that formats back to the same text). */
bool ks__strids_ipv4(const char *s, size_t n, uint32_t *out)
{
    uint32_t a = 0, part = 0, digits = 0, dots = 0;
    if (n < 7 || n > 15)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (!digits || ++dots > 3)
                return false;
            a = a << 8 | part;
            part = digits = 0;
        } else if (c >= '0' && c <= '9') {
            if ((digits && part == 0) || ++digits > 3 || (part = part * 10 + (uint32_t)(c - '0')) > 255)
                return false;
        } else {
            return false;
        }
    }
    if (!digits || dots != 3)
        return false;
    *out = a << 8 | part;
    return true;
}

static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    return x ^ (x >> 16);
}

static uint32_t hash_of(const ks_strids *t, uint32_t id)
{
    return t->kr[id].ref & PACKED ? mix32(t->kr[id].key) : t->kr[id].key;
}

static int grow_slots(ks_strids *t)
{
    uint32_t mask = t->mask * 2 + 1;
    uint32_t *ns = calloc((size_t)mask + 1, sizeof *ns);
    if (!ns)
        return KS_ENOMEM;
    for (uint32_t id = 1; id < t->n; id++) {
        /* the new table is a cache miss a value: ask for one ahead */
        if (id + 16 < t->n)
            __builtin_prefetch(&ns[hash_of(t, id + 16) & mask], 1);
        uint32_t h = hash_of(t, id), i = h & mask;
        while (ns[i])
            i = (i + 1) & mask;
        ns[i] = id | TAG(h);
    }
    free(t->slot);
    t->slot = ns;
    t->mask = mask;
    return KS_OK;
}

/* The id of a value: an address when `packed` (s, n unused), else text
 * s[0..n) with hash h. */
static uint32_t intern(ks_strids *t, bool packed, uint32_t addr, uint32_t h, const char *s, size_t n)
{
    uint32_t i = h & t->mask, sv, id;
    while ((sv = t->slot[i]) != 0) {
        id = sv & ID_MASK;
        if (TAG(sv) == TAG(h) &&
            (packed ? (t->kr[id].ref & PACKED) && t->kr[id].key == addr
                    : !(t->kr[id].ref & PACKED) && t->kr[id].key == h &&
                          memcmp(text_at(t, t->kr[id].ref), s, n) == 0 && text_at(t, t->kr[id].ref)[n] == 0))
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
        kref *nk = realloc(t->kr, (size_t)nc * sizeof *nk);
        if (!nk)
            return 0;
        t->kr = nk;
        t->kr[0].key = t->kr[0].ref = 0;
        t->cap = nc;
    }
    uint32_t ref = PACKED;
    if (!packed && !(ref = keep_text(t, s, n)))
        return 0;
    id = t->n++;
    t->kr[id].key = packed ? addr : h;
    t->kr[id].ref = ref;
    t->slot[i] = id | TAG(h);
    return id;
}

uint32_t ks__strids_id(ks_strids *t, const char *s, size_t n)
{
    uint32_t addr = 0;
    if (ks__strids_ipv4(s, n, &addr))
        return intern(t, true, addr, mix32(addr), NULL, 0);
    return intern(t, false, 0, (uint32_t)ks__hash(s, n), s, n);
}

uint32_t ks__strids_addr(ks_strids *t, uint32_t addr)
{
    return intern(t, true, addr, mix32(addr), NULL, 0);
}

void ks__strids_want_addr(const ks_strids *t, uint32_t addr, int step)
{
    uint32_t h = mix32(addr);
    const uint32_t *slot = &t->slot[h & t->mask];
    if (step == 0)
        __builtin_prefetch(slot);
    else if (*slot && TAG(*slot) == TAG(h)) /* likely the value met again: its key */
        __builtin_prefetch(&t->kr[*slot & ID_MASK]);
}

const char *ks__strids_str(const ks_strids *t, uint32_t id)
{
    if (!id || id >= t->n)
        return "";
    uint32_t ref = t->kr[id].ref;
    if (ref == PACKED) { /* written out on first use; the table is not shared */
        ks_strids *w = (ks_strids *)t;
        char ip[16];
        uint32_t a = t->kr[id].key;
        int len = snprintf(ip, sizeof ip, "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
        uint32_t at = keep_text(w, ip, (size_t)len);
        if (!at)
            return "";
        w->kr[id].ref = ref = PACKED | at;
    }
    return text_at(t, ref);
}

uint32_t ks__strids_count(const ks_strids *t)
{
    return t->n;
}
