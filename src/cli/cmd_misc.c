/* SPDX-License-Identifier: Apache-2.0
 *
 * Small commands: version, and formats (what this build can read, detect
 * and write: the plugin tables).
 */
#include <stdio.h>
#include "cli.h"
#include "kensa_int.h"
#include "extract/extract.h"

const char *const cmd_version_usage = "usage: kensa version\n";

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("kensa %s\n", ks_version());
    return KS_EXIT_CLEAN;
}

const char *const cmd_formats_usage = "usage: kensa formats\n\nLists input formats, detectors, content extractors and outputs.\n";

int cmd_formats(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("inputs:\n");
    for (size_t i = 0; ks__inputs[i]; i++)
        printf("  %-12s %s\n", ks__inputs[i]->name, ks__inputs[i]->description);
    printf("detectors:\n");
    for (size_t i = 0; ks__detectors[i]; i++)
        printf("  %-12s %s\n", ks__detectors[i]->name, ks__detectors[i]->description);
    printf("extractors (content inside files: mail, documents, archives):\n");
    for (size_t i = 0; ks__extractors[i]; i++)
        printf("  %-12s %s\n", ks__extractors[i]->name, ks__extractors[i]->description);
    printf("outputs:\n");
    for (size_t i = 0; ks__outputs[i]; i++)
        printf("  %-12s %s\n", ks__outputs[i]->name, ks__outputs[i]->description);
    return KS_EXIT_CLEAN;
}
