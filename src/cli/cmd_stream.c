/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa stream`: flags, the metrics endpoint and the progress line; the
 * transports live in stream_kafka.c and stream_nats.c, the per-partition
 * state in stream_core.c (stream.h has the design, docs/STREAM.md the
 * deployment).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "stream.h"

stream_metrics stream_m;

const char *const cmd_stream_usage =
    "usage: kensa stream --kafka BROKERS --topic T[,T...] --group G [options]\n"
    "       kensa stream --nats URL --topic STREAM --group DURABLE [options]\n\n"
    "Joins a consumer group and hunts the events on the topics (the JSON shapes\n"
    "kensa hunts in files: Entra/M365, Winlogbeat/ECS, Sysmon, CloudTrail, ...)\n"
    "with every detector, Sigma correlations and identity analytics included.\n"
    "State is checkpointed to a changelog in the same transaction as findings and\n"
    "offsets: a member killed and restarted neither loses nor repeats findings\n"
    "(docs/STREAM.md: topics, partition keys, sizing).\n\n"
    "  --kafka BROKERS        Kafka bootstrap servers (host:port,...)\n"
    "  --nats URL             NATS server with JetStream (nats://127.0.0.1:4222)\n"
    "  -T, --topic T[,T...]   topics (Kafka) or stream (NATS) to hunt\n"
    "  -g, --group G          consumer group (Kafka) / durable consumer (NATS)\n"
    "  --out-topic O          write findings (JSON lines, keyed by finding id) to O\n"
    "  --state-topic S        changelog topic (default G.kensa-state, compacted)\n"
    "  --dlq-topic D          dead-letter topic (default G.kensa-dlq)\n"
    "  --instance NAME        stable member name: a restart fences its old self\n"
    "                         (default: host name)\n"
    "  -o, --json FILE        also append findings as JSON lines to FILE\n"
    "  --metrics ADDR:PORT    Prometheus metrics at http://ADDR:PORT/metrics\n"
    "  --window TIME          a finding is final when its last event is TIME older\n"
    "                         than the partition's newest message (default 1h)\n"
    "  --retain TIME          messages kept for correlations (default 48h)\n"
    "  --batch N              flush a partition after N new messages (default 5000)\n"
    "  --flush-ms N           ... or after N milliseconds (default 5000)\n"
    "  --idle-exit SECONDS    end (all findings final) after SECONDS without messages\n"
    "  --session-timeout-ms N group session timeout (default 10000)\n"
    "  --max-state BYTES      retained bytes per partition (default 256M)\n"
    "  --max-message BYTES    larger messages go to the dead-letter topic (default 1M)\n"
    "  -r, --rules DIR        Sigma rules (repeatable); --set KEY=VALUE engine options\n"
    "  -q, --quiet            no progress line\n"
    "  -h, --help             this text\n";

/* "90", "90s", "15m", "1h", "2d" -> ns; -1 if not a duration. */
static int64_t duration(const char *s)
{
    char *end = NULL;
    double v = strtod(s, &end);
    double mul = 1;
    if (!end || end == s || v < 0)
        return -1;
    switch (*end) {
    case '\0':
    case 's': mul = 1; break;
    case 'm': mul = 60; break;
    case 'h': mul = 3600; break;
    case 'd': mul = 86400; break;
    default: return -1;
    }
    if (*end && end[1])
        return -1;
    return (int64_t)(v * mul * 1e9);
}

static int number(const char *s, size_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (!end || end == s)
        return -1;
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M')
        v <<= 20, end++;
    else if (*end == 'G')
        v <<= 30, end++;
    if (*end)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* ---- metrics ---------------------------------------------------------------- */

static struct MHD_Daemon *mhd;

static enum MHD_Result metrics_page(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_n, void **con_cls)
{
    char body[2048];
    struct MHD_Response *r;
    enum MHD_Result rc;
    (void)cls, (void)version, (void)upload, (void)upload_n, (void)con_cls;
    if (strcmp(method, "GET") != 0 || strcmp(url, "/metrics") != 0) {
        r = MHD_create_response_from_buffer(10, (void *)"not found\n", MHD_RESPMEM_PERSISTENT);
        rc = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, r);
        MHD_destroy_response(r);
        return rc;
    }
#define M(f) ((unsigned long long)__atomic_load_n(&stream_m.f, __ATOMIC_RELAXED))
    snprintf(body, sizeof body,
             "# TYPE kensa_stream_messages_total counter\nkensa_stream_messages_total %llu\n"
             "# TYPE kensa_stream_replayed_total counter\nkensa_stream_replayed_total %llu\n"
             "# TYPE kensa_stream_findings_total counter\nkensa_stream_findings_total %llu\n"
             "# TYPE kensa_stream_dead_letters_total counter\nkensa_stream_dead_letters_total %llu\n"
             "# TYPE kensa_stream_flushes_total counter\nkensa_stream_flushes_total %llu\n"
             "# TYPE kensa_stream_lag gauge\nkensa_stream_lag %lld\n"
             "# TYPE kensa_stream_partitions gauge\nkensa_stream_partitions %llu\n"
             "# TYPE kensa_stream_state_messages gauge\nkensa_stream_state_messages %llu\n"
             "# TYPE kensa_stream_state_bytes gauge\nkensa_stream_state_bytes %llu\n",
             M(messages), M(replayed), M(findings), M(dead), M(flushes),
             (long long)__atomic_load_n(&stream_m.lag, __ATOMIC_RELAXED), M(partitions),
             M(state_msgs), M(state_bytes));
#undef M
    r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
    rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

int stream_metrics_start(const char *addr)
{
    struct sockaddr_in sa;
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host)
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, ntohs(sa.sin_port), NULL, NULL,
                           metrics_page, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                           MHD_OPTION_CONNECTION_LIMIT, 16U, MHD_OPTION_END);
    return mhd ? 0 : -1;
}

void stream_metrics_stop(void)
{
    if (mhd)
        MHD_stop_daemon(mhd);
    mhd = NULL;
}

void stream_progress(const stream_cfg *cfg, bool force)
{
    static time_t last;
    time_t now = time(NULL);
    if (cfg->quiet || (!force && now - last < 2) || (!force && !isatty(STDERR_FILENO)))
        return;
    last = now;
    fprintf(stderr, "%s[kensa stream] %llu messages (%llu replayed), %llu findings, lag %lld, "
                    "%llu partitions, state %llu messages / %.1f MB, %llu dead letters%s",
            isatty(STDERR_FILENO) ? "\r\033[K" : "",
            (unsigned long long)stream_m.messages, (unsigned long long)stream_m.replayed,
            (unsigned long long)stream_m.findings, (long long)stream_m.lag,
            (unsigned long long)stream_m.partitions, (unsigned long long)stream_m.state_msgs,
            (double)stream_m.state_bytes / 1e6, (unsigned long long)stream_m.dead,
            force || !isatty(STDERR_FILENO) ? "\n" : "");
}

/* ---- the command ------------------------------------------------------------------ */

enum { O_KAFKA = 256, O_NATS, O_OUT, O_STATE, O_DLQ, O_INSTANCE, O_METRICS, O_WINDOW, O_RETAIN,
       O_BATCH, O_FLUSH, O_IDLE, O_SESSION, O_MAXSTATE, O_MAXMSG, O_SET };

int cmd_stream(int argc, char **argv)
{
    static const struct option opts[] = {
        {"kafka", required_argument, 0, O_KAFKA},     {"nats", required_argument, 0, O_NATS},
        {"topic", required_argument, 0, 'T'},          {"group", required_argument, 0, 'g'},
        {"out-topic", required_argument, 0, O_OUT},    {"state-topic", required_argument, 0, O_STATE},
        {"dlq-topic", required_argument, 0, O_DLQ},    {"instance", required_argument, 0, O_INSTANCE},
        {"json", required_argument, 0, 'o'},           {"metrics", required_argument, 0, O_METRICS},
        {"window", required_argument, 0, O_WINDOW},    {"retain", required_argument, 0, O_RETAIN},
        {"batch", required_argument, 0, O_BATCH},      {"flush-ms", required_argument, 0, O_FLUSH},
        {"idle-exit", required_argument, 0, O_IDLE},   {"session-timeout-ms", required_argument, 0, O_SESSION},
        {"max-state", required_argument, 0, O_MAXSTATE}, {"max-message", required_argument, 0, O_MAXMSG},
        {"rules", required_argument, 0, 'r'},          {"set", required_argument, 0, O_SET},
        {"quiet", no_argument, 0, 'q'},                {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    stream_cfg cfg = {.window_ns = 3600LL * 1000000000, .retain_ns = 48LL * 3600 * 1000000000,
                      .batch = 5000, .flush_ms = 5000, .session_ms = 10000,
                      .max_state_bytes = (size_t)256 << 20, .max_message = (size_t)1 << 20};
    const char **eng = calloc((size_t)argc * 2 + 2, sizeof *eng);
    char host[256] = "kensa", state[512], dlq[512];
    int c, rc = KS_EXIT_ERRORS;
    size_t nv;
    if (!eng)
        return KS_EXIT_ERRORS;
    cfg.eng = eng;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "T:g:o:r:qh", opts, NULL)) != -1) {
        int64_t d;
        switch (c) {
        case O_KAFKA: cfg.transport = "kafka"; cfg.brokers = optarg; break;
        case O_NATS: cfg.transport = "nats"; cfg.brokers = optarg; break;
        case 'T': cfg.topics = optarg; break;
        case 'g': cfg.group = optarg; break;
        case O_OUT: cfg.out_topic = optarg; break;
        case O_STATE: cfg.state_topic = optarg; break;
        case O_DLQ: cfg.dlq_topic = optarg; break;
        case O_INSTANCE: cfg.instance = optarg; break;
        case 'o': cfg.json_path = optarg; break;
        case O_METRICS: cfg.metrics = optarg; break;
        case 'q': cfg.quiet = true; break;
        case 'h':
            fputs(cmd_stream_usage, stdout);
            free(eng);
            return KS_EXIT_CLEAN;
        case O_WINDOW:
        case O_RETAIN:
        case O_IDLE:
            if ((d = duration(optarg)) < 0) {
                cli_error("stream", "--%s takes a time (90s, 15m, 1h, 2d), got '%s'",
                          c == O_WINDOW ? "window" : c == O_RETAIN ? "retain" : "idle-exit", optarg);
                goto out;
            }
            if (c == O_WINDOW)
                cfg.window_ns = d;
            else if (c == O_RETAIN)
                cfg.retain_ns = d;
            else
                cfg.idle_exit_ms = (int)(d / 1000000);
            break;
        case O_BATCH:
        case O_FLUSH:
        case O_SESSION:
        case O_MAXSTATE:
        case O_MAXMSG:
            if (number(optarg, &nv) != 0 || nv == 0) {
                cli_error("stream", "%s takes a positive number, got '%s'", argv[optind - 2], optarg);
                goto out;
            }
            if (c == O_BATCH)
                cfg.batch = nv;
            else if (c == O_FLUSH)
                cfg.flush_ms = (int)nv;
            else if (c == O_SESSION)
                cfg.session_ms = (int)nv;
            else if (c == O_MAXSTATE)
                cfg.max_state_bytes = nv;
            else
                cfg.max_message = nv;
            break;
        case 'r':
            eng[cfg.neng * 2] = "rules";
            eng[cfg.neng * 2 + 1] = optarg;
            cfg.neng++;
            break;
        case O_SET: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                cli_error("stream", "--set needs key=value, got '%s'", optarg);
                goto out;
            }
            *eq = '\0';
            eng[cfg.neng * 2] = optarg;
            eng[cfg.neng * 2 + 1] = eq + 1;
            cfg.neng++;
            break;
        }
        default:
            cli_error("stream", "unknown or incomplete option '%s' (see 'kensa stream --help')",
                      argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        cli_error("stream", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (!cfg.transport || !cfg.topics || !cfg.group) {
        cli_error("stream", "--kafka BROKERS (or --nats URL), --topic and --group are required");
        goto out;
    }
    if (!strcmp(cfg.transport, "kafka") && cfg.idle_exit_ms && cfg.idle_exit_ms < 2 * cfg.session_ms) {
        /* A dead member's partitions come back only after its session
         * times out: leaving sooner could leave them unhunted. */
        cli_error("stream", "--idle-exit must be at least twice --session-timeout-ms (%d ms)",
                  cfg.session_ms);
        goto out;
    }
    if (cfg.window_ns > cfg.retain_ns) {
        cli_error("stream", "--window must not exceed --retain");
        goto out;
    }
    /* Engine options are checked once here, not at the first flush. */
    ks_engine *probe = NULL;
    if (ks_engine_new(&probe) != KS_OK)
        goto out;
    for (size_t i = 0; i < cfg.neng; i++)
        if (ks_engine_set(probe, eng[i * 2], eng[i * 2 + 1]) != KS_OK) {
            cli_error("stream", "%s", ks_engine_errmsg(probe));
            ks_engine_free(probe);
            goto out;
        }
    ks_engine_free(probe);
    if (!cfg.instance) {
        gethostname(host, sizeof host - 1);
        cfg.instance = host;
    }
    if (!cfg.state_topic) {
        snprintf(state, sizeof state, "%s.kensa-state", cfg.group);
        cfg.state_topic = state;
    }
    if (!cfg.dlq_topic) {
        snprintf(dlq, sizeof dlq, "%s.kensa-dlq", cfg.group);
        cfg.dlq_topic = dlq;
    }
    if (cfg.metrics && stream_metrics_start(cfg.metrics) != 0) {
        cli_error("stream", "cannot serve metrics on %s (ADDR:PORT, IPv4)", cfg.metrics);
        goto out;
    }
    rc = !strcmp(cfg.transport, "kafka") ? stream_kafka_run(&cfg) : stream_nats_run(&cfg);
    stream_metrics_stop();
out:
    free(eng);
    return rc;
}
