// keras.applications' `preprocess_input` on a float32 HWC RGB image with values 0...255, in
// the order and precision numpy applies it (`imagenet_utils._preprocess_numpy_input`): every
// operation is one float32 operation with the Python constant rounded to float32 first, as
// NumPy 2 does for in-place ops with a Python float, so the result is bit-identical.

/// How pixels are prepared for a model (the manifest's `preprocess`).
public enum PreprocessMode: String, CaseIterable, Sendable {
    /// ResNet v1, VGG: RGB -> BGR, then minus the ImageNet BGR mean; no scaling.
    case caffe
    /// ResNetV2, Inception, Xception, MobileNet v1/v2, NASNet: x / 127.5 - 1.
    case tf
    /// DenseNet: x / 255, minus the ImageNet RGB mean, over its std.
    case torch
    /// EfficientNet(V2), MobileNetV3, ConvNeXt: the model normalizes inside (its first layers).
    case none

    /// `(H, W, 3)` RGB 0...255 in place -> the model's input.
    public func apply(_ x: inout [Float]) {
        switch self {
        case .none:
            return
        case .tf:
            for i in x.indices {
                x[i] /= 127.5
                x[i] -= 1.0
            }
        case .torch:
            let mean: [Float] = [0.485, 0.456, 0.406]
            let std: [Float] = [0.229, 0.224, 0.225]
            for i in x.indices {
                let c = i % 3
                x[i] /= 255.0
                x[i] -= mean[c]
                x[i] /= std[c]
            }
        case .caffe:
            let mean: [Float] = [103.939, 116.779, 123.68]  // B, G, R
            var i = 0
            while i + 2 < x.count {
                let (r, b) = (x[i], x[i + 2])
                x[i] = b - mean[0]
                x[i + 1] -= mean[1]
                x[i + 2] = r - mean[2]
                i += 3
            }
        }
    }
}
