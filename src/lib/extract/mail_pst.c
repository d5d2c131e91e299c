/* SPDX-License-Identifier: Apache-2.0
 *
 * Outlook .pst / .ost mail stores with libpff: every folder is walked
 * (its path, "Top of Personal Folders/Inbox", becomes ks_xmail.folder),
 * every message, its embedded messages and attachments. A message is a
 * node named "<folder>/message N" with its Message-ID (PR_INTERNET_MESSAGE_ID,
 * else the transport headers), date, sender, recipients and subject; its
 * text units are "headers" (transport headers, or the metadata), "body"
 * (plain text, which libpff converts from the message's code page) and the
 * HTML or decompressed RTF body as a child when there is no plain one.
 *
 * libpff opens by file name only here: Debian's libpff-dev includes
 * <libbfio.h> for its memory-handle API without depending on libbfio-dev,
 * so that part of the header is switched off (WINAPI below) and a store
 * that is not a plain file on disk (an attachment, a member of an archive,
 * a decompressed .pst.gz) is copied to an anonymous memory file (memfd)
 * whose /proc/self/fd name libpff opens. A store is read message by
 * message; libpff keeps its own bounded caches, so memory does not grow
 * with the number of messages.
 *
 * Budgets: as for mbox, extract.max_total applies to each message of the
 * store rather than to the store as a whole (a 20 GB mailbox is not a
 * decompression bomb).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "extract/mail.h"

#define WINAPI
#include <libpff.h>
#undef WINAPI

#define PST_MAX_FOLDER_DEPTH 64
#define PST_MAX_STRING ((size_t)64 << 20)

typedef struct pst_walk {
    ks_xctx *x;
    const ks_xnode *top;     /* the store's node */
    uint64_t messages;       /* read so far (names "message N") */
    uint64_t failed;         /* messages libpff could not read */
    int rc;
} pst_walk;

static void pst_err(pst_walk *w, const ks_xnode *node, libpff_error_t **err, const char *what)
{
    char msg[256] = "";
    if (err && *err) {
        libpff_error_sprint(*err, msg, sizeof msg);
        libpff_error_free(err);
    }
    char *nl = strchr(msg, '\n');
    if (nl)
        *nl = 0;
    ks__xdiag(w->x, node, KS_DIAG_WARN, KS_EFORMAT, "%s: %s", what, msg[0] ? msg : "libpff error");
}

/* A UTF-8 string property of a message; false when absent. */
static bool msg_string(libpff_item_t *m, uint32_t id, ks_buf *out)
{
    size_t size = 0;
    ks__buf_reset(out);
    if (libpff_message_get_entry_value_utf8_string_size(m, id, &size, NULL) != 1 || size < 2 ||
        size > PST_MAX_STRING || ks__buf_grow(out, size) != KS_OK)
        return false;
    if (libpff_message_get_entry_value_utf8_string(m, id, (uint8_t *)out->p, size, NULL) != 1)
        return false;
    out->n = strnlen(out->p, size);
    return out->n > 0;
}

/* The entry id (any value type) of record set `set` of an item
 * (recipients, attachments); NULL when absent. Free with
 * libpff_record_entry_free. */
static libpff_record_entry_t *item_entry(libpff_item_t *it, int set, uint32_t id)
{
    libpff_record_set_t *rs = NULL;
    libpff_record_entry_t *e = NULL;
    if (libpff_item_get_record_set_by_index(it, set, &rs, NULL) != 1 || !rs)
        return NULL;
    if (libpff_record_set_get_entry_by_type(rs, id, 0, &e, LIBPFF_ENTRY_VALUE_FLAG_MATCH_ANY_VALUE_TYPE,
                                            NULL) != 1)
        e = NULL;
    libpff_record_set_free(&rs, NULL);
    return e;
}

