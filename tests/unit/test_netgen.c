/* SPDX-License-Identifier: Apache-2.0
 *
 * The network evidence generator end to end: every format it writes is
 * claimed by the input made for it and parses without a diagnostic; the
 * victims it encodes are decoded, each with the client address that sent
 * the beacons (the `kensa hunt --json -` interface of issue 18); the
 * benign-only set gives no SUNBURST or C2 finding at medium or above.
 */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "gen.h"
#include "kensa_int.h"

static int nwarn;

static void on_diag(void *ud, const ks_diag *d)
{
    (void)ud;
    if (d->level >= KS_DIAG_WARN) {
        nwarn++;
        fprintf(stderr, "diag: %s: %s\n", d->loc.path ? d->loc.path : "", d->msg);
    }
}

static const char *gen(const char *name, bool benign)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", ks_test_tmpdir(), name);
    char a0[] = "dns", a1[] = "--out", a3[] = "--clients", a4[] = "15", a5[] = "--hours", a6[] = "12",
         a7[] = "--benign";
    char *argv[] = {a0, a1, dir, a3, a4, a5, a6, benign ? a7 : NULL, NULL};
    int argc = benign ? 8 : 7;
    if (gen_dns_run(argc, argv) != 0)
        return NULL;
    return ks_test_strdup(dir);
}

TEST(formats_claimed)
{
    const char *dir = gen("fmt", false);
    CHECK(dir != NULL);
    if (!dir)
        return;
    /* file -> input that must claim it */
    static const char *const want[][2] = {
        {"dns/dns.log", "dnsdebug"},   {"zeek/dns.log", "zeek"},         {"zeek/conn.log", "zeek"},
        {"zeek/http.log", "zeek"},     {"zeek/ssl.log", "zeek"},         {"zeek-json/dns.log", "json"},
        {"sysmon/sysmon22.jsonl", "json"}, {"suricata/eve.json", "json"}, {"squid/access.log", "squid"},
        {"vpc/flowlogs.log", "vpcflow"}, {"pdns/pdns.csv", "pdns"},     {"azure/nsg.json", "nsgflow"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[800];
        uint8_t head[4096];
        snprintf(path, sizeof path, "%s/%s", dir, want[i][0]);
        FILE *f = fopen(path, "rb");
        size_t n = f ? fread(head, 1, sizeof head, f) : 0;
        if (f)
            fclose(f);
        const char *name = strrchr(path, '/') + 1, *best = "(none)";
        int score = 0;
        for (size_t k = 0; ks__inputs[k]; k++) {
            int sc = ks__inputs[k]->probe(head, n, name);
            if (sc > score)
                score = sc, best = ks__inputs[k]->name;
        }
        bool ok = !strcmp(best, want[i][1]);
        if (!ok)
            fprintf(stderr, "%s: want %s, got %s\n", want[i][0], want[i][1], best);
        CHECK(ok);
    }
}

static const ks_finding *victim_finding(ks_engine *e, const char *guid)
{
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        for (size_t k = 0; k < f->ndetails; k++)
            if (!strcmp(f->details[k].key, "guid") && !strcmp(f->details[k].value, guid))
                return f;
    }
    return NULL;
}

static const char *detail(const ks_finding *f, const char *key)
{
    for (size_t i = 0; f && i < f->ndetails; i++)
        if (!strcmp(f->details[i].key, key))
            return f->details[i].value;
    return "";
}

