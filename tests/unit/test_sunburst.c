/* SPDX-License-Identifier: Apache-2.0
 *
 * SUNBURST DNS decoding: the published examples (RedDrip, Prevasio,
 * NETRESEC), round trips through kensa's own encoder (substitution, escapes,
 * base32, multi-fragment, time messages with the stage-2 flag), random
 * labels that must not decode into victims, the 1,722 passive-DNS names of
 * ../shared/corpus/sunburst-dns, and the detector end to end over Sysmon 22
 * and Zeek JSON lines: each victim with the client that sent it.
 */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "kensa_int.h"
#include "detect/sunburst_dga.h"

static const uint8_t GUID_EX[8] = {0xF9, 0xA9, 0x38, 0x7F, 0x7D, 0x25, 0x28, 0x42};

static bool decode_label(const char *label, ks_sb_msg *m)
{
    char name[200];
    snprintf(name, sizeof name, "%s.appsync-api.eu-west-1.avsvmcloud.com", label);
    return ks__sb_decode(name, strlen(name), m);
}

TEST(published_examples)
{
    char out[128];
    bool b32;
    ks_sb_msg m;
    /* RedDrip's example: substitution with an escaped '-' and '.' */
    CHECK_INT(ks__sb_domain_decode("aovthro08ove0ge2h", 17, out, sizeof out, &b32), 15);
    CHECK_STR(out, "qingmei-inc.com");
    CHECK(!b32);
    /* ... and the same name in the base32 form ("00" prefix) */
    CHECK_INT(ks__sb_domain_decode("009tslbqv1ftss4r01eqtobmv1", 26, out, sizeof out, &b32), 15);
    CHECK_STR(out, "qingmei-inc.com");
    CHECK(b32);
    /* GUID examples: NETRESEC/RedDrip (key 0xB4) and Prevasio (key 0x86) */
    CHECK(decode_label("r1qshoj05ji05ac6x", &m));
    CHECK_INT(m.kind, KS_SB_DOMAIN);
    CHECK(memcmp(m.guid, GUID_EX, 8) == 0);
    CHECK(decode_label("olc62cocacn7u2q2x", &m));
    CHECK(memcmp(m.guid, GUID_EX, 8) == 0);
    /* Cloudflare's example name: a domain message, last fragment */
    const char *cf = "7cbtailjomqle1pjvr2d32i2voe60ce2.appsync-api.us-east-1.avsvmcloud.com";
    CHECK(ks__sb_decode(cf, strlen(cf), &m));
    CHECK_INT(m.kind, KS_SB_DOMAIN);
}

static void random_domain(uint64_t *s, char *d, size_t cap)
{
    static const char lower[] = "abcdefghijklmnopqrstuvwxyz0123456789-_.";
    static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef.-";
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    size_t n = 1 + (*s >> 33) % (cap - 1 < 120 ? cap - 1 : 120);
    bool up = (*s >> 20) % 4 == 0;
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        d[i] = up ? upper[(*s >> 33) % (sizeof upper - 1)] : lower[(*s >> 33) % (sizeof lower - 1)];
    }
    d[n] = 0;
}

/* Encodes, decodes every name (shuffled order does not matter: the
 * fragments carry their sequence), reassembles, compares. */
static bool round_trip(const uint8_t guid[8], const char *domain, ks_sb_rng *rng)
{
    char names[40][KS_SB_NAME_MAX], frags[KS_SB_LAST + 1][KS_SB_FRAG_MAX + 1], out[600];
    uint64_t have = 0;
    bool complete, b32;
    size_t n = ks__sb_encode_domain(guid, domain, rng, names, 40);
    if (n == 0)
        return false;
    for (size_t i = n; i-- > 0;) {
        ks_sb_msg m;
        const char *dot = strchr(names[i], '.');
        if (!dot || dot - names[i] > 32 || !ks__sb_decode(names[i], strlen(names[i]), &m) ||
            m.kind != KS_SB_DOMAIN || memcmp(m.guid, guid, 8) || !m.region_ok)
            return false;
        have |= 1ull << m.seq;
        memcpy(frags[m.seq], m.frag, m.nfrag + 1);
    }
    ks__sb_assemble((const char(*)[KS_SB_FRAG_MAX + 1])frags, have, out, sizeof out, &complete, &b32);
    return complete && strcmp(out, domain) == 0;
}

