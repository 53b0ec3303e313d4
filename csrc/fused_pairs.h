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

#define PAIR_SECOND(T, F1)                                    \
    switch (op2) {                                            \
    case PU_ADD_C: PAIR_LOOP(T, F1, U_ADD_C)                  \
    case PU_MUL_C: PAIR_LOOP(T, F1, U_MUL_C)                  \
    case PU_RSUB_C: PAIR_LOOP(T, F1, U_RSUB_C)                \
    case PU_DIV_C: PAIR_LOOP(T, F1, U_DIV_C)                  \
    case PU_RDIV_C: PAIR_LOOP(T, F1, U_RDIV_C)                \
    case PU_NEG: PAIR_LOOP(T, F1, U_NEG)                      \
    case PU_SQR: PAIR_LOOP(T, F1, U_SQR)                      \
    case PU_RELU: PAIR_LOOP(T, F1, U_RELU)                    \
    case PU_MUL2: PAIR_LOOP(T, F1, U_MUL2)                    \
    }                                                         \
    break;

#define PAIR_FUNCTION(NAME, T)                                                           \
static void NAME(const T *a, int op1, T c1, T c1b, int op2, T c2, T c2b, T *o,          \
                 ptrdiff_t n)                                                            \
{                                                                                        \
    ptrdiff_t i;                                                                         \
    switch (op1) {                                                                       \
    case PU_ADD_C: PAIR_SECOND(T, U_ADD_C)                                               \
    case PU_MUL_C: PAIR_SECOND(T, U_MUL_C)                                               \
    case PU_RSUB_C: PAIR_SECOND(T, U_RSUB_C)                                             \
    case PU_DIV_C: PAIR_SECOND(T, U_DIV_C)                                               \
    case PU_RDIV_C: PAIR_SECOND(T, U_RDIV_C)                                             \
    case PU_NEG: PAIR_SECOND(T, U_NEG)                                                   \
    case PU_SQR: PAIR_SECOND(T, U_SQR)                                                   \
    case PU_RELU: PAIR_SECOND(T, U_RELU)                                                 \
    case PU_MUL2: PAIR_SECOND(T, U_MUL2)                                                 \
    }                                                                                    \
}

/* o may equal a (an instruction overwriting the register it reads): each element is read
   before it is written.  Other overlaps do not occur (registers are disjoint blocks). */
PAIR_FUNCTION(pair_f32, float)
PAIR_FUNCTION(pair_f64, double)

#endif
