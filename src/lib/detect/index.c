/* SPDX-License-Identifier: Apache-2.0
 *
 * The exposure index builder: a file detector (active when the option
 * index.db names a database; `kensa index build` sets it) that reads every
 * file through the content extractors (extract.h: mail, documents,
 * archives, recursively), finds addresses, phones and secrets with the
 * text scanner, and records per organisation what the dump exposed in the
 * store (store/store.h). It emits no findings.
 *
 * Units and attribution. A unit is one message (every text of a mail and
 * its attachments) or one standalone document (a file, an archive member).
 * A unit belongs to every organisation (e-mail domain) whose addresses it
 * holds; phones, secrets, documents and the source path in it count for
 * each of those organisations, while an address, a person (a display name
 * in an address header) and an organisation name (the Organization header,
 * a signature line) count only for their own domain. A unit with no
 * address is recorded under the empty domain, for the operator. Seen
 * counts are per unit: an address in 400 messages is one address seen 400
 * times; a document copied into 3 archives is one document seen 3 times.
 *
 * Memory and durability. A unit is written to the store once finished:
 * the extractors walk depth first, so a unit is finished when a text
 * arrives from outside its subtree (its chain path is not a prefix of the
 * text's). Finished units are written in the order they began, FLUSH_UNITS
 * at a time, under the builder's lock, together with the file's progress
 * (how many of its units are written); a file's last units go with its
 * processed-file row. Batches commit every index.batch rows or 10 seconds, so
 * memory is bounded by those settings and the per-unit caps, not by the
 * size of a file (one 20 GB mbox is one file), kill -9 loses at most the
 * open batch, and a re-run skips the files a committed batch recorded
 * (path, size, mtime) and, in a file it had begun, the units already
 * written (the extraction order is the same for the same bytes).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/blake2b.h"
#include "detect/index_int.h"
#include "extract/extract.h"
#include "extract/mail.h"
#include "store/store.h"

#define MAX_VALUES_PER_UNIT 100000
#define FLUSH_UNITS 64             /* finished units written together (one lock, one progress row) */
#define FLUSH_BYTES (4u << 20)     /* ... or fewer when they hold this much */
#define MAX_HELD_UNITS 1024        /* units in memory: beyond, finished ones are written out of order */
#define MAX_POOL 32                /* spare unit arenas kept */

typedef struct idx_det {
    ks_engine *e;
    ks_textscan *ts;            /* the shared text scanner (immutable, all threads) */
    ks_store *store;            /* guarded by mu */
    pthread_mutex_t mu;
    uint64_t batch_rows;        /* commit after this many rows */
    uint64_t batch_start;       /* monotonic ns of the open batch */
    bool failed;                /* a write failed: stop writing (reported once) */
    /* totals for the closing diagnostic (under mu) */
    uint64_t files, known, units, puts, bytes;
} idx_det;

typedef struct idx_val {
    unsigned kind;              /* ks_skind */
    const char *type;           /* static or arena */
    const char *v;              /* arena, NUL-terminated */
    size_t n;
    const char *dom;            /* own domain (address, person, org name), else NULL */
    const void *key;            /* distinctness key when not v (person) */
    size_t nkey;
} idx_val;

typedef struct idx_doc {
    const char *key;            /* chain path (arena) */
    unsigned cues;
    bool mail;
    ks_b2 h;                    /* of the document's text (not kept when msgid is) */
    const char *msgid;          /* mail: Message-ID (arena), collapses copies */
} idx_doc;

typedef struct idx_unit {
    ks_arena *ar;               /* the unit's strings (back to the pool when written) */
    bool done;                  /* finished: the extraction left its subtree */
    const char *key;            /* chain path of the unit's node (ar) */
    const ks_xmail *mail;       /* identity of the message while extracting */
    int64_t time;
    const char *from_dom;       /* sender's domain (arena) or NULL */
    ks_map *seen;               /* kind|type|value -> 1, dedupes within the unit */
    idx_val *vals;
    size_t nvals, capvals;
    idx_doc *docs;
    size_t ndocs, capdocs;
} idx_unit;

