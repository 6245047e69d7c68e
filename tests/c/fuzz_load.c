/* fuzz_load.c — libFuzzer target for rnnlab_load (src/serialize.c) and what
 * a loaded model can do next.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc \
 *       tests/c/fuzz_load.c $(bash build.sh sources) \
 *       -lm -o build/native/fuzz_load
 *   build/native/fuzz_load -max_total_time=60 /tmp/corpus tests/c/corpus   fuzz
 *   build/native/fuzz_load FILE...                                          replay files
 *
 * An input is one mode byte followed by the bytes of a saved model file
 * (tests/c/corpus holds such inputs, written by test_engine --write-corpus):
 *   bit 0  recompute the file's CRC-32 before loading (see below)
 *   bit 1  run the batch with RNNLAB_USE_MASK (some positions masked)
 *   bit 2  run the batch with RNNLAB_USE_H0
 *   bit 3  after the forward pass also compute gradients, take a train step
 *          and compute the spectral norms
 *
 * Why bit 0: the file ends with a CRC-32 of every byte before it. A random
 * mutation keeps that checksum valid with probability 2^-32, so without help
 * nearly every input stops at the checksum and the parser behind it (config
 * validation, sizes, optimiser settings, values) is never reached. With bit 0
 * set the target patches the checksum so mutations reach the parser proper;
 * with bit 0 clear the bytes go in as they are, so the checksum check itself
 * (and everything before it) stays fuzzed. The mutator flips the bit like any
 * other, so both paths get about half of the inputs.
 *
 * Beyond the sanitizers, two oracles: a file that loads saves back to the
 * same bytes (a file without optimiser state may record a step count that
 * load drops, so there the step field and the checksum are not compared); and
 * after a train step that returns OK the model saves into a file that loads.
 */
#include "rnnlab.h"
#include "crc32.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MODE_FIX_CRC = 1, MODE_MASK = 2, MODE_H0 = 4, MODE_TRAIN = 8 };
enum { OFF_FLAGS = 12, OFF_STEP = 112, HEADER = 128 };


static uint32_t get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fail(const char *what) {
    fprintf(stderr, "fuzz_load: %s\n", what);
    abort();
}

/* load(f) then save must give f back (see the top of the file). */
static void check_round_trip(rnnlab_model *m, const uint8_t *file, size_t len) {
    int with_opt = get_le32(file + OFF_FLAGS) & 1u;
    uint8_t *saved = NULL;
    size_t saved_len = 0;
    if (rnnlab_save(m, with_opt, &saved, &saved_len) != RNNLAB_OK) fail("a loaded model does not save");
    if (saved_len != len) fail("save(load(f)) has another length than f");
    int same = with_opt ? memcmp(saved, file, len) == 0
                        : memcmp(saved, file, OFF_STEP) == 0 &&
                              memcmp(saved + OFF_STEP + 8, file + OFF_STEP + 8, len - OFF_STEP - 12) == 0;
    rnnlab_bytes_free(saved);
    if (!same) fail("save(load(f)) differs from f");
}

/* A small batch through whatever model loaded: B = 2, T = 3. */
static void exercise(rnnlab_model *m, int mode) {
    const int B = 2, T = 3;
    if (rnnlab_set_batch(m, B, T) != RNNLAB_OK) return;
    rnnlab_config c;
    rnnlab_get_config(m, &c);
    size_t n;
    float *p;
    if ((p = rnnlab_buffer(m, RNNLAB_BUF_X, &n)))
        for (size_t i = 0; i < n; i++) p[i] = (float)((int)(i % 7) - 3) * 0.25f;
    if ((p = rnnlab_buffer(m, RNNLAB_BUF_Y, &n)))
        for (size_t i = 0; i < n; i++) p[i] = (float)(i % 3) * 0.5f - 0.5f;
    if ((p = rnnlab_buffer(m, RNNLAB_BUF_H0, &n)))
        for (size_t i = 0; i < n; i++) p[i] = 0.1f * (float)(i % 5);
    if ((p = rnnlab_buffer(m, RNNLAB_BUF_C0, &n)))
        for (size_t i = 0; i < n; i++) p[i] = -0.1f * (float)(i % 4);
    if ((p = rnnlab_buffer(m, RNNLAB_BUF_MASK, &n))) /* sequence 1 is only 1 step long */
        for (size_t i = 0; i < n; i++) p[i] = i < (size_t)T || i % T == 0 ? 1.0f : 0.0f;
    int32_t *labels = rnnlab_buffer(m, RNNLAB_BUF_LABELS, &n);
    if (labels)
        for (size_t i = 0; i < n; i++) labels[i] = (int32_t)(i % (size_t)c.output_size);
    int flags = (mode & MODE_MASK ? RNNLAB_USE_MASK : 0) | (mode & MODE_H0 ? RNNLAB_USE_H0 : 0);
    rnnlab_forward(m, flags, 1);
    rnnlab_forward(m, flags | RNNLAB_CARRY_STATE, 1); /* from the states just left */
    if (!(mode & MODE_TRAIN)) return;
    rnnlab_compute_gradients(m, flags);
    if (rnnlab_train_step(m, flags) == RNNLAB_OK) { /* what a step leaves must save and load */
        uint8_t *saved = NULL;
        size_t saved_len = 0;
        rnnlab_model *back = NULL;
        if (rnnlab_save(m, 1, &saved, &saved_len) != RNNLAB_OK) fail("a trained model does not save");
        if (rnnlab_load(saved, saved_len, &back) != RNNLAB_OK) {
            fprintf(stderr, "fuzz_load: %s\n", rnnlab_global_error());
            fail("a model saved after a successful train step does not load");
        }
        rnnlab_free(back);
        rnnlab_bytes_free(saved);
    }
    int count = c.layers * (c.cell == RNNLAB_CELL_LSTM ? 4 : c.cell == RNNLAB_CELL_GRU ? 3 : 1);
    float *norms = malloc((size_t)count * sizeof(float));
    if (norms) rnnlab_spectral_norms(m, norms, count);
    free(norms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0];
    size_t len = size - 1;
    /* an exactly sized copy: ASan reports any read past the file */
    uint8_t *file = malloc(len ? len : 1);
    if (!file) return 0;
    memcpy(file, data + 1, len);
    if ((mode & MODE_FIX_CRC) && len >= 4) {
        uint32_t crc = crc32_ieee(file, len - 4);
        for (int i = 0; i < 4; i++) file[len - 4 + i] = (uint8_t)(crc >> (8 * i));
    }
    rnnlab_model *m = (rnnlab_model *)file; /* must come back NULL on failure */
    rnnlab_status st = rnnlab_load(file, len, &m);
    if (st != RNNLAB_OK) {
        if (m != NULL) fail("a failed load returned a model");
        if (st != RNNLAB_E_FORMAT && st != RNNLAB_E_NOMEM) fail("a failed load returned an unexpected status");
    } else {
        if (m == NULL || len < HEADER + 4) fail("load returned OK without a model");
        check_round_trip(m, file, len);
        exercise(m, mode);
        rnnlab_free(m);
    }
    free(file);
    return 0;
}
