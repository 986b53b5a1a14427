// Reading back what FeatureOutput writes, in any of its three formats, as one value: the
// (N, ...row shape) float32 matrix, each row's image path, and with class folders the labels and
// class names. A classifier reads features through this without the network or the codecs.
//   feats.npy  + feats.index.csv (paths), feats.labels.npy, feats.classes.txt when present
//   feats.npz  members features, paths, labels, class_names
//   feats.h5   datasets features, paths, labels, class_names

import Foundation
import HDF5

public struct FeatureFile: Sendable, Equatable {
    /// (N, C), (N, H, W, C) or (N, H·W·C), as written.
    public var shape: [Int]
    /// N rows of `rowWidth` floats, C order.
    public var features: [Float]
    /// Row i's image path (as listed in the run); empty when the file carries none.
    public var paths: [String]
    /// Row i's label, an index into `classNames`; nil for an unlabeled run.
    public var labels: [Int]?
    public var classNames: [String]

    public init(shape: [Int], features: [Float], paths: [String], labels: [Int]?, classNames: [String]) {
        self.shape = shape
        self.features = features
        self.paths = paths
        self.labels = labels
        self.classNames = classNames
    }

    public var count: Int { shape.first ?? 0 }
    public var rowShape: [Int] { Array(shape.dropFirst()) }
    public var rowWidth: Int { rowShape.reduce(1, *) }
    /// Row i's features.
    public func row(_ i: Int) -> ArraySlice<Float> { features[(i * rowWidth)..<((i + 1) * rowWidth)] }

    /// Reads `path`, telling the format from its extension as `extract -o` does.
    public static func read(_ path: String) throws -> FeatureFile {
        let file: FeatureFile
        switch try OutputFormat(path: path) {
        case .npy: file = try readNpy(path)
        case .npz: file = try readNpz(path)
        case .h5: file = try readHDF5(path)
        }
        try file.check(path)
        return file
    }

    /// Rows, paths, labels and class names agree with each other.
    func check(_ path: String) throws {
        func bad(_ detail: String) -> FeatureFileError { .malformed(path, detail) }
        guard shape.count >= 1 else { throw bad("features is a scalar, not (N, ...) rows") }
        guard features.count == count * rowWidth else {
            throw bad("features holds \(features.count) values for shape \(shape)")
        }
        if !paths.isEmpty, paths.count != count { throw bad("\(paths.count) paths for \(count) rows") }
        if let labels {
            guard labels.count == count else { throw bad("\(labels.count) labels for \(count) rows") }
            if let wrong = labels.first(where: { $0 < 0 || $0 >= classNames.count }) {
                throw bad("label \(wrong) has no class name (\(classNames.count) classes)")
            }
        }
    }

    static func contents(_ path: String) throws -> Data {
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file"
            throw FeatureFileError.unreadable(path, reason: reason)
        }
    }

    static func floats(_ array: NpyArray, _ path: String) throws -> [Float] {
        guard array.strings == nil else {
            throw FeatureFileError.malformed(path, "features are strings (\(array.descr))")
        }
        return array.values
    }

    static func ints(_ array: NpyArray, _ path: String) throws -> [Int] {
        guard let integers = array.integers else {
            throw FeatureFileError.malformed(path, "labels are not integers (\(array.descr))")
        }
        return integers.map { Int($0) }
    }

    static func strings(_ array: NpyArray, _ path: String) throws -> [String] {
        guard let strings = array.strings else {
            throw FeatureFileError.malformed(path, "expected strings, found \(array.descr)")
        }
        return strings
    }

    // MARK: formats

    static func readNpy(_ path: String) throws -> FeatureFile {
        let matrix = try Npy.read(contents(path), name: path)
        let stem = (path as NSString).deletingPathExtension
        let fm = FileManager.default
        var labels: [Int]?
        var classNames: [String] = []
        var paths: [String] = []
        if fm.fileExists(atPath: stem + ".labels.npy") {
            let file = stem + ".labels.npy"
            labels = try ints(Npy.read(contents(file), name: file), file)
        }
        if fm.fileExists(atPath: stem + ".classes.txt") {
            let file = stem + ".classes.txt"
            guard let text = String(data: try contents(file), encoding: .utf8) else {
                throw FeatureFileError.malformed(file, "not UTF-8 text")
            }
            classNames = text.split(separator: "\n", omittingEmptySubsequences: false).map {
                $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
            }
            if classNames.last == "" { classNames.removeLast() }
        }
        if fm.fileExists(atPath: stem + ".index.csv") {
            let file = stem + ".index.csv"
            guard let text = String(data: try contents(file), encoding: .utf8) else {
                throw FeatureFileError.malformed(file, "not UTF-8 text")
            }
            let records = parseCSV(text)
            guard let header = records.first, header.count >= 2, header[1] == "path" else {
                throw FeatureFileError.malformed(file, "no row,path header")
            }
            paths = records.dropFirst().map { $0.count > 1 ? $0[1] : "" }
        }
        return FeatureFile(
            shape: matrix.shape, features: try floats(matrix, path), paths: paths, labels: labels,
            classNames: classNames)
    }

    static func readNpz(_ path: String) throws -> FeatureFile {
        let arrays = try Npz.read(path)
        guard let matrix = arrays["features"] else {
            throw FeatureFileError.malformed(
                path, "no features array (has \(arrays.keys.sorted().joined(separator: ", ")))")
        }
        return FeatureFile(
            shape: matrix.shape, features: try floats(matrix, path),
            paths: try arrays["paths"].map { try strings($0, path) } ?? [],
            labels: try arrays["labels"].map { try ints($0, path) },
            classNames: try arrays["class_names"].map { try strings($0, path) } ?? [])
    }

    static func readHDF5(_ path: String) throws -> FeatureFile {
        do {
            let root = try HDF5File(path: path).root
            guard root.contains("features") else { throw FeatureFileError.malformed(path, "no features dataset") }
            let features = root.dataset("features")
            let shape = try features.info().shape
            return FeatureFile(
                shape: shape, features: try features.readFloats(),
                paths: root.contains("paths") ? try root.dataset("paths").readStrings() : [],
                labels: root.contains("labels") ? try root.dataset("labels").readInt64s().map { Int($0) } : nil,
                classNames: root.contains("class_names") ? try root.dataset("class_names").readStrings() : [])
        } catch let error as HDF5Error {
            throw FeatureFileError.unreadable(path, reason: error.description)
        }
    }

    /// RFC 4180 records: quoted fields may hold commas, doubled quotes and newlines.
    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var chars = text.makeIterator()
        var pending: Character? = nil
        func next() -> Character? {
            if let p = pending { pending = nil; return p }
            return chars.next()
        }
        while let c = next() {
            if quoted {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" { field.append("\"") } else { quoted = false; pending = n }
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                record.append(field)
                field = ""
            } else if c.isNewline {
                record.append(field)
                records.append(record)
                record = []
                field = ""
            } else {
                field.append(c)
            }
        }
        if !field.isEmpty || !record.isEmpty {
            record.append(field)
            records.append(record)
        }
        return records
    }
}

public enum FeatureFileError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case unreadable(String, reason: String)
    case malformed(String, String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): \(reason)"
        case .malformed(let path, let detail): return "\(path): not a feature file written by extract (\(detail))"
        }
    }

    public var errorDescription: String? { description }
}
