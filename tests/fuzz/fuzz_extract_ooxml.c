/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for OOXML/ODF documents: the zip walk with the media
 * filter, then every part through the XML extractor (markup scanner,
 * XML-declared and sniffed charsets), embedded documents recursively.
 */
#include "extract_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_extract(&ks_extractor_ooxml, "fuzz.docx", data, size);
    return 0;
}