TEST(victims_decoded_with_their_client)
{
    const char *dir = gen("attack", false);
    CHECK(dir != NULL);
    if (!dir)
        return;
    ks_engine *e = NULL;
    nwarn = 0;
    CHECK_INT(ks_engine_new(&e), KS_OK);
    ks_engine_on_diag(e, on_diag, NULL);
    ks_engine_set(e, "threads", "2");
    ks_engine_add_path(e, dir);
    CHECK_INT(ks_engine_run(e), KS_OK);
    CHECK_INT(nwarn, 0);
    char path[800], line[512];
    snprintf(path, sizeof path, "%s/victims.txt", dir);
    FILE *f = fopen(path, "r");
    int nv = 0, found = 0;
    while (f && fgets(line, sizeof line, f)) {
        char dom[200], guid[40], client[64], stage[32];
        if (sscanf(line, "%199[^\t]\t%39[^\t]\t%63[^\t]\t%31s", dom, guid, client, stage) != 4)
            continue;
        nv++;
        const ks_finding *v = victim_finding(e, guid);
        bool ok = v && !strcmp(detail(v, "victim_domain"), dom) && strstr(detail(v, "client"), client) &&
                  !strcmp(detail(v, "stage"), stage) && !strcmp(detail(v, "domain_complete"), "yes");
        if (!ok)
            fprintf(stderr, "victim %s %s %s %s: %s\n", dom, guid, client, stage, v ? v->title : "no finding");
        found += ok;
    }
    if (f)
        fclose(f);
    printf("RECALL generated SUNBURST victims: %d/%d decoded with client and stage\n", found, nv);
    /* the C2 traffic after activation, and the unlisted implant's beacon */
    int c2 = 0, beacon = 0;
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *x = ks_engine_finding(e, i);
        c2 += !strcmp(x->rule_id, "kensa.c2.ip") && strstr(x->title, "13.59.205.66 seen for 10.20.3.40");
        beacon += !strcmp(x->rule_id, "kensa.beacon.rare") && strstr(x->title, "from 10.20.4.50 to 45.77.12.99");
    }
    printf("RECALL generated C2 contact %d/1, unlisted beacon %d/1\n", c2 > 0, beacon > 0);
    CHECK(c2 >= 1);
    CHECK(beacon >= 1);
    CHECK_INT(nv, 3);
    CHECK_INT(found, nv);
    ks_engine_free(e);
}

TEST(check_interface_json)
{
    /* `kensa hunt --json - DIR` over a Windows DNS debug dns.log, a Zeek
     * dns.log and Sysmon 22 JSON lines */
    const char *dir = gen("iface", false);
    char cmd[1400], *out = NULL;
    CHECK(dir != NULL);
    if (!dir)
        return;
    snprintf(cmd, sizeof cmd, "cd %s && mkdir -p only/zeek && cp dns/dns.log only/ && cp zeek/dns.log only/zeek/ "
             "&& cp sysmon/sysmon22.jsonl only/", dir);
    CHECK_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/kensa hunt --json - %s/only", ks_test_build(), dir);
    int rc = ks_test_run(cmd, &out);
    CHECK_INT(rc, 1);
    CHECK(out && strstr(out, "\"victim_domain\""));
    CHECK(out && strstr(out, "corp.contoso-lab.example") && strstr(out, "10.20.1.15"));
    CHECK(out && strstr(out, "FINANCE.Example-Holdings.LOCAL") && strstr(out, "10.20.2.30"));
    CHECK(out && strstr(out, "ops.example.net") && strstr(out, "10.20.3.40"));
    free(out);
}

static bool network_rule(const char *id)
{
    return !strncmp(id, "kensa.sunburst.", 15) || !strncmp(id, "kensa.c2.", 9) ||
           !strncmp(id, "kensa.beacon.", 13);
}

TEST(benign_only_is_quiet)
{
    const char *dir = gen("benign", true);
    CHECK(dir != NULL);
    if (!dir)
        return;
    ks_engine *e = NULL;
    CHECK_INT(ks_engine_new(&e), KS_OK);
    ks_engine_set(e, "threads", "2");
    ks_engine_add_path(e, dir);
    CHECK_INT(ks_engine_run(e), KS_OK);
    int loud = 0, all = 0;
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        if (!network_rule(f->rule_id))
            continue;
        all++;
        if (f->severity >= KS_SEV_MEDIUM) {
            loud++;
            fprintf(stderr, "benign set: %s %s\n", f->rule_id, f->title);
        }
    }
    printf("FP benign network set: %d findings at medium or above (%d network findings in all)\n", loud, all);
    CHECK_INT(loud, 0);
    ks_engine_free(e);
}
