"""Samplers: which dataset indices a DataLoader visits, and in which order."""
import numpy as np

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler"]


class Sampler:
    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)

    def _index_arrays(self, batch_size, drop_last):
        return _chunks(np.arange(len(self.data_source)), batch_size, drop_last)


def _new_generator(generator):
    """torch's RandomSampler: without a generator, draw a seed from the global RNG for a fresh one."""
    from ... import random as _random
    if generator is not None:
        return generator
    seed = int(_random.integers(0, 2 ** 63 - 1, (), None))
    g = _random.Generator()
    g.manual_seed(seed)
    return g


class RandomSampler(Sampler):
    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={self.replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self):
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def _order(self):
        from ... import random as _random
        n = len(self.data_source)
        generator = _new_generator(self.generator)
        if self.replacement:
            return _random.integers(0, n, (self.num_samples,), generator)
        parts = [_random.permutation(n, generator) for _ in range(self.num_samples // n)]
        rest = self.num_samples % n
        if rest:
            parts.append(_random.permutation(n, generator)[:rest])
        return np.concatenate(parts) if parts else np.empty((0,), np.int64)

    def __iter__(self):
        yield from self._order().tolist()

    def __len__(self):
        return self.num_samples

    def _index_arrays(self, batch_size, drop_last):
        return _chunks(self._order(), batch_size, drop_last)


class SubsetRandomSampler(Sampler):
    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        from ... import random as _random
        perm = _random.permutation(len(self.indices), _new_generator(self.generator))
        for i in perm.tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        fast = getattr(self.sampler, "_index_arrays", None)
        if fast is not None:
            for idx in fast(self.batch_size, self.drop_last):
                yield idx.tolist()
            return
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def _index_arrays(self):
        fast = getattr(self.sampler, "_index_arrays", None)
        if fast is None:
            return None
        return fast(self.batch_size, self.drop_last)

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


def _chunks(order, batch_size, drop_last):
    n = len(order)
    stop = n - n % batch_size if drop_last else n
    return [order[i:i + batch_size] for i in range(0, stop, batch_size)]
