import Foundation
import TestSupport
import XCTest

@testable import Images

/// Damaged input never crashes the process, never prints, and always ends in an image or a
/// typed ImageError.
final class ImageRobustnessTests: XCTestCase {
    static let seeds = [
        "photos/misc/tiny-3x2.jpg", "photos/city/china-progressive.jpg", "photos/city/china-cmyk.jpg",
        "photos/cat/chelsea-rgba.png", "synthetic/png-interlaced-palette2.png", "photos/cat/chelsea.gif",
        "synthetic/gif-canvas-transparent.gif", "photos/cat/chelsea-8.bmp", "synthetic/bmp-32-bitfields-v5.bmp",
        "synthetic/bmp-4.bmp", "synthetic/bmp-24-os2.bmp", "synthetic/exif/orient-6.jpg",
    ]

    func testTruncatedAndCorruptedInputsFailCleanly() throws {
        var outcomes = [String: Int]()
        let stderrText = try capturingStandardError {
            for (s, seedPath) in Self.seeds.enumerated() {
                let original = try ImageIndex.bytes(seedPath)
                var variants = [[UInt8]]()
                // Cuts everywhere in the first 64 bytes (headers), then spread over the file.
                for cut in Array(0..<min(64, original.count)) + (1..<24).map({ original.count * $0 / 24 }) {
                    variants.append(Array(original.prefix(cut)))
                }
                var state = UInt64(s + 1) &* 0x9E37_79B9_7F4A_7C15
                func next() -> Int {
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17
                    return Int(truncatingIfNeeded: state >> 1)
                }
                for _ in 0..<40 {
                    var damaged = original
                    for _ in 0..<(1 + next() % 6) {
                        // Mostly the first 200 bytes, where the headers are.
                        let limit = next() % 2 == 0 ? min(200, damaged.count) : damaged.count
                        damaged[next() % limit] = UInt8(truncatingIfNeeded: next())
                    }
                    variants.append(damaged)
                }
                for (v, bytes) in variants.enumerated() {
                    for transpose in [false, true] {
                        do {
                            let options = DecodeOptions(exifTranspose: transpose, maxPixels: 1 << 22)
                            let image = try ImageDecoder.decode(
                                data: Data(bytes), path: "\(seedPath)#\(v)",
                                options: options)
                            XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
                            outcomes["decoded", default: 0] += 1
                        } catch let error as ImageError {
                            XCTAssertTrue(error.description.hasPrefix("\(seedPath)#\(v): "), error.description)
                            outcomes[errorKind(error), default: 0] += 1
                        }
                    }
                }
            }
        }
        let summary = outcomes.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        print("damaged inputs: " + summary.joined(separator: ", "))
        XCTAssertEqual(stderrText, "", "the codecs printed to stderr")
        // The capture itself works.
        XCTAssertEqual(try capturingStandardError { _ = write(2, "probe", 5) }, "probe")
        XCTAssertGreaterThan(outcomes["decoded"] ?? 0, 0)
    }

    /// Runs `body` with file descriptor 2 redirected to a temporary file; returns what was written.
    private func capturingStandardError(_ body: () throws -> Void) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("features-stderr-\(getpid()).txt")
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: url) }
        let file = try FileHandle(forWritingTo: url)
        fflush(nil)
        let saved = dup(2)
        dup2(file.fileDescriptor, 2)
        defer {
            fflush(nil)
            dup2(saved, 2)
            close(saved)
            try? file.close()
        }
        try body()
        fflush(nil)
        return try String(contentsOf: url, encoding: .utf8)
    }
}
