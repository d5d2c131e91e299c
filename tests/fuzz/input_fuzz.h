/* SPDX-License-Identifier: Apache-2.0
 *
 * Shared by the input harnesses (fuzz_evtx, fuzz_json, fuzz_w3c,
 * fuzz_netlogs): a worker set up the one way the engine does it
 * (ks__worker_init), and fuzz_drain(), which reads every event an input
 * gives for a memory source and formats every value, so a slice that
 * points outside the input would be touched (ASan) — then hands the event
 * to the harness's own check, if any.
 */
#ifndef KS_INPUT_FUZZ_H
#define KS_INPUT_FUZZ_H

#include <stdlib.h>
#include <string.h>
#include "kensa_int.h"

#define FUZZ_MAX_EVENTS 100000

/* The harness's engine, made on first use with the given options
 * ("key", "value", ..., NULL); NULL when it cannot be made. */
static ks_engine *fuzz_engine(const char *const *opts)
{
    static ks_engine *e;
    if (!e && ks_engine_new(&e) == KS_OK)
        for (size_t i = 0; opts && opts[i] && opts[i + 1]; i += 2)
            ks_engine_set(e, opts[i], opts[i + 1]);
    return e;
}

typedef void (*fuzz_event_fn)(void *ud, const ks_event *ev);

static void fuzz_drain(const struct ks_input *in, ks_worker *w, const char *path, const uint8_t *data,
                       size_t size, uint64_t begin, uint64_t end, fuzz_event_fn each, void *ud)
{
    ks_source *src = NULL;
    void *st = NULL;
    if (ks__source_mem(data, size, path, &src) != KS_OK)
        return;
    ks_input_ctx ctx = {.src = src, .path = path, .w = w, .begin = begin, .end = end};
    if (in->open(&ctx, &st) == KS_OK) {
        for (int i = 0; i < FUZZ_MAX_EVENTS; i++) {
            ks__event_reset(&w->ev);
            if (in->next(st, &w->ev) != KS_OK)
                break;
            ks__event_finish(&w->ev);
            for (size_t k = 0; k < w->ev.n; k++) {
                char buf[64];
                ks_value_format(&w->ev.fields[k].v, buf, sizeof buf);
            }
            if (each)
                each(ud, &w->ev);
        }
        in->close(st);
    }
    ks__source_close(src);
}

#endif
