/* Pair superinstructions of the fused evaluator (_fused.pyx): two one-operand ops in one loop.
 *
 * Why: each instruction of the evaluator reads and writes a block of registers in L1, and those
 * loads/stores, not the arithmetic, are its cost.  When an instruction's result is read only by
 * the next one, `o = op2(op1(a, c1), c2)` in one loop keeps the intermediate in a CPU register.
 *
 * Every U_* below is the per-element formula of the _fused / _kernels loop of that opcode, and
 * the intermediate is stored in a T variable (rounded to T, as the unfused loop stores it), so a
 * pair gives exactly the bits of the two instructions run one after the other.  Compiled with
 * -ffp-contract=off (setup.py): no multiply-add contraction across the two ops.
 */
#ifndef PYAUTODIFF_FUSED_PAIRS_H
#define PYAUTODIFF_FUSED_PAIRS_H

#include <stddef.h>

/* the one-operand ops a pair is made of (numbering private to this file and _fused.pyx) */
enum { PU_ADD_C, PU_MUL_C, PU_RSUB_C, PU_DIV_C, PU_RDIV_C, PU_NEG, PU_SQR, PU_RELU, PU_MUL2,
       PU_COUNT };

/* x: the operand; c, cb: the op's constants (cb: MUL2's second one) */
#define U_ADD_C(T, x, c, cb) ((x) + (c))
#define U_MUL_C(T, x, c, cb) ((x) * (c))
#define U_RSUB_C(T, x, c, cb) ((c) - (x))
#define U_DIV_C(T, x, c, cb) ((x) / (c))
#define U_RDIV_C(T, x, c, cb) (((T)1 / (x)) * (c))     /* torch's c / x: reciprocal, then scale */
#define U_NEG(T, x, c, cb) (-(x))
#define U_SQR(T, x, c, cb) ((x) * (x))                  /* pow(x, 2) */
#define U_RELU(T, x, c, cb) ((x) < 0 ? (T)0 : (x))      /* nan and -0.0 kept */
#define U_MUL2(T, x, c, cb) ((T)((x) * (c)) * (cb))     /* pow's backward, scalar gradient */

#define PAIR_LOOP(T, F1, F2)                                  \
    for (i = 0; i < n; i++) {                                 \
        T t_ = F1(T, a[i], c1, c1b);                          \
        o[i] = F2(T, t_, c2, c2b);                            \
    }                                                         \
    break;

/* The pair's values summed on the fly into the 8 accumulators s0..s7 exactly as
   pairwise_sum.h's sum_run adds a piece (groups of 32 for float, GROUPS, then steps of 8); the
   values of the < 8 elements left are stored in o[i..n) for sum_finish, none before. */
#define PAIR_SUM_LOOP_(T, F1, F2, GROUPS)                                                 \
    if (GROUPS) {                                                                         \
        for (; i + 32 <= n; i += 32) {                                                    \
            T v_[32];                                                                     \
            for (int j = 0; j < 32; j++) {                                                \
                T t_ = F1(T, a[i + j], c1, c1b);                                          \
                v_[j] = F2(T, t_, c2, c2b);                                               \
            }                                                                             \
            s0 += (double)((v_[0] + v_[8]) + (v_[16] + v_[24]));                          \
            s1 += (double)((v_[1] + v_[9]) + (v_[17] + v_[25]));                          \
            s2 += (double)((v_[2] + v_[10]) + (v_[18] + v_[26]));                         \
            s3 += (double)((v_[3] + v_[11]) + (v_[19] + v_[27]));                         \
            s4 += (double)((v_[4] + v_[12]) + (v_[20] + v_[28]));                         \
            s5 += (double)((v_[5] + v_[13]) + (v_[21] + v_[29]));                         \
            s6 += (double)((v_[6] + v_[14]) + (v_[22] + v_[30]));                         \
            s7 += (double)((v_[7] + v_[15]) + (v_[23] + v_[31]));                         \
        }                                                                                 \
    }                                                                                     \
    for (; i + 8 <= n; i += 8) {                                                          \
        T v_[8];                                                                          \
        for (int j = 0; j < 8; j++) {                                                     \
            T t_ = F1(T, a[i + j], c1, c1b);                                              \
            v_[j] = F2(T, t_, c2, c2b);                                                   \
        }                                                                                 \
        s0 += (double)v_[0]; s1 += (double)v_[1]; s2 += (double)v_[2]; s3 += (double)v_[3]; \
        s4 += (double)v_[4]; s5 += (double)v_[5]; s6 += (double)v_[6]; s7 += (double)v_[7]; \
    }                                                                                     \
    for (ptrdiff_t k_ = i; k_ < n; k_++) {                                                \
        T t_ = F1(T, a[k_], c1, c1b);                                                     \
        o[k_] = F2(T, t_, c2, c2b);                                                       \
    }                                                                                     \
    break;
