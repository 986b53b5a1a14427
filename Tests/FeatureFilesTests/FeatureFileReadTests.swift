import FeatureFiles
import Foundation
import XCTest

/// Feature files read back as one value, from every format: what our writer wrote (exactly, bit
/// for bit) and what numpy/h5py wrote (Data/, made by Data/make_data.py).
final class FeatureFileReadTests: XCTestCase {
    static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Data")
    /// Data/make_data.py's FEATURES: (3, 1, 2, 2), value i/8 - 0.75.
    static let features = (0..<12).map { Float($0) / 8 - 0.75 }
    static let paths = ["b/one.jpg", "a,comma/\"quoted\".png", "é/🦊\nnewline.bmp"]
    static let labels = [1, 0, 1]
    static let classes = ["a,comma", "b"]

    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("featurefiles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    /// Writes 3 rows of `rowShape` through FeatureOutput, as a run does.
    func write(_ name: String, rowShape: [Int], values: [Float], labelled: Bool) throws -> String {
        let path = tmp.appendingPathComponent(name).path
        let output = try FeatureOutput(path: path, rowShape: rowShape, expectedRows: 4)  // one skipped
        let width = rowShape.reduce(1, *)
        for i in 0..<3 { try output.append(Array(values[(i * width)..<((i + 1) * width)])) }
        try output.finish(
            names: Self.paths, labels: labelled ? Self.labels : nil, classNames: labelled ? Self.classes : [],
            record: Data("{\"model\": \"test\"}".utf8))
        return path
    }

    func testOurFilesReadBackExactlyInEveryFormat() throws {
        // Awkward floats: negative zero, a subnormal, the largest float, a NaN payload.
        var values = Self.features
        values[0] = -0.0
        values[1] = Float.leastNonzeroMagnitude
        values[2] = Float.greatestFiniteMagnitude
        values[3] = Float(bitPattern: 0x7FC0_1234)
        for ext in ["npy", "npz", "h5"] {
            for labelled in [true, false] {
                let path = try write(
                    "f\(labelled ? "l" : "u").\(ext)", rowShape: [1, 2, 2], values: values, labelled: labelled)
                let file = try FeatureFile.read(path)
                let what = "\(ext) labelled=\(labelled)"
                XCTAssertEqual(file.shape, [3, 1, 2, 2], what)
                XCTAssertEqual(file.rowShape, [1, 2, 2], what)
                XCTAssertEqual(bits(file.features), bits(values), what)
                XCTAssertEqual(bits(Array(file.row(2))), bits(Array(values[8..<12])), what)
                XCTAssertEqual(file.paths, Self.paths, what)
                XCTAssertEqual(file.labels, labelled ? Self.labels : nil, what)
                XCTAssertEqual(file.classNames, labelled ? Self.classes : [], what)
            }
        }
    }

    func testPooledRowsReadBackInEveryFormat() throws {
        for ext in ["npy", "npz", "h5"] {
            let file = try FeatureFile.read(
                try write("pooled.\(ext)", rowShape: [4], values: Self.features, labelled: true))
            XCTAssertEqual(file.shape, [3, 4], ext)
            XCTAssertEqual(file.features, Self.features, ext)
        }
    }

    func testNumpyFilesWithSideFiles() throws {
        let file = try FeatureFile.read(Self.data.appendingPathComponent("numpy.npy").path)
        XCTAssertEqual(
            file,
            FeatureFile(
                shape: [3, 1, 2, 2], features: Self.features, paths: Self.paths, labels: Self.labels,
                classNames: Self.classes))
    }

    func testNumpySavez() throws {
        let file = try FeatureFile.read(Self.data.appendingPathComponent("numpy.npz").path)
        XCTAssertEqual(
            file,
            FeatureFile(
                shape: [3, 1, 2, 2], features: Self.features, paths: Self.paths, labels: Self.labels,
                classNames: Self.classes))
        // savez_compressed: deflated members, no labels.
        let compressed = try FeatureFile.read(Self.data.appendingPathComponent("compressed.npz").path)
        XCTAssertEqual(
            compressed,
            FeatureFile(shape: [3, 4], features: Self.features, paths: Self.paths, labels: nil, classNames: []))
    }

    func testH5pyFiles() throws {
        let file = try FeatureFile.read(Self.data.appendingPathComponent("h5py.h5").path)
        XCTAssertEqual(
            file,
            FeatureFile(
                shape: [3, 1, 2, 2], features: Self.features, paths: Self.paths, labels: Self.labels,
                classNames: Self.classes))
        // float64 features and fixed-length byte strings.
        let fixed = try FeatureFile.read(Self.data.appendingPathComponent("h5py_fixed.h5").path)
        XCTAssertEqual(
            fixed, FeatureFile(shape: [3, 4], features: Self.features, paths: Self.paths, labels: nil, classNames: []))
    }

    /// The known bug: an archive holding string arrays could not be read at all.
    func testNpzWithStringArraysReads() throws {
        let arrays = try Npz.read(Self.data.appendingPathComponent("numpy.npz").path)
        XCTAssertEqual(arrays["paths"]?.strings, Self.paths)
        XCTAssertEqual(arrays["paths"]?.shape, [3])
        XCTAssertEqual(arrays["class_names"]?.strings, Self.classes)
        XCTAssertEqual(arrays["labels"]?.integers, [1, 0, 1])
        XCTAssertEqual(arrays["features"]?.values, Self.features)
        XCTAssertNil(arrays["features"]?.strings)
    }

    func testNpyStringsRoundTrip() throws {
        let names = ["", "a", "é🦊", String(repeating: "x", count: 40)]
        let array = try Npy.read(Npy.strings(names), name: "strings")
        XCTAssertEqual(array.strings, names)
        XCTAssertEqual(array.descr, "<U40")
        XCTAssertEqual(try Npy.read(Npy.int64([-3, 0, 1 << 40]), name: "ints").integers, [-3, 0, 1 << 40])
    }

    func testFailuresNameTheFile() throws {
        let missing = tmp.appendingPathComponent("nope.npy").path
        XCTAssertThrowsError(try FeatureFile.read(missing)) {
            XCTAssertEqual($0 as? FeatureFileError, .unreadable(missing, reason: "no such file"))
        }
        XCTAssertThrowsError(try FeatureFile.read(tmp.appendingPathComponent("x.csv").path)) {
            XCTAssertEqual($0 as? OutputError, .unknownFormat(self.tmp.appendingPathComponent("x.csv").path))
        }
        let notH5 = tmp.appendingPathComponent("bad.h5").path
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: notH5))
        XCTAssertThrowsError(try FeatureFile.read(notH5)) {
            XCTAssertTrue("\($0)".contains("not an HDF5 file"), "\($0)")
        }
        // A label with no class name.
        let path = try write("l.npy", rowShape: [4], values: Self.features, labelled: true)
        try Data("only\n".utf8).write(to: URL(fileURLWithPath: tmp.appendingPathComponent("l.classes.txt").path))
        XCTAssertThrowsError(try FeatureFile.read(path)) {
            XCTAssertTrue("\($0)".contains("label 1 has no class name"), "\($0)")
        }
    }
}
