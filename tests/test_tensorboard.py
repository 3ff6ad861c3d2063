"""tapegrad.utils.tensorboard: real event files, read back record by record (CRCs checked) and parsed."""

import doctest
import glob
import io
import os
import struct

import numpy as np
import pytest

pytest.importorskip("tensorboardX", reason="SummaryWriter needs tensorboardX: pip install tapegrad[tensorboard]")

from tensorboardX.proto.event_pb2 import Event  # noqa: E402
from tensorboardX.proto.graph_pb2 import GraphDef  # noqa: E402
from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData  # noqa: E402
from tensorboardX.record_writer import masked_crc32c  # noqa: E402

import tapegrad as tg  # noqa: E402
from tapegrad.utils import tensorboard  # noqa: E402
from tapegrad.utils.tensorboard import FileWriter, SummaryWriter  # noqa: E402
from tapegrad.utils.tensorboard import writer as writer_module  # noqa: E402


def read_events(directory):
    """Every Event in the event files directly in ``directory``, in file then record order."""
    events = []
    for path in sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*"))):
        data = open(path, "rb").read()
        pos = 0
        while pos < len(data):
            header = data[pos:pos + 8]
            (length,) = struct.unpack("<Q", header)
            assert struct.unpack("<I", data[pos + 8:pos + 12])[0] == masked_crc32c(header)
            body = data[pos + 12:pos + 12 + length]
            assert struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])[0] == masked_crc32c(body)
            events.append(Event.FromString(body))
            pos += 16 + length
    return events


def values(directory):
    """(tag, step, Summary.Value) for every summary value."""
    return [(v.tag, e.step, v) for e in read_events(directory) if e.HasField("summary") for v in e.summary.value]


