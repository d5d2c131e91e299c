/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the IOC list loader (hash lists, CSV releases,
 * REGEX;SCORE lines, literal lists, STIX bundles): the bytes become an IOC
 * file whose name (picked by the first byte) selects the literal-list
 * shape, loaded by a files-mode engine over a one-file tree so the
 * compiled Vectorscan/PCRE2 databases are exercised too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kensa/kensa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

/* The scratch directory goes when the process does (make check replays). */
static void cleanup(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/evidence", dir);
    unlink(p);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"hashes.txt", "c2-list.txt", "filename-iocs.txt",
                                        "bundle.json"};
    char path[128], target[128];
    ks_engine *e = NULL;
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/kensa-fuzz-ioc-XXXXXX");
        if (!mkdtemp(dir))
            return 0;
        atexit(cleanup);
        snprintf(target, sizeof target, "%s/evidence", dir);
        FILE *t = fopen(target, "w");
        if (t) {
            fputs("avsvmcloud.com web shell evidence\n", t);
            fclose(t);
        }
    }
    snprintf(target, sizeof target, "%s/evidence", dir);
    snprintf(path, sizeof path, "%s/%s", dir, names[size ? data[0] % 4 : 0]);
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    if (size > 1)
        fwrite(data + 1, 1, size - 1, fp);
    fclose(fp);
    if (ks_engine_new(&e) == KS_OK) {
        ks_engine_set(e, "mode", "files");
        ks_engine_set(e, "threads", "1");
        ks_engine_set(e, "builtin", "false");
        ks_engine_set(e, "detector.yara", "false");
        ks_engine_set(e, "ioc", path);
        ks_engine_add_path(e, target);
        ks_engine_run(e);
        ks_engine_free(e);
    }
    unlink(path);
    return 0;
}
