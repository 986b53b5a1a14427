// Which images a run reads, in which order, with which labels: the rules of Keras'
// `flow_from_directory` (keras/src/legacy/preprocessing/image.py, `_iter_valid_files`), so row
// i of our matrix is image i of theirs and label k is their class k:
// - classes are `sorted(os.listdir(root))` entries that are directories (hidden ones included,
//   as flow_from_directory includes them), label = index in that order;
// - each class folder is walked recursively, directories in sorted-path order, files sorted
//   inside each, symlinked sub-folders not followed (follow_links=False);
// - sorting is Python's: by Unicode code point, so "B" < "a" and "a b" < "a/x".
// A folder without sub-folders is one unlabeled set of its image files.
// With a class list (`ClassList`: --classes, --classes-from) only the listed folders are read,
// labelled in the list's order, as flow_from_directory(classes=[...]) does; a .csv/.tsv table
// is read as flow_from_dataframe reads it (Table.swift).

import Foundation
import WeightLoader

public struct Dataset: Sendable {
    public struct Item: Sendable, Equatable {
        /// The path to open.
        public let path: String
        /// The path as it goes into the index: relative to the input folder (or as given).
        public let name: String
        /// The class index, when the input has class folders.
        public let label: Int?
    }

    /// sha256 of the list: each item's path, name and label, in order.
    public var digest: String {
        var text = ""
        for item in items { text += "\(item.path)\u{0}\(item.name)\u{0}\(item.label.map(String.init) ?? "")\n" }
        return FileHash.sha256(Data(text.utf8))
    }

    /// Class names in label order; empty when unlabeled.
    public let classNames: [String]
    public let items: [Item]
    /// Files that were seen but will not be read (not in a class folder, not an image
    /// extension), with the reason, for the run record.
    public let ignored: [(path: String, reason: String)]
    /// The class list the labels follow, when one was given (--classes, --classes-from).
    public var requested: ClassList? = nil
    /// Listed classes with no folder (or no row in a table): their labels are kept, with no
    /// images, as Keras keeps them.
    public var missingClasses: [String] = []
    /// The table's columns, when the input is a table.
    public var table: TableSource? = nil

    init(
        classNames: [String], items: [Item], ignored: [(path: String, reason: String)],
        requested: ClassList? = nil, missingClasses: [String] = [], table: TableSource? = nil
    ) {
        self.classNames = classNames
        self.items = items
        self.ignored = ignored
        self.requested = requested
        self.missingClasses = missingClasses
        self.table = table
    }

    /// The same listing with only the items in `range` (one shard's rows): the classes, and so
    /// the labels, stay those of the whole list.
    public func slice(_ range: Range<Int>) -> Dataset {
        Dataset(
            classNames: classNames, items: Array(items[range]), ignored: ignored, requested: requested,
            missingClasses: missingClasses, table: table)
    }

    /// What a user should hear before the run: listed classes that have no images.
    public var warnings: [String] {
        guard let requested, !missingClasses.isEmpty else { return [] }
        let labels = missingClasses.compactMap { name in classNames.firstIndex(of: name).map { "\(name) (label \($0))" }
        }
        let kind = table == nil ? "no folder" : "no row"
        let keras = table == nil ? "flow_from_directory(classes=)" : "flow_from_dataframe(classes=)"
        return [
            "\(requested.option) lists \(missingClasses.count == 1 ? "a class" : "classes") with \(kind) here: "
                + labels.joined(separator: ", ")
                + "; \(missingClasses.count == 1 ? "its label is" : "their labels are") kept with no images, as \(keras) keeps them"
        ]
    }

    /// The extensions listed, matched case-insensitively on the file name's end: exactly
    /// flow_from_directory's `white_list_formats`, so rows line up with its shuffle=False order.
    /// (It lists no .gif; ppm/tif/tiff are listed and then skipped as undecodable here.)
    public static let extensions = [".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff"]
    static let extensionText = "a .png/.jpg/.jpeg/.bmp/.ppm/.tif/.tiff file"

    public static func isImageName(_ name: String) -> Bool {
        let lower = name.lowercased()
        return extensions.contains { lower.hasSuffix($0) }
    }

    /// Python's `str` order: code point by code point.
    static func pythonLess(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
    }

