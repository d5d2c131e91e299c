/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the Sigma rule loader: arbitrary bytes as a rule
 * file (multi-document YAML, collections, correlations, filters), compiled
 * against a small logsource mapping, then every loaded rule is evaluated on
 * two fixed events and the correlations are run. Must never crash, leak or
 * hang; bad rules only produce diagnostics.
 */
#include <stdlib.h>
#include <string.h>
#include "detect/sigma/sigma.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char mapping[] =
    "fieldmaps:\n  t:\n    prefixes: ['', 'Event.EventData.']\n    vary_case: true\n"
    "logsources:\n  - product: test\n    fieldmap: t\n"
    "  - product: windows\n    service: security\n    fieldmap: t\n    condition:\n      Channel: Security\n";

static int sink(void *ud, const ks_finding *f)
{
    (void)ud, (void)f;
    return KS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ks_symtab *syms;
    sg_ruleset *rs = NULL;
    sg_det *d = NULL;
    void *ws = NULL;
    static const char *ph[] = {"admins=root,Administrator"};

    if (!syms)
        syms = ks__symtab_new_schema();
    if (!syms || sg__ruleset_new(syms, NULL, NULL, &rs) != KS_OK)
        return 0;
    rs->placeholders = ph;
    rs->nplaceholders = 1;
    sg__map_load_mem(rs, mapping, sizeof mapping - 1, "map.yml");
    sg__ruleset_load_mem(rs, (const char *)data, size, "fuzz.yml");
    sg__ruleset_finish(rs);
    sg_det_opts o = {.prefilter = true, .pattern_needles = true, .run_unmapped = true, .max_records = 1000, .emit = sink};
    if (sg__det_new(rs, &o, &d) != KS_OK) /* takes rs */
        return 0;
    if (ks_detector_sigma.worker_new(d, NULL, &ws) == KS_OK) {
        static const char *const kv[][2] = {
            {"EventID", "4625"}, {"Channel", "Security"}, {"Image", "C:\\Windows\\cmd.exe"},
            {"CommandLine", "powershell -enc SQBFAFgA"}, {"User", "root"}, {"ip", "10.1.2.3"},
            {"Event.EventData.TargetUserName", "alice"}, {"T", "2021-03-02T04:05:06Z"},
        };
        for (int round = 0; round < 2; round++) {
            ks_event ev;
            memset(&ev, 0, sizeof ev);
            ev.syms = syms;
            ks__event_reset(&ev);
            ev.time = (int64_t)round * 1000000000;
            for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
                if (round == 0 || i % 2)
                    ks__event_add_str(&ev, kv[i][0], strlen(kv[i][0]), kv[i][1], strlen(kv[i][1]));
            ks_value iv = {.type = KS_VINT};
            iv.u.i = 4625;
            ks__event_add_named(&ev, "N", 1, &iv);
            ks_detector_sigma.on_event(ws, &ev);
            free(ev.fields);
        }
        ks_detector_sigma.worker_done(d, ws);
    }
    ks_detector_sigma.finish(d);
    ks_detector_sigma.destroy(d);
    return 0;
}
