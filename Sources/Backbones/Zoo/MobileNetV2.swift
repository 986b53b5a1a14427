// MobileNetV2: Inverted Residuals and Linear Bottlenecks (Sandler et al., 2018,
// arXiv:1801.04381), as keras-team/keras `keras/src/applications/mobilenet_v2.py` builds it
// with include_top=False. Layer names are Keras' string literals, so they are the weight file's
// group names; the node order is Keras' `model.layers` order.

import Foundation

public enum MobileNetV2 {
    /// The Keras model name, `f"mobilenetv2_{alpha:0.2f}_{rows}"`.
    public static func modelName(alpha: Double, size: Int) -> String {
        // printf's %.2f rounds the double as Python's format spec does.
        String(format: "mobilenetv2_%.2f_%d", alpha, size)
    }

    /// in (N, height, width, 3) -> out (N, H/32, W/32, C) or (N, C) with pooling,
    /// C = 1280 for alpha <= 1, else `_make_divisible(1280 * alpha, 8)`; with `includeTop`
    /// (N, 1000) class probabilities.
    public static func graph(
        alpha: Double, height: Int, width: Int, pooling: GlobalPooling = .none,
        includeTop: Bool = false
    ) throws -> Graph {
        var g = Graph(
            name: modelName(alpha: alpha, size: height),
            input: FeatureShape(height: height, width: width, channels: 3))
        let firstBlockFilters = ApplicationUtils.makeDivisible(32 * alpha, 8)
        var x = try g.add(
            "Conv1",
            .conv2d(.init(filters: firstBlockFilters, kernel: (3, 3), strides: (2, 2), padding: .same, useBias: false)),
            g.input)
        x = try g.add("bn_Conv1", bnMobileNetV2, x)
        x = try g.add("Conv1_relu", .activation(.relu6), x)

        // (filters, stride, expansion) of blocks 0...16.
        let blocks: [(Int, Int, Int)] = [
            (16, 1, 1),
            (24, 2, 6), (24, 1, 6),
            (32, 2, 6), (32, 1, 6), (32, 1, 6),
            (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6),
            (96, 1, 6), (96, 1, 6), (96, 1, 6),
            (160, 2, 6), (160, 1, 6), (160, 1, 6),
            (320, 1, 6),
        ]
        for (blockID, (filters, stride, expansion)) in blocks.enumerated() {
            x = try invertedResBlock(
                &g, x, expansion: expansion, stride: stride, alpha: alpha, filters: filters,
                blockID: blockID)
        }

        let lastBlockFilters = alpha > 1.0 ? ApplicationUtils.makeDivisible(1280 * alpha, 8) : 1280
        x = try g.add("Conv_1", .conv2d(.init(filters: lastBlockFilters, kernel: (1, 1), useBias: false)), x)
        x = try g.add("Conv_1_bn", bnMobileNetV2, x)
        x = try g.add("out_relu", .activation(.relu6), x)
        if includeTop {
            try g.addAveragePoolClassifier(x, pool: "global_average_pooling2d")
        } else {
            try g.addPooling(pooling, x)
        }
        return g
    }

    /// `BatchNormalization(epsilon=1e-3, momentum=0.999)`.
    static let bnMobileNetV2 = GraphOp.batchNorm(epsilon: 1e-3)

    /// Keras' `_inverted_res_block`: [1×1 expand + BN + ReLU6] (not in block 0), 3×3 depthwise
    /// (stride 2 after `correct_pad` zero padding, else "same") + BN + ReLU6, 1×1 linear
    /// projection + BN, and a residual `Add` when the shapes allow.
    static func invertedResBlock(
        _ g: inout Graph, _ inputs: NodeID, expansion: Int, stride: Int, alpha: Double,
        filters: Int, blockID: Int
    ) throws -> NodeID {
        let inChannels = g.shape(inputs).channels
        let pointwiseConvFilters = Int(Double(filters) * alpha)
        let pointwiseFilters = ApplicationUtils.makeDivisible(Double(pointwiseConvFilters), 8)
        var x = inputs
        var prefix = "block_\(blockID)_"
        if blockID != 0 {
            x = try g.add(
                "\(prefix)expand",
                .conv2d(.init(filters: expansion * inChannels, kernel: (1, 1), padding: .same, useBias: false)), x)
            x = try g.add("\(prefix)expand_BN", bnMobileNetV2, x)
            x = try g.add("\(prefix)expand_relu", .activation(.relu6), x)
        } else {
            prefix = "expanded_conv_"
        }
        x = try ApplicationUtils.correctPaddedDepthwise(
            &g, pad: "\(prefix)pad", "\(prefix)depthwise", kernel: 3, stride: stride, x)
        x = try g.add("\(prefix)depthwise_BN", bnMobileNetV2, x)
        x = try g.add("\(prefix)depthwise_relu", .activation(.relu6), x)
        x = try g.add(
            "\(prefix)project",
            .conv2d(.init(filters: pointwiseFilters, kernel: (1, 1), padding: .same, useBias: false)), x)
        x = try g.add("\(prefix)project_BN", bnMobileNetV2, x)
        if inChannels == pointwiseFilters && stride == 1 {
            return try g.add("\(prefix)add", .add, inputs, x)
        }
        return x
    }
}