typedef struct idx_ws {
    idx_det *d;
    ks_worker *w;
    ks_textscratch *scratch;    /* this thread's text scanner state */
    ks_arena *pool[MAX_POOL];   /* spare unit arenas */
    size_t npool;
    idx_unit *units;            /* held units, in the order they began */
    size_t nunits, capunits;
    size_t cur;                 /* unit of the last text (fast path) */
    size_t ndone;               /* held units that are finished */
    size_t done_bytes;          /* what they hold (arena bytes) */
    ks_buf path;                /* scratch: chain paths */
    const char *top;            /* walked file path */
    const char *top_format;
    bool top_container;         /* the walked file is an archive or mailbox */
    const char *fkey;           /* the file's key in the store (processed-file row) */
    uint64_t fsize;
    int64_t fmtime;
    uint64_t written;           /* units of this file written (or skipped), in order */
    uint64_t skip;              /* units an earlier, killed build committed */
    uint8_t fhash[32];          /* the file's content hash */
    ks_b2 fst;                  /* ... while the walk feeds it (on_past) */
    uint64_t fhashed;           /* ... the bytes [0, fhashed) it has had */
    uint8_t *hbuf;              /* HASH_READ bytes: the hash's reads of large files */
    uint64_t dropped;           /* values over the caps in this file */
} idx_ws;

/* ---- units ---------------------------------------------------------------------- */

static bool is_container(const char *fmt)
{
    static const char *const c[] = {"archive", "zip", "tar", "7z", "mbox", "pst"};
    if (!fmt)
        return false;
    for (size_t i = 0; i < KS_ARRAY_LEN(c); i++)
        if (!strcmp(fmt, c[i]))
            return true;
    return false;
}

/* Whether node n's blob is a container (an archive, a mailbox): its
 * members are units of their own. A node's format is the extractor that
 * opened it; the walked file's is known from the sniff in on_file. */
static bool container_node(const idx_ws *ws, const ks_xnode *n)
{
    return n->parent ? is_container(n->format) : ws->top_container;
}

/* The node a text belongs to for attribution: its message, or the
 * standalone blob (the child of the nearest container) that holds it. */
static const ks_xnode *unit_node(const idx_ws *ws, const ks_xnode *n)
{
    if (n->mail) {
        while (n->parent && n->parent->mail == n->mail)
            n = n->parent;
        return n;
    }
    while (n->parent && !container_node(ws, n->parent))
        n = n->parent;
    return n;
}

static char *arena_str(idx_unit *u, const char *s, size_t n)
{
    return ks__arena_strndup(u->ar, s, n);
}

static const char *domain_of(const char *addr, size_t n)
{
    const char *at = memrchr(addr, '@', n);
    return at ? at + 1 : NULL;
}

static void lower_copy(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32) : src[i];
    dst[n] = 0;
}

/* Adds a value to the unit once. */
static void unit_add(idx_ws *ws, idx_unit *u, unsigned kind, const char *type, const char *v, size_t n,
                     const char *dom, const void *key, size_t nkey)
{
    char kb[512];
    size_t tn = type ? strlen(type) : 0;
    const void *dk = key ? key : v;
    size_t dn = key ? nkey : n;
    if (u->nvals >= MAX_VALUES_PER_UNIT || 2 + tn + dn > sizeof kb) {
        ws->dropped++;
        return;
    }
    kb[0] = (char)kind;
    memcpy(kb + 1, type ? type : "", tn);
    kb[1 + tn] = 0;
    memcpy(kb + 2 + tn, dk, dn);
    uint64_t *slot = ks__map_slot(u->seen, kb, 2 + tn + dn, true);
    if (!slot || *slot)
        return;
    *slot = 1;
    if (ks__grow(&u->vals, &u->capvals, u->nvals, sizeof *u->vals, 16) != KS_OK) {
        ws->dropped++;
        return;
    }
    idx_val *x = &u->vals[u->nvals];
    x->kind = kind;
    x->type = type ? arena_str(u, type, tn) : NULL;
    x->v = arena_str(u, v, n);
    x->n = n;
    x->dom = dom ? arena_str(u, dom, strlen(dom)) : NULL;
    x->key = key ? arena_str(u, key, nkey) : NULL;
    x->nkey = nkey;
    if (x->v && (!type || x->type) && (!dom || x->dom))
        u->nvals++;
}

