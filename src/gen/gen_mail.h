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
} gen_mail_opts;

/* Writes DIR/mailbox.mbox, DIR/eml/message-NNNN.eml, DIR/truth.jsonl, DIR/messages.tsv.
 * 0 or -1 (message printed). */
int gen_mail_write(const char *dir, const gen_mail_opts *o);

#endif
