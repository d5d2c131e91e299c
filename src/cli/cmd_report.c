/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa report RUN.jsonl... [outputs]`: renders saved runs (the JSON lines
 * --json wrote) with any output, without reading the evidence again; several
 * runs (one per host) merge into one report. Same flags and exit status as
 * hunt: 1 when the runs hold findings, 2 when a run could not be read.
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"

const char *const cmd_report_usage =
    "usage: kensa report [options] RUN.jsonl...\n\n"
    "Reads saved runs (JSON lines of findings, as --json writes them; - for\n"
    "stdin, .gz/.zst transparent), merges them (a finding present in two runs\n"
    "is kept once) and writes them with the outputs asked for:\n"
    "  kensa report host1.jsonl host2.jsonl --html report.html --stix bundle.json\n"
    "Options:\n";

int cmd_report(int argc, char **argv)
{
    ks_engine *e = NULL;
    cli_run run;
    int rc;
    memset(&run, 0, sizeof run);
    run.cmd = "report";
    if ((rc = cli_setup(argc, argv, NULL, &e, &run)) != 0)
        return rc;
    rc = ks_engine_report(e);
    if (rc != KS_OK) {
        cli_error(run.cmd, "%s", ks_strerror(rc));
        rc = KS_EXIT_ERRORS;
    } else {
        rc = cli_finish(e, &run);
    }
    ks_engine_free(e);
    return rc;
}
