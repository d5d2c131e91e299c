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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ks_engine *engine;

static void run(const uint8_t *buf, size_t n)
{
    ks_source *src = NULL;
    ks_worker w;
    void *st = NULL;
    memset(&w, 0, sizeof w);
    w.engine = engine;
    w.cache = ks__symcache_new(ks__engine_symtab(engine));
    w.arena = ks__arena_new(4096, (size_t)64 << 20);
    w.ev.syms = ks__engine_symtab(engine);
    w.ev.cache = w.cache;
    w.ev.arena = w.arena;
    if (ks__source_mem(buf, n, "fuzz.evtx", &src) == KS_OK) {
        ks_input_ctx ctx = {.src = src, .path = "fuzz.evtx", .w = &w, .begin = 0, .end = UINT64_MAX};
        if (ks_input_evtx.open(&ctx, &st) == KS_OK) {
            for (int i = 0; i < 100000; i++) {
                ks__event_reset(&w.ev);
                if (ks_input_evtx.next(st, &w.ev) != KS_OK)
                    break;
            }
            ks_input_evtx.close(st);
        }
    }
    ks__source_close(src);
    free(w.ev.fields);
    ks__arena_free(w.arena);
    ks__symcache_free(w.cache);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!engine) {
        if (ks_engine_new(&engine) != KS_OK)
            return 0;
        ks_engine_set(engine, "evtx.recover", "true");
    }
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
