/* SPDX-License-Identifier: Apache-2.0
 *
 * The C2 indicator detector: lists in every format (plain, CSV with
 * network columns, STIX 2.1, MISP JSON) matched against DNS queries and
 * answers, connection endpoints (exact addresses and CIDR ranges, IPv4 and
 * IPv6), proxy URLs and hosts, TLS SNI and JA3; subdomains match their
 * listed domain, look-alikes do not; the FireEye/Mandiant network
 * indicator CSV of ../shared/corpus loads as it is.
 */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "kensa/kensa.h"

static int count_rule(ks_engine *e, const char *rule, const char *needle)
{
    int n = 0;
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        if (!strcmp(f->rule_id, rule) && (!needle || strstr(f->title, needle)))
            n++;
    }
    return n;
}

static ks_engine *hunt(const char *evidence, const char *const *lists, size_t nlists)
{
    ks_engine *e = NULL;
    if (ks_engine_new(&e) != KS_OK)
        return NULL;
    ks_engine_set(e, "threads", "1");
    ks_engine_set(e, "builtin", "false");
    for (size_t i = 0; i < nlists; i++)
        ks_engine_set(e, "c2.ioc", lists[i]);
    ks_engine_add_path(e, evidence);
    if (ks_engine_run(e) != KS_OK) {
        ks_engine_free(e);
        return NULL;
    }
    return e;
}

