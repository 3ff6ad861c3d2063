"""SummaryWriter and FileWriter: ``torch.utils.tensorboard``'s, writing TensorBoard event files with tensorboardX.

The directory layout, tags, event contents and defaults are PyTorch's (not tensorboardX's, which differ: it
rewrites tags and nests ``add_scalars`` runs differently), so TensorBoard shows a tapegrad run as it shows the
same PyTorch run.
"""

import os
import time

from tensorboardX import summary as _tbx
from tensorboardX.proto import event_pb2
from tensorboardX.proto.event_pb2 import Event, SessionLog

from . import _graph
from ._event_file import EventFileWriter
from .summary import histogram, histogram_raw, hparams, image, image_boxes, make_np, scalar, tensor_proto, text

__all__ = ["FileWriter", "SummaryWriter"]


class FileWriter:
    """FileWriter(log_dir, max_queue=10, flush_secs=120, filename_suffix=''): appends protocol buffers to one
    new event file in ``log_dir`` (written by a background thread; ``flush`` or ``close`` to be sure)."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        self.event_writer = EventFileWriter(str(log_dir), max_queue, flush_secs, filename_suffix)

    def get_logdir(self):
        """The directory the event file is written to."""
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        """Add an ``Event`` protocol buffer, stamped with ``walltime`` (default now) and ``step``."""
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        """Add a ``Summary`` protocol buffer as an event."""
        self.add_event(event_pb2.Event(summary=summary), global_step, walltime)

    def add_graph(self, graph_def, walltime=None):
        """Add a ``GraphDef`` protocol buffer (the graph tab)."""
        self.add_event(event_pb2.Event(graph_def=graph_def.SerializeToString()), None, walltime)

    def flush(self):
        """Write pending events to disk."""
        self.event_writer.flush()

    def close(self):
        """Flush and close the event file."""
        self.event_writer.close()

    def reopen(self):
        """Reopen after ``close``: later events go to a new event file in the same directory."""
        self.event_writer.reopen()


class SummaryWriter:
    """SummaryWriter(log_dir=None, comment='', purge_step=None, max_queue=10, flush_secs=120, filename_suffix='')

    Writes TensorBoard event files (``torch.utils.tensorboard.SummaryWriter``). The default ``log_dir`` is
    ``runs/<Mon DD_HH-MM-SS>_<hostname><comment>``. Values may be tapegrad tensors, numpy arrays or Python
    numbers. Needs tensorboardX (``pip install tapegrad[tensorboard]``).

    >>> import tempfile, tapegrad as tg
    >>> from tapegrad.utils.tensorboard import SummaryWriter
    >>> with SummaryWriter(tempfile.mkdtemp()) as writer:
    ...     for step in range(3):
    ...         writer.add_scalar("loss", tg.tensor(1.0 / (step + 1)), step)
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120, filename_suffix=""):
        if not log_dir:
            import socket
            from datetime import datetime

            current_time = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", current_time + "_" + socket.gethostname() + comment)
        self.log_dir = log_dir
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = self.all_writers = None
        self._get_file_writer()
        # PyTorch's default histogram bins (TensorFlow's): +-1e-12 * 1.1**k up to 1e20, and 0.
        v, buckets, neg_buckets = 1e-12, [], []
        while v < 1e20:
            buckets.append(v)
            neg_buckets.append(-v)
            v *= 1.1
        self.default_bins = neg_buckets[::-1] + [0] + buckets

    def _get_file_writer(self):
        """The default FileWriter (made again after ``close``)."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                # TensorBoard hides the events of earlier runs from purge_step on
                self.file_writer.add_event(Event(step=self.purge_step, file_version="brain.Event:2"))
                self.file_writer.add_event(Event(step=self.purge_step, session_log=SessionLog(status=SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        """The directory event files are written to."""
        return self.log_dir

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None, global_step=None):
        """add_hparams(hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None, global_step=None):
        one run of the hparams table, written to ``log_dir/run_name`` (default: the current time), with each
        metric also logged there as a scalar."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        exp, ssi, sei = hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        if not run_name:
            run_name = str(time.time())
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=logdir) as w_hp:
            for summary in (exp, ssi, sei):
                w_hp.file_writer.add_summary(summary, global_step)
            for k, v in metric_dict.items():
                w_hp.add_scalar(k, v, global_step)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """add_scalar(tag, scalar_value, global_step=None, walltime=None, new_style=False, double_precision=False)
        : one point of the curve ``tag``; ``scalar_value`` a number or a one-element tensor."""
        summary = scalar(tag, scalar_value, new_style=new_style, double_precision=double_precision)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """add_scalars(main_tag, tag_scalar_dict, global_step=None, walltime=None): several curves in one chart;
        each goes to its own run directory ``log_dir/<main_tag with '/' as '_'>_<tag>``, as PyTorch does."""
        walltime = time.time() if walltime is None else walltime
        fw_logdir = self._get_file_writer().get_logdir()
        for tag, scalar_value in tag_scalar_dict.items():
            fw_tag = fw_logdir + "/" + main_tag.replace("/", "_") + "_" + tag
            if fw_tag in self.all_writers:
                fw = self.all_writers[fw_tag]
            else:
                fw = FileWriter(fw_tag, self.max_queue, self.flush_secs, self.filename_suffix)
                self.all_writers[fw_tag] = fw
            fw.add_summary(scalar(main_tag, scalar_value), global_step, walltime)

    def add_tensor(self, tag, tensor, global_step=None, walltime=None):
        """add_tensor(tag, tensor, global_step=None, walltime=None): the whole tensor, as a TensorProto."""
        self._get_file_writer().add_summary(tensor_proto(tag, tensor), global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        """add_histogram(tag, values, global_step=None, bins='tensorflow', walltime=None, max_bins=None): the
        distribution of ``values`` (e.g. a layer's weights); ``bins`` as numpy's, or TensorFlow's default."""
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        self._get_file_writer().add_summary(histogram(tag, values, bins, max_bins=max_bins), global_step,
                                            walltime)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts,
                          global_step=None, walltime=None):
        """add_histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts, ...): a histogram
        given by its statistics; ``bucket_limits`` and ``bucket_counts`` of equal length."""
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError("len(bucket_limits) != len(bucket_counts), see the document.")
        limits, counts = ([float(v) for v in (make_np(x).reshape(-1) if not isinstance(x, (list, tuple)) else x)]
                          for x in (bucket_limits, bucket_counts))
        summary = histogram_raw(tag, min, max, num, sum, sum_squares, limits, counts)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """add_image(tag, img_tensor, global_step=None, walltime=None, dataformats='CHW'): one image; floats in
        [0, 1] or uint8 in [0, 255]; ``dataformats`` 'CHW', 'HWC', 'HW', ... (needs pillow)."""
        self._get_file_writer().add_summary(image(tag, img_tensor, dataformats=dataformats), global_step,
                                            walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """add_images(tag, img_tensor, global_step=None, walltime=None, dataformats='NCHW'): a batch, as a grid."""
        self._get_file_writer().add_summary(image(tag, img_tensor, dataformats=dataformats), global_step,
                                            walltime)

    def add_image_with_boxes(self, tag, img_tensor, box_tensor, global_step=None, walltime=None, rescale=1,
                             dataformats="CHW", labels=None):
        """add_image_with_boxes(tag, img_tensor, box_tensor, ...): an image with boxes (N, 4) as x1, y1, x2, y2."""
        if labels is not None:
            if isinstance(labels, str):
                labels = [labels]
            if len(labels) != make_np(box_tensor).shape[0]:
                labels = None
        summary = image_boxes(tag, img_tensor, box_tensor, rescale=rescale, dataformats=dataformats, labels=labels)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """add_figure(tag, figure, global_step=None, close=True, walltime=None): a matplotlib figure (or a list
        of figures, shown as a grid), rendered to an image."""
        from tensorboardX.utils import figure_to_image

        if isinstance(figure, list):
            self.add_image(tag, figure_to_image(figure, close), global_step, walltime, dataformats="NCHW")
        else:
            self.add_image(tag, figure_to_image(figure, close), global_step, walltime, dataformats="CHW")

    def add_video(self, tag, vid_tensor, global_step=None, fps=4, walltime=None):
        """add_video(tag, vid_tensor, global_step=None, fps=4, walltime=None): (N, T, C, H, W) as an animated GIF
        (needs moviepy, as PyTorch)."""
        summary = _tbx.video(tag, make_np(vid_tensor), fps)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_audio(self, tag, snd_tensor, global_step=None, sample_rate=44100, walltime=None):
        """add_audio(tag, snd_tensor, global_step=None, sample_rate=44100, walltime=None): a clip in [-1, 1]."""
        summary = _tbx.audio(tag, make_np(snd_tensor), sample_rate=sample_rate)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """add_text(tag, text_string, global_step=None, walltime=None): markdown text, tagged
        ``tag/text_summary``."""
        self._get_file_writer().add_summary(text(tag, text_string), global_step, walltime)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """add_graph(model, input_to_model=None, verbose=False, use_strict_trace=True): the graph of one forward
        pass of ``model`` on ``input_to_model`` (a tensor or a tuple of them), for TensorBoard's graph tab.

        tapegrad records the pass (in eval mode, as PyTorch's tracer) instead of tracing TorchScript: one node
        per recorded op, named by the module that owns its parameters, plus the inputs, parameters and outputs.
        """
        self._get_file_writer().add_graph(_graph.graph(model, input_to_model, verbose))

    def add_pr_curve(self, tag, labels, predictions, global_step=None, num_thresholds=127, weights=None,
                     walltime=None):
        """add_pr_curve(tag, labels, predictions, global_step=None, num_thresholds=127, weights=None): a
        precision-recall curve of binary ``labels`` against ``predictions`` in [0, 1]."""
        summary = _tbx.pr_curve(tag, make_np(labels), make_np(predictions), num_thresholds,
                                None if weights is None else make_np(weights))
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_pr_curve_raw(self, tag, true_positive_counts, false_positive_counts, true_negative_counts,
                         false_negative_counts, precision, recall, global_step=None, num_thresholds=127,
                         weights=None, walltime=None):
        """add_pr_curve_raw(tag, tp, fp, tn, fn, precision, recall, ...): a precision-recall curve from counts."""
        summary = _tbx.pr_curve_raw(tag, *(make_np(x) for x in (true_positive_counts, false_positive_counts,
                                                                  true_negative_counts, false_negative_counts,
                                                                  precision, recall)), num_thresholds, weights)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_custom_scalars(self, layout):
        """add_custom_scalars(layout): the custom-scalars dashboard, ``{category: {chart: ['Multiline' or
        'Margin', [tags]]}}``."""
        self._get_file_writer().add_summary(_tbx.custom_scalars(layout))

    def add_custom_scalars_multilinechart(self, tags, category="default", title="untitled"):
        """add_custom_scalars_multilinechart(tags, category='default', title='untitled')."""
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(self, tags, category="default", title="untitled"):
        """add_custom_scalars_marginchart(tags, category='default', title='untitled'): tags of value, lower,
        upper."""
        if len(tags) != 3:
            raise AssertionError(f"Expected 3 tags, got {len(tags)}.")
        self.add_custom_scalars({category: {title: ["Margin", tags]}})

    def add_mesh(self, tag, vertices, colors=None, faces=None, config_dict=None, global_step=None, walltime=None):
        """add_mesh(tag, vertices, colors=None, faces=None, config_dict=None, ...): a 3-D point cloud or mesh."""
        summary = _tbx.mesh(tag, make_np(vertices), None if colors is None else make_np(colors),
                            None if faces is None else make_np(faces), config_dict)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def flush(self):
        """Write every pending event of every run directory to disk."""
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()

    def close(self):
        """Flush and close every event file (a later add_* opens new ones)."""
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()
