import Foundation
import TestSupport
import XCTest

@testable import Images

/// Decoding against Pillow 13: every good fixture byte-for-byte, every broken one by error kind.
final class ImageDecoderTests: XCTestCase {
    func testEveryGoodFileDecodesLikePIL() throws {
        let index = try ImageIndex.load()
        print("decode vs Pillow \(index.pillow) (bundled libjpeg-turbo \(index.libjpegTurbo)):")
        var failures = [String]()
        for entry in index.files {
            let image: RGBImage
            do {
                image = try ImageDecoder.decode(path: ImageIndex.path(entry.path))
            } catch {
                failures.append("\(entry.path): \(error)")
                continue
            }
            XCTAssertEqual(image.width, entry.width, entry.path)
            XCTAssertEqual(image.height, entry.height, entry.path)
            guard image.width == entry.width && image.height == entry.height else { continue }
            let summary: String
            if let ref = entry.decoded {
                let diff = ByteDiff(image.pixels, try ImageIndex.bytes(ref))
                summary = diff.description
                if diff.differing != 0 { failures.append("\(entry.path) [\(entry.kind)]: \(diff)") }
            } else {
                let crc = crc32(image.pixels)
                summary = crc == entry.crc32 ? "identical (CRC-32)" : "CRC-32 differs"
                if crc != entry.crc32 { failures.append("\(entry.path): CRC-32 \(crc) != PIL \(entry.crc32)") }
            }
            print("  \(entry.path) [\(entry.kind), PIL \(entry.pilMode)]: \(summary)")
        }
        XCTAssert(failures.isEmpty, "differences from PIL:\n" + failures.joined(separator: "\n"))
    }

    func testExifTransposeMatchesPIL() throws {
        let index = try ImageIndex.load()
        let entries = index.files.filter { $0.transposed != nil }
        XCTAssertGreaterThanOrEqual(entries.count, 10)
        for entry in entries {
            let ref = entry.transposed!
            let image = try ImageDecoder.decode(path: ImageIndex.path(entry.path), options: .init(exifTranspose: true))
            XCTAssertEqual([image.width, image.height], [ref.width, ref.height], entry.path)
            guard image.width == ref.width else { continue }
            let diff = ByteDiff(image.pixels, try ImageIndex.bytes(ref.ref))
            XCTAssertEqual(diff.differing, 0, "\(entry.path) exif_transpose: \(diff)")
            // Without the option the orientation is ignored, as in load_img.
            let plain = try ImageDecoder.decode(path: ImageIndex.path(entry.path))
            XCTAssertEqual([plain.width, plain.height], [entry.width, entry.height], entry.path)
        }
    }

    func testBrokenFilesThrowTheRightErrorWithThePath() throws {
        let index = try ImageIndex.load()
        XCTAssertGreaterThanOrEqual(index.broken.count, 10)
        for entry in index.broken {
            let path = ImageIndex.path(entry.path)
            do {
                _ = try ImageDecoder.decode(path: path)
                XCTFail("\(entry.path): decoded, expected \(entry.error) (PIL: \(entry.pil))")
            } catch let error as ImageError {
                XCTAssertEqual(errorKind(error), entry.error, "\(entry.path): \(error) (PIL: \(entry.pil))")
                XCTAssertTrue(error.description.hasPrefix(path + ": "), error.description)
                XCTAssertFalse(error.description.contains("\n"), error.description)
                XCTAssertEqual(error.errorDescription, error.description)
                print("  \(entry.path): \(error.description.dropFirst(path.count + 2))  [PIL: \(entry.pil)]")
            }
        }
    }

    func testUnreadablePathsReportErrno() {
        let missing = Fixtures.directory.appendingPathComponent("images/no such file.jpg").path
        XCTAssertThrowsError(try ImageDecoder.decode(path: missing)) { error in
            XCTAssertEqual(error as? ImageError, .unreadable(path: missing, reason: "No such file or directory"))
            XCTAssertEqual("\(error)", "\(missing): cannot read the file: No such file or directory")
        }
        let directory = ImageIndex.path("photos")
        XCTAssertThrowsError(try ImageDecoder.decode(path: directory)) { error in
            XCTAssertEqual(error as? ImageError, .unreadable(path: directory, reason: "Is a directory"))
        }
    }

