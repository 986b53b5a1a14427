/// A small BMP reader for the layouts PIL's BmpImagePlugin reads without RLE:
/// OS/2 (12-byte) and Windows (40/52/56/64/108/124-byte) headers; 1/4/8-bit palettes,
/// 24-bit BGR, 32-bit BGRX and the 32-bit BI_BITFIELDS masks PIL accepts; bottom-up and
/// top-down rows. RLE4/RLE8 and 16-bit files (which PIL also reads) are refused as
/// unsupported, as are JPEG/PNG-in-BMP (which PIL refuses too).
enum BMPDecoder {
    enum Failure: Error {
        case truncated(String)
        case corrupt(String)
        case unsupported(String)
        case tooLarge(width: Int, height: Int)
    }

    /// BI_BITFIELDS masks (R, G, B, A) PIL accepts for 32-bit files, and where each channel
    /// sits in the 4 bytes of a pixel (BmpImagePlugin MASK_MODES).
    private static let masks32: [[UInt32]: (r: Int, g: Int, b: Int)] = [
        [0xFF0000, 0xFF00, 0xFF, 0]: (2, 1, 0),  // BGRX
        [0xFF00_0000, 0xFF0000, 0xFF00, 0]: (3, 2, 1),  // XBGR
        [0xFF00_0000, 0xFF00, 0xFF, 0]: (3, 1, 0),  // BGXR
        [0xFF00_0000, 0xFF0000, 0xFF00, 0xFF]: (3, 2, 1),  // ABGR
        [0xFF, 0xFF00, 0xFF0000, 0xFF00_0000]: (0, 1, 2),  // RGBA
        [0xFF0000, 0xFF00, 0xFF, 0xFF00_0000]: (2, 1, 0),  // BGRA
        [0xFF00_0000, 0xFF00, 0xFF, 0xFF0000]: (3, 1, 0),  // BGAR
        [0, 0, 0, 0]: (2, 1, 0),  // BGRA
    ]

