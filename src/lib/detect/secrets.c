/* SPDX-License-Identifier: Apache-2.0
 *
 * The secrets / personal-data file detector: what leaked.
 *
 * Every walked file's text (through the content extractors when the file
 * is a mailbox, a document, an archive or a repository; the raw bytes of a
 * text file otherwise) goes through the text scanner (textscan.h), and:
 *
 *  - each distinct secret becomes ONE finding with all its locations, keyed
 *    by the SHA-256 of its exact bytes (`secret_sha256`): the same AWS key
 *    mailed ten times and committed once is one finding with eleven
 *    locations, wherever the threads found it. The store is shared by the
 *    workers under a lock (matches are rare, the lock is cheap) and bounded
 *    (secrets.max_distinct); findings are emitted in finish();
 *  - personal data is counted and typed per message (mail) or per file,
 *    one finding each, carrying every distinct value by the SHA-256 of its
 *    normalised form (`values[].value_sha256`) with its count.
 *
 * Nothing here prints a clear value: findings carry a redacted form (first
 * and last characters), the hash, type, validation verdict and decoded
 * facts. Only secrets.reveal (the --reveal flag) adds the clear value.
 *
 * Provenance of each location: the container chain ("inbox.mbox!<id>!
 * report.zip!keys.txt", ks__xnode_path), the byte offset in the decoded
 * text, and the message (Message-ID, date, from, to, subject, folder) or
 * git blob (commit, author, path) around it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "input/json.h"
#include "input/weblog.h"
#include "detect/fileinfo.h"
#include "detect/pii_tally.h"
#include "detect/secrets_verify.h"
#include "detect/textscan.h"
#include "extract/extract.h"

#define MAX_LOCS 64             /* locations kept per secret (all are counted) */
#define MAX_MSG_IDS 32          /* Message-IDs listed per secret */
#define DEFAULT_MAX_DISTINCT 100000

static const char *const secret_techniques[] = {"T1552.001"};

/* ---- the secret store ------------------------------------------------------- */

typedef struct sec_loc {
    char *where;             /* path or container chain; owned */
    uint64_t offset;         /* in the decoded text of the innermost blob */
    int64_t time;            /* message date / commit time, KS_TIME_NONE */
} sec_loc;

typedef struct sec_rec {
    uint8_t sha[32];
    const char *type;        /* borrowed from the scanner (lives as long) */
    const char *rule_id;
    const char *rule_name;
    ks_severity sev;
    ks_tvalid valid;
    int confidence;
    char redacted[64];
    size_t length;           /* bytes of the secret */
    char *clear;             /* only with secrets.reveal; owned */
    /* --verify only: the clear value and its pair (an AWS secret's key
     * id), kept until checked, then wiped; the online verdict */
    char *vclear, *vpair;
    ks_vverdict vv;
    char vinfo[160];         /* ARN, login, team; or why it failed */
    ks_kv *details;          /* decoded facts + first location's provenance; owned */
    size_t ndetails;
    size_t nfacts;           /* details[0..nfacts) are the decoded facts */
    sec_loc locs[MAX_LOCS];
    size_t nlocs;
    uint64_t count;          /* every occurrence */
    uint64_t nsample;        /* occurrences under an example or test directory */
    char *msg_ids[MAX_MSG_IDS]; /* distinct Message-IDs; owned */
    size_t nmsg;
    int64_t first, last;
} sec_rec;

typedef struct sec_det {
    ks_engine *e;
    ks_textscan *ts;
    ks_sverify *verify;      /* NULL unless --verify */
    bool reveal;
    bool pii;                /* personal data wanted at all */
    bool pii_in_logs;        /* also in files an event input claims */
    uint64_t max_distinct;
    pthread_mutex_t lock;    /* guards the store below */
    ks_map *index;           /* sha256 -> rec index + 1 */
    sec_rec **recs;
    size_t nrecs, caprecs;
    uint64_t dropped;        /* distinct secrets over the cap */
} sec_det;

/* ---- per-worker ---------------------------------------------------------------- */

typedef struct pii_group {
    bool open;
    char *where;             /* path / chain of the message or file; owned */
    char *msg_id;            /* owned, may be NULL */
    ks_kv prov[8];           /* message provenance (owned values) */
    size_t nprov;
    int64_t time;
    ks_pii_tally t;          /* counts by type, distinct values */
    uint64_t offset;         /* of the first value */
    unsigned part;           /* 0: the unit's only finding; else its part number */
    bool continued;          /* a next part follows (this one is full) */
} pii_group;

