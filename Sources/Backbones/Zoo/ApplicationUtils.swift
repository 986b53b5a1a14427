// Helpers that several keras.applications families share, as Keras shares them: `_make_divisible`
// (copied into mobilenet_v2.py, mobilenet_v3.py and efficientnet.py) and
// `imagenet_utils.correct_pad`. One home, so no family borrows from another's file.

public enum ApplicationUtils {
    /// Keras' `_make_divisible`: rounds `v` to the nearest multiple of `divisor`, never going
    /// below `minValue` (default `divisor`) nor more than 10% below `v`.
    public static func makeDivisible(_ v: Double, _ divisor: Int, minValue: Int? = nil) -> Int {
        let minValue = minValue ?? divisor
        var newV = max(minValue, Int(v + Double(divisor) / 2) / divisor * divisor)
        if Double(newV) < 0.9 * v { newV += divisor }
        return newV
    }

    /// `imagenet_utils.correct_pad` for a known (H, W): `((k/2 - adjust, k/2), ...)` with
    /// `adjust = 1 - size % 2`, which equals TF "same" for the stride-2 window that follows.
    public static func correctPad(height: Int, width: Int, kernel: Int) -> Padding {
        let correct = kernel / 2
        return Padding(
            top: correct - (1 - height % 2), bottom: correct,
            left: correct - (1 - width % 2), right: correct)
    }

    /// A DepthwiseConv2D (no bias) as MobileNetV2/V3 and EfficientNet write it: with stride 2,
    /// `ZeroPadding2D(correct_pad)` named `pad` and a "valid" window; with stride 1, "same".
    static func correctPaddedDepthwise(
        _ g: inout Graph, pad: String, _ name: String, kernel: Int, stride: Int, _ input: NodeID
    ) throws -> NodeID {
        var x = input
        if stride == 2 {
            let s = g.shape(x)
            x = try g.add(pad, .zeroPadding(correctPad(height: s.height, width: s.width, kernel: kernel)), x)
        }
        return try g.add(
            name,
            .depthwiseConv2d(
                .init(
                    kernel: (kernel, kernel), strides: (stride, stride), padding: stride == 1 ? .same : .valid,
                    useBias: false)),
            x)
    }
}
