# cython: language_level=3
"""CPU feature probe (extension module ``pyautodiff._cpu``).

Compiled for the baseline target like every module but the ``*_avx2`` variants, so it runs on
any x86-64: pyautodiff/_C.py asks it whether the AVX2 builds of _kernels / _fused may be
imported (importing them on a CPU without AVX2 could die of SIGILL).  AVX2 counts as available
when CPUID says so AND the OS saves the YMM registers across context switches (OSXSAVE, and
XCR0 bits 1-2) -- the check Linux does before listing ``avx2`` in /proc/cpuinfo.
Other architectures and compilers: no AVX2.
"""

cdef extern from *:
    """
    #if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    #include <cpuid.h>
    static int pyad_has_avx2(void) {
        unsigned int a, b, c, d, xcr0_lo, xcr0_hi;
        if (__get_cpuid_max(0, 0) < 7)
            return 0;
        __cpuid(1, a, b, c, d);
        if (!(c & (1u << 27)) || !(c & (1u << 28)))         /* OSXSAVE, AVX */
            return 0;
        __asm__ __volatile__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
        if ((xcr0_lo & 6u) != 6u)                           /* XMM and YMM state enabled */
            return 0;
        __cpuid_count(7, 0, a, b, c, d);
        return (b >> 5) & 1u;                               /* AVX2 */
    }
    #else
    static int pyad_has_avx2(void) { return 0; }
    #endif
    """
    int pyad_has_avx2() noexcept nogil


def has_avx2():
    """True when this CPU and OS can run the AVX2 builds (pyautodiff._kernels_avx2 ...)."""
    return bool(pyad_has_avx2())
