/* SPDX-License-Identifier: Apache-2.0
 *
 * Private parts of the exposure index builder (detect/index.c): the
 * document and organisation-name cues (index_cues.c). Addresses, phones,
 * personal data and secrets come from the text scanner (textscan.h).
 */
#ifndef KS_INDEX_INT_H
#define KS_INDEX_INT_H

#include "detect/textscan.h"

/* Document types by content cues, strongest first. */
#define KS_DOC_TYPES(X)                      \
    X(SOW, "sow", "statements of work")      \
    X(POE, "poe", "proofs of execution")     \
    X(INVOICE, "invoice", "invoices")        \
    X(CONTRACT, "contract", "contracts")

enum {
#define KS_DOC_BIT_(name, key, label) KS_DOC_BIT_##name,
    KS_DOC_TYPES(KS_DOC_BIT_)
#undef KS_DOC_BIT_
    KS_DOC_NBITS
};

/* Adds the cue bits (1 << KS_DOC_BIT_*) found in text. */
unsigned ks__index_doc_cues(const char *text, size_t n);
/* The type of a document with these cues ("sow", ..., "other"). */
const char *ks__index_doc_type(unsigned cues, bool mail);

/* Calls fn for each organisation name in a mail body's signature (a line
 * ending in a company form: Inc, Ltd, LLC, GmbH, ...) within the last
 * lines after a sign-off. */
typedef void (*ks_orgname_fn)(void *ud, const char *name, size_t n);
void ks__index_signature_orgs(const char *text, size_t n, ks_orgname_fn fn, void *ud);

/* Calls fn for each "Display Name <addr>" or bare addr of an address
 * header value; name may be empty. */
typedef void (*ks_hdraddr_fn)(void *ud, const char *name, size_t nn, const char *addr, size_t na);
void ks__index_header_addrs(const char *v, ks_hdraddr_fn fn, void *ud);

#endif
