/* SPDX-License-Identifier: Apache-2.0
 *
 * What the mail extractors share (mail_mime.c RFC 5322 + mbox, mail_msg.c
 * Outlook .msg, mail_pst.c .pst/.ost, mail_tnef.c winmail.dat): a message's
 * metadata with its own storage, the "headers" text unit built from it for
 * formats without RFC 5322 headers, Message-ID normalisation, MAPI property
 * ids, LZFu (compressed RTF) and located diagnostics that name the chain.
 *
 * Every message, whatever its container, becomes a node whose `mail` is a
 * filled ks_xmail, so a finding in a docx attached to a message in a PST
 * says which message (Message-ID, date, from/to, subject, folder) it came
 * from. Strings live in the ks_mailmeta's arena until ks__mailmeta_release.
 */
#ifndef KS_EXTRACT_MAIL_H
#define KS_EXTRACT_MAIL_H

#include "extract/extract.h"

/* A message's metadata being filled: `m` points into `arena`. */
typedef struct ks_mailmeta {
    ks_xmail m;          /* handed to nodes as node.mail */
    ks_arena *arena;     /* owns the strings of m; reset per message */
} ks_mailmeta;

/* init/release are for a caller-owned struct; reset keeps the arena for the
 * next message (one malloc per mailbox, not per message). */
int ks__mailmeta_init(ks_mailmeta *mm);
void ks__mailmeta_reset(ks_mailmeta *mm);
void ks__mailmeta_release(ks_mailmeta *mm);

/* Copies s[0..n) (UTF-8 expected; control characters become spaces,
 * surrounding space trimmed) into the arena and stores it in *field. An
 * empty value leaves *field as it was. KS_OK or KS_ENOMEM. */
int ks__mailmeta_set(ks_mailmeta *mm, const char **field, const char *s, size_t n);
/* Message-ID without <>, comments and surrounding blanks. */
int ks__mailmeta_set_msgid(ks_mailmeta *mm, const char *s, size_t n);
/* Appends to a comma-separated list field (To/Cc). */
int ks__mailmeta_add_addr(ks_mailmeta *mm, const char **field, const char *s, size_t n);
/* Message-ID (when still unknown) and Date from an RFC 5322 header block
 * (the transport headers of .msg/.pst messages). */
int ks__mailmeta_from_headers(ks_mailmeta *mm, const char *h, size_t n);
/* "Name <addr>", or whichever of the two is known (NULL/empty = unknown),
 * set into *field or appended to its list. */
int ks__mailmeta_person(ks_mailmeta *mm, const char **field, bool append, const char *name,
                        const char *addr);
/* Sets time (UTC ns) and, when date is still NULL, an RFC 3339 date. */
int ks__mailmeta_set_time(ks_mailmeta *mm, int64_t t);

/* A "headers" text unit "From: ...\nTo: ...\nSubject: ..." made from the
 * metadata, for formats that store properties instead of RFC 5322 headers
 * (.msg, .pst, TNEF), so the scanner sees addresses and subjects the same
 * way whatever the container. */
int ks__mail_emit_meta(ks_xctx *x, const ks_xnode *node, const ks_xmail *m);
/* The "headers" text unit of a .msg/.pst message: its transport headers
 * h[0..n) when it kept them, else the one ks__mail_emit_meta makes. */
int ks__mail_emit_headers(ks_xctx *x, const ks_xnode *node, const ks_xmail *m, const char *h, size_t n);

/* Value of the first header `name` in an RFC 5322 header block (transport
 * headers of .msg/.pst); unfolding is not needed for Message-ID/Date.
 * Returns false when absent. */
bool ks__mail_header_find(const char *h, size_t n, const char *name, const char **v, size_t *vn);

/* Unix seconds to UTC ns; KS_TIME_NONE when out of the ns range (a Date
 * header may say year 9999 or worse). */
int64_t ks__mail_sec_to_ns(int64_t sec);

