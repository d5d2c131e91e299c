/* SPDX-License-Identifier: Apache-2.0
 *
 * The Kafka transport of `kensa stream` (librdkafka): a consumer-group
 * member with cooperative-sticky assignment and a transactional producer.
 *
 * Every flush is one Kafka transaction holding the final findings (output
 * topic, keyed by finding id), each flushed partition's state (changelog
 * topic, keyed "topic/partition") and the consumer offsets (the first
 * message each partition still needs). A kill -9 aborts the open
 * transaction: nothing of it is visible to read_committed readers, and the
 * partition's next owner resumes from the last committed state. On
 * assignment the changelog is read to its end and each new partition's
 * state restored; the retained messages are then replayed from the
 * committed offset (no finding is emitted before the replay reaches the
 * restored position). On revocation the partitions are flushed and
 * committed first. Poison messages (empty, not JSON, over --max-message)
 * go to the dead-letter topic with their origin in headers.
 */
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "stream.h"

typedef struct kctx {
    const stream_cfg *cfg;
    rd_kafka_t *c;              /* group consumer */
    rd_kafka_t *p;              /* transactional producer */
    stream_part **parts;
    size_t nparts, capparts;
    FILE *json;                 /* --json copy of the findings */
    int status;                 /* exit status so far */
    bool fatal;
    long long last_change;      /* ms: last message or rebalance (idle exit) */
    bool assigned;              /* the group has given this member partitions */
    bool leaving;               /* unsubscribed: partitions are passed through */
} kctx;

static void kerr(const char *what, rd_kafka_error_t *e)
{
    fprintf(stderr, "kensa stream: %s: %s\n", what, e ? rd_kafka_error_string(e) : "failed");
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kensa stream: kafka option %s=%s: %s\n", k, v, err);
        return -1;
    }
    return 0;
}

static stream_part *find_part(kctx *k, const char *topic, int32_t part, size_t *idx)
{
    for (size_t i = 0; i < k->nparts; i++)
        if (k->parts[i]->partition == part && !strcmp(k->parts[i]->topic, topic)) {
            if (idx)
                *idx = i;
            return k->parts[i];
        }
    return NULL;
}

/* ---- findings and state inside the transaction ------------------------------ */

static int emit_cb(void *ud, const stream_part *p, const char *key, const char *json, size_t n)
{
    kctx *k = ud;
    (void)p;
    if (k->cfg->out_topic) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            k->p, RD_KAFKA_V_TOPIC(k->cfg->out_topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *)json, n > 0 && json[n - 1] == '\n' ? n - 1 : n),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err) {
            fprintf(stderr, "kensa stream: produce to %s: %s\n", k->cfg->out_topic, rd_kafka_err2str(err));
            return -1;
        }
    }
    stream_emitted(k->cfg, k->json, json, n);
    return 0;
}

