// Stable labels: the class names a run numbers 0..n-1, given instead of found.
//
// `--classes a,b,c` is Keras' `flow_from_directory(classes=[...])` / `flow_from_dataframe(
// classes=[...])` (keras/src/legacy/preprocessing/image.py): only those classes are read,
// numbered in the order given; other class folders (other table labels) are simply not read.
// A listed class with no folder (no row) keeps its label and has no images: DirectoryIterator
// os.walk()s root/<name>, which yields nothing for a missing folder, and DataFrameIterator
// keeps every listed class in class_indices. (image_dataset_from_directory(class_names=)
// raises instead, keras/src/utils/dataset_utils.py index_directory; we follow the iterators,
// whose listing rules Dataset follows, and warn.)
//
// `--classes-from train/feats.classes.txt` reads the classes file a previous run wrote (one
// name per line, in label order), so a second folder holding some of the training classes gets
// the training run's labels. It is the same list as `classes=` but complete: a class folder (or
// table label) it does not list is an error naming it, since its rows could not be labelled
// the way the training run labelled them.

import Foundation

public struct ClassList: Sendable, Equatable {
    public enum Rule: String, Sendable {
        /// --classes: the list selects; other classes are not read.
        case select
        /// --classes-from: the list is every class there is; another class is an error.
        case complete
    }

    /// Class names in label order.
    public let names: [String]
    public let rule: Rule
    /// The classes file, for --classes-from.
    public let file: String?

    /// The option that gave the list, for messages and the run record.
    public var option: String { rule == .select ? "--classes" : "--classes-from" }

    init(names: [String], rule: Rule, file: String?) throws {
        let what = file ?? "--classes"
        if names.isEmpty { throw DatasetError.badClassList(what, reason: "no class names") }
        var seen = Set<String>()
        for name in names {
            // A class is one folder name: flow_from_directory looks its label up by the
            // folder's basename, so "a/b" could never be labelled.
            if name.isEmpty || name == "." || name == ".." || name.contains("/") {
                throw DatasetError.badClassList(
                    what, reason: "'\(name)' is not a folder name (one name per class, no '/')")
            }
            if !seen.insert(name).inserted {
                throw DatasetError.badClassList(
                    what, reason: "class '\(name)' is listed twice; each class has one label")
            }
        }
        self.names = names
        self.rule = rule
        self.file = file
    }

    /// `--classes a,b,c`: names separated by commas, in label order (a name holding a comma
    /// needs a classes file and --classes-from).
    public static func selecting(commaSeparated text: String) throws -> ClassList {
        try ClassList(
            names: text.split(separator: ",", omittingEmptySubsequences: false).map(String.init), rule: .select,
            file: nil)
    }

    public static func selecting(_ names: [String]) throws -> ClassList {
        try ClassList(names: names, rule: .select, file: nil)
    }

    /// `--classes-from FILE`: the NAME.classes.txt a run writes (FeatureOutput), one class per
    /// line in label order, each line ending in "\n".
    public static func read(_ path: String) throws -> ClassList {
        guard FileManager.default.fileExists(atPath: path) else { throw DatasetError.missing(path) }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw DatasetError.unreadable(path, reason: "not a readable UTF-8 classes file (one class name per line)")
        }
        return try parse(text, file: path)
    }

    static func parse(_ text: String, file: String) throws -> ClassList {
        // Split on the "\n" scalar: to Swift, "\r\n" is one Character, not a "\n" after "\r".
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map {
            // A file edited on Windows: a class folder name does not end in "\r".
            String(String.UnicodeScalarView($0.last == "\r" ? $0.dropLast() : $0[...]))
        }
        if lines.last == "" { lines.removeLast() }
        if let blank = lines.firstIndex(of: "") {
            throw DatasetError.badClassList(
                file, reason: "line \(blank + 1) is empty; a classes file has one class name per line, in label order")
        }
        return try ClassList(names: lines, rule: .complete, file: file)
    }
}
