/* crc32.h — CRC-32 (IEEE 802.3, reflected, polynomial 0xedb88320), table-less,
 * for the C tests that forge or repair saved-model files. Written apart from
 * src/serialize.c on purpose: the tests check the engine's checksum, not reuse it. */
#ifndef RNNLAB_TEST_CRC32_H
#define RNNLAB_TEST_CRC32_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t crc32_ieee(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1u ? (c >> 1) ^ 0xedb88320u : c >> 1;
    }
    return ~c;
}

#endif
