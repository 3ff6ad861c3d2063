"""IEEE overflow, division by zero and invalid operations are silent, as in PyTorch: numpy's "... encountered in
..." RuntimeWarnings raised from tapegrad's code are filtered at import; numpy code outside tapegrad still warns.
Run in a subprocess under ``python -W error``, where any warning that leaks is an exception."""

import math
import subprocess
import sys
import textwrap
import traceback

import pytest

SILENT = """
import math
import numpy as np
import tapegrad as tg
inf = math.inf
F = tg.nn.functional
tg.tensor([[inf, 1.0]]) @ tg.tensor([[0.0], [1.0]])             # inf * 0 in a matmul
F.linear(tg.tensor([[inf, 1.0]]), tg.tensor([[0.0, 1.0]]))
tg.tensor([0.0]).log(), tg.tensor([-1.0]).sqrt(), tg.tensor([1.0]) / 0, tg.tensor([1e30]) * 1e30
tg.tensor([1e38]).half(), tg.tensor([70000.0], dtype=tg.float16) * 2, tg.tensor([10.0]) ** 400
for f in (tg.log, tg.sqrt, tg.rsqrt, tg.reciprocal, tg.acos, tg.atanh):
    x = tg.tensor([0.0, -1.0, 2.0], requires_grad=True)
    f(x).sum().backward()                                         # inf and NaN gradients
v0 = tg.tensor([1.0, 0.5], dtype=tg.float16, requires_grad=True)
v1 = tg.tensor(-3e38, requires_grad=True)
tg.addcmul(v0, v1, v0).backward(tg.zeros(2, dtype=tg.float16))  # a float16 cast that overflows
x = tg.tensor([inf, -inf, 1.0], requires_grad=True)
x.sum(), x.mean(), x.var(), x.std(), x.prod(), x.norm(), (x * 0).sum(0)   # inf - inf in numpy's reductions
y = tg.tensor([-inf, inf, -2.0, 0.0, -0.0], requires_grad=True)
e = tg.tensor(3.0, requires_grad=True)
tg.pow(y, e).sum().backward()
print("silent")
"""


