/* SPDX-License-Identifier: Apache-2.0
 *
 * The NATS JetStream transport of `kensa stream` (libnats).
 *
 * JetStream has no partitions: a member hunts one subject filter (--topic,
 * e.g. "events.>" or one tenant's "events.t1.>") as one state, named by
 * --group. The state (same text as the Kafka changelog) lives in the
 * JetStream key-value bucket "kensa-state" under the group's name; the
 * messages come from an ephemeral pull consumer that starts at the state's
 * first needed stream sequence, so a restarted member replays the
 * retained messages and emits nothing before the restored position.
 * Findings are published to the --out-topic subject with a Nats-Msg-Id of
 * (finding id, content): the output stream's duplicate window drops what a
 * member killed between publishing and saving its state publishes again on
 * replay. Run one member per group: JetStream would hand a second member
 * of the same filter half the messages, which no correlation survives.
 * Poison messages are published to the --dlq-topic subject with headers.
 */
#include <inttypes.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "stream.h"

#define BUCKET "kensa-state"

typedef struct nctx {
    const stream_cfg *cfg;
    natsConnection *nc;
    jsCtx *js;
    kvStore *kv;
    FILE *json;
    bool failed;
} nctx;

static void nerr(const char *what, natsStatus s)
{
    fprintf(stderr, "kensa stream: nats: %s: %s\n", what, natsStatus_GetText(s));
}

static int emit_cb(void *ud, const stream_part *p, const char *key, const char *json, size_t n)
{
    nctx *c = ud;
    (void)p;
    if (c->cfg->out_topic) {
        jsPubOptions po;
        char msgid[80];
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < n; i++) {
            h ^= (unsigned char)json[i];
            h *= 0x100000001b3ull;
        }
        /* Same finding, same content, same id: the stream drops the copy. */
        snprintf(msgid, sizeof msgid, "%s-%016" PRIx64, key, h);
        jsPubOptions_Init(&po);
        po.MsgId = msgid;
        natsStatus s = js_Publish(NULL, c->js, c->cfg->out_topic, json,
                                  (int)(n && json[n - 1] == '\n' ? n - 1 : n), &po, NULL);
        if (s != NATS_OK) {
            nerr("publish finding", s);
            return -1;
        }
    }
    stream_emitted(c->cfg, c->json, json, n);
    return 0;
}

static int flush(nctx *c, stream_part *p, bool final_all)
{
    size_t n = 0;
    char *state;
    natsStatus s;
    if (p->restoring || (!p->fresh && !final_all))
        return 0;
    if (stream_part_flush(p, c->cfg, final_all, emit_cb, c) < 0)
        return -1;
    if (!(state = stream_part_save(p, &n)))
        return -1;
    s = kvStore_Put(NULL, c->kv, c->cfg->group, state, (int)n);
    free(state);
    if (s != NATS_OK) {
        nerr("save state", s);
        return -1;
    }
    __atomic_add_fetch(&stream_m.flushes, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&stream_m.state_msgs, p->n, __ATOMIC_RELAXED);
    __atomic_store_n(&stream_m.state_bytes, p->bytes, __ATOMIC_RELAXED);
    return 0;
}

static void dead_letter(nctx *c, natsMsg *m, uint64_t seq, const char *why)
{
    natsMsg *d = NULL;
    char sq[32];
    snprintf(sq, sizeof sq, "%" PRIu64, seq);
    fprintf(stderr, "kensa stream: warning: %s sequence %" PRIu64 ": %s: sent to %s\n",
            natsMsg_GetSubject(m), seq, why, c->cfg->dlq_topic);
    if (natsMsg_Create(&d, c->cfg->dlq_topic, NULL, natsMsg_GetData(m), natsMsg_GetDataLength(m)) ==
        NATS_OK) {
        natsMsgHeader_Set(d, "kensa-subject", natsMsg_GetSubject(m));
        natsMsgHeader_Set(d, "kensa-sequence", sq);
        natsMsgHeader_Set(d, "kensa-reason", why);
        natsConnection_PublishMsg(c->nc, d);
        natsMsg_Destroy(d);
    }
    __atomic_add_fetch(&stream_m.dead, 1, __ATOMIC_RELAXED);
}

/* The saved state of the group, if any. */
static void restore(nctx *c, stream_part *p)
{
    kvEntry *e = NULL;
    if (kvStore_Get(&e, c->kv, c->cfg->group) != NATS_OK || !e)
        return;
    if (stream_part_load(p, kvEntry_Value(e), (size_t)kvEntry_ValueLen(e)) != 0)
        fprintf(stderr, "kensa stream: %s: unreadable saved state ignored\n", c->cfg->group);
    kvEntry_Destroy(e);
}