/* A UTF-8 string property of record set `set` of an item. */
static bool item_string(libpff_item_t *it, int set, uint32_t id, ks_buf *out)
{
    size_t size = 0;
    bool ok = false;
    libpff_record_entry_t *e = item_entry(it, set, id);
    ks__buf_reset(out);
    if (e && libpff_record_entry_get_data_as_utf8_string_size(e, &size, NULL) == 1 && size >= 2 &&
        size <= PST_MAX_STRING && ks__buf_grow(out, size) == KS_OK &&
        libpff_record_entry_get_data_as_utf8_string(e, (uint8_t *)out->p, size, NULL) == 1) {
        out->n = strnlen(out->p, size);
        ok = out->n > 0;
    }
    if (e)
        libpff_record_entry_free(&e, NULL);
    return ok;
}

static uint32_t item_u32(libpff_item_t *it, int set, uint32_t id, uint32_t dflt)
{
    uint32_t v = dflt;
    libpff_record_entry_t *e = item_entry(it, set, id);
    if (e && libpff_record_entry_get_data_as_32bit_integer(e, &v, NULL) != 1)
        v = dflt;
    if (e)
        libpff_record_entry_free(&e, NULL);
    return v;
}

/* ---- metadata ----------------------------------------------------------------------- */

static int meta_recipients(ks_mailmeta *mm, libpff_item_t *m)
{
    libpff_item_t *r = NULL;
    ks_buf name = KS_BUF_INIT, addr = KS_BUF_INIT;
    int sets = 0, rc = KS_OK;
    if (libpff_message_get_recipients(m, &r, NULL) != 1 || !r)
        return KS_OK;
    if (libpff_item_get_number_of_record_sets(r, &sets, NULL) != 1)
        sets = 0;
    for (int i = 0; i < sets && i < 10000 && rc == KS_OK; i++) {
        uint32_t type = item_u32(r, i, KS_PR_RECIPIENT_TYPE, 1);
        const char **field = type == 2 ? &mm->m.cc : type == 1 ? &mm->m.to : NULL;
        if (!field)
            continue;
        bool have_name = item_string(r, i, KS_PR_DISPLAY_NAME, &name);
        bool have_addr = item_string(r, i, KS_PR_SMTP_ADDRESS, &addr) ||
                         item_string(r, i, KS_PR_EMAIL_ADDRESS, &addr);
        rc = ks__mailmeta_person(mm, field, true, have_name ? name.p : NULL, have_addr ? addr.p : NULL);
    }
    ks__buf_release(&name);
    ks__buf_release(&addr);
    libpff_item_free(&r, NULL);
    return rc;
}

static int msg_meta(ks_mailmeta *mm, libpff_item_t *m, const char *folder, ks_buf *headers)
{
    ks_buf b = KS_BUF_INIT, a = KS_BUF_INIT;
    uint64_t ft = 0;
    int rc = KS_OK;
    if (msg_string(m, KS_PR_SUBJECT, &b))
        rc = ks__mailmeta_set(mm, &mm->m.subject, b.p, b.n);
    if (rc == KS_OK && msg_string(m, KS_PR_INTERNET_MESSAGE_ID, &b))
        rc = ks__mailmeta_set_msgid(mm, b.p, b.n);
    bool name = msg_string(m, KS_PR_SENDER_NAME, &b);
    bool addr = msg_string(m, KS_PR_SENDER_SMTP_ADDRESS, &a) || msg_string(m, KS_PR_SENDER_EMAIL, &a);
    if (rc == KS_OK)
        rc = ks__mailmeta_person(mm, &mm->m.from, false, name ? b.p : NULL, addr ? a.p : NULL);
    if (rc == KS_OK && msg_string(m, KS_PR_TRANSPORT_HEADERS, headers))
        rc = ks__mailmeta_from_headers(mm, headers->p, headers->n);
    if (rc == KS_OK && mm->m.time == KS_TIME_NONE &&
        (libpff_message_get_client_submit_time(m, &ft, NULL) == 1 ||
         libpff_message_get_delivery_time(m, &ft, NULL) == 1) && ft)
        rc = ks__mailmeta_set_time(mm, ks__filetime_to_ns(ft));
    if (rc == KS_OK)
        rc = meta_recipients(mm, m);
    if (rc == KS_OK && !mm->m.to && msg_string(m, KS_PR_DISPLAY_TO, &b))
        rc = ks__mailmeta_set(mm, &mm->m.to, b.p, b.n);
    if (rc == KS_OK && folder && *folder)
        rc = ks__mailmeta_set(mm, &mm->m.folder, folder, strlen(folder));
    ks__buf_release(&b);
    ks__buf_release(&a);
    return rc;
}

