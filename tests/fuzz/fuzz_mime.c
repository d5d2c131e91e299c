/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness for the RFC 5322 and mbox extractors (mail_mime.c,
 * mail_mimewalk.c): the bytes go to both extractors directly (no
 * sniffing, so every input reaches the MIME readers and the mbox
 * splitter), through ks__extract_child's budgets for attachments and
 * nested messages, and every text unit is walked so a bad slice would be
 * touched. Each input is read twice, by the walker over the bytes (which
 * hands a message it can not be sure of to gmime) and with every message
 * read from gmime's tree: the two must give the same text units (node
 * chain, part, offsets, charset, message metadata, text), or the harness
 * aborts. Seeds: generated messages with QP/base64 bodies, nested
 * messages, broken base64, deep multipart nesting, broken boundaries.
 */
#include <string.h>
#include "extract_fuzz.h"
#include "extract/mail_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void mix(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ b[i]) * 0x100000001b3ull;
    *h = (*h ^ 0xff) * 0x100000001b3ull; /* field separator */
}

static void mixs(uint64_t *h, const char *s) { mix(h, s ? s : "\1", s ? strlen(s) : 1); }

/* Everything a text unit says, hashed in order. */
static int digest_text(void *ud, const ks_xtext *t)
{
    uint64_t *h = ud;
    ks_buf chain = KS_BUF_INIT;
    ks__xnode_path(t->node, &chain);
    if (t->node->depth > 64 || !t->part)
        abort();
    mix(h, chain.p ? chain.p : "", chain.n);
    mixs(h, t->part);
    mixs(h, t->charset);
    mix(h, &t->offset, sizeof t->offset);
    mix(h, &t->src_offset, sizeof t->src_offset);
    mix(h, &t->node->offset, sizeof t->node->offset);
    const ks_xmail *m = t->node->mail;
    if (m) {
        const char *f[] = {m->message_id, m->date, m->from, m->to, m->cc, m->subject, m->folder};
        for (size_t i = 0; i < KS_ARRAY_LEN(f); i++)
            mixs(h, f[i]);
        mix(h, &m->time, sizeof m->time);
    }
    mix(h, t->p, t->n);
    ks__buf_release(&chain);
    return 0;
}

static uint64_t digest(const struct ks_extractor *ex, const uint8_t *data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ull;
    fuzz_extract_to(ex, "fuzz", data, size, digest_text, &h);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ks_extractor *const ex[] = {&ks_extractor_mime, &ks_extractor_mbox};
    for (size_t i = 0; i < KS_ARRAY_LEN(ex); i++) {
        ex[i]->probe(data, KS_MIN(size, (size_t)4096), "fuzz");
        ks__mime_fast_enable(true);
        uint64_t walked = digest(ex[i], data, size);
        ks__mime_fast_enable(false);
        uint64_t tree = digest(ex[i], data, size);
        ks__mime_fast_enable(true);
        if (walked != tree)
            abort(); /* the walker and gmime's tree disagree */
    }
    return 0;
}
