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

/// Inputs that are not image files at all: each is refused by what it is, before a byte is
/// read, instead of hanging (a FIFO), growing without end (a link to /dev/zero) or reading
/// gigabytes (a sparse file); an image with no pixels is refused as Pillow refuses it.
final class HostileImageFileTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func refusal(_ path: String) -> ImageError? {
        do {
            _ = try ImageDecoder.decode(path: path)
            return nil
        } catch {
            return error as? ImageError
        }
    }

    func testFifoIsRefusedWithoutWaitingForAWriter() throws {
        let fifo = dir.appendingPathComponent("x.jpg").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertEqual(refusal(fifo), .notRegularFile(path: fifo, kind: "a FIFO (named pipe)"))
    }

    func testLinkToADeviceIsRefused() throws {
        let link = dir.appendingPathComponent("z.jpg").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/dev/zero")
        XCTAssertEqual(refusal(link), .notRegularFile(path: link, kind: "a character device"))
    }

    func testFileLargerThanAnyImageIsRefusedBeforeReading() throws {
        let huge = dir.appendingPathComponent("huge.png").path
        XCTAssertTrue(FileManager.default.createFile(atPath: huge, contents: nil))
        let size = ImageDecoder.maxFileBytes * 3
        XCTAssertEqual(truncate(huge, off_t(size)), 0)  // sparse: no disk used
        let start = ContinuousClock.now
        XCTAssertEqual(refusal(huge), .fileTooLarge(path: huge, bytes: size, limit: ImageDecoder.maxFileBytes))
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(1), "refused by its size, not read")
    }

    /// A GIF whose screen and image are 0×0: `PIL.Image.open` raises UnidentifiedImageError.
    func testImageWithoutPixelsIsRefused() throws {
        var gif = Array("GIF89a".utf8) + [0, 0, 0, 0, 0x80, 0, 0] + [0, 0, 0, 255, 255, 255]
        gif += [0x2C, 0, 0, 0, 0, 0, 0, 0, 0, 0] + [0x02, 0x02, 0x44, 0x01, 0x00] + [0x3B]
        let path = dir.appendingPathComponent("zero.gif").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(gif)))
        guard case .corrupt(let p, .gif, let detail)? = refusal(path) else {
            return XCTFail("a 0×0 GIF must be refused, got \(String(describing: refusal(path)))")
        }
        XCTAssertEqual(p, path)
        XCTAssertTrue(detail.contains("0×0"), detail)
    }

    /// The header probe the decode budget is sized from gives every fixture image's size
    /// as the decoder finds it (JPEG baseline, progressive, CMYK; PNG; GIF; BMP).
    func testHeaderSizeIsTheDecodedSize() throws {
        let root = Fixtures.path("images/photos")
        var checked = 0
        for name in try FileManager.default.subpathsOfDirectory(atPath: root).sorted() {
            let path = root + "/" + name
            guard let image = try? ImageDecoder.decode(path: path) else { continue }
            let file = try ImageDecoder.openFile(path)
            defer { close(file.fd) }
            let size = ImageHeader.size(fd: file.fd, fileSize: file.size)
            XCTAssertEqual(size?.width, image.width, name)
            XCTAssertEqual(size?.height, image.height, name)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 20)
    }

    /// Four threads decoding 64-megapixel images at once (512 MB counted each) never hold more
    /// than the 1 GiB budget together; a budget that fits one request runs them one at a time.
    func testDecodingHoldsTheBudgetWhateverTheThreads() throws {
        let big = dir.appendingPathComponent("big.png").path
        let made = try runPython(
            """
            import sys, numpy as np
            from PIL import Image
            y, x = np.mgrid[0:8000, 0:8000]
            Image.fromarray(((x // 7 + y // 5) % 256).astype(np.uint8)).convert("RGB").save(sys.argv[1])
            """, [big])
        XCTAssertEqual(made.status, 0, made.stderr)
        let budget = DecodeBudget.shared
        let before = budget.peak
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                _ = try? ImageDecoder.loadImage(path: big, width: 8, height: 8)
                group.leave()
            }
        }
        group.wait()
        let cost = 64_000_000 * ImageDecoder.bytesPerPixelInFlight
        XCTAssertGreaterThanOrEqual(budget.peak, cost, "every decode takes its share")
        XCTAssertLessThanOrEqual(budget.peak, max(before, budget.limit), "never more than the budget at once")

        let small = DecodeBudget(bytes: 100)
        final class Count: @unchecked Sendable {
            let lock = NSLock()
            var inside = 0, most = 0
            func add(_ d: Int) {
                lock.lock()
                inside += d
                most = max(most, inside)
                lock.unlock()
            }
        }
        let count = Count()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            small.acquire(60)
            count.add(1)
            usleep(2000)
            count.add(-1)
            small.release(60)
        }
        let most = count.most
        XCTAssertEqual(most, 1, "60 + 60 > 100: one at a time")
        XCTAssertEqual(small.peak, 60)
    }
}
