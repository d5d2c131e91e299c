/* SPDX-License-Identifier: Apache-2.0
 *
 * The plugin tables, built from plugins.def (yara's module_list idea): the
 * only place that knows every input, detector and output.
 */
#include <string.h>
#include "engine_int.h"
#include "extract/extract.h"

#define KS_INPUT(sym) &sym,
#define KS_DETECTOR(sym)
#define KS_OUTPUT(sym)
const struct ks_input *const ks__inputs[] = {
#include "plugins.def"
    NULL};
#undef KS_INPUT
#undef KS_DETECTOR
#undef KS_OUTPUT

#define KS_INPUT(sym)
#define KS_DETECTOR(sym) &sym,
#define KS_OUTPUT(sym)
const struct ks_detector *const ks__detectors[] = {
#include "plugins.def"
    NULL};
#undef KS_INPUT
#undef KS_DETECTOR
#undef KS_OUTPUT

#define KS_INPUT(sym)
#define KS_DETECTOR(sym)
#define KS_OUTPUT(sym) &sym,
const struct ks_output *const ks__outputs[] = {
#include "plugins.def"
    NULL};
#undef KS_INPUT
#undef KS_DETECTOR
#undef KS_OUTPUT

const struct ks_input *ks__input_find(const char *name)
{
    for (size_t i = 0; ks__inputs[i]; i++)
        if (strcmp(ks__inputs[i]->name, name) == 0)
            return ks__inputs[i];
    return NULL;
}

static size_t count(const void *const *table)
{
    size_t n = 0;
    while (table[n])
        n++;
    return n;
}

int ks_plugin_at(ks_plugin_kind kind, size_t i, ks_plugin_info *out)
{
    if (kind == KS_PLUGIN_INPUT && i < count((const void *const *)ks__inputs))
        *out = (ks_plugin_info){ks__inputs[i]->name, ks__inputs[i]->description};
    else if (kind == KS_PLUGIN_DETECTOR && i < count((const void *const *)ks__detectors))
        *out = (ks_plugin_info){ks__detectors[i]->name, ks__detectors[i]->description};
    else if (kind == KS_PLUGIN_OUTPUT && i < count((const void *const *)ks__outputs))
        *out = (ks_plugin_info){ks__outputs[i]->name, ks__outputs[i]->description};
    else if (kind == KS_PLUGIN_EXTRACTOR && i < count((const void *const *)ks__extractors))
        *out = (ks_plugin_info){ks__extractors[i]->name, ks__extractors[i]->description};
    else
        return KS_ENOTFOUND;
    return KS_OK;
}
