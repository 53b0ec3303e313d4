"""Random numbers: one global numpy Generator (manual_seed resets it) and torch-like Generators.
Values differ from torch's (different algorithms); shapes, dtypes and seeding behave the same."""
import numpy as np


class Generator:
    def __init__(self, device="cpu"):
        self._seed = 67280421310721
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed):
        self._seed = int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed & 0xFFFFFFFFFFFFFFFF))
        return self

    def seed(self):
        s = int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        from .tensor import Tensor
        import pickle
        return Tensor._wrap(np.frombuffer(pickle.dumps(self._rng.bit_generator.state), dtype=np.uint8).copy())

    def set_state(self, state):
        import pickle
        self._rng.bit_generator.state = pickle.loads(state._data.tobytes())
        return self


default_generator = Generator()


def _gen(generator):
    return (generator or default_generator)._rng


def manual_seed(seed):
    default_generator.manual_seed(seed)
    return default_generator


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def uniform(a, b, shape, generator=None):
    return _gen(generator).uniform(a, b, shape)


def normal(mean, std, shape, generator=None):
    return _gen(generator).normal(mean, std, shape)


def random_floats(shape, np_dtype, generator=None):
    return _gen(generator).random(shape, dtype=np_dtype if np_dtype in (np.float32, np.float64) else np.float64)


def standard_normal(shape, np_dtype, generator=None):
    dt = np_dtype if np_dtype in (np.float32, np.float64) else np.float64
    return _gen(generator).standard_normal(shape, dtype=dt)


def integers(low, high, shape, generator=None):
    return _gen(generator).integers(low, high, shape, dtype=np.int64)


def permutation(n, generator=None):
    return _gen(generator).permutation(n)
