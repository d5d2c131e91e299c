/* SPDX-License-Identifier: Apache-2.0
 *
 * The join: the secrets in the messages an attacker read.
 *
 * The mailaccess detector gives the Internet Message-IDs a suspicious
 * application or session read (MailItemsAccessed, without <>) and the
 * files of the hunt that may hold mail (mbox, .eml, .msg, .pst, TNEF,
 * archives). Only when there is something to join are those files read
 * again (the content extractors, as the secrets detector reads them), and
 * only the messages read are scanned (the same text scanner and rules, so
 * secret_sha256 is the secrets detector's). A message inside a read
 * message (a forwarded .eml, an embedded .msg) was read with it.
 *
 * One finding per (secret, message read): the secret by its SHA-256 and
 * redacted form, the reader (AppId, UPN, address, when, why suspicious)
 * and the message's notification metadata (Message-ID, date, sender,
 * recipients, subject, folder). Nothing in clear unless secrets.reveal.
 * Secrets in messages nobody suspicious read stay the secrets detector's
 * ordinary findings.
 *
 * Runs in finish() on the driving thread; ks__ma_join_file is called by
 * workers (under the join's lock).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mailaccess.h"
#include "detect/fileinfo.h"
#include "detect/pii_tally.h"
#include "detect/textscan.h"
#include "extract/extract.h"

#define MAX_FILES 100000
static const char *const t_secret[] = {"T1114.002", "T1552.001"};

typedef struct read_msg {
    bool pii_done;           /* its personal data was reported (a copy in another file is not) */
    char *msgid;             /* owned */
    ma_reader r;             /* the first suspicious read; strings owned */
    ks_evidence ev;          /* its access record (strings borrowed from the detector) */
    char *apps;              /* every reading app / user, ", "-joined; owned */
    uint64_t reads;
} read_msg;

/* Personal data of the read message being scanned (one finding each). */
typedef struct pii_acc {
    read_msg *msg;           /* NULL: none open */
    char *meta[6];           /* date, from, to, cc, subject, location; owned */
    int64_t time;
    ks_pii_tally t;          /* counts by type, distinct values */
} pii_acc;

struct ma_join {
    ks_engine *e;
    pthread_mutex_t lock;    /* files (workers add them) */
    char **files;
    size_t nfiles, capfiles;
    uint64_t files_dropped;
    read_msg *msgs;
    size_t nmsgs, capmsgs;
    ks_map *ix;              /* msgid -> index + 1 */
    /* while running */
    ks_textscan *ts;
    ks_textscratch *scratch;
    ks_map *seen;            /* (secret sha, msg index) already reported */
    bool reveal;
    long emitted;
    const ks_xnode *node;    /* the text unit being scanned */
    const ks_xmail *mail;    /* the read message around it */
    const read_msg *msg;
    uint64_t base;
    ks_buf chain;
    bool pii;                /* secrets.pii */
    pii_acc acc;
};

static void pii_reset(pii_acc *a);

int ks__ma_join_new(ks_engine *e, ma_join **out)
{
    ma_join *j = calloc(1, sizeof *j);
    *out = NULL;
    if (!j || !(j->ix = ks__map_new(1024))) {
        free(j);
        return KS_ENOMEM;
    }
    pthread_mutex_init(&j->lock, NULL);
    j->e = e;
    j->reveal = ks__opt_bool(e, "secrets.reveal");
    j->pii = ks__opt_bool(e, "secrets.pii");
    *out = j;
    return KS_OK;
}

static void reader_free(ma_reader *r)
{
    const char **s[] = {&r->app, &r->user, &r->mailbox, &r->ip, &r->folder};
    for (size_t i = 0; i < KS_ARRAY_LEN(s); i++)
        free((char *)*s[i]);
}

void ks__ma_join_free(ma_join *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->nfiles; i++)
        free(j->files[i]);
    free(j->files);
    for (size_t i = 0; i < j->nmsgs; i++) {
        free(j->msgs[i].msgid);
        free(j->msgs[i].apps);
        reader_free(&j->msgs[i].r);
    }
    free(j->msgs);
    ks__map_free(j->ix);
    ks__map_free(j->seen);
    pii_reset(&j->acc);
    ks__buf_release(&j->chain);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