/* ---- messages ------------------------------------------------------------------------ */

typedef int (*body_size_fn)(libpff_item_t *, size_t *, libpff_error_t **);
typedef int (*body_fn)(libpff_item_t *, uint8_t *, size_t, libpff_error_t **);

static bool get_body(libpff_item_t *m, body_size_fn sz, body_fn get, uint64_t max, ks_buf *out)
{
    size_t size = 0;
    ks__buf_reset(out);
    if (sz(m, &size, NULL) != 1 || size < 2 || size > max || ks__buf_grow(out, size) != KS_OK)
        return false;
    if (get(m, (uint8_t *)out->p, size, NULL) != 1)
        return false;
    out->n = strnlen(out->p, size);
    return out->n > 0;
}

static int pst_message(pst_walk *w, const ks_xnode *node, libpff_item_t *m, const char *folder,
                       unsigned depth);

static int pst_attachments(pst_walk *w, const ks_xnode *me, libpff_item_t *m, const char *folder,
                           unsigned depth)
{
    int count = 0, rc = KS_OK;
    ks_buf name = KS_BUF_INIT, data = KS_BUF_INIT;
    if (libpff_message_get_number_of_attachments(m, &count, NULL) != 1)
        return KS_OK;
    for (int i = 0; i < count && rc >= 0 && !w->x->stopped; i++) {
        libpff_item_t *a = NULL, *sub = NULL;
        int type = 0;
        size64_t size = 0;
        if (libpff_message_get_attachment(m, i, &a, NULL) != 1 || !a)
            continue;
        libpff_attachment_get_type(a, &type, NULL);
        if (!item_string(a, 0, KS_PR_ATTACH_LONG_FILENAME, &name) &&
            !item_string(a, 0, KS_PR_ATTACH_FILENAME, &name) &&
            !item_string(a, 0, KS_PR_DISPLAY_NAME, &name)) {
            ks__buf_reset(&name);
            ks__buf_printf(&name, "attachment %d", i + 1);
        }
        if (type == LIBPFF_ATTACHMENT_TYPE_DATA &&
            libpff_attachment_get_data_size(a, &size, NULL) == 1 && size > 0) {
            uint64_t want = KS_MIN((uint64_t)size, w->x->budget.max_blob + 1);
            ks__buf_reset(&data);
            if (ks__buf_grow(&data, (size_t)want) == KS_OK &&
                libpff_attachment_data_seek_offset(a, 0, SEEK_SET, NULL) == 0) {
                ssize_t got = libpff_attachment_data_read_buffer(a, (uint8_t *)data.p, (size_t)want, NULL);
                if (got > 0)
                    rc = ks__extract_child(w->x, me, name.p, NULL, NULL, UINT64_MAX,
                                           (const uint8_t *)data.p, (size_t)got);
            }
        } else if (type == LIBPFF_ATTACHMENT_TYPE_ITEM && libpff_attachment_get_item(a, &sub, NULL) == 1 &&
                   sub) {
            ks_xnode child = {.parent = me, .name = name.p, .format = "pst", .mail = me->mail,
                              .git = me->git, .offset = UINT64_MAX, .depth = me->depth + 1};
            if (child.depth > w->x->budget.max_depth)
                ks__xdiag(w->x, &child, KS_DIAG_WARN, KS_ELIMIT,
                          "embedded message deeper than extract.max_depth (%u); not opened",
                          w->x->budget.max_depth);
            else
                rc = pst_message(w, &child, sub, folder, depth + 1);
            libpff_item_free(&sub, NULL);
        }
        if (rc == KS_ELIMIT || rc == KS_EFORMAT)
            rc = KS_OK;
        libpff_item_free(&a, NULL);
    }
    ks__buf_release(&name);
    ks__buf_release(&data);
    return rc;
}

