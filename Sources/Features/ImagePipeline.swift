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

    /// (height, width, 3) float32, preprocessed.
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
            x = ImageResizer.tensorflowResize(
                try ImageDecoder.decode(path: path, options: options), width: width, height: height,
                method: method, cropToAspectRatio: keepAspectRatio)
        }
        preprocess.apply(&x)
        return x
    }
}
