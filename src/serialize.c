/* serialize.c — the saved-model format, versions 1 and 2. All integers and
 * floats little-endian:
 *   0   magic "RNNLAB\x1a\n"        8 bytes
 *   8   format version (u32): 1, or 2 when a config field after seed is in use
 *   12  flags (u32): bit 0 = optimiser state follows the parameters
 *   16  config: 14 x 4 bytes in the field order of rnnlab_config
 *   72  optimiser settings: 10 x 4 bytes in the field order of rnnlab_optimizer
 *   112 optimiser step count (f64)
 *   120 parameter count n (u64)
 *   version 2 only: at 128 the count k (u32) of config words after the first
 *       14, then those k words (rnnlab_config from embedding_vocab on); save
 *       writes the fewest words that hold every nonzero field, so a file
 *       reads in every build that knows its fields, and a build reads every
 *       k up to its own count (the words it lacks are 0: the field is off)
 *   P   parameters (n x f32), P = 128 (version 1) or 132 + 4k (version 2);
 *       then with flag bit 0: moments m and v (n x f32 each)
 *   then with flag bit 1: metadata length k (u32) and k bytes (the caller's,
 *       e.g. UTF-8 JSON; at most RNNLAB_MAX_METADATA)
 *   end CRC-32 (IEEE 802.3) of every byte before it (u32)
 * A file is rejected whole, before any model exists, if any check fails.
 * Models with every newer field zero are saved as version 1, the bytes older
 * builds read; a version 2 file has at least one in use. */
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_BYTES 128
static const uint8_t MAGIC[8] = {'R', 'N', 'N', 'L', 'A', 'B', 0x1a, '\n'};

