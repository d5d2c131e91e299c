/* SPDX-License-Identifier: Apache-2.0
 *
 * PDF through poppler-glib: the text of each page (part "page N"), its
 * link targets and filled form fields (part "page N annotations"), the
 * document information (title, author, subject, keywords, creator,
 * producer: part "metadata") and embedded files, which become children
 * and are sniffed again (a spreadsheet attached to a statement of work).
 * An encrypted PDF that needs a password is a warning (evidence left
 * unread); a damaged one is a warning with what poppler could read still
 * extracted.
 */
#include <poppler.h>
#include <string.h>
#include "extract/extract_int.h"

static int pdf_probe(const uint8_t *head, size_t n, const char *name)
{
    KS_UNUSED(name);
    /* The header may follow some junk (up to 1 KiB is accepted by readers). */
    size_t m = KS_MIN(n, (size_t)1024);
    return m >= 5 && ks__memmem_ci((const char *)head, m, "%PDF-", 5) ? 80 : 0;
}

typedef struct att_sink {
    ks_buf b;
    uint64_t room;
    bool cut;
} att_sink;

static gboolean att_save(const gchar *buf, gsize count, gpointer data, GError **error)
{
    att_sink *s = data;
    KS_UNUSED(error);
    if (s->b.n + count > s->room) {
        count = s->room > s->b.n ? (gsize)(s->room - s->b.n) : 0;
        s->cut = true;
    }
    if (count && ks__buf_add(&s->b, buf, count) != KS_OK)
        s->cut = true;
    return !s->cut; /* FALSE stops poppler writing */
}

static void attachments(ks_xctx *x, const ks_xnode *node, PopplerDocument *doc)
{
    GList *list = poppler_document_get_attachments(doc);
    unsigned i = 0;
    for (GList *l = list; l && !x->stopped; l = l->next, i++) {
        PopplerAttachment *a = l->data;
        att_sink s = {KS_BUF_INIT, ks__xchild_room(x, 0), false};
        char fallback[32];
        snprintf(fallback, sizeof fallback, "attachment %u", i + 1);
        const char *name = a->name && *a->name ? a->name : fallback;
        poppler_attachment_save_to_callback(a, att_save, &s, NULL);
        if (s.cut) {
            ks_xnode child = {.parent = node, .name = name, .depth = node->depth + 1, .offset = UINT64_MAX};
            ks__xdiag(x, &child, KS_DIAG_WARN, KS_ELIMIT, "embedded file larger than the budget; first %zu bytes read",
                      s.b.n);
        }
        ks__extract_child(x, node, name, NULL, NULL, UINT64_MAX, (const uint8_t *)(s.b.p ? s.b.p : ""), s.b.n);
        ks__buf_release(&s.b);
    }
    g_list_free_full(list, g_object_unref);
}

static void metadata(ks_xctx *x, const ks_xnode *node, PopplerDocument *doc)
{
    gchar *v[] = {poppler_document_get_title(doc),   poppler_document_get_author(doc),
                  poppler_document_get_subject(doc), poppler_document_get_keywords(doc),
                  poppler_document_get_creator(doc), poppler_document_get_producer(doc)};
    ks_buf b = KS_BUF_INIT;
    for (size_t i = 0; i < KS_ARRAY_LEN(v); i++) {
        if (v[i] && *v[i]) {
            ks__buf_adds(&b, v[i]);
            ks__buf_addc(&b, '\n');
        }
        g_free(v[i]);
    }
    if (b.n)
        ks__extract_text(x, node, "metadata", b.p, b.n, "utf-8");
    ks__buf_release(&b);
}

/* What a page holds beside its text: the targets of its links (a SAS URL
 * behind "click here") and the values of its filled form fields, as
 * "name: value" (a W-9's SSN), in part "page N annotations". */
static void annotations(ks_xctx *x, const ks_xnode *node, PopplerPage *page, int i)
{
    ks_buf b = KS_BUF_INIT;
    GList *links = poppler_page_get_link_mapping(page);
    for (GList *l = links; l; l = l->next) {
        PopplerAction *a = ((PopplerLinkMapping *)l->data)->action;
        if (a && a->type == POPPLER_ACTION_URI && a->uri.uri && *a->uri.uri) {
            ks__buf_adds(&b, a->uri.uri);
            ks__buf_addc(&b, '\n');
        }
    }
    poppler_page_free_link_mapping(links);
    GList *fields = poppler_page_get_form_field_mapping(page);
    for (GList *l = fields; l; l = l->next) {
        PopplerFormField *f = ((PopplerFormFieldMapping *)l->data)->field;
        if (!f || poppler_form_field_get_field_type(f) != POPPLER_FORM_FIELD_TEXT)
            continue;
        gchar *name = poppler_form_field_get_partial_name(f), *v = poppler_form_field_text_get_text(f);
        if (v && *v) {
            if (name && *name) {
                ks__buf_adds(&b, name);
                ks__buf_adds(&b, ": ");
            }
            ks__buf_adds(&b, v);
            ks__buf_addc(&b, '\n');
        }
        g_free(name);
        g_free(v);
    }
    poppler_page_free_form_field_mapping(fields);
    if (b.n) {
        char part[48];
        snprintf(part, sizeof part, "page %d annotations", i + 1);
        ks__extract_text(x, node, part, b.p, b.n, "utf-8");
    }
    ks__buf_release(&b);
}

static int pdf_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    GError *err = NULL;
    GBytes *bytes = g_bytes_new_static(p, n);
    PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &err);
    int rc = KS_OK;
    if (!doc) {
        bool locked = err && err->domain == POPPLER_ERROR && err->code == POPPLER_ERROR_ENCRYPTED;
        /* both leave evidence unread: warnings (docs/EXIT-STATUS.md) */
        ks__xdiag(x, node, KS_DIAG_WARN, locked ? KS_EUNSUPPORTED : KS_EFORMAT,
                  "%s: %s", locked ? "encrypted PDF, not read" : "damaged PDF", err ? err->message : "unreadable");
        rc = locked ? KS_OK : KS_EFORMAT;
        goto out;
    }
    metadata(x, node, doc);
    int pages = poppler_document_get_n_pages(doc);
    for (int i = 0; i < pages && !x->stopped; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        if (!page)
            continue;
        char *text = poppler_page_get_text(page);
        if (text && *text) {
            char part[32];
            snprintf(part, sizeof part, "page %d", i + 1);
            ks__extract_text(x, node, part, text, strlen(text), "utf-8");
        }
        g_free(text);
        annotations(x, node, page, i);
        g_object_unref(page);
    }
    if (poppler_document_has_attachments(doc))
        attachments(x, node, doc);
out:
    if (err)
        g_error_free(err);
    if (doc)
        g_object_unref(doc);
    g_bytes_unref(bytes);
    return rc;
}

const struct ks_extractor ks_extractor_pdf = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "pdf",
    .description = "PDF (poppler): text per page, link targets and form fields, document information, embedded files",
    .probe = pdf_probe,
    .extract = pdf_extract,
};
