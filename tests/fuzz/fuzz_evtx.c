/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the EVTX reader. The input is a chunk (the unit of
 * parsing): it is placed after a valid file header and given to the "evtx"
 * input, once with slack recovery on, so mutations exercise chunk headers,
 * record framing, BinXML templates and every value type. Inputs that are
 * whole files (starting with "ElfFile") are read as they are.
 */
#include <stdlib.h>
#include <string.h>
#include "input/evtx.h"
#include "input_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ks_engine *engine;

static void run(const uint8_t *buf, size_t n)
{
    ks_worker w;
    if (ks__worker_init(&w, engine, 0) != KS_OK)
        return;
    fuzz_drain(&ks_input_evtx, &w, "fuzz.evtx", buf, n, 0, UINT64_MAX, NULL, NULL);
    ks__worker_release(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const opts[] = {"evtx.recover", "true", NULL};
    if (!engine && !(engine = fuzz_engine(opts)))
        return 0;
    if (size >= 8 && memcmp(data, "ElfFile", 8) == 0) {
        run(data, size);
        return 0;
    }
    size_t n = 4096 + (size > 65536 ? size : 65536);
    uint8_t *buf = calloc(1, n);
    if (!buf)
        return 0;
    memcpy(buf, "ElfFile", 8);
    buf[42] = 1; /* one chunk */
    memcpy(buf + 4096, data, size);
    run(buf, n);
    free(buf);
    return 0;
}
