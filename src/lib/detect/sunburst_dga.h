/* SPDX-License-Identifier: Apache-2.0
 *
 * The SUNBURST DNS encoding (the "DGA" of the trojanised SolarWinds Orion
 * update, 2020): a decoder for the first label of the avsvmcloud.com names
 * the implant resolved, and an encoder that produces them, used by the
 * tests and the evidence generator so the decoder is exercised on names no
 * published list holds. docs/SUNBURST.md describes the encoding with the
 * published examples.
 *
 * Two kinds of message share one label:
 *  - domain messages: GUID (15 chars) + sequence char + a fragment of the
 *    victim's Active Directory domain, encoded (substitution alphabet with
 *    escapes, or "00" + custom base32 for names the substitution cannot
 *    carry); long domains are cut into several queries, reassembled by GUID;
 *  - time messages: GUID and a 30-minute timestamp with the stage-2 flag
 *    (and, for some, the status of security services), XOR-masked.
 *
 * Pure functions, no engine state: reentrant and thread-safe.
 */
#ifndef KS_SUNBURST_DGA_H
#define KS_SUNBURST_DGA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KS_SB_GUID_CHARS 15 /* 9 bytes (XOR key + 8-byte GUID) in base32 */
#define KS_SB_FRAG_MAX 16   /* encoded domain characters per query */
#define KS_SB_LAST 35       /* sequence number of a domain's final fragment */
#define KS_SB_DATA_MAX 8    /* service-status bytes kept from a time message */
#define KS_SB_NAME_MAX 128  /* longest full query name the encoder writes */

typedef enum ks_sb_kind {
    KS_SB_NONE = 0,
    KS_SB_DOMAIN, /* GUID + sequence + domain fragment */
    KS_SB_TIME    /* GUID + timestamp + stage flag (+ service status) */
} ks_sb_kind;

/* One decoded query name. */
typedef struct ks_sb_msg {
    ks_sb_kind kind;
    uint8_t guid[8];          /* the victim host's id, in byte order */
    int region;               /* index into ks__sb_region(), from the name */
    bool region_ok;           /* the name's region is the one the GUID picks */
    /* domain messages */
    int seq;                  /* 0..34 in order, KS_SB_LAST for the final one */
    char frag[KS_SB_FRAG_MAX + 1]; /* encoded fragment, padding removed */
    size_t nfrag;
    /* time messages */
    int64_t time;             /* UTC ns, 30-minute resolution */
    bool stage2;              /* the implant accepts CNAME C2 (the "ext" flag) */
    int subtype;              /* 1 = ping, 2 = carries service status */
    uint8_t data[KS_SB_DATA_MAX]; /* service status bytes (2 bits per service) */
    size_t ndata;
} ks_sb_msg;

/* "eu-west-1", "us-west-2", "us-east-1", "us-east-2" for i = 0..3. */
const char *ks__sb_region(int i);
/* The region the implant appends for a GUID. */
int ks__sb_guid_region(const uint8_t guid[8]);

/* True when name[0..n) (case-insensitive, optional trailing dot) is a
 * subdomain of avsvmcloud.com; *label / *nlabel get the first label. */
bool ks__sb_is_c2_name(const char *name, size_t n, const char **label, size_t *nlabel);

/* Decodes a full query name. Returns false (out->kind = KS_SB_NONE) when it
 * is not a SUNBURST beacon name or does not decode consistently. */
bool ks__sb_decode(const char *name, size_t n, ks_sb_msg *out);

/* Decodes the encoded text of a whole domain (fragments concatenated in
 * sequence order, padding removed) into UTF-8 at out (NUL-terminated).
 * Returns the length, or -1 when the text is not a valid encoding or out is
 * too small. *base32 tells which form it was. */
int ks__sb_domain_decode(const char *enc, size_t n, char *out, size_t cap, bool *base32);

/* Reassembles a domain from the fragments of one GUID: frags[i] is the
 * fragment with sequence i when bit i of `have` is set. Takes 0..k-1 in
 * order, then the final one (KS_SB_LAST). Writes the decoded domain, or
 * "(undecoded: TEXT)" when the text does not decode; *complete when the
 * final fragment and every one before it were present. */
void ks__sb_assemble(const char (*frags)[KS_SB_FRAG_MAX + 1], uint64_t have, char *out,
                     size_t cap, bool *complete, bool *base32);

/* ---- encoder (tests, generator) ---------------------------------------- */

/* Pseudo-random source for the XOR keys and escape choices: *seed is
 * advanced (xorshift); any non-zero seed. */
typedef uint64_t ks_sb_rng;

/* Writes the domain messages for (guid, domain) as full query names into
 * names[0..max), in the order the implant sends them. Returns how many, or
 * 0 when the domain is empty, too long for 36 fragments or max too small. */
size_t ks__sb_encode_domain(const uint8_t guid[8], const char *domain, ks_sb_rng *rng,
                            char (*names)[KS_SB_NAME_MAX], size_t max);

/* Writes one time message for guid at UTC ns t with the stage-2 flag and
 * optional service-status bytes (0..KS_SB_DATA_MAX). false if cap is too
 * small or t is before 2010. */
bool ks__sb_encode_time(const uint8_t guid[8], int64_t t, bool stage2, const uint8_t *data,
                        size_t ndata, ks_sb_rng *rng, char *out, size_t cap);

#endif