#define PAIR_SUM_LOOP_G(T, F1, F2) PAIR_SUM_LOOP_(T, F1, F2, 1)
#define PAIR_SUM_LOOP_N(T, F1, F2) PAIR_SUM_LOOP_(T, F1, F2, 0)

#define PAIR_SECOND(T, F1, LOOP)                              \
    switch (op2) {                                            \
    case PU_ADD_C: LOOP(T, F1, U_ADD_C)                       \
    case PU_MUL_C: LOOP(T, F1, U_MUL_C)                       \
    case PU_RSUB_C: LOOP(T, F1, U_RSUB_C)                     \
    case PU_DIV_C: LOOP(T, F1, U_DIV_C)                       \
    case PU_RDIV_C: LOOP(T, F1, U_RDIV_C)                     \
    case PU_NEG: LOOP(T, F1, U_NEG)                           \
    case PU_SQR: LOOP(T, F1, U_SQR)                           \
    case PU_RELU: LOOP(T, F1, U_RELU)                         \
    case PU_MUL2: LOOP(T, F1, U_MUL2)                         \
    }                                                         \
    break;

#define PAIR_SWITCH(T, LOOP)                                  \
    switch (op1) {                                            \
    case PU_ADD_C: PAIR_SECOND(T, U_ADD_C, LOOP)              \
    case PU_MUL_C: PAIR_SECOND(T, U_MUL_C, LOOP)              \
    case PU_RSUB_C: PAIR_SECOND(T, U_RSUB_C, LOOP)            \
    case PU_DIV_C: PAIR_SECOND(T, U_DIV_C, LOOP)              \
    case PU_RDIV_C: PAIR_SECOND(T, U_RDIV_C, LOOP)            \
    case PU_NEG: PAIR_SECOND(T, U_NEG, LOOP)                  \
    case PU_SQR: PAIR_SECOND(T, U_SQR, LOOP)                  \
    case PU_RELU: PAIR_SECOND(T, U_RELU, LOOP)                \
    case PU_MUL2: PAIR_SECOND(T, U_MUL2, LOOP)                \
    }

#define PAIR_FUNCTION(NAME, T)                                                           \
static void NAME(const T *a, int op1, T c1, T c1b, int op2, T c2, T c2b, T *o,          \
                 ptrdiff_t n)                                                            \
{                                                                                        \
    ptrdiff_t i;                                                                         \
    PAIR_SWITCH(T, PAIR_LOOP)                                                            \
}

/* pair_sum_*: the pair, its values added to the accumulators s[0..8) as sum_run_* of
   pairwise_sum.h would add them from memory; returns how many elements it summed (the
   rest, < 8, are in o[i..n) for sum_finish_*) */
#define PAIR_SUM_FUNCTION(NAME, T, LOOP)                                                 \
static ptrdiff_t NAME(const T *a, int op1, T c1, T c1b, int op2, T c2, T c2b, T *o,     \
                      ptrdiff_t n, double *s)                                            \
{                                                                                        \
    ptrdiff_t i = 0;                                                                     \
    double s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];                                   \
    double s4 = s[4], s5 = s[5], s6 = s[6], s7 = s[7];                                   \
    PAIR_SWITCH(T, LOOP)                                                                 \
    s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3;                                          \
    s[4] = s4; s[5] = s5; s[6] = s6; s[7] = s7;                                          \
    return i;                                                                            \
}

/* o may equal a (an instruction overwriting the register it reads): each element is read
   before it is written.  Other overlaps do not occur (registers are disjoint blocks). */
PAIR_FUNCTION(pair_f32, float)
PAIR_FUNCTION(pair_f64, double)
PAIR_SUM_FUNCTION(pair_sum_f32, float, PAIR_SUM_LOOP_G)
PAIR_SUM_FUNCTION(pair_sum_f64, double, PAIR_SUM_LOOP_N)

#endif