    func testSignatureDecidesTheFormatNotTheName() throws {
        // The same JPEG bytes under a .png name and from memory.
        let bytes = try ImageIndex.bytes("photos/misc/tiny-3x2.jpg")
        let renamed = FileManager.default.temporaryDirectory.appendingPathComponent("features-\(getpid())-jpeg.png")
        try Data(bytes).write(to: renamed)
        defer { try? FileManager.default.removeItem(at: renamed) }
        let fromFile = try ImageDecoder.decode(path: renamed.path)
        let fromData = try ImageDecoder.decode(data: Data(bytes))
        let original = try ImageDecoder.decode(path: ImageIndex.path("photos/misc/tiny-3x2.jpg"))
        XCTAssertEqual(fromFile, original)
        XCTAssertEqual(fromData, original)
        XCTAssertEqual(ImageDecoder.detectFormat(bytes), .jpeg)
        XCTAssertEqual(ImageDecoder.detectFormat(Array("GIF87a".utf8)), .gif)
        XCTAssertNil(ImageDecoder.detectFormat(Array("GIF90a".utf8)))
        XCTAssertThrowsError(try ImageDecoder.decode(data: Data("hello".utf8), path: "x.jpg")) { error in
            XCTAssertEqual(
                "\(error)",
                "x.jpg: not an image (starts with 68 65 6c 6c 6f \"hello\"); expected JPEG, PNG, GIF or BMP")
        }
    }

    func testPixelLimitFollowsPillowsBombRule() throws {
        // 321 x 213 = 68373 pixels: refused above 2 * maxPixels, like DecompressionBombError.
        let path = ImageIndex.path("photos/city/china-420.jpg")
        XCTAssertNoThrow(try ImageDecoder.decode(path: path, options: .init(maxPixels: 68373 / 2 + 1)))
        for (file, expected) in [
            ("photos/city/china-420.jpg", (321, 213)), ("photos/cat/chelsea-rgba.png", (225, 150)),
            ("photos/cat/chelsea.gif", (225, 150)), ("photos/cat/chelsea-24.bmp", (225, 150)),
        ] {
            let limit = expected.0 * expected.1 / 2 - 1
            let options = DecodeOptions(maxPixels: limit)
            XCTAssertThrowsError(try ImageDecoder.decode(path: ImageIndex.path(file), options: options)) { error in
                XCTAssertEqual(
                    error as? ImageError,
                    .tooLarge(
                        path: ImageIndex.path(file), width: expected.0,
                        height: expected.1, limit: 2 * limit), file)
            }
        }
        XCTAssertEqual(DecodeOptions().pixelLimit, 178_956_970)
        XCTAssertNil(DecodeOptions(maxPixels: nil).pixelLimit)
    }

    func testLoadImageIsDecodePlusResize() throws {
        let path = ImageIndex.path("photos/misc/tiny-3x2.png")
        let loaded = try ImageDecoder.loadImage(path: path, width: 9, height: 7, interpolation: .bicubic)
        let decoded = try ImageDecoder.decode(path: path)
        let manual = ImageResizer.resize(decoded, width: 9, height: 7, interpolation: .bicubic)
        XCTAssertEqual(loaded, manual)
        XCTAssertEqual([loaded.width, loaded.height], [9, 7])
    }

    /// --fast-decode: the 12 Mpx JPEG is decoded at the smallest DCT scale whose sides still
    /// cover the target (1/8 for 224, 1/4 for 400, full size for 3000); resized to 224 it stays
    /// near PIL's full decode + resize, but is not it (hence "not Keras-identical").
    func testShrinkOnLoadKeepsTheTargetCovered() throws {
        let path = ImageIndex.path("large/big-4000x3000.jpg")
        for (target, sides) in [(224, [500, 375]), (400, [1000, 750]), (3000, [4000, 3000])] {
            let image = try ImageDecoder.decode(path: path, options: DecodeOptions(jpegShrinkTo: target))
            XCTAssertEqual([image.width, image.height], sides, "shrink to \(target)")
        }
        let entry = try XCTUnwrap(try ImageIndex.load().files.first { $0.path == "large/big-4000x3000.jpg" })
        let ref = try XCTUnwrap(entry.resized.first { $0.interpolation == "bilinear" && !$0.keepAspectRatio })
        let fast = ImageResizer.resize(
            try ImageDecoder.decode(path: path, options: DecodeOptions(jpegShrinkTo: 224)),
            width: ref.width, height: ref.height, interpolation: .bilinear)
        let keras = try ImageIndex.bytes(ref.ref)
        let diff = ByteDiff(fast.pixels, keras)
        let mean = Double(zip(fast.pixels, keras).map { abs(Int($0) - Int($1)) }.reduce(0, +)) / Double(keras.count)
        print("fast decode + bilinear 224 vs PIL: \(diff), mean |diff| \(mean)")
        XCTAssertGreaterThan(diff.differing, 0, "a 1/8-scale decode cannot give PIL's pixels")
        XCTAssertLessThan(mean, 2.0)
        // A PNG has no DCT to scale: the option changes nothing.
        let png = ImageIndex.path("photos/misc/tiny-3x2.png")
        XCTAssertEqual(
            try ImageDecoder.decode(path: png, options: DecodeOptions(jpegShrinkTo: 1)),
            try ImageDecoder.decode(path: png))
    }