int stream_nats_run(const stream_cfg *cfg)
{
    nctx c = {.cfg = cfg};
    natsSubscription *sub = NULL;
    jsSubOptions so;
    kvConfig kc;
    natsStatus s;
    stream_part *p = NULL;
    int status = KS_EXIT_ERRORS;
    long long last_change, last_flush;
    if (cfg->json_path && !(c.json = fopen(cfg->json_path, "a"))) {
        fprintf(stderr, "kensa stream: cannot open %s\n", cfg->json_path);
        return KS_EXIT_ERRORS;
    }
    stream_catch_signals();
    if ((s = natsConnection_ConnectTo(&c.nc, cfg->brokers)) != NATS_OK) {
        nerr(cfg->brokers, s);
        goto out;
    }
    if ((s = natsConnection_JetStream(&c.js, c.nc, NULL)) != NATS_OK) {
        nerr("JetStream", s);
        goto out;
    }
    if (js_KeyValue(&c.kv, c.js, BUCKET) != NATS_OK) {
        kvConfig_Init(&kc);
        kc.Bucket = BUCKET;
        kc.History = 1;
        if ((s = js_CreateKeyValue(&c.kv, c.js, &kc)) != NATS_OK) {
            nerr("state bucket " BUCKET, s);
            goto out;
        }
    }
    if (!(p = stream_part_new(cfg->topics, 0)))
        goto out;
    restore(&c, p);
    jsSubOptions_Init(&so);
    so.Config.AckPolicy = js_AckNone;
    /* The server drops an ephemeral pull consumer nobody fetched from for
     * its inactivity threshold (5 s by default); a flush that hunts a big
     * batch on a loaded machine takes longer than that, and the run would
     * then see no more messages and end idle with a backlog. */
    so.Config.InactiveThreshold = (int64_t)10 * 60 * 1000000000;
    if (p->restore_start > 0) {
        so.Config.DeliverPolicy = js_DeliverByStartSequence;
        so.Config.OptStartSeq = (uint64_t)p->restore_start;
    }
    if ((s = js_PullSubscribe(&sub, c.js, cfg->topics, NULL, NULL, &so, NULL)) != NATS_OK) {
        nerr(cfg->topics, s);
        goto out;
    }
    if (!cfg->quiet)
        fprintf(stderr, "kensa stream: consuming %s%s\n", cfg->topics,
                p->restoring ? " (state restored, replaying)" : "");
    __atomic_store_n(&stream_m.partitions, 1, __ATOMIC_RELAXED);
    last_change = last_flush = stream_now_ms();
    status = KS_EXIT_CLEAN;
    while (!stream_stop && !c.failed) {
        natsMsgList list = {0};
        s = natsSubscription_Fetch(&list, sub, 500, 500, NULL);
        if (s != NATS_OK && s != NATS_TIMEOUT) {
            /* The library reconnects by itself; keep asking, a little later. */
            nerr("fetch", s);
            nats_Sleep(500);
        }
        for (int i = 0; i < list.Count; i++) {
            natsMsg *m = list.Msgs[i];
            jsMsgMetaData *md = NULL;
            const char *why = NULL;
            if (natsMsg_GetMetaData(&md, m) != NATS_OK)
                continue;
            int64_t seq = (int64_t)md->Sequence.Stream;
            __atomic_add_fetch(&stream_m.messages, 1, __ATOMIC_RELAXED);
            if (p->restoring) {
                __atomic_add_fetch(&stream_m.replayed, 1, __ATOMIC_RELAXED);
                if (seq + 1 >= p->restore_next)
                    p->restoring = false;
            }
            if (stream_poison(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), cfg->max_message, &why)) {
                if (seq + 1 > p->restore_next)
                    dead_letter(&c, m, (uint64_t)seq, why);
                if (seq >= p->next)
                    p->next = seq + 1;
            } else {
                stream_part_add(p, seq, md->Timestamp, natsMsg_GetData(m),
                                (size_t)natsMsg_GetDataLength(m), cfg);
            }
            __atomic_store_n(&stream_m.lag, (int64_t)md->NumPending, __ATOMIC_RELAXED);
            jsMsgMetaData_Destroy(md);
            last_change = stream_now_ms();
        }
        natsMsgList_Destroy(&list);
        /* Idle time is measured before the flush: a flush that takes
         * longer than idle_exit (a loaded machine, a big batch) is work,
         * not idleness, and must not end the run with messages pending. */
        long long now = stream_now_ms();
        if (p->fresh >= cfg->batch || now - last_flush >= cfg->flush_ms) {
            if (flush(&c, p, false) != 0)
                c.failed = true;
            last_flush = stream_now_ms();
            stream_progress(cfg, false);
        }
        if (cfg->idle_exit_ms && now - last_change >= cfg->idle_exit_ms && !p->restoring)
            break;
    }
    if (!c.failed && flush(&c, p, !stream_stop) != 0)
        c.failed = true;
    stream_progress(cfg, true);
    if (c.failed)
        status = KS_EXIT_ERRORS;
out:
    natsSubscription_Destroy(sub);
    stream_part_free(p);
    if (c.kv)
        kvStore_Destroy(c.kv);
    jsCtx_Destroy(c.js);
    natsConnection_Destroy(c.nc);
    if (c.json)
        fclose(c.json);
    if (stream_m.findings)
        status |= KS_EXIT_FINDINGS;
    return status;
}
