/* test_engine.c — the engine through its public API (src/rnnlab.h), natively,
 * under AddressSanitizer, LeakSanitizer and UBSan. Prints one line per test
 * (and up to 8 failed checks each) and ends with "P passed, F failed"; exits
 * nonzero on any failure.
 *
 *   gcc -std=c11 -Isrc -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
 *       tests/c/test_engine.c $(bash build.sh sources) \
 *       -lm -o build/native/test_engine
 *
 * Linked with -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc the
 * binary also counts the engine's allocations (tests marked "[alloc]"); without
 * those flags the same tests report "skip".
 *
 *   ./test_engine                    run every test
 *   ./test_engine --write-corpus DIR write the libFuzzer seed corpus (fuzz_load.c)
 */
#include "rnnlab.h"
#include "crc32.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- harness */

#include "check.h"
#include "pool.h"

#define CHECK_STATUS(expr, want)                                            \
    do {                                                                    \
        rnnlab_status got_ = (expr);                                        \
        CHECK(got_ == (want), "%s: status %d, expected %d (%s)", #expr,     \
              (int)got_, (int)(want), rnnlab_global_error());               \
    } while (0)

/* ---------------------------------------------------------------- allocation watch */

/* With -Wl,--wrap=malloc (and calloc, realloc) every call to these from the
 * engine and from this file lands in __wrap_*; __real_* is then the C
 * library's (or ASan's) function. Without the flags __real_* stay undefined
 * weak symbols (NULL) and nothing here is ever called. */
extern void *__real_malloc(size_t n) __attribute__((weak));
extern void *__real_calloc(size_t n, size_t size) __attribute__((weak));
extern void *__real_realloc(void *p, size_t n) __attribute__((weak));

static struct {
    int on;             /* count the calls below                             */
    long calls;         /* malloc, calloc and realloc calls while on         */
    size_t largest;     /* largest request in bytes while on                 */
    size_t refuse_over; /* when nonzero, requests above it return NULL       */
} watch;

/* Records one request; returns 0 when it is to be refused. */
static int allowed(size_t bytes) {
    if (!watch.on) return 1;
    watch.calls++;
    if (bytes > watch.largest) watch.largest = bytes;
    return !(watch.refuse_over && bytes > watch.refuse_over);
}

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n) { return allowed(n) ? __real_malloc(n) : NULL; }
void *__wrap_calloc(size_t n, size_t size) {
    size_t bytes = size && n > SIZE_MAX / size ? SIZE_MAX : n * size;
    return allowed(bytes) ? __real_calloc(n, size) : NULL;
}
void *__wrap_realloc(void *p, size_t n) { return allowed(n) ? __real_realloc(p, n) : NULL; }

static int wrapping_linked(void) {
    return __real_malloc != NULL && __real_calloc != NULL && __real_realloc != NULL;
}

static void watch_start(size_t refuse_over) {
    watch.calls = 0;
    watch.largest = 0;
    watch.refuse_over = refuse_over;
    watch.on = 1;
}

static void watch_stop(void) { watch.on = 0; }

#define ALLOC_SKIP "built without -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc"

/* ---------------------------------------------------------------- helpers */

typedef struct {
    const char *name;
    int cell, activation, reset_after;
} variant;

static const variant VARIANTS[] = {
    {"rnn-tanh", RNNLAB_CELL_RNN, RNNLAB_ACT_TANH, 0},
    {"rnn-relu", RNNLAB_CELL_RNN, RNNLAB_ACT_RELU, 0},
    {"lstm", RNNLAB_CELL_LSTM, RNNLAB_ACT_TANH, 0},
    {"gru", RNNLAB_CELL_GRU, RNNLAB_ACT_TANH, 0},
    {"gru-reset-after", RNNLAB_CELL_GRU, RNNLAB_ACT_TANH, 1},
};
enum { N_VARIANTS = sizeof VARIANTS / sizeof VARIANTS[0] };

static int gates_of(int cell) {
    return cell == RNNLAB_CELL_LSTM ? 4 : cell == RNNLAB_CELL_GRU ? 3 : 1;
}

static rnnlab_config make_config(const variant *v, int X, int H, int Y, int L) {
    rnnlab_config c = rnnlab_config_default();
    c.cell = v->cell;
    c.activation = v->activation;
    c.gru_reset_after = v->reset_after;
    c.input_size = X;
    c.hidden_size = H;
    c.output_size = Y;
    c.layers = L;
    return c;
}

static rnnlab_model *create_model(const rnnlab_config *c) {
    rnnlab_model *m = NULL;
    rnnlab_status st = rnnlab_create(c, &m);
    CHECK(st == RNNLAB_OK && m, "create (cell %d, X %d, H %d, Y %d, L %d): status %d: %s",
          c->cell, c->input_size, c->hidden_size, c->output_size, c->layers, (int)st,
          rnnlab_global_error());
    return m;
}

static float *fbuf(rnnlab_model *m, int id, size_t *n) {
    size_t dummy;
    return (float *)rnnlab_buffer(m, id, n ? n : &dummy);
}

/* splitmix64: the test's own deterministic data */
static uint64_t rng_s = 0x2545f4914f6cdd1dull;
static void rng_seed(uint64_t s) { rng_s = s; }
static uint64_t rng_u64(void) {
    uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float rng_float(float lo, float hi) {
    return lo + (hi - lo) * (float)((rng_u64() >> 40) * (1.0 / 16777216.0));
}

/* Random x, y, labels, h0, c0 in range; mask all ones. */
static void fill_batch(rnnlab_model *m) {
    rnnlab_config c;
    rnnlab_get_config(m, &c);
    size_t n;
    float *p;
    if ((p = fbuf(m, RNNLAB_BUF_X, &n))) for (size_t i = 0; i < n; i++) p[i] = rng_float(-1, 1);
    if ((p = fbuf(m, RNNLAB_BUF_Y, &n))) for (size_t i = 0; i < n; i++) p[i] = rng_float(-1, 1);
    if ((p = fbuf(m, RNNLAB_BUF_MASK, &n))) for (size_t i = 0; i < n; i++) p[i] = 1.0f;
    if ((p = fbuf(m, RNNLAB_BUF_H0, &n))) for (size_t i = 0; i < n; i++) p[i] = rng_float(-0.5f, 0.5f);
    if ((p = fbuf(m, RNNLAB_BUF_C0, &n))) for (size_t i = 0; i < n; i++) p[i] = rng_float(-0.5f, 0.5f);
    int32_t *lab = rnnlab_buffer(m, RNNLAB_BUF_LABELS, &n);
    if (lab) for (size_t i = 0; i < n; i++) lab[i] = (int32_t)(rng_u64() % (uint64_t)c.output_size);
}

typedef struct { uint8_t *bytes; size_t len; } image;

/* The saved image with optimiser state: parameters, moments, step count and
 * settings in one comparable block. */
static image snapshot(rnnlab_model *m) {
    image im = {NULL, 0};
    rnnlab_status st = rnnlab_save(m, 1, &im.bytes, &im.len);
    CHECK(st == RNNLAB_OK, "save: status %d: %s", (int)st, rnnlab_last_error(m));
    return im;
}

static int same_image(image a, image b) {
    return a.len == b.len && a.bytes && b.bytes && memcmp(a.bytes, b.bytes, a.len) == 0;
}

static void free_image(image *im) {
    rnnlab_bytes_free(im->bytes);
    im->bytes = NULL;
}

static int all_finite(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++) if (!isfinite(p[i])) return 0;
    return 1;
}

static int contains(const char *s, const char *part) { return s && strstr(s, part) != NULL; }

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void fix_crc(uint8_t *p, size_t len) { put_le32(p + len - 4, crc32_ieee(p, len - 4)); }

/* File offsets (serialize.c): config words from 16, optimiser words from 72,
 * step (f64) at 112, parameter count (u64) at 120, floats from 128. */
enum { OFF_VERSION = 8, OFF_FLAGS = 12, OFF_CONFIG = 16, OFF_OPT = 72, OFF_STEP = 112,
       OFF_COUNT = 120, OFF_PARAMS = 128 };

/* ---------------------------------------------------------------- config */

static void test_config_defaults(void) {
    rnnlab_config c = rnnlab_config_default();
    CHECK(c.cell == RNNLAB_CELL_LSTM, "cell %d", c.cell);
    CHECK(c.activation == RNNLAB_ACT_TANH, "activation %d", c.activation);
    CHECK(c.gru_reset_after == 0, "gru_reset_after %d", c.gru_reset_after);
    CHECK(c.input_size == 1 && c.hidden_size == 32 && c.output_size == 1 && c.layers == 1,
          "sizes X %d H %d Y %d L %d", c.input_size, c.hidden_size, c.output_size, c.layers);
    CHECK(c.output == RNNLAB_OUTPUT_SEQUENCE && c.loss == RNNLAB_LOSS_MSE, "output %d loss %d",
          c.output, c.loss);
    CHECK(c.init == RNNLAB_INIT_GLOROT && c.recurrent_init == RNNLAB_RECURRENT_ORTHOGONAL,
          "init %d recurrent_init %d", c.init, c.recurrent_init);
    CHECK(c.recurrent_scale == 1.0f, "recurrent_scale %g", (double)c.recurrent_scale);
    CHECK(c.forget_bias_one == 1, "forget_bias_one %d", c.forget_bias_one);

    for (int type = RNNLAB_OPT_SGD; type <= RNNLAB_OPT_RMSPROP; type++) {
        rnnlab_optimizer o = rnnlab_optimizer_default(type);
        int sgd = type == RNNLAB_OPT_SGD || type == RNNLAB_OPT_MOMENTUM;
        CHECK(o.type == type, "type %d", o.type);
        CHECK(o.lr == (sgd ? 0.01f : 0.001f), "type %d: lr %g", type, (double)o.lr);
        CHECK(o.beta1 == 0.9f && o.beta2 == 0.999f, "type %d: betas %g %g", type,
              (double)o.beta1, (double)o.beta2);
        CHECK(o.eps == (type == RNNLAB_OPT_RMSPROP ? 1e-7f : 1e-8f), "type %d: eps %g", type,
              (double)o.eps);
        CHECK(o.rho == 0.9f && o.momentum == 0.9f, "type %d: rho %g momentum %g", type,
              (double)o.rho, (double)o.momentum);
        CHECK(o.weight_decay == (type == RNNLAB_OPT_ADAMW ? 0.01f : 0.0f), "type %d: decay %g",
              type, (double)o.weight_decay);
        CHECK(o.clip_norm == 0.0f && o.clip_value == 0.0f, "type %d: clipping on by default", type);
    }

    /* a new model starts with Adam's defaults and its config as given */
    rnnlab_model *m = create_model(&c);
    if (!m) return;
    rnnlab_optimizer got, want = rnnlab_optimizer_default(RNNLAB_OPT_ADAM);
    CHECK_STATUS(rnnlab_get_optimizer(m, &got), RNNLAB_OK);
    CHECK(memcmp(&got, &want, sizeof got) == 0, "a new model's optimiser is not Adam's defaults");
    rnnlab_config back;
    CHECK_STATUS(rnnlab_get_config(m, &back), RNNLAB_OK);
    CHECK(memcmp(&back, &c, sizeof c) == 0, "get_config differs from the config given");
    size_t n;
    float *stats = fbuf(m, RNNLAB_BUF_STATS, &n);
    CHECK(stats && n == RNNLAB_STAT_COUNT, "stats buffer: %zu floats", n);
    if (stats) CHECK(stats[RNNLAB_STAT_STEP] == 0.0f, "step %g", (double)stats[RNNLAB_STAT_STEP]);
    rnnlab_free(m);
}

typedef struct {
    const char *field;
    size_t offset;
    int is_float;
    double bad[6];
    int n_bad;
} config_case;

#define INT_CASE(f, ...)                                                      \
    {#f, offsetof(rnnlab_config, f), 0, {__VA_ARGS__},                        \
     sizeof((double[]){__VA_ARGS__}) / sizeof(double)}