/* Short texts that gave no match, by hash (direct-mapped): the strings of
 * a binary blob repeat (an EVTX log's user, domain, package and host
 * names in every record), and what the scanner finds in a text depends
 * only on its bytes and the classes asked for, so a text that found
 * nothing finds nothing again. Holds no match, so no secret. */
#define QUIET_SLOTS 2048 /* power of two */
#define QUIET_MAX 64     /* longer texts are scanned each time */
typedef struct quiet_text {
    uint64_t h;
    unsigned tag;            /* 1 << 16 | the classes scanned for; 0 = empty */
    uint32_t n;
    char s[QUIET_MAX];
} quiet_text;

typedef struct sec_ws {
    sec_det *d;
    quiet_text *quiet;       /* QUIET_SLOTS, NULL: no room (every text scanned) */
    uint64_t delivered;      /* matches given to on_match */
    ks_textscratch *scratch;
    const ks_file *f;
    unsigned classes;        /* what this file is scanned for */
    bool code;               /* the current text is program source (KS_TC_CODE) */
    const char *where;       /* location text of the unit being scanned */
    uint64_t base;           /* offset of the unit in its blob */
    int64_t time;
    const char *msg_id;
    ks_buf chain;            /* ks__xnode_path of node */
    ks_kv prov[10];          /* provenance of the unit (borrowed from the node) */
    size_t nprov;
    pii_group g;             /* the open personal-data group */
} sec_ws;

/* ---- store ------------------------------------------------------------------------ */

static void wipe(char **p)
{
    if (*p)
        explicit_bzero(*p, strlen(*p));
    free(*p);
    *p = NULL;
}

static void rec_free(sec_rec *r)
{
    if (!r)
        return;
    wipe(&r->vclear);
    wipe(&r->vpair);
    for (size_t i = 0; i < r->nlocs; i++)
        free(r->locs[i].where);
    for (size_t i = 0; i < r->ndetails; i++)
        free((char *)r->details[i].value);
    for (size_t i = 0; i < r->nmsg; i++)
        free(r->msg_ids[i]);
    free(r->details);
    free(r->clear);
    free(r);
}

static void hex32(const uint8_t *p, char out[65])
{
    ks__hex(p, 32, out);
}

/* Copies the match's facts into a new record; keys are static strings
 * (validators' and ours), values are copied. */
static sec_rec *rec_new(const sec_det *d, const sec_ws *ws, const ks_tmatch *m)
{
    sec_rec *r = calloc(1, sizeof *r);
    size_t nd = m->ndetails + ws->nprov;
    if (!r)
        return NULL;
    memcpy(r->sha, m->sha256, 32);
    r->type = m->type;
    r->rule_id = m->rule_id;
    r->rule_name = m->rule_name;
    r->sev = m->severity;
    r->valid = m->valid;
    r->confidence = m->confidence;
    memcpy(r->redacted, m->redacted, sizeof r->redacted);
    r->length = m->nvalue;
    r->first = r->last = KS_TIME_NONE;
    /* revealed: the value secret_sha256 is of (a URL's percent-encoded
     * password decoded), so an owner can check one against the other */
    if (d->reveal && !(r->clear = strndup(m->norm, m->nnorm)))
        goto fail;
    if (d->verify && ks__sverify_supports(m->type) &&
        !(r->vclear = strndup(m->value, m->nvalue)))
        goto fail;
    /* decoded facts, then where it was first seen (message, git blob) */
    if (nd) {
        if (!(r->details = calloc(nd, sizeof *r->details)))
            goto fail;
        for (size_t i = 0; i < nd; i++) {
            const ks_kv *kv = i < m->ndetails ? &m->details[i] : &ws->prov[i - m->ndetails];
            r->details[i].key = kv->key;
            if (!(r->details[i].value = strdup(kv->value)))
                goto fail;
            r->ndetails++;
        }
    }
    r->nfacts = m->ndetails;
    return r;
fail:
    rec_free(r);
    return NULL;
}

/* True when a directory of the path or container chain is named for
 * examples or tests ("doc/x/examples/rsakey.pem", "repo!tests/keys.py"):
 * keys there are most often made for the example. Such a secret is still
 * reported, with lower confidence and the place said. */