static void add_address(idx_ws *ws, idx_unit *u, const char *a, size_t n)
{
    char low[320];
    if (n >= sizeof low)
        return;
    lower_copy(low, a, n);
    const char *dom = domain_of(low, n);
    if (dom && *dom)
        unit_add(ws, u, KS_SK_ADDRESS, NULL, low, n, dom, NULL, 0);
}

typedef struct hdr_ctx {
    idx_ws *ws;
    idx_unit *u;
    bool from;
} hdr_ctx;

static void on_hdr_addr(void *ud, const char *name, size_t nn, const char *addr, size_t na)
{
    hdr_ctx *h = ud;
    char low[320], key[600];
    if (na >= sizeof low)
        return;
    add_address(h->ws, h->u, addr, na);
    lower_copy(low, addr, na);
    const char *dom = domain_of(low, na);
    if (!dom || !*dom)
        return;
    if (h->from && !h->u->from_dom)
        h->u->from_dom = arena_str(h->u, dom, strlen(dom));
    if (nn && !memchr(name, '@', nn) && nn + strlen(dom) + 2 < sizeof key) {
        /* a person is distinct per organisation by lower-cased name */
        lower_copy(key, name, nn);
        size_t kn = nn;
        key[kn++] = '\n';
        memcpy(key + kn, dom, strlen(dom));
        kn += strlen(dom);
        unit_add(h->ws, h->u, KS_SK_PERSON, NULL, name, nn, dom, key, kn);
    }
}

static int write_units(idx_ws *ws, bool in_order, bool last);

static idx_unit *unit_new(idx_ws *ws, const ks_xnode *un, const char *key)
{
    if (ws->nunits >= MAX_HELD_UNITS + 128 || /* finished ones are written first: nesting this deep */
        ks__grow(&ws->units, &ws->capunits, ws->nunits, sizeof *ws->units, 16) != KS_OK)
        return NULL;
    idx_unit *u = &ws->units[ws->nunits];
    memset(u, 0, sizeof *u);
    u->ar = ws->npool ? ws->pool[--ws->npool] : ks__arena_new(4096, 0);
    if (!u->ar || !(u->key = arena_str(u, key, strlen(key))) || !(u->seen = ks__map_new(64))) {
        ks__arena_free(u->ar);
        ks__map_free(u->seen);
        return NULL;
    }
    u->mail = un->mail;
    u->time = KS_TIME_NONE;
    ws->cur = ws->nunits++;
    if (un->mail) {
        const ks_xmail *m = un->mail;
        hdr_ctx h = {ws, u, true};
        u->time = m->time;
        if (m->from)
            ks__index_header_addrs(m->from, on_hdr_addr, &h);
        h.from = false;
        if (m->to)
            ks__index_header_addrs(m->to, on_hdr_addr, &h);
        if (m->cc)
            ks__index_header_addrs(m->cc, on_hdr_addr, &h);
    }
    return u;
}

/* Whether the node with chain path `key` holds the node with path p. */
static bool path_within(const char *key, const char *p, size_t n)
{
    size_t k = strlen(key);
    return k <= n && !memcmp(key, p, k) && (k == n || p[k] == '!');
}

/* A text arrived from path p: every held unit whose subtree does not hold
 * p is finished (the extraction is depth first and never comes back). */
static void units_finish(idx_ws *ws, const char *p, size_t n)
{
    for (size_t i = 0; i < ws->nunits; i++) {
        idx_unit *u = &ws->units[i];
        if (!u->done && !path_within(u->key, p, n)) {
            u->done = true;
            ws->ndone++;
            ws->done_bytes += ks__arena_used(u->ar) + u->capvals * sizeof *u->vals;
        }
    }
}