static void test_config_validation(void) {
    const config_case cases[] = {
        INT_CASE(cell, -1, 3, 100, INT32_MIN),
        INT_CASE(activation, -1, 2, INT32_MAX),
        INT_CASE(gru_reset_after, -1, 2),
        INT_CASE(input_size, 0, -1, 65537, INT32_MAX, INT32_MIN),
        INT_CASE(hidden_size, 0, -1, 65537, INT32_MAX, INT32_MIN),
        INT_CASE(output_size, 0, -1, 65537, INT32_MAX, INT32_MIN),
        INT_CASE(layers, 0, -1, 17, INT32_MAX),
        INT_CASE(output, -1, 2),
        INT_CASE(loss, -1, 2),
        INT_CASE(init, -1, 2),
        INT_CASE(recurrent_init, -1, 2),
        INT_CASE(forget_bias_one, -1, 2),
        {"recurrent_scale", offsetof(rnnlab_config, recurrent_scale), 1,
         {-0.001, 100.01, -INFINITY, INFINITY, NAN, 1e30}, 6},
        INT_CASE(embedding_vocab, -1, 65537),
        {"dropout", offsetof(rnnlab_config, dropout), 1, {-0.001, 1.0, -0.0, INFINITY, NAN, 2.0}, 6},
        {"input_dropout", offsetof(rnnlab_config, input_dropout), 1, {-0.001, 1.0, -0.0, INFINITY, NAN, 2.0}, 6},
        {"recurrent_dropout", offsetof(rnnlab_config, recurrent_dropout), 1, {-0.001, 1.0, -0.0, INFINITY, NAN, 2.0}, 6},
        INT_CASE(bidirectional, -1, 2, INT32_MAX),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const config_case *k = &cases[i];
        for (int j = 0; j < k->n_bad; j++) {
            rnnlab_config c = rnnlab_config_default();
            c.hidden_size = 4;
            if (k->is_float) { float v = (float)k->bad[j]; memcpy((char *)&c + k->offset, &v, 4); }
            else { int32_t v = (int32_t)k->bad[j]; memcpy((char *)&c + k->offset, &v, 4); }
            rnnlab_model *m = (rnnlab_model *)&c; /* any non-NULL value: must be reset */
            rnnlab_status st = rnnlab_create(&c, &m);
            CHECK(st == RNNLAB_E_INVALID, "%s = %g: status %d", k->field, k->bad[j], (int)st);
            CHECK(m == NULL, "%s = %g: *out not NULL", k->field, k->bad[j]);
            CHECK(contains(rnnlab_global_error(), k->field), "%s = %g: message '%s'", k->field,
                  k->bad[j], rnnlab_global_error());
            if (st == RNNLAB_OK) rnnlab_free(m);
        }
    }
    /* cross-entropy needs two classes */
    rnnlab_config c = rnnlab_config_default();
    c.loss = RNNLAB_LOSS_CROSS_ENTROPY;
    c.output_size = 1;
    rnnlab_model *m = NULL;
    CHECK_STATUS(rnnlab_create(&c, &m), RNNLAB_E_INVALID);
    CHECK(m == NULL && contains(rnnlab_global_error(), "output_size"), "message '%s'",
          rnnlab_global_error());

    /* the edges of every range are valid */
    const int32_t edge_ok[][4] = {/* X, H, Y, L */
                                  {65536, 1, 1, 1}, {1, 1, 65536, 1}, {1, 2, 1, 16}};
    for (size_t i = 0; i < sizeof edge_ok / sizeof edge_ok[0]; i++) {
        c = rnnlab_config_default();
        c.cell = RNNLAB_CELL_RNN;
        c.input_size = edge_ok[i][0];
        c.hidden_size = edge_ok[i][1];
        c.output_size = edge_ok[i][2];
        c.layers = edge_ok[i][3];
        rnnlab_free(create_model(&c));
    }
    const float scales[] = {0.0f, 100.0f};
    for (int i = 0; i < 2; i++) {
        c = rnnlab_config_default();
        c.hidden_size = 3;
        c.recurrent_scale = scales[i];
        rnnlab_free(create_model(&c));
    }
    c = rnnlab_config_default();
    c.seed = UINT32_MAX;
    rnnlab_free(create_model(&c));

    /* valid fields, but too many parameters: E_NOMEM, before any allocation */
    c = rnnlab_config_default();
    c.hidden_size = 65536;
    m = NULL;
    if (wrapping_linked()) watch_start(0);
    CHECK_STATUS(rnnlab_create(&c, &m), RNNLAB_E_NOMEM);
    watch_stop();
    CHECK(m == NULL && contains(rnnlab_global_error(), "parameters"), "message '%s'",
          rnnlab_global_error());
    if (wrapping_linked()) CHECK(watch.largest < (1u << 20), "allocated %zu bytes", watch.largest);
}

static void test_optimizer_validation(void) {
    rnnlab_config c = rnnlab_config_default();
    c.hidden_size = 2;
    rnnlab_model *m = create_model(&c);
    if (!m) return;
    static const struct { const char *field; size_t offset; float bad[4]; } cases[] = {
        {"lr", offsetof(rnnlab_optimizer, lr), {0.0f, -1.0f, INFINITY, NAN}},
        {"momentum", offsetof(rnnlab_optimizer, momentum), {-0.1f, 1.0f, 2.0f, NAN}},
        {"beta1", offsetof(rnnlab_optimizer, beta1), {-0.1f, 1.0f, INFINITY, NAN}},
        {"beta2", offsetof(rnnlab_optimizer, beta2), {-0.1f, 1.0f, 1.5f, NAN}},
        {"eps", offsetof(rnnlab_optimizer, eps), {0.0f, -1e-8f, INFINITY, NAN}},
        {"rho", offsetof(rnnlab_optimizer, rho), {-0.1f, 1.0f, -INFINITY, NAN}},
        {"weight_decay", offsetof(rnnlab_optimizer, weight_decay), {-0.01f, INFINITY, NAN, -1.0f}},
        {"clip_norm", offsetof(rnnlab_optimizer, clip_norm), {-1.0f, INFINITY, NAN, -0.5f}},
        {"clip_value", offsetof(rnnlab_optimizer, clip_value), {-1.0f, INFINITY, NAN, -0.5f}},
    };
    rnnlab_optimizer before;
    rnnlab_get_optimizer(m, &before);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int j = 0; j < 4; j++) {
            rnnlab_optimizer o = rnnlab_optimizer_default(RNNLAB_OPT_SGD);
            memcpy((char *)&o + cases[i].offset, &cases[i].bad[j], 4);
            CHECK_STATUS(rnnlab_set_optimizer(m, &o), RNNLAB_E_INVALID);
            CHECK(contains(rnnlab_last_error(m), cases[i].field), "%s = %g: message '%s'",
                  cases[i].field, (double)cases[i].bad[j], rnnlab_last_error(m));
        }
    const int bad_types[] = {-1, 5, 1000};
    for (int j = 0; j < 3; j++) {
        rnnlab_optimizer o = rnnlab_optimizer_default(RNNLAB_OPT_ADAM);
        o.type = bad_types[j];
        CHECK_STATUS(rnnlab_set_optimizer(m, &o), RNNLAB_E_INVALID);
        CHECK(contains(rnnlab_last_error(m), "type"), "message '%s'", rnnlab_last_error(m));
    }
    rnnlab_optimizer after;
    rnnlab_get_optimizer(m, &after);
    CHECK(memcmp(&before, &after, sizeof before) == 0, "rejected settings changed the optimiser");
    for (int type = RNNLAB_OPT_SGD; type <= RNNLAB_OPT_RMSPROP; type++) {
        rnnlab_optimizer o = rnnlab_optimizer_default(type);
        CHECK_STATUS(rnnlab_set_optimizer(m, &o), RNNLAB_OK);
        rnnlab_get_optimizer(m, &after);
        CHECK(memcmp(&o, &after, sizeof o) == 0, "type %d: settings not kept", type);
    }
    rnnlab_free(m);
}

static void test_null_arguments(void) {
    rnnlab_config c = rnnlab_config_default();
    c.hidden_size = 2;
    rnnlab_model *out = (rnnlab_model *)&c;
    CHECK_STATUS(rnnlab_create(NULL, &out), RNNLAB_E_INVALID);
    CHECK(out == NULL, "create(NULL, &out) left *out set");
    CHECK_STATUS(rnnlab_create(&c, NULL), RNNLAB_E_INVALID);
    rnnlab_free(NULL);

    uint8_t bytes[200] = {0};
    out = (rnnlab_model *)&c;
    CHECK_STATUS(rnnlab_load(NULL, 200, &out), RNNLAB_E_INVALID);
    CHECK(out == NULL, "load(NULL, ...) left *out set");
    CHECK_STATUS(rnnlab_load(bytes, sizeof bytes, NULL), RNNLAB_E_INVALID);

    CHECK(rnnlab_last_error(NULL) == rnnlab_global_error(), "last_error(NULL) is not the global error");
    CHECK(rnnlab_param_count(NULL) == 0, "param_count(NULL)");
    size_t off, cnt, n = 7;
    CHECK_STATUS(rnnlab_param_slice(NULL, 0, 0, &off, &cnt), RNNLAB_E_INVALID);
    CHECK(rnnlab_buffer(NULL, RNNLAB_BUF_PARAMS, &n) == NULL && n == 0, "buffer(NULL)");
    CHECK_STATUS(rnnlab_set_batch(NULL, 1, 1), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_forward(NULL, 0, 1), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_compute_gradients(NULL, 0), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_train_step(NULL, 0), RNNLAB_E_INVALID);
    rnnlab_params_changed(NULL);
    rnnlab_reset_optimizer(NULL);
    rnnlab_config cfg_out;
    rnnlab_optimizer opt_out;
    CHECK_STATUS(rnnlab_get_config(NULL, &cfg_out), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_get_optimizer(NULL, &opt_out), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_set_optimizer(NULL, &opt_out), RNNLAB_E_INVALID);
    float norms[4];
    CHECK_STATUS(rnnlab_spectral_norms(NULL, norms, 4), RNNLAB_E_INVALID);
    uint8_t *saved = NULL;
    size_t len = 0;
    CHECK_STATUS(rnnlab_save(NULL, 0, &saved, &len), RNNLAB_E_INVALID);

    rnnlab_model *m = create_model(&c);
    if (!m) return;
    CHECK_STATUS(rnnlab_get_config(m, NULL), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_get_optimizer(m, NULL), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_set_optimizer(m, NULL), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_param_slice(m, 0, 0, NULL, &cnt), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_param_slice(m, 0, 0, &off, NULL), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_spectral_norms(m, NULL, 4), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_save(m, 0, NULL, &len), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_save(m, 0, &saved, NULL), RNNLAB_E_INVALID);
    CHECK(rnnlab_buffer(m, RNNLAB_BUF_PARAMS, NULL) != NULL, "buffer(m, PARAMS, NULL count)");
    rnnlab_free(m);
    void *scratch = rnnlab_scratch(0);
    CHECK(scratch != NULL, "scratch(0) returned NULL");
    rnnlab_bytes_free(scratch);
    rnnlab_bytes_free(NULL);
}

/* ---------------------------------------------------------------- create */

/* SPEC §2: G·H(X_l + H + 1) per layer (+H for GRU reset-after), head Y(H+1). */
static size_t spec_param_count(const rnnlab_config *c) {
    size_t G = gates_of(c->cell), H = c->hidden_size, total = 0;
    for (int l = 0; l < c->layers; l++) {
        size_t X = l == 0 ? (size_t)c->input_size : H;
        total += G * H * (X + H + 1);
        if (c->cell == RNNLAB_CELL_GRU && c->gru_reset_after) total += H;
    }
    return total + (size_t)c->output_size * (H + 1);
}

static void check_layout(rnnlab_model *m, const rnnlab_config *c, const char *name) {
    size_t n = rnnlab_param_count(m), G = gates_of(c->cell), H = c->hidden_size, at = 0;
    CHECK(n == spec_param_count(c), "%s L%d: %zu parameters, SPEC §2 says %zu", name, c->layers,
          n, spec_param_count(c));
    /* the slices tile the flat vector in order: W, U, b, bhn per layer, then V, c */
    for (int l = 0; l <= c->layers; l++)
        for (int kind = 0; kind < (l == c->layers ? 2 : 4); kind++) {
            size_t off = 99, cnt = 99;
            CHECK_STATUS(rnnlab_param_slice(m, l, kind, &off, &cnt), RNNLAB_OK);
            size_t X = l == 0 ? (size_t)c->input_size : H, want;
            if (l == c->layers) want = kind == 0 ? (size_t)c->output_size * H : (size_t)c->output_size;
            else if (kind == 0) want = G * H * X;
            else if (kind == 1) want = G * H * H;
            else if (kind == 2) want = G * H;
            else want = c->cell == RNNLAB_CELL_GRU && c->gru_reset_after ? H : 0;
            CHECK(off == at && cnt == want, "%s: slice (%d, %d) at %zu size %zu, expected %zu, %zu",
                  name, l, kind, off, cnt, at, want);
            at = off + cnt;
        }
    CHECK(at == n, "%s: slices end at %zu of %zu", name, at, n);
    size_t off, cnt;
    CHECK_STATUS(rnnlab_param_slice(m, c->layers, 2, &off, &cnt), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_param_slice(m, c->layers + 1, 0, &off, &cnt), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_param_slice(m, -1, 0, &off, &cnt), RNNLAB_E_INVALID);
    CHECK_STATUS(rnnlab_param_slice(m, 0, 4, &off, &cnt), RNNLAB_E_INVALID);
}

/* SPEC §6: biases 0 except the LSTM forget block (1 unless switched off); the
 * head bias 0; weights inside the Glorot bounds. */
static void check_glorot_init(rnnlab_model *m, const rnnlab_config *c, const char *name) {
    float *p = fbuf(m, RNNLAB_BUF_PARAMS, NULL);
    int H = c->hidden_size, G = gates_of(c->cell);
    for (int l = 0; l < c->layers; l++) {
        size_t off, cnt;
        rnnlab_param_slice(m, l, 0, &off, &cnt);
        double bound = sqrt(6.0 / ((l == 0 ? c->input_size : H) + H));
        int in_bounds = 1;
        for (size_t i = 0; i < cnt; i++) in_bounds &= fabsf(p[off + i]) <= bound;
        CHECK(in_bounds, "%s layer %d: W outside ±%g", name, l, bound);
        rnnlab_param_slice(m, l, 2, &off, &cnt);
        for (int g = 0; g < G; g++)
            for (int j = 0; j < H; j++) {
                float want = c->cell == RNNLAB_CELL_LSTM && g == 1 && c->forget_bias_one ? 1.0f : 0.0f;
                CHECK(p[off + (size_t)g * H + j] == want, "%s layer %d: b[%d][%d] = %g, expected %g",
                      name, l, g, j, (double)p[off + (size_t)g * H + j], (double)want);
            }
    }
    size_t off, cnt;
    rnnlab_param_slice(m, c->layers, 1, &off, &cnt);
    for (size_t i = 0; i < cnt; i++) CHECK(p[off + i] == 0.0f, "%s: head bias %g", name, (double)p[off + i]);
}

