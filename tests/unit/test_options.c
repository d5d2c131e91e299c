/* SPDX-License-Identifier: Apache-2.0
 * The option registry: every row is well formed, every key the code reads
 * is registered, ks_engine_set and config files refuse what the registry
 * does not allow, the CLI's flags and help come from it, and
 * docs/CONFIG.md's table is the registry's. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "kensa/kensa.h"

static int kensa(const char *args, char **out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/kensa %s 2>&1", ks_test_build(), args);
    return ks_test_run(cmd, out);
}

TEST(rows_are_well_formed)
{
    char msg[256];
    size_t n = 0;
    for (size_t i = 0; ks_option_at(i); i++, n++) {
        const ks_option *o = ks_option_at(i);
        CHECK(o->key && o->doc && o->doc[0] && o->dflt && o->range);
        /* a default must pass its own row (no key is its own wildcard) */
        if (o->dflt[0] && !strchr(o->key, '*') && ks_option_check(o->key, o->dflt, msg, sizeof msg) != KS_OK) {
            fprintf(stderr, "default of %s: %s\n", o->key, msg);
            CHECK(0);
        }
        CHECK(o->type != KS_OPT_ENUM || strchr(o->range, '|'));
        CHECK(!o->flag || o->type == KS_OPT_BOOL || o->metavar);
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(ks_option_at(j)->key, o->key) != 0);
            if (o->flag && ks_option_at(j)->flag)
                CHECK(strcmp(ks_option_at(j)->flag, o->flag) != 0);
            if (o->short_flag)
                CHECK(ks_option_at(j)->short_flag != o->short_flag);
        }
    }
    CHECK(n >= 50);
}