static int produce_state(kctx *k, const stream_part *p)
{
    char key[512];
    size_t n = 0;
    char *s = stream_part_save(p, &n);
    rd_kafka_resp_err_t err;
    if (!s)
        return -1;
    snprintf(key, sizeof key, "%s/%d", p->topic, (int)p->partition);
    err = rd_kafka_producev(k->p, RD_KAFKA_V_TOPIC(k->cfg->state_topic), RD_KAFKA_V_KEY(key, strlen(key)),
                            RD_KAFKA_V_VALUE(s, n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_END);
    free(s);
    if (err)
        fprintf(stderr, "kensa stream: produce to %s: %s\n", k->cfg->state_topic, rd_kafka_err2str(err));
    return err ? -1 : 0;
}

static void update_state_metrics(kctx *k)
{
    uint64_t msgs = 0, bytes = 0;
    for (size_t i = 0; i < k->nparts; i++) {
        msgs += k->parts[i]->n;
        bytes += k->parts[i]->bytes;
    }
    __atomic_store_n(&stream_m.state_msgs, msgs, __ATOMIC_RELAXED);
    __atomic_store_n(&stream_m.state_bytes, bytes, __ATOMIC_RELAXED);
    __atomic_store_n(&stream_m.partitions, k->nparts, __ATOMIC_RELAXED);
}

static void restore_parts(kctx *k, stream_part **ps, size_t n);

/* One transaction: flush the given partitions (final_all at the end of a
 * run), write their state, commit their offsets. */
static int commit_parts(kctx *k, stream_part **ps, size_t n, bool final_all)
{
    rd_kafka_error_t *e = NULL;
    rd_kafka_topic_partition_list_t *offs = NULL;
    rd_kafka_consumer_group_metadata_t *md = NULL;
    int rc = -1;
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        if (!ps[i]->restoring && (ps[i]->fresh || final_all))
            used++;
    if (!used)
        return 0;
    if ((e = rd_kafka_begin_transaction(k->p))) {
        kerr("begin transaction", e);
        goto out;
    }
    offs = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        stream_part *p = ps[i];
        if (p->restoring || (!p->fresh && !final_all))
            continue;
        if (stream_part_flush(p, k->cfg, final_all, emit_cb, k) < 0 || produce_state(k, p) != 0) {
            rd_kafka_error_destroy(rd_kafka_abort_transaction(k->p, -1));
            goto rewind;
        }
        rd_kafka_topic_partition_list_add(offs, p->topic, p->partition)->offset = stream_part_start(p);
        __atomic_add_fetch(&stream_m.flushes, 1, __ATOMIC_RELAXED);
    }
    md = rd_kafka_consumer_group_metadata(k->c);
    if ((e = rd_kafka_send_offsets_to_transaction(k->p, offs, md, -1)) ||
        (e = rd_kafka_commit_transaction(k->p, -1))) {
        kerr("commit transaction", e);
        if (rd_kafka_error_is_fatal(e)) {
            k->fatal = true;
            goto out;
        }
        rd_kafka_error_destroy(e);
        e = rd_kafka_abort_transaction(k->p, -1);
        goto rewind;
    }
    rc = 0;
    goto out;
rewind:
    /* Nothing of this transaction happened: rebuild the partitions from
     * their last committed state. */
    fprintf(stderr, "kensa stream: transaction aborted; partitions restored from the last commit\n");
    restore_parts(k, ps, n);
out:
    if (e)
        rd_kafka_error_destroy(e);
    if (md)
        rd_kafka_consumer_group_metadata_destroy(md);
    if (offs)
        rd_kafka_topic_partition_list_destroy(offs);
    update_state_metrics(k);
    return rc;
}

/* ---- restoring state ------------------------------------------------------------ */

/* Reads the changelog to its end; for each of the n partitions, the last
 * state written for it is loaded (missing = a new partition). */
