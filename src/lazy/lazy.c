/* SPDX-License-Identifier: Apache-2.0
 *
 * Lazy binding of the kensa command's heavy libraries (x86-64 builds).
 * scripts/lazylibs.sh generates a stub for every function kensa calls in
 * one of the Makefile's LAZY_LIBS; a stub jumps through its slot, which
 * first leads here: the library is dlopen()ed on the first call into it
 * and the function looked up, so a run that reads an EVTX file never maps
 * the PDF, mail, git, HTTP, Kafka, NATS or phone-number libraries and
 * their ~90 dependencies (~50 of the process start's 64 ms CPU before,
 * spent by the dynamic linker and the kernel mapping them). A library that
 * cannot be loaded ends the program the way the dynamic linker would have
 * at start, naming it (exit 127).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <unistd.h>

#define LAZY_HIDDEN __attribute__((visibility("hidden")))

/* The generated tables (build/lazy.S): per symbol its name, library index
 * and slot; per library its soname. */
extern const char *const lazy_lib_names[] LAZY_HIDDEN;
extern const char *const lazy_sym_names[] LAZY_HIDDEN;
extern const uint32_t lazy_sym_lib[] LAZY_HIDDEN;
extern const uint32_t lazy_nsyms LAZY_HIDDEN, lazy_nlibs LAZY_HIDDEN;
extern void *lazy_slot[] LAZY_HIDDEN;

void *lazy_resolve(uint32_t i) LAZY_HIDDEN;

#define LAZY_MAX_LIBS 64

static pthread_mutex_t lazy_lock = PTHREAD_MUTEX_INITIALIZER;
static void *lazy_handle[LAZY_MAX_LIBS]; /* under lazy_lock */

static void lazy_die(const char *lib, const char *what)
{
    const char *err = dlerror();
    fprintf(stderr, "kensa: error while loading shared libraries: %s: %s%s%s\n", lib, what,
            err ? ": " : "", err ? err : "");
    _exit(127);
}

/* Called by a stub's first use (any thread): the function's address, also
 * stored in its slot so later calls jump straight to it. Threads racing
 * on one slot store the same address. */
void *lazy_resolve(uint32_t i)
{
    void *fn = NULL;
    if (i >= lazy_nsyms || lazy_sym_lib[i] >= lazy_nlibs || lazy_sym_lib[i] >= LAZY_MAX_LIBS)
        lazy_die("?", "bad stub index");
    uint32_t l = lazy_sym_lib[i];
    pthread_mutex_lock(&lazy_lock);
    /* RTLD_GLOBAL: its symbols serve libraries loaded later, as at start */
    if (!lazy_handle[l] && !(lazy_handle[l] = dlopen(lazy_lib_names[l], RTLD_LAZY | RTLD_GLOBAL)))
        lazy_die(lazy_lib_names[l], "cannot open shared object file");
    fn = dlsym(lazy_handle[l], lazy_sym_names[i]);
    if (!fn)
        lazy_die(lazy_lib_names[l], lazy_sym_names[i]);
    __atomic_store_n(&lazy_slot[i], fn, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&lazy_lock);
    return fn;
}
