"""Train an MLP on scikit-learn's bundled digits data set (8x8 images of handwritten digits), with
checkpointing and resuming -- the same script on pyautodiff (default) or on PyTorch:

    python examples/train_digits.py                      # pyautodiff
    python examples/train_digits.py --backend torch      # the same code on PyTorch, for comparison
    python examples/train_digits.py --epochs 40 --seed 1 --checkpoint /tmp/digits.pt

The run trains for half of the epochs, saves a general checkpoint ({'epoch', 'model_state_dict',
'optimizer_state_dict', 'loss'}), then builds a fresh model and optimizer, loads the checkpoint into them
and finishes training from there, as a resumed job would.  It needs scikit-learn (`pip install
scikit-learn`) for the data set; nothing else beyond numpy and the chosen backend.
"""
import argparse
import importlib
import os
import sys
import tempfile
import time


def _threads_arg(argv):
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


if __name__ == "__main__":
    # The matrices here are small (64x128): one BLAS thread is fastest, and on a busy machine extra BLAS
    # threads spin and stall (5-20x slower epochs).  Must be set before numpy / torch load their BLAS.
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, _threads_arg(sys.argv[1:]))

import numpy as np  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["pyautodiff", "torch"], default="pyautodiff",
                   help="library to run on (default: pyautodiff)")
    p.add_argument("--epochs", type=int, default=30, help="total training epochs (default: 30)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, the initialisation and shuffling")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint path (default: a file in a temporary directory)")
    p.add_argument("--threads", type=int, default=1,
                   help="math-library threads (default 1: fastest for these small matrices)")
    p.add_argument("--quiet", action="store_true", help="only print the final summary")
    return p.parse_args(argv)


def load_data(seed):
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        sys.exit("this example needs scikit-learn for its data set: pip install scikit-learn")
    digits = load_digits()
    x = digits.data.astype(np.float32) / 16.0  # pixel intensities 0..16 -> 0..1
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    # standardise with the training set's statistics (pixels constant in training keep scale 1)
    mean = x_tr.mean(axis=0)
    std = x_tr.std(axis=0)
    std[std < 1e-3] = 1.0
    return (x_tr - mean) / std, y_tr, (x_te - mean) / std, y_te


def build(torch, n_in, hidden, n_out):
    nn = torch.nn

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(n_in, hidden)
            self.fc2 = nn.Linear(hidden, n_out)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    return MLP()


def progress_bar(done, total, width=24):
    filled = int(width * done / total)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def evaluate(torch, model, x, y):
    model.eval()
    with torch.no_grad():
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y).item()
        acc = (logits.argmax(1) == y).float().mean().item()
    model.train()
    return loss, acc


def train_epochs(torch, model, optimizer, scheduler, loader, criterion, first, last, x_te, y_te, show):
    n_batches = len(loader)
    loss = None
    train_time = 0.0
    for epoch in range(first, last + 1):
        t0 = time.perf_counter()
        total, seen, correct = 0.0, 0, 0
        for i, (xb, yb) in enumerate(loader, 1):
            optimizer.zero_grad()
            out = model(xb)
            loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
            seen += len(yb)
            correct += (out.argmax(1) == yb).sum().item()
            if show and sys.stdout.isatty():
                print(f"\repoch {epoch:3d} {progress_bar(i, n_batches)} {i:3d}/{n_batches} "
                      f"loss {total / seen:.4f}", end="", flush=True)
        scheduler.step()
        train_time += time.perf_counter() - t0
        test_loss, test_acc = evaluate(torch, model, x_te, y_te)
        if show:
            print(f"\repoch {epoch:3d} {progress_bar(n_batches, n_batches)} loss {total / seen:.4f} "
                  f"train acc {correct / seen:6.2%} | test loss {test_loss:.4f} acc {test_acc:6.2%} "
                  f"| {time.perf_counter() - t0:5.2f}s", flush=True)
    return loss, train_time


def main(argv=None):
    args = parse_args(argv)
    torch = importlib.import_module(args.backend)
    torch.set_num_threads(args.threads)
    nn, optim = torch.nn, torch.optim
    from importlib import import_module
    data = import_module(args.backend + ".utils.data")
    show = not args.quiet

    x_tr, y_tr, x_te, y_te = load_data(args.seed)
    torch.manual_seed(args.seed)
    x_tr, y_tr = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    x_te, y_te = torch.from_numpy(x_te), torch.from_numpy(y_te)
    gen = torch.Generator()
    gen.manual_seed(args.seed)
    loader = data.DataLoader(data.TensorDataset(x_tr, y_tr), batch_size=args.batch_size, shuffle=True,
                             generator=gen)
    criterion = nn.CrossEntropyLoss()

    def make():
        m = build(torch, x_tr.shape[1], args.hidden, 10)
        o = optim.SGD(m.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)
        return m, o, optim.lr_scheduler.CosineAnnealingLR(o, T_max=args.epochs)

    if show:
        print(f"backend {args.backend}: {len(x_tr)} train / {len(x_te)} test images, "
              f"MLP {x_tr.shape[1]}-{args.hidden}-10, SGD(lr={args.lr}, momentum=0.9, weight_decay={args.weight_decay}) "
              f"with cosine annealing, batch {args.batch_size}")
    start = time.perf_counter()
    model, optimizer, scheduler = make()
    if show:
        print(model)
    half = max(1, args.epochs // 2)
    loss, train_time = train_epochs(torch, model, optimizer, scheduler, loader, criterion, 1, half, x_te, y_te,
                                    show)

    ckpt = args.checkpoint or os.path.join(tempfile.mkdtemp(prefix="train_digits_"), "digits.pt")
    torch.save({"epoch": half, "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(), "loss": loss.item(),
                "scheduler_state_dict": scheduler.state_dict()}, ckpt)
    if show:
        print(f"saved checkpoint after epoch {half} to {ckpt} ({os.path.getsize(ckpt)} bytes)")

    # resume: a fresh model and optimizer, restored from the checkpoint
    model, optimizer, scheduler = make()
    checkpoint = torch.load(ckpt, weights_only=True)
    model.load_state_dict(checkpoint["model_state_dict"])
    optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
    scheduler.load_state_dict(checkpoint["scheduler_state_dict"])
    resumed_from = checkpoint["epoch"]
    if show:
        print(f"resumed from epoch {resumed_from} (loss {checkpoint['loss']:.4f}) in a new model and optimizer")
    if args.epochs > resumed_from:
        train_time += train_epochs(torch, model, optimizer, scheduler, loader, criterion, resumed_from + 1,
                                   args.epochs, x_te, y_te, show)[1]

    elapsed = time.perf_counter() - start
    test_loss, test_acc = evaluate(torch, model, x_te, y_te)
    print(f"{args.backend}: test accuracy {test_acc:.2%} (loss {test_loss:.4f}) after {args.epochs} epochs; "
          f"training {train_time:.2f}s, total {elapsed:.2f}s (incl. checkpoint save/load)")
    return {"backend": args.backend, "accuracy": test_acc, "loss": test_loss, "seconds": elapsed,
            "train_seconds": train_time}


if __name__ == "__main__":
    main()
