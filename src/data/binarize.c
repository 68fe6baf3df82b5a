/* binarize.c — uint8 images to the floats a model sees: grey levels in
 * [0,1] (x = pixel / 255, as torchvision's ToTensor), or a Bernoulli draw per
 * pixel with probability pixel / 255. Draws come from a counter-based hash of
 * (key, pixel block), so any row can be binarized independently — by any
 * thread, in any order — and the same key always gives the same image. */
#include "binarize.h"

/* splitmix64's finaliser: a good 64-bit mixing function. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t elbo_binarize_key(uint64_t a, uint64_t b)
{
    return mix64(a * 0x9e3779b97f4a7c15ULL + mix64(b + 0x632be59bd9b4e019ULL));
}

void elbo_row_to_float(float *dst, const uint8_t *src, int D, elbo_binarize mode, uint64_t key)
{
    if (mode == ELBO_BINARIZE_NONE) {
        for (int k = 0; k < D; k++) dst[k] = (float)src[k] / 255.0f;
        return;
    }
    /* pixel k is 1 with probability p = src[k]/255: a 16-bit uniform u is
     * compared with p * 65536 (u < p * 65536 <=> u * 255 < src[k] * 65536) */
    for (int k0 = 0; k0 < D; k0 += 4) {
        uint64_t h = mix64(key + (uint64_t)k0 * 0x9e3779b97f4a7c15ULL);
        for (int k = k0; k < D && k < k0 + 4; k++) {
            uint32_t u = (uint32_t)(h >> (16 * (k - k0))) & 0xffffu;
            dst[k] = u * 255u < (uint32_t)src[k] * 65536u ? 1.0f : 0.0f;
        }
    }
}

void elbo_frow_to_float(float *dst, const float *src, int D, uint64_t key)
{
    /* as above with p = src[k] clamped to [0, 1]: u < p * 65536 */
    for (int k0 = 0; k0 < D; k0 += 4) {
        uint64_t h = mix64(key + (uint64_t)k0 * 0x9e3779b97f4a7c15ULL);
        for (int k = k0; k < D && k < k0 + 4; k++) {
            float p = src[k] > 0.0f ? (src[k] < 1.0f ? src[k] : 1.0f) : 0.0f;
            uint32_t u = (uint32_t)(h >> (16 * (k - k0))) & 0xffffu;
            dst[k] = (float)u < p * 65536.0f ? 1.0f : 0.0f;
        }
    }
}
