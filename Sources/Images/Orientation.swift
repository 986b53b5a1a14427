/// EXIF orientation, read and applied as `PIL.ImageOps.exif_transpose` does: the Orientation
/// tag (274) of IFD0 in the EXIF block, else `tiff:Orientation` in the XMP packet; values 2..8
/// select one of PIL's seven transposes, anything else leaves the image alone.
enum Orientation {
    /// The orientation recorded in `exif` (PIL's info["exif"], possibly with leading
    /// "Exif\0\0" ids, or "RAWPROFILE:" + ImageMagick's hex dump from a PNG text chunk) or in
    /// `xmp`; nil when neither has one. Malformed data counts as no orientation.
    static func read(exif: [UInt8]?, xmp: [UInt8]?) -> Int? {
        if let exif, let value = tiffOrientation(exif) { return value }
        if let xmp { return xmpOrientation(xmp) }
        return nil
    }

    static func tiffOrientation(_ block: [UInt8]) -> Int? {
        var data = ArraySlice(block)
        let rawTag = Array("RAWPROFILE:".utf8)
        if data.starts(with: rawTag) {
            // PIL: bytes.fromhex("".join(text.split("\n")[3:]))
            let text = String(decoding: data.dropFirst(rawTag.count), as: UTF8.self)
            let hex = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(3).joined()
            guard let decoded = decodeHex(hex) else { return nil }
            data = ArraySlice(decoded)
        }
        let exifId: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0]  // "Exif\0\0"
        while data.starts(with: exifId) { data = data.dropFirst(6) }
        let tiff = Array(data)
        guard tiff.count >= 8 else { return nil }
        let little: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            return little ? Int(tiff[at]) | Int(tiff[at + 1]) << 8 : Int(tiff[at]) << 8 | Int(tiff[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let a = u16(at), let b = u16(at + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        var orientation: Int? = nil
        for i in 0..<count {
            let entry = ifd + 2 + 12 * i
            guard let tag = u16(entry), let type = u16(entry + 2), let n = u32(entry + 4) else { break }
            guard tag == 274, n == 1 else { continue }
            switch type {
            case 3, 8: orientation = u16(entry + 8)  // SHORT, SSHORT
            case 4, 9: orientation = u32(entry + 8)  // LONG, SLONG
            case 1, 6: orientation = entry + 8 < tiff.count ? Int(tiff[entry + 8]) : nil  // BYTE
            default: continue
            }
        }
        return orientation
    }

    /// PIL: re.search(r'tiff:Orientation(="|>)([0-9])', xmp)
    static func xmpOrientation(_ xmp: [UInt8]) -> Int? {
        let key = Array("tiff:Orientation".utf8)
        guard xmp.count > key.count else { return nil }
        var i = 0
        while i + key.count < xmp.count {
            if xmp[i..<(i + key.count)].elementsEqual(key) {
                var j = i + key.count
                if xmp[j] == UInt8(ascii: "=") && j + 1 < xmp.count && xmp[j + 1] == UInt8(ascii: "\"") {
                    j += 2
                } else if xmp[j] == UInt8(ascii: ">") {
                    j += 1
                } else {
                    i += 1
                    continue
                }
                if j < xmp.count, xmp[j] >= 0x30, xmp[j] <= 0x39 { return Int(xmp[j] - 0x30) }
            }
            i += 1
        }
        return nil
    }

    private static func decodeHex(_ text: String) -> [UInt8]? {
        let digits = text.utf8.filter { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        guard digits.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(digits.count / 2)
        var high: UInt8? = nil
        for c in digits {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            case 0x41...0x46: v = c - 0x41 + 10
            default: return nil
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return out
    }

    /// PIL's transpose for an EXIF orientation; 1 and unknown values return the image.
    /// in (H, W, 3) -> out (H, W, 3) for 2..4, (W, H, 3) for 5..8
    static func apply(_ orientation: Int, to image: RGBImage) -> RGBImage {
        let w = image.width, h = image.height
        let swaps = orientation >= 5 && orientation <= 8
        guard orientation >= 2 && orientation <= 8 else { return image }
        let outW = swaps ? h : w, outH = swaps ? w : h
        // Source pixel of output (x, y).
        let source: (Int, Int) -> (Int, Int)
        switch orientation {
        case 2: source = { x, y in (w - 1 - x, y) }  // FLIP_LEFT_RIGHT
        case 3: source = { x, y in (w - 1 - x, h - 1 - y) }  // ROTATE_180
        case 4: source = { x, y in (x, h - 1 - y) }  // FLIP_TOP_BOTTOM
        case 5: source = { x, y in (y, x) }  // TRANSPOSE
        case 6: source = { x, y in (y, h - 1 - x) }  // ROTATE_270
        case 7: source = { x, y in (w - 1 - y, h - 1 - x) }  // TRANSVERSE
        default: source = { x, y in (w - 1 - y, x) }  // 8: ROTATE_90
        }
        var out = [UInt8](repeating: 0, count: outW * outH * 3)
        for y in 0..<outH {
            for x in 0..<outW {
                let (sx, sy) = source(x, y)
                let s = (sy * w + sx) * 3, d = (y * outW + x) * 3
                out[d] = image.pixels[s]; out[d + 1] = image.pixels[s + 1]; out[d + 2] = image.pixels[s + 2]
            }
        }
        return RGBImage(width: outW, height: outH, pixels: out)
    }
}
