/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa scan PATH...`: file hunting alone. The same engine set-up and flags
 * as `kensa hunt` (flags.def), with mode=files so no input format parses
 * events and only the file detectors (YARA, IOCs, ...) run on every file
 * the walker reaches.
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"

const char *const cmd_scan_usage =
    "usage: kensa scan [options] PATH...\n\n"
    "Sweeps files for web shells, trojanized binaries and indicators: kensa's\n"
    "bundled YARA rules and IOC lists plus --yara DIR / --ioc FILE. Symbolic\n"
    "links are not followed and other file systems are not entered unless\n"
    "asked; files over --max-size (default 100M) are skipped. Options:\n";

int cmd_scan(int argc, char **argv)
{
    static const char *const fixed[] = {"mode", "files", NULL};
    return cli_hunt_main(argc, argv, "scan", fixed);
}