static void test_create_all_variants(void) {
    for (int v = 0; v < N_VARIANTS; v++)
        for (int L = 1; L <= 3; L++)
            for (int forget = 0; forget <= 1; forget++) {
                rnnlab_config c = make_config(&VARIANTS[v], 3, 5, 2, L);
                c.forget_bias_one = forget;
                rnnlab_model *m = create_model(&c);
                if (!m) continue;
                check_layout(m, &c, VARIANTS[v].name);
                check_glorot_init(m, &c, VARIANTS[v].name);
                rnnlab_free(m);
            }
    /* every other option, on every cell */
    for (int v = 0; v < N_VARIANTS; v++)
        for (int opt = 0; opt < 5; opt++) {
            rnnlab_config c = make_config(&VARIANTS[v], 2, 4, 3, 2);
            if (opt == 0) c.output = RNNLAB_OUTPUT_LAST;
            if (opt == 1) c.loss = RNNLAB_LOSS_CROSS_ENTROPY;
            if (opt == 2) c.init = RNNLAB_INIT_PYTORCH;
            if (opt == 3) c.recurrent_init = RNNLAB_RECURRENT_GAUSSIAN;
            if (opt == 4) c.recurrent_scale = 0.0f;
            rnnlab_model *m = create_model(&c);
            if (!m) continue;
            check_layout(m, &c, VARIANTS[v].name);
            float *p = fbuf(m, RNNLAB_BUF_PARAMS, NULL);
            CHECK(all_finite(p, rnnlab_param_count(m)), "%s option %d: non-finite init", VARIANTS[v].name, opt);
            if (opt == 2) { /* PyTorch: everything in U(±1/sqrt(H)) */
                int in_bounds = 1;
                for (size_t i = 0; i < rnnlab_param_count(m); i++) in_bounds &= fabsf(p[i]) <= 0.5f;
                CHECK(in_bounds, "%s: pytorch init outside ±1/sqrt(H)", VARIANTS[v].name);
            }
            if (opt == 4) {
                size_t off, cnt;
                rnnlab_param_slice(m, 1, 1, &off, &cnt);
                int zero = 1;
                for (size_t i = 0; i < cnt; i++) zero &= p[off + i] == 0.0f;
                CHECK(zero, "%s: recurrent_scale 0 left U nonzero", VARIANTS[v].name);
            }
            rnnlab_free(m);
        }
    /* many create/free pairs: LeakSanitizer checks nothing stays behind */
    for (int i = 0; i < 50; i++) {
        rnnlab_config c = make_config(&VARIANTS[i % N_VARIANTS], 2, 3, 1, 1 + i % 3);
        rnnlab_model *m = create_model(&c);
        if (m && i % 2) {
            rnnlab_set_batch(m, 2, 3);
            fill_batch(m);
            rnnlab_train_step(m, 0);
        }
        rnnlab_free(m);
    }
}

/* ---------------------------------------------------------------- batch */

static void test_set_batch_and_state(void) {
    rnnlab_config c = make_config(&VARIANTS[2], 2, 3, 2, 2);
    rnnlab_model *m = create_model(&c);
    if (!m) return;
    /* before set_batch: no batch buffers, steps refuse with E_STATE */
    size_t n = 99;
    CHECK(rnnlab_buffer(m, RNNLAB_BUF_X, &n) == NULL && n == 0, "x before set_batch: %zu", n);
    CHECK(rnnlab_buffer(m, RNNLAB_BUF_OUT, &n) == NULL && n == 0, "out before set_batch: %zu", n);
    CHECK(rnnlab_buffer(m, RNNLAB_BUF_PARAMS, &n) != NULL && n == rnnlab_param_count(m), "params");
    CHECK_STATUS(rnnlab_forward(m, 0, 0), RNNLAB_E_STATE);
    CHECK(contains(rnnlab_last_error(m), "set_batch"), "message '%s'", rnnlab_last_error(m));
    CHECK_STATUS(rnnlab_forward(m, 0, 1), RNNLAB_E_STATE);
    CHECK_STATUS(rnnlab_compute_gradients(m, 0), RNNLAB_E_STATE);
    image before = snapshot(m);
    CHECK_STATUS(rnnlab_train_step(m, 0), RNNLAB_E_STATE);
    image after = snapshot(m);
    CHECK(same_image(before, after), "a refused train_step changed the model");
    free_image(&before);
    free_image(&after);
    float norms[8];
    CHECK_STATUS(rnnlab_spectral_norms(m, norms, 8), RNNLAB_OK); /* needs no batch */

    const int bad[][2] = {{0, 1}, {1, 0}, {-1, 5}, {5, -1}, {0, 0}, {INT32_MIN, 1},
                          {1, INT32_MIN}, {1000001, 1}, {1, 1000001}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(rnnlab_set_batch(m, bad[i][0], bad[i][1]), RNNLAB_E_SHAPE);
        CHECK(contains(rnnlab_last_error(m), "B"), "B %d T %d: message '%s'", bad[i][0], bad[i][1],
              rnnlab_last_error(m));
    }
    CHECK_STATUS(rnnlab_forward(m, 0, 0), RNNLAB_E_STATE); /* still no batch */

    CHECK_STATUS(rnnlab_set_batch(m, 3, 4), RNNLAB_OK);
    fill_batch(m);
    CHECK_STATUS(rnnlab_forward(m, 0, 1), RNNLAB_OK);
    /* a failed set_batch (bad or too large) keeps the previous batch */
    float *x = fbuf(m, RNNLAB_BUF_X, &n);
    float x0 = x ? x[0] : 0.0f;
    CHECK_STATUS(rnnlab_set_batch(m, 0, 4), RNNLAB_E_SHAPE);
    CHECK_STATUS(rnnlab_set_batch(m, 1000000, 1000000), RNNLAB_E_NOMEM);
    CHECK(contains(rnnlab_last_error(m), "1000000"), "message '%s'", rnnlab_last_error(m));
    CHECK(fbuf(m, RNNLAB_BUF_X, &n) == x && n == 3 * 4 * 2, "x after failed set_batch: %zu", n);
    CHECK(x && x[0] == x0, "x contents lost");
    CHECK_STATUS(rnnlab_forward(m, 0, 1), RNNLAB_OK);
    /* same shape again keeps the contents */
    CHECK_STATUS(rnnlab_set_batch(m, 3, 4), RNNLAB_OK);
    x = fbuf(m, RNNLAB_BUF_X, &n);
    CHECK(x && x[0] == x0, "set_batch of the same shape cleared x");
    rnnlab_free(m);
}

static void test_buffer_lengths(void) {
    const int B = 3, T = 5, X = 2, H = 4, Y = 3, L = 2;
    for (int v = 0; v < N_VARIANTS; v++)
        for (int last = 0; last <= 1; last++) {
            const variant *var = &VARIANTS[v];
            rnnlab_config c = make_config(var, X, H, Y, L);
            c.output = last ? RNNLAB_OUTPUT_LAST : RNNLAB_OUTPUT_SEQUENCE;
            rnnlab_model *m = create_model(&c);
            if (!m) continue;
            CHECK_STATUS(rnnlab_set_batch(m, B, T), RNNLAB_OK);
            int lstm = var->cell == RNNLAB_CELL_LSTM, G = gates_of(var->cell);
            size_t rows = last ? B : B * T, LBH = L * B * H;
            const size_t want[RNNLAB_BUF_COUNT] = {
                [RNNLAB_BUF_X] = B * T * X, [RNNLAB_BUF_Y] = rows * Y, [RNNLAB_BUF_LABELS] = rows,
                [RNNLAB_BUF_MASK] = B * T, [RNNLAB_BUF_H0] = LBH, [RNNLAB_BUF_C0] = lstm ? LBH : 0,
                [RNNLAB_BUF_OUT] = rows * Y, [RNNLAB_BUF_HT] = LBH, [RNNLAB_BUF_CT] = lstm ? LBH : 0,
                [RNNLAB_BUF_DX] = B * T * X, [RNNLAB_BUF_DH0] = LBH, [RNNLAB_BUF_DC0] = lstm ? LBH : 0,
                [RNNLAB_BUF_FLOW_H] = L * T, [RNNLAB_BUF_FLOW_C] = lstm ? L * T : 0,
                [RNNLAB_BUF_GATES] = (size_t)L * T * B * G * H,
                [RNNLAB_BUF_HIDDEN] = (size_t)L * (T + 1) * B * H,
                [RNNLAB_BUF_CELLS] = lstm ? (size_t)L * (T + 1) * B * H : 0,
                [RNNLAB_BUF_PARAMS] = rnnlab_param_count(m), [RNNLAB_BUF_GRADS] = rnnlab_param_count(m),
                [RNNLAB_BUF_OPT_M] = rnnlab_param_count(m), [RNNLAB_BUF_OPT_V] = rnnlab_param_count(m),
                [RNNLAB_BUF_STATS] = RNNLAB_STAT_COUNT,
            };
            uintptr_t start[RNNLAB_BUF_COUNT];
            size_t bytes[RNNLAB_BUF_COUNT];
            for (int id = 0; id < RNNLAB_BUF_COUNT; id++) {
                size_t n = 12345;
                void *p = rnnlab_buffer(m, id, &n);
                CHECK(n == want[id], "%s %s: buffer %d has %zu elements, expected %zu", var->name,
                      last ? "last" : "sequence", id, n, want[id]);
                CHECK((p == NULL) == (want[id] == 0), "%s: buffer %d pointer %p with %zu elements",
                      var->name, id, p, want[id]);
                start[id] = (uintptr_t)p;
                bytes[id] = n * 4;
                /* touch every element: ASan catches a length longer than the memory */
                if (p) memset(p, 0, n * 4);
            }
            /* no two buffers share memory */
            for (int i = 0; i < RNNLAB_BUF_COUNT; i++)
                for (int j = i + 1; j < RNNLAB_BUF_COUNT; j++) {
                    if (!start[i] || !start[j]) continue;
                    int overlap = start[i] < start[j] + bytes[j] && start[j] < start[i] + bytes[i];
                    CHECK(!overlap, "%s: buffers %d and %d overlap", var->name, i, j);
                }
            size_t n = 7;
            CHECK(rnnlab_buffer(m, -1, &n) == NULL && n == 0, "buffer -1");
            CHECK(rnnlab_buffer(m, RNNLAB_BUF_COUNT, &n) == NULL && n == 0, "buffer COUNT");
            CHECK(rnnlab_buffer(m, 1 << 30, &n) == NULL && n == 0, "buffer 2^30");
            /* every buffer written in full, then used with both flags */
            fill_batch(m);
            CHECK_STATUS(rnnlab_train_step(m, RNNLAB_USE_MASK | RNNLAB_USE_H0), RNNLAB_OK);
            CHECK(all_finite(fbuf(m, RNNLAB_BUF_OUT, NULL), rows * Y), "%s: non-finite out", var->name);
            rnnlab_free(m);
        }
}

/* ---------------------------------------------------------------- buffer table */

/* Every entry of the table against rnnlab_buffer. */
static void check_table(rnnlab_model *m, const char *name, const char *when) {
    const rnnlab_buffer_info *tb = rnnlab_buffer_table(m);
    CHECK(tb != NULL, "%s %s: no table", name, when);
    if (!tb) return;
    for (int id = 0; id < RNNLAB_BUF_COUNT; id++) {
        size_t n = 12345;
        void *p = rnnlab_buffer(m, id, &n);
        CHECK(tb[id].data == p && tb[id].count == n, "%s %s: table[%d] = {%p, %zu}, rnnlab_buffer {%p, %zu}",
              name, when, id, tb[id].data, tb[id].count, p, n);
        CHECK((p == NULL) == (n == 0), "%s %s: buffer %d {%p, %zu}", name, when, id, p, n);
    }
}

static void test_buffer_table(void) {
    CHECK(rnnlab_buffer_table(NULL) == NULL, "table of NULL");
    for (int v = 0; v < N_VARIANTS; v++) {
        rnnlab_config c = make_config(&VARIANTS[v], 2, 3, 2, 2);
        rnnlab_model *m = create_model(&c);
        if (!m) continue;
        const char *name = VARIANTS[v].name;
        const rnnlab_buffer_info *tb = rnnlab_buffer_table(m);
        check_table(m, name, "after create");
        CHECK(tb && tb[RNNLAB_BUF_PARAMS].data && tb[RNNLAB_BUF_PARAMS].count == rnnlab_param_count(m) &&
                  tb[RNNLAB_BUF_STATS].count == RNNLAB_STAT_COUNT && !tb[RNNLAB_BUF_X].data,
              "%s: the table before any batch", name);
        CHECK_STATUS(rnnlab_set_batch(m, 3, 4), RNNLAB_OK);
        check_table(m, name, "after set_batch(3, 4)");
        CHECK(rnnlab_buffer_table(m) == tb, "%s: the table moved", name);
        CHECK_STATUS(rnnlab_set_batch(m, 2, 7), RNNLAB_OK);
        check_table(m, name, "after set_batch(2, 7)");
        CHECK(tb && tb[RNNLAB_BUF_X].count == 2 * 7 * 2, "%s: x count %zu", name, tb ? tb[RNNLAB_BUF_X].count : 0);
        CHECK_STATUS(rnnlab_set_batch(m, 0, 7), RNNLAB_E_SHAPE); /* a failed set_batch keeps it */
        check_table(m, name, "after a failed set_batch");
        rnnlab_free(m);
    }
}

/* ---------------------------------------------------------------- carried state */

/* x (T, B, X) time-major for a whole sequence; window w of length Tw is the
 * contiguous slice from row w*Tw*B. */
static void copy_window(rnnlab_model *m, const float *x_all, int w, int Tw, int B, int X) {
    memcpy(fbuf(m, RNNLAB_BUF_X, NULL), x_all + (size_t)w * Tw * B * X, (size_t)Tw * B * X * 4);
}

