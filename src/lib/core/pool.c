/* SPDX-License-Identifier: Apache-2.0
 *
 * Thread pool: a fixed set of threads sized to the cores, one FIFO queue of
 * coarse tasks (a file, or a chunk range of a big file). Tasks are big
 * enough (milliseconds or more) that one mutex-guarded queue does not
 * contend; per-task work is chunked by the submitter instead of stolen.
 * A task may submit further tasks (a file splitting into parts).
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "core.h"

typedef struct task {
    struct task *next;
    ks_task_fn fn;
    void *arg;
} task;

typedef struct worker_arg {
    struct ks_pool *pool;
    int id;
} worker_arg;

struct ks_pool {
    pthread_mutex_t lock;
    pthread_cond_t work;     /* a task arrived or stopping */
    pthread_cond_t idle;     /* queue empty and no task running */
    task *head, *tail;       /* FIFO */
    int running;             /* tasks being executed */
    bool stop;
    int n;                   /* threads */
    pthread_t *threads;
    worker_arg *args;
};

int ks__ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)KS_MIN(n, 256) : 1;
}

static void *worker_main(void *p)
{
    worker_arg *wa = p;
    ks_pool *pool = wa->pool;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->head && !pool->stop)
            pthread_cond_wait(&pool->work, &pool->lock);
        if (!pool->head && pool->stop)
            break;
        task *t = pool->head;
        pool->head = t->next;
        if (!pool->head)
            pool->tail = NULL;
        pool->running++;
        pthread_mutex_unlock(&pool->lock);
        t->fn(t->arg, wa->id);
        free(t);
        pthread_mutex_lock(&pool->lock);
        pool->running--;
        if (!pool->head && pool->running == 0)
            pthread_cond_broadcast(&pool->idle);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

int ks__pool_new(int nthreads, ks_pool **out)
{
    ks_pool *p = calloc(1, sizeof *p);
    int rc = KS_ENOMEM;
    if (!p)
        return KS_ENOMEM;
    if (nthreads <= 0)
        nthreads = ks__ncpu();
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->threads = calloc((size_t)nthreads, sizeof *p->threads);
    p->args = calloc((size_t)nthreads, sizeof *p->args);
    if (!p->threads || !p->args)
        goto out;
    for (int i = 0; i < nthreads; i++) {
        p->args[i].pool = p;
        p->args[i].id = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]) != 0) {
            rc = KS_EINTERNAL;
            goto out;
        }
        p->n++;
    }
    *out = p;
    return KS_OK;
out:
    ks__pool_free(p);
    return rc;
}

int ks__pool_submit(ks_pool *p, ks_task_fn fn, void *arg)
{
    task *t = malloc(sizeof *t);
    if (!t)
        return KS_ENOMEM;
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    return KS_OK;
}

void ks__pool_wait(ks_pool *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->head || p->running)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

int ks__pool_size(const ks_pool *p)
{
    return p->n;
}

void ks__pool_free(ks_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    while (p->head) {
        task *t = p->head;
        p->head = t->next;
        free(t);
    }
    free(p->threads);
    free(p->args);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
