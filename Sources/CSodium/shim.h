#include <sodium.h>

// crypto_generichash_state is 64-byte aligned and imports into Swift as opaque, so multi-part hashing
// goes through this helper: BLAKE2b(key; a ‖ b) with outlen bytes of output.
static inline int bftsim_blake2b_two_parts(unsigned char *out, size_t outlen,
                                           const unsigned char *key, size_t keylen,
                                           const unsigned char *a, unsigned long long alen,
                                           const unsigned char *b, unsigned long long blen) {
    crypto_generichash_state state;
    if (crypto_generichash_init(&state, key, keylen, outlen) != 0) return -1;
    if (crypto_generichash_update(&state, a, alen) != 0) return -1;
    if (crypto_generichash_update(&state, b, blen) != 0) return -1;
    return crypto_generichash_final(&state, out, outlen);
}
