"""The buffer cache (csrc/_memory.pyx): numpy's data-memory handler that hands freed large
blocks out again, so that steady-state loops touch no fresh pages."""
import numpy as np
import pytest

import pyautodiff as torch
from pyautodiff import _memory as M

DEFAULT = M.buffer_cache_info()


@pytest.fixture
def cache():
    """A clean cache with the defaults; the defaults are restored afterwards."""
    M.set_buffer_cache(0)                     # frees what is cached
    M.set_buffer_cache(DEFAULT["max_bytes"], DEFAULT["min_block_bytes"])
    yield M
    M.set_buffer_cache(0)
    M.set_buffer_cache(DEFAULT["max_bytes"], DEFAULT["min_block_bytes"])


def test_defaults():
    assert torch.buffer_cache_info()["min_block_bytes"] == 128 << 10
    assert DEFAULT["max_bytes"] == 512 << 20


def test_a_freed_block_is_handed_out_again(cache):
    a = np.empty(300_000, np.float32)         # 1.2 MB
    addr = a.ctypes.data
    del a
    info = M.buffer_cache_info()
    assert info["cached_bytes"] == 1_200_000
    b = np.empty(300_000, np.float32)
    assert b.ctypes.data == addr
    assert M.buffer_cache_info()["hits"] == info["hits"] + 1
    assert M.buffer_cache_info()["cached_bytes"] == 0


def test_mid_sized_blocks_are_cached_small_ones_are_not(cache):
    a = np.empty(40_000, np.float32)          # 160 KB: above glibc's mmap threshold
    addr = a.ctypes.data
    del a
    assert M.buffer_cache_info()["cached_bytes"] == 160_000
    b = np.empty(40_000, np.float32)
    assert b.ctypes.data == addr
    small = np.empty(1000, np.float32)
    del small
    assert M.buffer_cache_info()["cached_bytes"] == 0
    del b


def test_zeros_from_a_reused_block_are_zero(cache):
    a = np.full(200_000, 7.0)
    del a
    z = np.zeros(200_000)                      # calloc from the cache: memset
    assert not z.any()


def test_a_full_cache_keeps_taking_new_sizes(cache):
    # 40 distinct sizes (more than the 32 slots): the newest blocks replace older ones
    sizes = [(200 + k) * 1024 for k in range(40)]
    for s in sizes:
        a = np.empty(s, np.uint8)
        del a
    info = M.buffer_cache_info()
    assert info["cached_bytes"] <= info["max_bytes"]
    assert info["cached_bytes"] == sum(sizes[-32:])     # the 32 newest
    hits = info["hits"]
    b = np.empty(sizes[-1], np.uint8)         # the latest size is there
    assert M.buffer_cache_info()["hits"] == hits + 1
    c = np.empty(sizes[0], np.uint8)          # the oldest was evicted (and freed)
    assert M.buffer_cache_info()["hits"] == hits + 1
    del b, c


def test_the_budget_is_kept(cache):
    M.set_buffer_cache(1 << 20)               # 1 MiB in all
    blocks = [np.empty(400_000, np.uint8) for _ in range(4)]
    del blocks
    assert M.buffer_cache_info()["cached_bytes"] <= 1 << 20


def test_off_frees_everything(cache):
    a = np.empty(500_000, np.float32)
    del a
    assert M.buffer_cache_info()["cached_bytes"] > 0
    M.set_buffer_cache(0)
    assert M.buffer_cache_info()["cached_bytes"] == 0
    a = np.empty(500_000, np.float32)         # not cached while off
    del a
    assert M.buffer_cache_info()["cached_bytes"] == 0


def test_training_step_allocates_no_fresh_blocks(cache):
    """W1 on an exported (from_numpy) tensor of 200k elements runs unfused: every op allocates;
    after a warm-up every one of those allocations is a cache hit."""
    x = torch.from_numpy(np.random.default_rng(0).random(200_000, dtype=np.float32))
    x.requires_grad_()

    def step():
        x.grad = None
        (3 * (x + 1) ** 2).mean().backward()
    for _ in range(3):
        step()
    misses = M.buffer_cache_info()["misses"]
    for _ in range(5):
        step()
    assert M.buffer_cache_info()["misses"] == misses
    np.testing.assert_allclose(x.grad.numpy(), 6 * (x.detach().numpy() + 1) / 200_000, rtol=1e-6)
