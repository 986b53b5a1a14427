// What a run leaves behind, chosen by the -o extension:
//   feats.npy  float32 (N, ...row shape): (N, C) pooled, (N, H, W, C) a feature map as Keras'
//              predict returns it, (N, H·W·C) when flattened (same bytes); beside it
//              feats.labels.npy (int64, with class folders), feats.index.csv (row, path[,
//              label, class]), feats.classes.txt
//   (any)      with the ImageNet classifier, feats.predictions.csv (row, path, rank, wnid, name,
//              probability): the top-k classes as decode_predictions gives them
//   feats.npz  one archive: features, labels, paths, class_names (numpy arrays, no pickles);
//              a model with several outputs has one array per output instead of features,
//              named by its output layer (only .npz holds several)
//   feats.h5   datasets features, labels, paths, class_names, root attribute run (HDF5Writer)
// and always feats.run.json, the run record. Features stream to a temporary .npy as they are
// computed; every file is complete before it is renamed into place.

import Foundation
import HDF5
import ZIPFoundation

public enum OutputFormat: String, Sendable {
    case npy, npz, h5

    public init(path: String) throws {
        switch (path as NSString).pathExtension.lowercased() {
        case "npy": self = .npy
        case "npz": self = .npz
        case "h5", "hdf5": self = .h5
        default: throw OutputError.unknownFormat(path)
        }
    }
}

extension OutputFormat {
    /// Checks that `path` can be written, before any weights are fetched or images read: a
    /// known extension, an existing writable folder, and not itself a folder.
    public static func checkDestination(_ path: String) throws {
        _ = try OutputFormat(path: path)
        let dir = (path as NSString).deletingLastPathComponent
        let folder = dir.isEmpty ? "." : dir
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw OutputError.cannotCreate(path, reason: "folder \(folder) does not exist")
        }
        guard access(folder, W_OK) == 0 else {
            throw OutputError.cannotCreate(path, reason: "folder \(folder) is not writable")
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw OutputError.cannotCreate(
                path, reason: "it is an existing folder; name a file such as \(path)/feats.npy")
        }
        // A side file that cannot be replaced would fail only after all the work, once some
        // files are already in place; every name the run may write is checked now.
        for side in try files(path) where side != path {
            if FileManager.default.fileExists(atPath: side, isDirectory: &isDir), isDir.boolValue {
                throw OutputError.cannotCreate(
                    path,
                    reason:
                        "\(side), which the run writes beside it, is an existing folder; move it or choose another -o")
            }
        }
    }

    /// Every file a run writing `path` may create: the features, the run record, the
    /// classifier's predictions, and beside a .npy its labels, classes and index.
    public static func files(_ path: String) throws -> [String] {
        let format = try OutputFormat(path: path)
        let stem = (path as NSString).deletingPathExtension
        var out = [path, stem + ".run.json", stem + ".predictions.csv"]
        if format == .npy { out += [stem + ".labels.npy", stem + ".classes.txt", stem + ".index.csv"] }
        return out
    }
}

/// Writes one run's outputs: rows go in as they come, the rest at `finish`.
public final class FeatureOutput {
    public let path: String
    public let format: OutputFormat
    /// One image's shape in every format: [C], [H, W, C], or [H·W·C] flattened.
    public let rowShape: [Int]
    /// Floats per image.
    public var width: Int { rows.width }
    let rows: NpyRowWriter
    /// A model's further outputs (.npz only): each output's archive name and its spool; `rows`
    /// holds the first, and an appended row is every output's values one after the other.
    let parts: [(name: String, rows: NpyRowWriter)]
    /// The first output's archive name: `features`, or the model's first output layer.
    let firstName: String
    /// Base path for side files: `feats` for `feats.npy`.
    let stem: String
    /// A resumable run's work folder: where every temporary is made.
    let work: String?

