// Memory for images being decoded, shared by every decoding thread of the process: each image
// takes what its pixels will need (sized from its header, before any pixel memory exists) and
// gives it back once resized. Decode-ahead is thereby bounded by bytes, not by a count of
// images, so peak memory does not grow with --threads past the budget: four 169-megapixel
// JPEGs at --threads 4 are decoded one after the other, small photos all at once. An image
// that alone needs more than the budget waits until nothing else is decoding, then runs.

import Foundation

public final class DecodeBudget: @unchecked Sendable {
    /// What the tool states in --help: 1 GiB of image data in flight at once.
    public static let defaultBytes = 1 << 30
    public static let shared = DecodeBudget(bytes: defaultBytes)

    public let limit: Int
    private let condition = NSCondition()
    private var inUse = 0
    /// The most held at once so far (the tests read it).
    public private(set) var peak = 0

    public init(bytes: Int) { limit = bytes }

    /// Blocks until `bytes` fit beside what other threads hold (or nothing else is held).
    public func acquire(_ bytes: Int) {
        condition.lock()
        while inUse > 0 && inUse + bytes > limit { condition.wait() }
        inUse += bytes
        peak = max(peak, inUse)
        condition.unlock()
    }

    public func release(_ bytes: Int) {
        condition.lock()
        inUse -= bytes
        condition.broadcast()
        condition.unlock()
    }
}

/// Width and height from an image file's header, read with a few small `pread`s: PNG's IHDR,
/// GIF's logical screen, BMP's info header, the first JPEG start-of-frame marker. nil when the
/// header says nothing usable (the decoder then reports what is wrong).
enum ImageHeader {
    static func size(fd: Int32, fileSize: Int) -> (width: Int, height: Int)? {
        func bytes(_ offset: Int, _ count: Int) -> [UInt8]? {
            guard offset >= 0, offset + count <= fileSize else { return nil }
            var buffer = [UInt8](repeating: 0, count: count)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n == count ? buffer : nil
        }
        func be16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
        func le16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        func be32(_ b: [UInt8], _ i: Int) -> Int { be16(b, i) << 16 | be16(b, i + 2) }
        func le32(_ b: [UInt8], _ i: Int) -> Int { Int(Int32(bitPattern: UInt32(le16(b, i) | le16(b, i + 2) << 16))) }
        guard let head = bytes(0, min(26, fileSize)), head.count >= 10 else { return nil }
        switch ImageDecoder.detectFormat(head) {
        case .png: return head.count >= 24 ? (be32(head, 16), be32(head, 20)) : nil
        case .gif: return (le16(head, 6), le16(head, 8))
        case .bmp:
            guard head.count >= 26 else { return nil }
            if le32(head, 14) == 12 { return (le16(head, 18), le16(head, 20)) }
            return (abs(le32(head, 18)), abs(le32(head, 22)))
        case .jpeg:
            var position = 2
            for _ in 0..<100_000 {
                guard let marker = bytes(position, 4), marker[0] == 0xFF else { return nil }
                let code = marker[1]
                if code == 0xFF {
                    position += 1  // fill byte
                    continue
                }
                if code == 0xD8 || code == 0x01 || (0xD0...0xD7).contains(code) {
                    position += 2
                    continue
                }
                if (0xC0...0xCF).contains(code), code != 0xC4, code != 0xC8, code != 0xCC {
                    guard let frame = bytes(position + 5, 4) else { return nil }
                    return (be16(frame, 2), be16(frame, 0))
                }
                position += 2 + be16(marker, 2)
            }
            return nil
        case nil: return nil
        }
    }
}
