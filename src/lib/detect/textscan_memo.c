/* SPDX-License-Identifier: Apache-2.0
 *
 * The text scanner's delivery memo (interface: textscan_int.h).
 *
 * Mail repeats its values: the same few addresses in every header, quoted
 * again in every reply, the same token pasted into a thread. Delivering a
 * match reruns the rule's validator for the normalised form and details,
 * hashes the normalised form (SHA-256) and builds the redacted display:
 * for a rule whose validator is `pure` (what it delivers depends on the
 * value's bytes and verdict, never on the text around them) all of that is
 * the same for every delivery of one value, so it is kept here the first
 * time and copied after.
 *
 * A validator's costly check of a value (the documented-key HMACs of a
 * JWT: 18 keys per token) keeps its verdict here the same way.
 *
 * Bounded: one pool of MEMO_POOL bytes and a table of MEMO_SLOTS slots per
 * scratch (per thread); when either fills, the memo is emptied and fills
 * again with the values that come next. A value longer than MEMO_VALUE_MAX
 * is not kept (a private key block, a long token: rare and unrepeated).
 */
#include <stdlib.h>
#include <string.h>
#include "detect/textscan_int.h"

#define MEMO_SLOTS 1024         /* power of two; emptied at half full */
#define MEMO_POOL (256u << 10)  /* entries and their strings */
#define MEMO_VALUE_MAX 256       /* deliveries */
#define MEMO_VERDICT_MAX 4096    /* verdicts */
#define VERDICT_RULE 0x80000000u /* verdict entries: rule = this | kind */

/* One delivery, as its strings' offsets in the entry's tail. */
typedef struct memo_ent {
    uint64_t h;               /* ks__hash of the value, mixed with rule and verdict */
    uint32_t rule;
    uint8_t valid;            /* ks_tvalid: the key holds the verdict */
    uint8_t ndetails;
    int16_t severity;         /* ks_severity delivered */
    uint16_t nvalue;
    uint16_t nnorm;           /* 0: the normalised form is the value */
    const char *type;         /* static (rule or validator) */
    uint8_t sha256[32];
    char redacted[64];
    const char *dkeys[TS_MAX_DETAILS]; /* detail keys: static text */
    uint16_t dlen[TS_MAX_DETAILS];     /* detail value lengths (NUL follows) */
    /* then: value, norm, detail values (each NUL-terminated) */
} memo_ent;

struct ts_memo {
    uint32_t slot[MEMO_SLOTS];   /* entry offset + 1 in pool; 0 = empty */
    size_t nslots;               /* slots used */
    size_t npool;                /* pool bytes used */
    uint64_t pool_[MEMO_POOL / sizeof(uint64_t)]; /* aligned storage */
};

static char *pool(ts_memo *m) { return (char *)m->pool_; }

ts_memo *ks__ts_memo_new(void) { return calloc(1, sizeof(ts_memo)); }

void ks__ts_memo_free(ts_memo *m) { free(m); }

static void memo_clear(ts_memo *m)
{
    memset(m->slot, 0, sizeof m->slot);
    m->nslots = m->npool = 0;
}

static uint64_t memo_hash(uint32_t rule, ks_tvalid valid, const char *v, size_t n)
{
    uint64_t h = ks__hash(v, n) ^ ((uint64_t)rule << 8 | (uint64_t)valid) * 0x9e3779b97f4a7c15ull;
    return h ? h : 1;
}

static const char *ent_value(const memo_ent *e) { return (const char *)(e + 1); }

static const memo_ent *find(ts_memo *m, uint32_t rule, unsigned valid, const char *v, size_t n)
{
    if (!m->nslots)
        return NULL;
    uint64_t h = memo_hash(rule, valid, v, n);
    for (size_t i = (size_t)h & (MEMO_SLOTS - 1);; i = (i + 1) & (MEMO_SLOTS - 1)) {
        if (!m->slot[i])
            return NULL;
        const memo_ent *e = (const memo_ent *)(const void *)(pool(m) + m->slot[i] - 1);
        if (e->h == h && e->rule == rule && e->valid == (uint8_t)valid && e->nvalue == n &&
            !memcmp(ent_value(e), v, n))
            return e;
    }
}