int ks__ma_join_file(ma_join *j, const char *path)
{
    int rc = KS_OK;
    pthread_mutex_lock(&j->lock);
    if (j->nfiles >= MAX_FILES) {
        j->files_dropped++;
    } else if (ks__grow(&j->files, &j->capfiles, j->nfiles, sizeof *j->files, 64) != KS_OK ||
               !(j->files[j->nfiles] = strdup(path))) {
        rc = KS_ENOMEM;
    } else {
        j->nfiles++;
    }
    pthread_mutex_unlock(&j->lock);
    return rc;
}

static char *dup0(const char *s)
{
    return strdup(s ? s : "");
}

/* Appends who to the list unless it is there. */
static char *list_with(char *list, const char *who)
{
    if (!who || !*who)
        return list;
    size_t n = strlen(who);
    for (const char *q = list; q && *q;) {
        const char *e = strstr(q, ", ");
        size_t len = e ? (size_t)(e - q) : strlen(q);
        if (len == n && !memcmp(q, who, n))
            return list;
        q = e ? e + 2 : NULL;
    }
    size_t ln = list ? strlen(list) : 0;
    if (ln > 4096)
        return list;
    char *out = realloc(list, ln + n + 3);
    if (!out)
        return list;
    if (ln)
        memcpy(out + ln, ", ", 2), ln += 2;
    memcpy(out + ln, who, n + 1);
    return out;
}

int ks__ma_join_add(ma_join *j, const char *msgid, const ma_reader *r)
{
    if (!msgid || !*msgid)
        return KS_EUSAGE;
    uint64_t *slot = ks__map_slot(j->ix, msgid, strlen(msgid), true);
    if (!slot)
        return KS_ENOMEM;
    const char *who = r->app && *r->app ? r->app : r->user;
    if (*slot) {
        read_msg *m = &j->msgs[*slot - 1];
        m->reads++;
        m->apps = list_with(m->apps, who);
        return KS_OK;
    }
    if (ks__grow(&j->msgs, &j->capmsgs, j->nmsgs, sizeof *j->msgs, 256) != KS_OK)
        return KS_ENOMEM;
    read_msg *m = &j->msgs[j->nmsgs];
    memset(m, 0, sizeof *m);
    m->msgid = strdup(msgid);
    m->r = (ma_reader){.app = dup0(r->app), .user = dup0(r->user), .mailbox = dup0(r->mailbox),
                       .ip = dup0(r->ip), .why = r->why, .time = r->time, .folder = dup0(r->folder)};
    if (r->ev)
        m->ev = *r->ev;
    m->reads = 1;
    m->apps = list_with(NULL, who);
    if (!m->msgid || !m->r.app || !m->r.user || !m->r.mailbox || !m->r.ip || !m->r.folder) {
        free(m->msgid);
        free(m->apps);
        reader_free(&m->r);
        return KS_ENOMEM;
    }
    *slot = ++j->nmsgs;
    return KS_OK;
}

/* ---- scanning what was read --------------------------------------------------------- */

static const char *valid_word(ks_tvalid v)
{
    return v == KS_TV_VALID ? "valid" : v == KS_TV_EXAMPLE ? "example" :
           v == KS_TV_VERIFIED_LIVE ? "verified-live" : "unchecked";
}

static void pii_add(ma_join *j, const ks_tmatch *m);

