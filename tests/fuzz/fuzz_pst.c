/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the .pst/.ost extractor (mail_pst.c over libpff,
 * which reads a memfd copy of the blob): damaged headers, trees and
 * tables must end in a diagnostic, never a crash. Nothing in Debian
 * writes a PST, so the seeds (tests/fuzz/seeds_pst.py) are headers built
 * to the MS-PST layout with their CRCs right, in ANSI and Unicode, PST and
 * OST, with and without a body, and truncated.
 */
#include "extract_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_extract(&ks_extractor_pst, "fuzz.pst", data, size);
    return 0;
}