def _run(code):
    return subprocess.run([sys.executable, "-W", "error", "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_floating_point_exceptions_in_tapegrad_are_silent_as_in_pytorch():
    done = _run(SILENT)
    assert done.returncode == 0 and done.stdout.strip() == "silent", done.stderr[-2000:]


@pytest.mark.parametrize("code", ["np.log(np.zeros(1))", "np.ones(1) / 0", "np.float16(7e4) * np.float16(2)",
                                  "np.sum(np.array([np.inf, -np.inf]))", "np.add.reduce(np.array([np.inf, -np.inf]))"])
def test_numpy_outside_tapegrad_still_warns(code):
    done = _run(f"import numpy as np\nimport tapegrad\n{code}")
    assert done.returncode != 0 and "RuntimeWarning" in done.stderr and "encountered in" in done.stderr


def test_the_filter_takes_numpys_floating_point_messages_from_tapegrad_only():
    """tapegrad's (and PyTorch's) own warnings, RuntimeWarnings among them, still reach the user, and so do numpy's
    messages raised from another package whose name starts alike."""
    done = _run("""
    import warnings
    import tapegrad
    def warns(message, module):
        try:
            warnings.warn_explicit(message, RuntimeWarning, "f.py", 1, module=module)
        except RuntimeWarning:
            return True
        return False
    assert not warns("overflow encountered in multiply", "tapegrad.ops.elementwise")
    assert not warns("invalid value encountered in matmul", "tapegrad")
    assert warns("an anomaly", "tapegrad.autograd.anomaly")
    assert warns("overflow encountered in multiply", "tapegrad_extras")
    print("ok")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def _cases():
    """Ops on a 4x4 input, by name: each is run forward and backward, on inputs with inf, -inf, nan, zeros and
    values at the top of the dtype's range."""
    import tapegrad as tg

    F, L, S = tg.nn.functional, tg.linalg, tg.special
    rows = tg.tensor([0, 0, 1, 1])
    labels = tg.tensor([0, 1, 2, 3])
    signs = tg.tensor([1, -1, 1, -1])

    def flip(x):
        return x.flip(0)

    def into(fill, method, *args):  # an out-of-place scatter/index op into a (2, 4) tensor of fill
        return lambda x: getattr(tg.full((2, 4), fill, dtype=x.dtype), method)(*args(x))

    return {
        # reductions and scans
        "sum": lambda x: x.sum(0), "sum_all": lambda x: x.sum(), "mean": lambda x: x.mean(1),
        "prod": lambda x: x.prod(1), "prod_all": lambda x: x.prod(), "var": lambda x: x.var(1), "std": tg.std,
        "nansum": lambda x: tg.nansum(x, 1), "nanmean": lambda x: tg.nanmean(x, 1),
        "logsumexp": lambda x: tg.logsumexp(x, 1), "amax": lambda x: x.amax(1), "max": lambda x: x.max(1)[0],
        "min": tg.min, "median": lambda x: x.median(1)[0], "nanmedian": lambda x: x.nanmedian(1)[0],
        "quantile": lambda x: tg.quantile(x, 0.3, dim=1), "nanquantile": lambda x: tg.nanquantile(x, 0.3, dim=1),
        "cumsum": lambda x: tg.cumsum(x, 1), "cumsum0": lambda x: tg.cumsum(x, 0),
        "cumprod": lambda x: tg.cumprod(x, 1), "cummax": lambda x: tg.cummax(x, 1)[0],
        "logcumsumexp": lambda x: tg.logcumsumexp(x, 1), "std_mean": lambda x: tg.std_mean(x, 1)[0],
        "var_mean": lambda x: tg.var_mean(x, 1)[1], "aminmax": lambda x: tg.aminmax(x).min,
        "count_nonzero": tg.count_nonzero, "diff": lambda x: tg.diff(x, dim=1), "trace": tg.trace,
        # norms and distances
        "norm": lambda x: x.norm(), "norm1": lambda x: x.norm(p=1, dim=1), "norm_inf": lambda x: x.norm(p=math.inf),
        "norm3": lambda x: x.norm(p=3, dim=1), "norm0": lambda x: x.norm(p=0),
        "vector_norm": lambda x: L.vector_norm(x, dim=1), "vector_norm_p": lambda x: L.vector_norm(x, 3.5),
        "matrix_norm": L.matrix_norm, "matrix_norm1": lambda x: L.matrix_norm(x, 1),
        "matrix_norm_inf": lambda x: L.matrix_norm(x, -math.inf), "matrix_norm_nuc": lambda x: L.matrix_norm(x, "nuc"),
        "matrix_norm2": lambda x: L.matrix_norm(x, 2), "linalg_norm": L.norm, "cdist": lambda x: tg.cdist(x, x),
        "pdist": F.pdist, "cosine_similarity": lambda x: F.cosine_similarity(x, flip(x)),
        "pairwise_distance": lambda x: F.pairwise_distance(x, flip(x)), "normalize": F.normalize,
        "dist": lambda x: tg.dist(x, flip(x)), "renorm": lambda x: tg.renorm(x, 2, 0, 1.0), "cov": tg.cov,
        "corrcoef": tg.corrcoef,
        # linear algebra
        "det": L.det, "slogdet": lambda x: L.slogdet(x)[1], "logdet": tg.logdet, "inv": L.inv,
        "solve": lambda x: L.solve(x, x), "cholesky": L.cholesky, "pinv": L.pinv, "svdvals": L.svdvals,
        "svd": lambda x: L.svd(x)[1], "eigh": lambda x: L.eigh(x)[0], "eigvalsh": L.eigvalsh,
        "qr": lambda x: L.qr(x)[1], "matrix_rank": L.matrix_rank, "cond": L.cond, "lu": lambda x: L.lu(x)[2],
        "lstsq": lambda x: L.lstsq(x, x).solution, "matrix_exp": tg.matrix_exp,
        "matrix_power": lambda x: L.matrix_power(x, 3), "householder_product": lambda x: L.householder_product(x, x[0]),
        "cross": lambda x: L.cross(x[:, :3], x[:, 1:]), "outer": lambda x: tg.outer(x[0], x[1]),
        "einsum": lambda x: tg.einsum("ij,jk->ik", x, x), "einsum_trace": lambda x: tg.einsum("ii", x),
        "matmul": lambda x: x @ x, "kron": lambda x: tg.kron(x, x), "tensordot": lambda x: tg.tensordot(x, x, 1),
        "dot": lambda x: tg.dot(x[0], x[1]), "vdot": lambda x: tg.vdot(x[0], x[3]),
        "linear": lambda x: F.linear(x, x, x[0]), "bilinear": lambda x: F.bilinear(x, x, x[None]),
        # activations and normalization
        "softmax": lambda x: F.softmax(x, 1), "log_softmax": lambda x: F.log_softmax(x, 1),
        "softmin": lambda x: F.softmin(x, 0), "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
        "silu": F.silu, "mish": F.mish, "softplus": F.softplus, "elu": F.elu, "selu": F.selu, "celu": F.celu,
        "sigmoid": tg.sigmoid, "logsigmoid": F.logsigmoid, "hardswish": F.hardswish, "glu": F.glu,
        "tanhshrink": F.tanhshrink, "softsign": F.softsign,
        "layer_norm": lambda x: F.layer_norm(x, (4,)), "rms_norm": lambda x: F.rms_norm(x, (4,)),
        "group_norm": lambda x: F.group_norm(x[None], 2), "instance_norm": lambda x: F.instance_norm(x[None]),
        "batch_norm": lambda x: F.batch_norm(x, None, None, training=True),
        "local_response_norm": lambda x: F.local_response_norm(x[None], 2),
        # losses
        "mse": lambda x: F.mse_loss(x, flip(x)), "l1": lambda x: F.l1_loss(x, x.flip(1)),
        "smooth_l1": lambda x: F.smooth_l1_loss(x, flip(x)), "huber": lambda x: F.huber_loss(x, flip(x)),
        "bce": lambda x: F.binary_cross_entropy(tg.sigmoid(x), tg.sigmoid(flip(x)).detach()),
        "bce_with_logits": lambda x: F.binary_cross_entropy_with_logits(x, tg.sigmoid(flip(x))),
        "cross_entropy": lambda x: F.cross_entropy(x, labels),
        "cross_entropy_soft": lambda x: F.cross_entropy(x, F.softmax(flip(x), 1), label_smoothing=0.1),
        "nll": lambda x: F.nll_loss(x, labels), "kl_div": lambda x: F.kl_div(x, flip(x), reduction="batchmean"),
        "kl_div_log": lambda x: F.kl_div(x, flip(x), reduction="sum", log_target=True),
        "poisson_nll": lambda x: F.poisson_nll_loss(x, flip(x)),
        "gaussian_nll": lambda x: F.gaussian_nll_loss(x, flip(x), x.abs()),
        "cosine_embedding": lambda x: F.cosine_embedding_loss(x, flip(x), signs),
        "margin_ranking": lambda x: F.margin_ranking_loss(x[0], x[1], signs),
        "hinge_embedding": lambda x: F.hinge_embedding_loss(x, flip(x)),
        "soft_margin": lambda x: F.soft_margin_loss(x, flip(x)),
        "multilabel_soft_margin": lambda x: F.multilabel_soft_margin_loss(x, flip(x)),
        "triplet": lambda x: F.triplet_margin_loss(x, flip(x), x.flip(1)),
        "multi_margin": lambda x: F.multi_margin_loss(x, labels),
        "multilabel_margin": lambda x: F.multilabel_margin_loss(x, tg.tensor([[0, 1, -1, 0]] * 4)),
        # indexing, scatter, sorting
        "index_add": lambda x: tg.zeros(4, dtype=x.dtype).index_add(0, rows, x[0]),
        "scatter_add": into(0.0, "scatter_add", lambda x: (0, rows.expand(4, 4).T, x)),
        "scatter_reduce_sum": into(0.0, "scatter_reduce", lambda x: (0, rows.expand(4, 4).T, x, "sum")),
        "scatter_reduce_prod": into(1.0, "scatter_reduce", lambda x: (0, rows.expand(4, 4).T, x, "prod")),
        "scatter_reduce_mean": into(1.0, "scatter_reduce", lambda x: (0, rows.expand(4, 4).T, x, "mean")),
        "scatter_reduce_amax": into(1.0, "scatter_reduce", lambda x: (0, rows.expand(4, 4).T, x, "amax")),
        "index_reduce_prod": into(1.0, "index_reduce", lambda x: (0, rows, x, "prod")),
        "index_reduce_mean": into(1.0, "index_reduce", lambda x: (0, rows, x, "mean")),
        "index_put_accumulate": lambda x: tg.zeros(4, dtype=x.dtype).index_put((rows,), x[0], accumulate=True),
        "gather": lambda x: tg.gather(x, 1, tg.zeros(4, 2, dtype=tg.int64)), "take": lambda x: tg.take(x, rows),
        "masked_fill": lambda x: x.masked_fill(x > 0, 1.0),
        "embedding_bag_sum": lambda x: F.embedding_bag(labels.reshape(2, 2), x, mode="sum"),
        "embedding_bag_mean": lambda x: F.embedding_bag(labels.reshape(2, 2), x, mode="mean"),
        "embedding_bag_max": lambda x: F.embedding_bag(labels.reshape(2, 2), x, mode="max"),
        "embedding_max_norm": lambda x: F.embedding(rows, x.detach().clone(), max_norm=1.0),
        "histc": lambda x: tg.histc(x.float(), bins=3, min=-1, max=1), "sort": lambda x: tg.sort(x, 1)[0],
        "topk": lambda x: tg.topk(x, 2)[0], "kthvalue": lambda x: tg.kthvalue(x, 2)[0],
        "searchsorted": lambda x: tg.searchsorted(tg.sort(x[0])[0], x[1]),
        # pooling, resampling, convolution
        "avg_pool1d": lambda x: F.avg_pool1d(x[None], 2), "avg_pool2d": lambda x: F.avg_pool2d(x[None], 2),
        "lp_pool1d": lambda x: F.lp_pool1d(x[None], 3, 2), "lp_pool2d": lambda x: F.lp_pool2d(x[None], 2, 2),
        "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x[None], 3),
        "max_pool2d": lambda x: F.max_pool2d(x[None], 2),
        "adaptive_max_pool2d": lambda x: F.adaptive_max_pool2d(x[None], 3),
        "bilinear_2x": lambda x: F.interpolate(x[None, None], scale_factor=2, mode="bilinear"),
        "bicubic": lambda x: F.interpolate(x[None, None], size=(5, 5), mode="bicubic"),
        "area": lambda x: F.interpolate(x[None, None], size=(3, 3), mode="area"),
        "linear_1d": lambda x: F.interpolate(x[None], size=7, mode="linear"),
        "conv1d": lambda x: F.conv1d(x[None], x[:, :, None].expand(4, 4, 2)),
        "conv2d": lambda x: F.conv2d(x[None, None], x[None, None, :2, :2]),
        "conv_transpose2d": lambda x: F.conv_transpose2d(x[None, None], x[None, None, :2, :2]),
        # elementwise
        "nan_to_num": tg.nan_to_num, "clamp": lambda x: x.clamp(-1, 1),
        "round_decimals": lambda x: tg.round(x, decimals=3),
        "lerp": lambda x: tg.lerp(x, flip(x), 0.3), "addcdiv": lambda x: tg.addcdiv(x, x, flip(x)),
        "logaddexp": lambda x: tg.logaddexp(x, flip(x)), "hypot": lambda x: tg.hypot(x, flip(x)),
        "atan2": lambda x: tg.atan2(x, flip(x)), "fmod": lambda x: tg.fmod(x, flip(x)),
        "remainder": lambda x: tg.remainder(x, flip(x)), "xlogy": lambda x: tg.xlogy(x, flip(x)),
        "floor_divide": lambda x: tg.floor_divide(x, flip(x)), "pow": lambda x: x ** flip(x),
        "lgamma": tg.lgamma, "digamma": tg.digamma, "polygamma": lambda x: tg.polygamma(1, x), "erfinv": tg.erfinv,
        "i0": tg.i0, "sinc": tg.sinc, "logit": tg.logit, "mvlgamma": lambda x: tg.mvlgamma(x, 2),
        "frexp": lambda x: tg.frexp(x)[0], "ldexp": lambda x: tg.ldexp(x, tg.tensor([3])),
        "i1": S.i1, "i1e": S.i1e, "ndtri": S.ndtri, "entr": S.entr, "erfcx": S.erfcx, "log_ndtr": S.log_ndtr,
        "xlog1py": lambda x: S.xlog1py(x, x), "zeta": lambda x: S.zeta(x, flip(x)), "bessel_j0": S.bessel_j0,
        "gammainc": lambda x: S.gammainc(x, flip(x)), "expm1": tg.expm1, "cosh": tg.cosh, "exp2": tg.exp2,
        "cartesian_prod": lambda x: tg.cartesian_prod(x[0], x[1]), "vander": lambda x: tg.vander(x[0]),
    }


def test_public_ops_on_inf_nan_and_huge_inputs_raise_no_floating_point_warning():
    """Where tapegrad calls a numpy function written in Python (np.sum, np.cumsum, np.linalg.svd's cast), the ufunc
    warns from numpy's module, past the filter: each op is run, forward and backward, with tapegrad's filter
    in place and every other RuntimeWarning an error."""
    import warnings

    import numpy as np

    import tapegrad as tg
    from tapegrad._quiet_ieee import MESSAGE, MODULE

    top = {tg.float16: 6e4, tg.float32: 3e38, tg.float64: 1.7e308}
    leaks = []
    for name, f in _cases().items():
        for dtype, b in top.items():
            inf, nan = math.inf, math.nan
            for values in ([[inf, -inf, nan, b], [0.0, -0.0, b, -b], [b, b, 1.0, 0.0], [-inf, 0.0, 0.0, inf]],
                           [[b, b, 0.0, 0.0], [b, -b, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0], [b, 1.0, 0.0, b]]):
                for backward in (False, True):
                    x = tg.tensor(values, dtype=dtype, requires_grad=backward)
                    with warnings.catch_warnings():
                        warnings.simplefilter("error", RuntimeWarning)
                        warnings.filterwarnings("ignore", MESSAGE, RuntimeWarning, MODULE)
                        try:
                            out = f(x)
                            if backward and isinstance(out, tg.Tensor) and out.requires_grad:
                                out.backward(tg.ones_like(out))
                        except RuntimeWarning as w:
                            site = [s for s in traceback.extract_tb(w.__traceback__) if "/tapegrad/" in s.filename][-1]
                            leaks.append(f"{name} ({np.dtype(dtype).name}, {values[0][0]}, backward={backward}): "
                                         f"{w} at {site.filename.rsplit('/tapegrad/', 1)[1]}:{site.lineno}")
                        except Exception:  # noqa: BLE001 - an op's own error (a singular matrix, a nan input)
                            pass
    assert not leaks, "\n".join(leaks)