static idx_unit *unit_for(idx_ws *ws, const ks_xnode *node)
{
    const ks_xnode *un = unit_node(ws, node);
    ks__buf_reset(&ws->path);
    if (ks__xnode_path(un, &ws->path) != KS_OK || !ws->path.p)
        return NULL;
    if (ws->nunits && !ws->units[ws->cur].done && !strcmp(ws->units[ws->cur].key, ws->path.p))
        return &ws->units[ws->cur];
    units_finish(ws, ws->path.p, ws->path.n);
    for (size_t i = ws->nunits; i-- > 0;) {
        if (!ws->units[i].done && !strcmp(ws->units[i].key, ws->path.p)) {
            ws->cur = i;
            return &ws->units[i];
        }
    }
    /* the finished units go before a new one begins: written in the
     * order they began, or, when an open unit (a message whose
     * attachment is a large archive) holds too many behind it, as they
     * are (the order only decides which spelling of a value is kept) */
    if (ws->ndone >= FLUSH_UNITS || ws->done_bytes >= FLUSH_BYTES)
        write_units(ws, true, false);
    if (ws->ndone >= MAX_HELD_UNITS)
        write_units(ws, false, false);
    return unit_new(ws, un, ws->path.p);
}

static bool message_part(const char *part)
{
    return !part || !strncmp(part, "body", 4) || !strncmp(part, "subject", 7) ||
           !strncmp(part, "header", 6);
}

/* The document of a text within its unit: the message itself, or an
 * attachment (the unit's child that holds the text). */
static idx_doc *doc_for(idx_ws *ws, idx_unit *u, const ks_xtext *t)
{
    const char *key = u->key;
    bool mail = u->mail != NULL;
    if (mail && !message_part(t->part)) {
        const ks_xnode *c = t->node;
        const ks_xnode *un = unit_node(ws, t->node);
        while (c->parent && c->parent != un)
            c = c->parent;
        if (c != un) {
            ks__buf_reset(&ws->path);
            if (ks__xnode_path(c, &ws->path) != KS_OK || !ws->path.p)
                return NULL;
            key = ws->path.p;
            mail = false;
        }
    }
    for (size_t i = u->ndocs; i-- > 0;)
        if (!strcmp(u->docs[i].key, key))
            return &u->docs[i];
    if (ks__grow(&u->docs, &u->capdocs, u->ndocs, sizeof *u->docs, 4) != KS_OK)
        return NULL;
    idx_doc *d = &u->docs[u->ndocs];
    memset(d, 0, sizeof *d);
    if (!(d->key = arena_str(u, key, strlen(key))))
        return NULL;
    d->mail = mail;
    if (mail && t->node->mail && t->node->mail->message_id)
        d->msgid = arena_str(u, t->node->mail->message_id, strlen(t->node->mail->message_id));
    ks__b2_init(&d->h);
    u->ndocs++;
    return d;
}

/* ---- text ----------------------------------------------------------------------- */

typedef struct scan_ctx {
    idx_ws *ws;
    idx_unit *u;
} scan_ctx;

static int on_match(void *ud, const ks_tmatch *m)
{
    scan_ctx *c = ud;
    if (m->cls == KS_TC_PII && !strcmp(m->type, "pii.email")) {
        add_address(c->ws, c->u, m->norm, m->nnorm);
    } else if (m->cls == KS_TC_PII && !strcmp(m->type, "pii.phone")) {
        unit_add(c->ws, c->u, KS_SK_PHONE, NULL, m->norm, m->nnorm, NULL, NULL, 0);
    } else {
        /* other personal data and secrets: counted by type; the value is
         * never kept, only its redacted form for the owner's view */
        unit_add(c->ws, c->u, KS_SK_SECRET, m->type, m->redacted, strlen(m->redacted), NULL,
                 m->sha256, sizeof m->sha256);
    }
    return 0;
}

static void on_orgname(void *ud, const char *name, size_t n)
{
    scan_ctx *c = ud;
    if (c->u->from_dom)
        unit_add(c->ws, c->u, KS_SK_ORGNAME, NULL, name, n, c->u->from_dom, NULL, 0);
}

