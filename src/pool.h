/* pool.h — parallel loops over chunks of work, for the threaded wasm build.
 *
 * pool_run(chunks, task, ctx, flops) calls task(ctx, chunk, thread) once for
 * every chunk in [0, chunks) and returns when all of them are done; flops,
 * the job's work, tells whether it is worth waking a sleeping worker for.
 * Without a pool (native builds, the single-threaded wasm builds, or a
 * threaded build that runs on one thread) it is a plain loop on the calling
 * thread, thread 0.
 *
 * With a pool, the calling thread and the workers claim chunks from a shared
 * counter, so a faster or idler core takes more of them. A task must write
 * only its own chunk's outputs and compute them exactly as the serial code
 * does: then the results do not depend on the thread count or on which
 * thread ran which chunk. Tasks must not allocate (only the owning thread
 * may call malloc) and must not call pool_run themselves.
 */
#ifndef RNNLAB_POOL_H
#define RNNLAB_POOL_H

#define POOL_MAX_THREADS 16
#define POOL_MAX_CHUNKS 64

typedef void (*pool_task)(void *ctx, int chunk, int thread);

/* The threads that run chunks: 1 without a pool, and 1 inside a task (a
 * task's own work is never split again). */
int pool_threads(void);

void pool_run(int chunks, pool_task task, void *ctx, double flops);

/* Cuts `extent` (rows or columns) into chunks at multiples of `align` for
 * work of `flops`: enough chunks that a faster core can take more of them,
 * none so small that it does not pay for its fork, and a count that shares
 * evenly among the threads. Sets *step, the extent of a chunk (the last may
 * be shorter), and returns the number of chunks: 1 when the work is too small
 * to share or there is one thread. */
int pool_plan(int extent, int align, double flops, int *step);

/* The thread running this code: 0 for the owning thread (and everywhere
 * without a pool), 1.. for the workers. */
int pool_self(void);

/* The gemm packing buffers of a thread (gemm.h's GEMM_WORKSPACE_FLOATS):
 * NULL for thread 0, which uses gemm.c's static buffers. */
float *pool_workspace(int thread);

/* Builds without threads only (the native tests): plan for `threads` threads
 * and run the chunks in reverse order, to show the split changes no bits. */
void pool_pretend(int threads);

#endif
