/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the web-server and Exchange log readers: the bytes
 * go through the "w3c" input (whole file, and as a split part starting at
 * the line after the middle, which exercises the #Fields/line-number scan
 * of the prefix) and through the "exchange" input (CSV, quotes, directives),
 * each via a memory source; every value produced is formatted so a bad
 * slice would be touched.
 */
#include <stdlib.h>
#include <string.h>
#include "input_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ks_engine *engine = fuzz_engine(NULL);
    ks_worker w;
    if (!engine || ks__worker_init(&w, engine, 0) != KS_OK)
        return 0;
    ks_input_w3c.probe(data, size, "u_ex.log");
    ks_input_exchange.probe(data, size, "x.log");
    fuzz_drain(&ks_input_w3c, &w, "fuzz.log", data, size, 0, UINT64_MAX, NULL, NULL);
    const uint8_t *nl = size > 2 ? memchr(data + size / 2, '\n', size - size / 2) : NULL;
    if (nl && (size_t)(nl - data) + 1 < size)
        fuzz_drain(&ks_input_w3c, &w, "fuzz.log", data, size, (uint64_t)(nl - data) + 1, size, NULL, NULL);
    fuzz_drain(&ks_input_exchange, &w, "fuzz.log", data, size, 0, UINT64_MAX, NULL, NULL);
    ks__worker_release(&w);
    return 0;
}
