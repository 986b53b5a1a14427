// Which images a run reads, in which order, with which labels: the rules of Keras'
// `flow_from_directory` (keras/src/legacy/preprocessing/image.py, `_iter_valid_files`), so row
// i of our matrix is image i of theirs and label k is their class k:
// - classes are `sorted(os.listdir(root))` entries that are directories (hidden ones included,
//   as flow_from_directory includes them), label = index in that order;
// - each class folder is walked recursively, directories in sorted-path order, files sorted
//   inside each, symlinked sub-folders not followed (follow_links=False);
// - sorting is Python's: by Unicode code point, so "B" < "a" and "a b" < "a/x".
// A folder without sub-folders is one unlabeled set of its image files.

import Foundation

public struct Dataset: Sendable {
    public struct Item: Sendable, Equatable {
        /// The path to open.
        public let path: String
        /// The path as it goes into the index: relative to the input folder (or as given).
        public let name: String
        /// The class index, when the input has class folders.
        public let label: Int?
    }

    /// Class names in label order; empty when unlabeled.
    public let classNames: [String]
    public let items: [Item]
    /// Files that were seen but will not be read (not in a class folder, not an image
    /// extension), with the reason, for the run record.
    public let ignored: [(path: String, reason: String)]

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

    /// One folder (class folders or a flat folder of images), one list file (a path per line,
    /// relative to the list's folder; `#` comments and blank lines skipped), or image files.
    public static func scan(_ inputs: [String]) throws -> Dataset {
        let fm = FileManager.default
        guard !inputs.isEmpty else { throw DatasetError.noInput }
        if inputs.count == 1 {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: inputs[0], isDirectory: &isDir) else {
                throw DatasetError.missing(inputs[0])
            }
            if isDir.boolValue {
                let set = try folder(inputs[0])
                if set.items.isEmpty { throw DatasetError.empty(inputs[0]) }
                return set
            }
            // Any other single file is a list of paths (a .gif given by name is read).
            if !isImageName(inputs[0]) && !inputs[0].lowercased().hasSuffix(".gif") { return try listFile(inputs[0]) }
        }
        var items: [Item] = []
        for path in inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else { throw DatasetError.missing(path) }
            if isDir.boolValue { throw DatasetError.folderAmongFiles(path) }
            items.append(Item(path: path, name: path, label: nil))
        }
        return Dataset(classNames: [], items: items, ignored: [])
    }

    static func folder(_ root: String) throws -> Dataset {
        let entries = try list(root)
        var classes: [String] = []
        var looseFiles: [String] = []
        for name in entries {
            if isDirectory(join(root, name), followLinks: true) { classes.append(name) } else { looseFiles.append(name) }
        }
        var items: [Item] = []
        var ignored: [(String, String)] = []
        if classes.isEmpty {
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
        for (label, cls) in classes.enumerated() {
            for rel in try walk(root, cls) {
                if isImageName(rel) {
                    items.append(Item(path: join(root, rel), name: rel, label: label))
                } else {
                    ignored.append((rel, "not \(extensionText) (flow_from_directory does not list it)"))
                }
            }
        }
        return Dataset(classNames: classes, items: items, ignored: ignored)
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
            throw DatasetError.unreadable(dir, reason: "cannot list the folder (\((error as NSError).localizedDescription))")
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

    public var description: String {
        switch self {
        case .noInput: return "no input: give a folder of images, a list file or image files"
        case .missing(let p): return "\(p): no such file or folder"
        case .unreadable(let p, let reason): return "\(p): \(reason)"
        case .folderAmongFiles(let p): return "\(p) is a folder; give one folder, or image files only"
        case .empty(let p): return "\(p): no images found (.png, .jpg, .jpeg, .bmp, in the folder or in class sub-folders, recursively)"
        }
    }

    public var errorDescription: String? { description }
}
