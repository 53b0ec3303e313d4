"""Graph nodes.  Every op is a subclass of `Node` named as torch names its grad_fn
(`MulBackward0`, ...), with its `forward` and `backward` together (see pyautodiff/ops).

The Node base class, AccumulateGrad (the sink of a leaf) and the engine loop are compiled
(csrc/_graph.pyx) because their bookkeeping runs on every op; their protocol:

  forward(self, *args)  tensor arguments arrive as ndarrays, others as given; returns an ndarray.
                        Keep what backward needs with `self.save(*arrays)` (freed after backward
                        unless retain_graph; read back through `self.saved`) or as attributes.
  backward(self, grad)  grad is an ndarray shaped like the output; returns one gradient (ndarray,
                        or None) per positional forward argument (a bare ndarray for one argument).
                        Gradients may be broadcast-shaped or of a wider dtype: the engine sums and
                        casts them back to each input.
  NodeClass.apply(*args) runs forward, wraps the result in a Tensor and links it into the graph
                        when grad mode is on and an input requires grad.
"""
import functools

import numpy as np

from .._C import G

Node = G.Node
AccumulateGrad = G.AccumulateGrad
sum_to = G.sum_to


def quiet(cls):
    """Class decorator: the node's forward and backward run with numpy's floating-point
    warnings off (torch computes inf and nan silently; numpy would warn).  For nodes whose
    numpy formulas meet inf - inf, 0 * inf, x / 0 ...; the hot kernel paths do not need it."""
    for name in ("forward", "backward"):
        f = cls.__dict__.get(name)
        if f is not None:
            def wrapped(self, *args, _f=f, **kw):
                with np.errstate(all="ignore"):
                    return _f(self, *args, **kw)
            setattr(cls, name, functools.update_wrapper(wrapped, f))
    return cls
