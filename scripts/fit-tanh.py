# Fits compiler/wgsl.ts's tanh: tanh(a) ~ a P(a^2) / Q(a^2) on [0, 9], degree 4 over 4, by relative error; then nudges the float32 coefficients to the smallest maximum error.
# Run: python3 scripts/fit-tanh.py (numpy). Prints TANH_NUM and TANH_DEN and the float32 maximum relative error numpy sees.
import numpy as np

C = 9.0  # tanh(9) is 1 in float32 to within one unit in the last place; beyond it the kernel caps at 1


def fit(p, q, iters=30):
    """Least squares on P(z) - f (Q(z) - 1) = f, f = tanh(x)/x, reweighted toward the worst relative error (Lawson)."""
    x = np.unique(np.concatenate([np.linspace(0, C, 20000), np.cos(np.linspace(0, np.pi / 2, 20000)) * C]))[1:]
    z, f = x * x, np.tanh(x) / x
    q_prev, w = np.ones_like(x), np.ones_like(x)
    for _ in range(iters):
        a = np.hstack([np.vstack([z**k for k in range(p + 1)]).T, -f[:, None] * np.vstack([z**k for k in range(1, q + 1)]).T])
        weight = w / (f * q_prev)
        sol, *_ = np.linalg.lstsq(a * weight[:, None], f * weight, rcond=None)
        num, den = sol[: p + 1], np.concatenate([[1], sol[p + 1:]])
        q_prev = np.polyval(den[::-1], z)
        err = np.abs(np.polyval(num[::-1], z) / q_prev - f) / f
        w = w * (1 + err / err.max()) ** 2
        w /= w.mean()
    return np.float32(num), np.float32(den)


xs = np.concatenate([np.linspace(1e-4, C + 0.5, 400001), 2.0 ** np.arange(-14, 0, 0.002)]).astype(np.float32)
ref = np.tanh(xs.astype(np.float64))


def max_error(num, den):
    """The kernel's arithmetic in float32: a = min(x, 9), Horner in z = a^2, capped at 1."""
    a = np.minimum(xs, np.float32(C))
    z = a * a
    p, q = num[-1], den[-1]
    for c in num[-2::-1]:
        p = p * z + c
    for c in den[-2::-1]:
        q = q * z + c
    t = np.minimum(a * p / q, np.float32(1))
    return (np.abs(t.astype(np.float64) - ref) / ref).max()


num, den = fit(4, 4)
best = max_error(num, den)
rng = np.random.default_rng(1)
for _ in range(3000):
    n2, d2 = num.copy(), den.copy()
    k = rng.integers(1, 9)
    if k < 5:
        n2[k] = np.nextafter(n2[k], np.float32(np.inf) if rng.random() < 0.5 else np.float32(-np.inf)) if rng.random() < 0.5 else n2[k] * np.float32(1 + rng.normal() * 3e-7)
    else:
        d2[k - 4] = d2[k - 4] * np.float32(1 + rng.normal() * 3e-7)
    e = max_error(n2, d2)
    if e < best:
        best, num, den = e, n2, d2
print('TANH_NUM =', [float(c) for c in num])
print('TANH_DEN =', [float(c) for c in den])
print(f'max relative error in float32 (numpy, no fused multiply-add): {best:.2e}')
