# cython: language_level=3
"""A size-keyed cache of large freed numpy buffers.

Why: a training loop allocates and frees buffers of the same few sizes on every step.  glibc
gives large blocks back to the kernel (mmap/trim), so each fresh buffer costs one page fault per
4 KiB page on first touch (~3 us each here: 30 ms for a 40 MB buffer, more than the arithmetic).
Keeping a few freed blocks and handing them out again for a request of the same size removes
those faults.  Installed as numpy's data-memory handler (NEP 49), so it serves every numpy array
allocated afterwards; only blocks of at least `min_bytes` (128 KiB) are cached, at most
`max_bytes` in total, exact sizes only, in 32 slots (when all are taken, a new block replaces the
one cached longest ago).  Thread-safe (a lock: numpy may allocate without the GIL).
"""
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memset, strncpy
from cpython.pycapsule cimport PyCapsule_New, PyCapsule_GetPointer

cdef extern from "pythread.h":
    ctypedef void *PyThread_type_lock
    PyThread_type_lock PyThread_allocate_lock()
    int PyThread_acquire_lock(PyThread_type_lock, int) nogil
    void PyThread_release_lock(PyThread_type_lock) nogil

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMemAllocator:
        void *ctx
        void *(*malloc)(void *ctx, size_t size) noexcept nogil
        void *(*calloc)(void *ctx, size_t nelem, size_t elsize) noexcept nogil
        void *(*realloc)(void *ctx, void *ptr, size_t new_size) noexcept nogil
        void (*free)(void *ctx, void *ptr, size_t size) noexcept nogil
    ctypedef struct PyDataMem_Handler:
        char name[127]
        unsigned char version
        PyDataMemAllocator allocator
    object PyDataMem_SetHandler(object handler)
    object PyDataMem_GetHandler()

cimport numpy as cnp
cnp.import_array()

DEF SLOTS = 32

cdef void *slot_ptr[SLOTS]
cdef size_t slot_size[SLOTS]
cdef size_t cached_bytes = 0
cdef size_t max_bytes = 0
# 128 KiB: glibc's default mmap threshold -- blocks from there up are mmap-ed by default, and
# every first touch of their pages faults (W1 at 200k float32 elements, read from an exported
# array: 198 -> 112 us with 128 KiB instead of 1 MiB)
cdef size_t min_bytes = 128 << 10
cdef size_t slot_stamp[SLOTS]   # when each slot was filled (the oldest is replaced first)
cdef size_t stamp = 0
cdef size_t hits = 0
cdef size_t misses = 0
cdef PyThread_type_lock lock = PyThread_allocate_lock()
cdef PyDataMem_Handler handler
cdef PyDataMemAllocator base  # numpy's handler as it was: small blocks go to it (its own cache)


cdef void *_take(size_t size) noexcept nogil:
    """A cached block of exactly `size` bytes, or NULL."""
    global cached_bytes, hits, misses
    cdef int i
    cdef void *p = NULL
    PyThread_acquire_lock(lock, 1)
    for i in range(SLOTS):
        if slot_ptr[i] != NULL and slot_size[i] == size:
            p = slot_ptr[i]
            slot_ptr[i] = NULL
            cached_bytes -= size
            hits += 1
            break
    if p == NULL:
        misses += 1
    PyThread_release_lock(lock)
    return p


cdef void *_malloc(void *ctx, size_t size) noexcept nogil:
    cdef void *p
    if size < min_bytes:
        return base.malloc(base.ctx, size)
    if max_bytes:
        p = _take(size)
        if p != NULL:
            return p
    return malloc(size)


cdef void *_calloc(void *ctx, size_t nelem, size_t elsize) noexcept nogil:
    cdef size_t size = nelem * elsize
    cdef void *p
    if elsize and size // elsize != nelem:
        return NULL  # overflow
    if size < min_bytes:
        return base.calloc(base.ctx, nelem, elsize)
    if max_bytes:
        p = _take(size)
        if p != NULL:
            memset(p, 0, size)  # one pass, still far cheaper than faulting fresh pages in
            return p
    return calloc(nelem, elsize)


cdef void *_realloc(void *ctx, void *ptr, size_t new_size) noexcept nogil:
    return base.realloc(base.ctx, ptr, new_size)  # every block came from malloc: any realloc fits


cdef void _free(void *ctx, void *ptr, size_t size) noexcept nogil:
    global cached_bytes, stamp
    cdef int i, k
    if ptr == NULL:
        return
    if size < min_bytes:
        base.free(base.ctx, ptr, size)
        return
    cdef void *old = NULL
    if max_bytes and size <= max_bytes:
        PyThread_acquire_lock(lock, 1)
        if cached_bytes + size <= max_bytes:
            for i in range(SLOTS):
                if slot_ptr[i] == NULL:
                    slot_ptr[i] = ptr
                    slot_size[i] = size
                    stamp += 1
                    slot_stamp[i] = stamp
                    cached_bytes += size
                    PyThread_release_lock(lock)
                    return
        # every slot taken: the newest block replaces the one cached longest ago (sizes no
        # longer in use must not keep the cache full forever), within max_bytes
        i = 0
        for k in range(1, SLOTS):
            if slot_stamp[k] < slot_stamp[i]:
                i = k
        if slot_ptr[i] != NULL and cached_bytes - slot_size[i] + size <= max_bytes:
            old = slot_ptr[i]
            cached_bytes += size - slot_size[i]
            slot_ptr[i] = ptr
            slot_size[i] = size
            stamp += 1
            slot_stamp[i] = stamp
            PyThread_release_lock(lock)
            free(old)
            return
        PyThread_release_lock(lock)
    free(ptr)


def _release_all():
    global cached_bytes
    cdef int i
    PyThread_acquire_lock(lock, 1)
    for i in range(SLOTS):
        if slot_ptr[i] != NULL:
            free(slot_ptr[i])
            slot_ptr[i] = NULL
    cached_bytes = 0
    PyThread_release_lock(lock)


strncpy(handler.name, b"pyautodiff_buffer_cache", 126)
handler.version = 1
handler.allocator.ctx = NULL
handler.allocator.malloc = _malloc
handler.allocator.calloc = _calloc
handler.allocator.realloc = _realloc
handler.allocator.free = _free
cdef object _capsule = PyCapsule_New(<void *>&handler, b"mem_handler", NULL)
cdef object _installed = None


def set_buffer_cache(size_t max_cached_bytes, size_t min_block_bytes=128 << 10):
    """Cache up to `max_cached_bytes` of freed numpy buffers of at least `min_block_bytes` each.
    0 turns caching off (and frees what is cached).  Installs the handler on first use."""
    global max_bytes, min_bytes, _installed, base
    if _installed is None:
        prev = PyDataMem_GetHandler()
        base = (<PyDataMem_Handler *>PyCapsule_GetPointer(prev, b"mem_handler")).allocator
        _installed = PyDataMem_SetHandler(_capsule)
    max_bytes = max_cached_bytes
    min_bytes = min_block_bytes if min_block_bytes else 1
    if max_bytes == 0:
        _release_all()


def buffer_cache_info():
    return {"cached_bytes": cached_bytes, "max_bytes": max_bytes, "min_block_bytes": min_bytes,
            "hits": hits, "misses": misses}
