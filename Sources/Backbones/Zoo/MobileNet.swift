// MobileNet (v1): Efficient Convolutional Neural Networks for Mobile Vision Applications
// (Howard et al., 2017, arXiv:1704.04861), as keras-team/keras `keras/src/applications/mobilenet.py`
// builds it with include_top=False and depth_multiplier=1. Layer names are Keras' string
// literals; the node order is Keras' `model.layers` order.

import Foundation

public enum MobileNet {
    /// The Keras model name, `f"mobilenet_{alpha:0.2f}_{rows}"`.
    public static func modelName(alpha: Double, size: Int) -> String {
        // printf's %.2f rounds the double as Python's format spec does.
        String(format: "mobilenet_%.2f_%d", alpha, size)
    }

    /// in (N, height, width, 3) -> out (N, H', W', int(1024 * alpha)) or (N, C) with pooling,
    /// or with `includeTop` (N, 1000) class probabilities.
    /// Every stride-2 depthwise convolution follows `ZeroPadding2D(((0, 1), (0, 1)))` and is
    /// "valid" (for odd sizes this is not TF "same"); conv1 is a 3×3/2 "same" convolution.
    public static func graph(
        alpha: Double, height: Int, width: Int, pooling: GlobalPooling = .none,
        includeTop: Bool = false
    ) throws -> Graph {
        var g = Graph(
            name: modelName(alpha: alpha, size: height),
            input: FeatureShape(height: height, width: width, channels: 3))
        // _conv_block(img_input, 32, alpha, strides=(2, 2))
        var x = try g.add(
            "conv1",
            .conv2d(
                .init(
                    filters: Int(32 * alpha), kernel: (3, 3), strides: (2, 2), padding: .same,
                    useBias: false)),
            g.input)
        x = try g.add("conv1_bn", bn, x)
        x = try g.add("conv1_relu", .activation(.relu6), x)

        // (pointwise filters, stride) of blocks 1...13.
        let blocks: [(Int, Int)] = [
            (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
            (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
            (1024, 2), (1024, 1),
        ]
        for (i, (filters, stride)) in blocks.enumerated() {
            x = try depthwiseConvBlock(&g, x, filters: filters, alpha: alpha, stride: stride, blockID: i + 1)
        }
        if includeTop {
            // The classifier is a 1×1 convolution on the pooled (1, 1, C) map.
            x = try g.add("global_average_pooling2d", .globalAveragePool(keepDims: true), x)
            x = try g.add("dropout", .dropout, x)
            x = try g.add(
                "conv_preds",
                .conv2d(.init(filters: Graph.imagenetClasses, kernel: (1, 1), padding: .same)), x)
            x = try g.add(
                "reshape_2",
                .reshape(FeatureShape(height: 1, width: 1, channels: Graph.imagenetClasses, flat: true)), x)
            try g.add("predictions", .activation(.softmax), x)
        } else {
            try g.addPooling(pooling, x)
        }
        return g
    }

    /// `BatchNormalization(axis=-1)`: Keras' default epsilon 1e-3.
    static let bn = GraphOp.batchNorm(epsilon: 1e-3)

    /// Keras' `_depthwise_conv_block`: [ZeroPadding2D(((0,1),(0,1))) when strided], 3×3
    /// depthwise + BN + ReLU6, 1×1 pointwise `int(filters * alpha)` + BN + ReLU6.
    static func depthwiseConvBlock(
        _ g: inout Graph, _ inputs: NodeID, filters: Int, alpha: Double, stride: Int, blockID: Int
    ) throws -> NodeID {
        let pointwiseFilters = Int(Double(filters) * alpha)
        var x = inputs
        if stride != 1 {
            x = try g.add(
                "conv_pad_\(blockID)", .zeroPadding(Padding(top: 0, bottom: 1, left: 0, right: 1)), x)
        }
        x = try g.add(
            "conv_dw_\(blockID)",
            .depthwiseConv2d(
                .init(
                    kernel: (3, 3), strides: (stride, stride), padding: stride == 1 ? .same : .valid,
                    useBias: false)),
            x)
        x = try g.add("conv_dw_\(blockID)_bn", bn, x)
        x = try g.add("conv_dw_\(blockID)_relu", .activation(.relu6), x)
        x = try g.add(
            "conv_pw_\(blockID)",
            .conv2d(.init(filters: pointwiseFilters, kernel: (1, 1), padding: .same, useBias: false)), x)
        x = try g.add("conv_pw_\(blockID)_bn", bn, x)
        return try g.add("conv_pw_\(blockID)_relu", .activation(.relu6), x)
    }
}
