// Tables as input, read as `pd.read_csv(table)` + `ImageDataGenerator().flow_from_dataframe(
// df, directory=<the table's folder>, x_col=..., y_col=..., shuffle=False)` read them
// (keras/src/legacy/preprocessing/image.py, DataFrameIterator):
// - a .csv (commas) or .tsv (tabs) with a header row; fields quoted as RFC 4180 / pandas quote
//   them ("a, b.jpg", "say ""hi"".png", newlines inside quotes); blank lines skipped;
// - paths from the first column unless --path-column names one, relative to the table's
//   folder (os.path.join(directory, path): an absolute path stays as it is);
// - labels from --label-column, else a column named `class` (Keras' y_col default) or `label`;
//   none: unlabeled. Cells are text: labels sort as Python sorts str ("10" < "2");
// - validate_filenames=True: a row whose path is not an existing file with a listed image
//   extension is dropped with a warning (Keras: "Found N invalid image filename(s)"), before
//   the classes are counted, so a class with no valid row gets no label;
// - classes: sorted(set(labels)) by code point; with --classes, that list in that order, rows
//   of other labels dropped (_filter_classes); with --classes-from, a label it does not list is
//   an error;
// - row order is the table's (shuffle=False). An empty path or label cell is an error naming
//   the row (pandas reads it as NaN, which flow_from_dataframe rejects with a TypeError).

import Foundation

/// Which columns of a table hold the paths and the labels (nil: the defaults above).
public struct TableColumns: Sendable, Equatable {
    public var path: String?
    public var label: String?

    public init(path: String? = nil, label: String? = nil) {
        self.path = path
        self.label = label
    }

    /// Label column names tried, in order, when none is named: Keras' y_col default first.
    public static let defaultLabelColumns = ["class", "label"]
}

/// The table a dataset came from, and the columns used, for the run record.
public struct TableSource: Sendable, Equatable {
    public let file: String
    public let pathColumn: String
    public let labelColumn: String?
}

/// A parsed delimited text table: the header and each data record with the line it starts on.
public struct CSVTable: Sendable, Equatable {
    public let header: [String]
    public let rows: [(line: Int, fields: [String])]

    public static func == (a: CSVTable, b: CSVTable) -> Bool {
        a.header == b.header && a.rows.map(\.line) == b.rows.map(\.line) && a.rows.map(\.fields) == b.rows.map(\.fields)
    }

    /// Parses `text` split by `separator` with `"` quoting: a field that starts with a quote
    /// runs to the next lone quote (`""` inside is one quote, separators and newlines are
    /// text); characters after the closing quote join the field, as pandas' C parser does.
    /// `name` goes into errors.
    public static func parse(_ text: String, separator: Character, name: String) throws -> CSVTable {
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field = ""
        var line = 1, recordLine = 1
        var inQuotes = false, quotedLine = 0
        // fieldStarted: a character or an opening quote was read for this field (a quote
        // after that is text); recordStarted: this line holds a record, not a blank line
        // (pandas' skip_blank_lines).
        var fieldStarted = false, recordStarted = false
        var chars = text.makeIterator()
        var pending: Character? = nil
        func endRecord() {
            fields.append(field)
            if recordStarted { records.append((recordLine, fields)) }
            fields = []
            field = ""
            fieldStarted = false
            recordStarted = false
        }
        while let c = pending ?? chars.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let next = chars.next() {
                        if next == "\"" { field.append("\"") } else { inQuotes = false; pending = next }
                    } else {
                        inQuotes = false
                    }
                } else {
                    if c.isNewline { line += 1 }
                    field.append(c)
                }
                continue
            }
            if c == "\"" && !fieldStarted {
                inQuotes = true
                quotedLine = line
                fieldStarted = true
                recordStarted = true
            } else if c == separator {
                fields.append(field)
                field = ""
                fieldStarted = false
                recordStarted = true
            } else if c.isNewline {  // "\n", "\r\n" (one Character) or "\r"
                endRecord()
                line += 1
                recordLine = line
            } else {
                field.append(c)
                fieldStarted = true
                recordStarted = true
            }
        }
        if inQuotes {
            throw DatasetError.malformedTable(
                name, line: quotedLine, reason: "a quoted field starts here and is never closed")
        }
        if recordStarted { endRecord() }
        guard let first = records.first else {
            throw DatasetError.malformedTable(
                name, line: 1, reason: "no header row (a table needs a header naming its columns)")
        }
        var header = first.fields
        if let h = header.first, h.hasPrefix("\u{FEFF}") { header[0] = String(h.dropFirst()) }  // UTF-8 BOM
        return CSVTable(header: header, rows: Array(records.dropFirst()))
    }

    /// Reads a .csv (commas) or .tsv (tabs) file.
    public static func read(_ path: String) throws -> CSVTable {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw DatasetError.unreadable(path, reason: "not a readable UTF-8 table")
        }
        return try parse(text, separator: path.lowercased().hasSuffix(".tsv") ? "\t" : ",", name: path)
    }
}