static int on_match(void *ud, const ks_tmatch *m)
{
    ma_join *j = ud;
    if (m->cls == KS_TC_PII) {
        pii_add(j, m);
        return 0;
    }
    const read_msg *rm = j->msg;
    const ks_xmail *ml = j->mail;
    /* one finding per (secret, message read) */
    uint8_t key[40];
    uint64_t idx = (uint64_t)(rm - j->msgs);
    memcpy(key, m->sha256, 32);
    memcpy(key + 32, &idx, 8);
    uint64_t *slot = ks__map_slot(j->seen, key, sizeof key, true);
    if (!slot || *slot)
        return 0;
    *slot = 1;
    char hex[65], tread[48], title[512], conf[16];
    ks__hex(m->sha256, 32, hex);
    if (rm->r.time == KS_TIME_NONE)
        snprintf(tread, sizeof tread, "?");
    else
        ks_time_format(rm->r.time, tread, sizeof tread);
    snprintf(conf, sizeof conf, "%d", m->confidence);
    const char *reader = *rm->r.app ? rm->r.app : rm->r.user;
    snprintf(title, sizeof title, "Secret read by %s%s: %s (%s) in \"%s\"", *rm->r.app ? "application " : "",
             reader, m->rule_name, m->redacted, ml && ml->subject ? ml->subject : rm->msgid);
    /* the message that was read, and the one inside it that holds the
     * secret when they differ (a forwarded message) */
    const ks_xmail *inner = NULL;
    for (const ks_xnode *n = j->node; n && !inner; n = n->parent)
        if (n->mail)
            inner = n->mail;
    ks_kv det[24];
    size_t nd = 0;
    det[nd++] = (ks_kv){"secret_sha256", hex};
    det[nd++] = (ks_kv){"secret_type", m->type};
    det[nd++] = (ks_kv){"redacted", m->redacted};
    det[nd++] = (ks_kv){"validation", valid_word(m->valid)};
    det[nd++] = (ks_kv){"confidence", conf};
    det[nd++] = (ks_kv){"message_id", rm->msgid};
    if (ml && ml->date)
        det[nd++] = (ks_kv){"date", ml->date};
    if (ml && ml->from)
        det[nd++] = (ks_kv){"from", ml->from};
    if (ml && ml->to)
        det[nd++] = (ks_kv){"to", ml->to};
    if (ml && ml->cc)
        det[nd++] = (ks_kv){"cc", ml->cc};
    if (ml && ml->subject)
        det[nd++] = (ks_kv){"subject", ml->subject};
    det[nd++] = (ks_kv){"folder", *rm->r.folder ? rm->r.folder : ml && ml->folder ? ml->folder : ""};
    if (inner && inner != ml && inner->message_id)
        det[nd++] = (ks_kv){"inner_message_id", inner->message_id};
    det[nd++] = (ks_kv){"app_id", rm->r.app};
    det[nd++] = (ks_kv){"user", rm->r.user};
    det[nd++] = (ks_kv){"mailbox", rm->r.mailbox};
    det[nd++] = (ks_kv){"client_ip", rm->r.ip};
    det[nd++] = (ks_kv){"read_at", tread};
    det[nd++] = (ks_kv){"readers", rm->apps ? rm->apps : reader};
    det[nd++] = (ks_kv){"why_suspicious", rm->r.why ? rm->r.why : ""};
    det[nd++] = (ks_kv){"location", j->chain.p ? j->chain.p : ""};
    char *clear = j->reveal ? strndup(m->value, m->nvalue) : NULL;
    if (clear)
        det[nd++] = (ks_kv){"secret", clear};
    /* the secret's hash stays in details: sharing outputs turn matched
     * values into indicators, and a secret's hash is not one to publish */
    ks_kv matched[2] = {{"app_id", rm->r.app}, {"message_id", rm->msgid}};
    ks_evidence ev[2];
    size_t nev = 0;
    ev[nev++] = (ks_evidence){.path = j->chain.p ? j->chain.p : "", .format = "text",
                              .offset = m->offset + j->base,
                              .time = ml ? ml->time : KS_TIME_NONE};
    if (rm->ev.path)
        ev[nev++] = rm->ev;
    ks_fvalue val = {.type = m->type, .sha256 = hex, .redacted = m->redacted, .clear = clear, .count = 1};
    ks_severity sev = m->valid == KS_TV_EXAMPLE ? KS_SEV_LOW : m->severity < KS_SEV_HIGH ? KS_SEV_HIGH : KS_SEV_CRITICAL;
    ks_finding f = {
        .rule_id = "kensa.mail.secret_read",
        .title = title,
        .detector = "mailaccess",
        .description = "A secret in a message the attacker's application or session read "
                       "(MailItemsAccessed). Rotate it first; the message metadata is what a "
                       "notification needs. The secret is given by its SHA-256 only.",
        .severity = sev,
        .techniques = t_secret,
        .ntechniques = KS_ARRAY_LEN(t_secret),
        .first = rm->r.time,
        .last = rm->r.time,
        .evidence = ev,
        .nevidence = nev,
        .event_count = 1,
        .matched = matched,
        .nmatched = 2,
        .details = det,
        .ndetails = nd,
        .values = &val,
        .nvalues = 1,
    };
    ks__emit(j->e, &f);
    free(clear);
    j->emitted++;
    return 0;
}

/* ---- personal data in read messages ----------------------------------------------------
 * Counted by the secrets detector's tally (pii_tally.h), so a message's
 * personal data reads the same in both findings. */