    /// One folder (class folders or a flat folder of images), one table (.csv/.tsv with a
    /// header row, Table.swift), one list file (a path per line, relative to the list's
    /// folder; `#` comments and blank lines skipped), or image files. `classes` numbers the
    /// labels of class folders and tables; `columns` picks a table's columns.
    public static func scan(
        _ inputs: [String], classes: ClassList? = nil, columns: TableColumns = TableColumns()
    ) throws -> Dataset {
        let fm = FileManager.default
        guard !inputs.isEmpty else { throw DatasetError.noInput }
        if inputs.count == 1 {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: inputs[0], isDirectory: &isDir) else {
                throw DatasetError.missing(inputs[0])
            }
            if isDir.boolValue {
                let set = try folder(inputs[0], classes: classes)
                if set.items.isEmpty { throw DatasetError.empty(inputs[0]) }
                return set
            }
            if isTableName(inputs[0]) { return try table(inputs[0], classes: classes, columns: columns) }
            // Any other single file is a list of paths (a .gif given by name is read).
            if !isImageName(inputs[0]) && !inputs[0].lowercased().hasSuffix(".gif") {
                if let classes { throw DatasetError.classesWithoutLabels(inputs[0], option: classes.option) }
                return try listFile(inputs[0])
            }
        }
        if let classes { throw DatasetError.classesWithoutLabels(inputs[0], option: classes.option) }
        var items: [Item] = []
        for path in inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else { throw DatasetError.missing(path) }
            if isDir.boolValue { throw DatasetError.folderAmongFiles(path) }
            items.append(Item(path: path, name: path, label: nil))
        }
        return Dataset(classNames: [], items: items, ignored: [])
    }

    static func folder(_ root: String, classes requested: ClassList? = nil) throws -> Dataset {
        let entries = try list(root)
        var folders: [String] = []
        var looseFiles: [String] = []
        for name in entries {
            if isDirectory(join(root, name), followLinks: true) {
                folders.append(name)
            } else {
                looseFiles.append(name)
            }
        }
        var items: [Item] = []
        var ignored: [(String, String)] = []
        var classes = folders
        var missing: [String] = []
        if let requested {
            // flow_from_directory(classes=) walks root/<name> for each listed name: a missing
            // folder yields no files (os.walk is silent) and its label stays reserved.
            classes = requested.names
            missing = classes.filter { !folders.contains($0) }
            if missing.count == classes.count {
                throw DatasetError.noClassFolder(root, classes, option: requested.option)
            }
            let unlisted = folders.filter { !classes.contains($0) }
            switch requested.rule {
            case .complete:
                if !unlisted.isEmpty {
                    throw DatasetError.unlistedClassFolders(root, unlisted, file: requested.file ?? "")
                }
            case .select:
                for name in unlisted {
                    ignored.append(
                        (name + "/", "class folder not in --classes (flow_from_directory(classes=) does not read it)"))
                }
            }
        } else if classes.isEmpty {
            for name in looseFiles {
                if isImageName(name) {
                    items.append(Item(path: join(root, name), name: name, label: nil))
                } else {
                    ignored.append((name, "not \(extensionText) (flow_from_directory does not list it)"))
                }
            }
            return Dataset(classNames: [], items: items, ignored: ignored)
        }
        for name in looseFiles {
            ignored.append((name, "outside the class folders (flow_from_directory reads only class folders)"))
        }
        for (label, cls) in classes.enumerated() where !missing.contains(cls) {
            for rel in try walk(root, cls) {
                if isImageName(rel) {
                    items.append(Item(path: join(root, rel), name: rel, label: label))
                } else {
                    ignored.append((rel, "not \(extensionText) (flow_from_directory does not list it)"))
                }
            }
        }
        return Dataset(
            classNames: classes, items: items, ignored: ignored, requested: requested, missingClasses: missing)
    }

    /// os.walk(root/top, followlinks=False) sorted by directory path, files sorted inside:
    /// paths relative to `root`.
    static func walk(_ root: String, _ top: String) throws -> [String] {
        var dirs: [String] = []
        var pending = [top]
        while let dir = pending.popLast() {
            dirs.append(dir)
            for name in try list(join(root, dir)) where isDirectory(join(root, dir, name), followLinks: false) {
                pending.append(join(dir, name))
            }
        }
        var files: [String] = []
        for dir in dirs.sorted(by: pythonLess) {
            for name in try list(join(root, dir)) where !isDirectory(join(root, dir, name), followLinks: true) {
                files.append(join(dir, name))
            }
        }
        return files
    }

    static func listFile(_ path: String) throws -> Dataset {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw DatasetError.unreadable(path, reason: "not a readable UTF-8 list of image paths")
        }
        let base = (path as NSString).deletingLastPathComponent
        var items: [Item] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let full = line.hasPrefix("/") || base.isEmpty ? line : join(base, line)
            items.append(Item(path: full, name: line, label: nil))
        }
        return Dataset(classNames: [], items: items, ignored: [])
    }

    static func list(_ dir: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: dir).sorted(by: pythonLess)
        } catch {
            throw DatasetError.unreadable(
                dir, reason: "cannot list the folder (\((error as NSError).localizedDescription))")
        }
    }

    static func isDirectory(_ path: String, followLinks: Bool) -> Bool {
        var st = stat()
        let rc = followLinks ? stat(path, &st) : lstat(path, &st)
        return rc == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func join(_ parts: String...) -> String {
        parts.filter { !$0.isEmpty }.joined(separator: "/").replacingOccurrences(of: "//", with: "/")
    }
}

