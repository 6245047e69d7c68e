/* pool.c — the worker pool of the threaded wasm build (contract in pool.h).
 *
 * The threaded build (-matomics, one shared memory) is instantiated once per
 * thread by web/threads.js. The owning thread (thread 0) allocates a block
 * per worker — stack, thread-local storage, gemm packing buffers — with
 * rnnlab_pool_start; each worker instance moves onto its stack, sets up its
 * TLS and calls rnnlab_worker_main, which waits for jobs until
 * rnnlab_pool_stop. Every other build compiles the serial pool_run only.
 *
 * A job: the owner publishes task and ctx, then a 64-bit counter holding
 * (generation << 32 | chunk count << 16 | next chunk). Every thread, the
 * owner included, claims chunks by compare-and-swap on that counter; the
 * count travels in the same word as the claims, so a worker that read the
 * last job's counter never claims against the next job's count, and the
 * generation makes a claim from an earlier job fail. The owner waits
 * (spinning: a page's main thread cannot block) until every chunk is done.
 * Workers spin for a while after a job, then sleep in Atomics.wait, each on
 * a word of its own, woken by Atomics.notify only when a job needs them: a
 * light job (under WAKE_MIN_FLOPS) runs on the owner alone while a worker
 * sleeps, and only wakes it for the jobs after (waking takes longer than
 * such a job). Both go through JS
 * imports: Node 20's baseline compiler loses locals live across the wasm wait
 * instruction, and with the wasm notify instruction the owner's job now and
 * then came out with other bits (a local such as the chunk count lost, so the
 * owner did not wait for a worker's chunk): never since it calls JS. (The
 * count then had a word of its own, read after the counter: a worker could
 * claim against the next job's count before its counter was published. That
 * race may have been the cause; the count now travels in the counter.)
 *
 * A worker that dies (its JS catches the trap, or the runtime reports its
 * exit, and sets its `dead` word) or stops making progress for 30 s: the
 * owner finishes the job's missing chunks itself, so the call completes with
 * the same bits, and from then on runs every job alone; `lost` tells JS,
 * which reports it on the next call.
 */
#include "pool.h"
#include "gemm.h"

#include <stddef.h>

#define CHUNK_MIN_FLOPS 400000.0 /* below this a chunk does not pay for its fork */
#define CHUNKS_PER_THREAD 4      /* so that a faster core can take more of them */

static double min_flops(void);

/* The chunk counts a plan can have are ceil(extent / step) for steps that
 * are multiples of align. Of those up to `want`, the plan takes the one
 * that keeps every thread busiest: n chunks on t threads take ceil(n / t)
 * rounds, so 3 chunks on 2 threads leave a thread idle a third of the time
 * where 2 or 4 would not. Ties go to more chunks, for the unequal cores. */
int pool_plan(int extent, int align, double flops, int *step) {
    int threads = pool_threads();
    double worth = flops / min_flops(); /* chunks the work pays for */
    int want = threads * CHUNKS_PER_THREAD;
    if (worth < want) want = (int)worth;
    if (want > POOL_MAX_CHUNKS) want = POOL_MAX_CHUNKS;
    *step = extent;
    if (threads <= 1 || want < 2 || extent <= align) return 1;
    int best = 1;
    double best_use = 0.0;
    for (int k = want; k >= 2; k--) {
        int s = ((extent + k - 1) / k + align - 1) / align * align;
        int n = (extent + s - 1) / s, rounds = (n + threads - 1) / threads;
        double use = (double)extent / ((double)threads * rounds * s); /* share of the threads' time at work */
        if (n >= 2 && use > best_use + 1e-9) {
            best_use = use;
            best = n;
            *step = s;
        }
    }
    if (best < 2) *step = extent;
    return best;
}

#if !defined(__wasm_atomics__)

/* The native tests check that the split does not change the bits: with
 * pool_pretend(n) the callers plan for n threads, and the chunks run here
 * last to first, on thread 0. */
static int pretend = 1, busy = 0;

void pool_pretend(int threads) { pretend = threads < 1 ? 1 : threads; }

/* pretending, every piece of work is split, however small */
static double min_flops(void) { return pretend > 1 ? 1.0 : CHUNK_MIN_FLOPS; }

