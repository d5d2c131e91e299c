/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the RFC 5322 and mbox extractors (mail_mime.c):
 * the bytes go to both extractors directly (no sniffing, so every input
 * reaches gmime and the mbox splitter), through ks__extract_child's budgets
 * for attachments and nested messages, and every text unit is walked so a
 * bad slice would be touched. Seeds: generated messages with QP/base64
 * bodies, nested messages, broken base64, deep multipart nesting.
 */
#include <string.h>
#include "extract/extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_text(void *ud, const ks_xtext *t)
{
    unsigned *sum = ud;
    for (size_t i = 0; i < t->n; i++)
        *sum += (unsigned char)t->p[i];
    if (t->node->mail && t->node->mail->subject)
        *sum += (unsigned)strlen(t->node->mail->subject);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ks_extractor *const ex[] = {&ks_extractor_mime, &ks_extractor_mbox};
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