/* One message (or embedded message) as node. */
static int pst_message(pst_walk *w, const ks_xnode *node, libpff_item_t *m, const char *folder,
                       unsigned depth)
{
    ks_xctx *x = w->x;
    ks_mailmeta mm;
    ks_buf headers = KS_BUF_INIT, body = KS_BUF_INIT;
    ks_xnode me = *node;
    int rc = ks__mailmeta_init(&mm);
    if (rc != KS_OK)
        return rc;
    if ((rc = msg_meta(&mm, m, folder, &headers)) != KS_OK)
        goto out;
    me.mail = &mm.m;
    rc = ks__mail_emit_headers(x, &me, &mm.m, headers.p, headers.n);
    if (rc >= 0 && get_body(m, libpff_message_get_plain_text_body_size,
                            libpff_message_get_plain_text_body, x->budget.max_blob, &body))
        rc = ks__extract_text(x, &me, "body", body.p, body.n, "utf-8");
    else if (rc >= 0 && get_body(m, libpff_message_get_html_body_size, libpff_message_get_html_body,
                                 x->budget.max_blob, &body))
        rc = ks__extract_child(x, &me, "body.html", NULL, NULL, UINT64_MAX, (const uint8_t *)body.p, body.n);
    else if (rc >= 0 && get_body(m, libpff_message_get_rtf_body_size, libpff_message_get_rtf_body,
                                 x->budget.max_blob, &body))
        rc = ks__extract_child(x, &me, "body.rtf", NULL, NULL, UINT64_MAX, (const uint8_t *)body.p, body.n);
    if (rc == KS_ELIMIT || rc == KS_EFORMAT)
        rc = KS_OK;
    if (rc >= 0 && !x->stopped)
        rc = pst_attachments(w, &me, m, folder, depth);
out:
    ks__buf_release(&headers);
    ks__buf_release(&body);
    ks__mailmeta_release(&mm);
    return rc;
}

/* ---- folders --------------------------------------------------------------------------- */

static void pst_folder(pst_walk *w, libpff_item_t *f, const char *path, unsigned depth)
{
    int nmsg = 0, nsub = 0;
    libpff_error_t *err = NULL;
    char name[48];
    if (depth > PST_MAX_FOLDER_DEPTH) {
        ks__xdiag(w->x, w->top, KS_DIAG_WARN, KS_ELIMIT, "folder '%s' nested deeper than %d levels: skipped",
                  path, PST_MAX_FOLDER_DEPTH);
        return;
    }
    if (libpff_folder_get_number_of_sub_messages(f, &nmsg, &err) != 1) {
        pst_err(w, w->top, &err, "cannot list the messages of a folder");
        nmsg = 0;
    }
    for (int i = 0; i < nmsg && w->rc >= 0 && !w->x->stopped; i++) {
        libpff_item_t *m = NULL;
        if (libpff_folder_get_sub_message(f, i, &m, &err) != 1 || !m) {
            w->failed++;
            libpff_error_free(&err);
            continue;
        }
        w->messages++;
        snprintf(name, sizeof name, "message %" PRIu64, w->messages);
        ks_buf nodename = KS_BUF_INIT;
        ks__buf_printf(&nodename, "%s%s%s", path, *path ? "/" : "", name);
        ks_xnode node = {.parent = w->top, .name = nodename.p, .format = "pst", .mail = NULL,
                         .git = w->top->git, .offset = UINT64_MAX, .depth = w->top->depth + 1};
        w->x->total = 0; /* extract.max_total per message, as for mbox */
        int rc = pst_message(w, &node, m, path, 0);
        if (rc < 0 && rc != KS_ELIMIT && rc != KS_EFORMAT)
            w->rc = rc;
        ks__buf_release(&nodename);
        libpff_item_free(&m, NULL);
    }
    if (libpff_folder_get_number_of_sub_folders(f, &nsub, &err) != 1) {
        pst_err(w, w->top, &err, "cannot list the subfolders of a folder");
        nsub = 0;
    }
    for (int i = 0; i < nsub && w->rc >= 0 && !w->x->stopped; i++) {
        libpff_item_t *sub = NULL;
        size_t size = 0;
        ks_buf fname = KS_BUF_INIT, sp = KS_BUF_INIT;
        if (libpff_folder_get_sub_folder(f, i, &sub, &err) != 1 || !sub) {
            libpff_error_free(&err);
            continue;
        }
        if (libpff_folder_get_utf8_name_size(sub, &size, NULL) == 1 && size > 1 && size < 4096 &&
            ks__buf_grow(&fname, size) == KS_OK &&
            libpff_folder_get_utf8_name(sub, (uint8_t *)fname.p, size, NULL) == 1)
            fname.n = strnlen(fname.p, size);
        ks__buf_printf(&sp, "%s%s%s", path, *path && fname.n ? "/" : "", fname.n ? fname.p : "");
        pst_folder(w, sub, sp.p ? sp.p : "", depth + 1);
        ks__buf_release(&fname);
        ks__buf_release(&sp);
        libpff_item_free(&sub, NULL);
    }
}