TEST(encoder_round_trip)
{
    ks_sb_rng rng = 42;
    uint64_t s = 7;
    int ok = 0, total = 0;
    const char *fixed[] = {"corp.example.com", "a", "ad.0-_.x", "CONTOSO.LOCAL", "0000",
                           "xn--bcher-kva.example", "very-long-internal-domain.subsidiary.example-holdings.co.uk",
                           "Überraschung.local", "ends-with-zero0", "0.0.0.0.0.0.0.0.0.0.0.0.0"};
    for (size_t i = 0; i < KS_ARRAY_LEN(fixed); i++) {
        uint8_t g[8] = {(uint8_t)i, 1, 2, 3, 4, 5, 6, (uint8_t)(i * 7)};
        bool r = round_trip(g, fixed[i], &rng);
        if (!r)
            fprintf(stderr, "round trip failed: %s\n", fixed[i]);
        ok += r;
        total++;
    }
    for (int i = 0; i < 2000; i++) {
        char d[130];
        uint8_t g[8];
        random_domain(&s, d, sizeof d);
        for (int k = 0; k < 8; k++)
            g[k] = (uint8_t)(s >> (k * 8));
        bool r = round_trip(g, d, &rng);
        if (!r && total - ok < 5)
            fprintf(stderr, "round trip failed: %s\n", d);
        ok += r;
        total++;
    }
    printf("INFO round trips %d/%d\n", ok, total);
    CHECK_INT(ok, total);
}

TEST(time_messages)
{
    ks_sb_rng rng = 9;
    char name[KS_SB_NAME_MAX];
    ks_sb_msg m;
    int64_t t = (int64_t)1592000000 * 1000000000ll; /* 2020-06-12T22:13:20Z */
    uint8_t svc[2] = {0x12, 0x40};
    for (int flag = 0; flag < 2; flag++) {
        CHECK(ks__sb_encode_time(GUID_EX, t, flag, NULL, 0, &rng, name, sizeof name));
        CHECK(ks__sb_decode(name, strlen(name), &m));
        CHECK_INT(m.kind, KS_SB_TIME);
        CHECK(memcmp(m.guid, GUID_EX, 8) == 0);
        CHECK_INT(m.stage2, flag);
        CHECK_INT(m.subtype, 1);
        CHECK(m.region_ok);
        /* 30-minute resolution */
        CHECK(m.time <= t && t - m.time < 1800ll * 1000000000ll);
        CHECK_INT(strchr(name, '.') - name, 20);
    }
    CHECK(ks__sb_encode_time(GUID_EX, t, true, svc, 2, &rng, name, sizeof name));
    CHECK(ks__sb_decode(name, strlen(name), &m));
    CHECK_INT(m.subtype, 2);
    CHECK_INT(m.ndata, 2);
    CHECK(m.data[0] == 0x12 && m.data[1] == 0x40);
    CHECK_INT(strchr(name, '.') - name, 23);
}

TEST(random_labels_rarely_decode)
{
    /* Labels of the right lengths from the right alphabet, but not written
     * by the implant: the consistency checks (key bit, subtype nibble,
     * region) must reject most of them. */
    static const char b32[] = "ph2eifo3n5utg1j8d94qrvbmk0sal76c";
    uint64_t s = 1234;
    int accepted = 0, n = 4000;
    for (int i = 0; i < n; i++) {
        char name[200], label[40];
        size_t len = (i % 2) ? 20 : 32;
        for (size_t k = 0; k < len; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            label[k] = b32[(s >> 33) % 32];
        }
        label[len] = 0;
        snprintf(name, sizeof name, "%s.appsync-api.us-east-2.avsvmcloud.com", label);
        ks_sb_msg m;
        if (ks__sb_decode(name, strlen(name), &m) && m.region_ok)
            accepted++;
    }
    printf("INFO random labels accepted as beacons: %d/%d\n", accepted, n);
    /* domain messages: 1/4 pass the region check; time messages: 1/4 x 2/16 */
    CHECK(accepted < n * 16 / 100);
}

TEST(corpus_passive_dns)
{
    const char *c = ks_test_corpus();
    char path[1024], line[512];
    if (!c) {
        ks_test_skip("corpus", "no ../shared/corpus");
        return;
    }
    snprintf(path, sizeof path, "%s/sunburst-dns/uniq-hostnames.txt", c);
    FILE *f = fopen(path, "r");
    if (!f) {
        ks_test_skip("corpus-file", "%s missing", path);
        return;
    }
    int n = 0, dec = 0, reg = 0, tim = 0, in_window = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        n++;
        ks_sb_msg m;
        if (!ks__sb_decode(line, strlen(line), &m))
            continue;
        dec++;
        reg += m.region_ok;
        if (m.kind == KS_SB_TIME) {
            tim++;
            /* SUNBURST beaconed from spring to December 2020 */
            in_window += m.time >= 1577836800ll * 1000000000ll && m.time < 1609459200ll * 1000000000ll;
        }
    }
    fclose(f);
    printf("RECALL sunburst-dns: %d/%d names decode, %d region-consistent, %d/%d time messages in 2020\n",
           dec, n, reg, in_window, tim);
    CHECK(n >= 1700);
    CHECK(dec * 1000 >= n * 995);
    CHECK(reg * 1000 >= n * 995);
    CHECK(tim > 500 && in_window == tim);
}

/* ---- detector end to end ------------------------------------------------ */

static const ks_finding *find_title(ks_engine *e, const char *needle)
{
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        if (f->title && strstr(f->title, needle))
            return f;
    }
    return NULL;
}

static const char *detail(const ks_finding *f, const char *key)
{
    for (size_t i = 0; f && i < f->ndetails; i++)
        if (!strcmp(f->details[i].key, key))
            return f->details[i].value;
    return NULL;
}

