/* bench_native.c — the rnnlab engine compiled natively, timed on the SPEC §10
 * workloads through the public API of src/rnnlab.h. Prints one JSON object.
 *
 *   gcc -O3 -march=native -std=c11 -Isrc tests/bench/bench_native.c \
 *       $(bash build.sh sources) -lm -o bench_native
 *   ./bench_native [budget_seconds_per_workload] [cells] [sizes]
 *       cells: comma list of rnn,lstm,gru (default all); sizes: S,M,LONG
 *
 * One training step = rnnlab_train_step (forward + BPTT + Adam), MSE,
 * many-to-many, linear head to Y = X; one forward = rnnlab_forward without
 * the loss. Each figure is the median of timed repetitions after warm-up.
 */
#define _POSIX_C_SOURCE 199309L
#include "rnnlab.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { const char *name; int X, H, B, T; } workload;
static const workload workloads[] = {
    {"S", 16, 64, 16, 32},
    {"M", 64, 256, 32, 64},
    {"LONG", 1, 128, 32, 512},
};
static const char *cell_names[] = {"rnn", "lstm", "gru"};
static const int cell_ids[] = {RNNLAB_CELL_RNN, RNNLAB_CELL_LSTM, RNNLAB_CELL_GRU};
static const int gates[] = {1, 4, 3};

#define MAX_REPS 25

static double clock_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}
static double now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
/* CPU time of the process, as process.cpuUsage() in the JS workers */
static double cpu_ms(void) { return clock_ms(CLOCK_PROCESS_CPUTIME_ID); }

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof v[0], compare_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Same policy as timeReps in common.js: at least min_reps runs and min_ms of
 * runs, at most MAX_REPS, and no new run past budget_ms, though never fewer
 * than 3 runs.
 * Wall-clock times into times, CPU times into cpu. */
static int time_reps(rnnlab_model *m, int train, double min_ms, double budget_ms,
                     double *times, double *cpu, const char **error) {
    int n = 0, min_reps = 5;
    double start = now_ms();
    for (;;) {
        double c0 = cpu_ms(), t0 = now_ms();
        rnnlab_status s = train ? rnnlab_train_step(m, 0) : rnnlab_forward(m, 0, 0);
        times[n] = now_ms() - t0;
        cpu[n++] = cpu_ms() - c0;
        if (s != RNNLAB_OK) { *error = rnnlab_last_error(m); return -1; }
        double elapsed = now_ms() - start;
        double sorted[MAX_REPS];
        memcpy(sorted, times, sizeof(double) * (size_t)n);
        double next = median(sorted, n);
        if (n >= MAX_REPS || (n >= 3 && elapsed + next > budget_ms)) break;
        if (n >= min_reps && elapsed >= min_ms) break;
    }
    return n;
}

static void print_times(const double *t, int n) {
    putchar('[');
    for (int i = 0; i < n; i++) printf("%s%.4f", i ? "," : "", t[i]);
    putchar(']');
}

/* "name":{"wallMs":..,"cpuMs":..,"reps":..,"wallGflops":..,"cpuGflops":..,"wall":[..],"cpu":[..]} */
static void print_timing(const char *name, const double *wall, const double *cpu, int n, double flops) {
    double a[MAX_REPS], b[MAX_REPS];
    memcpy(a, wall, sizeof(double) * (size_t)n);
    memcpy(b, cpu, sizeof(double) * (size_t)n);
    double mw = median(a, n), mc = median(b, n);
    printf("\"%s\":{\"wallMs\":%.4f,\"cpuMs\":%.4f,\"reps\":%d,\"wallGflops\":%.3f,\"cpuGflops\":%.3f,\"wall\":",
           name, mw, mc, n, flops / mw / 1e6, flops / mc / 1e6);
    print_times(wall, n);
    printf(",\"cpu\":");
    print_times(cpu, n);
    putchar('}');
}