static void read_changelog(kctx *k, stream_part **ps, size_t n)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *r = NULL;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_partition_list_t *as = NULL;
    char **last = calloc(n, sizeof *last);
    size_t *lastn = calloc(n, sizeof *lastn);
    int nparts = 0, eofs = 0;
    if (!last || !lastn || set(conf, "bootstrap.servers", k->cfg->brokers) ||
        set(conf, "isolation.level", "read_committed") || set(conf, "enable.partition.eof", "true") ||
        set(conf, "enable.auto.commit", "false") || set(conf, "group.id", "kensa-changelog-reader"))
        goto out;
    r = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    conf = NULL;
    if (!r) {
        fprintf(stderr, "kensa stream: changelog reader: %s\n", err);
        goto out;
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(r, k->cfg->state_topic, NULL);
    if (rd_kafka_metadata(r, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
        nparts = md->topics[0].partition_cnt;
    rd_kafka_topic_destroy(t);
    if (nparts <= 0) {
        fprintf(stderr, "kensa stream: changelog topic %s not found: starting without state\n",
                k->cfg->state_topic);
        goto out;
    }
    as = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++)
        rd_kafka_topic_partition_list_add(as, k->cfg->state_topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(r, as);
    long long deadline = stream_now_ms() + 60000;
    while (eofs < nparts && stream_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r, 500);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!m->err && m->key) {
            for (size_t i = 0; i < n; i++) {
                char key[512];
                snprintf(key, sizeof key, "%s/%d", ps[i]->topic, (int)ps[i]->partition);
                if (m->key_len == strlen(key) && !memcmp(m->key, key, m->key_len)) {
                    free(last[i]);
                    last[i] = malloc(m->len + 1);
                    if (last[i]) {
                        memcpy(last[i], m->payload, m->len);
                        lastn[i] = m->len;
                    }
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    for (size_t i = 0; i < n; i++)
        if (last[i] && stream_part_load(ps[i], last[i], lastn[i]) != 0)
            fprintf(stderr, "kensa stream: %s/%d: unreadable saved state ignored\n", ps[i]->topic,
                    (int)ps[i]->partition);
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (as)
        rd_kafka_topic_partition_list_destroy(as);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (r) {
        rd_kafka_consumer_close(r);
        rd_kafka_destroy(r);
    }
    for (size_t i = 0; last && i < n; i++)
        free(last[i]);
    free(last);
    free(lastn);
}

/* Puts the partitions back to their last committed state: fresh state,
 * changelog loaded, the consumer sought to the committed offset. */
static void restore_parts(kctx *k, stream_part **ps, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        stream_part *fresh = stream_part_new(ps[i]->topic, ps[i]->partition);
        size_t idx;
        if (!fresh || !find_part(k, ps[i]->topic, ps[i]->partition, &idx)) {
            stream_part_free(fresh);
            continue;
        }
        stream_part_free(k->parts[idx]);
        k->parts[idx] = ps[i] = fresh;
        rd_kafka_topic_partition_list_add(l, fresh->topic, fresh->partition);
    }
    read_changelog(k, ps, n);
    if (rd_kafka_committed(k->c, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < l->cnt; i++)
            if (l->elems[i].offset < 0)
                l->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_error_t *e = rd_kafka_seek_partitions(k->c, l, 10000);
        if (e)
            rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* ---- the group ------------------------------------------------------------------- */

static void on_assign(kctx *k, rd_kafka_topic_partition_list_t *l)
{
    stream_part **ps = calloc((size_t)l->cnt + 1, sizeof *ps);
    size_t n = 0;
    if (!ps)
        return;
    for (int i = 0; i < l->cnt; i++) {
        if (find_part(k, l->elems[i].topic, l->elems[i].partition, NULL))
            continue;
        stream_part *p = stream_part_new(l->elems[i].topic, l->elems[i].partition);
        if (!p)
            continue;
        if (cli_grow(&k->parts, &k->capparts, k->nparts, sizeof *k->parts, 16)) {
            stream_part_free(p);
            continue;
        }
        k->parts[k->nparts++] = p;
        ps[n++] = p;
    }
    read_changelog(k, ps, n);
    if (!k->cfg->quiet)
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "kensa stream: assigned %s/%d%s\n", ps[i]->topic, (int)ps[i]->partition,
                    ps[i]->restoring ? " (state restored, replaying)" : "");
    free(ps);
    update_state_metrics(k);
}

static void drop_parts(kctx *k, rd_kafka_topic_partition_list_t *l, bool commit)
{
    stream_part **ps = calloc((size_t)l->cnt + 1, sizeof *ps);
    size_t n = 0;
    if (!ps)
        return;
    for (int i = 0; i < l->cnt; i++) {
        stream_part *p = find_part(k, l->elems[i].topic, l->elems[i].partition, NULL);
        if (p)
            ps[n++] = p;
    }
    if (commit && n)
        commit_parts(k, ps, n, false);
    for (size_t i = 0; i < n; i++) {
        size_t idx;
        if (!find_part(k, ps[i]->topic, ps[i]->partition, &idx))
            continue;
        if (!k->cfg->quiet)
            fprintf(stderr, "kensa stream: released %s/%d\n", ps[i]->topic, (int)ps[i]->partition);
        stream_part_free(k->parts[idx]);
        k->parts[idx] = k->parts[--k->nparts];
    }
    free(ps);
    update_state_metrics(k);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *l,
                         void *opaque)
{
    kctx *k = opaque;
    bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    rd_kafka_error_t *e = NULL;
    k->last_change = stream_now_ms();
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        k->assigned = true;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        /* A member on its way out takes what a rebalance still hands it
         * without state: nothing of it is hunted or committed, the next
         * owner resumes from the last commit (stream_leave). */
        if (!k->leaving)
            on_assign(k, l);
        if (coop)
            e = rd_kafka_incremental_assign(rk, l);
        else
            rd_kafka_assign(rk, l);
    } else {
        /* A lost assignment belongs to someone else already: no commit. */
        drop_parts(k, l, !rd_kafka_assignment_lost(rk));
        if (coop)
            e = rd_kafka_incremental_unassign(rk, l);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (e) {
        kerr("rebalance", e);
        rd_kafka_error_destroy(e);
    }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kctx *k = opaque;
    (void)rk;
    /* librdkafka retries lost brokers itself, with backoff; only fatal
     * errors end the run. */
    fprintf(stderr, "kensa stream: kafka: %s\n", reason);
    if (err == RD_KAFKA_RESP_ERR__FATAL)
        k->fatal = true;
}

static void dead_letter(kctx *k, const rd_kafka_message_t *m, const char *why)
{
    char off[32], part[16];
    const char *topic = rd_kafka_topic_name(m->rkt);
    snprintf(off, sizeof off, "%" PRId64, m->offset);
    snprintf(part, sizeof part, "%d", (int)m->partition);
    fprintf(stderr, "kensa stream: warning: %s/%d offset %" PRId64 ": %s: sent to %s\n", topic,
            (int)m->partition, m->offset, why, k->cfg->dlq_topic);
    rd_kafka_producev(k->p, RD_KAFKA_V_TOPIC(k->cfg->dlq_topic), RD_KAFKA_V_VALUE(m->payload, m->len),
                      RD_KAFKA_V_HEADER("kensa-topic", topic, -1),
                      RD_KAFKA_V_HEADER("kensa-partition", part, -1),
                      RD_KAFKA_V_HEADER("kensa-offset", off, -1),
                      RD_KAFKA_V_HEADER("kensa-reason", why, -1),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    __atomic_add_fetch(&stream_m.dead, 1, __ATOMIC_RELAXED);
}

static void on_message(kctx *k, rd_kafka_message_t *m)
{
    const char *why = NULL;
    stream_part *p = find_part(k, rd_kafka_topic_name(m->rkt), m->partition, NULL);
    rd_kafka_timestamp_type_t tt;
    int64_t ts;
    if (!p)
        return; /* a late message of a partition already released */
    __atomic_add_fetch(&stream_m.messages, 1, __ATOMIC_RELAXED);
    if (p->restoring) {
        __atomic_add_fetch(&stream_m.replayed, 1, __ATOMIC_RELAXED);
        if (m->offset + 1 >= p->restore_next)
            p->restoring = false;
    }
    if (stream_poison(m->payload, m->len, k->cfg->max_message, &why)) {
        /* Replayed poison was dead-lettered by the previous owner. */
        if (m->offset + 1 > p->restore_next)
            dead_letter(k, m, why);
        if (m->offset >= p->next)
            p->next = m->offset + 1;
        return;
    }
    ts = rd_kafka_message_timestamp(m, &tt);
    stream_part_add(p, m->offset, ts >= 0 ? ts * 1000000 : 0, m->payload, m->len, k->cfg);
}

static rd_kafka_t *make_client(kctx *k, rd_kafka_type_t type)
{
    char err[512], txid[512], session[32];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    if (set(conf, "bootstrap.servers", k->cfg->brokers) || set(conf, "client.id", "kensa-stream"))
        goto fail;
    if (type == RD_KAFKA_CONSUMER) {
        snprintf(session, sizeof session, "%d", k->cfg->session_ms);
        if (set(conf, "group.id", k->cfg->group) || set(conf, "enable.auto.commit", "false") ||
            set(conf, "auto.offset.reset", "earliest") || set(conf, "isolation.level", "read_committed") ||
            set(conf, "partition.assignment.strategy", "cooperative-sticky") ||
            set(conf, "session.timeout.ms", session) || set(conf, "heartbeat.interval.ms", "1000"))
            goto fail;
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    } else {
        snprintf(txid, sizeof txid, "kensa-%s-%s", k->cfg->group, k->cfg->instance);
        if (set(conf, "transactional.id", txid) || set(conf, "transaction.timeout.ms", "10000") ||
            set(conf, "linger.ms", "5"))
            goto fail;
    }
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, k);
    rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk)
        fprintf(stderr, "kensa stream: %s\n", err);
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static void update_lag(kctx *k)
{
    int64_t lag = 0;
    for (size_t i = 0; i < k->nparts; i++) {
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(k->c, k->parts[i]->topic, k->parts[i]->partition, &lo, &hi) ==
                RD_KAFKA_RESP_ERR_NO_ERROR && hi > k->parts[i]->next && k->parts[i]->next >= 0)
            lag += hi - k->parts[i]->next;
    }
    __atomic_store_n(&stream_m.lag, lag, __ATOMIC_RELAXED);
}

/* Leaves the group before the consumer is closed: unsubscribes, then
 * serves the rebalance callbacks until nothing is assigned and the group
 * has been quiet for a second (bounded by twice the session timeout).
 * librdkafka before 2.4 hangs for ever in rd_kafka_consumer_close() when
 * a cooperative assignment arrives while it closes (its issue 4527): two
 * members that go idle together (the stream demo's) hand each other the
 * partitions they release. Messages that still arrive are not hunted:
 * the final commit holds the offsets, whoever owns the partitions next
 * reads them again. */
static void stream_leave(kctx *k)
{
    rd_kafka_topic_partition_list_t *as = NULL;
    long long deadline = stream_now_ms() + 2LL * k->cfg->session_ms;
    k->leaving = true;
    if (rd_kafka_unsubscribe(k->c) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    k->last_change = stream_now_ms();
    while (stream_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->c, 100);
        if (m)
            rd_kafka_message_destroy(m);
        int n = rd_kafka_assignment(k->c, &as) == RD_KAFKA_RESP_ERR_NO_ERROR && as ? as->cnt : -1;
        if (as)
            rd_kafka_topic_partition_list_destroy(as);
        as = NULL;
        if (n == 0 && stream_now_ms() - k->last_change >= 1000)
            break;
    }
}

int stream_kafka_run(const stream_cfg *cfg)
{
    kctx k = {.cfg = cfg, .status = KS_EXIT_CLEAN};
    rd_kafka_topic_partition_list_t *subs = NULL;
    rd_kafka_error_t *e;
    char *topics = NULL, *save = NULL;
    long long last_flush;
    if (cfg->json_path && !(k.json = fopen(cfg->json_path, "a"))) {
        fprintf(stderr, "kensa stream: cannot open %s\n", cfg->json_path);
        return KS_EXIT_ERRORS;
    }
    stream_catch_signals();
    if (!(k.p = make_client(&k, RD_KAFKA_PRODUCER)) || !(k.c = make_client(&k, RD_KAFKA_CONSUMER))) {
        k.status = KS_EXIT_ERRORS;
        goto out;
    }
    /* Fences a previous incarnation of this instance and aborts its open
     * transaction (the kill -9 case). */
    if ((e = rd_kafka_init_transactions(k.p, 30000))) {
        kerr("init transactions", e);
        rd_kafka_error_destroy(e);
        k.status = KS_EXIT_ERRORS;
        goto out;
    }
    rd_kafka_poll_set_consumer(k.c);
    subs = rd_kafka_topic_partition_list_new(4);
    topics = strdup(cfg->topics);
    for (char *t = strtok_r(topics, ",", &save); t; t = strtok_r(NULL, ",", &save))
        rd_kafka_topic_partition_list_add(subs, t, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(k.c, subs)) {
        fprintf(stderr, "kensa stream: cannot subscribe to %s\n", cfg->topics);
        k.status = KS_EXIT_ERRORS;
        goto out;
    }
    k.last_change = last_flush = stream_now_ms();
    long long started = k.last_change;
    while (!stream_stop && !k.fatal) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k.c, 100);
        long long now = stream_now_ms();
        bool flush_now = now - last_flush >= cfg->flush_ms;
        if (m) {
            if (!m->err) {
                on_message(&k, m);
                k.last_change = now;
            } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "kensa stream: %s\n", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
        }
        /* A partition still replaying is not flushed (commit_parts), so
         * its messages must not count: a replay of more than --batch
         * messages made every message a flush of the other partitions,
         * each one a hunt of all their retained messages, and a member
         * that replays one partition while another takes live messages
         * crawled (one message per hunt: stream_demo ran for minutes). */
        for (size_t i = 0; i < k.nparts && !flush_now; i++)
            if (!k.parts[i]->restoring && k.parts[i]->fresh >= cfg->batch)
                flush_now = true;
        if (flush_now) {
            commit_parts(&k, k.parts, k.nparts, false);
            last_flush = stream_now_ms();
            update_lag(&k);
            stream_progress(cfg, false);
        }
        rd_kafka_poll(k.p, 0);
        /* Idle: no message and no rebalance for the whole period, which
         * is longer than the session timeout (cmd_stream.c), so the
         * partitions of a member that died are reassigned first. */
        /* A member the group has not yet given partitions (the first join
         * takes seconds) waits up to three idle periods for them. */
        if (cfg->idle_exit_ms && now - k.last_change >= cfg->idle_exit_ms &&
            (k.assigned || now - started >= 3LL * cfg->idle_exit_ms)) {
            bool restoring = false;
            for (size_t i = 0; i < k.nparts; i++)
                restoring |= k.parts[i]->restoring;
            if (!restoring)
                break;
        }
    }
    /* The end of the run: everything retained is final (idle exit), or
     * only what is already final (a signal: the next owner goes on). */
    commit_parts(&k, k.parts, k.nparts, !stream_stop && !k.fatal);
    stream_progress(cfg, true);
    if (!k.fatal)
        stream_leave(&k);
out:
    if (k.c) {
        rd_kafka_consumer_close(k.c);
        rd_kafka_destroy(k.c);
    }
    if (k.p) {
        rd_kafka_flush(k.p, 10000);
        rd_kafka_destroy(k.p);
    }
    for (size_t i = 0; i < k.nparts; i++)
        stream_part_free(k.parts[i]);
    free(k.parts);
    free(topics);
    if (subs)
        rd_kafka_topic_partition_list_destroy(subs);
    if (k.json)
        fclose(k.json);
    if (k.fatal)
        k.status |= KS_EXIT_ERRORS;
    if (stream_m.findings)
        k.status |= KS_EXIT_FINDINGS;
    return k.status;
}
