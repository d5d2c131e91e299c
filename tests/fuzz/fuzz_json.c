/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the JSON reader: the bytes go through the whole
 * "json" input (record splitting, wrappers, resynchronisation) via a
 * memory source, and through the flattener directly.
 */
#include <stdlib.h>
#include <string.h>
#include "input/json.h"
#include "input_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ks_engine *engine = fuzz_engine(NULL);
    ks_worker w;
    if (!engine || ks__worker_init(&w, engine, 0) != KS_OK)
        return 0;
    fuzz_drain(&ks_input_json, &w, "fuzz.json", data, size, 0, UINT64_MAX, NULL, NULL);
    ks__event_reset(&w.ev);
    ks__json_flatten(&w.ev, "x", 1, (const char *)data, size, NULL, NULL);
    ks__worker_release(&w);
    return 0;
}
