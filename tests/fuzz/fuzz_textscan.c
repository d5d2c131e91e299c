/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the text scanner and its rule loaders. The first
 * byte picks the target, the rest is the input:
 *   0  text scanned with kensa's pack (every validator: PEM, JWT, SAS,
 *      cards, IBAN, phones through libphonenumber, ...)
 *   1  a rule file (kensa / Nosey Parker YAML or gitleaks TOML by content),
 *      its converted patterns compiled by PCRE2
 *   2  the TOML reader alone
 *   3  one regex through the Rust / Go dialect conversion, then PCRE2
 */
#include <stdlib.h>
#include <string.h>
#include "detect/textscan_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ks_textscan *ts;
static ks_textscratch *scratch;

static void cleanup(void)
{
    ks__textscratch_free(scratch);
    ks__textscan_free(ts);
}

static int count(void *ud, const ks_tmatch *m)
{
    size_t *n = ud;
    (*n) += m->nvalue > 0;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0:
        if (!ts) {
            if (ks__textscan_new(NULL, "rules", &ts) != KS_OK ||
                ks__textscratch_new(ts, &scratch) != KS_OK)
                abort();
            atexit(cleanup);
        }
        {
            size_t hits = 0;
            ks__textscan_run(ts, scratch, KS_TC_SECRET | KS_TC_PII, p, n, count, &hits);
        }
        break;
    case 1: {
        ts_rules rs = {0};
        char *buf = malloc(n + 1);
        if (!buf || !(rs.a = ks__arena_new(4096, 64u << 20))) {
            free(buf);
            return 0;
        }
        memcpy(buf, p, n);
        buf[n] = 0;
        ks__ts_load_mem(&rs, buf, n, (data[0] & 4) ? "fuzz.toml" : "fuzz.yml");
        for (size_t i = 0; i < rs.n; i++) {
            int err;
            PCRE2_SIZE off;
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)rs.v[i].pattern, PCRE2_ZERO_TERMINATED, 0,
                                           &err, &off, NULL);
            pcre2_code_free(re);
            for (size_t k = 0; k < rs.v[i].nallow; k++)
                pcre2_code_free(rs.v[i].allow[k]);
            free(rs.v[i].allow);
        }
        free(rs.v);
        ks__arena_free(rs.a);
        free(buf);
        break;
    }
    case 2: {
        ks_arena *a = ks__arena_new(4096, 64u << 20);
        ts_toml *root;
        char err[128];
        uint32_t line;
        if (a)
            ks__toml_parse(a, p, n, &root, err, sizeof err, &line);
        ks__arena_free(a);
        break;
    }
    default: {
        ks_arena *a = ks__arena_new(4096, 64u << 20);
        const char *re = a ? ks__ts_regex_convert(a, p, n, (data[0] & 4) ? TS_D_GO : TS_D_RUST) : NULL;
        if (re) {
            int err;
            PCRE2_SIZE off;
            pcre2_code_free(pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL));
        }
        ks__arena_free(a);
        break;
    }
    }
    return 0;
}
