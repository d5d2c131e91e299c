/* SPDX-License-Identifier: Apache-2.0
 *
 * Rate limits: one token bucket per key (a client address, an account),
 * refilled at `rate` per second up to `rate * burst`. A request that finds
 * its bucket empty gets 429 with Retry-After: the seconds until a token is
 * back. The table is bounded: past MAX_KEYS it starts afresh, so a flood of
 * spoofed keys costs memory once, not forever.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "httpd/portal.h"

#define MAX_KEYS 200000

typedef struct bucket {
    double tokens;
    uint64_t last;   /* monotonic ns of the last refill */
} bucket;

struct portal_limits {
    pthread_mutex_t mu;
    double rate, cap;
    ks_map *keys;    /* key -> index + 1 in b */
    bucket *b;
    size_t n, capb;
};

portal_limits *portal_limits_new(double rate, double burst)
{
    portal_limits *l;
    if (rate <= 0)
        return NULL; /* unlimited */
    if (!(l = calloc(1, sizeof *l)))
        return NULL;
    pthread_mutex_init(&l->mu, NULL);
    l->rate = rate;
    l->cap = rate * (burst > 0 ? burst : 2.0);
    if (l->cap < 1)
        l->cap = 1;
    return l;
}

void portal_limits_free(portal_limits *l)
{
    if (!l)
        return;
    ks__map_free(l->keys);
    free(l->b);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

unsigned portal_limits_take(portal_limits *l, const char *key)
{
    unsigned wait = 0;
    uint64_t now = ks__now_ns();
    if (!l)
        return 0;
    pthread_mutex_lock(&l->mu);
    if (l->n >= MAX_KEYS) {
        ks__map_free(l->keys);
        l->keys = NULL;
        l->n = 0;
    }
    if (!l->keys)
        l->keys = ks__map_new(1024);
    uint64_t *slot = l->keys ? ks__map_slot(l->keys, key, strlen(key), true) : NULL;
    if (!slot || (*slot == 0 && ks__grow(&l->b, &l->capb, l->n, sizeof *l->b, 256) != KS_OK)) {
        pthread_mutex_unlock(&l->mu);
        return 1; /* out of memory: refuse rather than go unlimited */
    }
    if (*slot == 0) {
        l->b[l->n].tokens = l->cap;
        l->b[l->n].last = now;
        *slot = ++l->n;
    }
    bucket *b = &l->b[*slot - 1];
    b->tokens += (double)(now - b->last) / 1e9 * l->rate;
    if (b->tokens > l->cap)
        b->tokens = l->cap;
    b->last = now;
    if (b->tokens >= 1.0)
        b->tokens -= 1.0;
    else
        wait = (unsigned)ceil((1.0 - b->tokens) / l->rate);
    pthread_mutex_unlock(&l->mu);
    return wait ? wait : 0;
}
