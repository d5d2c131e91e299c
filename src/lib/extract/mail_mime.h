/* SPDX-License-Identifier: Apache-2.0
 *
 * What the two readers of an RFC 5322 message share: mail_mime.c (gmime's
 * parser builds the message's object tree, the reader walks it) and
 * mail_mimewalk.c (a walker over the message's bytes that builds no
 * object tree, for messages whose structure it can be sure of, with
 * gmime's string decoders for header words, addresses and dates). Both
 * hand out the same text units through the functions here, so what a
 * message gives does not depend on which reader read it.
 */
#ifndef KS_EXTRACT_MAIL_MIME_H
#define KS_EXTRACT_MAIL_MIME_H

#include <gmime/gmime.h>
#include "extract/mail.h"

/* Multipart nesting followed inside one message; deeper parts are skipped
 * with a diagnostic (nested messages also count toward extract depth). */
#define MIME_MAX_NEST 64

typedef struct mime_walk {
    ks_xctx *x;
    const ks_xnode *node;    /* the message's node */
    int nest;                /* current multipart depth */
    int rc;                  /* first error */
    ks_buf conv;             /* a text part converted to UTF-8 */
    ks_buf dec;              /* a leaf part's transfer-decoded bytes */
} mime_walk;

/* A leaf part's transfer-decoded bytes: in dec, in the message itself
 * (no transfer encoding) or in a byte array of gmime's (keep). */
typedef struct part_data {
    const guint8 *p;
    size_t n;
    GMimeStream *keep;       /* unref when done, or NULL */
} part_data;

/* A leaf part as the reader sees it, whichever parser found it. Strings
 * are borrowed for the call. */
typedef struct mime_leaf {
    const char *type, *subtype;  /* its content type; NULL when none */
    const char *charset;         /* content type parameters, or NULL */
    const char *smime_type;
    const char *fname;           /* disposition filename, else content type name */
    bool attachment;             /* disposition "attachment" or a file name */
    bool text_part;              /* gmime made it a GMimeTextPart (text/...) */
    uint64_t off;                /* where its first header starts, or UINT64_MAX */
    bool have;                   /* it has content (a) */
    part_data a;                 /* its transfer-decoded bytes */
    /* For the text gmime's charset filter must give (a charset part_text
     * can not convert): the part itself, or its encoded bytes and
     * transfer encoding (a GMimeTextPart is made for them then). */
    GMimePart *gpart;
    const char *enc_p;
    size_t enc_n;
    GMimeContentEncoding enc;
} mime_leaf;

/* The parser options every message is read with (fallback charsets). */
GMimeParserOptions *ks__mime_parser_opts(void);

/* Appends "name: value\n" for one header, its value as
 * g_mime_header_get_value gives it (h's, or decoded here from raw when h
 * is NULL). */
int ks__mime_header_add(ks_buf *b, const char *name, const char *raw, GMimeHeader *h);
/* g_mime_header_get_value of a raw value without its decoder: the span
 * (*p, *n) of raw when it is one line of printable ASCII with no encoded
 * word or double space (unfolding and decoding change nothing then). */
bool ks__mime_plain_value(const char *raw, const char **p, size_t *n);
/* g_mime_header_get_value's decoding of a raw value (unfolded, RFC 2047
 * words decoded), or NULL, from the thread's memo of recent values when
 * raw was decoded before. The result is borrowed until the thread's next
 * call of these two, or is *own (the caller g_frees it). */
const char *ks__mime_header_value(const char *raw, char **own);
/* A display name that is one encoded word, as gmime's address list writes
 * it: decoded (g_mime_utils_header_decode_phrase), stripped and quoted;
 * "" when it decodes to nothing. Memo and result as above. */
const char *ks__mime_name_value(const char *word, char **own);
/* A part's content transfer-decoded as one g_mime_encoding_flush over it
 * from a fresh decoder gives it (enc base64 or quoted-printable), into out
 * (reset first; out->n set). KS_OK or KS_ENOMEM. */
int ks__mime_transfer_decode(GMimeContentEncoding enc, const char *in, size_t n, ks_buf *out);
/* Hands out b as the message's "headers" text unit (nothing when empty). */
int ks__mime_headers_out(ks_xctx *x, const ks_xnode *node, const ks_buf *b);

/* The metadata fields from gmime's address list (NULL: none). */
int ks__mime_set_addrs(ks_mailmeta *mm, const char **field, InternetAddressList *l);

/* Prologue/epilogue text of a multipart (NUL-terminated, or NULL). */
void ks__mime_walk_text(mime_walk *mw, const char *s);
/* Entering a multipart: false (with a diagnostic) when it is nested too
 * deep; nest is incremented otherwise and the caller decrements it. */
bool ks__mime_nest_enter(mime_walk *mw);
/* The section name of a multipart's i-th part (1-based). */
void ks__mime_section(char *sub, size_t cap, const char *section, int i);
/* A leaf part: text to the scanner, HTML and attachments to their own
 * extractors. Releases l->a.keep. */
void ks__mime_leaf(mime_walk *mw, mime_leaf *l, const char *section);

/* A message/rfc822 part: begin enters its node (false: not entered, e.g.
 * a budget), named fname or "message <section>.eml" written to name (which
 * the node borrows: the caller's, alive until end); end records the
 * walk's rc and releases mm. */
bool ks__mime_msg_begin(mime_walk *mw, const char *fname, const char *section, uint64_t off,
                        char name[64], ks_xnode *child, ks_mailmeta *mm);
void ks__mime_msg_end(mime_walk *mw, int rc, ks_mailmeta *mm);

/* The walker (mail_mimewalk.c): reads p[0..n) as one message and extracts
 * it as node, as the gmime path would, when it can be sure of every part's
 * bounds and headers. MIME_FAST_DECLINED (nothing handed out) when it can
 * not: the caller reads the message with gmime then. *fp holds the
 * walker's buffers across the messages of a mailbox. */
#define MIME_FAST_DECLINED 2
typedef struct mime_fast mime_fast;
void ks__mime_fast_free(mime_fast *f);
int ks__mime_fast_message(mime_fast **fp, ks_xctx *x, const ks_xnode *node, const uint8_t *p, size_t n,
                          const char *folder, ks_mailmeta *mm);
/* Tests and the fuzzer: false makes every message take the gmime path
 * (process-wide; default true). */
void ks__mime_fast_enable(bool on);
/* Messages the walker read and declined so far (process-wide). */
void ks__mime_fast_stats(uint64_t *fast, uint64_t *declined);

#endif