/* The Unix seconds of a date in the one form nearly every writer uses,
 * "[Www, ]D[D] Mon YYYY HH:MM:SS +HHMM" with nothing around it (years
 * 1971-2999, a real day, offsets up to 12:59), as
 * g_mime_utils_header_decode_date reads it; false for anything else (the
 * caller asks gmime then). */
bool ks__mail_date_plain(const char *s, int64_t *sec);
/* Parses an RFC 5322 date ("Tue, 1 Jan 2019 10:00:00 +0100", obsolete
 * forms too) to UTC ns; KS_TIME_NONE when it cannot. */
int64_t ks__mail_parse_date(const char *s, size_t n);

/* gmime's one-time global set-up (g_mime_init is not thread-safe). */
void ks__mail_gmime_init(void);

/* Decompresses MS-OXRTFCP compressed RTF (LZFu, or MELA = stored) into out.
 * KS_OK, KS_EFORMAT (bad header / reference), KS_ECHECKSUM (CRC of an LZFu
 * stream does not match; out still holds what was decoded), KS_ELIMIT. */
int ks__mail_lzfu(const uint8_t *p, size_t n, ks_buf *out);

/* MAPI property ids (MS-OXPROPS) read by the .msg, .pst and TNEF readers. */
enum {
    KS_PR_MESSAGE_CLASS = 0x001A,
    KS_PR_SUBJECT = 0x0037,
    KS_PR_CLIENT_SUBMIT_TIME = 0x0039,
    KS_PR_SENT_REPRESENTING_NAME = 0x0042,
    KS_PR_SENT_REPRESENTING_EMAIL = 0x0065,
    KS_PR_TRANSPORT_HEADERS = 0x007D,
    KS_PR_SENDER_NAME = 0x0C1A,
    KS_PR_SENDER_EMAIL = 0x0C1F,
    KS_PR_RECIPIENT_TYPE = 0x0C15,
    KS_PR_DISPLAY_CC = 0x0E03,
    KS_PR_DISPLAY_TO = 0x0E04,
    KS_PR_DELIVERY_TIME = 0x0E06,
    KS_PR_BODY = 0x1000,
    KS_PR_RTF_COMPRESSED = 0x1009,
    KS_PR_HTML = 0x1013,
    KS_PR_INTERNET_MESSAGE_ID = 0x1035,
    KS_PR_DISPLAY_NAME = 0x3001,
    KS_PR_EMAIL_ADDRESS = 0x3003,
    KS_PR_ATTACH_DATA = 0x3701,
    KS_PR_ATTACH_FILENAME = 0x3704,
    KS_PR_ATTACH_METHOD = 0x3705,
    KS_PR_ATTACH_LONG_FILENAME = 0x3707,
    KS_PR_ATTACH_MIME_TAG = 0x370E,
    KS_PR_INTERNET_CPID = 0x3FDE,
    KS_PR_MESSAGE_CODEPAGE = 0x3FFD,
    KS_PR_SMTP_ADDRESS = 0x39FE,
    KS_PR_SENDER_SMTP_ADDRESS = 0x5D01,
};

/* MAPI property types. */
enum {
    KS_PT_I2 = 0x0002,
    KS_PT_LONG = 0x0003,
    KS_PT_BOOLEAN = 0x000B,
    KS_PT_OBJECT = 0x000D,
    KS_PT_I8 = 0x0014,
    KS_PT_STRING8 = 0x001E,
    KS_PT_UNICODE = 0x001F,
    KS_PT_SYSTIME = 0x0040,
    KS_PT_BINARY = 0x0102,
};

/* Attachment methods (PR_ATTACH_METHOD). */
enum { KS_ATTACH_BY_VALUE = 1, KS_ATTACH_EMBEDDED_MSG = 5 };

/* PR_*_CPID / code page to an iconv name ("CP1252"); NULL if unknown. */
const char *ks__mail_codepage(uint32_t cp, char *buf, size_t cap);

/* The MAPI property id as a short name for "prop:<name>" parts of other
 * string properties ("subject", "body", "0x3A08"). */
const char *ks__mapi_name(uint16_t id, char *buf, size_t cap);

#endif
