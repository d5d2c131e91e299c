/* SPDX-License-Identifier: Apache-2.0
 *
 * The SIGBUS guard of mapped evidence (see source.h). A mapped file that
 * shrinks while it is read (log rotation with copytruncate, a live .evtx)
 * makes every access past its new end raise SIGBUS, which used to kill the
 * run and every finding with it.
 *
 * Each mapping a source makes is registered in a fixed table. On SIGBUS
 * inside a registered mapping the handler maps anonymous zero pages over
 * the rest of it (MAP_FIXED) and returns: the faulting read is retried and
 * sees zeros, whatever code made it (an input, libyara, a hash). The slot
 * remembers the first faulting offset; the source then ends its stream
 * there (ks__source_window) and the dispatcher reports the file.
 *
 * Why not siglongjmp out of the reader: the read may be inside libyara or
 * under a lock (ks__emit copying borrowed evidence), which a jump would
 * leave half-done. Zero pages keep every caller's state consistent.
 *
 * A SIGBUS outside the table is not ours: the previous disposition is
 * restored (or the previous handler called) so a real fault still stops
 * the process as before. The handler uses only atomics and mmap(2).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "source.h"

#define GUARD_SLOTS 4096

typedef struct guard_slot {
    atomic_int used;            /* claimed by a source */
    atomic_uintptr_t base;      /* published last: 0 = not active */
    atomic_size_t len;
    atomic_uint_fast64_t fault; /* first faulting offset + 1, 0 = none */
} guard_slot;

static guard_slot slots[GUARD_SLOTS];
static struct sigaction old_bus;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static uintptr_t page_size = 4096;
static bool installed;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    for (size_t i = 0; i < GUARD_SLOTS; i++) {
        uintptr_t b = atomic_load_explicit(&slots[i].base, memory_order_acquire);
        size_t n = atomic_load_explicit(&slots[i].len, memory_order_relaxed);
        if (!b || a < b || a - b >= n)
            continue;
        uintptr_t pg = a & ~(page_size - 1);
        uintptr_t end = (b + n + page_size - 1) & ~(page_size - 1);
        if (mmap((void *)pg, end - pg, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) ==
            MAP_FAILED)
            break; /* cannot repair: fall through to the old disposition */
        uint_fast64_t off = (uint_fast64_t)(pg - b) + 1, cur = 0;
        atomic_compare_exchange_strong(&slots[i].fault, &cur, off);
        return;
    }
    if (old_bus.sa_flags & SA_SIGINFO) {
        if (old_bus.sa_sigaction) {
            old_bus.sa_sigaction(sig, si, uc);
            return;
        }
    } else if (old_bus.sa_handler != SIG_DFL && old_bus.sa_handler != SIG_IGN) {
        old_bus.sa_handler(sig);
        return;
    }
    /* Not ours: the default action happens when the access is retried. */
    signal(SIGBUS, SIG_DFL);
}

static void install(void)
{
    struct sigaction sa;
    long ps = sysconf(_SC_PAGESIZE);
    if (ps > 0)
        page_size = (uintptr_t)ps;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    installed = sigaction(SIGBUS, &sa, &old_bus) == 0;
}

int ks__guard_add(const void *base, size_t len)
{
    pthread_once(&once, install);
    if (!installed || !base || !len)
        return -1;
    for (int i = 0; i < GUARD_SLOTS; i++) {
        int z = 0;
        if (atomic_load_explicit(&slots[i].used, memory_order_relaxed) ||
            !atomic_compare_exchange_strong(&slots[i].used, &z, 1))
            continue;
        atomic_store(&slots[i].fault, 0);
        atomic_store(&slots[i].len, len);
        atomic_store_explicit(&slots[i].base, (uintptr_t)base, memory_order_release);
        return i;
    }
    return -1; /* table full: this mapping is unguarded (see docs/LIMITS.md) */
}

uint64_t ks__guard_fault(int slot)
{
    if (slot < 0 || slot >= GUARD_SLOTS)
        return UINT64_MAX;
    uint_fast64_t f = atomic_load_explicit(&slots[slot].fault, memory_order_acquire);
    return f ? (uint64_t)(f - 1) : UINT64_MAX;
}

void ks__guard_remove(int slot)
{
    if (slot < 0 || slot >= GUARD_SLOTS)
        return;
    atomic_store_explicit(&slots[slot].base, 0, memory_order_release);
    atomic_store(&slots[slot].used, 0);
}