static void pii_reset(pii_acc *a)
{
    for (size_t i = 0; i < KS_ARRAY_LEN(a->meta); i++)
        free(a->meta[i]);
    ks__pii_tally_release(&a->t);
    memset(a, 0, sizeof *a);
}

/* Emits the open message's personal data: counts by type, every distinct
 * value by the SHA-256 of its normalised form (as the secrets detector). */
static void pii_flush(ma_join *j)
{
    pii_acc *a = &j->acc;
    read_msg *rm = a->msg;
    if (!rm || !a->t.nv) {
        pii_reset(a);
        return;
    }
    rm->pii_done = true;
    ks_fvalue *vals = calloc(a->t.nv, sizeof *vals);
    char (*hex)[65] = calloc(a->t.nv, sizeof *hex);
    char counts[KS_PII_MAX_TYPES][24], total[24], title[512], tread[48];
    ks_kv det[KS_PII_MAX_TYPES + 16];
    size_t nd = 0;
    uint64_t sum = 0;
    if (!vals || !hex)
        goto out;
    nd = ks__pii_tally_counts(&a->t, counts, det, &sum);
    snprintf(total, sizeof total, "%llu", (unsigned long long)sum);
    det[nd++] = (ks_kv){"total", total};
    det[nd++] = (ks_kv){"message_id", rm->msgid};
    static const char *const keys[] = {"date", "from", "to", "cc", "subject", "location"};
    for (size_t i = 0; i < KS_ARRAY_LEN(keys); i++)
        if (a->meta[i] && *a->meta[i])
            det[nd++] = (ks_kv){keys[i], a->meta[i]};
    det[nd++] = (ks_kv){"folder", rm->r.folder};
    det[nd++] = (ks_kv){"app_id", rm->r.app};
    det[nd++] = (ks_kv){"user", rm->r.user};
    det[nd++] = (ks_kv){"mailbox", rm->r.mailbox};
    if (rm->r.time == KS_TIME_NONE)
        snprintf(tread, sizeof tread, "?");
    else
        ks_time_format(rm->r.time, tread, sizeof tread);
    det[nd++] = (ks_kv){"read_at", tread};
    det[nd++] = (ks_kv){"why_suspicious", rm->r.why ? rm->r.why : ""};
    ks__pii_tally_values(&a->t, vals, hex);
    snprintf(title, sizeof title, "Personal data read by %s in \"%s\" (%llu value%s)",
             *rm->r.app ? rm->r.app : rm->r.user, a->meta[4] ? a->meta[4] : rm->msgid,
             (unsigned long long)sum, sum == 1 ? "" : "s");
    ks_kv matched[2] = {{"app_id", rm->r.app}, {"message_id", rm->msgid}};
    ks_evidence ev[2];
    size_t nev = 0;
    ev[nev++] = (ks_evidence){.path = a->meta[5] ? a->meta[5] : "", .format = "text",
                              .offset = UINT64_MAX, .time = a->time};
    if (rm->ev.path)
        ev[nev++] = rm->ev;
    ks_finding f = {
        .rule_id = "kensa.mail.pii_read",
        .title = title,
        .detector = "mailaccess",
        .description = "Personal data in a message the attacker's application or session read: "
                       "the people to notify. Values are listed by the SHA-256 of their normalised form.",
        .severity = a->t.sev < KS_SEV_MEDIUM ? KS_SEV_MEDIUM : a->t.sev,
        .techniques = t_secret,
        .ntechniques = 1,
        .first = rm->r.time,
        .last = rm->r.time,
        .evidence = ev,
        .nevidence = nev,
        .event_count = sum,
        .matched = matched,
        .nmatched = 2,
        .details = det,
        .ndetails = nd,
        .values = vals,
        .nvalues = a->t.nv,
    };
    ks__emit(j->e, &f);
    j->emitted++;
out:
    free(vals);
    free(hex);
    pii_reset(a);
}

/* Opens the accumulator for the read message of the current unit. */
static void pii_open(ma_join *j, read_msg *rm, const ks_xmail *ml)
{
    pii_acc *a = &j->acc;
    if (a->msg == rm)
        return;
    pii_flush(j);
    if (rm->pii_done)
        return;
    a->msg = rm;
    a->time = ml ? ml->time : KS_TIME_NONE;
    const char *src[6] = {ml ? ml->date : NULL, ml ? ml->from : NULL, ml ? ml->to : NULL,
                          ml ? ml->cc : NULL,   ml ? ml->subject : NULL, j->chain.p};
    for (size_t i = 0; i < KS_ARRAY_LEN(src); i++)
        a->meta[i] = src[i] ? strdup(src[i]) : NULL;
}

