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

/// A float32 (rows, ...rowShape) .npy written row by row into an atomic file: each row is one
/// image's `rowShape` floats in C order (a feature map (H, W, C) is NHWC, so the bytes are the
/// same whether the header says (N, H, W, C) or (N, H·W·C)). The header is sized for
/// `expectedRows` and rewritten with the actual count (fewer when images were skipped).
public final class NpyRowWriter {
    public let file: AtomicFile
    public let rowShape: [Int]
    /// Floats per row.
    public let width: Int
    public private(set) var rows = 0
    let headerLength: Int

    public init(_ destination: String, rowShape: [Int], expectedRows: Int, in folder: String? = nil) throws {
        file = try AtomicFile(destination, in: folder)
        self.rowShape = rowShape
        width = rowShape.reduce(1, *)
        let h = Npy.header(descr: "<f4", shape: [expectedRows] + rowShape)
        headerLength = h.count
        try file.write(h)
    }

    /// A spool at the fixed path `spool`: new, or with `keeping` rows an earlier run wrote
    /// there (the rest of the file, written after its last checkpoint, is cut off).
    public init(_ destination: String, spool: String, rowShape: [Int], expectedRows: Int, keeping: Int?) throws {
        self.rowShape = rowShape
        width = rowShape.reduce(1, *)
        let h = Npy.header(descr: "<f4", shape: [expectedRows] + rowShape)
        headerLength = h.count
        if let keeping {
            file = try AtomicFile(
                destination, temporary: spool, keeping: UInt64(h.count + keeping * width * MemoryLayout<Float>.size))
            rows = keeping
        } else {
            file = try AtomicFile(destination, temporary: spool, keeping: nil)
            try file.write(h)
        }
    }

    public func append(_ row: [Float]) throws {
        precondition(row.count == width, "row width is the model's output width")
        try row.withUnsafeBufferPointer { try file.write(Data(buffer: $0)) }
        rows += 1
    }

    /// Row `i` as written (a resumed run reads back the rows it kept).
    public func row(_ i: Int) throws -> [Float] {
        guard let h = FileHandle(forReadingAtPath: file.temporary) else {
            throw OutputError.missingSpool(file.temporary)
        }
        defer { try? h.close() }
        let bytes = width * MemoryLayout<Float>.size
        try h.seek(toOffset: UInt64(headerLength + i * bytes))
        guard let data = try h.read(upToCount: bytes), data.count == bytes else {
            throw OutputError.missingSpool(file.temporary)
        }
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// The header rewritten with the rows written, flushed, left at the temporary path.
    public func seal() throws {
        try file.seek(to: 0)
        try file.write(Npy.header(descr: "<f4", shape: [rows] + rowShape, minimumLength: headerLength))
        try file.close()
    }

    public func commit() throws {
        try seal()
        try file.commit()
    }
}

/// An array read from .npy: numbers converted to float32 in `values`; integer and bool arrays
/// also exactly in `integers`; unicode ('<U') arrays in `strings` (and no `values`).
public struct NpyArray: Sendable {
    public let shape: [Int]
    public let values: [Float]
    /// The header's dtype ('<f4', '<i8', '<U12').
    public var descr: String = "<f4"
    public var integers: [Int64]? = nil
    public var strings: [String]? = nil