static int on_text(void *ud, const ks_xtext *t)
{
    idx_ws *ws = ud;
    idx_unit *u = unit_for(ws, t->node);
    idx_doc *d;
    if (!u) {
        ws->dropped++;
        return 0;
    }
    if ((d = doc_for(ws, u, t))) {
        if (!d->mail) /* a message's type is "mail" whatever it says */
            d->cues |= ks__index_doc_cues(t->p, t->n);
        if (!d->msgid) /* a message is known by its Message-ID: its text's hash is not used */
            ks__b2_update(&d->h, t->p, t->n);
    }
    scan_ctx c = {ws, u};
    const char *p;
    size_t n;
    /* the sender's organisation as its mail client names it (the
     * extractors hand the header block over as one "headers" text) */
    if (t->part && !strcmp(t->part, "headers") && u->from_dom &&
        ks__mail_header_find(t->p, t->n, "Organization", &p, &n)) {
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\r' || p[n - 1] == '\n'))
            n--;
        if (n && n < 200)
            unit_add(ws, u, KS_SK_ORGNAME, NULL, p, n, u->from_dom, NULL, 0);
    }
    /* a message's national phone numbers: the sender's country first */
    ks__textscratch_set_hint(ws->scratch, t->node->mail ? t->node->mail->from : NULL);
    if (ks__textscan_run(ws->d->ts, ws->scratch, KS_TC_PII | KS_TC_SECRET, t->p, t->n, on_match, &c) ==
        KS_ELIMIT)
        ws->dropped++; /* more matches in one text than the scanner keeps */
    if (u->mail && t->part && !strncmp(t->part, "body", 4))
        ks__index_signature_orgs(t->p, t->n, on_orgname, &c);
    return 0;
}

/* ---- writing a file's units ------------------------------------------------------ */

static int put(idx_ws *ws, const char *dom, unsigned kind, const char *type, const char *v, size_t n,
               const void *key, size_t nkey, bool seal, int64_t t)
{
    ks_sput p = {.domain = dom, .kind = kind, .type = type, .value = v, .nvalue = n,
                 .key = key, .nkey = nkey, .seal = seal, .time = t};
    ws->d->puts++;
    return ks__store_put(ws->d->store, &p);
}

static int flush_unit(idx_ws *ws, idx_unit *u)
{
    const char *doms[64];
    size_t nd = 0;
    int rc = KS_OK;
    for (size_t i = 0; i < u->nvals; i++) {
        if (u->vals[i].kind != KS_SK_ADDRESS)
            continue;
        size_t k = 0;
        while (k < nd && strcmp(doms[k], u->vals[i].dom))
            k++;
        if (k == nd && nd < KS_ARRAY_LEN(doms))
            doms[nd++] = u->vals[i].dom;
    }
    if (!nd)
        doms[nd++] = "";
    for (size_t k = 0; k < nd && rc == KS_OK; k++) {
        const char *dom = doms[k];
        for (size_t i = 0; i < u->nvals && rc == KS_OK; i++) {
            const idx_val *x = &u->vals[i];
            if (x->dom && strcmp(x->dom, dom))
                continue; /* someone else's address, person or name */
            rc = put(ws, dom, x->kind, x->type, x->v, x->n, x->key, x->nkey, true, u->time);
        }
        for (size_t i = 0; i < u->ndocs && rc == KS_OK; i++) {
            idx_doc *d = &u->docs[i];
            uint8_t h[32];
            ks_b2 st = d->h; /* final() consumes the state */
            if (!d->msgid)
                ks__b2_final(&st, h);
            const void *key = d->msgid ? (const void *)d->msgid : h;
            size_t nkey = d->msgid ? strlen(d->msgid) : sizeof h;
            rc = put(ws, dom, KS_SK_DOCUMENT, ks__index_doc_type(d->cues, d->mail), d->key,
                     strlen(d->key), key, nkey, true, u->time);
        }
        if (rc == KS_OK)
            rc = put(ws, dom, KS_SK_SOURCE, ws->top_format ? ws->top_format : "file", ws->top,
                     strlen(ws->top), NULL, 0, true, u->time);
    }
    return rc;
}

static void write_failed(idx_det *d, const char *path, int rc)
{
    ks_loc loc = KS_LOC_NONE;
    loc.path = path;
    if (!d->failed)
        ks__diag(d->e, KS_DIAG_ERROR, rc, "index", &loc, "cannot write the index: %s (%s); stopping",
                 ks__store_errmsg(d->store), ks_strerror(rc));
    d->failed = true;
}