static bool sample_path(const char *where)
{
    static const char *const dirs[] = {"example", "examples", "sample", "samples", "test",
                                       "tests", "testdata", "testing", "fixtures", "demo"};
    const char *p = where;
    while (*p) {
        size_t n = strcspn(p, "/!");
        if (p[n]) /* a directory, not the file's own name */
            for (size_t i = 0; i < KS_ARRAY_LEN(dirs); i++)
                if (ks__ieq(p, n, dirs[i], strlen(dirs[i])))
                    return true;
        p += n + (p[n] != 0);
    }
    return false;
}


/* Locations in (path, offset) order: what a finding lists does not depend
 * on which thread read which file first. */
static int loc_cmp(const sec_loc *a, const sec_loc *b)
{
    int c = strcmp(a->where, b->where);
    return c ? c : (a->offset > b->offset) - (a->offset < b->offset);
}

static int loc_qcmp(const void *a, const void *b)
{
    return loc_cmp(a, b);
}

static int str_qcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}
/* The provenance shown (message, subject, git commit...) is the first
 * location's in (path, offset) order, as the list is. */
static void rec_set_prov(sec_rec *r, const sec_ws *ws)
{
    ks_kv *nd = calloc(r->nfacts + ws->nprov ? r->nfacts + ws->nprov : 1, sizeof *nd);
    size_t n = 0;
    if (!nd)
        return; /* keeps the provenance it had */
    for (; n < r->nfacts; n++)
        nd[n] = r->details[n];
    for (size_t i = 0; i < ws->nprov; i++) {
        nd[n].key = ws->prov[i].key;
        if ((nd[n].value = strdup(ws->prov[i].value)))
            n++;
    }
    for (size_t i = r->nfacts; i < r->ndetails; i++)
        free((char *)r->details[i].value);
    free(r->details);
    r->details = nd;
    r->ndetails = n;
}

static void rec_add_loc(sec_rec *r, const sec_ws *ws, uint64_t offset)
{
    r->count++;
    r->nsample += sample_path(ws->where);
    if (ws->time != KS_TIME_NONE) {
        if (r->first == KS_TIME_NONE || ws->time < r->first)
            r->first = ws->time;
        if (r->last == KS_TIME_NONE || ws->time > r->last)
            r->last = ws->time;
    }
    if (ws->msg_id) {
        /* the MAX_MSG_IDS smallest distinct ids (they are listed sorted):
         * the same ones whichever thread read which message first */
        size_t max = 0;
        bool seen = false;
        for (size_t i = 0; i < r->nmsg && !seen; i++) {
            seen = !strcmp(r->msg_ids[i], ws->msg_id);
            if (strcmp(r->msg_ids[i], r->msg_ids[max]) > 0)
                max = i;
        }
        char *dup = NULL;
        if (!seen && (r->nmsg < MAX_MSG_IDS || strcmp(ws->msg_id, r->msg_ids[max]) < 0) &&
            (dup = strdup(ws->msg_id))) {
            if (r->nmsg < MAX_MSG_IDS) {
                r->msg_ids[r->nmsg++] = dup;
            } else {
                free(r->msg_ids[max]);
                r->msg_ids[max] = dup;
            }
        }
    }
    /* every occurrence is a location; the MAX_LOCS first in (path, offset)
     * order are listed, whichever thread found them first, so that a run
     * with more threads lists the same ones */
    /* the new location as a key for loc_cmp (its path is only compared) */
    const sec_loc key = {.where = (char *)ws->where, .offset = offset};
    size_t worst = 0;
    bool first = true; /* before every listed location */
    for (size_t i = 0; i < r->nlocs; i++) {
        int c = loc_cmp(&r->locs[i], &key);
        if (c == 0)
            return;
        first &= c > 0;
        if (i && loc_cmp(&r->locs[i], &r->locs[worst]) > 0)
            worst = i;
    }
    if (first && r->nlocs)
        rec_set_prov(r, ws);
    size_t at = r->nlocs;
    if (at == MAX_LOCS) {
        if (loc_cmp(&key, &r->locs[worst]) >= 0)
            return;
        at = worst;
    }
    char *where = strdup(ws->where);
    if (!where)
        return;
    if (at < r->nlocs)
        free(r->locs[at].where);
    else
        r->nlocs++;
    r->locs[at] = (sec_loc){.where = where, .offset = offset, .time = ws->time};
}

