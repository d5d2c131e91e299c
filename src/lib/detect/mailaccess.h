/* SPDX-License-Identifier: Apache-2.0
 *
 * What the attacker read: mailbox access analytics and the join of the
 * messages read with the secrets they hold (docs/MAILACCESS.md).
 *
 * Three parts share this header:
 *  - mailaccess_norm.c turns one event into at most one compact record:
 *    an Entra ID application change (credentials, owners, consent, app
 *    role and delegated grants, new and multi-tenant applications), a
 *    service-principal sign-in, a mail access (M365 MailItemsAccessed with
 *    the Internet Message-IDs it lists), another mailbox operation (Send,
 *    search, inbox rules, forwarding, eDiscovery) or an on-premises export
 *    (New-MailboxExportRequest, exported files served by IIS, archivers
 *    run by the web server);
 *  - mailaccess.c keeps those records per worker, merges them, and in
 *    finish() decides: which applications were given mailbox-wide access
 *    and then read mail, first-seen readers per mailbox, volume against
 *    the tenant's own baseline, Sync of whole folders, sessions after an
 *    identity compromise (the identity detector's findings);
 *  - mailaccess_join.c reads the mail stores of the same hunt again, only
 *    when someone suspicious read something, and reports every secret in
 *    every message they read (one finding per secret and message).
 *
 * Strings in records are ids of a ks_strpool (the worker's, remapped to
 * the detector's when a worker is done). Everything is decided in
 * finish(), so files can arrive in any order on any thread.
 */
#ifndef KS_MAILACCESS_H
#define KS_MAILACCESS_H

#include "kensa_int.h"

/* ---- what an Entra audit record did to an application (bits) */
enum ma_change {
    MC_CREDENTIAL = 1 << 0,   /* secret or certificate added */
    MC_OWNER = 1 << 1,        /* owner added */
    MC_CONSENT = 1 << 2,      /* consent granted */
    MC_ROLE = 1 << 3,         /* application permission (app role) assigned */
    MC_DELEGATED = 1 << 4,    /* delegated permission grant */
    MC_NEW_APP = 1 << 5,      /* application or service principal created */
    MC_MULTI_TENANT = 1 << 6, /* made available to other tenants */
    MC_MAIL = 1 << 7,         /* the grant includes a mailbox-wide permission */
    MC_ALL_USERS = 1 << 8,    /* delegated grant for all principals (admin consent) */
};

/* ---- kinds of records */
enum ma_kind {
    MR_NONE = 0,
    MR_APP_CHANGE,   /* Entra audit, application / service principal */
    MR_SP_SIGNIN,    /* service-principal sign-in */
    MR_MAIL_READ,    /* MailItemsAccessed */
    MR_MAIL_OP,      /* another mailbox operation (enum ma_op) */
    MR_ONPREM,       /* on-premises export evidence (enum ma_op) */
};

enum ma_op {
    MO_SEND = 1,
    MO_SEARCH,           /* SearchQueryInitiated* */
    MO_INBOX_RULE,       /* New-/Set-InboxRule that forwards, redirects or hides */
    MO_FORWARDING,       /* Set-Mailbox forwarding */
    MO_EDISCOVERY,       /* compliance search created/started */
    MO_EDISCOVERY_EXPORT,/* compliance search exported/downloaded */
    MO_EXPORT_REQUEST,   /* New-MailboxExportRequest (on-premises) */
    MO_EXPORT_ROLE,      /* "Mailbox Import Export" role assigned */
    MO_WEB_DOWNLOAD,     /* a .pst/.zip/.7z served by IIS */
    MO_ARCHIVER,         /* an archiver started by the web server */
};

/* Where a record came from: enough to rebuild the finding's evidence
 * (context strings are interned by the engine and live as long). */
typedef struct ma_loc {
    ks_evidence ev;          /* path: NULL until the merge points it into the pool */
    uint32_t path;           /* pool id of ev.path */
} ma_loc;

