import Foundation
import TestSupport
import XCTest

@testable import Features

/// Listing and preprocessing against what Keras itself does
/// (scripts/make_feature_references.py: flow_from_directory's listing of an awkward tree,
/// preprocess_input in every mode of a fixed image holding every byte value).
final class DatasetPreprocessTests: XCTestCase {
    struct Index: Decodable {
        struct Tree: Decodable {
            let root: String; let loose: [String]; let classes: [String]; let filenames: [String]; let labels: [Int]
        }
        struct Array: Decodable { let file: String; let shape: [Int] }
        let tree: Tree
        let preprocess: [String: Array]
    }

    func index() throws -> Index {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/index.json")))
        return try JSONDecoder().decode(Index.self, from: data)
    }

    func testFolderListsLikeFlowFromDirectory() throws {
        let idx = try index()
        let root = Fixtures.path("features/" + idx.tree.root)
        let set = try Dataset.scan([root])
        XCTAssertEqual(set.classNames, idx.tree.classes)
        XCTAssertEqual(set.items.map(\.name), idx.tree.filenames)
        XCTAssertEqual(set.items.map(\.label), idx.tree.labels.map(Optional.some))
        XCTAssertTrue(set.items.allSatisfy { FileManager.default.fileExists(atPath: $0.path) })
        // Loose files beside the class folders and non-image files are reported, not read.
        for name in idx.tree.loose { XCTAssertTrue(set.ignored.contains { $0.path == name }, name) }
        XCTAssertTrue(set.ignored.contains { $0.path == "cats/notes.txt" })
        XCTAssertTrue(set.ignored.contains { $0.path == "cats/Zebra.gif" })
    }

    func testFlatFolderListFileAndErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["b.PNG", "a.jpg", "c.txt", "Ä.jpeg"] {
            FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: Data())
        }
        let flat = try Dataset.scan([dir.path])
        XCTAssertEqual(flat.classNames, [])
        XCTAssertEqual(flat.items.map(\.name), ["a.jpg", "b.PNG", "Ä.jpeg"])  // code-point order
        XCTAssertEqual(flat.items.map(\.label), [nil, nil, nil])

        let list = dir.appendingPathComponent("list.txt")
        try "# mine\nb.PNG\n\n\(dir.path)/a.jpg\n".write(to: list, atomically: true, encoding: .utf8)
        let listed = try Dataset.scan([list.path])
        XCTAssertEqual(listed.items.map(\.path), ["\(dir.path)/b.PNG", "\(dir.path)/a.jpg"])

        XCTAssertThrowsError(try Dataset.scan([dir.path + "/missing"])) {
            XCTAssertEqual($0 as? DatasetError, .missing(dir.path + "/missing"))
        }
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try Dataset.scan([empty.path])) { XCTAssertEqual($0 as? DatasetError, .empty(empty.path)) }
        XCTAssertThrowsError(try Dataset.scan([dir.path + "/a.jpg", dir.path])) {
            XCTAssertEqual($0 as? DatasetError, .folderAmongFiles(dir.path))
        }
    }

    func testPreprocessingIsBitIdenticalToKeras() throws {
        let idx = try index()
        let input = try XCTUnwrap(idx.preprocess["input"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/" + input.file)))
        XCTAssertEqual(bytes.count, input.shape.reduce(1, *))
        for mode in [PreprocessMode.caffe, .tf, .torch] {
            let ref = try XCTUnwrap(idx.preprocess[mode.rawValue], mode.rawValue)
            let keras = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/" + ref.file)))
                .withUnsafeBytes {
                    Swift.Array($0.bindMemory(to: Float.self))
                }
            var ours = bytes.map(Float.init)
            mode.apply(&ours)
            let differing = zip(ours, keras).filter { $0.bitPattern != $1.bitPattern }.count
            XCTAssertEqual(ours.count, keras.count, mode.rawValue)
            XCTAssertEqual(differing, 0, "\(mode.rawValue): \(differing) values differ from Keras' preprocess_input")
        }
        var untouched: [Float] = [0, 128, 255]
        PreprocessMode.none.apply(&untouched)
        XCTAssertEqual(untouched, [0, 128, 255])
    }
}