extension Dataset {
    public static func isTableName(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".csv") || lower.hasSuffix(".tsv")
    }

    static func table(_ path: String, classes requested: ClassList?, columns: TableColumns) throws -> Dataset {
        let t = try CSVTable.read(path)
        func column(_ name: String) throws -> Int {
            guard let i = t.header.firstIndex(of: name) else {
                throw DatasetError.noColumn(path, column: name, header: t.header)
            }
            if t.header.lastIndex(of: name) != i {
                throw DatasetError.malformedTable(path, line: 1, reason: "two columns are named '\(name)'")
            }
            return i
        }
        let pathIndex = try column(columns.path ?? t.header[0])
        let labelIndex: Int? =
            try columns.label.map(column)
            ?? TableColumns.defaultLabelColumns.lazy.compactMap { name in
                t.header.indices.first { t.header[$0] == name && $0 != pathIndex }
            }.first
        if let requested, labelIndex == nil {
            throw DatasetError.classesWithoutLabels(
                "\(path) (no 'class' or 'label' column; name it with --label-column)", option: requested.option)
        }

        let base = (path as NSString).deletingLastPathComponent
        var kept: [(row: Int, name: String, full: String, label: String?)] = []
        var ignored: [(path: String, reason: String)] = []
        var unlisted: [String] = []
        var firstUnlisted = 0
        for (r, record) in t.rows.enumerated() {
            let row = r + 1
            if record.fields.count > t.header.count {
                throw DatasetError.malformedTable(
                    path, line: record.line,
                    reason:
                        "\(record.fields.count) fields where the header has \(t.header.count) (quote fields that hold '\(path.lowercased().hasSuffix(".tsv") ? "\\t" : ",")')"
                )
            }
            func cell(_ i: Int) -> String { i < record.fields.count ? record.fields[i] : "" }
            let name = cell(pathIndex)
            if name.isEmpty {
                throw DatasetError.emptyCell(path, row: row, line: record.line, column: t.header[pathIndex])
            }
            var label: String?
            if let labelIndex {
                label = cell(labelIndex)
                if label!.isEmpty {
                    throw DatasetError.emptyCell(path, row: row, line: record.line, column: t.header[labelIndex])
                }
                if let requested, requested.rule == .complete, !requested.names.contains(label!),
                    !unlisted.contains(label!)
                {
                    if unlisted.isEmpty { firstUnlisted = row }
                    unlisted.append(label!)
                }
            }
            let full = name.hasPrefix("/") || base.isEmpty ? name : join(base, name)
            if !isImageName(name) {
                ignored.append(
                    (name, "row \(row): not \(extensionText) (flow_from_dataframe's validate_filenames drops the row)"))
            } else if !isRegularFile(full) {
                ignored.append(
                    (name, "row \(row): no such file (flow_from_dataframe's validate_filenames drops the row)"))
            } else {
                kept.append((row, name, full, label))
            }
        }
        if let requested, !unlisted.isEmpty {
            throw DatasetError.unlistedLabels(
                path, unlisted, file: requested.file ?? requested.option, row: firstUnlisted)
        }
        if kept.isEmpty {
            throw DatasetError.noTableImages(
                path, rows: t.rows.count, example: ignored.first.map { "\($0.path): \($0.reason)" } ?? "no rows")
        }
        let source = TableSource(
            file: path, pathColumn: t.header[pathIndex], labelColumn: labelIndex.map { t.header[$0] })
        guard labelIndex != nil else {
            return Dataset(
                classNames: [], items: kept.map { Item(path: $0.full, name: $0.name, label: nil) }, ignored: ignored,
                table: source)
        }
        let classNames = requested?.names ?? Set(kept.compactMap(\.label)).sorted(by: pythonLess)
        let labelOf = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
        var items: [Item] = []
        for k in kept {
            guard let label = labelOf[k.label!] else {
                ignored.append(
                    (
                        k.name,
                        "row \(k.row): class '\(k.label!)' is not in --classes (flow_from_dataframe(classes=) drops the row)"
                    ))
                continue
            }
            items.append(Item(path: k.full, name: k.name, label: label))
        }
        if items.isEmpty, let requested {
            throw DatasetError.noClassFolder(path, requested.names, option: requested.option)
        }
        let present = Set(items.compactMap(\.label))
        return Dataset(
            classNames: classNames, items: items, ignored: ignored, requested: requested,
            missingClasses: requested == nil
                ? [] : classNames.enumerated().filter { !present.contains($0.offset) }.map(\.element),
            table: source)
    }

    /// os.path.isfile: a regular file, through symlinks.
    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }
}
