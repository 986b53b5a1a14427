// One image file -> the model's input, the way a Keras user's code makes it:
//   pil: load_img(path, target_size=(h, w), interpolation=..., keep_aspect_ratio=...)
//        -> img_to_array -> preprocess_input  (flow_from_directory does the same)
//   tf:  decode -> tf.image.resize(..., method) [-> smart_resize crop] -> preprocess_input
//        (image_dataset_from_directory; its JPEG decoder is TensorFlow's, so pixels may differ
//        by ±1 on JPEGs: the resize semantics are copied, the decoder is libjpeg's)

import Images

/// Which library's resize the pixels follow.
public enum ResizeMethod: String, CaseIterable, Sendable {
    case pil
    case tf
}

public struct ImagePipeline: Sendable {
    public var height: Int
    public var width: Int
    public var interpolation: Interpolation
    public var keepAspectRatio: Bool
    public var resize: ResizeMethod
    public var exifTranspose: Bool
    /// Not Keras-identical: JPEGs decoded at a reduced scale that still covers `size`
    /// (`DecodeOptions.jpegShrinkTo`), then resized as usual. Much faster on large photos.
    public var fastDecode: Bool
    public var preprocess: PreprocessMode
    /// 3: RGB; 1: grayscale, as `load_img(color_mode="grayscale")` converts (PIL's
    /// `convert("L")`, ITU-R 601-2 luma in 16-bit fixed point). The conversion is applied after
    /// the resize, which is exact for nearest (Keras' default) and may differ by one level
    /// from PIL's convert-then-resize with the smoothing filters.
    public var channels: Int = 3

    /// A square input, `size`×`size`.
    public init(
        size: Int, interpolation: Interpolation = .nearest, keepAspectRatio: Bool = false,
        resize: ResizeMethod = .pil, exifTranspose: Bool = false, fastDecode: Bool = false,
        preprocess: PreprocessMode
    ) {
        self.init(
            height: size, width: size, interpolation: interpolation, keepAspectRatio: keepAspectRatio,
            resize: resize, exifTranspose: exifTranspose, fastDecode: fastDecode, preprocess: preprocess)
    }

    public init(
        height: Int, width: Int, interpolation: Interpolation = .nearest, keepAspectRatio: Bool = false,
        resize: ResizeMethod = .pil, exifTranspose: Bool = false, fastDecode: Bool = false,
        preprocess: PreprocessMode
    ) {
        self.height = height
        self.width = width
        self.interpolation = interpolation
        self.keepAspectRatio = keepAspectRatio
        self.resize = resize
        self.exifTranspose = exifTranspose
        self.fastDecode = fastDecode
        self.preprocess = preprocess
    }

    /// PIL's `L = (R·19595 + G·38470 + B·7471 + 0x8000) >> 16` on 0-255 RGB values.
    static func luma(_ rgb: [Float]) -> [Float] {
        stride(from: 0, to: rgb.count, by: 3).map { i in
            let (r, g, b) = (Int(rgb[i]), Int(rgb[i + 1]), Int(rgb[i + 2]))
            return Float((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
        }
    }

    /// (height, width, channels) float32, preprocessed.
    public func load(_ path: String) throws -> [Float] {
        // The reduced scale must still cover the longer side.
        let options = DecodeOptions(exifTranspose: exifTranspose, jpegShrinkTo: fastDecode ? max(height, width) : nil)
        var x: [Float]
        switch resize {
        case .pil:
            x = try ImageDecoder.loadImage(
                path: path, width: width, height: height, interpolation: interpolation,
                keepAspectRatio: keepAspectRatio, options: options
            ).pixels.map(Float.init)
        case .tf:
            let method = TFResizeMethod(rawValue: interpolation.rawValue) ?? .bilinear
            x = try ImageDecoder.withDecoded(path: path, options: options) {
                ImageResizer.tensorflowResize(
                    $0, width: width, height: height, method: method, cropToAspectRatio: keepAspectRatio)
            }
        }
        if channels == 1 { x = Self.luma(x) }
        preprocess.apply(&x)
        return x
    }
}
