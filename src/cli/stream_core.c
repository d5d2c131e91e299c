/* SPDX-License-Identifier: Apache-2.0
 *
 * Per-partition stream state and the flush that hunts it (stream.h).
 *
 * A flush writes the partition's retained messages as JSON lines to a
 * private temporary file and runs a fresh engine over it with the
 * command's options, so a stream is hunted by exactly the inputs, field
 * schema and detectors a file hunt uses. Evidence line numbers map back to
 * message offsets. Cost: one engine start (~0.1 s with the bundled rules)
 * plus the retained messages per flush; flushes are batched (--batch,
 * --flush-ms) so it stays a small share (docs/STREAM.md has the figures).
 */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "stream.h"

stream_part *stream_part_new(const char *topic, int32_t partition)
{
    stream_part *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->topic = strdup(topic);
    if (!p->topic) {
        free(p);
        return NULL;
    }
    p->partition = partition;
    p->next = -1;
    p->wm = INT64_MIN;
    p->event_wm = INT64_MIN;
    p->restore_next = -1;
    p->restore_start = -1;
    return p;
}

static void drop_front(stream_part *p, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        p->bytes -= p->recs[i].len;
        free(p->recs[i].data);
    }
    memmove(p->recs, p->recs + k, (p->n - k) * sizeof *p->recs);
    p->n -= k;
}

void stream_part_free(stream_part *p)
{
    if (!p)
        return;
    drop_front(p, p->n);
    free(p->recs);
    free(p->emitted);
    free(p->topic);
    free(p);
}

int stream_part_add(stream_part *p, int64_t offset, int64_t ts_ns, const void *data, size_t n,
                    const stream_cfg *cfg)
{
    stream_rec *r;
    if (cli_grow(&p->recs, &p->cap, p->n, sizeof *p->recs, 1024))
        return -1;
    r = &p->recs[p->n];
    r->data = malloc(n + 1);
    if (!r->data)
        return -1;
    memcpy(r->data, data, n);
    /* One message, one line: raw newlines are JSON white space outside
     * strings and invalid inside them, so spaces change no meaning. */
    for (size_t i = 0; i < n; i++)
        if (r->data[i] == '\n' || r->data[i] == '\r')
            r->data[i] = ' ';
    r->data[n] = '\0';
    r->len = n;
    r->offset = offset;
    r->ts_ns = ts_ns;
    p->n++;
    p->bytes += n;
    if (offset >= p->next)
        p->next = offset + 1;
    if (ts_ns > p->wm)
        p->wm = ts_ns;
    p->fresh++;
    /* Memory cap: oldest messages go first, with one warning each time. */
    if (cfg->max_state_bytes && p->bytes > cfg->max_state_bytes) {
        size_t k = 0, freed = 0;
        while (k < p->n - 1 && p->bytes - freed > cfg->max_state_bytes * 3 / 4)
            freed += p->recs[k++].len;
        fprintf(stderr, "kensa stream: warning: %s/%d: state over %zu bytes: %zu oldest messages "
                        "dropped (correlations reaching further back are cut)\n",
                p->topic, (int)p->partition, cfg->max_state_bytes, k);
        drop_front(p, k);
    }
    return 0;
}

int64_t stream_part_start(const stream_part *p)
{
    return p->n ? p->recs[0].offset : (p->next >= 0 ? p->next : 0);
}

/* ---- ids ------------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    h = fnv(h, s ? s : "", s ? strlen(s) : 0);
    return fnv(h, "\x1f", 1);
}

static uint64_t fnv_i64(uint64_t h, int64_t v)
{
    return fnv(h, &v, sizeof v);
}

/* Identity of a finding: its rule, first time and first event. A finding
 * that grows (more events) keeps it; its version changes. */