/* ---- opening ---------------------------------------------------------------------------- */

/* The evidence file itself when p[0..n) is its whole content. */
static bool is_the_file(const char *path, const uint8_t *p, size_t n)
{
    struct stat st;
    uint8_t head[512];
    if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != n)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t k = KS_MIN(n, sizeof head);
    bool same = pread(fd, head, k, 0) == (ssize_t)k && memcmp(head, p, k) == 0;
    close(fd);
    return same;
}

/* An anonymous memory file holding the blob; -1 on failure. */
static int memfile(const uint8_t *p, size_t n)
{
    int fd = memfd_create("kensa-pst", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    for (size_t o = 0; o < n;) {
        ssize_t k = write(fd, p + o, n - o);
        if (k <= 0) {
            close(fd);
            return -1;
        }
        o += (size_t)k;
    }
    return fd;
}

static int pst_probe(const uint8_t *head, size_t n, const char *name)
{
    KS_UNUSED(name);
    /* "!BDN" then the client magic "SM" (PST) or "SO" (OST) at offset 8. */
    if (n >= 10 && memcmp(head, "!BDN", 4) == 0 && head[8] == 'S' && (head[9] == 'M' || head[9] == 'O'))
        return 95;
    return 0;
}

static int pst_extract(ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n)
{
    libpff_file_t *f = NULL;
    libpff_item_t *root = NULL;
    libpff_error_t *err = NULL;
    pst_walk w = {.x = x, .top = node};
    char path[64];
    const char *open_path = node->depth == 0 && is_the_file(x->path, p, n) ? x->path : NULL;
    int fd = -1, rc = KS_OK;
    if (!open_path) {
        if ((fd = memfile(p, n)) < 0) {
            ks__xdiag(x, node, KS_DIAG_WARN, KS_EIO, "cannot stage the mail store for libpff");
            return KS_EIO;
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        open_path = path;
    }
    if (libpff_file_initialize(&f, &err) != 1 || libpff_file_open(f, open_path, LIBPFF_OPEN_READ, &err) != 1) {
        pst_err(&w, node, &err, "unreadable PST/OST");
        rc = KS_EFORMAT;
        goto out;
    }
    if (libpff_file_get_root_folder(f, &root, &err) != 1 || !root) {
        pst_err(&w, node, &err, "PST/OST without a readable root folder");
        rc = KS_EFORMAT;
        goto out;
    }
    pst_folder(&w, root, "", 0);
    rc = w.rc;
    if (w.failed)
        ks__xdiag(x, node, KS_DIAG_WARN, KS_EFORMAT, "%" PRIu64 " of %" PRIu64 " messages unreadable",
                  w.failed, w.failed + w.messages);
out:
    if (root)
        libpff_item_free(&root, NULL);
    if (f) {
        libpff_file_close(f, NULL);
        libpff_file_free(&f, NULL);
    }
    libpff_error_free(&err);
    if (fd >= 0)
        close(fd);
    return rc;
}

const struct ks_extractor ks_extractor_pst = {
    .abi = KS_EXTRACTOR_ABI_1,
    .name = "pst",
    .description = "Outlook .pst/.ost mail store (libpff): folders, messages, attachments",
    .probe = pst_probe,
    .extract = pst_extract,
    .streamed = true,
};
