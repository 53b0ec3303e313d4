/* The one summation of pyautodiff: _kernels.sum / mean and the sums of _fused.run use it, so
 * a fused reduction gives exactly the bits of summing the materialized array.
 *
 * A range of more than SUM_LEAF elements is split pairwise (m = (n / 2) rounded down to a
 * multiple of 8); a range of at most SUM_LEAF elements (a leaf) is summed in one pass into 8
 * double accumulators: float32 data in groups of 4 elements (i, i+8, i+16, i+24) added in float
 * first (a quarter of the float->double conversions, which bound the loop), then element by
 * element, then the remaining < 8 elements into the total.  Error: float32 at most 2^-23 *
 * sum|x| (the group additions), float64 that of double accumulation over a pairwise tree.
 *
 * A leaf can be summed in pieces (the fused evaluator has its values one block at a time):
 * sum_run_* adds a piece to the accumulators and returns how many elements it consumed, which is
 * all of them when the piece holds a multiple of 32 elements; the last piece's leftovers go to
 * sum_finish_*.  Pieces of multiples of 32 followed by the rest give the bits of the whole leaf.
 */
#ifndef PYAUTODIFF_PAIRWISE_SUM_H
#define PYAUTODIFF_PAIRWISE_SUM_H

#include <stddef.h>

#define SUM_LEAF 2048
#define SUM_PIECE 32  /* pieces before the last one: multiples of this */

#define PAD_SUM_DEFINE(SUF, T, GROUPS)                                                        \
static inline ptrdiff_t sum_run_##SUF(double *s, const T *p, ptrdiff_t n)                     \
{                                                                                             \
    double s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];                                        \
    double s4 = s[4], s5 = s[5], s6 = s[6], s7 = s[7];                                        \
    ptrdiff_t i = 0;                                                                          \
    if (GROUPS) {                                                                             \
        for (; i + 32 <= n; i += 32) {                                                        \
            s0 += (double)((p[i] + p[i + 8]) + (p[i + 16] + p[i + 24]));                      \
            s1 += (double)((p[i + 1] + p[i + 9]) + (p[i + 17] + p[i + 25]));                  \
            s2 += (double)((p[i + 2] + p[i + 10]) + (p[i + 18] + p[i + 26]));                 \
            s3 += (double)((p[i + 3] + p[i + 11]) + (p[i + 19] + p[i + 27]));                 \
            s4 += (double)((p[i + 4] + p[i + 12]) + (p[i + 20] + p[i + 28]));                 \
            s5 += (double)((p[i + 5] + p[i + 13]) + (p[i + 21] + p[i + 29]));                 \
            s6 += (double)((p[i + 6] + p[i + 14]) + (p[i + 22] + p[i + 30]));                 \
            s7 += (double)((p[i + 7] + p[i + 15]) + (p[i + 23] + p[i + 31]));                 \
        }                                                                                     \
    }                                                                                         \
    for (; i + 8 <= n; i += 8) {                                                              \
        s0 += (double)p[i];                                                                   \
        s1 += (double)p[i + 1];                                                               \
        s2 += (double)p[i + 2];                                                               \
        s3 += (double)p[i + 3];                                                               \
        s4 += (double)p[i + 4];                                                               \
        s5 += (double)p[i + 5];                                                               \
        s6 += (double)p[i + 6];                                                               \
        s7 += (double)p[i + 7];                                                               \
    }                                                                                         \
    s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3;                                               \
    s[4] = s4; s[5] = s5; s[6] = s6; s[7] = s7;                                               \
    return i;                                                                                 \
}                                                                                             \
                                                                                              \
static inline double sum_finish_##SUF(const double *s, const T *p, ptrdiff_t n)               \
{                                                                                             \
    double res = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));           \
    for (ptrdiff_t i = 0; i < n; i++)                                                         \
        res += (double)p[i];                                                                  \
    return res;                                                                               \
}                                                                                             \
                                                                                              \
static inline double sum_##SUF(const T *p, ptrdiff_t n)                                              \
{                                                                                             \
    if (n <= SUM_LEAF) {                                                                      \
        double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                               \
        ptrdiff_t i = sum_run_##SUF(s, p, n);                                                 \
        return sum_finish_##SUF(s, p + i, n - i);                                             \
    }                                                                                         \
    ptrdiff_t m = (n >> 1) & ~(ptrdiff_t)7;                                                   \
    return sum_##SUF(p, m) + sum_##SUF(p + m, n - m);                                         \
}

PAD_SUM_DEFINE(f32, float, 1)
PAD_SUM_DEFINE(f64, double, 0)

#undef PAD_SUM_DEFINE

#endif
