import CImageCodecs
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How `ImageDecoder` treats a file beyond PIL's `Image.open(p).convert("RGB")`.
public struct DecodeOptions: Sendable, Equatable {
    /// Pillow's `Image.MAX_IMAGE_PIXELS`.
    public static let pillowMaxImagePixels = 89_478_485

    /// Apply the EXIF (or XMP) orientation as `PIL.ImageOps.exif_transpose` does. Keras'
    /// `load_img` and `image_dataset_from_directory` do not, hence the default.
    public var exifTranspose: Bool
    /// Decompression-bomb limit with Pillow's meaning: `Image.MAX_IMAGE_PIXELS`. Like Pillow's
    /// DecompressionBombError, images with more than twice this many pixels are refused
    /// (before any pixel memory is allocated). nil disables the check.
    public var maxPixels: Int?
    /// Not Keras-identical: decode JPEGs at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, what
    /// PIL's `Image.draft` does and `load_img` does not), the smallest that keeps both sides
    /// at least this many pixels. nil (the default) decodes every pixel, as PIL does.
    public var jpegShrinkTo: Int?

    public init(
        exifTranspose: Bool = false, maxPixels: Int? = DecodeOptions.pillowMaxImagePixels,
        jpegShrinkTo: Int? = nil
    ) {
        self.exifTranspose = exifTranspose
        self.maxPixels = maxPixels
        self.jpegShrinkTo = jpegShrinkTo
    }

    /// The largest pixel count accepted (Pillow raises above `2 * MAX_IMAGE_PIXELS`).
    public var pixelLimit: Int? { maxPixels.map { $0 > Int.max / 2 ? Int.max : 2 * $0 } }
}

/// Decodes JPEG, PNG, GIF (first frame) and BMP files into 8-bit RGB, reproducing
/// `np.asarray(PIL.Image.open(p).convert("RGB"))` (Pillow 13), which is what
/// `keras.utils.load_img` feeds to the model. The format comes from the file's signature,
/// never from its name.
public enum ImageDecoder {
    public static func decode(path: String, options: DecodeOptions = .init()) throws -> RGBImage {
        try withDecoded(path: path, options: options) { $0 }
    }

    /// Bytes counted per pixel while an image is decoded and resized: the codec's raw pixels
    /// (up to 4 per pixel), the RGB copy (3), and room for an orientation's or a resize's copy.
    static let bytesPerPixelInFlight = 8

    /// `body` on the decoded image, its memory counted against `DecodeBudget.shared` from
    /// before the file is read until `body` returns (the resize, while the pixels are alive).
    public static func withDecoded<T>(
        path: String, options: DecodeOptions = .init(), _ body: (RGBImage) throws -> T
    ) throws -> T {
        let file = try openFile(path)
        defer { close(file.fd) }
        let pixels = ImageHeader.size(fd: file.fd, fileSize: file.size).map { $0.width * $0.height } ?? 0
        // A header past the pixel limit is refused by the decoder before it allocates.
        let counted = min(pixels, options.pixelLimit ?? pixels)
        let cost = file.size + counted * bytesPerPixelInFlight
        DecodeBudget.shared.acquire(cost)
        defer { DecodeBudget.shared.release(cost) }
        let bytes = try readAll(file, path)
        return try body(try decode(bytes: bytes, path: path, options: options))
    }

    /// `path` only names the data in error messages.
    public static func decode(
        data: Data, path: String = "<data>",
        options: DecodeOptions = .init()
    ) throws -> RGBImage {
        try decode(bytes: [UInt8](data), path: path, options: options)
    }

    /// `keras.utils.load_img(path, target_size=(height, width), interpolation=...,
    /// keep_aspect_ratio=...)` with the default color_mode "rgb".
    public static func loadImage(
        path: String, width: Int, height: Int, interpolation: Interpolation = .nearest,
        keepAspectRatio: Bool = false, options: DecodeOptions = .init()
    ) throws -> RGBImage {
        try withDecoded(path: path, options: options) { image in
            ImageResizer.resize(
                image, width: width, height: height, interpolation: interpolation,
                keepAspectRatio: keepAspectRatio)
        }
    }