int pool_threads(void) { return busy ? 1 : pretend; }

void pool_run(int chunks, pool_task task, void *ctx, double flops) {
    busy++;
    if (pretend > 1)
        for (int c = chunks - 1; c >= 0; c--) task(ctx, c, 0);
    else
        for (int c = 0; c < chunks; c++) task(ctx, c, 0);
    busy--;
}

float *pool_workspace(int thread) { return NULL; }

int pool_self(void) { return 0; }

/* The exports of the threaded build, inert here: no threads to start. */
void *rnnlab_pool_start(int threads) { return NULL; }
int rnnlab_pool_use(int threads) { return threads == 1 ? 0 : -1; }
void rnnlab_pool_stop(void) {}
int *rnnlab_pool_word(int what, int thread) { return NULL; }
void rnnlab_worker_main(int thread) {}

#else /* __wasm_atomics__ */

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

__attribute__((import_module("env"), import_name("rnnlab_wait")))
void rnnlab_wait(int *word, int expected);
__attribute__((import_module("env"), import_name("rnnlab_notify")))
void rnnlab_notify(int *word);
__attribute__((import_module("env"), import_name("rnnlab_now")))
double rnnlab_now(void);
extern void __wasm_init_tls(void *block);

#define WORKER_STACK (128 * 1024)
#define WAKE_MIN_FLOPS 4e6 /* about 0.1 ms on one thread: less than a sleeping worker takes to wake */
#define SPIN_BEFORE_SLEEP 200000 /* loads of the wake word, about 0.2-1 ms */
#define STALL_MS 30000.0

/* One cache line per worker: the owner writes `word`, the worker `sleeping`. */
struct slot {
    _Atomic int word;     /* generation of the last wake-up */
    _Atomic int sleeping; /* 1 while in (or about to enter) Atomics.wait */
    _Atomic int dead;     /* set by JS when the worker's thread ended */
    _Atomic int poison;   /* fault injection for the tests: trap in the next chunk */
    char pad[64 - 4 * sizeof(int)];
};

#define COUNT_SHIFT 16
#define CLAIM_MASK 0xffffu
_Static_assert(POOL_MAX_CHUNKS <= (int)CLAIM_MASK, "chunk counts fit the counter");

static struct {
    _Alignas(64) _Atomic uint64_t next; /* generation << 32 | chunks << 16 | next chunk */
    _Alignas(64) _Atomic int done;      /* chunks finished in this job */
    _Atomic(pool_task) task;
    _Atomic(void *) ctx;
    _Atomic int stop;
    _Atomic int lost; /* 1 + the worker that was lost, 0 while none */
    _Atomic int busy; /* a job is running: tasks see one thread */
    _Atomic unsigned char chunk_state[POOL_MAX_CHUNKS]; /* CLAIMED, STARTED, DONE */
    _Atomic int torn; /* a chunk was left half done: that call's results cannot be trusted */
    uint32_t generation;
    int threads, started;
    float *workspace[POOL_MAX_THREADS];
    void *tls_main;
    struct slot slot[POOL_MAX_THREADS];
} pool = {.threads = 1};

/* Thread-local: each thread's instance set up its own TLS block (web/threads.js). */
static _Thread_local int self;

int pool_self(void) { return self; }

int pool_threads(void) { return atomic_load(&pool.busy) ? 1 : pool.threads; }

static double min_flops(void) { return CHUNK_MIN_FLOPS; }

float *pool_workspace(int thread) {
    return thread > 0 && thread < POOL_MAX_THREADS ? pool.workspace[thread] : NULL;
}

enum { CLAIMED, STARTED, DONE };

/* Claims and runs chunks of the current job until none is left. */
static void run_chunks(int thread) {
    for (;;) {
        uint64_t cur = atomic_load(&pool.next);
        uint32_t at = (uint32_t)cur & CLAIM_MASK, chunks = ((uint32_t)cur >> COUNT_SHIFT) & CLAIM_MASK;
        if (at >= chunks) return;
        if (!atomic_compare_exchange_weak(&pool.next, &cur, cur + 1)) continue;
        if (thread > 0 && atomic_load(&pool.slot[thread].poison)) __builtin_trap(); /* the chunk is lost */
        atomic_store(&pool.chunk_state[at], STARTED);
        atomic_load(&pool.task)(atomic_load(&pool.ctx), (int)at, thread);
        atomic_store(&pool.chunk_state[at], DONE);
        atomic_fetch_add(&pool.done, 1);
    }
}