static void store_secret(sec_ws *ws, const ks_tmatch *m)
{
    sec_det *d = ws->d;
    pthread_mutex_lock(&d->lock);
    uint64_t *slot = ks__map_get(d->index, m->sha256, 32);
    sec_rec *r = NULL;
    if (slot) {
        r = d->recs[*slot - 1];
        /* a stronger reading of the same bytes (a checksum verified by
         * another rule) wins the type */
        if (m->valid == KS_TV_VALID && r->valid == KS_TV_UNCHECKED) {
            r->type = m->type;
            r->rule_id = m->rule_id;
            r->rule_name = m->rule_name;
            r->valid = m->valid;
        }
    } else if (d->nrecs >= d->max_distinct) {
        d->dropped++;
    } else if ((r = rec_new(d, ws, m)) != NULL) {
        if (ks__grow(&d->recs, &d->caprecs, d->nrecs, sizeof *d->recs, 256) != KS_OK ||
            !(slot = ks__map_slot(d->index, m->sha256, 32, true))) {
            rec_free(r);
            r = NULL;
            d->dropped++;
        } else {
            d->recs[d->nrecs++] = r;
            *slot = d->nrecs;
        }
    }
    if (r && d->verify && ks__sverify_supports(r->type)) {
        /* a later occurrence may be the one next to its key id */
        if (!r->vclear)
            r->vclear = strndup(m->value, m->nvalue);
        if (!r->vpair && m->pair)
            r->vpair = strndup(m->pair, m->npair);
    }
    if (r)
        rec_add_loc(r, ws, m->offset + ws->base);
    pthread_mutex_unlock(&d->lock);
}

/* The validation field: the online verdict when there is one. */
static const char *verdict_name(const sec_rec *r)
{
    switch (r->vv) {
    case KS_VV_LIVE: return "verified-live";
    case KS_VV_REJECTED: return "rejected-online";
    case KS_VV_CANARY: return "canary";
    default: return NULL;
    }
}

static const char *valid_name(ks_tvalid v)
{
    switch (v) {
    case KS_TV_VALID: return "valid";
    case KS_TV_EXAMPLE: return "example";
    case KS_TV_VERIFIED_LIVE: return "verified-live";
    default: return "unchecked";
    }
}

static void emit_secret(sec_det *d, sec_rec *r)
{
    qsort(r->locs, r->nlocs, sizeof *r->locs, loc_qcmp);
    qsort(r->msg_ids, r->nmsg, sizeof *r->msg_ids, str_qcmp);
    ks_kv det[40];
    ks_evidence ev[MAX_LOCS];
    char hex[65], conf[16], cnt[24], nloc[24], len[24], title[256];
    ks_buf msgs = KS_BUF_INIT;
    size_t nd = 0;
    hex32(r->sha, hex);
    bool sample = r->count && r->nsample == r->count;
    snprintf(conf, sizeof conf, "%d", sample ? KS_MAX(0, r->confidence - 20) : r->confidence);
    snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)r->count);
    snprintf(nloc, sizeof nloc, "%zu", r->nlocs);
    det[nd++] = (ks_kv){"secret_sha256", hex};
    det[nd++] = (ks_kv){"secret_type", r->type};
    det[nd++] = (ks_kv){"redacted", r->redacted};
    snprintf(len, sizeof len, "%zu", r->length);
    det[nd++] = (ks_kv){"length", len};
    const char *online = verdict_name(r);
    det[nd++] = (ks_kv){"validation", online ? online : valid_name(r->valid)};
    if (online)
        det[nd++] = (ks_kv){"offline_validation", valid_name(r->valid)};
    if (r->vv == KS_VV_ERROR)
        det[nd++] = (ks_kv){"verification", "no answer"};
    if (r->vinfo[0])
        det[nd++] = (ks_kv){"verification_info", r->vinfo};
    det[nd++] = (ks_kv){"confidence", conf};
    if (sample)
        det[nd++] = (ks_kv){"location_kind", "example or test files only"};
    det[nd++] = (ks_kv){"occurrences", cnt};
    det[nd++] = (ks_kv){"locations", nloc};
    for (size_t i = 0; i < r->nmsg; i++) {
        ks__buf_adds(&msgs, i ? ", " : "");
        ks__buf_adds(&msgs, r->msg_ids[i]);
    }
    if (msgs.n)
        det[nd++] = (ks_kv){"message_ids", msgs.p};
    for (size_t i = 0; i < r->ndetails && nd < KS_ARRAY_LEN(det) - 1; i++)
        det[nd++] = r->details[i];
    if (r->clear)
        det[nd++] = (ks_kv){"secret", r->clear};
    for (size_t i = 0; i < r->nlocs; i++)
        ev[i] = (ks_evidence){.path = r->locs[i].where, .format = "text",
                              .offset = r->locs[i].offset, .time = r->locs[i].time};
    snprintf(title, sizeof title, "%s%s (%s, %zu location%s)", r->rule_name,
             r->valid == KS_TV_EXAMPLE ? " - documented example, not a live credential" : "",
             r->redacted, r->nlocs, r->nlocs == 1 ? "" : "s");
    ks_fvalue val = {.type = r->type, .sha256 = hex, .redacted = r->redacted, .clear = r->clear,
                     .count = r->count};
    ks_finding f = {
        .rule_id = r->rule_id,
        .title = title,
        .detector = "secrets",
        .description = "A credential in the evidence: whoever read this text could use it. "
                       "Rotate it, then look for its use (secret_sha256 matches your inventory "
                       "without printing it).",
        .severity = r->vv == KS_VV_LIVE                               ? KS_SEV_CRITICAL
                    : r->vv == KS_VV_REJECTED || r->vv == KS_VV_CANARY ? KS_SEV_LOW
                                                                     : r->sev,
        .techniques = secret_techniques,
        .ntechniques = KS_ARRAY_LEN(secret_techniques),
        .first = r->first,
        .last = r->last,
        .evidence = ev,
        .nevidence = r->nlocs,
        .event_count = r->count,
        .details = det,
        .ndetails = nd,
        .values = &val,
        .nvalues = 1,
    };
    ks__emit(d->e, &f);
    ks__buf_release(&msgs);
}