/* A batch's time bound. Item keys are keyed hashes, so each commit
 * rewrites nearly every page of the items B-tree to the WAL whatever the
 * batch's size: fewer, larger batches write it fewer times (216 MB mbox:
 * 9-13 commits of 100k rows / 1 s -> 3 of 400k / 10 s, the commits' CPU
 * 0.97-1.33 -> 0.68-0.71 s, peak RSS 78 -> 98 MB). Under load a short
 * bound, not index.batch, set the batches' size. */
#define BATCH_NS 10000000000ull
#define BATCH_ROWS 400000

/* Commits the open batch when it holds index.batch rows or is BATCH_NS
 * old (under d->mu). */
static int batch_policy(idx_det *d)
{
    int rc = KS_OK;
    if (d->batch_start == 0)
        d->batch_start = ks__now_ns();
    if (ks__store_pending(d->store) >= d->batch_rows || ks__now_ns() - d->batch_start > BATCH_NS) {
        rc = ks__store_commit(d->store);
        d->batch_start = 0;
    }
    return rc;
}

/* A written unit's memory: its arena goes back to the pool. */
static void unit_release(idx_ws *ws, idx_unit *u)
{
    ks__map_free(u->seen);
    free(u->vals);
    free(u->docs);
    if (ws->npool < MAX_POOL) {
        ks__arena_reset(u->ar);
        ws->pool[ws->npool++] = u->ar;
    } else {
        ks__arena_free(u->ar);
    }
}

/* Writes the finished units — in_order: only those before the first open
 * one — with the file's progress in the same batch; last: every unit, the
 * file is done (its processed-file row). Units an earlier build committed
 * (the first ws->skip) are dropped unwritten. */
static int write_units(idx_ws *ws, bool in_order, bool last)
{
    idx_det *d = ws->d;
    size_t keep = 0;
    bool blocked = false, wrote = false;
    int rc = KS_OK;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < ws->nunits; i++) {
        idx_unit *u = &ws->units[i];
        blocked |= in_order && !u->done;
        if (!last && (blocked || !u->done)) {
            ws->units[keep++] = *u;
            continue;
        }
        if (ws->written++ >= ws->skip && !d->failed && rc == KS_OK) {
            rc = flush_unit(ws, u);
            wrote = true;
            d->units++;
        }
        unit_release(ws, u);
    }
    if (!d->failed) {
        if (rc == KS_OK && last)
            rc = ks__store_file_done(d->store, ws->fkey, ws->fsize, ws->fmtime, ws->fhash);
        else if (rc == KS_OK && wrote)
            rc = ks__store_file_part(d->store, ws->fkey, ws->fsize, ws->fmtime, ws->written);
        if (rc == KS_OK && (last || wrote))
            rc = batch_policy(d);
        if (rc != KS_OK)
            write_failed(d, ws->top, rc);
    }
    pthread_mutex_unlock(&d->mu);
    ws->nunits = keep;
    ws->cur = 0;
    ws->ndone = ws->done_bytes = 0;
    for (size_t i = 0; i < keep; i++) {
        idx_unit *u = &ws->units[i];
        if (u->done) {
            ws->ndone++;
            ws->done_bytes += ks__arena_used(u->ar) + u->capvals * sizeof *u->vals;
        }
    }
    return rc;
}

/* The content hash of the file (kept to collapse copies), taken after the
 * walk. A reader that goes through the file front to back (the mailbox
 * reader: each read of its window) hands its bytes to on_past as it
 * reads them, so the hash takes them while they are most likely still in
 * the CPU's caches: reading a 216 MB mailbox a second time by pread, as
 * the hash did before the walk, was 7.5 % of its index build (the copy
 * from the page cache). The rest — all of a file no reader passed, the
 * tail of a mailbox after the last step — is hashed here: a file up to
 * HASH_MAPPED bytes, or
 * the tail of one the walk passed (mapped by the walk), from its mapping;
 * a larger one nobody passed is read in HASH_READ steps into a buffer
 * reused per worker (pread from the page cache: nothing of it stays
 * mapped); a source that cannot be read so (a decompressed spill, memory)
 * is hashed from its mapping in steps that leave no page behind: a 20 GB
 * file must not be in memory at once. */