static void wake(int thread, int generation) {
    struct slot *s = &pool.slot[thread];
    atomic_store(&s->word, generation);
    if (atomic_load(&s->sleeping)) rnnlab_notify((int *)&s->word);
}

static int any_dead(int used) {
    for (int t = 1; t < used; t++)
        if (atomic_load(&pool.slot[t].dead)) return t;
    return 0;
}

static void lose(int worker);

/* A worker is gone (or stalled): no more claims; every chunk nobody started
 * is run here. Tasks work in place (a step turns pre-activations into gates),
 * so a chunk a worker was inside when it died cannot be run again: after
 * waiting a moment for live workers, such a chunk marks the job torn, and JS
 * says this call's results cannot be trusted. */
static void recover(int chunks, int worker) {
    uint64_t cur = atomic_load(&pool.next);
    while (!atomic_compare_exchange_weak(&pool.next, &cur, (cur & ~(uint64_t)CLAIM_MASK) | (uint32_t)chunks)) {}
    uint32_t at = (uint32_t)cur & CLAIM_MASK, claimed = at < (uint32_t)chunks ? at : (uint32_t)chunks;
    pool_task task = atomic_load(&pool.task);
    void *ctx = atomic_load(&pool.ctx);
    for (int c = (int)claimed; c < chunks; c++) task(ctx, c, 0);
    double until = rnnlab_now() + 100.0;
    while (atomic_load(&pool.done) < (int)claimed && rnnlab_now() < until) {}
    for (int c = 0; c < (int)claimed; c++) {
        int state = atomic_load(&pool.chunk_state[c]);
        if (state == CLAIMED) task(ctx, c, 0);
        else if (state == STARTED) atomic_store(&pool.torn, 1);
    }
    lose(worker);
}

/* Waits until every chunk is done, watching for lost workers. */
static void join(int chunks, int used) {
    unsigned spins = 0;
    int seen = -1;
    double since = 0.0;
    for (;;) {
        int done = atomic_load(&pool.done);
        if (done >= chunks) return;
        if (++spins & 0x3fff) continue;
        int dead = any_dead(used);
        double now = rnnlab_now();
        if (done != seen) { seen = done; since = now; }
        if (dead || now - since > STALL_MS) { recover(chunks, dead ? dead : 1); return; }
    }
}

/* From now on every job runs on the owning thread alone; JS learns why. */
static void lose(int worker) {
    pool.threads = 1;
    int none = 0;
    atomic_compare_exchange_strong(&pool.lost, &none, worker + 1);
}

/* A light job while a worker sleeps: wakes the sleepers (for the jobs that
 * follow) and says to run this one alone. A woken worker finds the last
 * job's counter spent and goes back to waiting, spinning first. */
static int rouse(int used, double flops) {
    if (flops >= WAKE_MIN_FLOPS) return 0;
    int asleep = 0;
    for (int t = 1; t < used; t++) asleep |= atomic_load(&pool.slot[t].sleeping);
    if (!asleep) return 0;
    uint32_t generation = ++pool.generation;
    for (int t = 1; t < used; t++)
        if (atomic_load(&pool.slot[t].sleeping)) wake(t, (int)generation);
    return 1;
}

void pool_run(int chunks, pool_task task, void *ctx, double flops) {
    int used = pool.threads < chunks ? pool.threads : chunks;
    int dead = used > 1 ? any_dead(pool.threads) : 0;
    if (dead) lose(dead);
    atomic_fetch_add(&pool.busy, 1);
    if (dead || used <= 1 || chunks > POOL_MAX_CHUNKS || atomic_load(&pool.busy) > 1 || rouse(used, flops)) {
        for (int c = 0; c < chunks; c++) task(ctx, c, 0); /* alone (callers plan at most that many) */
        atomic_fetch_sub(&pool.busy, 1);
        return;
    }
    atomic_store(&pool.task, task);
    atomic_store(&pool.ctx, ctx);
    for (int c = 0; c < chunks; c++) atomic_store(&pool.chunk_state[c], CLAIMED);
    atomic_store(&pool.done, 0);
    uint32_t generation = ++pool.generation;
    atomic_store(&pool.next, (uint64_t)generation << 32 | (uint32_t)chunks << COUNT_SHIFT);
    for (int t = 1; t < used; t++) wake(t, (int)generation);
    run_chunks(0);
    join(chunks, used);
    atomic_fetch_sub(&pool.busy, 1);
}