/* ---- personal data ------------------------------------------------------------------ */

static void group_reset(pii_group *g)
{
    free(g->where);
    free(g->msg_id);
    for (size_t i = 0; i < g->nprov; i++)
        free((char *)g->prov[i].value);
    ks__pii_tally_release(&g->t);
    memset(g, 0, sizeof *g);
}

static void group_emit(sec_ws *ws)
{
    pii_group *g = &ws->g;
    sec_det *d = ws->d;
    if (!g->open || !g->t.nv) {
        group_reset(g);
        return;
    }
    ks_kv det[KS_PII_MAX_TYPES + 18];
    char counts[KS_PII_MAX_TYPES][24], total[24], title[256], distinct[24];
    ks_fvalue *vals = calloc(g->t.nv, sizeof *vals);
    char (*hex)[65] = calloc(g->t.nv, sizeof *hex);
    size_t nd = 0, to = 0;
    uint64_t sum = 0;
    ks_buf tb = KS_BUF_INIT;
    if (!vals || !hex)
        goto out;
    nd = ks__pii_tally_counts(&g->t, counts, det, &sum);
    for (size_t i = 0; i < g->t.ntypes; i++)
        ks__buf_printf(&tb, "%s%llu %s", i ? ", " : "", (unsigned long long)g->t.counts[i],
                       g->t.types[i] + (strncmp(g->t.types[i], "pii.", 4) ? 0 : 4));
    snprintf(total, sizeof total, "%llu", (unsigned long long)sum);
    snprintf(distinct, sizeof distinct, "%zu", g->t.nv);
    det[nd++] = (ks_kv){"total", total};
    det[nd++] = (ks_kv){"distinct_values", distinct};
    if (g->t.dropped)
        det[nd++] = (ks_kv){"values_not_listed", "more distinct values than listed"};
    for (size_t i = 0; i < g->nprov; i++)
        det[nd++] = g->prov[i];
    ks__pii_tally_values(&g->t, vals, hex);
    char part[48] = "", partno[16];
    if (g->part) {
        snprintf(part, sizeof part, " (part %u%s)", g->part, g->continued ? ", continued" : "");
        snprintf(partno, sizeof partno, "%u", g->part);
        det[nd++] = (ks_kv){"part", partno};
        if (g->continued)
            det[nd++] = (ks_kv){"continued", "in the next part"};
    }
    to = (size_t)snprintf(title, sizeof title, "Personal data in %s%s: %s", g->msg_id ? "message" : "file",
                          part, tb.p ? tb.p : "");
    (void)to;
    ks_evidence ev = {.path = g->where, .format = "text", .offset = g->offset, .time = g->time};
    ks_finding f = {
        .rule_id = "kensa.pii.personal_data",
        .title = title,
        .detector = "secrets",
        .description = "Personal data in the evidence, counted by type; each value is listed by "
                       "the SHA-256 of its normalised form (card/IBAN without spaces, e-mail "
                       "lower-cased, phone E.164) so its owner can check it.",
        .severity = g->t.sev,
        .first = g->time,
        .last = g->time,
        .evidence = &ev,
        .nevidence = 1,
        .event_count = sum,
        .details = det,
        .ndetails = nd,
        .values = vals,
        .nvalues = g->t.nv,
    };
    ks__emit(d->e, &f);
out:
    ks__buf_release(&tb);
    free(vals);
    free(hex);
    group_reset(g);
}