#define HASH_MAPPED ((uint64_t)1 << 20)
#define HASH_READ ((size_t)1 << 20)
static void on_past(void *ud, const uint8_t *p, size_t from, size_t to)
{
    idx_ws *ws = ud;
    if (from <= ws->fhashed && to > ws->fhashed) { /* in order, each byte once */
        ks__b2_update(&ws->fst, p + (ws->fhashed - from), to - ws->fhashed);
        ws->fhashed = to;
    }
}

static void content_hash(idx_ws *ws, ks_source *src, const uint8_t *p, uint64_t n, uint8_t out[32])
{
    const uint64_t step = (uint64_t)8 << 20;
    ks_b2 *st = &ws->fst;
    uint64_t at = KS_MIN(ws->fhashed, n);
    if (n <= HASH_MAPPED) {
        ks__b2_update(st, p + at, (size_t)(n - at));
        ks__b2_final(st, out);
        return;
    }
    if (at == 0 && (ws->hbuf || (ws->hbuf = malloc(HASH_READ)))) {
        while (at < n) {
            ssize_t got = ks__source_pread(src, ws->hbuf, (size_t)KS_MIN((uint64_t)HASH_READ, n - at), at);
            if (got <= 0)
                break; /* not a plain file, or it shrank: the mapping has the rest */
            ks__b2_update(st, ws->hbuf, (size_t)got);
            at += (uint64_t)got;
        }
    }
    for (; at < n; at += step) {
        uint64_t m = KS_MIN(step, n - at);
        ks__b2_update(st, p + at, (size_t)m);
        ks__source_drop_pages(src, at, at + m);
    }
    ks__b2_final(st, out);
}

static int index_on_file(void *wsp, const ks_file *f)
{
    idx_ws *ws = wsp;
    idx_det *d = ws->d;
    ks_xctx x;
    bool known = false;
    const uint8_t *p = NULL;
    uint64_t n = 0;
    /* an in-memory blob (a git blob) has no stat: its key (repo!commit:path
     * of its first appearance) already names one content */
    int64_t mtime = f->st ? (int64_t)f->st->st_mtim.tv_sec * 1000000000 + f->st->st_mtim.tv_nsec : 0;
    uint64_t size = f->st ? (uint64_t)f->st->st_size : ks__source_size(f->src);
    int rc = KS_OK;
    char abs[PATH_MAX];
    /* processed files are keyed by absolute path, so a re-run from another
     * directory or with another spelling of the path still resumes */
    const char *key = f->xnode || !realpath(f->path, abs) ? f->path : abs;

    ws->skip = ws->written = 0;
    pthread_mutex_lock(&d->mu);
    if (!d->failed)
        rc = ks__store_file_known(d->store, key, size, mtime, &known);
    if (rc == KS_OK && !known && !d->failed)
        rc = ks__store_file_progress(d->store, key, size, mtime, &ws->skip);
    if (known)
        d->known++;
    pthread_mutex_unlock(&d->mu);
    if (known || d->failed || rc != KS_OK)
        return KS_OK;

    if (ks__source_map(f->src, &p, &n) != KS_OK)
        return KS_OK; /* the extractor reports why */
    ks__b2_init(&ws->fst);
    ws->fhashed = 0;
    ws->top = f->path;
    ws->fkey = key;
    ws->fsize = size;
    ws->fmtime = mtime;
    const struct ks_extractor *ex = ks__extractor_sniff(p, (size_t)n, f->name ? f->name : "");
    ws->top_format = f->format ? f->format : ex ? ex->name : NULL;
    ws->top_container = ex && is_container(ex->name);
    ks__xctx_init(&x, d->e, f->path, on_text, ws);
    x.on_past = on_past;
    ks__extract_file(&x, f);
    content_hash(ws, f->src, p, n, ws->fhash);
    if (ws->dropped) {
        ks_loc loc = KS_LOC_NONE;
        loc.path = f->path;
        ks__diag(d->e, KS_DIAG_WARN, KS_ELIMIT, "index", &loc,
                 "%" PRIu64 " values over the per-file caps were not indexed", ws->dropped);
        ws->dropped = 0;
    }
    write_units(ws, true, true);
    pthread_mutex_lock(&d->mu);
    d->files++;
    d->bytes += n;
    pthread_mutex_unlock(&d->mu);
    return KS_OK;
}

