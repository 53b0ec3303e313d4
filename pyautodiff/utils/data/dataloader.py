"""DataLoader: batches of samples from a Dataset (single process)."""
from ...tensor import Tensor
from .dataset import IterableDataset, TensorDataset
from .sampler import SequentialSampler, RandomSampler, BatchSampler
from ._collate import default_collate, default_convert

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


def get_worker_info():
    return None


class DataLoader:
    """Iterates over a dataset in batches (batch_size, shuffle with an optional seeded generator, drop_last,
    sampler / batch_sampler, collate_fn).  Loading runs in the calling process; `num_workers` is accepted for
    compatibility and ignored."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = 1
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            elif sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 f"sampler={sampler}")
            elif batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        else:
            self._dataset_kind = 0
            shuffle = bool(shuffle)

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None:
            if drop_last:
                raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                                 "drop_last")

        if sampler is None and self._dataset_kind == 0:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and self._dataset_kind == 0:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (self._dataset_kind == 1 and self.batch_size is not None)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._dataset_kind == 1:
            n = len(self.dataset)
            if self.batch_size is not None:
                from math import ceil
                n = n // self.batch_size if self.drop_last else ceil(n / self.batch_size)
            return n
        return len(self._index_sampler)

    def __iter__(self):
        from ... import random as _random
        # like torch, every epoch draws a base seed from the loader's generator (or the global one)
        _random.integers(0, 2 ** 63 - 1, (), self.generator)
        if self._dataset_kind == 1:
            return self._iter_iterable()
        fast = self._fast_batches()
        if fast is not None:
            return fast
        return self._iter_map()

    def _fast_batches(self):
        """TensorDataset + default_collate: gather each batch with one fancy index per tensor (the same
        result as stacking the rows one by one)."""
        ds = self.dataset
        if type(ds) is not TensorDataset or self.collate_fn is not default_collate:
            return None
        if type(self.batch_sampler) is not BatchSampler:
            return None
        if any(t.requires_grad for t in ds.tensors):
            return None
        chunks = self.batch_sampler._index_arrays()
        if chunks is None:
            return None
        arrays = [t._data for t in ds.tensors]
        wrap = Tensor._wrap

        def gen():
            for idx in chunks:
                yield [wrap(a[idx]) for a in arrays]
        return gen()

    def _iter_map(self):
        ds = self.dataset
        getitems = getattr(ds, "__getitems__", None)
        collate = self.collate_fn
        if self._auto_collation:
            for indices in self.batch_sampler:
                if getitems is not None:
                    data = getitems(indices)
                else:
                    data = [ds[i] for i in indices]
                yield collate(data)
        else:
            for i in self.sampler:
                yield collate(ds[i])

    def _iter_iterable(self):
        it = iter(self.dataset)
        collate = self.collate_fn
        if self._auto_collation:
            while True:
                batch = []
                for _ in range(self.batch_size):
                    try:
                        batch.append(next(it))
                    except StopIteration:
                        break
                if not batch or (self.drop_last and len(batch) < self.batch_size):
                    return
                yield collate(batch)
                if len(batch) < self.batch_size:
                    return
        else:
            for x in it:
                yield collate(x)
