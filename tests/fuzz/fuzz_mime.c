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
#include "extract_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ks_extractor *const ex[] = {&ks_extractor_mime, &ks_extractor_mbox};
    for (size_t i = 0; i < KS_ARRAY_LEN(ex); i++) {
        ex[i]->probe(data, KS_MIN(size, (size_t)4096), "fuzz");
        fuzz_extract(ex[i], "fuzz", data, size);
    }
    return 0;
}
