// The NPY format numpy reads (numpy/lib/format.py, version 1.0): magic, a little-endian
// uint16 header length, a Python dict literal padded with spaces to a multiple of 64 bytes and
// ending in "\n", then the C-order data.

import Foundation

public enum Npy {
    /// The header for `descr` ('<f4', '<i8', '<U12') and `shape`, padded to `minimumLength`
    /// when given (a streamed file rewrites its header with the final row count in place).
    public static func header(descr: String, shape: [Int], minimumLength: Int = 0) -> Data {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        let prefix = 10  // magic (6) + version (2) + header length (2)
        var total = prefix + dict.utf8.count + 1
        total = max((total + 63) / 64 * 64, minimumLength)
        dict += String(repeating: " ", count: total - prefix - dict.utf8.count - 1) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(dict.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8)])
        data.append(contentsOf: Array(dict.utf8))
        return data
    }

    public static func float32(_ values: [Float], shape: [Int]) -> Data {
        var data = header(descr: "<f4", shape: shape)
        values.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }  // little-endian hosts
        return data
    }

    public static func int64(_ values: [Int]) -> Data {
        var data = header(descr: "<i8", shape: [values.count])
        values.map { Int64($0).littleEndian }.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }
        return data
    }

    /// A numpy unicode array ('<U<n>', UTF-32LE, zero-padded): loads without allow_pickle.
    public static func strings(_ values: [String]) -> Data {
        let width = max(1, values.map { $0.unicodeScalars.count }.max() ?? 1)
        var data = header(descr: "<U\(width)", shape: [values.count])
        for s in values {
            var scalars = s.unicodeScalars.map { $0.value.littleEndian }
            scalars += Array(repeating: 0, count: width - scalars.count)
            scalars.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }
        }
        return data
    }
}

/// A float32 (rows, width) .npy written row by row into an atomic file; the header is sized
/// for `expectedRows` and rewritten with the actual count (fewer when images were skipped).
public final class NpyRowWriter {
    public let file: AtomicFile
    public let width: Int
    public private(set) var rows = 0
    let headerLength: Int

    public init(_ destination: String, width: Int, expectedRows: Int) throws {
        file = try AtomicFile(destination)
        self.width = width
        let h = Npy.header(descr: "<f4", shape: [expectedRows, width])
        headerLength = h.count
        try file.write(h)
    }

    public func append(_ row: [Float]) throws {
        precondition(row.count == width, "row width is the model's output width")
        try row.withUnsafeBufferPointer { try file.write(Data(buffer: $0)) }
        rows += 1
    }

    public func commit() throws {
        try file.seek(to: 0)
        try file.write(Npy.header(descr: "<f4", shape: [rows, width], minimumLength: headerLength))
        try file.commit()
    }
}