/* Every literal key a plugin reads (ks__opt*(e, "key")) has a row. */
TEST(every_read_key_is_registered)
{
    char *out = NULL;
    int keys = 0;
    int rc = ks_test_run("grep -rhoE --include='*.c' --include='*.cc' 'ks__opt[a-z_]*\\([^,()]+, *\"[^\"]+\"' src/lib", &out);
    CHECK_INT(rc, 0);
    for (char *line = out; line && *line;) {
        char *nl = strchr(line, '\n'), *q = strchr(line, '"');
        if (nl)
            *nl = 0;
        if (q) {
            char *end = strchr(q + 1, '"');
            if (end) {
                *end = 0;
                keys++;
                if (!ks_option_find(q + 1)) {
                    fprintf(stderr, "read but not registered: %s\n", q + 1);
                    CHECK(0);
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    CHECK(keys >= 40);
    free(out);
}

TEST(set_refuses_what_the_registry_does_not_allow)
{
    ks_engine *e = NULL;
    CHECK_INT(ks_engine_new(&e), KS_OK);
    CHECK_INT(ks_engine_set(e, "no.such.option", "1"), KS_EUSAGE);
    CHECK(strstr(ks_engine_errmsg(e), "no.such.option"));
    CHECK_INT(ks_engine_set(e, "spray.min_acounts", "2"), KS_EUSAGE);
    CHECK(strstr(ks_engine_errmsg(e), "did you mean 'spray.min_accounts'"));
    CHECK_INT(ks_engine_set(e, "detector.sigmaa", "false"), KS_EUSAGE);
    CHECK_INT(ks_engine_set(e, "detector.sigma", "false"), KS_OK);
    CHECK_INT(ks_engine_set(e, "detector.sigma", "maybe"), KS_EUSAGE);
    CHECK_INT(ks_engine_set(e, "threads", "two"), KS_EUSAGE);
    CHECK_INT(ks_engine_set(e, "threads", "2000"), KS_EUSAGE);
    CHECK(strstr(ks_engine_errmsg(e), "threads") && strstr(ks_engine_errmsg(e), "range"));
    CHECK_INT(ks_engine_set(e, "walk.max_size", "12Q"), KS_EUSAGE);
    CHECK_INT(ks_engine_set(e, "walk.max_size", "12M"), KS_OK);
    CHECK_INT(ks_engine_set(e, "spray.window", "soon"), KS_EUSAGE);
    CHECK_INT(ks_engine_set(e, "spray.window", "30m"), KS_OK);
    CHECK_INT(ks_engine_set(e, "spray.baseline_factor", "0.5"), KS_EUSAGE);
    CHECK_INT(ks_engine_set(e, "mode", "everything"), KS_EUSAGE);
    CHECK_INT(ks_engine_set(e, "since", "yesterday"), KS_EUSAGE);
    CHECK_INT(ks_engine_set(e, "rules", "--rules"), KS_EUSAGE);
    CHECK(strstr(ks_engine_errmsg(e), "looks like a command-line option"));
    ks_engine_free(e);
}

TEST(get_defaults_lists_and_lifetime)
{
    ks_engine *e = NULL;
    CHECK_INT(ks_engine_new(&e), KS_OK);
    CHECK_STR(ks_engine_get(e, "spray.min_accounts"), "5");
    CHECK(ks_engine_get(e, "since") == NULL);
    CHECK_INT(ks_engine_set(e, "spray.min_accounts", "7"), KS_OK);
    const char *v = ks_engine_get(e, "spray.min_accounts");
    CHECK_INT(ks_engine_set(e, "spray.min_accounts", "9"), KS_OK);
    CHECK_STR(v, "7"); /* still valid after a second set */
    CHECK_STR(ks_engine_get(e, "spray.min_accounts"), "9");
    ks_engine_free(e);
}

TEST(config_file_unknown_key_names_file_and_line)
{
    ks_engine *e = NULL;
    const char *good = ks_test_write("good.conf", "threads = 2\n[spray]\nmin_accounts = 8\n", 36);
    const char *bad = ks_test_write("bad.conf", "threads = 2\n[spray]\nmin_acounts = 8\n", 35);
    CHECK_INT(ks_engine_new(&e), KS_OK);
    CHECK_INT(ks_engine_load_config(e, good), KS_OK);
    CHECK_STR(ks_engine_get(e, "spray.min_accounts"), "8");
    CHECK_INT(ks_engine_load_config(e, bad), KS_EUSAGE);
    CHECK(strstr(ks_engine_errmsg(e), "bad.conf:3") && strstr(ks_engine_errmsg(e), "spray.min_acounts"));
    ks_engine_free(e);
}

TEST(cli_refuses_bad_options_with_status_2)
{
    static const char *const cases[][2] = {
        {"hunt --set no.such.option=1 x", "no.such.option"},
        {"hunt --set spray.min_acounts=2 x", "spray.min_accounts"},
        {"hunt --set detector.sigmaa=false x", "sigmaa"},
        {"hunt --json --rules d x", "--rules"},
        {"hunt -t many x", "threads"},
        {"hunt x --json", "--json needs a value"},
        {"scan --max-size huge x", "walk.max_size"},
        {"cloud audit --bogus x", "--bogus"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL;
        int rc = kensa(cases[i][0], &out);
        if (rc != 2 || !out || !strstr(out, cases[i][1]))
            fprintf(stderr, "kensa %s -> %d: %s\n", cases[i][0], rc, out ? out : "");
        CHECK_INT(rc, 2);
        CHECK(out && strstr(out, cases[i][1]));
        free(out);
    }
}

TEST(help_is_the_same_both_ways_for_every_command)
{
    static const char *const cmds[] = {"hunt", "scan", "formats", "version", "evtx", "rules", "cloud", "report"};
    static const char *const sub[] = {"", "", "", "", " dump", " check", " probe", ""};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char a[128], b[128], *ha = NULL, *hb = NULL, *hc = NULL;
        snprintf(a, sizeof a, "help %s", cmds[i]);
        CHECK_INT(kensa(a, &ha), 0);
        snprintf(b, sizeof b, "%s --help", cmds[i]);
        CHECK_INT(kensa(b, &hb), 0);
        snprintf(b, sizeof b, "%s%s -h", cmds[i], sub[i]);
        CHECK_INT(kensa(b, &hc), 0);
        CHECK(ha && hb && hc && !strcmp(ha, hb) && !strcmp(ha, hc));
        CHECK(ha && strstr(ha, "usage: kensa"));
        free(ha);
        free(hb);
        free(hc);
    }
    char *h = NULL;
    CHECK_INT(kensa("help hunt", &h), 0);
    CHECK(h && strstr(h, "-t, --threads N") && strstr(h, "-r, --rules PATH") && strstr(h, "-o, --output") &&
          strstr(h, "-q, --quiet") && strstr(h, "--since TIME"));
    free(h);
}

/* docs/CONFIG.md carries `kensa help options --markdown` between markers. */
TEST(config_md_is_the_registry)
{
    char cmd[512], *doc = NULL, *gen = NULL;
    CHECK_INT(ks_test_run("sed -n '/^<!-- BEGIN kensa help options/,/^<!-- END/p' docs/CONFIG.md "
                          "| sed '1d;$d'", &doc), 0);
    snprintf(cmd, sizeof cmd, "%s/kensa help options --markdown", ks_test_build());
    CHECK_INT(ks_test_run(cmd, &gen), 0);
    CHECK(doc && gen && strlen(gen) > 1000);
    if (doc && gen && strcmp(doc, gen) != 0)
        fprintf(stderr, "docs/CONFIG.md differs from the option registry: run 'make docs'\n");
    CHECK(doc && gen && !strcmp(doc, gen));
    free(doc);
    free(gen);
}

/* The kensa command is built on the public API alone (Makefile: no
 * -Isrc/lib for src/cli): no object of it refers to an internal symbol. */
TEST(cli_uses_the_public_api_only)
{
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "nm -u %s/obj/src/cli/*.o | grep -c ' ks__' ; nm -u %s/obj/src/cli/*.o | grep -c ' ks_'",
             ks_test_build(), ks_test_build());
    ks_test_run(cmd, &out);
    int internal = -1, public_ = -1;
    CHECK(out && sscanf(out, "%d %d", &internal, &public_) == 2);
    CHECK_INT(internal, 0);
    CHECK(public_ > 20);
    free(out);
    CHECK_INT(ks_test_run("grep -l 'kensa_int.h\\|#include \"detect/\\|#include \"input/\\|#include \"core/' src/cli/*", NULL), 1);
}
