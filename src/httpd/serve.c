/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa serve --db FILE --listen ADDR:PORT`: the exposure portal
 * (portal.h). Opens the index (its key file must exist: `kensa index
 * build` made it), the audit log and the rate limits, starts
 * libmicrohttpd (TLS through GnuTLS with --tls-cert/--tls-key) with a pool
 * of threads, and runs until SIGINT/SIGTERM. Port 0 picks a free port; the
 * line "kensa serve: listening on URL" says which (tests read it).
 */
#include <getopt.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "cli/cli.h"
#include "httpd/portal.h"

const char *const cmd_serve_usage =
    "usage: kensa serve --db FILE --listen ADDR:PORT [options]\n\n"
    "The exposure portal: organisations prove control of their domains (DNS TXT or\n"
    "an HTTPS /.well-known/ file) and then see their own exposure in the index,\n"
    "nothing else (docs/PORTAL.md).\n"
    "  --db FILE            the index built by kensa index build\n"
    "  --key FILE           its key file (default FILE.key)\n"
    "  --listen ADDR:PORT   where to listen (port 0: any free port)\n"
    "  --tls-cert FILE      PEM certificate: serve HTTPS (with --tls-key)\n"
    "  --tls-key FILE       PEM private key\n"
    "  --audit FILE         append-only audit log (default FILE.audit.jsonl)\n"
    "  --resolver IP[:PORT] DNS server for TXT proofs (default: /etc/resolv.conf)\n"
    "  --connect-to H:P:CH:CP  fetch https://H:P/ from CH:CP instead (tests)\n"
    "  --cainfo FILE        CA bundle for the HTTPS proofs (tests)\n"
    "  --rate-ip N          requests per second per client address (20; 0: off)\n"
    "  --rate-account N     requests per second per account (20; 0: off)\n"
    "  --burst SECONDS      bucket size in seconds of rate (2)\n"
    "  -t, --threads N      server threads (2)\n"
    "  --session-ttl SECONDS  browser session lifetime (43200)\n"
    "  --range-memory MB    range buckets held in memory at most (2048; 0: read the\n"
    "                       database per lookup)\n";

static __thread ks_store *tl_store;

ks_store *portal_store(portal *P)
{
    char err[512];
    if (tl_store)
        return tl_store;
    if (ks__store_open(P->cfg.db, P->cfg.key, KS_STORE_WRITE, &tl_store, err, sizeof err) != KS_OK) {
        fprintf(stderr, "kensa serve: %s\n", err);
        return NULL;
    }
    pthread_mutex_lock(&P->mu);
    if (ks__grow(&P->stores, &P->capstores, P->nstores, sizeof *P->stores, 8) == KS_OK)
        P->stores[P->nstores++] = tl_store;
    pthread_mutex_unlock(&P->mu);
    return tl_store;
}

/* Keeps the in-memory range buckets up to date: every cache TTL, reads
 * the buckets that batches committed since the last sync changed (an
 * index build running beside the portal shows within the TTL, as the
 * exposure answers do). Its own read-only connection. */
static void *ranges_sync(void *arg)
{
    portal *P = arg;
    ks_store *s = NULL;
    char err[512];
    if (ks__store_open(P->cfg.db, P->cfg.key, KS_STORE_READ, &s, err, sizeof err) != KS_OK) {
        fprintf(stderr, "kensa serve: range sync: %s\n", err);
        return NULL;
    }
    pthread_mutex_lock(&P->mu);
    while (!P->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(PORTAL_CACHE_TTL_NS % 1000000000ull);
        ts.tv_sec += (time_t)(PORTAL_CACHE_TTL_NS / 1000000000ull) + ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&P->cv, &P->mu, &ts);
        if (P->stop)
            break;
        pthread_mutex_unlock(&P->mu);
        int rc = ks__srange_sync(P->ranges, s, NULL);
        if (rc == KS_ELIMIT) {
            /* grown past the cap: lookups read the database from now on */
            fprintf(stderr, "kensa serve: the range buckets outgrew --range-memory: lookups read the database\n");
            ks__srange_drop(P->ranges);
            pthread_mutex_lock(&P->mu);
            break;
        }
        if (rc != KS_OK) /* kept as it was (a busy file, ...): tried again next time */
            fprintf(stderr, "kensa serve: range sync: %s\n", ks_strerror(rc));
        pthread_mutex_lock(&P->mu);
    }
    pthread_mutex_unlock(&P->mu);
    ks__store_close(s);
    return NULL;
}

/* Loads the range buckets into memory and starts their sync thread; on
 * failure lookups read the database. */
static void ranges_start(portal *P, ks_store *s)
{
    size_t n = 0;
    int rc;
    if (!P->cfg.range_memory || !(P->ranges = ks__srange_new(P->cfg.range_memory)))
        return;
    if ((rc = ks__srange_sync(P->ranges, s, &n)) != KS_OK) {
        fprintf(stderr, "kensa serve: range lookups read the database (%s)\n",
                rc == KS_ELIMIT ? "the buckets exceed --range-memory" : ks_strerror(rc));
        ks__srange_free(P->ranges);
        P->ranges = NULL;
        return;
    }
    fprintf(stderr, "kensa serve: %zu range buckets in memory (%.1f MB)\n", n, ks__srange_bytes(P->ranges) / 1e6);
    P->have_sync = pthread_create(&P->ranges_sync, NULL, ranges_sync, P) == 0;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    ks_buf b = KS_BUF_INIT;
    char chunk[4096];
    size_t n;
    if (!fp)
        return NULL;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0 && b.n < (1 << 20))
        ks__buf_add(&b, chunk, n);
    fclose(fp);
    return ks__buf_detach(&b, NULL);
}

/* 'sha256-BASE64' of an inline block, for the CSP. */
static void csp_hash(const char *s, char *out, size_t cap)
{
    uint8_t h[32];
    char b64[64];
    crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
    sodium_bin2base64(b64, sizeof b64, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "'sha256-%s'", b64);
}

static bool parse_listen(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = s ? strrchr(s, ':') : NULL;
    unsigned port;
    if (!colon || (size_t)(colon - s) >= sizeof host || sscanf(colon + 1, "%u", &port) != 1 || port > 65535)
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("kensa serve: ", stderr);
    vfprintf(stderr, fmt, ap);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},          {"key", required_argument, NULL, 'k'},
        {"listen", required_argument, NULL, 'l'},      {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},     {"audit", required_argument, NULL, 'a'},
        {"resolver", required_argument, NULL, 'r'},    {"connect-to", required_argument, NULL, 'T'},
        {"cainfo", required_argument, NULL, 'A'},      {"rate-ip", required_argument, NULL, 'i'},
        {"rate-account", required_argument, NULL, 'u'}, {"burst", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'},     {"session-ttl", required_argument, NULL, 's'},
        {"range-memory", required_argument, NULL, 'R'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    portal P = {.cfg = {.rate_ip = 20, .rate_account = 20, .burst = 2, .session_ttl = 43200,
                        .range_memory = (size_t)2048 << 20}};
    const char *listen = NULL, *cert_path = NULL, *key_path = NULL;
    char *cert = NULL, *tkey = NULL, *audit_path = NULL, err[512], sh[128];
    unsigned threads = 2;
    struct sockaddr_in sa;
    struct MHD_Daemon *d = NULL;
    ks_store *s = NULL;
    int c, rc = KS_EXIT_ERRORS;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': P.cfg.db = optarg; break;
        case 'k': P.cfg.key = optarg; break;
        case 'l': listen = optarg; break;
        case 'C': cert_path = optarg; break;
        case 'K': key_path = optarg; break;
        case 'a': P.cfg.audit = optarg; break;
        case 'r': P.cfg.resolver = optarg; break;
        case 'T': P.cfg.connect_to = optarg; break;
        case 'A': P.cfg.cainfo = optarg; break;
        case 'i': P.cfg.rate_ip = strtod(optarg, NULL); break;
        case 'u': P.cfg.rate_account = strtod(optarg, NULL); break;
        case 'b': P.cfg.burst = strtod(optarg, NULL); break;
        case 't': threads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 's': P.cfg.session_ttl = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'R': P.cfg.range_memory = (size_t)strtoull(optarg, NULL, 10) << 20; break;
        case 'h': fputs(cmd_serve_usage, stdout); return KS_EXIT_CLEAN;
        default: fputs(cmd_serve_usage, stderr); return KS_EXIT_ERRORS;
        }
    }
    if (!P.cfg.db || !listen || optind < argc || !parse_listen(listen, &sa) || !!cert_path != !!key_path ||
        threads == 0 || threads > 64 || P.cfg.session_ttl == 0) {
        cli_error("serve", "needs --db FILE --listen IPv4:PORT (and both or neither of --tls-cert/--tls-key)");
        return KS_EXIT_ERRORS;
    }
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cv, NULL);
    if (ks__store_open(P.cfg.db, P.cfg.key, KS_STORE_WRITE, &s, err, sizeof err) != KS_OK ||
        portal_accounts_init(s) != KS_OK) {
        cli_error("serve", "%s", err[0] ? err : "cannot create the portal tables");
        goto out;
    }
    ranges_start(&P, s);
    if (!P.cfg.audit) {
        size_t n = strlen(P.cfg.db) + 16;
        if (!(audit_path = malloc(n)))
            goto out;
        snprintf(audit_path, n, "%s.audit.jsonl", P.cfg.db);
        P.cfg.audit = audit_path;
    }
    if (portal_audit_open(P.cfg.audit, &P.audit, err, sizeof err) != KS_OK) {
        cli_error("serve", "%s", err);
        goto out;
    }
    P.lim_ip = portal_limits_new(P.cfg.rate_ip, P.cfg.burst);
    P.lim_acct = portal_limits_new(P.cfg.rate_account, P.cfg.burst);
    csp_hash(portal_ui_script, sh, sizeof sh);
    snprintf(P.csp, sizeof P.csp,
             "default-src 'none'; script-src %s; style-src 'unsafe-inline'; connect-src 'self'; "
             "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
             sh);
    if (cert_path && (!(cert = slurp(cert_path)) || !(tkey = slurp(key_path)))) {
        cli_error("serve", "cannot read %s", cert ? key_path : cert_path);
        goto out;
    }
    P.cfg.tls = cert != NULL;

    /* signals are taken by sigwait below, not by server threads */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* epoll with a pool of threads, each with its own listen-socket share; TURBO: read, write and
     * accept optimistically before asking epoll (fewer system calls per request) */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    if (cert)
        flags |= MHD_USE_TLS;
    d = MHD_start_daemon(flags, 0, NULL, NULL, portal_mhd_access, &P,
                         MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                         MHD_OPTION_THREAD_POOL_SIZE, threads,
                         MHD_OPTION_NOTIFY_COMPLETED, portal_mhd_completed, &P,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
                         cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
                         MHD_OPTION_HTTPS_MEM_KEY, tkey,
                         MHD_OPTION_END);
    if (!d) {
        cli_error("serve", "cannot listen on %s", listen);
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char host[64];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    fprintf(stderr, "kensa serve: listening on %s://%s:%u (audit log %s)\n", cert ? "https" : "http", host,
            di ? di->port : ntohs(sa.sin_port), P.cfg.audit);
    fflush(stderr);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "kensa serve: stopping (signal %d)\n", sig);
    rc = KS_EXIT_CLEAN;
out:
    if (d)
        MHD_stop_daemon(d);
    if (P.have_sync) {
        pthread_mutex_lock(&P.mu);
        P.stop = true;
        pthread_cond_signal(&P.cv);
        pthread_mutex_unlock(&P.mu);
        pthread_join(P.ranges_sync, NULL);
    }
    ks__srange_free(P.ranges);
    for (size_t i = 0; i < P.nstores; i++)
        ks__store_close(P.stores[i]);
    free(P.stores);
    ks__store_close(s);
    portal_audit_close(P.audit);
    portal_limits_free(P.lim_ip);
    portal_limits_free(P.lim_acct);
    pthread_cond_destroy(&P.cv);
    pthread_mutex_destroy(&P.mu);
    free(audit_path);
    if (tkey)
        sodium_memzero(tkey, strlen(tkey));
    free(tkey);
    free(cert);
    return rc;
}
