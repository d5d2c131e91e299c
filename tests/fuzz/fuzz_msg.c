/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the Outlook readers: the compound-file reader and
 * .msg extractor (mail_cfb.c, mail_msg.c) and the TNEF extractor
 * (mail_tnef.c), each given the bytes directly. Seeds: generated .msg
 * files with attachments and an embedded message, generated winmail.dat.
 */
#include <string.h>
#include "extract/extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_text(void *ud, const ks_xtext *t)
{
    unsigned *sum = ud;
    for (size_t i = 0; i < t->n; i++)
        *sum += (unsigned char)t->p[i];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ks_extractor *const ex[] = {&ks_extractor_msg, &ks_extractor_tnef};
    unsigned sum = 0;
    for (size_t i = 0; i < KS_ARRAY_LEN(ex); i++) {
        ks_xctx x;
        ks__xctx_init(&x, NULL, "fuzz", on_text, &sum);
        x.budget.max_blob = (uint64_t)1 << 20;
        x.budget.max_total = (uint64_t)8 << 20;
        ks_xnode top = {.name = "fuzz", .offset = UINT64_MAX};
        ex[i]->probe(data, KS_MIN(size, (size_t)4096), "fuzz");
        ex[i]->extract(&x, &top, data, size);
    }
    return sum == 0xFFFFFFFFu;
}