    /// The format whose signature starts `bytes` (PIL's `_accept` checks).
    public static func detectFormat(_ bytes: some Collection<UInt8>) -> ImageFormat? {
        let head = Array(bytes.prefix(8))
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if head.starts(with: Array("GIF87a".utf8)) || head.starts(with: Array("GIF89a".utf8)) { return .gif }
        if head.starts(with: Array("BM".utf8)) { return .bmp }
        return nil
    }

    static func decode(bytes: [UInt8], path: String, options: DecodeOptions) throws -> RGBImage {
        if bytes.isEmpty { throw ImageError.emptyFile(path: path) }
        guard let format = detectFormat(bytes) else {
            throw ImageError.notAnImage(path: path, signature: describeSignature(bytes))
        }
        let limit = options.pixelLimit
        var image: RGBImage
        var exif: [UInt8]? = nil, xmp: [UInt8]? = nil
        switch format {
        case .bmp:
            do {
                image = try bytes.withUnsafeBytes { try BMPDecoder.decode($0, maxPixels: limit) }
            } catch let failure as BMPDecoder.Failure {
                switch failure {
                case .truncated(let detail): throw ImageError.truncated(path: path, format: .bmp, detail: detail)
                case .corrupt(let detail): throw ImageError.corrupt(path: path, format: .bmp, detail: detail)
                case .unsupported(let detail): throw ImageError.unsupported(path: path, format: .bmp, detail: detail)
                case .tooLarge(let w, let h):
                    throw ImageError.tooLarge(path: path, width: w, height: h, limit: limit ?? 0)
                }
            }
        case .jpeg, .png, .gif:
            var raw = cic_image()
            defer { cic_image_free(&raw) }
            let wantMetadata: Int32 = options.exifTranspose ? 1 : 0
            let status = bytes.withUnsafeBufferPointer { buffer -> Int32 in
                let max = Int64(limit ?? 0)
                switch format {
                case .jpeg:
                    return cic_decode_jpeg(
                        buffer.baseAddress, buffer.count, max, wantMetadata,
                        Int32(clamping: options.jpegShrinkTo ?? 0), &raw)
                case .png: return cic_decode_png(buffer.baseAddress, buffer.count, max, wantMetadata, &raw)
                default: return cic_decode_gif(buffer.baseAddress, buffer.count, max, &raw)
                }
            }
            try check(status, raw, path: path, format: format, limit: limit)
            image = convert(raw, format: format)
            if raw.exif != nil { exif = Array(UnsafeBufferPointer(start: raw.exif, count: raw.exif_size)) }
            if raw.xmp != nil { xmp = Array(UnsafeBufferPointer(start: raw.xmp, count: raw.xmp_size)) }
        }
        // Pillow cannot identify a file whose image has no pixels (a 0×0 GIF); no row is made of it.
        if image.width == 0 || image.height == 0 {
            throw ImageError.corrupt(
                path: path, format: format, detail: "the image is \(image.width)×\(image.height), it has no pixels")
        }
        if options.exifTranspose, let orientation = Orientation.read(exif: exif, xmp: xmp) {
            image = Orientation.apply(orientation, to: image)
        }
        return image
    }

