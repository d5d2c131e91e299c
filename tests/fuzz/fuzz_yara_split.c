/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the YARA rule reader that gates rules into sets
 * (yara_split.c): any bytes are parsed; when the file is not kept whole,
 * every rule's range must lie inside the input and in order, its name
 * inside it, a magic-or-literal gate must have literals and a magic of
 * 1, 2 or 4 bytes, every literal must be non-empty, sizes in order, every
 * regex string inside its rule (and translated for the prefilter), and the
 * part texts (all rules, then each rule alone) are built, so a bad range
 * or dependency index is touched.
 */
#include <stdlib.h>
#include <string.h>
#include "detect/yara_sets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ks_ysplit s;
    ks_buf b = {0};
    if (ks__ysplit_parse((const char *)data, size, &s) != KS_OK)
        return 0;
    if (!s.whole) {
        bool *pick = calloc(s.nrules ? s.nrules : 1, sizeof *pick);
        size_t prev = 0;
        for (size_t i = 0; i < s.nrules; i++) {
            const ks_yrule *r = &s.rules[i];
            if (r->begin < prev || r->end > size || r->begin >= r->end)
                abort();
            prev = r->end;
            if (r->lit0 + r->nlit > s.nlits)
                abort();
            if (r->nb < r->begin || r->ne > r->end || r->nb >= r->ne)
                abort();
            if ((r->gate == KS_YG_MIXED && r->nlit == 0) ||
                ((r->gate == KS_YG_MIXED || r->gate == KS_YG_MAGIC) && r->magic.width != 1 &&
                 r->magic.width != 2 && r->magic.width != 4))
                abort();
        }
        for (size_t i = 0; i < s.nlits; i++)
            if (s.lits[i].len < KS_YSPLIT_MIN_LIT)
                abort();
        for (size_t i = 0; i < s.nrules; i++)
            if (s.rules[i].size_min > s.rules[i].size_max)
                abort();
        for (size_t i = 0; i < s.nregexes; i++) {
            const ks_yregex *re = &s.regexes[i];
            if (re->rule >= s.nrules || re->vb >= re->ve || re->vb < s.rules[re->rule].begin ||
                re->ve > s.rules[re->rule].end)
                abort();
            ks__buf_reset(&b);
            ks__yre_translate((const char *)data + re->vb, re->ve - re->vb, &b);
        }
        for (size_t i = 0; pick && i < s.nrules; i++)
            pick[i] = true;
        if (pick)
            ks__ysplit_text((const char *)data, &s, pick, &b);
        for (size_t i = 0; pick && i < s.nrules && i < 64; i++) {
            memset(pick, 0, s.nrules * sizeof *pick);
            pick[i] = true;
            ks__buf_reset(&b);
            ks__ysplit_text((const char *)data, &s, pick, &b);
        }
        free(pick);
    }
    ks__buf_release(&b);
    ks__ysplit_free(&s);
    return 0;
}