static void finding_id(const stream_part *p, const ks_finding *f, int64_t first_off, uint64_t id[2])
{
    static const uint64_t seeds[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
    for (int k = 0; k < 2; k++) {
        uint64_t h = fnv_str(seeds[k], p->topic);
        h = fnv_i64(h, p->partition);
        h = fnv_str(h, f->rule_id);
        h = fnv_i64(h, f->first);
        h = fnv_i64(h, first_off);
        if (first_off < 0)
            for (size_t i = 0; i < f->nmatched; i++)
                h = fnv_str(fnv_str(h, f->matched[i].key), f->matched[i].value);
        id[k] = h;
    }
}

static uint64_t finding_ver(const ks_finding *f)
{
    uint64_t h = fnv_i64(0xcbf29ce484222325ull, f->last);
    h = fnv_i64(h, (int64_t)f->event_count);
    for (size_t i = 0; i < f->nmatched; i++)
        h = fnv_str(fnv_str(h, f->matched[i].key), f->matched[i].value);
    for (size_t i = 0; i < f->ndetails; i++)
        h = fnv_str(fnv_str(h, f->details[i].key), f->details[i].value);
    return h;
}

static stream_emit *emitted_find(stream_part *p, const uint64_t id[2])
{
    for (size_t i = 0; i < p->nemitted; i++)
        if (p->emitted[i].id[0] == id[0] && p->emitted[i].id[1] == id[1])
            return &p->emitted[i];
    return NULL;
}

static int emitted_add(stream_part *p, const uint64_t id[2], uint64_t ver, int64_t last)
{
    stream_emit *e = emitted_find(p, id);
    if (!e) {
        if (cli_grow(&p->emitted, &p->capemitted, p->nemitted, sizeof *p->emitted, 64))
            return -1;
        e = &p->emitted[p->nemitted++];
        e->id[0] = id[0];
        e->id[1] = id[1];
    }
    e->ver = ver;
    e->last_ns = last;
    return 0;
}

/* ---- flush ------------------------------------------------------------------ */

typedef struct flush_diag {
    const stream_part *p;
    unsigned printed;
} flush_diag;

static void on_diag(void *ud, const ks_diag *d)
{
    flush_diag *fd = ud;
    if (d->level == KS_DIAG_INFO || fd->printed++ >= 20)
        return;
    /* The temporary file's line is the message's place in the state. */
    int64_t off = d->loc.line && d->loc.line <= fd->p->n ? fd->p->recs[d->loc.line - 1].offset : -1;
    fprintf(stderr, "kensa stream: %s: %s/%d offset %" PRId64 ": [%s] %s\n",
            d->level == KS_DIAG_ERROR ? "error" : "warning", fd->p->topic, (int)fd->p->partition,
            off, d->component ? d->component : "", d->msg);
}

static int write_state_file(const stream_part *p, char *path, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    int fd;
    FILE *fp;
    snprintf(path, cap, "%s/kensa-stream-XXXXXX.jsonl", dir && *dir ? dir : "/tmp");
    fd = mkstemps(path, 6);
    if (fd < 0)
        return -1;
    fp = fdopen(fd, "w");
    if (!fp) {
        close(fd);
        unlink(path);
        return -1;
    }
    for (size_t i = 0; i < p->n; i++) {
        fwrite(p->recs[i].data, 1, p->recs[i].len, fp);
        fputc('\n', fp);
    }
    if (fclose(fp) != 0) {
        unlink(path);
        return -1;
    }
    return 0;
}

static int64_t line_offset(const stream_part *p, const ks_evidence *ev)
{
    return ev->line && ev->line <= p->n ? p->recs[ev->line - 1].offset : -1;
}

/* Emits one final finding with its evidence moved to message offsets. */
static int emit_one(stream_part *p, const ks_finding *f, const uint64_t id[2], uint64_t ver,
                    stream_emit_fn fn, void *ud)
{
    ks_evidence ev[64];
    ks_kv det[72];
    char where[300], key[40];
    char *json = NULL;
    size_t n = 0, nev = f->nevidence < 64 ? f->nevidence : 64, nd = 0;
    int rc;
    ks_finding c = *f;
    snprintf(where, sizeof where, "stream:%s/%d", p->topic, (int)p->partition);
    for (size_t i = 0; i < nev; i++) {
        ev[i] = f->evidence[i];
        ev[i].path = where;
        int64_t off = line_offset(p, &f->evidence[i]);
        ev[i].record = off >= 0 ? (uint64_t)off : 0;
        ev[i].line = 0;
        ev[i].offset = UINT64_MAX;
    }
    snprintf(key, sizeof key, "%016" PRIx64 "%016" PRIx64, id[0], id[1]);
    det[nd++] = (ks_kv){"finding_id", key};
    for (size_t i = 0; i < f->ndetails && nd < 72; i++)
        det[nd++] = f->details[i];
    c.evidence = ev;
    c.nevidence = nev;
    c.details = det;
    c.ndetails = nd;
    (void)ver;
    if (ks_finding_to_json(&c, &json, &n) != KS_OK)
        return -1;
    rc = fn(ud, p, key, json, n);
    free(json);
    return rc;
}

static void prune(stream_part *p, const stream_cfg *cfg)
{
    int64_t cutoff;
    size_t k = 0, j = 0;
    if (p->wm == INT64_MIN || cfg->retain_ns <= 0)
        return;
    cutoff = p->wm - cfg->retain_ns;
    while (k < p->n && p->recs[k].ts_ns < cutoff)
        k++;
    if (k)
        drop_front(p, k);
    for (size_t i = 0; i < p->nemitted; i++)
        if (p->emitted[i].last_ns == KS_TIME_NONE || p->emitted[i].last_ns >= cutoff)
            p->emitted[j++] = p->emitted[i];
    p->nemitted = j;
}

long stream_part_flush(stream_part *p, const stream_cfg *cfg, bool final_all, stream_emit_fn fn,
                       void *ud)
{
    char path[4096];
    ks_engine *e = NULL;
    long emitted = 0;
    flush_diag fd = {p, 0};
    bool threads_set = false;
    p->fresh = 0;
    if (!p->n)
        return 0;
    if (write_state_file(p, path, sizeof path) != 0) {
        fprintf(stderr, "kensa stream: cannot write the state of %s/%d to a temporary file: %s\n",
                p->topic, (int)p->partition, strerror(errno));
        return -1;
    }
    if (ks_engine_new(&e) != KS_OK) {
        unlink(path);
        return -1;
    }
    for (size_t i = 0; i + 1 < cfg->neng * 2; i += 2) {
        if (!strcmp(cfg->eng[i], "threads"))
            threads_set = true;
        if (ks_engine_set(e, cfg->eng[i], cfg->eng[i + 1]) != KS_OK) {
            fprintf(stderr, "kensa stream: %s\n", ks_engine_errmsg(e));
            emitted = -1;
            goto out;
        }
    }
    if (!threads_set)
        ks_engine_set(e, "threads", "1");
    ks_engine_on_diag(e, on_diag, &fd);
    ks_engine_add_path(e, path);
    if (ks_engine_run(e) != KS_OK) {
        fprintf(stderr, "kensa stream: %s/%d: %s\n", p->topic, (int)p->partition, ks_engine_errmsg(e));
        emitted = -1;
        goto out;
    }
    /* Finality is judged in event time: the newest event any finding of
     * this partition has reached stands for "now" (message timestamps may
     * be arrival times: JetStream sets its own). */
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        if (f->last != KS_TIME_NONE && f->last > p->event_wm)
            p->event_wm = f->last;
    }
    for (size_t i = 0; i < ks_engine_nfindings(e); i++) {
        const ks_finding *f = ks_engine_finding(e, i);
        uint64_t id[2], ver;
        bool final = final_all || (f->last != KS_TIME_NONE && p->event_wm != INT64_MIN &&
                                   f->last < p->event_wm - cfg->window_ns);
        if (!final)
            continue;
        finding_id(p, f, f->nevidence ? line_offset(p, &f->evidence[0]) : -1, id);
        ver = finding_ver(f);
        stream_emit *prev = emitted_find(p, id);
        if (prev && prev->ver == ver)
            continue; /* already out: a replay or an unchanged re-evaluation */
        if (emit_one(p, f, id, ver, fn, ud) != 0 || emitted_add(p, id, ver, f->last) != 0) {
            emitted = -1;
            goto out;
        }
        emitted++;
    }
    prune(p, cfg);
out:
    ks_engine_free(e);
    unlink(path);
    return emitted;
}