/* Windows of a sequence with RNNLAB_CARRY_STATE = one forward over it all. */
static void carry_equals_whole(const variant *v) {
    enum { B = 3, T = 12, Tw = 4, X = 2, Y = 2 };
    rnnlab_config c = make_config(v, X, 5, Y, 2);
    rnnlab_model *m = create_model(&c);
    if (!m) return;
    static float x_all[T * B * X], out_all[B * T * Y], hT[2 * B * 5], cT[2 * B * 5];
    size_t nh = 0, nc = 0;
    rng_seed(60);
    for (int i = 0; i < T * B * X; i++) x_all[i] = rng_float(-1, 1);
    CHECK_STATUS(rnnlab_set_batch(m, B, T), RNNLAB_OK);
    memcpy(fbuf(m, RNNLAB_BUF_X, NULL), x_all, sizeof x_all);
    CHECK_STATUS(rnnlab_forward(m, 0, 0), RNNLAB_OK);
    memcpy(out_all, fbuf(m, RNNLAB_BUF_OUT, NULL), sizeof out_all);
    const float *src = fbuf(m, RNNLAB_BUF_HT, &nh);
    memcpy(hT, src, nh * 4);
    if ((src = fbuf(m, RNNLAB_BUF_CT, &nc))) memcpy(cT, src, nc * 4);
    /* the same B keeps the states: zero them to start the windows like the whole */
    CHECK_STATUS(rnnlab_set_batch(m, B, Tw), RNNLAB_OK);
    memset(fbuf(m, RNNLAB_BUF_HT, NULL), 0, nh * 4);
    if (nc) memset(fbuf(m, RNNLAB_BUF_CT, NULL), 0, nc * 4);
    int same_out = 1;
    for (int w = 0; w < T / Tw; w++) {
        copy_window(m, x_all, w, Tw, B, X);
        CHECK_STATUS(rnnlab_forward(m, RNNLAB_CARRY_STATE, 0), RNNLAB_OK);
        const float *out = fbuf(m, RNNLAB_BUF_OUT, NULL);
        for (int b = 0; b < B; b++) /* out is batch-major (B, Tw, Y) */
            same_out &= memcmp(out + (size_t)b * Tw * Y, out_all + ((size_t)b * T + w * Tw) * Y, Tw * Y * 4) == 0;
    }
    CHECK(same_out, "%s: the outputs of the windows differ from the whole sequence's", v->name);
    CHECK(memcmp(fbuf(m, RNNLAB_BUF_HT, NULL), hT, nh * 4) == 0, "%s: hT differs", v->name);
    CHECK(!nc || memcmp(fbuf(m, RNNLAB_BUF_CT, NULL), cT, nc * 4) == 0, "%s: cT differs", v->name);
    rnnlab_free(m);
}

/* Training over windows with RNNLAB_CARRY_STATE = with RNNLAB_USE_H0 and the
 * previous window's hT, cT copied into h0, c0 by hand: the same bits. */
static void carry_equals_h0(const variant *v) {
    enum { B = 2, Tw = 3, W = 4 };
    rnnlab_config c = make_config(v, 2, 4, 2, 2);
    rnnlab_model *a = create_model(&c), *b = create_model(&c);
    if (!a || !b) { rnnlab_free(a); rnnlab_free(b); return; }
    rnnlab_set_batch(a, B, Tw);
    rnnlab_set_batch(b, B, Tw);
    int ok = 1;
    for (int w = 0; w < W; w++) {
        rng_seed(70 + w);
        fill_batch(a);
        const int from[] = {RNNLAB_BUF_X, RNNLAB_BUF_Y, RNNLAB_BUF_HT, RNNLAB_BUF_CT};
        const int to[] = {RNNLAB_BUF_X, RNNLAB_BUF_Y, RNNLAB_BUF_H0, RNNLAB_BUF_C0};
        for (int k = 0; k < 4; k++) {
            size_t n = 0;
            const float *src = fbuf(k < 2 ? a : b, from[k], &n);
            if (src) memcpy(fbuf(b, to[k], NULL), src, n * 4);
        }
        /* h0 of a holds random values: CARRY wins over USE_H0 */
        ok &= rnnlab_train_step(a, RNNLAB_CARRY_STATE | RNNLAB_USE_H0) == RNNLAB_OK;
        ok &= rnnlab_train_step(b, RNNLAB_USE_H0) == RNNLAB_OK;
    }
    CHECK(ok, "%s: a step failed: %s / %s", v->name, rnnlab_last_error(a), rnnlab_last_error(b));
    CHECK(memcmp(fbuf(a, RNNLAB_BUF_PARAMS, NULL), fbuf(b, RNNLAB_BUF_PARAMS, NULL), rnnlab_param_count(a) * 4) == 0,
          "%s: CARRY_STATE and USE_H0 with the previous hT train differently", v->name);
    size_t n;
    const float *hTa = fbuf(a, RNNLAB_BUF_HT, &n);
    CHECK(memcmp(hTa, fbuf(b, RNNLAB_BUF_HT, NULL), n * 4) == 0, "%s: hT differs", v->name);
    rnnlab_free(a);
    rnnlab_free(b);
}

/* Whether buffer id holds only zeros (true when it does not exist). */
static int zero_buffer(rnnlab_model *m, int id) {
    size_t n = 0;
    const float *p = fbuf(m, id, &n);
    for (size_t i = 0; i < n; i++) if (p[i] != 0.0f) return 0;
    return 1;
}

/* The state block: zero before any forward, kept by a change of T (with
 * its address), zeroed by a change of B; non-finite carried state refused. */
static void carry_state_block(const variant *v) {
    rnnlab_config c = make_config(v, 2, 3, 2, 2);
    rnnlab_model *m = create_model(&c);
    if (!m) return;
    size_t n, n0;
    rnnlab_set_batch(m, 2, 5);
    CHECK(zero_buffer(m, RNNLAB_BUF_HT) && zero_buffer(m, RNNLAB_BUF_CT), "%s: hT before any forward", v->name);
    rng_seed(80);
    fill_batch(m);
    CHECK_STATUS(rnnlab_forward(m, RNNLAB_USE_H0, 0), RNNLAB_OK);
    float *hT = fbuf(m, RNNLAB_BUF_HT, &n), *h0 = fbuf(m, RNNLAB_BUF_H0, &n0);
    float keep_h[64], keep_h0[64];
    memcpy(keep_h, hT, n * 4);
    memcpy(keep_h0, h0, n0 * 4);
    CHECK(!zero_buffer(m, RNNLAB_BUF_HT), "%s: hT after a forward is zero", v->name);
    CHECK_STATUS(rnnlab_set_batch(m, 2, 9), RNNLAB_OK); /* T only */
    CHECK(fbuf(m, RNNLAB_BUF_HT, NULL) == hT && memcmp(hT, keep_h, n * 4) == 0, "%s: a change of T lost hT", v->name);
    CHECK(memcmp(fbuf(m, RNNLAB_BUF_H0, NULL), keep_h0, n0 * 4) == 0, "%s: a change of T lost h0", v->name);
    CHECK_STATUS(rnnlab_set_batch(m, 3, 9), RNNLAB_OK); /* B */
    CHECK(zero_buffer(m, RNNLAB_BUF_HT) && zero_buffer(m, RNNLAB_BUF_H0) && zero_buffer(m, RNNLAB_BUF_CT) &&
              zero_buffer(m, RNNLAB_BUF_C0), "%s: a change of B kept states", v->name);
    /* CARRY after a change of B starts from zeros, as a forward without flags */
    fill_batch(m);
    CHECK_STATUS(rnnlab_forward(m, RNNLAB_CARRY_STATE, 0), RNNLAB_OK);
    float out1[3 * 9 * 2];
    memcpy(out1, fbuf(m, RNNLAB_BUF_OUT, NULL), sizeof out1);
    CHECK_STATUS(rnnlab_forward(m, 0, 0), RNNLAB_OK);
    CHECK(memcmp(out1, fbuf(m, RNNLAB_BUF_OUT, NULL), sizeof out1) == 0, "%s: CARRY from zeros", v->name);
    /* a non-finite carried state is refused, naming it */
    fbuf(m, RNNLAB_BUF_HT, NULL)[4] = NAN;
    CHECK_STATUS(rnnlab_forward(m, RNNLAB_CARRY_STATE, 0), RNNLAB_E_NONFINITE);
    CHECK(contains(rnnlab_last_error(m), "hT[4]") && contains(rnnlab_last_error(m), "CARRY"),
          "%s: message '%s'", v->name, rnnlab_last_error(m));
    CHECK_STATUS(rnnlab_forward(m, 0, 0), RNNLAB_OK); /* without the flag: a fresh state */
    CHECK_STATUS(rnnlab_forward(m, RNNLAB_CARRY_STATE, 0), RNNLAB_OK);
    rnnlab_free(m);
}

static void test_carry_state(void) {
    for (int v = 0; v < N_VARIANTS; v++) {
        carry_equals_whole(&VARIANTS[v]);
        carry_equals_h0(&VARIANTS[v]);
        carry_state_block(&VARIANTS[v]);
    }
}

/* ---------------------------------------------------------------- training */

/* The delay task: y_t = x_{t-1} (y_0 = 0), x uniform in [-1, 1]. Predicting 0
 * scores 1/3 · (T-1)/T; remembering one step scores 0. x is time-major
 * (T, B, 1), y batch-major (B, T, 1). */
static void delay_batch(rnnlab_model *m, int B, int T) {
    float *x = fbuf(m, RNNLAB_BUF_X, NULL), *y = fbuf(m, RNNLAB_BUF_Y, NULL);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            x[t * B + b] = rng_float(-1, 1);
            y[b * T + t] = t ? x[(t - 1) * B + b] : 0.0f;
        }
}

static void test_training_reduces_loss(void) {
    const int B = 16, T = 8, STEPS = 400;
    for (int v = 0; v < N_VARIANTS; v++) {
        rnnlab_config c = make_config(&VARIANTS[v], 1, 8, 1, 1);
        c.seed = 7;
        rnnlab_model *m = create_model(&c);
        if (!m) continue;
        rnnlab_optimizer o = rnnlab_optimizer_default(RNNLAB_OPT_ADAM);
        o.lr = 0.01f;
        o.clip_norm = 1.0f;
        CHECK_STATUS(rnnlab_set_optimizer(m, &o), RNNLAB_OK);
        CHECK_STATUS(rnnlab_set_batch(m, B, T), RNNLAB_OK);
        float *stats = fbuf(m, RNNLAB_BUF_STATS, NULL);
        rng_seed(100 + v);
        delay_batch(m, B, T);
        CHECK_STATUS(rnnlab_forward(m, 0, 1), RNNLAB_OK);
        float first = stats[RNNLAB_STAT_LOSS];
        int ok = 1;
        for (int s = 0; s < STEPS && ok; s++) {
            delay_batch(m, B, T);
            ok = rnnlab_train_step(m, 0) == RNNLAB_OK;
        }
        CHECK(ok, "%s: train_step failed: %s", VARIANTS[v].name, rnnlab_last_error(m));
        CHECK(stats[RNNLAB_STAT_STEP] == STEPS, "%s: step count %g", VARIANTS[v].name,
              (double)stats[RNNLAB_STAT_STEP]);
        delay_batch(m, B, T); /* unseen data */
        CHECK_STATUS(rnnlab_forward(m, 0, 1), RNNLAB_OK);
        float final = stats[RNNLAB_STAT_LOSS];
        /* remembering x_{t-1} to within ~0.1 rms: loss < 0.01, from about 0.3 */
        CHECK(first > 0.1f && final < 0.01f, "%s: loss %g -> %g", VARIANTS[v].name, (double)first,
              (double)final);
        rnnlab_free(m);
    }
}

/* Labels: the sign of each sequence's sum (x time-major, (T, B, 1)). */
static void sign_of_sum_batch(rnnlab_model *m, int B, int T) {
    float *x = fbuf(m, RNNLAB_BUF_X, NULL);
    int32_t *labels = rnnlab_buffer(m, RNNLAB_BUF_LABELS, NULL);
    for (int b = 0; b < B; b++) {
        float sum = 0.0f;
        for (int t = 0; t < T; t++) sum += x[t * B + b] = rng_float(-1, 1);
        labels[b] = sum > 0.0f;
    }
}

/* Sign of the sum of a sequence, many-to-one, cross-entropy over 2 classes:
 * at least 92% right on 1000 unseen sequences (chance is 50%). */
static void test_training_classifier(void) {
    const int B = 32, T = 6, STEPS = 400, TEST_B = 1000;
    for (int v = 0; v < N_VARIANTS; v++) {
        rnnlab_config c = make_config(&VARIANTS[v], 1, 8, 2, 1);
        c.loss = RNNLAB_LOSS_CROSS_ENTROPY;
        c.output = RNNLAB_OUTPUT_LAST;
        rnnlab_model *m = create_model(&c);
        if (!m) continue;
        rnnlab_optimizer o = rnnlab_optimizer_default(RNNLAB_OPT_ADAM);
        o.lr = 0.01f;
        rnnlab_set_optimizer(m, &o);
        CHECK_STATUS(rnnlab_set_batch(m, B, T), RNNLAB_OK);
        float *stats = fbuf(m, RNNLAB_BUF_STATS, NULL);
        rng_seed(200 + v);
        int ok = 1;
        for (int s = 0; s < STEPS && ok; s++) {
            sign_of_sum_batch(m, B, T);
            ok = rnnlab_train_step(m, 0) == RNNLAB_OK;
        }
        CHECK(ok, "%s: %s", VARIANTS[v].name, rnnlab_last_error(m));
        CHECK_STATUS(rnnlab_set_batch(m, TEST_B, T), RNNLAB_OK);
        sign_of_sum_batch(m, TEST_B, T);
        CHECK_STATUS(rnnlab_forward(m, 0, 1), RNNLAB_OK);
        CHECK(stats[RNNLAB_STAT_COUNTED] == TEST_B, "%s: counted %g", VARIANTS[v].name,
              (double)stats[RNNLAB_STAT_COUNTED]);
        CHECK(stats[RNNLAB_STAT_CORRECT] >= 0.92f * TEST_B, "%s: %g of %d correct, loss %g",
              VARIANTS[v].name, (double)stats[RNNLAB_STAT_CORRECT], TEST_B,
              (double)stats[RNNLAB_STAT_LOSS]);
        rnnlab_free(m);
    }
}

