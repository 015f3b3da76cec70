#include <sodium.h>
#include <string.h>

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

// Keyed BLAKE2b with the key block absorbed once: `bftsim_blake2b_keyed_template` initialises a
// state (crypto_generichash_statebytes() bytes, 64-byte aligned) with the key; each tag then copies
// that template and absorbs only the message, saving one compression per tag.
static inline int bftsim_blake2b_keyed_template(void *state, const unsigned char *key, size_t keylen, size_t outlen) {
    return crypto_generichash_init((crypto_generichash_state *)state, key, keylen, outlen);
}

static inline int bftsim_blake2b_from_template(unsigned char *out, size_t outlen, const void *template_state,
                                               const unsigned char *a, unsigned long long alen,
                                               const unsigned char *b, unsigned long long blen) {
    crypto_generichash_state state;
    memcpy(&state, template_state, sizeof state);
    if (crypto_generichash_update(&state, a, alen) != 0) return -1;
    if (crypto_generichash_update(&state, b, blen) != 0) return -1;
    return crypto_generichash_final(&state, out, outlen);
}

// The "fast" scheme's 128-bit tag: SipHash-2-4-128 (crypto_shorthash_siphashx24), a keyed PRF, over
// the message, then over (domain fingerprint ‖ inner tag), so tags are domain-separated without
// copying the message.
static inline int bftsim_siphash_tag(unsigned char *out, const unsigned char *key, const unsigned char *domain16,
                                     const unsigned char *m, unsigned long long mlen) {
    unsigned char buf[32];
    memcpy(buf, domain16, 16);
    if (crypto_shorthash_siphashx24(buf + 16, m, mlen, key) != 0) return -1;
    return crypto_shorthash_siphashx24(out, buf, 32, key);
}
