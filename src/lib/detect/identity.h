/* SPDX-License-Identifier: Apache-2.0
 *
 * Identity analytics, shared between the normaliser (identity_norm.c: every
 * sign-in shape into one compact authentication record) and the detector
 * (identity.c: spray, distributed spray, brute force, spray followed by
 * success, no-MFA and legacy-protocol exposure).
 */
#ifndef KS_IDENTITY_H
#define KS_IDENTITY_H

#include "kensa_int.h"

enum auth_kind {
    AK_FAIL = 1,      /* the credential was wrong or the account unusable */
    AK_VALID = 2,     /* the password was right but sign-in stopped (MFA
                       * required, expired password): a spray hit */
    AK_SUCCESS = 3,
    AK_EXPLICIT = 4   /* an explicit-credential logon (4648): no verdict;
                       * counted only by the per-process spray check */
};

enum auth_flags {
    AF_SINGLE_FACTOR = 1 << 0, /* success with a password alone */
    AF_LEGACY = 1 << 1,        /* legacy protocol: cannot do MFA */
    AF_UNKNOWN_USER = 1 << 2,  /* the account does not exist */
    AF_LOCKED = 1 << 3         /* lockout / smart lockout */
};

/* One authentication, as the normaliser extracts it. Strings are borrowed
 * from the event (or the scratch event) for the duration of on_event. */
typedef struct auth_view {
    int kind;                 /* enum auth_kind */
    unsigned flags;           /* enum auth_flags */
    ks_slice account;         /* lower-cased later */
    ks_slice source;          /* IP address, else workstation */
    ks_slice group;           /* tenant|app|user agent (|logon kind) */
    ks_slice code;            /* result / status code as text */
    ks_slice app;             /* client app / protocol, for legacy listing */
    const char *reason;       /* static words for code */
} auth_view;

/* Fills v from ev; false when ev is not an authentication event. `scratch`
 * is an event the normaliser may fill with JSON embedded in a string (M365
 * AuditData); `buf` holds built strings (group keys); both belong to the
 * worker and are reused. */
bool ks__id_normalize(const ks_event *ev, ks_event *scratch, ks_buf *buf, auth_view *v);

/* Words for a result code of any source ("50126" -> "invalid username or
 * password", "0xc0000064" -> "unknown user name"). NULL when unknown. */
const char *ks__id_code_words(const char *code, size_t n);

/* An address as sources write it, without IPv4-mapped prefix, brackets or
 * port: "::ffff:10.1.2.3" -> "10.1.2.3", "1.2.3.4:5678" -> "1.2.3.4",
 * "[::1]:443" -> "::1". A slice of ip. */
ks_slice ks__id_clean_ip(ks_slice ip);

#endif
