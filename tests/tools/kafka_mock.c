/* SPDX-License-Identifier: Apache-2.0
 *
 * kafka_mock: librdkafka's built-in mock cluster as a process, for the
 * stream tests and `make stream-demo` (no Kafka broker package exists in
 * Debian; the mock speaks the real protocol on loopback ports, with
 * consumer groups and transactions).
 *
 *   kafka_mock serve --brokers N --topic NAME:PARTITIONS... --bootstrap-file F
 *       runs a cluster until SIGTERM; writes its bootstrap list to F.
 *   kafka_mock produce --bootstrap B --topic T --file EVENTS.jsonl
 *                      [--key-domain FIELD] [--ts-field FIELD] [--from N --count M]
 *       one message per line; the key is the e-mail domain in FIELD (the
 *       tenant: one tenant, one partition), the timestamp the time in FIELD.
 *   kafka_mock dump --bootstrap B --topic T
 *       prints every committed message (read_committed), one per line.
 *   kafka_mock down --bootstrap-file F --broker ID   (serve's cluster only:
 *       not needed by the tests, which inject failures in-process)
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static const char *arg(int argc, char **argv, const char *name, const char *dflt)
{
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return dflt;
}

static int serve(int argc, char **argv)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    rd_kafka_mock_cluster_t *mc;
    const char *file = arg(argc, argv, "--bootstrap-file", NULL);
    if (!rk || !file)
        return 2;
    mc = rd_kafka_mock_cluster_new(rk, atoi(arg(argc, argv, "--brokers", "3")));
    for (int i = 2; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--topic"))
            continue;
        char name[256];
        int parts = 1;
        snprintf(name, sizeof name, "%s", argv[i + 1]);
        char *c = strrchr(name, ':');
        if (c) {
            *c = '\0';
            parts = atoi(c + 1);
        }
        rd_kafka_mock_topic_create(mc, name, parts, 1);
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        return 2;
    fprintf(fp, "%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fclose(fp);
    rename(tmp, file);
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    while (!stop)
        usleep(100000);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

/* "field":"value" in a JSON line (the generators' flat shape). */
static int field(const char *line, const char *name, char *out, size_t cap)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":\"", name);
    const char *p = strstr(line, pat), *q;
    if (!p)
        return -1;
    p += strlen(pat);
    q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= cap)
        return -1;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
    return 0;
}

static long long iso_ms(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000;
}

static int produce(int argc, char **argv)
{
    char err[512], line[1 << 16], key[256], ts[64];
    const char *kf = arg(argc, argv, "--key-domain", NULL), *tf = arg(argc, argv, "--ts-field", NULL);
    long from = atol(arg(argc, argv, "--from", "0")), count = atol(arg(argc, argv, "--count", "-1"));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    FILE *fp = fopen(arg(argc, argv, "--file", ""), "r");
    long n = 0, sent = 0;
    if (!fp || rd_kafka_conf_set(conf, "bootstrap.servers", arg(argc, argv, "--bootstrap", ""), err,
                                 sizeof err) != RD_KAFKA_CONF_OK)
        return 2;
    rd_kafka_conf_set(conf, "linger.ms", "20", err, sizeof err);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!p)
        return 2;
    while (fgets(line, sizeof line, fp)) {
        size_t len = strcspn(line, "\r\n");
        if (n++ < from || len == 0)
            continue;
        if (count >= 0 && sent >= count)
            break;
        line[len] = '\0';
        const char *k = NULL;
        if (kf && field(line, kf, key, sizeof key) == 0) {
            char *at = strchr(key, '@');
            k = at ? at + 1 : key;
        }
        long long t = tf && field(line, tf, ts, sizeof ts) == 0 ? iso_ms(ts) : 0;
        while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(arg(argc, argv, "--topic", "in")),
                                 RD_KAFKA_V_KEY(k, k ? strlen(k) : 0), RD_KAFKA_V_VALUE(line, len),
                                 RD_KAFKA_V_TIMESTAMP(t), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 50);
        sent++;
        rd_kafka_poll(p, 0);
    }
    rd_kafka_flush(p, 30000);
    rd_kafka_destroy(p);
    fclose(fp);
    fprintf(stderr, "kafka_mock: produced %ld messages\n", sent);
    return 0;
}

static int dump(int argc, char **argv)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *topic = arg(argc, argv, "--topic", "out");
    rd_kafka_conf_set(conf, "bootstrap.servers", arg(argc, argv, "--bootstrap", ""), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", "kafka-mock-dump", err, sizeof err);
    rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    const rd_kafka_metadata_t *md = NULL;
    int nparts = 0, eofs = 0;
    if (!c)
        return 2;
    rd_kafka_topic_t *t = rd_kafka_topic_new(c, topic, NULL);
    if (rd_kafka_metadata(c, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
        nparts = md->topics[0].partition_cnt;
    rd_kafka_topic_destroy(t);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, l);
    for (int idle = 0; eofs < nparts && idle < 100;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m) {
            idle++;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eofs++;
        else if (!m->err)
            printf("%.*s\n", (int)m->len, (const char *)m->payload);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return eofs == nparts ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "serve"))
        return serve(argc, argv);
    if (!strcmp(argv[1], "produce"))
        return produce(argc, argv);
    if (!strcmp(argv[1], "dump"))
        return dump(argc, argv);
    fprintf(stderr, "usage: kafka_mock serve|produce|dump ...\n");
    return 2;
}
