/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for PDF text: poppler's parser on damaged files,
 * per-page text, document information and embedded files as children.
 */
#include "extract_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_extract(&ks_extractor_pdf, "fuzz.pdf", data, size);
    return 0;
}