TEST(lists_and_matching)
{
    const char *plain = ks_test_write("c2-domains.txt", "# kensa: literal\nevil.example\n*.bad.example\n"
                                      "198.51.100.7\n203.0.113.0/24\n2001:db8:bad::/48\n", 90);
    const char *csvtxt = "description,url,ja3\ntest,http://dl.evil2.example/a.exe,e7d705a3286e19ea42f587b344ee6865\n";
    const char *csv = ks_test_write("net.csv", csvtxt, strlen(csvtxt));
    const char *stix = "{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":[{\"type\":\"indicator\",\"id\":\"indicator--1\","
                       "\"name\":\"stix c2\",\"pattern\":\"[domain-name:value = 'stix.example'] OR [ipv4-addr:value = "
                       "'192.0.2.55']\",\"pattern_type\":\"stix\",\"valid_from\":\"2020-01-01T00:00:00Z\"}]}";
    const char *stixp = ks_test_write("c2.stix.json", stix, strlen(stix));
    const char *misp = "{\"Event\":{\"info\":\"misp c2 event\",\"Attribute\":[{\"type\":\"domain\",\"value\":\"misp.example\"},"
                       "{\"type\":\"ip-dst|port\",\"value\":\"192.0.2.77|443\"},{\"type\":\"ja3-fingerprint-md5\","
                       "\"value\":\"aaaabbbbccccddddeeeeffff00001111\"}],\"Object\":[{\"Attribute\":[{\"type\":\"hostname\","
                       "\"value\":\"obj.example\"}]}]}}";
    const char *mispp = ks_test_write("event.misp.json", misp, strlen(misp));
    /* Evidence: Zeek/EVE-like JSON lines */
    const char *ev =
        "{\"ts\":1592000000.0,\"id.orig_h\":\"10.0.0.1\",\"query\":\"www.evil.example\",\"answers\":[\"1.1.1.1\"]}\n"
        "{\"ts\":1592000001.0,\"id.orig_h\":\"10.0.0.1\",\"query\":\"notevil.example\"}\n"
        "{\"ts\":1592000002.0,\"id.orig_h\":\"10.0.0.2\",\"query\":\"a.b.bad.example\"}\n"
        "{\"ts\":1592000003.0,\"id.orig_h\":\"10.0.0.3\",\"query\":\"cdn.example\",\"answers\":[\"cname.stix.example\",\"203.0.113.9\"]}\n"
        "{\"ts\":1592000004.0,\"id.orig_h\":\"10.0.0.4\",\"id.resp_h\":\"198.51.100.7\",\"id.resp_p\":443}\n"
        "{\"ts\":1592000005.0,\"id.orig_h\":\"10.0.0.4\",\"id.resp_h\":\"198.51.100.8\",\"id.resp_p\":443}\n"
        "{\"ts\":1592000006.0,\"src_ip\":\"10.0.0.5\",\"dest_ip\":\"2001:db8:bad:1::5\",\"dest_port\":443}\n"
        "{\"ts\":1592000007.0,\"src_ip\":\"10.0.0.6\",\"dest_ip\":\"192.0.2.77\",\"tls\":{\"sni\":\"misp.example\","
        "\"ja3\":{\"hash\":\"AAAABBBBCCCCDDDDEEEEFFFF00001111\"}}}\n"
        "{\"ts\":1592000008.0,\"id.orig_h\":\"10.0.0.7\",\"server_name\":\"x.obj.example\",\"id.resp_h\":\"192.0.2.55\"}\n"
        "{\"ts\":1592000009.0,\"id.orig_h\":\"10.0.0.8\",\"uri\":\"http://dl.evil2.example/a.exe\",\"host\":\"dl.evil2.example\"}\n"
        "{\"ts\":1592000010.0,\"id.orig_h\":\"10.0.0.9\",\"id.resp_h\":\"203.0.114.1\"}\n"
        /* one server on consecutive lines (the miss is remembered per field) */
        "{\"ts\":1592000011.0,\"id.orig_h\":\"10.0.0.10\",\"id.resp_h\":\"198.51.100.9\"}\n"
        "{\"ts\":1592000012.0,\"id.orig_h\":\"10.0.0.12\",\"id.resp_h\":\"198.51.100.7\"}\n"
        "{\"ts\":1592000013.0,\"id.orig_h\":\"10.0.0.11\",\"id.resp_h\":\"198.51.100.7\"}\n"
        "{\"ts\":1592000014.0,\"id.orig_h\":\"198.51.100.7\",\"id.resp_h\":\"198.51.100.7\"}\n";
    const char *evp = ks_test_write("net.jsonl", ev, strlen(ev));
    const char *lists[] = {plain, csv, stixp, mispp};
    ks_engine *e = hunt(evp, lists, 4);
    CHECK(e != NULL);
    if (!e)
        return;
    CHECK_INT(count_rule(e, "kensa.c2.domain", "evil.example seen for 10.0.0.1"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.domain", "notevil"), 0);
    CHECK_INT(count_rule(e, "kensa.c2.domain", "bad.example seen for 10.0.0.2"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.domain", "stix.example seen for 10.0.0.3"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.ip", "203.0.113.0/24 seen for 10.0.0.3"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.ip", "198.51.100.7 seen for 10.0.0.4"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.ip", "198.51.100.8"), 0);
    CHECK_INT(count_rule(e, "kensa.c2.ip", "2001:db8:bad::/48 seen for 10.0.0.5"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.ip", "192.0.2.77 seen for 10.0.0.6"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.domain", "misp.example seen for 10.0.0.6"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.ja3", "10.0.0.6"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.domain", "obj.example seen for 10.0.0.7"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.ip", "192.0.2.55 seen for 10.0.0.7"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.url", "10.0.0.8"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.ip", "10.0.0.9"), 0);
    CHECK_INT(count_rule(e, "kensa.c2.ip", "198.51.100.7 seen for 10.0.0.12"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.ip", "198.51.100.7 seen for 10.0.0.11"), 1);
    CHECK_INT(count_rule(e, "kensa.c2.ip", "198.51.100.7 seen for 198.51.100.7"), 1);
    ks_engine_free(e);
}

TEST(fireeye_network_indicators_load_as_they_are)
{
    const char *c = ks_test_corpus();
    char list[1024];
    if (!c) {
        ks_test_skip("corpus", "no ../shared/corpus");
        return;
    }
    snprintf(list, sizeof list, "%s/sunburst-countermeasures/indicator_release/Indicator_Release_NBIs.csv", c);
    const char *ev =
        "{\"ts\":1592000000.0,\"id.orig_h\":\"10.0.0.1\",\"query\":\"6a57jk2ba1d9keg15cbg.appsync-api.eu-west-1.avsvmcloud.com\","
        "\"answers\":[\"freescanonline.com\"]}\n"
        "{\"ts\":1592000001.0,\"id.orig_h\":\"10.0.0.1\",\"id.resp_h\":\"54.193.127.66\",\"id.resp_p\":443}\n"
        "{\"ts\":1592000002.0,\"id.orig_h\":\"10.0.0.2\",\"query\":\"www.zupertech.com\"}\n";
    const char *evp = ks_test_write("fe.jsonl", ev, strlen(ev));
    const char *lists[] = {list};
    ks_engine *e = hunt(evp, lists, 1);
    CHECK(e != NULL);
    if (!e)
        return;
    int dom = count_rule(e, "kensa.c2.domain", NULL), ip = count_rule(e, "kensa.c2.ip", NULL);
    printf("RECALL FireEye NBI CSV: %d domain and %d address findings of 3 and 1 expected\n", dom, ip);
    CHECK(count_rule(e, "kensa.c2.domain", "freescanonline.com seen for 10.0.0.1") == 1);
    CHECK(count_rule(e, "kensa.c2.domain", "zupertech.com seen for 10.0.0.2") == 1);
    CHECK(count_rule(e, "kensa.c2.ip", "54.193.127.66 seen for 10.0.0.1") == 1);
    ks_engine_free(e);
}