static int listed(const char *list, const char *name) {
    if (!list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return 1;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    double budget_ms = (argc > 1 ? atof(argv[1]) : 3.0) * 1e3;
    const char *cells = argc > 2 ? argv[2] : NULL, *sizes = argc > 3 ? argv[3] : NULL;
    printf("{\"impl\":\"native\",\"compiler\":\"gcc %s\",\"results\":[", __VERSION__);
    int first = 1;
    for (int wi = 0; wi < 3; wi++) {
        const workload *w = &workloads[wi];
        if (!listed(sizes, w->name)) continue;
        for (int ci = 0; ci < 3; ci++) {
            if (!listed(cells, cell_names[ci])) continue;
            rnnlab_config cfg = rnnlab_config_default();
            cfg.cell = cell_ids[ci];
            cfg.input_size = w->X;
            cfg.hidden_size = w->H;
            cfg.output_size = w->X;
            cfg.layers = 1;
            cfg.output = RNNLAB_OUTPUT_SEQUENCE;
            cfg.loss = RNNLAB_LOSS_MSE;
            cfg.seed = 7;
            rnnlab_model *m = NULL;
            const char *error = NULL;
            if (rnnlab_create(&cfg, &m) != RNNLAB_OK) { error = rnnlab_global_error(); goto fail; }
            rnnlab_optimizer opt = rnnlab_optimizer_default(RNNLAB_OPT_ADAM);
            opt.lr = 1e-3f;
            if (rnnlab_set_optimizer(m, &opt) != RNNLAB_OK) { error = rnnlab_last_error(m); goto fail; }
            if (rnnlab_set_batch(m, w->B, w->T) != RNNLAB_OK) { error = rnnlab_last_error(m); goto fail; }
            size_t nx = 0, ny = 0;
            float *x = rnnlab_buffer(m, RNNLAB_BUF_X, &nx);
            float *y = rnnlab_buffer(m, RNNLAB_BUF_Y, &ny);
            if (!x || !y || nx != (size_t)w->B * w->T * w->X || ny != nx) { error = "unexpected x/y buffer sizes"; goto fail; }
            unsigned s = 12345; /* the same inputs as common.js, batch-major */
            for (size_t i = 0; i < ny; i++) {
                s = s * 1664525u + 1013904223u;
                y[i] = (float)((s >> 8) / 8388608.0 - 1.0); /* targets y = x */
            }
            for (int b = 0; b < w->B; b++) /* x is time-major (T, B, X) */
                for (int t = 0; t < w->T; t++)
                    memcpy(x + ((size_t)t * w->B + b) * w->X, y + ((size_t)b * w->T + t) * w->X,
                           sizeof(float) * w->X);
            float *stats = rnnlab_buffer(m, RNNLAB_BUF_STATS, NULL);
            double t0 = now_ms();
            if (rnnlab_train_step(m, 0) != RNNLAB_OK) { error = rnnlab_last_error(m); goto fail; }
            double first_ms = now_ms() - t0;
            float first_loss = stats[RNNLAB_STAT_LOSS];
            for (int i = 0; i < 2; i++) /* warm-up: caches, page faults */
                if (rnnlab_train_step(m, 0) != RNNLAB_OK) { error = rnnlab_last_error(m); goto fail; }
            double train[MAX_REPS], fwd[MAX_REPS], train_cpu[MAX_REPS], fwd_cpu[MAX_REPS];
            int nt = time_reps(m, 1, 400, budget_ms * 0.6, train, train_cpu, &error);
            if (nt < 0) goto fail;
            float last_loss = stats[RNNLAB_STAT_LOSS];
            if (rnnlab_forward(m, 0, 0) != RNNLAB_OK) { error = rnnlab_last_error(m); goto fail; }
            int nf = time_reps(m, 0, 300, budget_ms * 0.4, fwd, fwd_cpu, &error);
            if (nf < 0) goto fail;
            double flops_fwd = 2.0 * gates[ci] * w->H * (double)(w->X + w->H) * w->B * w->T;
            printf("%s\n{\"cell\":\"%s\",\"size\":\"%s\",\"X\":%d,\"H\":%d,\"B\":%d,\"T\":%d,"
                   "\"firstStepMs\":%.4f,\"loss\":{\"first\":%.6g,\"last\":%.6g},\"timing\":{",
                   first ? "" : ",", cell_names[ci], w->name, w->X, w->H, w->B, w->T, first_ms, first_loss, last_loss);
            print_timing("train", train, train_cpu, nt, 3 * flops_fwd);
            putchar(',');
            print_timing("forward", fwd, fwd_cpu, nf, flops_fwd);
            printf("}}");
            first = 0;
            rnnlab_free(m);
            fflush(stdout);
            continue;
        fail:
            printf("%s\n{\"cell\":\"%s\",\"size\":\"%s\",\"error\":\"", first ? "" : ",", cell_names[ci], w->name);
            for (const char *p = error ? error : "unknown"; *p; p++)
                if (*p == '"' || *p == '\\') printf("\\%c", *p);
                else if ((unsigned char)*p >= 0x20) putchar(*p);
            printf("\"}");
            first = 0;
            rnnlab_free(m);
        }
    }
    printf("\n]}\n");
    return 0;
}