/* compute_gradients changes no weights; clipping reports the norms of SPEC §5. */
static void test_gradients_and_clipping_stats(void) {
    for (int v = 0; v < N_VARIANTS; v++) {
        rnnlab_config c = make_config(&VARIANTS[v], 2, 4, 2, 2);
        rnnlab_model *m = create_model(&c);
        if (!m) continue;
        rnnlab_set_batch(m, 3, 4);
        rng_seed(300 + v);
        fill_batch(m);
        image before = snapshot(m);
        CHECK_STATUS(rnnlab_compute_gradients(m, 0), RNNLAB_OK);
        image after = snapshot(m);
        CHECK(same_image(before, after), "%s: compute_gradients changed the model", VARIANTS[v].name);
        float *stats = fbuf(m, RNNLAB_BUF_STATS, NULL);
        float norm = stats[RNNLAB_STAT_GRAD_NORM];
        CHECK(norm > 0.0f && stats[RNNLAB_STAT_CLIPPED] == 0.0f &&
                  stats[RNNLAB_STAT_GRAD_NORM_AFTER] == norm,
              "%s: norm %g after %g clipped %g", VARIANTS[v].name, (double)norm,
              (double)stats[RNNLAB_STAT_GRAD_NORM_AFTER], (double)stats[RNNLAB_STAT_CLIPPED]);
        rnnlab_optimizer o = rnnlab_optimizer_default(RNNLAB_OPT_SGD);
        o.clip_norm = norm / 4;
        rnnlab_set_optimizer(m, &o);
        CHECK_STATUS(rnnlab_compute_gradients(m, 0), RNNLAB_OK);
        CHECK(stats[RNNLAB_STAT_GRAD_NORM] == norm && stats[RNNLAB_STAT_CLIPPED] == 1.0f &&
                  fabsf(stats[RNNLAB_STAT_GRAD_NORM_AFTER] - norm / 4) <= 1e-5f * norm,
              "%s: clip to %g: after %g clipped %g", VARIANTS[v].name, (double)(norm / 4),
              (double)stats[RNNLAB_STAT_GRAD_NORM_AFTER], (double)stats[RNNLAB_STAT_CLIPPED]);
        free_image(&before);
        free_image(&after);
        rnnlab_free(m);
    }
}

/* ---------------------------------------------------------------- non-finite */

/* A model with moments, a step count and a batch, after a few Adam steps. */
static rnnlab_model *trained_model(const variant *v, int Y, int loss) {
    rnnlab_config c = make_config(v, 2, 3, Y, 2);
    c.loss = loss;
    rnnlab_model *m = create_model(&c);
    if (!m) return NULL;
    CHECK_STATUS(rnnlab_set_batch(m, 2, 4), RNNLAB_OK);
    rng_seed(42);
    fill_batch(m);
    for (int i = 0; i < 3; i++) CHECK_STATUS(rnnlab_train_step(m, 0), RNNLAB_OK);
    return m;
}

/* Runs a train step that must fail with want and leave the model as it was. */
static void expect_refused_step(rnnlab_model *m, int flags, rnnlab_status want, const char *part,
                                const char *what) {
    image before = snapshot(m);
    float *stats = fbuf(m, RNNLAB_BUF_STATS, NULL);
    float step = stats[RNNLAB_STAT_STEP];
    rnnlab_status st = rnnlab_train_step(m, flags);
    CHECK(st == want, "%s: status %d, expected %d (%s)", what, (int)st, (int)want, rnnlab_last_error(m));
    CHECK(contains(rnnlab_last_error(m), part), "%s: message '%s' lacks '%s'", what,
          rnnlab_last_error(m), part);
    image after = snapshot(m);
    CHECK(same_image(before, after), "%s: the refused step changed params, moments or step count", what);
    CHECK(stats[RNNLAB_STAT_STEP] == step, "%s: step stat %g -> %g", what, (double)step,
          (double)stats[RNNLAB_STAT_STEP]);
    free_image(&before);
    free_image(&after);
}

static void test_nonfinite_data(void) {
    for (int v = 0; v < N_VARIANTS; v++) {
        const char *name = VARIANTS[v].name;
        rnnlab_model *m = trained_model(&VARIANTS[v], 2, RNNLAB_LOSS_MSE);
        if (!m) continue;
        size_t nx, ny, nh;
        float *x = fbuf(m, RNNLAB_BUF_X, &nx), *y = fbuf(m, RNNLAB_BUF_Y, &ny);
        float *h0 = fbuf(m, RNNLAB_BUF_H0, &nh), *mask = fbuf(m, RNNLAB_BUF_MASK, NULL);
        const float bad[] = {NAN, INFINITY, -INFINITY};
        for (int k = 0; k < 3; k++) {
            size_t where[] = {0, nx / 2, nx - 1};
            for (int w = 0; w < 3; w++) {
                float keep = x[where[w]];
                x[where[w]] = bad[k];
                expect_refused_step(m, 0, RNNLAB_E_NONFINITE, "x[", name);
                CHECK_STATUS(rnnlab_forward(m, 0, 0), RNNLAB_E_NONFINITE);
                CHECK_STATUS(rnnlab_compute_gradients(m, 0), RNNLAB_E_NONFINITE);
                x[where[w]] = keep;
            }
            float keep = y[ny - 1];
            y[ny - 1] = bad[k];
            expect_refused_step(m, 0, RNNLAB_E_NONFINITE, "y[", name);
            mask[(ny - 1) / 2] = 0.0f; /* that position no longer counts */
            CHECK_STATUS(rnnlab_train_step(m, RNNLAB_USE_MASK), RNNLAB_OK);
            mask[(ny - 1) / 2] = 1.0f;
            y[ny - 1] = keep;
            keep = h0[nh - 1];
            h0[nh - 1] = bad[k];
            expect_refused_step(m, RNNLAB_USE_H0, RNNLAB_E_NONFINITE, "h0[", name);
            CHECK_STATUS(rnnlab_forward(m, 0, 1), RNNLAB_OK); /* h0 not read without the flag */
            h0[nh - 1] = keep;
            if (VARIANTS[v].cell == RNNLAB_CELL_LSTM) {
                float *c0 = fbuf(m, RNNLAB_BUF_C0, NULL);
                c0[0] = bad[k];
                expect_refused_step(m, RNNLAB_USE_H0, RNNLAB_E_NONFINITE, "c0[", name);
                c0[0] = 0.0f;
            }
        }
        CHECK_STATUS(rnnlab_train_step(m, RNNLAB_USE_H0 | RNNLAB_USE_MASK), RNNLAB_OK);
        rnnlab_free(m);
    }
}

/* Finite data whose loss overflows float: refused, and nothing changes. */
static void test_nonfinite_loss(void) {
    for (int v = 0; v < N_VARIANTS; v++) {
        for (int last = 0; last <= 1; last++) {
            rnnlab_config c = make_config(&VARIANTS[v], 2, 3, 2, 2);
            c.output = last ? RNNLAB_OUTPUT_LAST : RNNLAB_OUTPUT_SEQUENCE;
            rnnlab_model *m = create_model(&c);
            if (!m) continue;
            rnnlab_set_batch(m, 2, 4);
            rng_seed(43);
            fill_batch(m);
            for (int i = 0; i < 3; i++) CHECK_STATUS(rnnlab_train_step(m, 0), RNNLAB_OK);
            size_t ny;
            float *y = fbuf(m, RNNLAB_BUF_Y, &ny);
            y[0] = 3e30f; /* (ŷ - y)² = 9e60 */
            expect_refused_step(m, 0, RNNLAB_E_NONFINITE, "loss", VARIANTS[v].name);
            CHECK_STATUS(rnnlab_compute_gradients(m, 0), RNNLAB_E_NONFINITE);
            y[0] = 0.5f;
            CHECK_STATUS(rnnlab_train_step(m, 0), RNNLAB_OK);
            /* a head weight so large that (ŷ - y)² overflows */
            float *p = fbuf(m, RNNLAB_BUF_PARAMS, NULL);
            size_t off, cnt;
            rnnlab_param_slice(m, c.layers, 0, &off, &cnt);
            float keep = p[off];
            p[off] = 3e38f;
            rnnlab_params_changed(m);
            for (size_t i = 0; i < ny; i++) y[i] = -3e38f;
            expect_refused_step(m, 0, RNNLAB_E_NONFINITE, "non-finite", VARIANTS[v].name);
            p[off] = keep;
            rnnlab_params_changed(m);
            rnnlab_free(m);
        }
    }
}

/* A finite loss with an overflowing gradient: W = [1 1] and x = (a, -a) cancel
 * in the forward pass (h stays 0), but dW = dG xᵀ holds ±a·dG. */
static void make_cancelling_model(rnnlab_model **out, int opt_type, float a, float target) {
    const variant v = {"rnn-tanh", RNNLAB_CELL_RNN, RNNLAB_ACT_TANH, 0};
    rnnlab_config c = make_config(&v, 2, 2, 1, 1);
    rnnlab_model *m = *out = create_model(&c);
    if (!m) return;
    rnnlab_optimizer o = rnnlab_optimizer_default(opt_type);
    rnnlab_set_optimizer(m, &o);
    rnnlab_set_batch(m, 1, 2);
    float *p = fbuf(m, RNNLAB_BUF_PARAMS, NULL);
    size_t off, cnt;
    rnnlab_param_slice(m, 0, 0, &off, &cnt);
    for (size_t i = 0; i < cnt; i++) p[off + i] = 1.0f;
    rnnlab_param_slice(m, 1, 0, &off, &cnt);
    for (size_t i = 0; i < cnt; i++) p[off + i] = 1.0f;
    rnnlab_params_changed(m);
    float *x = fbuf(m, RNNLAB_BUF_X, NULL), *y = fbuf(m, RNNLAB_BUF_Y, NULL);
    for (int t = 0; t < 2; t++) { /* B = 1: x (T, 1, 2) */
        x[2 * t] = a;
        x[2 * t + 1] = -a;
        y[t] = target;
    }
}

static void test_nonfinite_gradient(void) {
    rnnlab_model *m;
    make_cancelling_model(&m, RNNLAB_OPT_ADAM, 3e38f, 1e6f);
    if (!m) return;
    CHECK_STATUS(rnnlab_forward(m, 0, 1), RNNLAB_OK);
    float *stats = fbuf(m, RNNLAB_BUF_STATS, NULL);
    CHECK(isfinite(stats[RNNLAB_STAT_LOSS]) && stats[RNNLAB_STAT_LOSS] > 1e11f, "loss %g",
          (double)stats[RNNLAB_STAT_LOSS]);
    expect_refused_step(m, 0, RNNLAB_E_NONFINITE, "gradient", "overflowing dW");
    CHECK_STATUS(rnnlab_compute_gradients(m, 0), RNNLAB_E_NONFINITE);
    rnnlab_free(m);
}

/* A step that returns OK must leave finite weights and moments, so that the
 * model saves into a file that loads again. In the first case the gradient is
 * finite (of order 1e25) but Adam's g² overflows the second moment; in the
 * second, lr · g overflows the weights. */