/* ---- life cycle ------------------------------------------------------------------- */

static void index_destroy(void *det);

static int index_create(ks_engine *e, void **out)
{
    idx_det *d = NULL;
    char err[512] = "";
    const char *db = ks__opt(e, "index.db", NULL);
    int rc;
    *out = NULL;
    if (!db || !*db)
        return KS_OK;
    if (!(d = calloc(1, sizeof *d)))
        return KS_ENOMEM;
    d->e = e;
    d->batch_rows = (uint64_t)ks__opt_int(e, "index.batch", BATCH_ROWS);
    if (d->batch_rows == 0)
        d->batch_rows = BATCH_ROWS;
    pthread_mutex_init(&d->mu, NULL);
    /* the same rules, validators (Luhn, IBAN, libphonenumber...) and
     * normalisation as the secrets detector: one notion of "an address",
     * "a phone number", "a card" across kensa */
    if ((rc = ks__textscan_new(e, ks__rules_dir(e), &d->ts)) != KS_OK) {
        index_destroy(d);
        return rc;
    }
    rc = ks__store_open(db, ks__opt(e, "index.key", NULL), KS_STORE_WRITE | KS_STORE_CREATE, &d->store,
                        err, sizeof err);
    if (rc != KS_OK) {
        ks__seterr(e, "%s", err);
        index_destroy(d);
        return rc;
    }
    if ((rc = ks__store_cache(d->store, (unsigned)ks__opt_int(e, "index.cache", 32))) != KS_OK) {
        ks__seterr(e, "%s: %s", db, ks__store_errmsg(d->store));
        index_destroy(d);
        return rc;
    }
    const char *status = ks__opt(e, "index.status", NULL);
    if (status && ks__store_set_status(d->store, status) != KS_OK) {
        ks__seterr(e, "index.status must be verified or unverified");
        index_destroy(d);
        return KS_EUSAGE;
    }
    *out = d;
    return KS_OK;
}

static int index_worker_new(void *det, ks_worker *w, void **out)
{
    idx_det *d = det;
    idx_ws *ws = calloc(1, sizeof *ws);
    if (!ws || ks__textscratch_new(d->ts, &ws->scratch) != KS_OK) {
        free(ws);
        return KS_ENOMEM;
    }
    ws->d = det;
    ws->w = w;
    *out = ws;
    return KS_OK;
}

static void index_worker_done(void *det, void *wsp)
{
    idx_ws *ws = wsp;
    (void)det;
    for (size_t i = 0; i < ws->nunits; i++) /* none after a file: a guard */
        unit_release(ws, &ws->units[i]);
    while (ws->npool)
        ks__arena_free(ws->pool[--ws->npool]);
    free(ws->units);
    ks__textscratch_free(ws->scratch);
    ks__buf_release(&ws->path);
    free(ws->hbuf);
    free(ws);
}

static int index_finish(void *det)
{
    idx_det *d = det;
    ks_loc loc = KS_LOC_NONE;
    int rc = d->failed ? KS_EIO : ks__store_commit(d->store);
    if (rc != KS_OK) {
        write_failed(d, NULL, rc);
        return rc;
    }
    ks__diag(d->e, KS_DIAG_INFO, KS_OK, "index", &loc,
             "indexed %" PRIu64 " files (%" PRIu64 " already indexed, skipped), %.1f MB, %" PRIu64
             " messages/documents, %" PRIu64 " observations",
             d->files, d->known, d->bytes / 1e6, d->units, d->puts);
    return KS_OK;
}

static void index_destroy(void *det)
{
    idx_det *d = det;
    if (!d)
        return;
    ks__store_close(d->store);
    ks__textscan_free(d->ts);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

const struct ks_detector ks_detector_index = {
    .abi = KS_DETECTOR_ABI_1,
    .name = "index",
    .description = "exposure index builder (kensa index build): per-organisation exposure into SQLite",
    .flags = KS_DET_FILES | KS_DET_STREAMS,
    .create = index_create,
    .worker_new = index_worker_new,
    .on_file = index_on_file,
    .worker_done = index_worker_done,
    .finish = index_finish,
    .destroy = index_destroy,
};
