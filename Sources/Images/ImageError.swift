import Foundation

/// Why an image file could not be decoded. Every message is one line that starts with the path.
public enum ImageError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// open/read failed; `reason` is the errno text ("No such file or directory", ...).
    case unreadable(path: String, reason: String)
    case emptyFile(path: String)
    /// The first bytes match no supported signature (JPEG, PNG, GIF, BMP).
    case notAnImage(path: String, signature: String)
    /// The data ends before the image does (PIL: "image file is truncated").
    case truncated(path: String, format: ImageFormat, detail: String)
    /// The decoder rejected the data (bad CRC in a header chunk, broken zlib stream, ...).
    case corrupt(path: String, format: ImageFormat, detail: String)
    /// A valid file of a variant this package does not read (12-bit JPEG, RLE BMP, ...).
    case unsupported(path: String, format: ImageFormat, detail: String)
    /// More than `limit` pixels (Pillow's DecompressionBombError threshold).
    case tooLarge(path: String, width: Int, height: Int, limit: Int)
    /// A FIFO, device or socket where an image file was expected; `kind` says which.
    case notRegularFile(path: String, kind: String)
    /// A file larger than any image is (`ImageDecoder.maxFileBytes`), refused before reading.
    case fileTooLarge(path: String, bytes: Int, limit: Int)

    public var path: String {
        switch self {
        case .unreadable(let path, _), .emptyFile(let path), .notAnImage(let path, _),
            .truncated(let path, _, _), .corrupt(let path, _, _), .unsupported(let path, _, _),
            .tooLarge(let path, _, _, _), .notRegularFile(let path, _), .fileTooLarge(let path, _, _):
            return path
        }
    }

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "\(path): cannot read the file: \(reason)"
        case .emptyFile(let path):
            return "\(path): the file is empty (0 bytes)"
        case .notAnImage(let path, let signature):
            return "\(path): not an image (starts with \(signature)); expected JPEG, PNG, GIF or BMP"
        case .truncated(let path, let format, let detail):
            return "\(path): truncated \(format.name) file: \(oneLine(detail))"
        case .corrupt(let path, let format, let detail):
            return "\(path): corrupt \(format.name) data: \(oneLine(detail))"
        case .unsupported(let path, let format, let detail):
            return "\(path): unsupported \(format.name) variant: \(oneLine(detail))"
        case .tooLarge(let path, let width, let height, let limit):
            return "\(path): \(width)x\(height) = \(width * height) pixels exceeds the limit of "
                + "\(limit) pixels (possible decompression bomb; Pillow refuses it too)"
        case .notRegularFile(let path, let kind):
            return "\(path): not read: it is \(kind), not a regular file"
        case .fileTooLarge(let path, let bytes, let limit):
            return "\(path): not read: \(bytes) bytes is more than any image file (limit \(limit) bytes)"
        }
    }

    public var errorDescription: String? { description }
}

/// The container formats the decoder reads, detected by signature.
public enum ImageFormat: String, Sendable, CaseIterable {
    case jpeg, png, gif, bmp

    public var name: String { rawValue.uppercased() }
}

private func oneLine(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).joined(separator: " ")
}