    /// bytes: the whole file. maxPixels: refuse above this many pixels (nil: no limit).
    static func decode(_ bytes: UnsafeRawBufferPointer, maxPixels: Int?) throws -> RGBImage {
        func u16(_ at: Int) throws -> Int {
            guard at + 2 <= bytes.count else { throw Failure.truncated("header ends at byte \(bytes.count)") }
            return Int(bytes[at]) | Int(bytes[at + 1]) << 8
        }
        func u32(_ at: Int) throws -> UInt32 {
            guard at + 4 <= bytes.count else { throw Failure.truncated("header ends at byte \(bytes.count)") }
            return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16
                | UInt32(bytes[at + 3]) << 24
        }

        var offset = Int(try u32(10))
        let headerSize = Int(try u32(14))
        let width: Int, height: Int, bits: Int, compression: UInt32, paletteEntryBytes: Int
        var topDown = false
        var colors = 0
        var masks: [UInt32]? = nil
        var position = 14 + headerSize  // where PIL's file pointer is after the header
        switch headerSize {
        case 12:
            width = try u16(18)
            height = try u16(20)
            bits = try u16(24)
            compression = 0
            paletteEntryBytes = 3
        case 40, 52, 56, 64, 108, 124:
            width = Int(Int32(bitPattern: try u32(18)))
            let rawHeight = try u32(22)
            // PIL: a top byte of 0xFF marks a negative height, i.e. top-down rows.
            topDown = rawHeight >> 24 == 0xFF
            height = topDown ? Int(UInt32.max - rawHeight) + 1 : Int(Int32(bitPattern: rawHeight))
            bits = try u16(28)
            compression = try u32(30)
            colors = Int(try u32(46))
            paletteEntryBytes = 4
            if compression == 3 {  // BI_BITFIELDS
                if headerSize >= 52 {
                    masks = [try u32(54), try u32(58), try u32(62), headerSize >= 56 ? try u32(66) : 0]
                } else {
                    masks = [try u32(position), try u32(position + 4), try u32(position + 8), 0]
                    position += 12
                }
            }
        default:
            throw Failure.unsupported("BMP header of \(headerSize) bytes")
        }
        guard width > 0, height > 0 else { throw Failure.corrupt("size \(width)x\(height)") }
        if let limit = maxPixels, width * height > limit { throw Failure.tooLarge(width: width, height: height) }
        if colors == 0 { colors = 1 << min(bits, 24) }
        if offset == 14 + headerSize && bits <= 8 { offset += paletteEntryBytes * colors }

        var mode: RawMode
        switch (bits, compression) {
        case (1, 0), (4, 0), (8, 0):
            guard colors > 0 && colors <= 65536 else { throw Failure.unsupported("palette of \(colors) colours") }
            let paletteBytes = paletteEntryBytes * colors
            guard position + paletteBytes <= bytes.count else { throw Failure.truncated("palette ends past the file") }
            var rgb = [UInt8]()
            for i in 0..<min(colors, 256) {
                let e = position + i * paletteEntryBytes
                rgb += [bytes[e + 2], bytes[e + 1], bytes[e]]
            }
            position += paletteBytes
            mode = .palette(Palette(rgb: rgb, grayWhenIdentity: true))
        case (24, 0):
            mode = .bgr
        case (32, 0):
            mode = .bgrx  // PIL ignores the fourth byte of BI_RGB 32-bit files
        case (24, 3) where masks.map { Array($0[0..<3]) } == [UInt32(0xFF0000), 0xFF00, 0xFF]:
            mode = .bgr
        case (32, 3):
            guard let m = masks, let order = masks32[m] else {
                throw Failure.unsupported("32-bit BI_BITFIELDS masks \(masks ?? [])")
            }
            return try pixels32(
                bytes, offset: offset == 0 ? position : offset, width: width,
                height: height, topDown: topDown, order: order)
        case (16, _):
            throw Failure.unsupported("16-bit BMP")
        case (_, 1), (_, 2):
            throw Failure.unsupported("RLE-compressed BMP")
        case (_, 0), (_, 3):
            throw Failure.unsupported("\(bits)-bit BMP")
        default:
            throw Failure.unsupported("BMP compression \(compression)")
        }

        let dataStart = offset == 0 ? position : offset
        let stride = ((width * bits + 31) >> 3) & ~3
        guard dataStart >= 0, dataStart + stride * height <= bytes.count else {
            throw Failure.truncated("\(height) rows of \(stride) bytes from byte \(dataStart), file has \(bytes.count)")
        }
        let rows = UnsafeRawBufferPointer(rebasing: bytes[dataStart..<(dataStart + stride * height)])
        if bits < 8 {
            // Unpack 1/4-bit indices to one byte each, as PIL's "P;1" / "P;4" unpackers do.
            var indices = [UInt8](repeating: 0, count: width * height)
            let perByte = 8 / bits, mask = (1 << bits) - 1
            for y in 0..<height {
                for x in 0..<width {
                    let byte = Int(rows[y * stride + x / perByte])
                    indices[y * width + x] = UInt8((byte >> (8 - bits * (x % perByte + 1))) & mask)
                }
            }
            let rgb = indices.withUnsafeBytes { convertToRGB($0, mode: mode, width: width, height: height) }
            return flipped(RGBImage(width: width, height: height, pixels: rgb), topDown: topDown)
        }
        let rgb = convertToRGB(rows, mode: mode, width: width, height: height, stride: stride)
        return flipped(RGBImage(width: width, height: height, pixels: rgb), topDown: topDown)
    }

    private static func pixels32(
        _ bytes: UnsafeRawBufferPointer, offset: Int, width: Int, height: Int,
        topDown: Bool, order: (r: Int, g: Int, b: Int)
    ) throws -> RGBImage {
        let stride = width * 4
        guard offset + stride * height <= bytes.count else {
            throw Failure.truncated("\(height) rows of \(stride) bytes from byte \(offset), file has \(bytes.count)")
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            let s = offset + 4 * i
            out[3 * i] = bytes[s + order.r]; out[3 * i + 1] = bytes[s + order.g]; out[3 * i + 2] = bytes[s + order.b]
        }
        return flipped(RGBImage(width: width, height: height, pixels: out), topDown: topDown)
    }

    /// BMP rows run bottom-up unless the height was negative.
    private static func flipped(_ image: RGBImage, topDown: Bool) -> RGBImage {
        if topDown { return image }
        var out = image
        let row = image.width * 3
        image.pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for y in 0..<image.height {
                    let from = src.baseAddress! + (image.height - 1 - y) * row
                    (dst.baseAddress! + y * row).update(from: from, count: row)
                }
            }
        }
        return out
    }
}
