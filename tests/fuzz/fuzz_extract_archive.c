/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the archive extractor (libarchive walk, member
 * budgets, recursion): the bytes go through the archive extractor
 * directly (so a mutated header still reaches libarchive) and through
 * ks__extract's sniffing (so members reach every other extractor). Small
 * budgets make bombs and deep nesting hit their limits quickly; every
 * text byte is touched so a bad slice would be caught by ASan.
 */
#include "extract_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_extract(&ks_extractor_archive, "fuzz.zip", data, size);
    fuzz_extract(NULL, "fuzz.bin", data, size);
    return 0;
}
