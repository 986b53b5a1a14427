import Foundation
import TestSupport
import XCTest

@testable import Images

/// `images/index.json` as written by `scripts/make_images.py`, and its raw references.
struct ImageIndex: Decodable {
    let pillow: String
    let libjpegTurbo: String
    let maxImagePixels: Int
    let files: [Entry]
    let broken: [Broken]

    enum CodingKeys: String, CodingKey {
        case pillow, files, broken
        case libjpegTurbo = "libjpeg_turbo", maxImagePixels = "max_image_pixels"
    }

    struct Entry: Decodable {
        let path: String
        let kind: String
        let pilMode: String
        let width: Int
        let height: Int
        let crc32: UInt32
        let decoded: String?
        let note: String?
        let transposed: Transposed?
        let resized: [Resized]
        let tf: [TF]

        enum CodingKeys: String, CodingKey {
            case path, kind, width, height, crc32, decoded, note, transposed, resized, tf
            case pilMode = "pil_mode"
        }
    }

    struct Transposed: Decodable { let width: Int; let height: Int; let ref: String }

    struct Resized: Decodable {
        let width: Int
        let height: Int
        let interpolation: String
        let keepAspectRatio: Bool
        let ref: String
        enum CodingKeys: String, CodingKey {
            case width, height, interpolation, ref
            case keepAspectRatio = "keep_aspect_ratio"
        }
    }

    struct TF: Decodable {
        let width: Int
        let height: Int
        let method: String
        let cropToAspectRatio: Bool
        let ref: String
        enum CodingKeys: String, CodingKey {
            case width, height, method, ref
            case cropToAspectRatio = "crop_to_aspect_ratio"
        }
    }

    struct Broken: Decodable {
        let path: String
        let error: String
        let pil: String
        let note: String?
    }

    static func load() throws -> ImageIndex {
        let url = URL(fileURLWithPath: Fixtures.path("images/index.json"))
        return try JSONDecoder().decode(ImageIndex.self, from: Data(contentsOf: url))
    }

    static func path(_ relative: String) -> String {
        Fixtures.directory.appendingPathComponent("images").appendingPathComponent(relative).path
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }

    static func floats(_ relative: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(relative)))
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
    }
}

/// Largest absolute difference and number of differing values between two byte arrays.
struct ByteDiff: CustomStringConvertible {
    var maxAbs = 0
    var differing = 0
    var total = 0

    init(_ a: [UInt8], _ b: [UInt8]) {
        precondition(a.count == b.count)
        total = a.count
        for i in 0..<a.count where a[i] != b[i] {
            differing += 1
            maxAbs = max(maxAbs, abs(Int(a[i]) - Int(b[i])))
        }
    }

    var description: String {
        differing == 0 ? "identical" : "max |diff| \(maxAbs), \(differing)/\(total) values differ"
    }
}

/// zlib's CRC-32 (what the generator records for every decoded image).
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var table = [UInt32](repeating: 0, count: 256)
    for i in 0..<256 {
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        table[i] = c
    }
    var crc: UInt32 = 0xFFFF_FFFF
    bytes.withUnsafeBufferPointer { p in
        for b in p { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
    }
    return crc ^ 0xFFFF_FFFF
}

/// Deterministic pseudo-random image (xorshift), for kernel-vs-reference tests.
func randomImage(width: Int, height: Int, seed: UInt64) -> RGBImage {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for i in 0..<pixels.count {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        pixels[i] = UInt8(truncatingIfNeeded: state >> 24)
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}

/// The index.json name of an ImageError case.
func errorKind(_ error: ImageError) -> String {
    switch error {
    case .unreadable: return "unreadable"
    case .emptyFile: return "empty"
    case .notAnImage: return "notAnImage"
    case .truncated: return "truncated"
    case .corrupt: return "corrupt"
    case .unsupported: return "unsupported"
    case .tooLarge: return "tooLarge"
    case .notRegularFile: return "notRegularFile"
    case .fileTooLarge: return "fileTooLarge"
    }
}