    private static func check(
        _ status: Int32, _ raw: cic_image, path: String, format: ImageFormat,
        limit: Int?
    ) throws {
        let message = withUnsafeBytes(of: raw.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch cic_status(rawValue: UInt32(status)) {
        case CIC_OK: return
        case CIC_TRUNCATED: throw ImageError.truncated(path: path, format: format, detail: message)
        case CIC_UNSUPPORTED: throw ImageError.unsupported(path: path, format: format, detail: message)
        case CIC_TOO_LARGE:
            throw ImageError.tooLarge(path: path, width: Int(raw.width), height: Int(raw.height), limit: limit ?? 0)
        case CIC_NO_MEMORY: throw ImageError.corrupt(path: path, format: format, detail: "out of memory: \(message)")
        default: throw ImageError.corrupt(path: path, format: format, detail: message)
        }
    }

    private static func convert(_ raw: cic_image, format: ImageFormat) -> RGBImage {
        let width = Int(raw.width), height = Int(raw.height)
        let mode: RawMode
        switch cic_mode(rawValue: UInt32(raw.mode)) {
        case CIC_MODE_L: mode = .l
        case CIC_MODE_LA: mode = .la
        case CIC_MODE_RGB: mode = .rgb
        case CIC_MODE_RGBA: mode = .rgba
        case CIC_MODE_CMYK: mode = .cmyk
        case CIC_MODE_I16B: mode = .i16BigEndian
        default:
            let rgb = withUnsafeBytes(of: raw.palette) { Array($0.prefix(Int(raw.palette_count) * 3)) }
            if raw.has_palette == 0 {
                mode = .l  // GIF without any colour table: PIL mode "L", indices are gray values
            } else {
                // GIF: an identity-ramp table makes PIL open the frame as "L"; PNG keeps "P".
                mode = .palette(Palette(rgb: rgb, grayWhenIdentity: format == .gif))
            }
        }
        let count = width * height * Int(raw.bytes_per_pixel)
        let pixels = convertToRGB(
            UnsafeRawBufferPointer(start: raw.pixels, count: count), mode: mode,
            width: width, height: height)
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// The largest image file read: far above any real photograph (a 100-megapixel JPEG is
    /// tens of MB), small enough that a sparse or runaway file is refused before it is read.
    public static let maxFileBytes = 1 << 30

    /// The open file and its size, or `.unreadable` with the errno text. Only a regular file is
    /// opened for reading (`readAll`): a FIFO would block forever and a device (a link to /dev/zero) never ends, so both are
    /// refused by what `fstat` says before any byte is read (opened non-blocking, so opening
    /// a FIFO does not wait for a writer); a file over `maxFileBytes` is refused by its size.
    static func openFile(_ path: String) throws -> (fd: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        if fd < 0 { throw ImageError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        do {
            if fstat(fd, &info) != 0 {
                throw ImageError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            switch info.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFDIR: throw ImageError.unreadable(path: path, reason: String(cString: strerror(EISDIR)))
            case S_IFIFO: throw ImageError.notRegularFile(path: path, kind: "a FIFO (named pipe)")
            case S_IFCHR: throw ImageError.notRegularFile(path: path, kind: "a character device")
            case S_IFBLK: throw ImageError.notRegularFile(path: path, kind: "a block device")
            case S_IFSOCK: throw ImageError.notRegularFile(path: path, kind: "a socket")
            default: throw ImageError.notRegularFile(path: path, kind: "not a regular file")
            }
            if Int(info.st_size) > maxFileBytes {
                throw ImageError.fileTooLarge(path: path, bytes: Int(info.st_size), limit: maxFileBytes)
            }
        } catch {
            close(fd)
            throw error
        }
        return (fd, max(Int(info.st_size), 0))
    }

    static func readAll(_ file: (fd: Int32, size: Int), _ path: String) throws -> [UInt8] {
        let fd = file.fd
        // One spare byte so reading a file of the announced size ends without growing the buffer.
        var bytes = [UInt8](repeating: 0, count: file.size + 1)
        var filled = 0
        while true {
            if filled == bytes.count {
                // A file growing while it is read stops at the limit too.
                if filled > maxFileBytes {
                    throw ImageError.fileTooLarge(path: path, bytes: filled, limit: maxFileBytes)
                }
                bytes.append(contentsOf: [UInt8](repeating: 0, count: max(65536, bytes.count)))
            }
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            filled += n
        }
        bytes.removeSubrange(filled...)
        return bytes
    }

    /// The first bytes as hex plus their printable ASCII, for "not an image" messages.
    static func describeSignature(_ bytes: [UInt8]) -> String {
        let head = bytes.prefix(8)
        let hex = head.map { String(format: "%02x", $0) }.joined(separator: " ")
        let text = String(head.map { (0x20..<0x7F).contains($0) ? Character(UnicodeScalar($0)) : "." })
        return "\(hex) \"\(text)\""
    }
}
