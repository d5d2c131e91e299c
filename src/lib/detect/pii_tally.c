/* SPDX-License-Identifier: Apache-2.0
 *
 * Personal-data tally (pii_tally.h): what the secrets detector and the
 * mail-access join count for one personal-data finding, written once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "detect/fileinfo.h"
#include "detect/pii_tally.h"

/* A message holds a few distinct values: they are compared in a list
 * until there are VALS_LINEAR of them, then indexed in a map (a map per
 * message was a twentieth of a mailbox hunt). Index + 1 of the value with
 * this hash, 0 when new. */
#define VALS_LINEAR 16

static size_t val_find(const ks_pii_tally *t, const uint8_t sha[32])
{
    if (t->ix) {
        const uint64_t *slot = ks__map_get(t->ix, sha, 32);
        return slot ? (size_t)*slot : 0;
    }
    for (size_t i = 0; i < t->nv; i++)
        if (!memcmp(t->v[i].sha, sha, 32))
            return i + 1;
    return 0;
}

/* Indexes the values once the list is long; KS_ENOMEM when it cannot. */
static int val_index(ks_pii_tally *t)
{
    if (t->ix || t->nv < VALS_LINEAR)
        return KS_OK;
    if (!(t->ix = ks__map_new(4 * VALS_LINEAR)))
        return KS_ENOMEM;
    for (size_t i = 0; i < t->nv; i++) {
        uint64_t *slot = ks__map_slot(t->ix, t->v[i].sha, 32, true);
        if (!slot)
            return KS_ENOMEM;
        *slot = i + 1;
    }
    return KS_OK;
}

bool ks__pii_tally_add(ks_pii_tally *t, const ks_tmatch *m, bool reveal)
{
    size_t ty = 0;
    while (ty < t->ntypes && strcmp(t->types[ty], m->type))
        ty++;
    if (ty == t->ntypes) {
        if (t->ntypes == KS_PII_MAX_TYPES)
            return false;
        t->types[t->ntypes++] = m->type;
    }
    t->counts[ty]++;
    if (m->severity > t->sev)
        t->sev = m->severity;
    size_t known = val_find(t, m->sha256);
    if (known) {
        t->v[known - 1].count++;
        return true;
    }
    uint64_t *slot = NULL;
    if (t->nv >= KS_PII_MAX_VALUES || ks__grow(&t->v, &t->capv, t->nv, sizeof *t->v, 16) != KS_OK ||
        val_index(t) != KS_OK || (t->ix && !(slot = ks__map_slot(t->ix, m->sha256, 32, true)))) {
        t->dropped++;
        return true;
    }
    ks_pii_val *v = &t->v[t->nv];
    memset(v, 0, sizeof *v);
    memcpy(v->sha, m->sha256, 32);
    v->type = m->type;
    v->count = 1;
    memcpy(v->redacted, m->redacted, sizeof v->redacted);
    if (reveal)
        v->clear = strndup(m->norm, m->nnorm);
    if (slot)
        *slot = t->nv + 1;
    t->nv++;
    return true;
}

size_t ks__pii_tally_counts(const ks_pii_tally *t, char (*counts)[24], ks_kv *det, uint64_t *sum)
{
    *sum = 0;
    for (size_t i = 0; i < t->ntypes; i++) {
        snprintf(counts[i], sizeof counts[i], "%llu", (unsigned long long)t->counts[i]);
        det[i] = (ks_kv){t->types[i], counts[i]};
        *sum += t->counts[i];
    }
    return t->ntypes;
}

void ks__pii_tally_values(const ks_pii_tally *t, ks_fvalue *vals, char (*hex)[65])
{
    for (size_t i = 0; i < t->nv; i++) {
        ks__hex(t->v[i].sha, 32, hex[i]);
        vals[i] = (ks_fvalue){.type = t->v[i].type, .sha256 = hex[i], .redacted = t->v[i].redacted,
                              .clear = t->v[i].clear, .count = t->v[i].count};
    }
}

void ks__pii_tally_release(ks_pii_tally *t)
{
    for (size_t i = 0; i < t->nv; i++)
        free(t->v[i].clear);
    free(t->v);
    ks__map_free(t->ix);
    memset(t, 0, sizeof *t);
}
