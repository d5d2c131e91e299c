/* SPDX-License-Identifier: Apache-2.0
 *
 * Small commands: version, and formats (what this build can read, detect
 * and write: the plugin tables, through ks_plugin_at).
 */
#include <stdio.h>
#include "cli.h"

const char *const cmd_version_usage = "usage: kensa version\n";

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("kensa %s\n", ks_version());
    return KS_EXIT_CLEAN;
}

const char *const cmd_formats_usage = "usage: kensa formats\n\nLists input formats, detectors and outputs.\n";

int cmd_formats(int argc, char **argv)
{
    static const char *const heads[] = {"inputs", "detectors",
                                        "extractors (content inside files: mail, documents, archives)",
                                        "outputs"};
    static const ks_plugin_kind kinds[] = {KS_PLUGIN_INPUT, KS_PLUGIN_DETECTOR, KS_PLUGIN_EXTRACTOR,
                                           KS_PLUGIN_OUTPUT};
    ks_plugin_info pi;
    (void)argc;
    (void)argv;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        printf("%s:\n", heads[k]);
        for (size_t i = 0; ks_plugin_at(kinds[k], i, &pi) == KS_OK; i++)
            printf("  %-12s %s\n", pi.name, pi.description);
    }
    return KS_EXIT_CLEAN;
}