static uint32_t crc32_ieee(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put_f32(uint8_t *p, float f) { uint32_t v; memcpy(&v, &f, 4); put_u32(p, v); }
static float get_f32(const uint8_t *p) { uint32_t v = get_u32(p); float f; memcpy(&f, &v, 4); return f; }
static void put_u64(uint8_t *p, uint64_t v) { put_u32(p, (uint32_t)v); put_u32(p + 4, (uint32_t)(v >> 32)); }
static uint64_t get_u64(const uint8_t *p) { return get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

static void put_floats(uint8_t *p, const float *f, size_t n) {
    for (size_t i = 0; i < n; i++) put_f32(p + 4 * i, f[i]);
}

/* rnnlab_config and rnnlab_optimizer are all 4-byte fields, in order */
static void put_words(uint8_t *p, const void *s, int words) {
    const uint8_t *b = s;
    for (int i = 0; i < words; i++) { uint32_t v; memcpy(&v, b + 4 * i, 4); put_u32(p + 4 * i, v); }
}
static void get_words(void *s, const uint8_t *p, int words) {
    uint8_t *b = s;
    for (int i = 0; i < words; i++) { uint32_t v = get_u32(p + 4 * i); memcpy(b + 4 * i, &v, 4); }
}
#define CONFIG_WORDS_V1 14
#define CONFIG_WORDS_EXT ((int)(sizeof(rnnlab_config) / 4) - CONFIG_WORDS_V1)
_Static_assert(sizeof(rnnlab_config) == 4 * (CONFIG_WORDS_V1 + 5), "rnnlab_config is 19 words");

/* The config words after the first 14 that a file needs: up to the last
 * nonzero one (0: version 1 will do). */
static int extension_words(const rnnlab_config *cfg) {
    uint8_t words[4 * CONFIG_WORDS_EXT];
    put_words(words, (const uint8_t *)cfg + 4 * CONFIG_WORDS_V1, CONFIG_WORDS_EXT);
    int k = 0;
    for (int i = 0; i < (int)sizeof words; i++)
        if (words[i]) k = i / 4 + 1;
    return k;
}

/* Where the parameters start in a file of this version with k extension words. */
static size_t params_at(int version, int k) { return version == 1 ? HEADER_BYTES : HEADER_BYTES + 4 + 4 * (size_t)k; }
_Static_assert(sizeof(rnnlab_optimizer) == 40, "rnnlab_optimizer is 10 words");

rnnlab_status rnnlab_save(rnnlab_model *m, int with_optimizer, uint8_t **bytes, size_t *len) {
    if (!m) return set_error(NULL, RNNLAB_E_INVALID, "save: the model is NULL");
    if (!bytes || !len) return set_error(m, RNNLAB_E_INVALID, "save: bytes or len is NULL");
    *bytes = NULL;
    *len = 0;
    size_t n = m->n_params, blocks = with_optimizer ? 3 : 1;
    size_t meta_bytes = m->meta ? 4 + m->meta_len : 0;
    int k = extension_words(&m->cfg), version = k ? 2 : 1;
    size_t at = params_at(version, k);
    size_t total = at + blocks * n * 4 + meta_bytes + 4;
    uint8_t *p = malloc(total);
    if (!p) return set_error(m, RNNLAB_E_NOMEM, "out of memory saving %zu bytes", total);
    memcpy(p, MAGIC, 8);
    put_u32(p + 8, (uint32_t)version);
    put_u32(p + 12, (with_optimizer ? 1u : 0u) | (m->meta ? 2u : 0u));
    put_words(p + 16, &m->cfg, CONFIG_WORDS_V1);
    if (version == 2) {
        put_u32(p + HEADER_BYTES, (uint32_t)k);
        put_words(p + HEADER_BYTES + 4, (const uint8_t *)&m->cfg + 4 * CONFIG_WORDS_V1, k);
    }
    put_words(p + 72, &m->opt, 10);
    double step = with_optimizer ? m->step : 0.0; /* the count belongs to the moments */
    uint64_t step_bits;
    memcpy(&step_bits, &step, 8);
    put_u64(p + 112, step_bits);
    put_u64(p + 120, n);
    put_floats(p + at, m->params, n);
    if (with_optimizer) {
        put_floats(p + at + 4 * n, m->opt_m, n);
        put_floats(p + at + 8 * n, m->opt_v, n);
    }
    if (m->meta) {
        uint8_t *q = p + at + blocks * n * 4;
        put_u32(q, (uint32_t)m->meta_len);
        memcpy(q + 4, m->meta, m->meta_len);
    }
    put_u32(p + total - 4, crc32_ieee(p, total - 4));
    *bytes = p;
    *len = total;
    return RNNLAB_OK;
}

/* E_FORMAT: what is wrong, and what the file holds where it can be told. */
static rnnlab_status reject(const char *fmt, ...) {
    char what[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return set_error(NULL, RNNLAB_E_FORMAT, "not a valid rnnlab model file: %s", what);
}

/* The first 8 bytes as a C string literal: printable ASCII as is, the rest as
 * \xNN (out holds at least 8 * 4 + 1 bytes). */
static void escape_magic(const uint8_t *p, char *out) {
    for (int i = 0; i < 8; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') *out++ = (char)p[i];
        else out += sprintf(out, "\\x%02x", p[i]);
    }
    *out = '\0';
}

/* What the fixed header of a file says, once checked. */
typedef struct {
    uint32_t flags;
    rnnlab_config cfg;
    rnnlab_optimizer opt;
    double step;
    uint64_t n, blocks, body, meta_len; /* body: header + parameter blocks, in bytes */
    size_t params_at;                   /* where the parameters start */
} header;

/* Version 2: the k config words after the first 14, 1 <= k <= this build's
 * count, the last of them in use (else save writes fewer, or version 1). */
static rnnlab_status read_config_extension(const uint8_t *p, size_t len, header *h) {
    if (len < HEADER_BYTES + 8) return reject("a version 2 file shorter than its configuration extension (%zu bytes)", len);
    uint32_t k = get_u32(p + HEADER_BYTES);
    if (k < 1 || k > (uint32_t)CONFIG_WORDS_EXT)
        return set_error(NULL, RNNLAB_E_FORMAT,
                         "model file format version 2 with %u configuration words after the first 14: this build "
                         "reads 1 to %d (and version 1, which has none)", (unsigned)k, CONFIG_WORDS_EXT);
    if (len < params_at(2, (int)k) + 4) return reject("a version 2 file shorter than its configuration extension (%zu bytes)", len);
    get_words((uint8_t *)&h->cfg + 4 * CONFIG_WORDS_V1, p + HEADER_BYTES + 4, (int)k);
    if (extension_words(&h->cfg) != (int)k)
        return reject("a version 2 file with %u configuration words whose last is 0 (save writes %d for it)",
                      (unsigned)k, extension_words(&h->cfg));
    h->params_at = params_at(2, (int)k);
    return RNNLAB_OK;
}

/* Magic, version, checksum, flags and the step count. */
static rnnlab_status read_header(const uint8_t *p, size_t len, header *h) {
    if (len < HEADER_BYTES + 4) return reject("shorter than the 132-byte minimum, got %zu bytes", len);
    if (memcmp(p, MAGIC, 8) != 0) {
        char found[8 * 4 + 1];
        escape_magic(p, found);
        return reject("wrong magic bytes: expected \"RNNLAB\\x1a\\n\", found \"%s\"", found);
    }
    uint32_t version = get_u32(p + 8);
    if (version != 1 && version != 2)
        return set_error(NULL, RNNLAB_E_FORMAT, "model file format version %u: this build reads version 1 and version 2", version);
    rnnlab_status st;
    uint32_t stored = get_u32(p + len - 4), computed = crc32_ieee(p, len - 4);
    if (stored != computed)
        return reject("checksum mismatch (the file is truncated or altered): stored 0x%08x, "
                      "computed 0x%08x over the first %zu of its %zu bytes",
                      (unsigned)stored, (unsigned)computed, len - 4, len);
    h->flags = get_u32(p + 12);
    if (h->flags > 3) return reject("unknown flags 0x%x (known: 0x1, 0x2)", (unsigned)h->flags);
    memset(&h->cfg, 0, sizeof h->cfg); /* version 1: every newer field off */
    get_words(&h->cfg, p + 16, CONFIG_WORDS_V1);
    h->params_at = params_at(1, 0);
    if (version == 2 && (st = read_config_extension(p, len, h))) return st;
    get_words(&h->opt, p + 72, 10);
    uint64_t step_bits = get_u64(p + 112);
    h->n = get_u64(p + 120);
    memcpy(&h->step, &step_bits, 8);
    if (!(h->step >= 0.0 && h->step <= 9007199254740992.0) || h->step != floor(h->step)) /* 2^53: exact in a double */
        return reject("bad optimiser step count");
    return RNNLAB_OK;
}

/* Everything is checked against the file size before any allocation, so a
 * small forged file cannot make the engine allocate a large model. */
static rnnlab_status check_sizes(const uint8_t *p, size_t len, header *h) {
    char why[320];
    if (validate_config(&h->cfg, why, sizeof why) != RNNLAB_OK)
        return reject("bad configuration: %s", why);
    h->blocks = h->flags & 1u ? 3 : 1;
    if (h->n != expected_param_count(&h->cfg))
        return reject("the parameter count %.0f does not match the configuration's %.0f", (double)h->n,
                      (double)expected_param_count(&h->cfg));
    h->body = h->params_at + h->blocks * h->n * 4;
    h->meta_len = 0;
    if (h->flags & 2u) { /* metadata: its length must lie inside the file */
        if ((uint64_t)len < h->body + 8) return reject("the file is shorter than its parameters and metadata length");
        h->meta_len = get_u32(p + h->body);
        /* save writes the flag only with metadata: a file that has it with
         * none would not save back to the same bytes */
        if (h->meta_len == 0) return reject("the metadata flag is set but the metadata is empty");
        if (h->meta_len > RNNLAB_MAX_METADATA) return reject("metadata longer than the 16 MB limit");
    }
    uint64_t size = h->body + (h->flags & 2u ? 4 + h->meta_len : 0) + 4;
    if ((uint64_t)len != size)
        return reject("the file has %zu bytes, its configuration and metadata length need %.0f", len, (double)size);
    return RNNLAB_OK;
}

/* Settings first, then the parameters and the moments they belong to, then
 * the metadata. On failure the global error is set (the caller frees m). */
static rnnlab_status fill_model(rnnlab_model *m, const uint8_t *p, const header *h) {
    if (rnnlab_set_optimizer(m, &h->opt) != RNNLAB_OK)
        return set_error(NULL, RNNLAB_E_FORMAT, "bad optimiser settings: %s", m->err);
    float *dst[3] = {m->params, m->opt_m, m->opt_v};
    size_t n = (size_t)h->n;
    for (uint64_t k = 0; k < h->blocks; k++)
        for (size_t i = 0; i < n; i++) {
            float v = get_f32(p + h->params_at + 4 * (k * n + i));
            if (!isfinite(v) || (k == 2 && v < 0.0f)) /* second moments are >= 0 */
                return reject("non-finite parameter or optimiser value");
            dst[k][i] = v;
        }
    if ((h->flags & 2u) && rnnlab_set_metadata(m, p + h->body + 4, (size_t)h->meta_len) != RNNLAB_OK)
        return set_error(NULL, RNNLAB_E_NOMEM, "%s", m->err);
    m->moments_type = h->opt.type; /* the saved moments (or zeros) are this optimiser's */
    m->step = h->flags & 1u ? h->step : 0.0;
    m->stats[RNNLAB_STAT_STEP] = (float)m->step;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_load(const uint8_t *p, size_t len, rnnlab_model **out) {
    if (!out) return set_error(NULL, RNNLAB_E_INVALID, "load: out is NULL");
    *out = NULL;
    if (!p) return set_error(NULL, RNNLAB_E_INVALID, "load: bytes are NULL");
    header h;
    rnnlab_status st = read_header(p, len, &h);
    if (!st) st = check_sizes(p, len, &h);
    if (st) return st;
    rnnlab_model *m;
    st = model_alloc(&h.cfg, &m);
    if (st) return st; /* E_NOMEM, with its message */
    st = fill_model(m, p, &h);
    if (st) {
        rnnlab_free(m);
        return st;
    }
    *out = m;
    return RNNLAB_OK;
}