TEST(detector_sysmon_and_zeek_json)
{
    ks_sb_rng rng = 77;
    uint8_t g1[8] = {0x10, 1, 2, 3, 4, 5, 6, 7}, g2[8] = {0x23, 9, 9, 9, 9, 9, 9, 9};
    char names[40][KS_SB_NAME_MAX];
    ks_buf sys = KS_BUF_INIT, zeek = KS_BUF_INIT;
    /* Victim 1 (multi-fragment) beacons through Sysmon on ORION01, the
     * fragments split across Sysmon and Zeek: reassembly across sources. */
    size_t n1 = ks__sb_encode_domain(g1, "ad.very-long-victim-domain.example.org", &rng, names, 40);
    CHECK(n1 >= 3);
    for (size_t i = 0; i < n1; i++) {
        if (i % 2 == 0)
            ks__buf_printf(&sys,
                           "{\"@timestamp\":\"2020-06-1%zuT10:00:00Z\",\"winlog\":{\"event_id\":22,"
                           "\"computer_name\":\"ORION01.corp.example\",\"event_data\":{\"QueryName\":"
                           "\"%s\",\"QueryResults\":\"::ffff:20.140.0.1;\",\"Image\":"
                           "\"C:\\\\Program Files\\\\SolarWinds\\\\Orion\\\\SolarWinds.BusinessLayerHost.exe\"}},"
                           "\"host\":{\"ip\":[\"10.1.2.3\"]}}\n",
                           i, names[i]);
        else
            ks__buf_printf(&zeek,
                           "{\"ts\":159200%zu000.5,\"uid\":\"C1\",\"id.orig_h\":\"10.1.2.3\",\"id.orig_p\":5353,"
                           "\"id.resp_h\":\"10.0.0.53\",\"id.resp_p\":53,\"proto\":\"udp\",\"query\":\"%s\","
                           "\"qtype_name\":\"A\",\"answers\":[\"20.140.0.1\"]}\n",
                           i, names[i]);
    }
    /* Victim 2: one fragment, then a CNAME to a second-stage server */
    size_t n2 = ks__sb_encode_domain(g2, "fin.example", &rng, names, 40);
    CHECK_INT(n2, 1);
    ks__buf_printf(&zeek,
                   "{\"ts\":1592100000.0,\"id.orig_h\":\"10.9.9.9\",\"id.orig_p\":5353,"
                   "\"id.resp_h\":\"10.0.0.53\",\"id.resp_p\":53,\"query\":\"%s\","
                   "\"answers\":[\"freescanonline.com\",\"54.193.127.66\"]}\n",
                   names[0]);
    /* Benign lookups around them */
    for (int i = 0; i < 50; i++)
        ks__buf_printf(&zeek,
                       "{\"ts\":1592000%03d.0,\"id.orig_h\":\"10.1.2.%d\",\"id.resp_h\":\"10.0.0.53\","
                       "\"query\":\"www.example%d.com\",\"answers\":[\"93.184.216.34\"]}\n",
                       i, i % 20, i);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/sb_e2e", ks_test_tmpdir());
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/zeek %s/sysmon", dir, dir);
    CHECK_INT(system(cmd), 0);
    char p1[800], p2[800];
    snprintf(p1, sizeof p1, "%s/sysmon/sysmon22.jsonl", dir);
    snprintf(p2, sizeof p2, "%s/zeek/dns.log", dir);
    FILE *f = fopen(p1, "w");
    fwrite(sys.p, 1, sys.n, f);
    fclose(f);
    f = fopen(p2, "w");
    fwrite(zeek.p, 1, zeek.n, f);
    fclose(f);
    ks__buf_release(&sys);
    ks__buf_release(&zeek);

    ks_engine *e = NULL;
    CHECK_INT(ks_engine_new(&e), KS_OK);
    ks_engine_set(e, "threads", "2");
    ks_engine_add_path(e, dir);
    CHECK_INT(ks_engine_run(e), KS_OK);
    const ks_finding *v1 = find_title(e, "ad.very-long-victim-domain.example.org");
    const ks_finding *v2 = find_title(e, "fin.example");
    CHECK(v1 != NULL);
    CHECK(v2 != NULL);
    if (v1) {
        CHECK_STR(detail(v1, "client"), "10.1.2.3");
        CHECK_STR(detail(v1, "guid"), "1001020304050607");
        CHECK_STR(detail(v1, "stage"), "beacon");
        CHECK_STR(detail(v1, "domain_complete"), "yes");
        CHECK(detail(v1, "host") && strstr(detail(v1, "host"), "ORION01"));
        CHECK_INT(v1->severity, KS_SEV_HIGH);
    }
    if (v2) {
        CHECK_STR(detail(v2, "client"), "10.9.9.9");
        CHECK_STR(detail(v2, "stage"), "activated");
        CHECK_STR(detail(v2, "cname"), "freescanonline.com");
        CHECK_INT(v2->severity, KS_SEV_CRITICAL);
    }
    ks_engine_free(e);
}
