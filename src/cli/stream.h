/* SPDX-License-Identifier: Apache-2.0
 *
 * `kensa stream`: hunting event streams as a consumer-group member
 * (docs/STREAM.md). The command is a program on top of the public engine
 * API, like the rest of src/cli:
 *
 *   transport (Kafka; NATS JetStream)  -- messages, partitions, commits
 *     stream_core                      -- per-partition state: the messages
 *                                         still inside the retention window,
 *                                         the findings already emitted
 *       ks_engine over the state       -- every detector, correlations and
 *                                         identity analytics included
 *
 * State that survives: a partition's state is (state_start, next offset,
 * watermark, ids of emitted findings). It is written to a changelog (a
 * Kafka topic keyed by "topic/partition") in the same transaction as the
 * findings and the consumer offsets; the committed consumer offset is
 * state_start, so the next owner of a partition (after a rebalance or a
 * kill -9) replays the retained messages to rebuild the detectors' state
 * and the emitted ids keep it from reporting a finding twice.
 *
 * Findings are emitted when final: their last event is more than `window`
 * older than the newest event any finding of the partition reached, or the
 * stream went idle and --idle-exit ends the run. Each carries a
 * deterministic id (rule, first time, first event's offset): an update of a
 * growing finding keeps its id, a replay reproduces it.
 */
#ifndef KS_CLI_STREAM_H
#define KS_CLI_STREAM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "kensa/kensa.h"

typedef struct stream_cfg {
    const char *transport;      /* "kafka" or "nats" */
    const char *brokers;        /* bootstrap servers / NATS URL */
    const char *topics;         /* comma-separated */
    const char *group;          /* consumer group / durable name */
    const char *out_topic;      /* findings topic, NULL = none */
    const char *state_topic;    /* changelog, default GROUP.kensa-state */
    const char *dlq_topic;      /* poison messages, default GROUP.kensa-dlq */
    const char *instance;       /* stable instance name (transactional id) */
    const char *json_path;      /* also write findings as JSON lines here */
    const char *metrics;        /* ADDR:PORT for Prometheus text, NULL = off */
    int64_t window_ns;          /* finality horizon */
    int64_t retain_ns;          /* messages kept for correlations */
    size_t batch;               /* flush a partition after this many new messages */
    int flush_ms;               /* ... or after this long */
    int idle_exit_ms;           /* exit after this long without messages; 0 = never */
    int session_ms;             /* group session timeout */
    size_t max_state_bytes;     /* per partition; oldest messages dropped past it */
    size_t max_message;         /* larger messages go to the dead-letter topic */
    const char **eng;           /* engine options: key, value pairs */
    size_t neng;
    bool quiet;
} stream_cfg;

/* One buffered message. */
typedef struct stream_rec {
    int64_t offset;
    int64_t ts_ns;              /* message timestamp (producer's event time) */
    char *data;                 /* owned, newline-free */
    size_t len;
} stream_rec;

/* An emitted finding: id, content version, last event time. */
typedef struct stream_emit {
    uint64_t id[2];
    uint64_t ver;
    int64_t last_ns;
} stream_emit;

typedef struct stream_part {
    char *topic;                /* owned */
    int32_t partition;
    stream_rec *recs;           /* messages from state_start on, in offset order */
    size_t n, cap;
    size_t bytes;
    int64_t next;               /* offset after the last message seen */
    int64_t wm;                 /* newest message time, ns (retention) */
    int64_t event_wm;           /* newest event time a finding reached (finality) */
    size_t fresh;               /* messages since the last flush */
    stream_emit *emitted;       /* findings already out */
    size_t nemitted, capemitted;
    bool restoring;             /* replaying messages before `next` */
    int64_t restore_next;       /* next offset of the restored state */
    int64_t restore_start;      /* its first needed offset (-1: none) */
} stream_part;

/* Where a flush sends a finding: key (finding id, 32 hex) and JSON line. */
typedef int (*stream_emit_fn)(void *ud, const stream_part *p, const char *key, const char *json,
                              size_t n);

/* stream_core.c */
stream_part *stream_part_new(const char *topic, int32_t partition);
void stream_part_free(stream_part *p);
/* Appends a message (copied; newlines made spaces). */
int stream_part_add(stream_part *p, int64_t offset, int64_t ts_ns, const void *data, size_t n,
                    const stream_cfg *cfg);
/* Runs the engine over the partition's state and emits the findings that
 * are final (all of them with final_all) and not emitted before; then
 * drops messages and ids older than the retention. Returns findings
 * emitted, or -1 after printing why. */
long stream_part_flush(stream_part *p, const stream_cfg *cfg, bool final_all, stream_emit_fn fn,
                       void *ud);
/* A message kensa cannot hunt (empty, not JSON, over max): true with the
 * reason; it goes to the dead-letter topic/subject. */
bool stream_poison(const void *data, size_t n, size_t max, const char **why);
/* The first offset the partition still needs (commit this). */
int64_t stream_part_start(const stream_part *p);
/* State as text for the changelog (malloc'd) and back. */
char *stream_part_save(const stream_part *p, size_t *n);
int stream_part_load(stream_part *p, const char *s, size_t n);

/* After a transport published a finding: the --json copy (stdout when
 * there is neither an output topic nor a copy) and the count. */
void stream_emitted(const stream_cfg *cfg, FILE *copy, const char *json, size_t n);

/* SIGINT/SIGTERM set stream_stop: the transports flush what is final,
 * commit and leave (the next owner goes on). */
extern volatile sig_atomic_t stream_stop;
void stream_catch_signals(void);
long long stream_now_ms(void);  /* monotonic */

/* stream_kafka.c / stream_nats.c: run until idle-exit or a signal. Exit
 * status as docs/EXIT-STATUS.md. */
int stream_kafka_run(const stream_cfg *cfg);
int stream_nats_run(const stream_cfg *cfg);

/* Counters for the progress line and the metrics endpoint (atomics). */
typedef struct stream_metrics {
    uint64_t messages, findings, dead, flushes, replayed;
    uint64_t state_msgs, state_bytes, partitions;
    int64_t lag;
} stream_metrics;
extern stream_metrics stream_m;
int stream_metrics_start(const char *addr);
void stream_metrics_stop(void);
void stream_progress(const stream_cfg *cfg, bool force);

#endif
