/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for kensa's own text decoders: HTML and XML (tag,
 * attribute, entity and CDATA scanning), RTF (groups, control words,
 * \'hh in code pages, \u with fallbacks, \bin), and plain text charset
 * sniffing and conversion (UTF-16/32, Windows-1252, cut sequences).
 */
#include "extract_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_extract(&ks_extractor_html, "fuzz.html", data, size);
    fuzz_extract(&ks_extractor_xml, "fuzz.xml", data, size);
    fuzz_extract(&ks_extractor_rtf, "fuzz.rtf", data, size);
    fuzz_extract(&ks_extractor_text, "fuzz.txt", data, size);
    return 0;
}
