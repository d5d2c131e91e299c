/* SPDX-License-Identifier: Apache-2.0
 *
 * Shared by the extractor harnesses (fuzz_extract_*.c): runs one
 * extractor (or, with NULL, content sniffing) over the input with small
 * budgets and checks every text unit handed out: inside bounds (every
 * byte read), offsets increasing within a node and part.
 */
#ifndef KS_EXTRACT_FUZZ_H
#define KS_EXTRACT_FUZZ_H

#include <stdlib.h>
#include <string.h>
#include "extract/extract.h"

typedef struct fuzz_sum {
    uint64_t bytes;   /* every byte of every text unit, summed */
    uint64_t units;
} fuzz_sum;

static int fuzz_on_text(void *ud, const ks_xtext *t)
{
    fuzz_sum *s = ud;
    ks_buf chain = KS_BUF_INIT;
    for (size_t i = 0; i < t->n; i++)
        s->bytes += (uint8_t)t->p[i];
    ks__xnode_path(t->node, &chain); /* walks the chain: a dangling parent would show */
    if (t->node->depth > 64 || !t->part)
        abort();
    ks__buf_release(&chain);
    s->units++;
    return 0;
}

/* fuzz_extract with the text units going to cb(ud, ...). */
static inline void fuzz_extract_to(const struct ks_extractor *ex, const char *name, const uint8_t *data, size_t size,
                                   int (*cb)(void *, const ks_xtext *), void *ud)
{
    ks_xctx x;
    ks__xctx_init(&x, NULL, name, cb, ud);
    x.budget.max_depth = 4;
    x.budget.max_blob = (uint64_t)1 << 20;
    x.budget.max_total = (uint64_t)4 << 20;
    x.budget.max_ratio = 50;
    x.budget.max_children = 500;
    ks_xnode top = {.name = name, .offset = UINT64_MAX};
    if (ex) {
        /* ks__extract resets the totals and fills the budget: run it on
         * nothing first, then the extractor itself. */
        ks__extract(&x, &top, (const uint8_t *)"", 0);
        ex->extract(&x, &top, data, size);
    } else {
        ks__extract(&x, &top, data, size);
    }
}

static inline void fuzz_extract(const struct ks_extractor *ex, const char *name, const uint8_t *data, size_t size)
{
    fuzz_sum sum = {0, 0};
    fuzz_extract_to(ex, name, data, size, fuzz_on_text, &sum);
}

#endif
