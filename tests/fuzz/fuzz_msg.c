/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the Outlook readers: the compound-file reader and
 * .msg extractor (mail_cfb.c, mail_msg.c) and the TNEF extractor
 * (mail_tnef.c), each given the bytes directly. Seeds: generated .msg
 * files with attachments and an embedded message, generated winmail.dat.
 */
#include <string.h>
#include "extract_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ks_extractor *const ex[] = {&ks_extractor_msg, &ks_extractor_tnef};
    for (size_t i = 0; i < KS_ARRAY_LEN(ex); i++) {
        ex[i]->probe(data, KS_MIN(size, (size_t)4096), "fuzz");
        fuzz_extract(ex[i], "fuzz", data, size);
    }
    return 0;
}
