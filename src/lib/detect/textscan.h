/* SPDX-License-Identifier: Apache-2.0
 *
 * The text scanner: finds secrets and personal data in decoded UTF-8 text.
 * One Vectorscan database over every rule's anchor literals/patterns makes
 * the first pass; each candidate is then confirmed on a small window by the
 * rule's PCRE2 pattern and its validator (checksums: GitHub CRC32, Luhn + IIN,
 * IBAN mod-97, SSN ranges, My Number check digit, libphonenumber, JWT
 * decoding, AWS key id -> account id, documented example keys...).
 *
 * Rules are data: kensa's own YAML pack (rules/secrets/), Nosey Parker YAML
 * rules and gitleaks TOML rules load through the same compiler.
 *
 * Users: the secrets detector (src/lib/detect/secrets.c), the exposure index
 * builder, the mailbox join. A compiled ks_textscan is immutable and shared
 * by threads; each thread owns a ks_textscratch.
 *
 * Clear values: a match hands the callback the raw value (borrowed, for the
 * call) so callers can hash it; nothing here prints or stores it. Callers
 * print only `redacted` unless the user passed --reveal.
 */
#ifndef KS_TEXTSCAN_H
#define KS_TEXTSCAN_H

#include "kensa_int.h"

typedef struct ks_textscan ks_textscan;
typedef struct ks_textscratch ks_textscratch;

typedef enum ks_tclass {
    KS_TC_SECRET = 1,   /* credentials, keys, tokens, passwords */
    KS_TC_PII = 2,      /* e-mail, phone, card, IBAN, national ids */
    KS_TC_CODE = 4      /* not a class: the text is program source, where an
                         * unquoted value after a key word is a variable or
                         * an expression, never a literal (ks__ts_code_name) */
} ks_tclass;

typedef enum ks_tvalid {
    KS_TV_UNCHECKED = 0, /* the format has no checksum */
    KS_TV_VALID,         /* checksum / structure verified */
    KS_TV_EXAMPLE,       /* a documented example value (AKIAIOSFODNN7EXAMPLE) */
    KS_TV_VERIFIED_LIVE  /* --verify confirmed it online */
} ks_tvalid;

typedef struct ks_tmatch {
    ks_tclass cls;
    const char *type;        /* "aws.access_key", "github.token", "pii.email", ... */
    const char *rule_id;     /* "kensa.secret.aws-access-key", "np.github.1", "gitleaks.x" */
    const char *rule_name;   /* human title */
    ks_severity severity;
    ks_tvalid valid;
    int confidence;          /* 0..100 after context words */
    /* The value: raw bytes in the scanned text (borrowed for the call) and
     * its normalised form (card/IBAN without spaces, e-mail lower-cased,
     * phone E.164) from which value_sha256/secret_sha256 are computed. */
    const char *value;
    size_t nvalue;
    const char *norm;
    size_t nnorm;
    uint8_t sha256[32];      /* of norm (PII) or of the exact secret bytes */
    char redacted[64];       /* first/last characters only, NUL-terminated */
    uint64_t offset;         /* of value in the scanned text */
    /* The value this one pairs with in the text (an AWS secret key's key
     * id), borrowed for the call; NULL when none. Only online
     * verification (--verify) uses it: never print it. */
    const char *pair;
    size_t npair;
    const ks_kv *details;    /* decoded facts: AWS account id, SAS permissions
                              * and expiry, JWT claims, paired secret type... */
    size_t ndetails;
} ks_tmatch;

typedef int (*ks_tmatch_fn)(void *ud, const ks_tmatch *m); /* non-zero stops */

/* Compiles kensa's pack plus the rule paths in the engine's options
 * (secrets.rules: files or directories of kensa YAML / Nosey Parker YAML /
 * gitleaks TOML). e may be NULL (tests): the bundled pack from rules_dir.
 * Per-rule errors are diagnostics. */
int ks__textscan_new(ks_engine *e, const char *rules_dir, ks_textscan **out);
void ks__textscan_free(ks_textscan *ts);
int ks__textscratch_new(const ks_textscan *ts, ks_textscratch **out);
void ks__textscratch_free(ks_textscratch *s);

/* Scans text[0..n); classes is a mask of ks_tclass. Calls fn per confirmed
 * match in text order (overlapping matches of one class: the rule of the
 * highest priority keeps the bytes). KS_ELIMIT when more matches than the
 * scanner keeps per text were found (those delivered are still right). */
int ks__textscan_run(const ks_textscan *ts, ks_textscratch *s, unsigned classes,
                     const char *text, size_t n, ks_tmatch_fn fn, void *ud);

/* The region of the unit the next texts belong to, as the address that
 * names it (a message's From: its country-code TLD): a national phone
 * number not valid in the default region and named by nothing in its own
 * text is read there before the guessed regions. NULL or an address with
 * no country TLD: none. Kept until set again. */
void ks__textscratch_set_hint(ks_textscratch *s, const char *addr);

/* Rules compiled (0: nothing to scan for). */
size_t ks__textscan_nrules(const ks_textscan *ts);

/* The AWS account id (12 digits) encoded in a key id's base32 body
 * (AKIA/ASIA... + 16 characters); false when id is not one. */
bool ks__aws_account(const char *id, char out[24]);

/* The redacted display of a value: its first and last characters (none for
 * values under 5 bytes, up to 4 each for long ones) around U+2026, other
 * than printable ASCII shown as '?'. out is NUL-terminated. */
void ks__ts_redact(const char *p, size_t n, char out[64]);

/* True when a file or member name is program source by its extension
 * (.py, .c, .java, .js, .go, ...: languages whose literals are quoted;
 * shell, PowerShell and configuration formats are not). */
bool ks__ts_code_name(const char *name);

#endif