static void pii_add(ma_join *j, const ks_tmatch *m)
{
    pii_acc *a = &j->acc;
    if (a->msg)
        ks__pii_tally_add(&a->t, m, j->reveal);
}

/* The read message around a text unit: the innermost enclosing message
 * whose Message-ID was read (a message attached to a read message was
 * read with it). */
static read_msg *read_around(ma_join *j, const ks_xnode *node, const ks_xmail **mail)
{
    for (const ks_xnode *n = node; n; n = n->parent) {
        const ks_xmail *m = n->mail;
        if (!m || !m->message_id)
            continue;
        uint64_t *slot = ks__map_get(j->ix, m->message_id, strlen(m->message_id));
        if (slot) {
            *mail = m;
            return &j->msgs[*slot - 1];
        }
    }
    return NULL;
}

static int on_text(void *ud, const ks_xtext *t)
{
    ma_join *j = ud;
    const ks_xmail *mail = NULL;
    read_msg *rm = read_around(j, t->node, &mail);
    if (!rm)
        return 0;
    j->msg = rm;
    j->mail = mail;
    j->node = t->node;
    j->base = t->offset;
    ks__buf_reset(&j->chain);
    ks__xnode_path(t->node, &j->chain);
    unsigned classes = KS_TC_SECRET;
    if (j->pii) {
        pii_open(j, rm, mail);
        if (j->acc.msg == rm)
            classes |= KS_TC_PII;
    }
    /* too many matches in one text: those delivered are right */
    ks__textscan_run(j->ts, j->scratch, classes, t->p, t->n, on_match, j);
    return 0;
}

static void join_one(ma_join *j, const char *path)
{
    ks_source *src = NULL;
    char err[256] = "";
    ks_loc loc = KS_LOC_NONE;
    loc.path = path;
    if (ks__source_open(AT_FDCWD, NULL, path, &src, err, sizeof err) != KS_OK) {
        ks__diag(j->e, KS_DIAG_WARN, KS_EIO, "mailaccess", &loc,
                 "cannot read the mail store again for the join: %s", err);
        return;
    }
    size_t nhead = 0;
    const uint8_t *head = ks__source_head(src, &nhead);
    const char *name = strrchr(path, '/');
    ks_fhash fh = {0};
    ks_file f = {.path = path, .name = name ? name + 1 : path, .st = ks__source_stat(src),
                 .src = src, .head = head, .nhead = nhead, .fh = &fh};
    ks_xctx x;
    ks__xctx_init(&x, j->e, path, on_text, j);
    x.e = NULL; /* damage was reported on the first read */
    ks__extract_file(&x, &f);
    pii_flush(j);
    ks__source_close(src);
}

static int path_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

long ks__ma_join_run(ma_join *j)
{
    ks_loc loc = KS_LOC_NONE;
    if (!j->nmsgs)
        return 0;
    if (!j->nfiles) {
        ks__diag(j->e, KS_DIAG_INFO, KS_OK, "mailaccess", &loc,
                 "%zu messages were read by a suspicious application or session, but the hunt "
                 "has no mail store to look them up in",
                 j->nmsgs);
        return 0;
    }
    if (ks__textscan_new(j->e, ks__rules_dir(j->e), &j->ts) != KS_OK || !ks__textscan_nrules(j->ts) ||
        ks__textscratch_new(j->ts, &j->scratch) != KS_OK || !(j->seen = ks__map_new(1024))) {
        ks__diag(j->e, KS_DIAG_WARN, KS_ENOMEM, "mailaccess", &loc,
                 "the secret rules could not be loaded: messages read were not scanned");
        goto out;
    }
    /* files in a stable order: findings do not depend on thread timing */
    qsort(j->files, j->nfiles, sizeof *j->files, path_cmp);
    for (size_t i = 0; i < j->nfiles; i++) {
        if (i && !strcmp(j->files[i], j->files[i - 1]))
            continue;
        join_one(j, j->files[i]);
    }
out:
    ks__textscratch_free(j->scratch);
    ks__textscan_free(j->ts);
    j->scratch = NULL;
    j->ts = NULL;
    return j->emitted;
}
