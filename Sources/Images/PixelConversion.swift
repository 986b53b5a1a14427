/// The pixel layouts decoders produce, named after the PIL modes they stand for, and PIL's
/// `convert("RGB")` from each (python-pillow `src/libImaging/Convert.c`, `Unpack.c`).
enum RawMode {
    case l  // 1 byte gray
    case la  // gray, alpha
    case rgb
    case rgba
    case bgr  // BMP 24-bit rows
    case bgrx  // BMP 32-bit: B, G, R, ignored byte
    case cmyk  // 4 bytes as libjpeg outputs them (PIL reads JPEG CMYK as "CMYK;I")
    case i16BigEndian  // 16-bit gray, PNG byte order (PIL mode I;16)
    case palette(Palette)

    var bytesPerPixel: Int {
        switch self {
        case .l, .palette: return 1
        case .la, .i16BigEndian: return 2
        case .rgb, .bgr: return 3
        case .rgba, .bgrx, .cmyk: return 4
        }
    }
}

/// A colour table. PIL keeps 256 entries and fills those past the file's table with black;
/// a table that is the identity gray ramp makes GIF and BMP images mode "L" (or "1"), where
/// an index past the table is its own gray value.
struct Palette {
    var rgb: [UInt8]  // count * 3
    var count: Int
    var outOfRangeIsGray: Bool

    init(rgb: [UInt8], grayWhenIdentity: Bool) {
        self.rgb = rgb
        count = rgb.count / 3
        outOfRangeIsGray = grayWhenIdentity && Palette.isIdentityRamp(rgb)
    }

    /// PIL's GifImagePlugin._is_palette_needed, inverted: entry i is (i, i, i) for every i.
    static func isIdentityRamp(_ rgb: [UInt8]) -> Bool {
        for i in 0..<(rgb.count / 3)
        where
            !(Int(rgb[3 * i]) == i && rgb[3 * i + 1] == rgb[3 * i]
            && rgb[3 * i + 2] == rgb[3 * i])
        {
            return false
        }
        return true
    }

    /// 256 RGB entries with PIL's fill for indices past the table.
    var lookupTable: [UInt8] {
        var table = [UInt8](repeating: 0, count: 768)
        for i in 0..<256 {
            if i < count {
                table[3 * i] = rgb[3 * i]; table[3 * i + 1] = rgb[3 * i + 1]; table[3 * i + 2] = rgb[3 * i + 2]
            } else if outOfRangeIsGray {
                table[3 * i] = UInt8(i); table[3 * i + 1] = UInt8(i); table[3 * i + 2] = UInt8(i)
            }
        }
        return table
    }
}

/// `a * b / 255` rounded the way Convert.c's MULDIV255 does it.
@inline(__always) func mulDiv255(_ a: Int, _ b: Int) -> Int {
    let t = a * b + 128
    return ((t >> 8) + t) >> 8
}

/// PIL's cmyk2rgb after the "CMYK;I" unpacker has inverted libjpeg's samples.
/// in: libjpeg's raw C, M, Y, K.
@inline(__always) func cmykToRGB(_ c: UInt8, _ m: UInt8, _ y: UInt8, _ k: UInt8) -> (UInt8, UInt8, UInt8) {
    let nk = Int(k)  // PIL: nk = 255 - K' where K' = 255 - k is the inverted sample
    func channel(_ raw: UInt8) -> UInt8 {
        let v = nk - mulDiv255(255 - Int(raw), nk)
        return UInt8(clamping: v)
    }
    return (channel(c), channel(m), channel(y))
}

/// Converts `width * height` pixels of `mode` to RGB with PIL's convert("RGB") rules:
/// gray replicated, alpha dropped (not composited), palette looked up, CMYK by PIL's naive
/// formula, 16-bit gray clipped to 255 (not scaled). Rows may be padded (`stride` bytes).
/// in (H, stride) bytes -> out (H, W, 3)
func convertToRGB(
    _ source: UnsafeRawBufferPointer, mode: RawMode, width: Int, height: Int,
    stride: Int? = nil
) -> [UInt8] {
    let bpp = mode.bytesPerPixel
    let rowBytes = stride ?? width * bpp
    precondition(source.count >= rowBytes * max(height - 1, 0) + width * bpp || height == 0)
    var out = [UInt8](repeating: 0, count: width * height * 3)
    let table: [UInt8] = { if case .palette(let p) = mode { return p.lookupTable } else { return [] } }()
    out.withUnsafeMutableBufferPointer { dst in
        table.withUnsafeBufferPointer { lut in
            let src = source.bindMemory(to: UInt8.self)
            for y in 0..<height {
                let s = src.baseAddress! + y * rowBytes
                let d = dst.baseAddress! + y * width * 3
                switch mode {
                case .rgb:
                    d.update(from: s, count: width * 3)
                case .l:
                    for x in 0..<width { let v = s[x]; d[3 * x] = v; d[3 * x + 1] = v; d[3 * x + 2] = v }
                case .la:
                    for x in 0..<width { let v = s[2 * x]; d[3 * x] = v; d[3 * x + 1] = v; d[3 * x + 2] = v }
                case .rgba:
                    for x in 0..<width {
                        d[3 * x] = s[4 * x]; d[3 * x + 1] = s[4 * x + 1]; d[3 * x + 2] = s[4 * x + 2]
                    }
                case .bgr:
                    for x in 0..<width {
                        d[3 * x] = s[3 * x + 2]; d[3 * x + 1] = s[3 * x + 1]; d[3 * x + 2] = s[3 * x]
                    }
                case .bgrx:
                    for x in 0..<width {
                        d[3 * x] = s[4 * x + 2]; d[3 * x + 1] = s[4 * x + 1]; d[3 * x + 2] = s[4 * x]
                    }
                case .cmyk:
                    for x in 0..<width {
                        let (r, g, b) = cmykToRGB(s[4 * x], s[4 * x + 1], s[4 * x + 2], s[4 * x + 3])
                        d[3 * x] = r; d[3 * x + 1] = g; d[3 * x + 2] = b
                    }
                case .i16BigEndian:
                    // Convert.c I16_RGB: any value above 255 becomes 255.
                    for x in 0..<width {
                        let v: UInt8 = s[2 * x] != 0 ? 255 : s[2 * x + 1]
                        d[3 * x] = v; d[3 * x + 1] = v; d[3 * x + 2] = v
                    }
                case .palette:
                    for x in 0..<width {
                        let e = Int(s[x]) * 3
                        d[3 * x] = lut[e]; d[3 * x + 1] = lut[e + 1]; d[3 * x + 2] = lut[e + 2]
                    }
                }
            }
        }
    }
    return out
}
