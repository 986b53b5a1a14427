// report.html: one self-contained page to look at a features file (and the head fitted on it):
// the rows on their first two principal components coloured by class, the head's
// cross-validated confusion matrix as a heat map with per-class recall, and thumbnails of the
// images the head gets most confidently wrong. Inline SVG and CSS, images as data URIs: nothing
// is fetched, so the file opens anywhere.

import FeatureFiles
import Foundation
import Heads
import Images

public struct ReportInput {
    public var title: String
    public var features: FeatureFile
    public var head: HeadFile?
    /// Where row paths are relative to (the run record's input folder), for thumbnails.
    public var imageRoot: String?
    /// One line about the model, from the run record.
    public var model: String?

    public init(title: String, features: FeatureFile, head: HeadFile?, imageRoot: String?, model: String?) {
        self.title = title
        self.features = features
        self.head = head
        self.imageRoot = imageRoot
        self.model = model
    }
}

public enum ReportPage {
    /// Class colours (Tableau 10), then grey for rows without a class.
    static let palette = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    ]

    public static func html(_ input: ReportInput, misclassified limit: Int = 12) throws -> String {
        let f = input.features
        let classes = f.classNames
        var body = "<h1>\(escape(input.title))</h1>\n"
        body +=
            "<p class=\"summary\">\(f.count) images × \(f.rowWidth) features"
            + (classes.isEmpty ? "" : ", \(classes.count) classes") + (input.model.map { "; \(escape($0))" } ?? "")
            + "</p>\n"
        if f.count >= 2, f.rowWidth >= 2 {
            let pca = try Projection.pca(f.features, width: f.rowWidth)
            body += scatter(pca, f)
        }
        if let head = input.head {
            if let v = head.validation {
                body += confusion(v, classes: head.classes)
            }
            body += try mistakes(input, head: head, limit: limit)
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(input.title))</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
            h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
            table.confusion td, table.confusion th { width: 56px; height: 32px; text-align: center; border: 1px solid #ddd; }
            .legend span { display: inline-block; margin-right: 14px; }
            .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 4px; }
            figure { display: inline-block; margin: 6px; width: 120px; font-size: 11px; vertical-align: top; }
            figure img { display: block; max-width: 112px; max-height: 112px; border: 1px solid #ccc; }
            </style></head>
            <body>
            \(body)</body></html>

            """
    }

    /// The PCA scatter: one circle per row (its path and class in a tooltip).
    static func scatter(_ pca: Projection.Result, _ f: FeatureFile) -> String {
        let (w, h, pad) = (640.0, 480.0, 24.0)
        let xs = stride(from: 0, to: pca.points.count, by: 2).map { pca.points[$0] }
        let ys = stride(from: 1, to: pca.points.count, by: 2).map { pca.points[$0] }
        func scale(_ v: Double, _ lo: Double, _ hi: Double, _ size: Double) -> Double {
            hi > lo ? pad + (v - lo) / (hi - lo) * (size - 2 * pad) : size / 2
        }
        let (x0, x1, y0, y1) = (xs.min() ?? 0, xs.max() ?? 1, ys.min() ?? 0, ys.max() ?? 1)
        var svg =
            "<h2>Principal components</h2>\n<svg id=\"scatter\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"#fafafa\" stroke=\"#ccc\"/>\n"
        for i in 0..<xs.count {
            let label = f.labels?[i]
            let colour = label.map { palette[$0 % palette.count] } ?? "#777"
            let name = (i < f.paths.count ? f.paths[i] : "row \(i)") + (label.map { " (\(f.classNames[$0]))" } ?? "")
            svg += String(
                format:
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%@\" fill-opacity=\"0.8\"><title>%@</title></circle>\n",
                scale(xs[i], x0, x1, w), h - scale(ys[i], y0, y1, h), colour, escape(name))
        }
        svg += "</svg>\n"
        let total = pca.variance.reduce(0, +)
        svg += String(
            format: "<p>PC1 (horizontal) and PC2 (vertical), %.1f %% and %.1f %% of the variance of the two.</p>\n",
            total > 0 ? 100 * pca.variance[0] / total : 0, total > 0 ? 100 * pca.variance[1] / total : 0)
        if !f.classNames.isEmpty {
            svg += "<p class=\"legend\">"
            for (k, name) in f.classNames.enumerated() {
                svg += "<span><i style=\"background:\(palette[k % palette.count])\"></i>\(escape(name))</span>"
            }
            svg += "</p>\n"
        }
        return svg
    }

    /// The head's cross-validated confusion matrix, shaded by each true class's share.
    static func confusion(_ v: Validation, classes: [String]) -> String {
        var out = "<h2>Confusion matrix (\(escape(v.method)))</h2>\n"
        out += String(format: "<p>Accuracy %.4f ± %.4f.</p>\n", v.accuracy, v.accuracyStd)
        out += "<table class=\"confusion\" id=\"confusion\"><tr><th>true \\ predicted</th>"
        for name in classes { out += "<th>\(escape(name))</th>" }
        out += "<th>recall</th></tr>\n"
        for (t, row) in v.scores.confusionMatrix.enumerated() {
            let total = max(row.reduce(0, +), 1)
            out += "<tr><th>\(escape(classes[t]))</th>"
            for count in row {
                let share = Double(count) / Double(total)
                let light = Int(255 - share * 180)
                out += "<td style=\"background: rgb(\(light), \(light), 255)\">\(count)</td>"
            }
            out += String(format: "<td>%.3f</td></tr>\n", v.scores.recall[t])
        }
        return out + "</table>\n"
    }

    /// The rows the head misclassifies, most confident first, with their thumbnails.
    static func mistakes(_ input: ReportInput, head: HeadFile, limit: Int) throws -> String {
        let f = input.features
        guard let labels = f.labels, f.rowWidth == head.fittedOn.width else { return "" }
        let rows = Rows(f)
        let scores = head.head.scores(rows)
        let predicted = head.head.predict(rows)
        let k = head.classes.count
        var wrong: [(row: Int, score: Double)] = []
        for i in 0..<f.count {
            let truth = f.classNames[labels[i]]
            if head.classes[predicted[i]] != truth { wrong.append((i, scores[i * k + predicted[i]])) }
        }
        wrong.sort { $0.score != $1.score ? $0.score > $1.score : $0.row < $1.row }
        var out = "<h2>Most confidently misclassified (\(wrong.count) of \(f.count))</h2>\n<div id=\"mistakes\">\n"
        for (row, score) in wrong.prefix(limit) {
            let path = row < f.paths.count ? f.paths[row] : "row \(row)"
            let image = thumbnail(path, root: input.imageRoot).map { "<img alt=\"\" src=\"\($0)\">" } ?? ""
            out += String(
                format: "<figure>%@<figcaption>%@<br>true %@, predicted %@ (%.3f)</figcaption></figure>\n", image,
                escape(path), escape(f.classNames[labels[row]]), escape(head.classes[predicted[row]]), score)
        }
        return out + "</div>\n"
    }

    /// A thumbnail (at most 112 px, PIL's bilinear resize) as a BMP data URI, or nil when the
    /// image cannot be read.
    static func thumbnail(_ path: String, root: String?) -> String? {
        let full = path.hasPrefix("/") ? path : ((root ?? ".") as NSString).appendingPathComponent(path)
        guard let image = try? ImageDecoder.decode(path: full), image.width > 0, image.height > 0 else { return nil }
        let side = 112.0 / Double(max(image.width, image.height))
        let w = max(1, Int((Double(image.width) * min(side, 1)).rounded()))
        let h = max(1, Int((Double(image.height) * min(side, 1)).rounded()))
        let small = ImageResizer.resize(image, width: w, height: h, interpolation: .bilinear)
        return "data:image/bmp;base64," + bmp(small).base64EncodedString()
    }

    /// A 24-bit BMP (bottom-up BGR rows, padded to 4 bytes): every browser shows it, and it needs
    /// no encoder library.
    static func bmp(_ image: RGBImage) -> Data {
        let stride = (image.width * 3 + 3) & ~3
        let size = 54 + stride * image.height
        var d = Data(count: size)
        func put32(_ v: Int, _ at: Int) { for b in 0..<4 { d[at + b] = UInt8((v >> (8 * b)) & 0xff) } }
        func put16(_ v: Int, _ at: Int) { for b in 0..<2 { d[at + b] = UInt8((v >> (8 * b)) & 0xff) } }
        d[0] = 0x42
        d[1] = 0x4D
        put32(size, 2)
        put32(54, 10)
        put32(40, 14)
        put32(image.width, 18)
        put32(image.height, 22)
        put16(1, 26)
        put16(24, 28)
        put32(stride * image.height, 34)
        for y in 0..<image.height {
            let out = 54 + (image.height - 1 - y) * stride
            for x in 0..<image.width {
                let p = (y * image.width + x) * 3
                d[out + x * 3] = image.pixels[p + 2]
                d[out + x * 3 + 1] = image.pixels[p + 1]
                d[out + x * 3 + 2] = image.pixels[p]
            }
        }
        return d
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