const ts_memo_ent *ks__ts_memo_find(ts_memo *m, uint32_t rule, ks_tvalid valid, const char *v,
                                    size_t n)
{
    return n <= MEMO_VALUE_MAX ? (const ts_memo_ent *)find(m, rule, valid, v, n) : NULL;
}

int ks__ts_memo_verdict(ts_memo *m, unsigned kind, const char *v, size_t n)
{
    if (!m || n > MEMO_VERDICT_MAX)
        return -1;
    for (unsigned yes = 0; yes < 2; yes++)
        if (find(m, VERDICT_RULE | kind, yes, v, n))
            return (int)yes;
    return -1;
}

static void add(ts_memo *m, uint32_t rule, const ks_tmatch *t)
{
    size_t n = t->nvalue, nn = t->norm == t->value ? 0 : t->nnorm;
    if (t->ndetails > TS_MAX_DETAILS || nn > UINT16_MAX)
        return;
    size_t need = sizeof(memo_ent) + n + 1 + nn + 1;
    for (size_t i = 0; i < t->ndetails; i++)
        need += strlen(t->details[i].value) + 1;
    need = (need + 7) & ~(size_t)7;
    if (need > MEMO_POOL / 4)
        return;
    if (m->npool + need > MEMO_POOL || m->nslots >= MEMO_SLOTS / 2)
        memo_clear(m);
    memo_ent *e = (memo_ent *)(void *)(pool(m) + m->npool);
    char *p = (char *)(e + 1);
    e->h = memo_hash(rule, t->valid, t->value, n);
    e->rule = rule;
    e->valid = (uint8_t)t->valid;
    e->ndetails = (uint8_t)t->ndetails;
    e->severity = (int16_t)t->severity;
    e->nvalue = (uint16_t)n;
    e->nnorm = (uint16_t)nn;
    e->type = t->type;
    memcpy(e->sha256, t->sha256, sizeof e->sha256);
    memcpy(e->redacted, t->redacted, sizeof e->redacted);
    memcpy(p, t->value, n);
    p[n] = 0;
    p += n + 1;
    memcpy(p, t->norm, nn);
    p[nn] = 0;
    p += nn + 1;
    for (size_t i = 0; i < t->ndetails; i++) {
        size_t dl = strlen(t->details[i].value);
        e->dkeys[i] = t->details[i].key;
        e->dlen[i] = (uint16_t)dl;
        memcpy(p, t->details[i].value, dl + 1);
        p += dl + 1;
    }
    size_t i = (size_t)e->h & (MEMO_SLOTS - 1);
    while (m->slot[i])
        i = (i + 1) & (MEMO_SLOTS - 1);
    m->slot[i] = (uint32_t)m->npool + 1;
    m->nslots++;
    m->npool += need;
}

void ks__ts_memo_add(ts_memo *m, uint32_t rule, const ks_tmatch *t)
{
    if (t->nvalue <= MEMO_VALUE_MAX)
        add(m, rule, t);
}

void ks__ts_memo_set_verdict(ts_memo *m, unsigned kind, const char *v, size_t n, bool yes)
{
    ks_tmatch t = {.value = v, .nvalue = n, .norm = v, .nnorm = n, .valid = yes};
    if (m && n <= MEMO_VERDICT_MAX)
        add(m, VERDICT_RULE | kind, &t);
}

void ks__ts_memo_fill(const ts_memo_ent *x, ks_tmatch *t, ks_kv *details)
{
    const memo_ent *e = (const memo_ent *)x;
    const char *p = ent_value(e) + e->nvalue + 1;
    t->type = e->type;
    t->severity = (ks_severity)e->severity;
    memcpy(t->sha256, e->sha256, sizeof t->sha256);
    memcpy(t->redacted, e->redacted, sizeof t->redacted);
    t->norm = e->nnorm ? p : t->value;
    t->nnorm = e->nnorm ? e->nnorm : t->nvalue;
    p += e->nnorm + 1;
    for (size_t i = 0; i < e->ndetails; i++) {
        details[i] = (ks_kv){e->dkeys[i], p};
        p += e->dlen[i] + 1;
    }
    t->details = details;
    t->ndetails = e->ndetails;
}
