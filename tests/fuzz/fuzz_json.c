/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the JSON reader: the bytes go through the whole
 * "json" input (record splitting, wrappers, resynchronisation) via a
 * memory source, and through the flattener directly.
 */
#include <stdlib.h>
#include <string.h>
#include "input/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ks_engine *engine;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ks_source *src = NULL;
    ks_worker w;
    void *st = NULL;
    if (!engine && ks_engine_new(&engine) != KS_OK)
        return 0;
    memset(&w, 0, sizeof w);
    w.engine = engine;
    w.cache = ks__symcache_new(ks__engine_symtab(engine));
    w.arena = ks__arena_new(4096, (size_t)64 << 20);
    w.ev.syms = ks__engine_symtab(engine);
    w.ev.cache = w.cache;
    w.ev.arena = w.arena;
    if (ks__source_mem(data, size, "fuzz.json", &src) != KS_OK)
        goto out;
    ks_input_ctx ctx = {.src = src, .path = "fuzz.json", .w = &w, .begin = 0, .end = UINT64_MAX};
    if (ks_input_json.open(&ctx, &st) == KS_OK) {
        for (int i = 0; i < 100000; i++) {
            ks__event_reset(&w.ev);
            if (ks_input_json.next(st, &w.ev) != KS_OK)
                break;
            for (size_t k = 0; k < w.ev.n; k++) {
                char buf[64];
                ks_value_format(&w.ev.fields[k].v, buf, sizeof buf);
            }
        }
        ks_input_json.close(st);
    }
    ks__event_reset(&w.ev);
    ks__json_flatten(&w.ev, "x", 1, (const char *)data, size, NULL, NULL);
out:
    ks__source_close(src);
    free(w.ev.fields);
    ks__arena_free(w.arena);
    ks__symcache_free(w.cache);
    return 0;
}