def test_add_scalar_accepts_numbers_and_one_element_tensors(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("loss", 2.5, 0)
        w.add_scalar("loss", tg.tensor(1.25), 1)
        w.add_scalar("loss", tg.tensor([0.5], requires_grad=True), global_step=tg.tensor(2))
        w.add_scalar("loss", np.float64(0.25), 3, walltime=123.0)
        w.add_scalar("new", 3.0, 0, new_style=True)
        w.add_scalar("dbl", 1 / 3, 0, new_style=True, double_precision=True)
        with pytest.raises(AssertionError, match="Tensor should contain one element"):
            w.add_scalar("bad", tg.ones(2), 0)
        with pytest.raises(NotImplementedError, match="numpy array or tapegrad tensor are expected"):
            w.add_scalar("bad", [1.0], 0)
    events = read_events(tmp_path)
    assert events[0].file_version == "brain.Event:2"
    got = [(tag, step, v.simple_value) for tag, step, v in values(tmp_path) if tag == "loss"]
    assert got == [("loss", 0, 2.5), ("loss", 1, 1.25), ("loss", 2, 0.5), ("loss", 3, 0.25)]
    assert [e.wall_time for e in events if e.step == 3] == [123.0]
    (new,) = [v for tag, _, v in values(tmp_path) if tag == "new"]
    assert new.metadata.plugin_data.plugin_name == "scalars" and list(new.tensor.float_val) == [3.0]
    (dbl,) = [v for tag, _, v in values(tmp_path) if tag == "dbl"]
    assert list(dbl.tensor.double_val) == [1 / 3]


def test_add_scalars_writes_one_run_directory_per_tag_as_pytorch(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        for step in range(3):
            w.add_scalars("train/loss", {"a": step, "b": tg.tensor(step * 2.0)}, step)
    assert {"train_loss_a", "train_loss_b"} <= set(os.listdir(tmp_path))
    assert [(t, s, v.simple_value) for t, s, v in values(tmp_path / "train_loss_b")] == [
        ("train/loss", 0, 0.0), ("train/loss", 1, 2.0), ("train/loss", 2, 4.0)]


def test_add_histogram_of_a_tensor(tmp_path):
    x = tg.randn(1000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("weights", x, 5)
        w.add_histogram("fixed", tg.tensor([0.0, 1.0, 1.0, 3.0]), 6, bins=3)
        w.add_histogram_raw("raw", min=0.0, max=2.0, num=3, sum=3.0, sum_squares=5.0, bucket_limits=[1.0, 2.0],
                            bucket_counts=[1, 2], global_step=7)
    (h,) = [v.histo for t, s, v in values(tmp_path) if t == "weights" and s == 5]
    arr = x.numpy().astype(float)
    assert h.num == 1000 and h.min == arr.min() and h.max == arr.max() and sum(h.bucket) == 1000
    assert np.isclose(h.sum, arr.sum()) and np.isclose(h.sum_squares, arr @ arr)
    (f,) = [v.histo for t, _, v in values(tmp_path) if t == "fixed"]
    assert list(f.bucket) == [0.0, 1.0, 2.0, 1.0] and list(f.bucket_limit) == [0.0, 1.0, 2.0, 3.0]
    (r,) = [v.histo for t, _, v in values(tmp_path) if t == "raw"]
    assert list(r.bucket) == [1.0, 2.0]


def _png(value):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(value.image.encoded_image_string)))


def test_add_image_chw_hwc_and_batches(tmp_path):
    pytest.importorskip("PIL", reason="images need pillow: pip install tapegrad[tensorboard]")
    chw = tg.zeros(3, 4, 5)
    chw[0] = 1.0  # red
    hwc = np.zeros((4, 5, 3), dtype=np.uint8)
    hwc[..., 2] = 200
    with SummaryWriter(tmp_path) as w:
        w.add_image("chw", chw, 0)
        w.add_image("hwc", hwc, 1, dataformats="HWC")
        w.add_image("gray", tg.full((4, 5), 0.5), 2, dataformats="HW")
        w.add_images("batch", tg.rand(2, 3, 4, 5), 3)
    got = {t: v for t, _, v in values(tmp_path)}
    red = _png(got["chw"])
    assert red.shape == (4, 5, 3) and (red[..., 0] == 255).all() and (red[..., 1:] == 0).all()
    blue = _png(got["hwc"])
    assert (blue[..., 2] == 200).all() and got["hwc"].image.height == 4 and got["hwc"].image.width == 5
    assert (_png(got["gray"]) == 127).all()
    assert got["batch"].image.width > 5  # a grid


def test_add_text_and_hparams(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "**bold**", 4)
        w.add_hparams({"lr": 0.1, "bs": 32, "opt": "adam", "flag": True, "skip": None}, {"hparam/acc": 0.9},
                      hparam_domain_discrete={"opt": ["adam", "sgd"]}, run_name="run1", global_step=2)
        with pytest.raises(TypeError, match="hparam_dict and metric_dict should be dictionary."):
            w.add_hparams([("lr", 0.1)], {})
        with pytest.raises(TypeError, match=r"hparam_domain_discrete\[opt\] should be a list of same type"):
            w.add_hparams({"opt": "adam"}, {}, hparam_domain_discrete={"opt": [1]})
    (text,) = [v for t, s, v in values(tmp_path) if t == "notes/text_summary" and s == 4]
    assert text.tensor.string_val == [b"**bold**"] and text.metadata.plugin_data.plugin_name == "text"
    run = values(tmp_path / "run1")
    assert [t for t, _, _ in run] == ["_hparams_/experiment", "_hparams_/session_start_info",
                                      "_hparams_/session_end_info", "hparam/acc"]
    assert all(s == 2 for _, s, _ in run)
    start = HParamsPluginData.FromString(run[1][2].metadata.plugin_data.content).session_start_info
    assert start.hparams["lr"].number_value == 0.1 and start.hparams["opt"].string_value == "adam"
    assert start.hparams["flag"].number_value == 1.0 and "skip" not in start.hparams  # as PyTorch
    exp = HParamsPluginData.FromString(run[0][2].metadata.plugin_data.content).experiment
    assert [m.name.tag for m in exp.metric_infos] == ["hparam/acc"]
    assert [v.string_value for v in {h.name: h for h in exp.hparam_infos}["opt"].domain_discrete.values] == [
        "adam", "sgd"]
    assert run[3][2].simple_value == pytest.approx(0.9)


def test_add_tensor_and_pr_curve(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_tensor("t", tg.arange(6).reshape(2, 3), 0)
        w.add_tensor("h", tg.tensor([1.5], dtype=tg.float16), 0)
        w.add_pr_curve("pr", tg.tensor([0, 1, 1, 0]), tg.tensor([0.1, 0.8, 0.6, 0.3]), 1)
    got = {t: v for t, _, v in values(tmp_path)}
    assert list(got["t"].tensor.int64_val) == list(range(6)) and [d.size for d in got["t"].tensor.tensor_shape.dim] \
        == [2, 3]
    assert list(got["h"].tensor.half_val) == [np.float16(1.5).view(np.uint16)]
    assert got["pr"].metadata.plugin_data.plugin_name == "pr_curves"


class Net(tg.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = tg.nn.Linear(3, 4)
        self.drop = tg.nn.Dropout(0.5)
        self.fc2 = tg.nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(self.drop(self.fc1(x).relu()))


def test_add_graph_records_one_forward_pass(tmp_path, capsys):
    net = Net()
    net.train()
    x = tg.randn(5, 3)
    with SummaryWriter(tmp_path) as w:
        w.add_graph(net, x)
    (event,) = [e for e in read_events(tmp_path) if e.graph_def]
    graph = GraphDef.FromString(event.graph_def)
    nodes = {n.name: n for n in graph.node}
    assert {"input/input.0", "output/output.0", "Net/fc1/weight", "Net/fc1/bias", "Net/fc2/weight"} <= set(nodes)
    assert nodes["input/input.0"].op == "IO Node" and nodes["Net/fc1/weight"].op == "Parameter"
    shape = [d.size for d in nodes["output/output.0"].attr["_output_shapes"].list.shape[0].dim]
    assert shape == [5, 2]
    for n in graph.node:  # every input names a node of the graph
        assert all(i in nodes for i in n.input), n
    ops = [n for n in graph.node if n.op not in ("IO Node", "Parameter")]
    assert any(n.name.startswith("Net/fc1/") for n in ops) and any("Relu" in n.op for n in ops)
    assert not any("Dropout" in n.op or "Mul" == n.op for n in ops)  # traced in eval mode, as PyTorch
    assert net.training and net.drop.training and x.grad is None and not x.requires_grad  # restored, untouched
    assert graph.versions.producer == 22
    w = SummaryWriter(tmp_path / "v")
    w.add_graph(tg.nn.Linear(2, 1), (tg.ones(1, 2),), verbose=True)
    w.close()
    assert "IO Node" in capsys.readouterr().out
    with pytest.raises(ValueError, match="add_graph: Lambda's forward returned no tensor"):
        class Lambda(tg.nn.Module):
            def forward(self, x):
                return None
        SummaryWriter(tmp_path / "n").add_graph(Lambda(), tg.ones(1))


def test_purge_step_and_reopen_after_close(tmp_path):
    w = SummaryWriter(tmp_path, purge_step=10)
    w.add_scalar("a", 1.0, 10)
    w.close()
    w.add_scalar("a", 2.0, 11)  # a closed writer opens a new file, as PyTorch
    w.flush()
    w.close()
    assert len(glob.glob(str(tmp_path / "events.out.tfevents.*"))) == 2
    events = read_events(tmp_path)
    assert any(e.session_log.status == e.session_log.START and e.step == 10 for e in events)
    assert [(t, s, v.simple_value) for t, s, v in values(tmp_path)] == [("a", 10, 1.0), ("a", 11, 2.0)]


def test_two_writers_in_one_directory_never_overwrite_each_other(tmp_path):
    a, b = SummaryWriter(tmp_path), SummaryWriter(tmp_path, filename_suffix=".x")
    a.add_scalar("a", 1.0, 0)
    b.add_scalar("b", 2.0, 0)
    c = SummaryWriter(tmp_path)
    c.add_scalar("c", 3.0, 0)
    for w in (a, b, c):
        w.close()
    files = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    assert len(files) == 3 and sum(f.endswith(".x") for f in files) == 1
    assert sorted(t for t, _, _ in values(tmp_path)) == ["a", "b", "c"]


def test_events_are_flushed_every_max_queue_events(tmp_path):
    w = SummaryWriter(tmp_path, max_queue=2, flush_secs=3600)
    for step in range(4):
        w.add_scalar("a", float(step), step)
    assert [s for _, s, _ in values(tmp_path)] == [0, 1, 2, 3]  # on disk without flush()
    w.close()
    fw = FileWriter(tmp_path / "fw")
    fw.close()
    with pytest.raises(RuntimeError, match="it was closed"):
        fw.add_event(Event(step=1))
    fw.reopen()
    fw.add_event(Event(step=1))
    fw.close()


def test_default_log_dir_is_pytorchs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    w.close()
    (run,) = os.listdir(tmp_path / "runs")
    assert run.endswith("_lr0.1") and w.get_logdir() == os.path.join("runs", run)


def test_same_event_contents_as_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    try:
        from torch.utils.tensorboard import SummaryWriter as TorchWriter
    except ImportError:
        pytest.skip("PyTorch's SummaryWriter needs the tensorboard package")

    def log(Writer, lib, directory):
        with Writer(directory) as w:
            w.add_scalar("s", lib.tensor(0.5), 1)
            w.add_scalars("m", {"x": 1.0}, 2)
            w.add_histogram("h", lib.tensor([0.0, 1.0, 1.0, 3.0]), 3, bins=3)
            w.add_text("t", "hi", 4)
            w.add_image("i", lib.tensor(np.linspace(0, 1, 3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)), 5)
            w.add_scalar("n", 2.0, 6, new_style=True)
            w.add_hparams({"lr": 0.1, "o": "sgd"}, {"acc": 0.5}, run_name="r")
        return sorted(n if not n.startswith("events.out.tfevents.") else "events" for n in os.listdir(directory))

    assert log(SummaryWriter, tg, tmp_path / "a") == log(TorchWriter, torch, tmp_path / "b")
    for sub in ("", "m_x", "r"):
        ours = [(t, s, v.SerializeToString()) for t, s, v in values(tmp_path / "a" / sub)]
        theirs = [(t, s, v.SerializeToString()) for t, s, v in values(tmp_path / "b" / sub)]
        assert ours == theirs


def test_doctests():
    for module in (tensorboard, writer_module):
        assert doctest.testmod(module).failed == 0