/* ---- state text ----------------------------------------------------------------- */

char *stream_part_save(const stream_part *p, size_t *n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp)
        return NULL;
    fprintf(fp, "kensa-stream-state 1\ntopic %s\npartition %d\nnext %" PRId64 "\nwm %" PRId64
                "\nstart %" PRId64 "\n",
            p->topic, (int)p->partition, p->next, p->wm, stream_part_start(p));
    for (size_t i = 0; i < p->nemitted; i++)
        fprintf(fp, "e %016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %" PRId64 "\n",
                p->emitted[i].id[0], p->emitted[i].id[1], p->emitted[i].ver, p->emitted[i].last_ns);
    if (fclose(fp) != 0) {
        free(buf);
        return NULL;
    }
    *n = len;
    return buf;
}

int stream_part_load(stream_part *p, const char *s, size_t n)
{
    char *copy = strndup(s, n), *save = NULL;
    int rc = 0, version = 0;
    if (!copy)
        return -1;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        uint64_t a, b, v;
        int64_t x;
        if (sscanf(line, "kensa-stream-state %d", &version) == 1)
            continue;
        if (sscanf(line, "next %" SCNd64, &x) == 1)
            p->restore_next = x;
        else if (sscanf(line, "start %" SCNd64, &x) == 1)
            p->restore_start = x;
        else if (sscanf(line, "wm %" SCNd64, &x) == 1)
            ; /* the watermark is rebuilt from the replayed messages */
        else if (sscanf(line, "e %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNd64, &a, &b, &v, &x) == 4) {
            uint64_t id[2] = {a, b};
            if (emitted_add(p, id, v, x) != 0)
                rc = -1;
        }
    }
    free(copy);
    if (version != 1)
        return -1;
    p->restoring = p->restore_next > 0;
    return rc;
}

bool stream_poison(const void *data, size_t n, size_t max, const char **why)
{
    const char *s = data;
    size_t i = 0;
    if (!n || !s) {
        *why = "empty message";
        return true;
    }
    if (n > max) {
        *why = "message larger than --max-message";
        return true;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    if (i == n || (s[i] != '{' && s[i] != '[')) {
        *why = "not a JSON object";
        return true;
    }
    return false;
}

volatile sig_atomic_t stream_stop;

static void on_signal(int sig)
{
    (void)sig;
    stream_stop = 1;
}

void stream_catch_signals(void)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
}

long long stream_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void stream_emitted(const stream_cfg *cfg, FILE *copy, const char *json, size_t n)
{
    if (copy)
        fwrite(json, 1, n, copy);
    if (!cfg->out_topic && !copy)
        fwrite(json, 1, n, stdout);
    __atomic_add_fetch(&stream_m.findings, 1, __ATOMIC_RELAXED);
}