    public init(
        shape: [Int], values: [Float], descr: String = "<f4", integers: [Int64]? = nil, strings: [String]? = nil
    ) {
        self.shape = shape
        self.values = values
        self.descr = descr
        self.integers = integers
        self.strings = strings
    }
}

extension Npy {
    /// Parses a .npy (versions 1–3, C order; float32/64, int8–64, uint8–64, bool, unicode).
    public static func read(_ data: Data, name: String) throws -> NpyArray {
        func bad(_ detail: String) -> NpyError { .malformed(name, detail) }
        guard data.count >= 10, data.prefix(6) == Data([0x93] + Array("NUMPY".utf8)) else {
            throw bad("not a .npy array")
        }
        let major = data[data.startIndex + 6]
        let lengthBytes = major == 1 ? 2 : 4
        var headerLength = 0
        for i in 0..<lengthBytes { headerLength |= Int(data[data.startIndex + 8 + i]) << (8 * i) }
        let start = data.startIndex + 8 + lengthBytes
        guard data.count >= 8 + lengthBytes + headerLength else { throw bad("header cut short") }
        let header = String(decoding: data[start..<start + headerLength], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), descrField.hasPrefix("'"),
            let descr = descrField.dropFirst().split(separator: "'").first.map(String.init)
        else { throw bad("no dtype in the header") }
        if field("fortran_order")?.hasPrefix("True") == true {
            throw bad("Fortran order is not supported; save with np.ascontiguousarray")
        }
        guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("),
            let close = shapeField.firstIndex(of: ")")
        else {
            throw bad("no shape in the header")
        }
        let shape = shapeField[shapeField.index(after: open)..<close].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        let count = shape.reduce(1, *)
        let body = data[(start + headerLength)...]
        let kind = descr.dropFirst()  // '<f4' -> 'f4'
        if descr.hasPrefix(">") { throw bad("big-endian arrays are not supported") }
        // '<U<n>': n UTF-32 code units per element, NUL-padded (what Npy.strings writes).
        if kind.hasPrefix("U") {
            guard let chars = Int(kind.dropFirst()), body.count >= count * chars * 4 else {
                throw bad("dtype \(descr) or data cut short")
            }
            let strings: [String] = body.withUnsafeBytes { raw in
                (0..<count).map { i in
                    var scalars = String.UnicodeScalarView()
                    for c in 0..<chars {
                        let v = UInt32(
                            littleEndian: raw.loadUnaligned(fromByteOffset: (i * chars + c) * 4, as: UInt32.self))
                        if v == 0 { break }
                        scalars.append(Unicode.Scalar(v) ?? "\u{FFFD}")
                    }
                    return String(scalars)
                }
            }
            return NpyArray(shape: shape, values: [], descr: descr, strings: strings)
        }
        guard let size = Int(kind.dropFirst()), body.count >= count * size else {
            throw bad("dtype \(descr) or data cut short")
        }
        let values: [Float] = body.withUnsafeBytes { raw in
            func load<T>(_: T.Type) -> [T] {
                (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self) }
            }
            switch kind {
            // Little-endian float32 is this CPU's layout (big-endian was refused above): one copy.
            case "f4":
                return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                    if count > 0 {
                        out.baseAddress!.withMemoryRebound(to: UInt8.self, capacity: count * 4) {
                            $0.update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: count * 4)
                        }
                    }
                    initialized = count
                }
            case "f8": return load(Double.self).map(Float.init)
            case "i1": return load(Int8.self).map(Float.init)
            case "i2": return load(Int16.self).map(Float.init)
            case "i4": return load(Int32.self).map(Float.init)
            case "i8": return load(Int64.self).map(Float.init)
            case "u1", "b1": return load(UInt8.self).map(Float.init)
            case "u2": return load(UInt16.self).map(Float.init)
            case "u4": return load(UInt32.self).map(Float.init)
            case "u8": return load(UInt64.self).map(Float.init)
            default: return []
            }
        }
        if values.count != count { throw bad("dtype \(descr) is not numeric") }
        let integers: [Int64]? = body.withUnsafeBytes { raw in
            func load<T: BinaryInteger>(_: T.Type) -> [Int64] {
                (0..<count).map { Int64(truncatingIfNeeded: raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
            }
            switch kind {
            case "i1": return load(Int8.self)
            case "i2": return load(Int16.self)
            case "i4": return load(Int32.self)
            case "i8": return load(Int64.self)
            case "u1", "b1": return load(UInt8.self)
            case "u2": return load(UInt16.self)
            case "u4": return load(UInt32.self)
            case "u8": return load(UInt64.self)
            default: return nil
            }
        }
        return NpyArray(shape: shape, values: values, descr: descr, integers: integers)
    }
}

public enum NpyError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case malformed(String, String)

    public var description: String {
        switch self {
        case .malformed(let name, let detail): return "\(name): \(detail)"
        }
    }

    public var errorDescription: String? { description }
}
