"""Which names PyTorch 2.13 puts in each submodule of ``torch.nn.modules`` (each submodule's ``__all__``), and
where tapegrad keeps the private bases that programs import by their PyTorch path.

The public names are looked up in ``tapegrad.nn`` (then in ``tapegrad.nn.<submodule>``, then ``HOMES``) when they
are asked for, so a layer added to ``tapegrad.nn``
appears under its PyTorch path with no edit here; a name tapegrad does not have yet raises an AttributeError
that says so.
"""

PUBLIC = {
    "activation": ("CELU", "ELU", "GELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU",
                   "LogSigmoid", "LogSoftmax", "Mish", "MultiheadAttention", "PReLU", "RReLU", "ReLU", "ReLU6", "SELU",
                   "SiLU", "Sigmoid", "Softmax", "Softmax2d", "Softmin", "Softplus", "Softshrink", "Softsign",
                   "Tanh", "Tanhshrink", "Threshold"),
    "adaptive": ("AdaptiveLogSoftmaxWithLoss",),
    "batchnorm": ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
                  "LazyBatchNorm3d", "SyncBatchNorm"),
    "channelshuffle": ("ChannelShuffle",),
    "container": ("Container", "ModuleDict", "ModuleList", "ParameterDict", "ParameterList", "Sequential"),
    "conv": ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "LazyConv1d",
             "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d"),
    "distance": ("CosineSimilarity", "PairwiseDistance"),
    "dropout": ("AlphaDropout", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout"),
    "flatten": ("Flatten", "Unflatten"),
    "fold": ("Fold", "Unfold"),
    "instancenorm": ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d",
                     "LazyInstanceNorm3d"),
    "lazy": ("LazyModuleMixin",),
    "linear": ("Bilinear", "Identity", "LazyLinear", "Linear"),
    "loss": ("BCELoss", "BCEWithLogitsLoss", "CTCLoss", "CosineEmbeddingLoss", "CrossEntropyLoss", "GaussianNLLLoss",
             "HingeEmbeddingLoss", "HuberLoss", "KLDivLoss", "L1Loss", "LinearCrossEntropyLoss", "MSELoss",
             "MarginRankingLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "NLLLoss",
             "NLLLoss2d", "PoissonNLLLoss", "SmoothL1Loss", "SoftMarginLoss", "TripletMarginLoss",
             "TripletMarginWithDistanceLoss"),
    "module": ("Module", "register_module_backward_hook", "register_module_buffer_registration_hook",
               "register_module_forward_hook", "register_module_forward_pre_hook",
               "register_module_full_backward_hook", "register_module_full_backward_pre_hook",
               "register_module_module_registration_hook", "register_module_parameter_registration_hook"),
    "normalization": ("CrossMapLRN2d", "GroupNorm", "LayerNorm", "LocalResponseNorm", "RMSNorm"),
    "padding": ("CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
                "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
                "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d"),
    "pixelshuffle": ("PixelShuffle", "PixelUnshuffle"),
    "pooling": ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
                "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
                "FractionalMaxPool2d", "FractionalMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d", "MaxPool1d",
                "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"),
    "rnn": ("GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"),
    "sparse": ("Embedding", "EmbeddingBag"),
    "transformer": ("Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
                    "TransformerEncoderLayer"),
    "upsampling": ("Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"),
    "utils": ("consume_prefix_in_state_dict_if_present",),
}

# Private names that programs import by PyTorch's path (``from torch.nn.modules.loss import _Loss`` to write a
# loss, ``_BatchNorm`` in isinstance checks): name -> the tapegrad module that defines it. A missing module or
# name reads as "tapegrad does not have it yet".
PRIVATE = {
    "loss": {"_Loss": "tapegrad.nn.loss", "_WeightedLoss": "tapegrad.nn.loss"},
    "batchnorm": {"_BatchNorm": "tapegrad.nn.norm", "_NormBase": "tapegrad.nn.norm"},
    "conv": {"_ConvNd": "tapegrad.nn.conv"},
    "pooling": {"_MaxPoolNd": "tapegrad.nn.pooling", "_AvgPoolNd": "tapegrad.nn.pooling"},
    "dropout": {"_DropoutNd": "tapegrad.nn.dropout"},
    "module": {"_IncompatibleKeys": "tapegrad.nn.module", "_addindent": "tapegrad.nn.module"},
}

# Where a public name is looked for, after ``tapegrad.nn``: the module-level hook registrations live in
# tapegrad.nn.module (PyTorch keeps them out of ``torch.nn`` too), the checkpoint helper in nn.parallel.
HOMES = {
    "module": "tapegrad.nn.module",
    "utils": "tapegrad.nn.parallel.distributed",
}