/* One record; string members are pool ids (0 = none). */
typedef struct ma_rec {
    uint8_t kind;            /* enum ma_kind */
    uint8_t op;              /* enum ma_op for MR_MAIL_OP / MR_ONPREM */
    uint8_t sync;            /* MailItemsAccessed: Sync (whole folders) */
    uint8_t throttled;       /* MailItemsAccessed: IsThrottled */
    uint8_t failed;          /* the operation failed */
    uint8_t external;        /* forwarding outside the tenant / web path export */
    uint16_t change;         /* enum ma_change (MR_APP_CHANGE) */
    int64_t time;            /* UTC ns */
    uint32_t app;            /* reading / changed application id (lower-case) */
    uint32_t app_obj;        /* object id of the application or service principal */
    uint32_t app_name;       /* display name */
    uint32_t user;           /* acting user (UPN, lower-case) */
    uint32_t mailbox;        /* mailbox owner (lower-case) */
    uint32_t ip;             /* client address */
    uint32_t what;           /* roles granted, folder, rule target, command ... */
    uint32_t tenant;         /* the app's owner tenant when it is another tenant's */
    uint64_t items;          /* items read (MailItemsAccessed OperationCount / ids) */
    uint64_t bytes;          /* web download size */
    uint32_t first_id;       /* first of this record's message ids in ma_store.ids */
    uint32_t nids;
    ma_loc loc;
} ma_rec;

/* A message a MailItemsAccessed record lists (without <>). */
typedef struct ma_msgid {
    uint32_t id;             /* pool id of the Message-ID */
    uint32_t folder;         /* pool id of the folder path */
} ma_msgid;

/* Records and their strings: a worker's, then the detector's. */
typedef struct ma_store {
    ks_strpool pool;
    ma_rec *recs;
    size_t nrecs, caprecs;
    ma_msgid *ids;
    size_t nids, capids;
    uint64_t dropped;        /* records over mailaccess.max_records */
} ma_store;

int ks__ma_store_init(ma_store *s);
void ks__ma_store_release(ma_store *s);
/* Appends src's records to dst, re-interning their strings. KS_ENOMEM. */
int ks__ma_store_merge(ma_store *dst, const ma_store *src, uint64_t max_records);

/* The normaliser's worker context: a scratch event for JSON kept in
 * strings (Log Analytics' TargetResources, M365 AuditData, Folders), and a
 * buffer for built strings. */
/* The last channel or provider name seen and whether it names an Exchange
 * or PowerShell log: the names repeat from event to event (every record
 * of a Security log), and two case-blind searches of each per event were
 * most of this detector's cost on an EVTX hunt. */
typedef struct ma_xname {
    char s[96];   /* the name (longer ones are not kept) */
    size_t n;     /* its length; 0 with yes false at the start */
    bool yes;     /* it holds "MSExchange" or "PowerShell" */
} ma_xname;

typedef struct ma_norm {
    ks_event scratch;
    ma_xname xname[2];       /* channel, provider */
    ks_arena *arena;
    ks_buf buf;
    ks_buf roles;
    uint64_t min_download;   /* mailaccess.download_min */
} ma_norm;

int ks__ma_norm_init(ma_norm *n, ks_engine *e, ks_worker *w);
void ks__ma_norm_release(ma_norm *n);
/* Adds ev's record (if it is one of ours) to s. KS_OK when not ours. */
int ks__ma_normalize(ma_norm *n, ma_store *s, const ks_event *ev);

/* Well-known Microsoft first-party client applications (Outlook, OWA,
 * Teams, ...): "Outlook desktop" for 5d661950-..., NULL when not one. */
const char *ks__ma_first_party(const char *app_id);

/* ---- the join (mailaccess_join.c) ------------------------------------------ */

/* Who read a message, as the join reports it. */
typedef struct ma_reader {
    const char *app;         /* AppId, may be "" */
    const char *user;        /* UPN of the session or mailbox, may be "" */
    const char *mailbox;
    const char *ip;
    const char *why;         /* which analytic made the reader suspicious */
    int64_t time;            /* of the (first) read */
    const char *folder;      /* folder of the message in the access record */
    const ks_evidence *ev;   /* the access record (strings live until finish ends) */
} ma_reader;

typedef struct ma_join ma_join;
/* A join over the engine's evidence: read ids are added, then run once. */
int ks__ma_join_new(ks_engine *e, ma_join **out);
void ks__ma_join_free(ma_join *j);
/* Message id (without <>; copied) read by r (strings copied). */
int ks__ma_join_add(ma_join *j, const char *msgid, const ma_reader *r);
/* A file that may hold mail (walked, sniffed as mail or an archive). */
int ks__ma_join_file(ma_join *j, const char *path);
/* Re-reads the candidate files, scans every message read by someone
 * suspicious and emits one finding per (secret, message). Returns the
 * number of findings (>= 0) or a negative code. */
long ks__ma_join_run(ma_join *j);

#endif
