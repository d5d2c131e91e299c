/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the Sigma condition parser: arbitrary text over a
 * fixed set of search identifiers. The parser must return a tree or
 * KS_ERULE with a message, never crash, recurse without bound or read past
 * the input.
 */
#include <stdlib.h>
#include <string.h>
#include "detect/sigma/sigma_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int walk(const sg_cond *c, int depth)
{
    if (!c || depth > 10000)
        return 0;
    return 1 + walk(c->a, depth + 1) + walk(c->b, depth + 1) + (int)c->nrefs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"sel", "sel1", "sel2", "selection_x", "filter", "filter_2",
                                        "_hidden", "1", "keywords"};
    ks_arena *a = ks__arena_new(4096, (size_t)16 << 20);
    sg_cond *c = NULL;
    char err[256];
    if (!a)
        return 0;
    /* a copy without a terminator: the parser must respect size */
    char *copy = malloc(size ? size : 1);
    if (copy) {
        memcpy(copy, data, size);
        if (sg__cond_parse(a, copy, size, names, sizeof names / sizeof names[0], &c, err,
                           sizeof err) == KS_OK)
            (void)walk(c, 0);
        free(copy);
    }
    ks__arena_free(a);
    return 0;
}