    func testPILConversionFormulas() {
        // Convert.c cmyk2rgb after the CMYK;I unpacker, checked by hand:
        // raw (C, M, Y, K) = (255, 0, 128, 255) -> inverted (0, 255, 127, 0) -> (255, 0, 128).
        XCTAssertTrue(cmykToRGB(255, 0, 128, 255) == (255, 0, 128))
        // raw K = 0 (full black ink after inversion) -> black whatever C, M, Y are.
        XCTAssertTrue(cmykToRGB(12, 200, 255, 0) == (0, 0, 0))
        // nk = 100, inverted c = 55: 100 - MULDIV255(55, 100) = 100 - 22 = 78.
        XCTAssertTrue(cmykToRGB(200, 255, 0, 100) == (78, 100, 0))
        // I;16 -> RGB clips, it does not scale: 0x00FF -> 255, 0x0100 -> 255, 0x0042 -> 66.
        let i16: [UInt8] = [0x00, 0xFF, 0x01, 0x00, 0x00, 0x42]
        let rgb = i16.withUnsafeBytes { convertToRGB($0, mode: .i16BigEndian, width: 3, height: 1) }
        XCTAssertEqual(rgb, [255, 255, 255, 255, 255, 255, 66, 66, 66])
        // Palette: entries past the table are black, unless the table is the gray identity
        // ramp (GIF/BMP "L" mode), where an index is its own gray value.
        let indices: [UInt8] = [0, 1, 5]
        let short = Palette(rgb: [9, 8, 7, 1, 2, 3], grayWhenIdentity: true)
        let ramp = Palette(rgb: [0, 0, 0, 1, 1, 1], grayWhenIdentity: true)
        XCTAssertEqual(
            indices.withUnsafeBytes { convertToRGB($0, mode: .palette(short), width: 3, height: 1) },
            [9, 8, 7, 1, 2, 3, 0, 0, 0])
        XCTAssertEqual(
            indices.withUnsafeBytes { convertToRGB($0, mode: .palette(ramp), width: 3, height: 1) },
            [0, 0, 0, 1, 1, 1, 5, 5, 5])
    }

    func testOrientationParsing() {
        // Big-endian TIFF, IFD0 with one SHORT Orientation = 6.
        let mm: [UInt8] =
            Array("Exif".utf8) + [
                0, 0, 0x4D, 0x4D, 0, 42, 0, 0, 0, 8,
                0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0,
            ]
        XCTAssertEqual(Orientation.read(exif: mm, xmp: nil), 6)
        XCTAssertEqual(Orientation.read(exif: Array(mm.dropFirst(6)), xmp: nil), 6)
        XCTAssertEqual(Orientation.read(exif: [1, 2, 3], xmp: Array("<x tiff:Orientation>3</x>".utf8)), 3)
        XCTAssertEqual(Orientation.read(exif: nil, xmp: Array("a tiff:Orientation=\"8\" b".utf8)), 8)
        XCTAssertNil(Orientation.read(exif: nil, xmp: Array("tiff:Orientation='8'".utf8)))
        // 3x2 image, orientation 6 (PIL ROTATE_270: 90 degrees clockwise) -> 2x3.
        let image = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0) })
        let rotated = Orientation.apply(6, to: image)
        XCTAssertEqual([rotated.width, rotated.height], [2, 3])
        XCTAssertTrue(rotated[0, 0] == image[0, 1] && rotated[1, 0] == image[0, 0] && rotated[1, 2] == image[2, 0])
    }
}
