/* SPDX-License-Identifier: Apache-2.0
 *
 * Large growable arrays in a mapping of their own (see core.h). An
 * analytics vector grown by doubling through realloc costs, at each
 * doubling, the old and the new copy at once; and once the process has
 * freed a large block, glibc's dynamic mmap threshold (up to 32 MiB) puts
 * such vectors in the heap, where the copies stay resident. mremap moves
 * the pages instead: no copy, nothing held twice, only written pages
 * count.
 */
#include <sys/mman.h>
#include <unistd.h>
#include "core.h"

#define HUGE_PAGE ((size_t)2 << 20) /* x86-64 THP size */

static size_t pages(size_t n)
{
    static size_t pg;
    if (!pg) {
        long p = sysconf(_SC_PAGESIZE);
        pg = p > 0 ? (size_t)p : 4096;
    }
    return (n + pg - 1) / pg * pg;
}

void *ks__vm_resize(void *p, size_t old, size_t size)
{
    void *n;
    if (!size)
        return NULL;
    if (!p)
        n = mmap(NULL, pages(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    else if (pages(old) == pages(size))
        return p;
    else
        n = mremap(p, pages(old), pages(size), MREMAP_MAYMOVE);
    if (n == MAP_FAILED)
        return NULL;
    /* Huge pages once it is that large: such a vector is written front to
     * back (at most one 2 MiB page unused), and in 4 KiB pages each page
     * was a fault (a spray's 2.5M identity records: ~15k, 1.4 % of the
     * identity-only 1 GB EVTX hunt's samples) and the finish's reads
     * across it missed the TLB. Advice only: without THP nothing changes. */
    if (pages(size) >= HUGE_PAGE)
        madvise(n, pages(size), MADV_HUGEPAGE);
    return n;
}

void ks__vm_free(void *p, size_t size)
{
    if (p && size)
        munmap(p, pages(size));
}
