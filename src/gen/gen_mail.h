/* SPDX-License-Identifier: Apache-2.0
 *
 * The mail generator (`kensa-gen mailbox`): an mbox and .eml files with
 * quoted-printable, base64 and 8-bit bodies, RFC 2047 headers in several
 * charsets, nested messages and text/zip/docx attachments, into which the
 * values of gen_mail_truth are planted. The list is the ground truth of
 * the secrets/personal-data detector's tests and of the demo: each value
 * is syntactically valid for its type (checksums included: GitHub CRC32,
 * Luhn, IBAN mod-97, My Number check digit) and none is a documented
 * example key. Beside the mail the generator writes truth.jsonl (type,
 * value, its SHA-256, the Message-ID and where it was planted) and
 * messages.tsv (Message-ID, date, subject) for the mailbox-access join.
 */
#ifndef KS_GEN_MAIL_H
#define KS_GEN_MAIL_H

#include <stddef.h>
#include <stdint.h>
#include "core/core.h"

typedef struct gen_mail_truth_t {
    const char *type;     /* the secrets detector's type ("aws.access_key", "pii.card") */
    const char *value;    /* exactly as written in the mail */
    const char *line;     /* the sentence it is planted in, "%s" = value */
} gen_mail_truth_t;

extern const gen_mail_truth_t gen_mail_truth[];
extern const size_t gen_mail_ntruth;

typedef struct gen_mail_opts {
    unsigned messages;    /* messages in the mbox (0: from size, else 200) */
    uint64_t size;        /* approximate mbox bytes (0: from messages) */
    unsigned eml;         /* how many of them also as .eml files (default 12) */
    uint64_t seed;
    const char *truth;    /* truth.jsonl path; NULL = DIR/truth.jsonl */
} gen_mail_opts;

/* One Outlook message for the .msg / TNEF writers (gen_outlook.c). */
typedef struct gen_msg_spec {
    const char *subject, *body, *message_id;
    const char *from_name, *from_addr, *to_name, *to_addr;
    int64_t time;                        /* Unix seconds */
    const char *attach_name;             /* NULL: no attachment */
    const void *attach;
    size_t nattach;
    const struct gen_msg_spec *embedded; /* .msg only: an attached message */
} gen_msg_spec;

/* Appends a .msg (compound file) / a TNEF stream to out. 0 or -1. */
int gen_msg_build(const gen_msg_spec *m, ks_buf *out);
int gen_tnef_build(const gen_msg_spec *m, ks_buf *out);

/* Writes DIR/mailbox.mbox, DIR/eml/message-NNNN.eml,
 * DIR/outlook/planted-N.msg + winmail.dat, DIR/truth.jsonl, DIR/messages.tsv.
 * 0 or -1 (message printed). */
int gen_mail_write(const char *dir, const gen_mail_opts *o);

#endif
