/* SPDX-License-Identifier: Apache-2.0
 *
 * ks_strpool (core.h): distinct strings under small integer ids, so that
 * aggregating detectors keep 4-byte ids in their records instead of
 * pointers into evidence that is gone after the event.
 */
#include <stdlib.h>
#include <string.h>
#include "core/core.h"

int ks__strpool_init(ks_strpool *p)
{
    memset(p, 0, sizeof *p);
    p->ids = ks__map_new(256);
    if (!p->ids || ks__grow(&p->s, &p->cap, 0, sizeof *p->s, 256) != KS_OK) {
        ks__map_free(p->ids);
        p->ids = NULL;
        return KS_ENOMEM;
    }
    p->s[0] = NULL;
    p->n = 1;
    return KS_OK;
}

void ks__strpool_release(ks_strpool *p)
{
    for (size_t i = 1; i < p->n; i++)
        free(p->s[i]);
    free(p->s);
    ks__map_free(p->ids);
    memset(p, 0, sizeof *p);
}

uint32_t ks__strpool_add(ks_strpool *p, const char *s, size_t n)
{
    if (!p->ids || n == 0 || p->n >= UINT32_MAX)
        return 0;
    uint64_t *slot = ks__map_slot(p->ids, s, n, true);
    if (!slot)
        return 0;
    if (*slot)
        return (uint32_t)*slot;
    char *copy = malloc(n + 1);
    if (!copy || ks__grow(&p->s, &p->cap, p->n, sizeof *p->s, 256) != KS_OK) {
        free(copy);
        return 0;
    }
    memcpy(copy, s, n);
    copy[n] = 0;
    p->s[p->n] = copy;
    *slot = p->n;
    return (uint32_t)p->n++;
}

const char *ks__strpool_get(const ks_strpool *p, uint32_t id)
{
    return id && id < p->n ? p->s[id] : "";
}