/* Opens the group for the current unit (a new message flushes the last). */
static int group_open(sec_ws *ws)
{
    const ks_kv *prov = ws->prov;
    size_t nprov = ws->nprov;
    pii_group *g = &ws->g;
    bool same = g->open && ((!g->msg_id && !ws->msg_id) ||
                            (g->msg_id && ws->msg_id && !strcmp(g->msg_id, ws->msg_id)));
    if (same)
        return KS_OK;
    group_emit(ws);
    g->open = true;
    g->time = ws->time;
    g->t.sev = KS_SEV_INFO;
    if (!(g->where = strdup(ws->where)) ||
        (ws->msg_id && !(g->msg_id = strdup(ws->msg_id))))
        return KS_ENOMEM;
    for (size_t i = 0; i < nprov && g->nprov < KS_ARRAY_LEN(g->prov); i++) {
        char *v = strdup(prov[i].value);
        if (!v)
            return KS_ENOMEM;
        g->prov[g->nprov++] = (ks_kv){prov[i].key, v};
    }
    return KS_OK;
}

static void store_pii(sec_ws *ws, const ks_tmatch *m)
{
    pii_group *g = &ws->g;
    /* Documented example values (test card numbers) are counted like the
     * others: the format is what exposes the data, and an owner's check by
     * hash is cheap either way. */
    if (!g->open)
        return;
    if (g->t.nv >= KS_PII_MAX_VALUES) {
        /* a full finding: the unit goes on in a next one, so that every
         * value counted is listed by its digest (a customer table of 500k
         * rows gives 500+ findings, each locating where its part starts) */
        unsigned next = (g->part ? g->part : 1) + 1;
        g->part = next - 1;
        g->continued = true;
        group_emit(ws);
        if (group_open(ws) != KS_OK)
            return;
        g->part = next;
    }
    bool first = !g->t.nv;
    if (ks__pii_tally_add(&g->t, m, ws->d->reveal) && first)
        g->offset = m->offset + ws->base;
}

static int on_match(void *ud, const ks_tmatch *m)
{
    sec_ws *ws = ud;
    ws->delivered++;
    if (m->cls == KS_TC_SECRET)
        store_secret(ws, m);
    else
        store_pii(ws, m);
    return 0;
}

/* ---- scanning a file ---------------------------------------------------------------- */

static void scan_text(sec_ws *ws, const char *p, size_t n)
{
    unsigned classes = ws->classes | (ws->code ? KS_TC_CODE : 0);
    /* personal data opens a group per text (group_open): only secrets */
    quiet_text *q = NULL;
    uint64_t h = 0, before = ws->delivered;
    if (ws->quiet && n && n <= QUIET_MAX && !(classes & KS_TC_PII)) {
        h = ks__hash(p, n);
        q = &ws->quiet[h & (QUIET_SLOTS - 1)];
        if (q->tag == (classes | 1u << 16) && q->h == h && q->n == n && memcmp(q->s, p, n) == 0)
            return;
    }
    int rc = ks__textscan_run(ws->d->ts, ws->scratch, classes, p, n, on_match, ws);
    if (q && rc == KS_OK && ws->delivered == before) {
        q->tag = classes | 1u << 16;
        q->h = h;
        q->n = (uint32_t)n;
        memcpy(q->s, p, n);
    }
    if (rc == KS_ELIMIT) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = ws->f->path;
        ks__diag(ws->d->e, KS_DIAG_WARN, KS_ELIMIT, "secrets", &loc,
                 "%s: more matches than the scanner keeps per text; the rest were not read",
                 ws->where);
    }
}