    /// One output per row (`rowShape`), or with `outputs` several, each (name, row shape): the
    /// rows appended are then the outputs' values concatenated, and the file must be .npz.
    /// With `work` (a resumable run's folder, beside `path`), every temporary lives there: the
    /// row spools at fixed names (`rows.npy`, `rows-1.npy`, ...), reopened with their first
    /// `keeping` rows when an earlier run's progress record vouches for them.
    public init(
        path: String, rowShape: [Int], expectedRows: Int, outputs: [(name: String, shape: [Int])] = [],
        work: String? = nil, keeping: Int? = nil
    ) throws {
        self.path = path
        self.work = work
        format = try OutputFormat(path: path)
        stem = (path as NSString).deletingPathExtension
        if outputs.count > 1, format != .npz {
            throw OutputError.severalOutputs(path, outputs: outputs.map(\.name))
        }
        let named = outputs.count > 1 ? Self.archiveNames(outputs.map(\.name)) : ["features"]
        firstName = named[0]
        self.rowShape = outputs.count > 1 ? outputs[0].shape : rowShape
        let dir = (path as NSString).deletingLastPathComponent
        var isDir: ObjCBool = false
        if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) || !isDir.boolValue {
            throw OutputError.cannotCreate(path, reason: "folder \(dir) does not exist")
        }
        // Temporaries an earlier writer of these files left beside them, if it no longer runs.
        if work != nil { AtomicFile.removeStale(try OutputFormat.files(path), in: nil) }
        // For .npz/.h5 the rows stream to a spool of ours that is packed at the end.
        let format = format
        let stem = stem
        func spool(_ k: Int, _ shape: [Int]) throws -> NpyRowWriter {
            try Self.namingOutput(path, format) {
                if let work {
                    return try NpyRowWriter(
                        path, spool: "\(work)/rows\(k == 0 ? "" : "-\(k)").npy", rowShape: shape,
                        expectedRows: expectedRows, keeping: keeping)
                }
                let destination = format == .npy ? path : "\(stem).features-rows\(k == 0 ? "" : "-\(k)").npy"
                return try NpyRowWriter(destination, rowShape: shape, expectedRows: expectedRows)
            }
        }
        let first = try spool(0, self.rowShape)
        var parts: [(String, NpyRowWriter)] = []
        do {
            for (k, output) in outputs.enumerated().dropFirst() { parts.append((named[k], try spool(k, output.shape))) }
        } catch {
            // Nothing half-made stays behind: the spools made so far go.
            first.file.discard()
            parts.forEach { $0.1.file.discard() }
            throw error
        }
        rows = first
        self.parts = parts
    }

    /// Archive names for the outputs: the layer names, with any that would clash with the
    /// archive's own arrays (paths, labels, class_names) or with each other prefixed `output_`.
    static func archiveNames(_ outputs: [String]) -> [String] {
        var taken: Set<String> = ["paths", "labels", "class_names"]
        return outputs.map { name in
            var key = name.replacingOccurrences(of: "/", with: "_")
            var k = 1
            while taken.contains(key) {
                key = "output_\(name.replacingOccurrences(of: "/", with: "_"))\(k > 1 ? "_\(k)" : "")"
                k += 1
            }
            taken.insert(key)
            return key
        }
    }

    public var count: Int { rows.rows }

    public func append(_ features: [Float]) throws {
        try Self.namingOutput(path, format) {
            guard !parts.isEmpty else { return try rows.append(features) }
            var start = rows.width
            try rows.append(Array(features[0..<start]))
            for part in parts {
                try part.rows.append(Array(features[start..<start + part.rows.width]))
                start += part.rows.width
            }
        }
        Failpoint.hit("row")
    }

    /// Flushes every row written to disk: what a progress record may then vouch for.
    public func synchronize() throws {
        try Self.namingOutput(path, format) {
            try rows.file.synchronize()
            for part in parts { try part.rows.file.synchronize() }
        }
    }

    /// Row `i` of the first output as written (a resumed run decodes the rows it kept).
    public func writtenRow(_ i: Int) throws -> [Float] { try rows.row(i) }

    /// The spool a .npz/.h5 streams its rows to is ours, not the user's: a failure there (a full
    /// disk) is reported as a failure to write the output they named.
    static func namingOutput<T>(_ path: String, _ format: OutputFormat, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch OutputError.writeFailed(_, let reason) where format != .npy {
            throw OutputError.writeFailed(path, reason: reason)
        } catch OutputError.cannotCreate(_, let reason) where format != .npy {
            throw OutputError.cannotCreate(path, reason: reason)
        }
    }

    /// Writes the side files and the packed formats, then renames everything into place.
    /// `names` and `labels` are per written row; `classNames` empty when unlabeled;
    /// `predictions` the decoded top-k CSV of a classifier run.
    public func finish(
        names: [String], labels: [Int]?, classNames: [String], record: Data, predictions: String? = nil
    ) throws {
        var pending: [AtomicFile] = []
        defer { pending.forEach { $0.discard() } }
        func side(_ suffix: String, _ data: Data) throws {
            let f = try AtomicFile("\(stem)\(suffix)", in: work)
            pending.append(f)
            try f.write(data)
        }
        try side(".run.json", record)
        if let predictions { try side(".predictions.csv", Data(predictions.utf8)) }
        switch format {
        case .npy:
            if let labels, !classNames.isEmpty {
                try side(".labels.npy", Npy.int64(labels))
                try side(".classes.txt", Data(classNames.map { $0 + "\n" }.joined().utf8))
            }
            try side(".index.csv", Data(indexCSV(names: names, labels: labels, classNames: classNames).utf8))
            // The matrix goes last, so a reader that sees the new .npy sees its side files too.
            try commitAll(&pending)
            try rows.commit()
        case .npz:
            // The spools are sealed where they are and packed; they go once the archive is in place.
            try Self.namingOutput(path, format) {
                try rows.seal()
                for part in parts { try part.rows.seal() }
            }
            let archive = try AtomicFile(reserving: path, in: work)
            pending.append(archive)
            try writeNpz(
                archive.temporary,
                arrays: [(firstName, rows.file.temporary)] + parts.map { ($0.name, $0.rows.file.temporary) },
                names: names, labels: labels, classNames: classNames)
            try commitAll(&pending)
            discard()
        case .h5:
            try Self.namingOutput(path, format) { try rows.seal() }
            let h5 = try AtomicFile(reserving: path, in: work)
            pending.append(h5)
            try writeHDF5(
                h5.temporary, featuresNpy: rows.file.temporary, rows: rows.rows, names: names,
                labels: labels, classNames: classNames, record: record)
            try commitAll(&pending)
            discard()
        }
    }

    /// Renames each finished file into place, the features file last.
    func commitAll(_ pending: inout [AtomicFile]) throws {
        for f in pending {
            try f.commit()
            Failpoint.hit("commit")
        }
        pending.removeAll()
    }

    /// Drops everything written so far (a failed or interrupted run).
    public func discard() {
        rows.file.discard()
        parts.forEach { $0.rows.file.discard() }
    }

    func indexCSV(names: [String], labels: [Int]?, classNames: [String]) -> String {
        func quote(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        let labelled = labels != nil && !classNames.isEmpty
        var out = labelled ? "row,path,label,class\n" : "row,path\n"
        for (i, name) in names.enumerated() {
            out += "\(i),\(quote(name))"
            if labelled, let label = labels?[i] { out += ",\(label),\(quote(classNames[label]))" }
            out += "\n"
        }
        return out
    }

    /// Why a library's write into `folder` failed, when it does not say: the OS's words for a
    /// full disk when less than 1 MiB is free there for this user, else `otherwise`.
    static func reason(_ folder: String, otherwise: String) -> String {
        var info = statvfs()
        let full =
            statvfs(folder.isEmpty ? "." : folder, &info) == 0
            && UInt64(info.f_bavail) * UInt64(info.f_frsize) < 1 << 20
        return full ? String(cString: strerror(ENOSPC)) : otherwise
    }

    /// Every entry's time: 1980-01-01, the zip epoch, so that the same rows make the same bytes.
    static let zipDate = Date(timeIntervalSince1970: 315_532_800)

    /// `arrays`: each (archive name, spooled .npy) in order.
    func writeNpz(
        _ target: String, arrays: [(name: String, npy: String)], names: [String], labels: [Int]?, classNames: [String]
    ) throws {
        do {
            let archive = try Archive(url: URL(fileURLWithPath: target), accessMode: .create)
            func add(_ name: String, _ data: Data) throws {
                try archive.addEntry(
                    with: name, type: .file, uncompressedSize: Int64(data.count), modificationDate: Self.zipDate,
                    permissions: 0o644,
                    provider: { position, size in data.subdata(in: Int(position)..<Int(position) + size) })
            }
            for array in arrays {
                guard let input = FileHandle(forReadingAtPath: array.npy) else {
                    throw OutputError.writeFailed(path, reason: "the row spool \(array.npy) cannot be read")
                }
                defer { try? input.close() }
                let size = try input.seekToEnd()
                try archive.addEntry(
                    with: "\(array.name).npy", type: .file, uncompressedSize: Int64(size),
                    modificationDate: Self.zipDate,
                    permissions: 0o644,
                    provider: { position, count in
                        try input.seek(toOffset: UInt64(position))
                        return try input.read(upToCount: count) ?? Data()
                    })
            }
            try add("paths.npy", Npy.strings(names))
            if let labels, !classNames.isEmpty {
                try add("labels.npy", Npy.int64(labels))
                try add("class_names.npy", Npy.strings(classNames))
            }
        } catch let e as OutputError {
            throw e
        } catch {
            // ZIPFoundation's own error says nothing of the cause; a full disk is named as such.
            throw OutputError.writeFailed(
                path,
                reason: Self.reason(
                    (target as NSString).deletingLastPathComponent, otherwise: AtomicFile.describe(error)))
        }
    }

    func writeHDF5(
        _ target: String, featuresNpy: String, rows: Int, names: [String], labels: [Int]?,
        classNames: [String], record: Data
    ) throws {
        // libhdf5 says only that it failed; a full disk is the usual cause, and is named as such.
        let folder = (target as NSString).deletingLastPathComponent
        let file: HDF5Writer
        do { file = try HDF5Writer(creating: target) } catch {
            throw OutputError.cannotCreate(path, reason: Self.reason(folder, otherwise: "HDF5 cannot create the file"))
        }
        defer { file.close() }
        func failed() -> OutputError {
            OutputError.writeFailed(
                path,
                reason: Self.reason(
                    folder, otherwise: "libhdf5 could not write the datasets (disk full or a file size limit?)"))
        }
        do {
            // features (N, ...rowShape): copied from the streamed .npy in blocks of rows.
            let features = try file.createFloat32("features", shape: [rows] + rowShape)
            defer { features.close() }
            if rows > 0, let input = FileHandle(forReadingAtPath: featuresNpy) {
                defer { try? input.close() }
                // The streamed header was sized for the expected rows: the data is the file's tail.
                let total = (try? FileManager.default.attributesOfItem(atPath: featuresNpy)[.size] as? Int) ?? 0
                try? input.seek(toOffset: UInt64(total - rows * width * 4))
                let block = max(1, (8 << 20) / max(width * 4, 1))
                var start = 0
                while start < rows {
                    let n = min(block, rows - start)
                    guard let data = try? input.read(upToCount: n * width * 4), data.count == n * width * 4 else {
                        throw failed()
                    }
                    try data.withUnsafeBytes { try features.write(start: start, count: n, values: $0) }
                    start += n
                }
            }
            features.close()
            try file.writeStrings("paths", names)
            if let labels, !classNames.isEmpty {
                try file.writeStrings("class_names", classNames)
                try file.writeInt64s("labels", labels.map(Int64.init))
            }
            try file.writeStringAttribute("run", String(decoding: record, as: UTF8.self))
            try file.flush()
        } catch is HDF5Error {
            throw failed()
        }
    }
}
