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
#include "kensa_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ks_engine *engine;

static void drain(const struct ks_input *in, ks_worker *w, const uint8_t *data, size_t size,
                  uint64_t begin, uint64_t end)
{
    ks_source *src = NULL;
    void *st = NULL;
    if (ks__source_mem(data, size, "fuzz.log", &src) != KS_OK)
        return;
    ks_input_ctx ctx = {.src = src, .path = "fuzz.log", .w = w, .begin = begin, .end = end};
    if (in->open(&ctx, &st) == KS_OK) {
        for (int i = 0; i < 100000; i++) {
            ks__event_reset(&w->ev);
            if (in->next(st, &w->ev) != KS_OK)
                break;
            for (size_t k = 0; k < w->ev.n; k++) {
                char buf[64];
                ks_value_format(&w->ev.fields[k].v, buf, sizeof buf);
            }
        }
        in->close(st);
    }
    ks__source_close(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ks_worker w;
    if (!engine && ks_engine_new(&engine) != KS_OK)
        return 0;
    memset(&w, 0, sizeof w);
    w.engine = engine;
    w.cache = ks__symcache_new(ks__engine_symtab(engine));
    w.arena = ks__arena_new(4096, (size_t)64 << 20);
    w.ev.syms = ks__engine_symtab(engine);
    w.ev.cache = w.cache;
    w.ev.arena = w.arena;
    ks_input_w3c.probe(data, size, "u_ex.log");
    ks_input_exchange.probe(data, size, "x.log");
    drain(&ks_input_w3c, &w, data, size, 0, UINT64_MAX);
    const uint8_t *nl = size > 2 ? memchr(data + size / 2, '\n', size - size / 2) : NULL;
    if (nl && (size_t)(nl - data) + 1 < size)
        drain(&ks_input_w3c, &w, data, size, (uint64_t)(nl - data) + 1, size);
    drain(&ks_input_exchange, &w, data, size, 0, UINT64_MAX);
    free(w.ev.fields);
    ks__arena_free(w.arena);
    ks__symcache_free(w.cache);
    return 0;
}
