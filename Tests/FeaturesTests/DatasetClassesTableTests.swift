import FeatureFiles
import Foundation
import TestSupport
import XCTest

@testable import Features

/// Stable labels (--classes, --classes-from) and tables, against Keras' own
/// flow_from_directory(classes=[...]) and flow_from_dataframe on the same folders and tables
/// (scripts/make_feature_references.py make_datasets), then the rules Keras has no answer for.
final class DatasetClassesTableTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable {
            let input: String
            let rule: String?
            let classes: [String]?
            let path_column: String?
            let label_column: String?
            let filenames: [String]
            let labels: [Int]
            let class_names: [String]
        }
        let classes_file: String
        let cases: [String: Case]
    }

    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("classes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func touch(_ relative: String, in dir: URL? = nil) throws {
        let url = (dir ?? tmp).appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: url.path, contents: Data()))
    }

    func write(_ text: String, to relative: String) throws -> String {
        let url = tmp.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testOrderAndLabelsMatchKeras() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/datasets.json")))
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        XCTAssertEqual(reference.cases.count, 5)
        for (name, c) in reference.cases.sorted(by: { $0.key < $1.key }) {
            let classes: ClassList?
            switch c.rule {
            case "select": classes = try ClassList.selecting(try XCTUnwrap(c.classes))
            case "complete":
                classes = try ClassList.read(Fixtures.path("features/" + reference.classes_file))
                XCTAssertEqual(classes?.names, c.classes, name)
            default: classes = nil
            }
            let set = try Dataset.scan(
                [Fixtures.path("features/" + c.input)], classes: classes,
                columns: TableColumns(path: c.path_column, label: c.label_column))
            XCTAssertEqual(set.classNames, c.class_names, name)
            XCTAssertEqual(set.items.map(\.name), c.filenames, name)
            XCTAssertEqual(set.items.map(\.label), c.labels.map(Optional.some), name)
            XCTAssertTrue(set.items.allSatisfy { FileManager.default.fileExists(atPath: $0.path) }, name)
        }
        // The case the option exists for: a second folder holding two of the four training
        // classes keeps the training labels (1 and 3), where plain listing numbers them 0 and 1.
        let second = try XCTUnwrap(reference.cases["folder_classes_from"])
        XCTAssertEqual(Set(second.labels), [1, 3])
        let plain = try Dataset.scan([Fixtures.path("features/" + second.input)])
        XCTAssertEqual(Set(plain.items.compactMap(\.label)), [0, 1])
    }

    func testClassesSelectAndKeepAbsentClassesAsKerasDoes() throws {
        for path in ["a/1.jpg", "b/2.jpg", "x/3.jpg", "loose.jpg"] { try touch(path) }
        let set = try Dataset.scan([tmp.path], classes: try ClassList.selecting(commaSeparated: "b,zz,a"))
        XCTAssertEqual(set.classNames, ["b", "zz", "a"])
        XCTAssertEqual(set.items.map(\.name), ["b/2.jpg", "a/1.jpg"])
        XCTAssertEqual(set.items.map(\.label), [0, 2])
        XCTAssertEqual(set.missingClasses, ["zz"])
        XCTAssertEqual(set.warnings.count, 1)
        XCTAssertTrue(set.warnings[0].contains("zz (label 1)"), set.warnings[0])
        // The unselected folder is reported as not read, not silently dropped from the record.
        XCTAssertTrue(set.ignored.contains { $0.path == "x/" }, "\(set.ignored)")
        XCTAssertEqual(set.requested?.rule, .select)

        // None of them here: an error naming them.
        XCTAssertThrowsError(try Dataset.scan([tmp.path], classes: try ClassList.selecting(["p", "q"]))) {
            XCTAssertEqual($0 as? DatasetError, .noClassFolder(tmp.path, ["p", "q"], option: "--classes"))
            XCTAssertTrue("\($0)".contains("'p', 'q'"), "\($0)")
        }
        // A flat folder has no class folders to select.
        let flat = tmp.appendingPathComponent("flat")
        try touch("i.jpg", in: flat)
        XCTAssertThrowsError(try Dataset.scan([flat.path], classes: try ClassList.selecting(["a"]))) {
            XCTAssertEqual($0 as? DatasetError, .noClassFolder(flat.path, ["a"], option: "--classes"))
        }
        // A list file or image files carry no labels.
        let list = try write("a/1.jpg\n", to: "list.txt")
        XCTAssertThrowsError(try Dataset.scan([list], classes: try ClassList.selecting(["a"]))) {
            XCTAssertEqual($0 as? DatasetError, .classesWithoutLabels(list, option: "--classes"))
        }
    }

    func testClassesFromRejectsAClassFolderItDoesNotList() throws {
        for path in ["cat/1.jpg", "owl/2.jpg", "new/3.jpg", ".ipynb_checkpoints/4.jpg"] { try touch(path) }
        let file = try write("ant\ncat\nowl\n", to: "train.classes.txt")
        let classes = try ClassList.read(file)
        XCTAssertEqual(classes.names, ["ant", "cat", "owl"])
        XCTAssertEqual(classes.rule, .complete)
        // Hidden folders are classes to flow_from_directory, so they must be listed too.
        XCTAssertThrowsError(try Dataset.scan([tmp.path], classes: classes)) {
            XCTAssertEqual(
                $0 as? DatasetError, .unlistedClassFolders(tmp.path, [".ipynb_checkpoints", "new"], file: file))
            XCTAssertTrue("\($0)".contains("'.ipynb_checkpoints', 'new'"), "\($0)")
        }
        try FileManager.default.removeItem(at: tmp.appendingPathComponent("new"))
        try FileManager.default.removeItem(at: tmp.appendingPathComponent(".ipynb_checkpoints"))
        // An absent listed class is fine: it keeps its label with no images.
        let set = try Dataset.scan([tmp.path], classes: classes)
        XCTAssertEqual(set.items.map(\.label), [1, 2])
        XCTAssertEqual(set.missingClasses, ["ant"])
        XCTAssertTrue(set.warnings.first?.contains("--classes-from") == true)
    }

    func testClassListsThatCannotNumberLabels() throws {
        let bad: [(String, String)] = [
            ("a,b,a", "listed twice"), ("a,,b", "not a folder name"), ("a/b", "not a folder name"),
            ("..", "not a folder name"),
        ]
        for (text, reason) in bad {
            XCTAssertThrowsError(try ClassList.selecting(commaSeparated: text), text) {
                XCTAssertTrue("\($0)".contains(reason), "\(text): \($0)")
            }
        }
        XCTAssertEqual(try ClassList.selecting(commaSeparated: "b c,a").names, ["b c", "a"])
        let crlf = try write("a\r\nb c\r\n", to: "win.txt")
        XCTAssertEqual(try ClassList.read(crlf).names, ["a", "b c"])
        let unterminated = try write("a\nb", to: "unterminated.txt")
        XCTAssertEqual(try ClassList.read(unterminated).names, ["a", "b"])
        let blank = try write("a\n\nb\n", to: "blank.txt")
        XCTAssertThrowsError(try ClassList.read(blank)) { XCTAssertTrue("\($0)".contains("line 2 is empty"), "\($0)") }
        let empty = try write("", to: "empty.txt")
        XCTAssertThrowsError(try ClassList.read(empty)) { XCTAssertTrue("\($0)".contains("no class names"), "\($0)") }
        XCTAssertThrowsError(try ClassList.read(tmp.path + "/nope.txt")) {
            XCTAssertEqual($0 as? DatasetError, .missing(tmp.path + "/nope.txt"))
        }
    }

    func testCSVQuotingAsPandasReadsIt() throws {
        let text =
            "\u{FEFF}path,note,class\r\n"
            + "\"a, b.png\",\"say \"\"hi\"\"\",x\r\n"
            + "\r\n"
            + "plain.jpg,\"two\nlines, and a comma\",y\n"
            + "\"q\"\"uote.jpg\",,\"\"\n"
            + "mid\"quote.jpg,\"\"\"\",z"  // no final newline; a quote inside a field is text
        let t = try CSVTable.parse(text, separator: ",", name: "t.csv")
        XCTAssertEqual(t.header, ["path", "note", "class"])
        XCTAssertEqual(
            t.rows.map(\.fields),
            [
                ["a, b.png", "say \"hi\"", "x"],
                ["plain.jpg", "two\nlines, and a comma", "y"],
                ["q\"uote.jpg", "", ""],
                ["mid\"quote.jpg", "\"", "z"],
            ])
        // Lines where each record starts (the blank line 3 is skipped; line 4's field runs on).
        XCTAssertEqual(t.rows.map(\.line), [2, 4, 6, 7])
        let tsv = try CSVTable.parse("p\tl\n\"a\tb.jpg\"\tx, y\n", separator: "\t", name: "t.tsv")
        XCTAssertEqual(tsv.rows.map(\.fields), [["a\tb.jpg", "x, y"]])
        XCTAssertThrowsError(try CSVTable.parse("p\nok.jpg\n\"never closed.jpg\n", separator: ",", name: "t.csv")) {
            XCTAssertEqual(
                $0 as? DatasetError,
                .malformedTable("t.csv", line: 3, reason: "a quoted field starts here and is never closed"))
        }
        XCTAssertThrowsError(try CSVTable.parse("\n\n", separator: ",", name: "t.csv")) {
            XCTAssertTrue("\($0)".contains("no header row"), "\($0)")
        }
    }

    func testTableColumnsPathsAndRowErrors() throws {
        // The table sits in its own folder; paths are relative to it, not to the working folder.
        let photos = tmp.appendingPathComponent("set")
        for path in ["imgs/1.jpg", "imgs/2.png", "imgs/3.bmp"] { try touch(path, in: photos) }
        let absolute = photos.appendingPathComponent("imgs/3.bmp").path
        let csv = try write(
            "file,label,class\nimgs/2.png,b,Z\nimgs/1.jpg,a,Z\n\(absolute),a,Y\nimgs/gone.jpg,c,Y\n", to: "set/t.csv")
        let set = try Dataset.scan([csv])
        // `class` is Keras' y_col default, so it wins over `label`.
        XCTAssertEqual(set.table, TableSource(file: csv, pathColumn: "file", labelColumn: "class"))
        XCTAssertEqual(set.classNames, ["Y", "Z"])
        XCTAssertEqual(set.items.map(\.name), ["imgs/2.png", "imgs/1.jpg", absolute])
        XCTAssertEqual(set.items.map(\.path), [photos.path + "/imgs/2.png", photos.path + "/imgs/1.jpg", absolute])
        XCTAssertEqual(set.items.map(\.label), [1, 1, 0])
        // The missing file is dropped as validate_filenames drops it, with its row.
        XCTAssertEqual(set.ignored.map(\.path), ["imgs/gone.jpg"])
        XCTAssertTrue(set.ignored[0].reason.hasPrefix("row 4: no such file"), set.ignored[0].reason)

        let byLabel = try Dataset.scan([csv], columns: TableColumns(label: "label"))
        XCTAssertEqual(byLabel.classNames, ["a", "b"])
        XCTAssertEqual(byLabel.items.map(\.label), [1, 0, 0])

        let unlabeled = try write("path,weight\nimgs/1.jpg,3\n", to: "set/u.csv")
        let u = try Dataset.scan([unlabeled])
        XCTAssertEqual(u.classNames, [])
        XCTAssertEqual(u.items.map(\.label), [nil])
        XCTAssertThrowsError(try Dataset.scan([unlabeled], classes: try ClassList.selecting(["a"]))) {
            XCTAssertTrue("\($0)".contains("--classes numbers class labels"), "\($0)")
        }

        XCTAssertThrowsError(try Dataset.scan([csv], columns: TableColumns(path: "filename"))) {
            XCTAssertEqual($0 as? DatasetError, .noColumn(csv, column: "filename", header: ["file", "label", "class"]))
        }
        let emptyPath = try write("path,class\nimgs/1.jpg,a\n,b\n", to: "set/e.csv")
        XCTAssertThrowsError(try Dataset.scan([emptyPath])) {
            XCTAssertEqual($0 as? DatasetError, .emptyCell(emptyPath, row: 2, line: 3, column: "path"))
            XCTAssertTrue("\($0)".contains("row 2 (line 3): empty 'path' cell"), "\($0)")
        }
        let emptyLabel = try write("path,class\n\"imgs/1.jpg\",\"\"\n", to: "set/l.csv")
        XCTAssertThrowsError(try Dataset.scan([emptyLabel])) {
            XCTAssertEqual($0 as? DatasetError, .emptyCell(emptyLabel, row: 1, line: 2, column: "class"))
        }
        let unquoted = try write("path,class\nimgs/a, b.jpg,x\n", to: "set/q.csv")
        XCTAssertThrowsError(try Dataset.scan([unquoted])) {
            XCTAssertTrue("\($0)".contains("line 2: 3 fields where the header has 2"), "\($0)")
        }
        let none = try write("path\nimgs/gone.jpg\nimgs/notes.txt\n", to: "set/n.csv")
        XCTAssertThrowsError(try Dataset.scan([none])) {
            XCTAssertTrue("\($0)".contains("none of its 2 rows"), "\($0)")
            XCTAssertTrue("\($0)".contains("imgs/gone.jpg"), "\($0)")
        }
    }

    func testTableClassesAndClassesFrom() throws {
        let dir = tmp.appendingPathComponent("set")
        for path in ["1.jpg", "2.jpg", "3.jpg"] { try touch(path, in: dir) }
        let csv = try write("path,class\n1.jpg,owl\n2.jpg,cat\n3.jpg,fox\n", to: "set/t.csv")
        let selected = try Dataset.scan([csv], classes: try ClassList.selecting(["fox", "ant", "owl"]))
        XCTAssertEqual(selected.items.map(\.name), ["1.jpg", "3.jpg"])
        XCTAssertEqual(selected.items.map(\.label), [2, 0])
        XCTAssertEqual(selected.missingClasses, ["ant"])
        XCTAssertTrue(
            selected.ignored.contains { $0.path == "2.jpg" && $0.reason.contains("'cat' is not in --classes") })

        let file = try write("ant\nowl\ncat\n", to: "train.classes.txt")
        XCTAssertThrowsError(try Dataset.scan([csv], classes: try ClassList.read(file))) {
            XCTAssertEqual($0 as? DatasetError, .unlistedLabels(csv, ["fox"], file: file, row: 3))
        }
        let full = try write("fox\nant\nowl\ncat\n", to: "full.classes.txt")
        let set = try Dataset.scan([csv], classes: try ClassList.read(full))
        XCTAssertEqual(set.items.map(\.label), [2, 3, 0])
        XCTAssertEqual(set.classNames, ["fox", "ant", "owl", "cat"])
    }

    /// A feature map's rows go out as (N, H, W, C) in the header, the same bytes as flattened.
    func testRowWriterHeaderCarriesTheRowShape() throws {
        let map = tmp.appendingPathComponent("map.npy").path
        let flat = tmp.appendingPathComponent("flat.npy").path
        let rows: [[Float]] = [(0..<24).map(Float.init), (0..<24).map { Float($0) * -0.5 }]
        for (path, shape) in [(map, [2, 3, 4]), (flat, [24])] {
            let writer = try NpyRowWriter(path, rowShape: shape, expectedRows: 5)  // 3 skipped
            for row in rows { try writer.append(row) }
            try writer.commit()
        }
        let a = try Npy.read(Data(contentsOf: URL(fileURLWithPath: map)), name: map)
        let b = try Npy.read(Data(contentsOf: URL(fileURLWithPath: flat)), name: flat)
        XCTAssertEqual(a.shape, [2, 2, 3, 4])
        XCTAssertEqual(b.shape, [2, 24])
        XCTAssertEqual(a.values, rows.flatMap { $0 })
        let (da, db) = (
            try Data(contentsOf: URL(fileURLWithPath: map)), try Data(contentsOf: URL(fileURLWithPath: flat))
        )
        XCTAssertEqual(da.suffix(2 * 24 * 4), db.suffix(2 * 24 * 4))
    }
}
