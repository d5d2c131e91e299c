/* SPDX-License-Identifier: Apache-2.0
 *
 * Findings: what kensa reports. A finding is something a person can act on:
 * which rule fired, how bad it is, which ATT&CK techniques it evidences, when
 * it happened (first..last event time), exactly where in the evidence (file,
 * record/line, byte offset) and which values matched.
 *
 * Ownership: a ks_finding handed to a callback or output is owned by the
 * engine and valid until ks_engine_free(). Detectors build findings on the
 * stack with borrowed pointers; the engine deep-copies on emit.
 */
#ifndef KENSA_FINDING_H
#define KENSA_FINDING_H

#include "kensa/event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ks_severity {
    KS_SEV_INFO = 0,
    KS_SEV_LOW,
    KS_SEV_MEDIUM,
    KS_SEV_HIGH,
    KS_SEV_CRITICAL
} ks_severity;

KS_API const char *ks_severity_name(ks_severity s); /* "info".."critical" */
/* Parses Sigma levels too ("informational"); -1 when unknown. */
KS_API int ks_severity_parse(const char *s);

/* One piece of evidence: a record in a file, with the context a responder
 * needs from the record itself (the field schema's canonical fields: NULL
 * when the record has none). */
typedef struct ks_evidence {
    const char *path;
    const char *format;
    uint64_t record;   /* 0 = none */
    uint64_t line;     /* 0 = none */
    uint64_t offset;   /* UINT64_MAX = none */
    int64_t time;      /* KS_TIME_NONE if unknown */
    const char *host;        /* host.name: the machine that logged it */
    const char *channel;     /* log.channel: Security, SignInLogs, ... */
    const char *event_id;    /* event.code: Windows EventID */
    const char *record_id;   /* event.record_id: EventRecordID, audit record id */
    const char *user;        /* user.name: the acting user */
    const char *target_user; /* user.target.name: the account acted on */
    const char *source;      /* source.ip: where it came from */
} ks_evidence;

/* A name/value pair: a matched field, or a free-form detail. */
typedef struct ks_kv {
    const char *key;
    const char *value;
} ks_kv;

/* A value a finding counts, by hash (the secrets / personal-data detector):
 * an owner checks their own values against `sha256` without anyone
 * printing them. `clear` is NULL unless the user asked for values in clear
 * (--reveal). */
typedef struct ks_fvalue {
    const char *type;        /* "pii.email", "pii.card", "aws.secret_access_key" */
    const char *sha256;      /* hex SHA-256 of the normalised value */
    const char *redacted;    /* first/last characters only */
    const char *clear;       /* NULL unless --reveal */
    uint64_t count;          /* occurrences behind the finding */
} ks_fvalue;

typedef struct ks_finding {
    const char *rule_id;     /* stable id: "kensa.identity.spray", a Sigma uuid */
    const char *title;       /* one line */
    const char *detector;    /* detector that produced it ("sigma", "yara") */
    const char *description; /* optional; what it means and what to do */
    ks_severity severity;
    const char *const *techniques; /* ATT&CK ids ("T1110.003"), ntechniques */
    size_t ntechniques;
    int64_t first;           /* earliest event time, KS_TIME_NONE if none */
    int64_t last;            /* latest event time */
    const ks_evidence *evidence; /* examples, nevidence (capped) */
    size_t nevidence;
    uint64_t event_count;    /* events behind the finding (>= nevidence) */
    const ks_kv *matched;    /* matched fields and values */
    size_t nmatched;
    const ks_kv *details;    /* free-form: accounts, sources, counts, ... */
    size_t ndetails;
    uint64_t seq;            /* emission order, set by the engine */
    const ks_fvalue *values; /* values counted by hash, nvalues (may be NULL) */
    size_t nvalues;
} ks_finding;

/* f as one JSON line (schema kensa.finding/1, docs/OUTPUT.md, ending in
 * a newline) in a malloc'd string: *out (the caller frees it) and its
 * length *n. For programs that route findings themselves (kensa stream
 * writes them to a Kafka topic). KS_ENOMEM. */
KS_API int ks_finding_to_json(const ks_finding *f, char **out, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
