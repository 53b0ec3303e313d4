"""The main demo: PyTorch's autograd tutorial run on pyautodiff, then a short real training run
(scikit-learn's digits) with a progress display, a checkpoint saved, and training resumed from it.

    python examples/demo.py            # pyautodiff
    python examples/demo.py --backend torch   # the very same script on PyTorch, for comparison
"""
import argparse
import os
import sys
import time


def seed_demos(torch):
    print("== autograd demo 1: y = 4*(x+1)^2 + 3")
    x = torch.tensor(2., dtype=torch.float, requires_grad=True)
    print(x)
    y = 4 * torch.pow(x + 1, 2) + 3
    print(y)
    y.backward()
    print(x.grad)

    print("== autograd demo 2: mean of 3*(x+1)^2 over a 2x2 tensor")
    x = torch.ones(2, 2, requires_grad=True)
    print(x)
    y = 3 * torch.pow(x + 1, 2)
    print(y)
    out = y.mean()
    print(out)
    out.backward()
    print(x.grad)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["pyautodiff", "torch"], default="pyautodiff")
    ap.add_argument("--epochs", type=int, default=30)
    args = ap.parse_args(argv)
    if args.backend == "torch":
        import torch
    else:
        import pyautodiff as torch
    t0 = time.perf_counter()
    seed_demos(torch)
    print()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import train_digits
    train_digits.main(["--backend", args.backend, "--epochs", str(args.epochs)])
    print(f"\ndemo finished in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
