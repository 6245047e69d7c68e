/* wasm_api.c — thin entry points for JavaScript: no structs by value and no
 * out-parameters across the boundary (JS reads plain numbers and pointers). */
#include "model.h"

#include <stdlib.h>

static rnnlab_status global_status;
static size_t last_size;

int rnnlab_global_status(void) { return global_status; }
size_t rnnlab_last_size(void) { return last_size; }

void rnnlab_config_default_into(rnnlab_config *out) { *out = rnnlab_config_default(); }
void rnnlab_optimizer_default_into(rnnlab_optimizer *out, int type) { *out = rnnlab_optimizer_default(type); }

rnnlab_model *rnnlab_create_from(const rnnlab_config *cfg) {
    rnnlab_model *m = NULL;
    global_status = rnnlab_create(cfg, &m);
    return m;
}

size_t rnnlab_param_slice_offset(const rnnlab_model *m, int layer, int kind) {
    size_t off = 0, count = 0;
    return rnnlab_param_slice(m, layer, kind, &off, &count) == RNNLAB_OK ? off : (size_t)-1;
}

size_t rnnlab_param_slice_count(const rnnlab_model *m, int layer, int kind) {
    size_t off = 0, count = 0;
    return rnnlab_param_slice(m, layer, kind, &off, &count) == RNNLAB_OK ? count : 0;
}

/* Returns malloc'd bytes (free with rnnlab_bytes_free), size in rnnlab_last_size. */
uint8_t *rnnlab_save_alloc(rnnlab_model *m, int with_optimizer) {
    uint8_t *bytes = NULL;
    last_size = 0;
    global_status = rnnlab_save(m, with_optimizer, &bytes, &last_size);
    return bytes;
}

rnnlab_model *rnnlab_load_from(const uint8_t *bytes, size_t len) {
    rnnlab_model *m = NULL;
    global_status = rnnlab_load(bytes, len, &m);
    return m;
}

const uint8_t *rnnlab_metadata_ptr(const rnnlab_model *m) { return rnnlab_metadata(m, NULL); }

size_t rnnlab_metadata_len(const rnnlab_model *m) {
    size_t n = 0;
    rnnlab_metadata(m, &n);
    return n;
}