/* Where a unit of text came from, as details: the container chain, the
 * message around it, the git blob's first commit. Borrowed from the node
 * (valid during the callback; the stores copy what they keep). */
static void set_provenance(sec_ws *ws, const ks_xnode *node)
{
    const ks_xmail *m = NULL;
    const ks_xgit *g = NULL;
    for (const ks_xnode *n = node; n && (!m || !g); n = n->parent) {
        if (!m)
            m = n->mail;
        if (!g)
            g = n->git;
    }
    ks__buf_reset(&ws->chain);
    if (ks__xnode_path(node, &ws->chain) != KS_OK || !ws->chain.p)
        ks__buf_adds(&ws->chain, ws->f->path);
    ws->where = ws->chain.p ? ws->chain.p : ws->f->path;
    ws->nprov = 0;
    ws->msg_id = m ? m->message_id : NULL;
    ws->time = m && m->time != KS_TIME_NONE ? m->time : g ? g->time : KS_TIME_NONE;
    if (node->parent)
        ws->prov[ws->nprov++] = (ks_kv){"container", ws->where};
    const struct {
        const char *key, *val;
    } rows[] = {{"message_id", m ? m->message_id : NULL}, {"date", m ? m->date : NULL},
                {"from", m ? m->from : NULL},             {"to", m ? m->to : NULL},
                {"subject", m ? m->subject : NULL},       {"folder", m ? m->folder : NULL},
                {"git.commit", g ? g->commit : NULL},     {"git.author", g ? g->author : NULL},
                {"git.path", g ? g->path : NULL}};
    for (size_t i = 0; i < KS_ARRAY_LEN(rows) && ws->nprov < KS_ARRAY_LEN(ws->prov); i++)
        if (rows[i].val && rows[i].val[0])
            ws->prov[ws->nprov++] = (ks_kv){rows[i].key, rows[i].val};
}

static int on_text(void *ud, const ks_xtext *t)
{
    sec_ws *ws = ud;
    /* every new unit: extractors keep nodes on their stack, so the next
     * message's node may sit at the last one's address; the further pieces
     * of one blob keep theirs (per piece, this was a fifth of the secrets
     * pass over an EVTX log) */
    if (!t->same_node) {
        set_provenance(ws, t->node);
        ws->code = ks__ts_code_name(t->node->name);
        /* a message's national phone numbers: the sender's country first */
        ks__textscratch_set_hint(ws->scratch, t->node->mail ? t->node->mail->from : NULL);
    }
    ws->base = t->offset;
    if ((ws->classes & KS_TC_PII) && group_open(ws) != KS_OK)
        return 1;
    scan_text(ws, t->p, t->n);
    return 0;
}

static int sec_on_file(void *p, const ks_file *f)
{
    sec_ws *ws = p;
    sec_det *d = ws->d;
    ks_xctx x;
    ws->f = f;
    ws->classes = KS_TC_SECRET;
    /* Event logs (a JSON sign-in export, EVTX) name people in every
     * record: personal data there is the log's purpose, not a leak. A CSV
     * with no log's columns and no time is a table (a customer or CRM
     * export, BlueBleed's kind of leak): its personal data is the point;
     * so is a JSON document with no time field (a service-account key, a
     * configuration file). */
    bool table = f->format && ((!strcmp(f->format, "csv") && !ks__csv_is_log(f->head, f->nhead)) ||
                               (!strcmp(f->format, "json") && !ks__json_is_log(f->head, f->nhead)));
    if (d->pii && (!f->format || d->pii_in_logs || table))
        ws->classes |= KS_TC_PII;
    ks__xctx_init(&x, d->e, f->path, on_text, ws);
    ks__extract_file(&x, f); /* damage is reported by the extractors */
    group_emit(ws);
    return KS_OK;
}

/* ---- life cycle ------------------------------------------------------------------------ */