/* ---- the workers' side --------------------------------------------------- */

static int wait_for_job(struct slot *s, int seen) {
    for (int i = 0; i < SPIN_BEFORE_SLEEP; i++) {
        int w = atomic_load(&s->word);
        if (w != seen) return w;
    }
    atomic_store(&s->sleeping, 1);
    for (;;) {
        int w = atomic_load(&s->word);
        if (w != seen) {
            atomic_store(&s->sleeping, 0);
            return w;
        }
        rnnlab_wait((int *)&s->word, seen);
    }
}

/* A worker's life, after web/threads.js gave it its stack and TLS. */
void rnnlab_worker_main(int thread) {
    struct slot *s = &pool.slot[thread];
    self = thread;
    int seen = atomic_load(&s->word);
    for (;;) {
        seen = wait_for_job(s, seen);
        if (atomic_load(&pool.stop)) return;
        run_chunks(thread);
    }
}

/* ---- the owner's side ---------------------------------------------------- */

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* Allocates every worker's block and returns a table of 2 * threads words:
 * for worker t, [2t] its stack top and [2t + 1] its TLS block (row 0 is the
 * owner's: 0 and its TLS). NULL when threads is out of range, a pool is
 * already started, or memory is short. */
void *rnnlab_pool_start(int threads) {
    static uintptr_t table[2 * POOL_MAX_THREADS];
    if (threads < 1 || threads > POOL_MAX_THREADS || pool.started) return NULL;
    size_t tls = align_up(__builtin_wasm_tls_size(), 64);
    if (!pool.tls_main) {
        pool.tls_main = aligned_alloc(64, tls ? tls : 64);
        if (!pool.tls_main) return NULL;
        __wasm_init_tls(pool.tls_main);
    }
    table[0] = 0;
    table[1] = (uintptr_t)pool.tls_main;
    size_t ws = align_up(GEMM_WORKSPACE_FLOATS * sizeof(float), 64);
    for (int t = 1; t < threads; t++) {
        char *block = aligned_alloc(64, WORKER_STACK + tls + ws);
        if (!block) return NULL; /* the blocks so far stay: the engine is dropped */
        table[2 * t] = (uintptr_t)(block + WORKER_STACK);
        table[2 * t + 1] = (uintptr_t)(block + WORKER_STACK);
        pool.workspace[t] = (float *)(block + WORKER_STACK + tls);
    }
    pool.started = threads;
    return table;
}

/* Jobs use `threads` threads from now on (all started and ready). */
int rnnlab_pool_use(int threads) {
    if (threads < 1 || threads > (pool.started > 0 ? pool.started : 1)) return -1;
    pool.threads = threads;
    return 0;
}

void rnnlab_pool_stop(void) {
    pool.threads = 1;
    atomic_store(&pool.stop, 1);
    for (int t = 1; t < pool.started; t++) wake(t, (int)++pool.generation);
}

/* Addresses JS reads and writes: what 0 = a worker's `dead` word, 1 =
 * `lost`, 2 = a worker's `poison` word (tests make a worker trap with it),
 * 3 = `torn`. */
int *rnnlab_pool_word(int what, int thread) {
    if (what == 0 && thread > 0 && thread < POOL_MAX_THREADS) return (int *)&pool.slot[thread].dead;
    if (what == 1) return (int *)&pool.lost;
    if (what == 3) return (int *)&pool.torn;
    if (what == 2 && thread > 0 && thread < POOL_MAX_THREADS) return (int *)&pool.slot[thread].poison;
    return NULL;
}

#endif /* __wasm_atomics__ */