static void test_ok_step_keeps_state_finite(void) {
    const struct { int opt; float a, target, lr; const char *what; } cases[] = {
        {RNNLAB_OPT_ADAM, 1e25f, 1.0f, 0.001f, "adam: g*g overflows the second moment"},
        {RNNLAB_OPT_SGD, 1e3f, 1e3f, 1e36f, "sgd: lr * g overflows the weights"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rnnlab_model *m;
        make_cancelling_model(&m, cases[k].opt, cases[k].a, cases[k].target);
        if (!m) continue;
        rnnlab_optimizer o;
        rnnlab_get_optimizer(m, &o);
        o.lr = cases[k].lr;
        CHECK_STATUS(rnnlab_set_optimizer(m, &o), RNNLAB_OK);
        image before = snapshot(m);
        rnnlab_status st = rnnlab_train_step(m, 0);
        size_t n = rnnlab_param_count(m);
        if (st == RNNLAB_OK) {
            CHECK(all_finite(fbuf(m, RNNLAB_BUF_PARAMS, NULL), n) &&
                      all_finite(fbuf(m, RNNLAB_BUF_OPT_M, NULL), n) &&
                      all_finite(fbuf(m, RNNLAB_BUF_OPT_V, NULL), n),
                  "%s: train_step returned OK but left non-finite weights or moments", cases[k].what);
            image im = snapshot(m);
            rnnlab_model *back = NULL;
            rnnlab_status lst = rnnlab_load(im.bytes, im.len, &back);
            CHECK(lst == RNNLAB_OK, "%s: the saved model does not load: %s", cases[k].what,
                  rnnlab_global_error());
            rnnlab_free(back);
            free_image(&im);
        } else {
            CHECK(st == RNNLAB_E_NONFINITE, "%s: status %d", cases[k].what, (int)st);
            image after = snapshot(m);
            CHECK(same_image(before, after), "%s: refused step changed the model", cases[k].what);
            free_image(&after);
        }
        free_image(&before);
        rnnlab_free(m);
    }
}

/* ---------------------------------------------------------------- mask, labels */

static void test_mask_values(void) {
    for (int v = 0; v < N_VARIANTS; v++) {
        const char *name = VARIANTS[v].name;
        rnnlab_model *m = trained_model(&VARIANTS[v], 2, RNNLAB_LOSS_MSE);
        if (!m) continue;
        size_t nm, ny;
        float *mask = fbuf(m, RNNLAB_BUF_MASK, &nm), *y = fbuf(m, RNNLAB_BUF_Y, &ny);
        const float bad[] = {0.5f, 2.0f, -1.0f, 1e-30f, NAN, INFINITY};
        for (int k = 0; k < 6; k++) {
            mask[nm - 1] = bad[k];
            expect_refused_step(m, RNNLAB_USE_MASK, RNNLAB_E_INVALID, "mask[", name);
            CHECK_STATUS(rnnlab_forward(m, RNNLAB_USE_MASK, 0), RNNLAB_E_INVALID);
            CHECK_STATUS(rnnlab_train_step(m, 0), RNNLAB_OK); /* not read without the flag */
        }
        /* 0 and 1 (and -0) are fine; a masked position adds nothing (SPEC §3) */
        for (size_t i = 0; i < nm; i++) mask[i] = i % 3 == 1 ? 0.0f : 1.0f;
        mask[0] = -0.0f; /* -0 == 0: masked */
        size_t want_counted = 0;
        for (size_t i = 0; i < nm; i++) want_counted += mask[i] != 0.0f;
        CHECK_STATUS(rnnlab_compute_gradients(m, RNNLAB_USE_MASK), RNNLAB_OK);
        size_t np = rnnlab_param_count(m);
        float *grads = fbuf(m, RNNLAB_BUF_GRADS, NULL), *stats = fbuf(m, RNNLAB_BUF_STATS, NULL);
        float *g1 = malloc(np * 4);
        memcpy(g1, grads, np * 4);
        float loss1 = stats[RNNLAB_STAT_LOSS], counted1 = stats[RNNLAB_STAT_COUNTED];
        size_t Y = ny / nm;
        for (size_t i = 0; i < nm; i++)
            if (mask[i] == 0.0f)
                for (size_t k = 0; k < Y; k++) y[i * Y + k] = 1000.0f * (k + 1);
        CHECK_STATUS(rnnlab_compute_gradients(m, RNNLAB_USE_MASK), RNNLAB_OK);
        CHECK(stats[RNNLAB_STAT_LOSS] == loss1 && memcmp(g1, grads, np * 4) == 0,
              "%s: targets under mask 0 changed the loss (%g -> %g) or gradients", name,
              (double)loss1, (double)stats[RNNLAB_STAT_LOSS]);
        CHECK(counted1 == (float)want_counted && stats[RNNLAB_STAT_COUNTED] == counted1,
              "%s: counted %g of %zu", name, (double)counted1, nm);
        free(g1);
        rnnlab_free(m);
    }
}

static void test_labels_range(void) {
    for (int v = 0; v < N_VARIANTS; v++)
        for (int last = 0; last <= 1; last++) {
            const char *name = VARIANTS[v].name;
            rnnlab_config c = make_config(&VARIANTS[v], 2, 3, 4, 1);
            c.loss = RNNLAB_LOSS_CROSS_ENTROPY;
            c.output = last ? RNNLAB_OUTPUT_LAST : RNNLAB_OUTPUT_SEQUENCE;
            rnnlab_model *m = create_model(&c);
            if (!m) continue;
            rnnlab_set_batch(m, 3, 4);
            rng_seed(44);
            fill_batch(m);
            CHECK_STATUS(rnnlab_train_step(m, 0), RNNLAB_OK);
            size_t nl;
            int32_t *labels = rnnlab_buffer(m, RNNLAB_BUF_LABELS, &nl);
            float *mask = fbuf(m, RNNLAB_BUF_MASK, NULL);
            const int32_t bad[] = {-1, 4, 5, INT32_MAX, INT32_MIN};
            for (int k = 0; k < 5; k++) {
                int32_t keep = labels[nl - 1];
                labels[nl - 1] = bad[k];
                expect_refused_step(m, 0, RNNLAB_E_INVALID, "labels[", name);
                CHECK_STATUS(rnnlab_forward(m, 0, 1), RNNLAB_E_INVALID);
                CHECK_STATUS(rnnlab_forward(m, 0, 0), RNNLAB_OK); /* no loss: labels unread */
                /* padding may hold anything: mask the position (for 'last', the
                 * whole last sequence) */
                for (int t = 0; t < 4; t++) mask[2 * 4 + t] = last || t == 3 ? 0.0f : 1.0f;
                CHECK_STATUS(rnnlab_train_step(m, RNNLAB_USE_MASK), RNNLAB_OK);
                for (int t = 0; t < 4; t++) mask[2 * 4 + t] = 1.0f;
                labels[nl - 1] = keep;
            }
            rnnlab_free(m);
        }
}

/* ---------------------------------------------------------------- save / load */

static rnnlab_model *load_ok(const image *im) {
    rnnlab_model *m = NULL;
    rnnlab_status st = rnnlab_load(im->bytes, im->len, &m);
    CHECK(st == RNNLAB_OK && m, "load: status %d: %s", (int)st, rnnlab_global_error());
    return m;
}

static void test_save_load_roundtrip(void) {
    for (int v = 0; v < N_VARIANTS; v++)
        for (int opt = 0; opt <= 1; opt++) {
            const char *name = VARIANTS[v].name;
            rnnlab_config c = make_config(&VARIANTS[v], 3, 4, 2, 2);
            c.output = opt ? RNNLAB_OUTPUT_LAST : RNNLAB_OUTPUT_SEQUENCE;
            c.seed = 1234;
            rnnlab_model *a = create_model(&c);
            if (!a) continue;
            rnnlab_optimizer o = rnnlab_optimizer_default(opt ? RNNLAB_OPT_RMSPROP : RNNLAB_OPT_ADAMW);
            o.clip_norm = 0.5f;
            rnnlab_set_optimizer(a, &o);
            rnnlab_set_batch(a, 2, 5);
            rng_seed(45);
            fill_batch(a);
            for (int i = 0; i < 4; i++) rnnlab_train_step(a, 0);
            image im = {NULL, 0};
            CHECK_STATUS(rnnlab_save(a, opt, &im.bytes, &im.len), RNNLAB_OK);
            size_t n = rnnlab_param_count(a);
            CHECK(im.len == 128 + (opt ? 3 : 1) * n * 4 + 4, "%s: %zu bytes for %zu params", name, im.len, n);
            rnnlab_model *b = load_ok(&im);
            if (!b) { free_image(&im); rnnlab_free(a); continue; }

            rnnlab_config ca, cb;
            rnnlab_get_config(a, &ca);
            rnnlab_get_config(b, &cb);
            CHECK(memcmp(&ca, &cb, sizeof ca) == 0, "%s: config differs", name);
            rnnlab_optimizer oa, ob;
            rnnlab_get_optimizer(a, &oa);
            rnnlab_get_optimizer(b, &ob);
            CHECK(memcmp(&oa, &ob, sizeof oa) == 0, "%s: optimiser settings differ", name);
            CHECK(rnnlab_param_count(b) == n, "%s: param count", name);
            CHECK(memcmp(fbuf(a, RNNLAB_BUF_PARAMS, NULL), fbuf(b, RNNLAB_BUF_PARAMS, NULL), n * 4) == 0,
                  "%s: params differ", name);
            float *mb = fbuf(b, RNNLAB_BUF_OPT_M, NULL), *vb = fbuf(b, RNNLAB_BUF_OPT_V, NULL);
            float *sb = fbuf(b, RNNLAB_BUF_STATS, NULL), *sa = fbuf(a, RNNLAB_BUF_STATS, NULL);
            if (opt) {
                CHECK(memcmp(fbuf(a, RNNLAB_BUF_OPT_M, NULL), mb, n * 4) == 0 &&
                          memcmp(fbuf(a, RNNLAB_BUF_OPT_V, NULL), vb, n * 4) == 0,
                      "%s: moments differ", name);
                CHECK(sb[RNNLAB_STAT_STEP] == 4.0f, "%s: step %g", name, (double)sb[RNNLAB_STAT_STEP]);
            } else {
                int zero = 1;
                for (size_t i = 0; i < n; i++) zero &= mb[i] == 0.0f && vb[i] == 0.0f;
                CHECK(zero && sb[RNNLAB_STAT_STEP] == 0.0f, "%s: without optimiser state, moments "
                      "and step should be zero", name);
            }
            /* identical forward outputs on the same batch */
            rnnlab_set_batch(b, 2, 5);
            for (int id = RNNLAB_BUF_X; id <= RNNLAB_BUF_C0; id++) {
                size_t na, nb;
                void *pa = rnnlab_buffer(a, id, &na), *pb = rnnlab_buffer(b, id, &nb);
                if (pa && pb && na == nb) memcpy(pb, pa, na * 4);
            }
            CHECK_STATUS(rnnlab_forward(a, RNNLAB_USE_H0, 1), RNNLAB_OK);
            CHECK_STATUS(rnnlab_forward(b, RNNLAB_USE_H0, 1), RNNLAB_OK);
            const int outputs[] = {RNNLAB_BUF_OUT, RNNLAB_BUF_HT, RNNLAB_BUF_CT, RNNLAB_BUF_GATES,
                                   RNNLAB_BUF_HIDDEN};
            for (int k = 0; k < 5; k++) {
                size_t na, nb;
                void *pa = rnnlab_buffer(a, outputs[k], &na), *pb = rnnlab_buffer(b, outputs[k], &nb);
                CHECK(na == nb && (!na || memcmp(pa, pb, na * 4) == 0), "%s: buffer %d differs", name,
                      outputs[k]);
            }
            CHECK(sa[RNNLAB_STAT_LOSS] == sb[RNNLAB_STAT_LOSS], "%s: loss %g vs %g", name,
                  (double)sa[RNNLAB_STAT_LOSS], (double)sb[RNNLAB_STAT_LOSS]);
            /* saving the loaded model gives the same bytes; without optimiser
             * state the file still records the step count, which load drops */
            image again = {NULL, 0};
            CHECK_STATUS(rnnlab_save(b, opt, &again.bytes, &again.len), RNNLAB_OK);
            if (!opt && again.len == im.len) {
                memset(im.bytes + OFF_STEP, 0, 8);
                fix_crc(im.bytes, im.len);
            }
            CHECK(same_image(im, again), "%s: save(load(f)) != f", name);
            /* with optimiser state, training continues identically */
            if (opt) {
                rnnlab_train_step(a, 0);
                rnnlab_train_step(b, 0);
                CHECK(memcmp(fbuf(a, RNNLAB_BUF_PARAMS, NULL), fbuf(b, RNNLAB_BUF_PARAMS, NULL), n * 4) == 0,
                      "%s: the step after loading differs", name);
            }
            free_image(&again);
            free_image(&im);
            rnnlab_free(a);
            rnnlab_free(b);
        }
}

/* Loads that must fail: E_FORMAT, *out NULL, and a message. */
static void expect_format_error(const uint8_t *p, size_t len, const char *what, long detail) {
    rnnlab_model *m = (rnnlab_model *)&m;
    rnnlab_status st = rnnlab_load(p, len, &m);
    CHECK(st == RNNLAB_E_FORMAT, "%s %ld: status %d (%s)", what, detail, (int)st, rnnlab_global_error());
    CHECK(m == NULL, "%s %ld: a model was returned", what, detail);
    CHECK(rnnlab_global_error()[0] != '\0', "%s %ld: no message", what, detail);
    if (st == RNNLAB_OK) rnnlab_free(m);
}

static image saved_small(int cell, int with_opt) {
    const variant v = {"", cell, RNNLAB_ACT_TANH, 0};
    rnnlab_config c = make_config(&v, 2, 2, 1, 1);
    rnnlab_model *m = create_model(&c);
    image im = {NULL, 0};
    if (!m) return im;
    rnnlab_set_batch(m, 2, 3);
    rng_seed(46);
    fill_batch(m);
    rnnlab_train_step(m, 0);
    CHECK_STATUS(rnnlab_save(m, with_opt, &im.bytes, &im.len), RNNLAB_OK);
    rnnlab_free(m);
    return im;
}

static void test_corrupt_files(void) {
    for (int k = 0; k < 3; k++) {
        image im = saved_small(k == 2 ? RNNLAB_CELL_LSTM : RNNLAB_CELL_RNN, k != 0);
        if (!im.bytes) continue;
        /* every truncation, in an exactly sized copy so ASan sees any overread */
        for (size_t len = 0; len < im.len; len++) {
            uint8_t *cut = malloc(len ? len : 1);
            memcpy(cut, im.bytes, len);
            expect_format_error(cut, len, "truncated to", (long)len);
            free(cut);
        }
        /* trailing bytes */
        uint8_t *longer = malloc(im.len + 8);
        memcpy(longer, im.bytes, im.len);
        memset(longer + im.len, 0, 8);
        for (size_t extra = 1; extra <= 8; extra++) expect_format_error(longer, im.len + extra, "extra bytes", (long)extra);
        free(longer);
        /* every single bit flip (k < 2), or 3000 random ones */
        size_t bits = im.len * 8, tries = k < 2 ? bits : 3000;
        rng_seed(47);
        for (size_t i = 0; i < tries; i++) {
            size_t bit = k < 2 ? i : (size_t)(rng_u64() % bits);
            im.bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            expect_format_error(im.bytes, im.len, "bit flip", (long)bit);
            im.bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        /* the untouched file still loads */
        rnnlab_free(load_ok(&im));
        free_image(&im);
    }
}

/* Well-formed files (checksum fixed) with bad contents. */
static void test_crafted_headers(void) {
    image base = saved_small(RNNLAB_CELL_LSTM, 1);
    if (!base.bytes) return;
    uint8_t *p = malloc(base.len);
    size_t len = base.len;
    uint64_t n = get_le32(base.bytes + OFF_COUNT);
#define RESET() memcpy(p, base.bytes, len)
#define PATCH32(off, v) (put_le32(p + (off), (uint32_t)(v)), fix_crc(p, len))
    const struct { size_t off; uint32_t value; const char *what; } bad[] = {
        {0, 0x4c4e4e53, "magic"}, {OFF_VERSION, 0, "version 0"}, {OFF_VERSION, 2, "version 2"},
        {OFF_FLAGS, 2, "flags 2"}, {OFF_FLAGS, 0x80000001u, "flags high bit"},
        {OFF_CONFIG + 0, 3, "cell 3"}, {OFF_CONFIG + 4, 2, "activation 2"},
        {OFF_CONFIG + 8, 5, "gru_reset_after 5"}, {OFF_CONFIG + 12, 0, "input_size 0"},
        {OFF_CONFIG + 16, 0xffffffffu, "hidden_size -1"}, {OFF_CONFIG + 20, 0, "output_size 0"},
        {OFF_CONFIG + 24, 17, "layers 17"}, {OFF_CONFIG + 28, 2, "output 2"},
        {OFF_CONFIG + 32, 7, "loss 7"}, {OFF_CONFIG + 36, 2, "init 2"},
        {OFF_CONFIG + 40, 2, "recurrent_init 2"}, {OFF_CONFIG + 44, 0x7fc00000u, "recurrent_scale NaN"},
        {OFF_CONFIG + 48, 2, "forget_bias_one 2"},
        {OFF_CONFIG + 4 * 3, 3, "input_size 3 (count mismatch)"},
        {OFF_CONFIG + 24, 2, "layers 2 (count mismatch)"},
        {OFF_CONFIG + 0, RNNLAB_CELL_GRU, "cell gru (count mismatch)"},
        {OFF_OPT + 0, 9, "optimizer type 9"}, {OFF_OPT + 4, 0, "lr 0"},
        {OFF_OPT + 4, 0x7f800000u, "lr inf"}, {OFF_OPT + 12, 0x3f800000u, "beta1 1"},
        {OFF_OPT + 20, 0, "eps 0"}, {OFF_OPT + 36, 0xbf800000u, "clip_value -1"},
        {OFF_STEP + 4, 0xbff00000u, "step -1"}, {OFF_STEP + 4, 0x3fe00000u, "step 0.5"},
        {OFF_STEP + 4, 0x7ff80000u, "step NaN"}, {OFF_STEP + 4, 0x7ff00000u, "step inf"},
        {OFF_COUNT, (uint32_t)n + 1, "count + 1"}, {OFF_COUNT, (uint32_t)n - 1, "count - 1"},
        {OFF_COUNT + 4, 1, "count + 2^32"},
        {OFF_PARAMS, 0x7fc00000u, "first param NaN"},
        {OFF_PARAMS + 4 * (n - 1), 0xff800000u, "last param -inf"},
        {OFF_PARAMS + 4 * n, 0x7f800000u, "first moment inf"},
        {OFF_PARAMS + 8 * n, 0xbf800000u, "second moment -1"},
        {OFF_PARAMS + 12 * n - 4, 0x80000001u, "second moment -denormal"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RESET();
        if (bad[i].off == OFF_STEP + 4) put_le32(p + OFF_STEP, 0);
        PATCH32(bad[i].off, bad[i].value);
        expect_format_error(p, len, bad[i].what, (long)i);
    }
    /* accepted: another seed; a -0 second moment; step 0 without optimiser flag */
    RESET();
    PATCH32(OFF_CONFIG + 52, 99);
    image ok = {p, len};
    rnnlab_free(load_ok(&ok));
    RESET();
    PATCH32(OFF_PARAMS + 8 * n, 0x80000000u);
    rnnlab_free(load_ok(&ok));
#undef RESET
#undef PATCH32
    free(p);
    free_image(&base);
}

/* The step count in a file is capped (serialize.c): a model loaded at or just
 * below the cap and trained once more must still save a loadable file. */
static void test_step_count_at_file_limit(void) {
    const double steps[] = {999999999999999.0, 9007199254740991.0, 9007199254740992.0};
    for (int k = 0; k < 3; k++) {
        image im = saved_small(RNNLAB_CELL_GRU, 1);
        if (!im.bytes) return;
        uint64_t bits;
        memcpy(&bits, &steps[k], 8);
        put_le32(im.bytes + OFF_STEP, (uint32_t)bits);
        put_le32(im.bytes + OFF_STEP + 4, (uint32_t)(bits >> 32));
        fix_crc(im.bytes, im.len);
        rnnlab_model *m = NULL;
        rnnlab_status st = rnnlab_load(im.bytes, im.len, &m);
        free_image(&im);
        if (st != RNNLAB_OK) continue; /* beyond this build's cap */
        rnnlab_set_batch(m, 2, 3);
        rng_seed(52);
        fill_batch(m);
        if (rnnlab_train_step(m, 0) == RNNLAB_OK) {
            image after = snapshot(m);
            rnnlab_model *back = NULL;
            CHECK(rnnlab_load(after.bytes, after.len, &back) == RNNLAB_OK,
                  "trained from step %.17g, the saved file does not load: %s", steps[k],
                  rnnlab_global_error());
            rnnlab_free(back);
            free_image(&after);
        }
        rnnlab_free(m);
    }
}

/* A 132-byte file whose header claims a large model must be rejected without
 * allocating for that model: the file size bounds the parameter count. */
static void test_header_cannot_force_allocation(void) {
    if (!wrapping_linked()) { skip(ALLOC_SKIP); return; }
    image base = saved_small(RNNLAB_CELL_LSTM, 0);
    if (!base.bytes) return;
    const uint32_t hidden[] = {8000, 512, 64};
    for (int i = 0; i < 3; i++) {
        uint8_t *p = malloc(base.len);
        memcpy(p, base.bytes, base.len);
        put_le32(p + OFF_CONFIG + 16, hidden[i]); /* hidden_size */
        fix_crc(p, base.len);
        watch_start((size_t)256 << 20); /* refuse (like wasm would) anything over 256 MB */
        rnnlab_model *m = NULL;
        rnnlab_status st = rnnlab_load(p, base.len, &m);
        watch_stop();
        CHECK(st == RNNLAB_E_FORMAT && m == NULL, "hidden %u: status %d", hidden[i], (int)st);
        CHECK(watch.largest <= 65536 + 16 * base.len, "a %zu-byte file claiming hidden_size %u made load "
              "request %zu bytes (%ld allocations) before rejecting it", base.len, hidden[i],
              watch.largest, watch.calls);
        rnnlab_free(m);
        free(p);
    }
    free_image(&base);
}

/* ---------------------------------------------------------------- diagnostics */

static void test_spectral_norms(void) {
    const float scales[] = {0.0f, 0.5f, 1.0f, 1.7f, 3.0f};
    const int sizes[] = {1, 7, 16};
    for (int v = 0; v < N_VARIANTS; v += 1)
        for (int s = 0; s < 5; s++)
            for (int h = 0; h < 3; h++) {
                rnnlab_config c = make_config(&VARIANTS[v], 3, sizes[h], 1, 2);
                c.recurrent_scale = scales[s];
                c.seed = 11 + s + 7 * h;
                rnnlab_model *m = create_model(&c);
                if (!m) continue;
                int count = c.layers * gates_of(c.cell);
                float norms[8];
                CHECK_STATUS(rnnlab_spectral_norms(m, norms, count - 1), RNNLAB_E_SHAPE);
                CHECK_STATUS(rnnlab_spectral_norms(m, norms, count), RNNLAB_OK);
                for (int i = 0; i < count; i++)
                    CHECK(fabsf(norms[i] - scales[s]) <= 1e-4f * scales[s] + 1e-6f,
                          "%s H %d scale %g: block %d has norm %.7g", VARIANTS[v].name, sizes[h],
                          (double)scales[s], i, (double)norms[i]);
                rnnlab_free(m);
            }
    /* a non-orthogonal matrix: diag(3, -2, 1) has norm 3 */
    rnnlab_config c = make_config(&VARIANTS[0], 1, 3, 1, 1);
    rnnlab_model *m = create_model(&c);
    if (!m) return;
    float *p = fbuf(m, RNNLAB_BUF_PARAMS, NULL);
    size_t off, cnt;
    rnnlab_param_slice(m, 0, 1, &off, &cnt);
    memset(p + off, 0, cnt * 4);
    p[off] = 3.0f;
    p[off + 4] = -2.0f;
    p[off + 8] = 1.0f;
    float norm = 0.0f;
    CHECK_STATUS(rnnlab_spectral_norms(m, &norm, 1), RNNLAB_OK);
    CHECK(fabsf(norm - 3.0f) < 1e-5f, "diag(3, -2, 1): norm %g", (double)norm);
    rnnlab_free(m);
}

/* ---------------------------------------------------------------- determinism */

/* Losses of N steps of a fresh model; params after them into params_out. */
static void run_steps(const variant *v, uint32_t seed, int N, float *losses, float *params_out,
                      size_t *n_out) {
    rnnlab_config c = make_config(v, 2, 5, 2, 2);
    c.seed = seed;
    rnnlab_model *m = create_model(&c);
    if (!m) return;
    rnnlab_set_batch(m, 3, 6);
    float *stats = fbuf(m, RNNLAB_BUF_STATS, NULL);
    rng_seed(48);
    for (int i = 0; i < N; i++) {
        fill_batch(m);
        CHECK_STATUS(rnnlab_train_step(m, RNNLAB_USE_H0), RNNLAB_OK);
        losses[i] = stats[RNNLAB_STAT_LOSS];
    }
    *n_out = rnnlab_param_count(m);
    memcpy(params_out, fbuf(m, RNNLAB_BUF_PARAMS, NULL), *n_out * 4);
    rnnlab_free(m);
}

static void test_determinism(void) {
    enum { N = 15, MAXP = 2048 };
    static float la[N], lb[N], pa[MAXP], pb[MAXP];
    for (int v = 0; v < N_VARIANTS; v++) {
        const char *name = VARIANTS[v].name;
        size_t na = 0, nb = 0;
        /* fresh parameters: same seed → same bits, other seed → other values */
        rnnlab_config c = make_config(&VARIANTS[v], 2, 5, 2, 2);
        c.seed = 5;
        rnnlab_model *a = create_model(&c), *b = create_model(&c);
        c.seed = 6;
        rnnlab_model *d = create_model(&c);
        if (a && b && d) {
            size_t n = rnnlab_param_count(a);
            float *p = fbuf(a, RNNLAB_BUF_PARAMS, NULL);
            CHECK(memcmp(p, fbuf(b, RNNLAB_BUF_PARAMS, NULL), n * 4) == 0, "%s: same seed, other init", name);
            CHECK(memcmp(p, fbuf(d, RNNLAB_BUF_PARAMS, NULL), n * 4) != 0, "%s: seeds 5 and 6 agree", name);
        }
        rnnlab_free(a);
        rnnlab_free(b);
        rnnlab_free(d);
        /* training: same seed and data → same losses and params, bit for bit */
        run_steps(&VARIANTS[v], 5, N, la, pa, &na);
        run_steps(&VARIANTS[v], 5, N, lb, pb, &nb);
        CHECK(na == nb && memcmp(la, lb, sizeof la) == 0 && memcmp(pa, pb, na * 4) == 0,
              "%s: two identical runs differ", name);
    }
    /* interleaving two models (shared static kernel buffers) changes nothing */
    rnnlab_config c = make_config(&VARIANTS[2], 2, 9, 2, 2);
    rnnlab_model *a = create_model(&c), *b = create_model(&c);
    rnnlab_config c2 = make_config(&VARIANTS[4], 3, 17, 1, 1);
    rnnlab_model *other = create_model(&c2);
    if (!a || !b || !other) { rnnlab_free(a); rnnlab_free(b); rnnlab_free(other); return; }
    rnnlab_set_batch(a, 4, 7);
    rnnlab_set_batch(b, 4, 7);
    rnnlab_set_batch(other, 5, 3);
    rng_seed(49);
    fill_batch(a);
    for (int id = RNNLAB_BUF_X; id <= RNNLAB_BUF_C0; id++) {
        size_t n;
        void *src = rnnlab_buffer(a, id, &n);
        if (src) memcpy(rnnlab_buffer(b, id, NULL), src, n * 4);
    }
    fill_batch(other);
    for (int i = 0; i < 5; i++) rnnlab_train_step(a, 0);
    for (int i = 0; i < 5; i++) {
        rnnlab_train_step(other, 0);
        rnnlab_train_step(b, 0);
    }
    CHECK(memcmp(fbuf(a, RNNLAB_BUF_PARAMS, NULL), fbuf(b, RNNLAB_BUF_PARAMS, NULL),
                 rnnlab_param_count(a) * 4) == 0, "interleaved training differs");
    rnnlab_free(a);
    rnnlab_free(b);
    rnnlab_free(other);
}

/* ---------------------------------------------------------------- allocation */

/* DESIGN: no allocation inside a step once the batch shape is known. */
/* Bidirectional layers with every dropout (SPEC §11, §12): steps run under
 * the sanitizers, the refusals, per-direction buffers, a save/load round trip
 * and no allocation inside steps. */
static void bidirectional_dropout_case(const variant *v) {
    const int B = 4, T = 7, H = 5, L = 2;
    rnnlab_config c = make_config(v, 3, H, 2, L);
    c.bidirectional = 1;
    c.dropout = 0.25f;
    c.input_dropout = 0.2f;
    c.recurrent_dropout = 0.3f;
    rnnlab_model *m = create_model(&c);
    if (!m) return;
    CHECK_STATUS(rnnlab_set_batch(m, B, T), RNNLAB_OK);
    rng_seed(77);
    fill_batch(m);
    size_t n;
    float *mask = fbuf(m, RNNLAB_BUF_MASK, &n);
    fbuf(m, RNNLAB_BUF_H0, &n);
    CHECK(n == (size_t)2 * L * B * H, "%s: h0 holds %zu values, expected [L*2, B, H]", v->name, n);
    for (int b = 0; b < B; b++)
        for (int t = T - b; t < T; t++) mask[b * T + t] = 0.0f; /* lengths 7, 6, 5, 4 */
    int flags = RNNLAB_USE_MASK | RNNLAB_USE_H0;
    if (wrapping_linked()) watch_start(0);
    for (int i = 0; i < 3; i++) CHECK_STATUS(rnnlab_train_step(m, flags), RNNLAB_OK);
    CHECK_STATUS(rnnlab_compute_gradients(m, flags | RNNLAB_TRAINING), RNNLAB_OK);
    CHECK_STATUS(rnnlab_forward(m, flags, 1), RNNLAB_OK);
    if (wrapping_linked()) {
        watch_stop();
        CHECK(watch.calls == 0, "%s: %ld allocations inside steps", v->name, watch.calls);
    }
    mask[2] = 0.0f; /* sequence 0: 1 1 0 1 …: not a prefix */
    CHECK_STATUS(rnnlab_forward(m, flags, 1), RNNLAB_E_INVALID);
    mask[2] = 1.0f;
    CHECK_STATUS(rnnlab_forward(m, RNNLAB_CARRY_STATE, 0), RNNLAB_E_INVALID);
    float out[4 * 7 * 2];
    CHECK_STATUS(rnnlab_forward(m, flags, 0), RNNLAB_OK);
    memcpy(out, fbuf(m, RNNLAB_BUF_OUT, &n), sizeof out);
    uint8_t *bytes = NULL;
    size_t len = 0;
    rnnlab_model *back = NULL;
    CHECK_STATUS(rnnlab_save(m, 1, &bytes, &len), RNNLAB_OK);
    CHECK_STATUS(rnnlab_load(bytes, len, &back), RNNLAB_OK);
    if (back) {
        rnnlab_config bc;
        rnnlab_get_config(back, &bc);
        CHECK(bc.bidirectional == 1 && bc.recurrent_dropout == 0.3f, "%s: config after load", v->name);
        rnnlab_set_batch(back, B, T);
        memcpy(fbuf(back, RNNLAB_BUF_X, NULL), fbuf(m, RNNLAB_BUF_X, NULL), sizeof(float) * B * T * 3);
        memcpy(fbuf(back, RNNLAB_BUF_MASK, NULL), mask, sizeof(float) * B * T);
        memcpy(fbuf(back, RNNLAB_BUF_H0, NULL), fbuf(m, RNNLAB_BUF_H0, NULL), sizeof(float) * 2 * L * B * H);
        if (v->cell == RNNLAB_CELL_LSTM) memcpy(fbuf(back, RNNLAB_BUF_C0, NULL), fbuf(m, RNNLAB_BUF_C0, NULL), sizeof(float) * 2 * L * B * H);
        CHECK_STATUS(rnnlab_forward(back, flags, 0), RNNLAB_OK);
        CHECK(memcmp(out, fbuf(back, RNNLAB_BUF_OUT, NULL), sizeof out) == 0, "%s: outputs after load", v->name);
    }
    rnnlab_free(back);
    rnnlab_bytes_free(bytes);
    rnnlab_free(m);
}

static void test_bidirectional_dropout(void) {
    for (int v = 0; v < N_VARIANTS; v++) bidirectional_dropout_case(&VARIANTS[v]);
}

/* Threads (pool.h) split products by rows or columns and time steps by rows
 * of the batch. pool_pretend(n) plans every piece of work for n threads and
 * runs the chunks last to first: the losses, parameters, dx and dh0 must be
 * the bits of the unsplit run, for every cell, with bidirectional layers and
 * every dropout too. */
static void split_run(const rnnlab_config *c, int threads, float *out, size_t *n_out) {
    pool_pretend(threads);
    rnnlab_model *m = create_model(c);
    *n_out = 0;
    if (m) {
        rnnlab_set_batch(m, 10, 5);
        rng_seed(77);
        size_t n = 0, k;
        for (int i = 0; i < 4; i++) {
            fill_batch(m);
            CHECK_STATUS(rnnlab_train_step(m, RNNLAB_USE_H0 | RNNLAB_TRAINING), RNNLAB_OK);
            out[n++] = fbuf(m, RNNLAB_BUF_STATS, NULL)[RNNLAB_STAT_LOSS];
        }
        const int ids[] = {RNNLAB_BUF_PARAMS, RNNLAB_BUF_DX, RNNLAB_BUF_DH0, RNNLAB_BUF_FLOW_H};
        for (int b = 0; b < 4; b++) {
            const float *p = fbuf(m, ids[b], &k);
            if (p) memcpy(out + n, p, k * sizeof(float));
            n += p ? k : 0;
        }
        *n_out = n;
        rnnlab_free(m);
    }
    pool_pretend(1);
}

static void test_thread_split(void) {
    enum { MAXN = 20000 };
    static float a[MAXN], b[MAXN];
    for (int v = 0; v < N_VARIANTS; v++)
        for (int kind = 0; kind < 3; kind++) {
            rnnlab_config c = make_config(&VARIANTS[v], 3, 6, 2, 2);
            c.bidirectional = kind == 1;
            if (kind == 2) { c.dropout = 0.3f; c.input_dropout = 0.2f; c.recurrent_dropout = 0.2f; }
            size_t na = 0, nb = 0;
            split_run(&c, 1, a, &na);
            for (int threads = 2; threads <= 3; threads++) {
                split_run(&c, threads, b, &nb);
                CHECK(na > 0 && na == nb && memcmp(a, b, na * sizeof(float)) == 0,
                      "%s (%s) on %d threads: other bits than on 1", VARIANTS[v].name,
                      kind == 0 ? "plain" : kind == 1 ? "bidirectional" : "dropout", threads);
            }
        }
}

static void test_no_allocation_in_steps(void) {
    if (!wrapping_linked()) { skip(ALLOC_SKIP); return; }
    for (int v = 0; v < N_VARIANTS; v++)
        for (int k = 0; k < 2; k++) {
            rnnlab_config c = make_config(&VARIANTS[v], 3, 6, 2, 2);
            if (k) { c.output = RNNLAB_OUTPUT_LAST; c.loss = RNNLAB_LOSS_CROSS_ENTROPY; }
            rnnlab_model *m = create_model(&c);
            if (!m) continue;
            CHECK_STATUS(rnnlab_set_batch(m, 4, 9), RNNLAB_OK);
            rng_seed(50);
            fill_batch(m);
            rnnlab_optimizer o = rnnlab_optimizer_default(RNNLAB_OPT_ADAM);
            o.clip_norm = 0.1f;
            o.clip_value = 0.01f;
            rnnlab_set_optimizer(m, &o);
            watch_start(0);
            int ok = 1;
            for (int i = 0; i < 10; i++) ok &= rnnlab_train_step(m, i % 4) == RNNLAB_OK;
            ok &= rnnlab_forward(m, 0, 1) == RNNLAB_OK;
            ok &= rnnlab_forward(m, RNNLAB_USE_MASK, 0) == RNNLAB_OK;
            ok &= rnnlab_compute_gradients(m, RNNLAB_USE_H0) == RNNLAB_OK;
            ok &= rnnlab_set_batch(m, 4, 9) == RNNLAB_OK; /* same shape */
            ok &= rnnlab_set_batch(m, 2, 5) == RNNLAB_OK; /* smaller: fits */
            ok &= rnnlab_train_step(m, 0) == RNNLAB_OK;
            rnnlab_params_changed(m); /* repacking reuses its buffer */
            ok &= rnnlab_train_step(m, 0) == RNNLAB_OK;
            rnnlab_reset_optimizer(m);
            ok &= rnnlab_train_step(m, 0) == RNNLAB_OK;
            watch_stop();
            CHECK(ok, "%s: a step failed: %s", VARIANTS[v].name, rnnlab_last_error(m));
            CHECK(watch.calls == 0, "%s%s: %ld allocations inside steps (largest %zu bytes)",
                  VARIANTS[v].name, k ? " (last, cross-entropy)" : "", watch.calls, watch.largest);
            /* refused steps allocate nothing either */
            float *x = fbuf(m, RNNLAB_BUF_X, NULL);
            x[0] = NAN;
            watch_start(0);
            rnnlab_train_step(m, 0);
            watch_stop();
            CHECK(watch.calls == 0, "%s: %ld allocations in a refused step", VARIANTS[v].name, watch.calls);
            rnnlab_free(m);
        }
}

/* The counter itself works (otherwise zero above would prove nothing). */
static void test_allocation_watch_works(void) {
    if (!wrapping_linked()) { skip(ALLOC_SKIP); return; }
    rnnlab_config c = rnnlab_config_default();
    c.hidden_size = 3;
    watch_start(0);
    rnnlab_model *m = create_model(&c);
    if (m) rnnlab_set_batch(m, 2, 2);
    watch_stop();
    CHECK(watch.calls >= 3, "create + set_batch counted %ld allocations", watch.calls);
    watch_start(0);
    if (m) rnnlab_set_batch(m, 2, 3); /* grows in T: the batch block */
    watch_stop();
    CHECK(watch.calls == 1, "a set_batch growing T counted %ld allocations", watch.calls);
    watch_start(0);
    if (m) rnnlab_set_batch(m, 3, 3); /* grows in B: the batch block and the state block */
    watch_stop();
    CHECK(watch.calls == 2, "a set_batch growing B counted %ld allocations", watch.calls);
    rnnlab_free(m);
}

/* ---------------------------------------------------------------- corpus */

/* Seed inputs for fuzz_load.c: one mode byte, then a saved model. */
static int write_corpus(const char *dir) {
    static const struct {
        const char *name;
        int cell, act, reset_after, X, H, Y, L, output, loss, with_opt, steps, opt_type;
        uint8_t mode;
        int bidirectional; /* and every dropout at p = drop (SPEC §11, §12) */
        float drop;
    } seeds[] = {
        {"rnn_tanh_plain.bin", RNNLAB_CELL_RNN, 0, 0, 2, 3, 2, 1, 0, 0, 0, 0, RNNLAB_OPT_ADAM, 0x00, 0, 0.0f},
        {"rnn_relu_2layers_opt.bin", RNNLAB_CELL_RNN, 1, 0, 1, 2, 1, 2, 0, 0, 1, 2, RNNLAB_OPT_MOMENTUM, 0x0b, 0, 0.0f},
        {"lstm_opt.bin", RNNLAB_CELL_LSTM, 0, 0, 1, 2, 1, 1, 0, 0, 1, 3, RNNLAB_OPT_ADAM, 0x0f, 0, 0.0f},
        {"lstm_last_ce.bin", RNNLAB_CELL_LSTM, 0, 0, 2, 2, 3, 1, 1, 1, 0, 1, RNNLAB_OPT_SGD, 0x03, 0, 0.0f},
        {"gru_before_ce.bin", RNNLAB_CELL_GRU, 0, 0, 2, 2, 3, 1, 0, 1, 1, 2, RNNLAB_OPT_RMSPROP, 0x09, 0, 0.0f},
        {"gru_after_2layers.bin", RNNLAB_CELL_GRU, 0, 1, 1, 2, 1, 2, 1, 0, 1, 2, RNNLAB_OPT_ADAMW, 0x07, 0, 0.0f},
        {"lstm_bi_dropout_2layers.bin", RNNLAB_CELL_LSTM, 0, 0, 2, 2, 2, 2, 0, 0, 1, 2, RNNLAB_OPT_ADAM, 0x0f, 1, 0.25f},
        {"gru_after_bi_last_ce.bin", RNNLAB_CELL_GRU, 0, 1, 2, 2, 3, 1, 1, 1, 0, 1, RNNLAB_OPT_SGD, 0x0b, 1, 0.0f},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        const variant v = {seeds[i].name, seeds[i].cell, seeds[i].act, seeds[i].reset_after};
        rnnlab_config c = make_config(&v, seeds[i].X, seeds[i].H, seeds[i].Y, seeds[i].L);
        c.output = seeds[i].output;
        c.loss = seeds[i].loss;
        c.seed = 1000 + (uint32_t)i;
        c.bidirectional = seeds[i].bidirectional;
        c.dropout = c.input_dropout = c.recurrent_dropout = seeds[i].drop;
        rnnlab_model *m = NULL;
        if (rnnlab_create(&c, &m) != RNNLAB_OK) return fprintf(stderr, "create: %s\n", rnnlab_global_error()), 1;
        rnnlab_optimizer o = rnnlab_optimizer_default(seeds[i].opt_type);
        rnnlab_set_optimizer(m, &o);
        rnnlab_set_batch(m, 2, 3);
        rng_seed(51 + i);
        fill_batch(m);
        for (int s = 0; s < seeds[i].steps; s++) rnnlab_train_step(m, 0);
        uint8_t *bytes = NULL;
        size_t len = 0;
        rnnlab_save(m, seeds[i].with_opt, &bytes, &len);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, seeds[i].name);
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(&seeds[i].mode, 1, 1, f) == 1 && fwrite(bytes, 1, len, f) == len;
        if (f) ok &= fclose(f) == 0;
        rnnlab_bytes_free(bytes);
        rnnlab_free(m);
        if (!ok) return fprintf(stderr, "cannot write %s\n", path), 1;
        printf("%s (%zu bytes)\n", path, len + 1);
    }
    return 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0) return write_corpus(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--write-corpus DIR]\n", argv[0]);
        return 2;
    }
    printf("allocation counting: %s\n", wrapping_linked() ? "on (--wrap linked)" : "off");
    run_test("config: defaults", test_config_defaults);
    run_test("config: every field out of range is E_INVALID naming the field", test_config_validation);
    run_test("optimizer: every setting out of range is E_INVALID naming it", test_optimizer_validation);
    run_test("NULL arguments", test_null_arguments);
    run_test("create/free: every cell and option, SPEC §2 counts, SPEC §6 biases", test_create_all_variants);
    run_test("set_batch: bad sizes E_SHAPE, steps before it E_STATE", test_set_batch_and_state);
    run_test("buffers: lengths, NULLs, no overlap, written in full", test_buffer_lengths);
    run_test("buffer table: every entry equals rnnlab_buffer, before and after set_batch", test_buffer_table);
    run_test("CARRY_STATE: windows = the whole sequence; = USE_H0 with hT; the state block", test_carry_state);
    run_test("training: the delay task, every cell", test_training_reduces_loss);
    run_test("training: sign of a sum, many-to-one cross-entropy", test_training_classifier);
    run_test("compute_gradients: weights untouched, clipping stats", test_gradients_and_clipping_stats);
    run_test("non-finite x, y, h0, c0: E_NONFINITE, model unchanged", test_nonfinite_data);
    run_test("overflowing loss: E_NONFINITE, params, moments, step unchanged", test_nonfinite_loss);
    run_test("overflowing gradient with finite loss: E_NONFINITE", test_nonfinite_gradient);
    run_test("a step that returns OK leaves finite, loadable state", test_ok_step_keeps_state_finite);
    run_test("mask: values other than 0/1 are E_INVALID; masked targets add nothing", test_mask_values);
    run_test("labels out of range: E_INVALID (unless masked)", test_labels_range);
    run_test("save/load: identical params, moments, outputs, bytes", test_save_load_roundtrip);
    run_test("load: every truncation and bit flip is E_FORMAT", test_corrupt_files);
    run_test("load: bad fields behind a valid checksum are E_FORMAT", test_crafted_headers);
    run_test("a step at the file's step-count limit still saves a loadable file", test_step_count_at_file_limit);
    run_test("[alloc] load: a small file cannot force a large allocation", test_header_cannot_force_allocation);
    run_test("spectral norms of orthogonal init equal recurrent_scale", test_spectral_norms);
    run_test("determinism: same seed, same bits", test_determinism);
    run_test("threads: the split changes no bits (cells, bidirectional, dropout)", test_thread_split);
    run_test("[alloc] the allocation counter sees the engine's allocations", test_allocation_watch_works);
    run_test("[alloc] no allocation inside steps once the batch shape is known", test_no_allocation_in_steps);
    run_test("bidirectional with every dropout: steps, refusals, save/load", test_bidirectional_dropout);
    return check_summary();
}