static void sec_destroy(void *p)
{
    sec_det *d = p;
    if (!d)
        return;
    for (size_t i = 0; i < d->nrecs; i++)
        rec_free(d->recs[i]);
    free(d->recs);
    ks__map_free(d->index);
    ks__textscan_free(d->ts);
    ks__sverify_free(d->verify);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static int sec_create(ks_engine *e, void **out)
{
    sec_det *d = NULL;
    int rc;
    *out = NULL;
    if (!(d = calloc(1, sizeof *d)))
        return KS_ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    d->e = e;
    d->reveal = ks__opt_bool(e, "secrets.reveal");
    d->pii = ks__opt_bool(e, "secrets.pii");
    d->pii_in_logs = ks__opt_bool(e, "secrets.pii_in_logs");
    d->max_distinct = (uint64_t)ks__opt_int(e, "secrets.max_distinct");
    if (!(d->index = ks__map_new(1024))) {
        rc = KS_ENOMEM;
        goto out;
    }
    if ((rc = ks__sverify_new(e, &d->verify)) != KS_OK)
        goto out;
    if ((rc = ks__textscan_new(e, ks__rules_dir(e), &d->ts)) != KS_OK)
        goto out;
    if (!ks__textscan_nrules(d->ts))
        goto out; /* no rules: nothing to do */
    *out = d;
    d = NULL;
out:
    sec_destroy(d);
    return rc;
}

static void sec_worker_done(void *det, void *p);

static int sec_worker_new(void *det, ks_worker *w, void **out)
{
    sec_det *d = det;
    sec_ws *ws = calloc(1, sizeof *ws);
    (void)w;
    *out = NULL;
    if (!ws)
        return KS_ENOMEM;
    ws->d = d;
    ws->quiet = calloc(QUIET_SLOTS, sizeof *ws->quiet); /* none: every text is scanned */
    if (ks__textscratch_new(d->ts, &ws->scratch) != KS_OK) {
        sec_worker_done(det, ws);
        return KS_ENOMEM;
    }
    *out = ws;
    return KS_OK;
}

static void sec_worker_done(void *det, void *p)
{
    sec_ws *ws = p;
    (void)det;
    if (!ws)
        return;
    group_reset(&ws->g);
    ks__buf_release(&ws->chain);
    ks__textscratch_free(ws->scratch);
    free(ws->quiet);
    free(ws);
}

/* --verify: each distinct verifiable secret once, at the rate the
 * options allow; a key of a canary account is only marked. */
static void verify_all(sec_det *d)
{
    size_t asked = 0, live = 0;
    for (size_t i = 0; i < d->nrecs; i++) {
        sec_rec *r = d->recs[i];
        const char *account = NULL;
        for (size_t k = 0; k < r->ndetails; k++)
            if (!strcmp(r->details[k].key, "aws.account_id"))
                account = r->details[k].value;
        if (account && ks__sverify_canary(d->verify, account))
            r->vv = KS_VV_CANARY;
        else if (r->vclear && r->valid != KS_TV_EXAMPLE) {
            r->vv = ks__sverify_one(d->verify, r->type, r->vclear, strlen(r->vclear), r->vpair,
                                    r->vpair ? strlen(r->vpair) : 0, account, r->vinfo,
                                    sizeof r->vinfo);
            asked += r->vv != KS_VV_NONE;
            live += r->vv == KS_VV_LIVE;
        }
        wipe(&r->vclear);
        wipe(&r->vpair);
    }
    ks_loc loc = KS_LOC_NONE;
    ks__diag(d->e, KS_DIAG_INFO, KS_OK, "secrets", &loc,
             "--verify: %zu credentials checked online, %zu live", asked, live);
}

static int sec_finish(void *p)
{
    sec_det *d = p;
    if (d->verify)
        verify_all(d);
    for (size_t i = 0; i < d->nrecs; i++)
        emit_secret(d, d->recs[i]);
    if (d->dropped) {
        ks_loc loc = KS_LOC_NONE;
        ks__diag(d->e, KS_DIAG_WARN, KS_ELIMIT, "secrets", &loc,
                 "%llu distinct secrets over secrets.max_distinct (%llu) were counted, not kept",
                 (unsigned long long)d->dropped, (unsigned long long)d->max_distinct);
    }
    return KS_OK;
}

const struct ks_detector ks_detector_secrets = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "secrets",
    .description = "secrets (keys, tokens, passwords) and personal data in text, mail, documents",
    .flags = KS_DET_FILES | KS_DET_STREAMS,
    .create = sec_create,
    .worker_new = sec_worker_new,
    .on_file = sec_on_file,
    .worker_done = sec_worker_done,
    .finish = sec_finish,
    .destroy = sec_destroy,
};