public enum DatasetError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case noInput
    case missing(String)
    case unreadable(String, reason: String)
    case folderAmongFiles(String)
    case empty(String)
    /// --classes/--classes-from with an input that has no labels (a list file, image files).
    case classesWithoutLabels(String, option: String)
    /// None of the listed classes has a folder in the input folder.
    case noClassFolder(String, [String], option: String)
    /// --classes-from: the folder holds class folders the classes file does not list.
    case unlistedClassFolders(String, [String], file: String)
    /// A classes file (or --classes) that cannot number labels: duplicates, empty names.
    case badClassList(String, reason: String)
    /// Table errors name the table, the data row (1-based, header excluded) and its line.
    case noColumn(String, column: String, header: [String])
    case emptyCell(String, row: Int, line: Int, column: String)
    case malformedTable(String, line: Int, reason: String)
    /// --classes-from: table labels the classes file does not list (first row that has one).
    case unlistedLabels(String, [String], file: String, row: Int)
    /// Every row of a table names a missing or non-image file.
    case noTableImages(String, rows: Int, example: String)

    public var description: String {
        switch self {
        case .noInput: return "no input: give a folder of images, a table (.csv/.tsv), a list file or image files"
        case .missing(let p): return "\(p): no such file or folder"
        case .unreadable(let p, let reason): return "\(p): \(reason)"
        case .folderAmongFiles(let p): return "\(p) is a folder; give one folder, or image files only"
        case .empty(let p):
            return "\(p): no images found (.png, .jpg, .jpeg, .bmp, in the folder or in class sub-folders, recursively)"
        case .classesWithoutLabels(let p, let option):
            return
                "\(option) numbers class labels, and \(p) has none: give a folder of class sub-folders or a table with a label column"
        case .noClassFolder(let root, let names, let option):
            return
                "\(root): none of the classes \(option) lists is here (\(Dataset.listed(names)): no class folder, or no table row, by that name"
        case .unlistedClassFolders(let root, let names, let file):
            return
                "\(root) holds class \(names.count == 1 ? "folder" : "folders") \(Dataset.listed(names)) that \(file) does not list; "
                + "their labels would be undefined: add them to the classes file, or move them out"
        case .badClassList(let what, let reason): return "\(what): \(reason)"
        case .noColumn(let table, let column, let header):
            return
                "\(table) has no column '\(column)' (its header: \(header.map { "'\($0)'" }.joined(separator: ", ")))"
        case .emptyCell(let table, let row, let line, let column):
            return "\(table), row \(row) (line \(line)): empty '\(column)' cell"
        case .malformedTable(let table, let line, let reason): return "\(table), line \(line): \(reason)"
        case .unlistedLabels(let table, let labels, let file, let row):
            return
                "\(table) has \(labels.count == 1 ? "label" : "labels") \(Dataset.listed(labels)) that \(file) does not list (first at row \(row)); "
                + "their class numbers would be undefined: add them to the classes file, or drop those rows"
        case .noTableImages(let table, let rows, let example):
            return
                "\(table): none of its \(rows) rows names an existing .png/.jpg/.jpeg/.bmp/.ppm/.tif/.tiff file (e.g. \(example))"
        }
    }

    public var errorDescription: String? { description }
}

extension Dataset {
    /// Names for a message: quoted, the first eight, then how many more.
    static func listed(_ names: [String]) -> String {
        let shown = names.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
        return names.count > 8 ? shown + " and \(names.count - 8) more" : shown
    }
}
