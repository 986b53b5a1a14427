// ImageNet class probabilities -> labels, as keras.applications.imagenet_utils
// .decode_predictions gives them: the top-k classes of each row with their WordNet id, Keras'
// class name and the probability. The class index is data the project carries
// (Generated/ImageNetClassIndex.swift), the table Keras downloads at run time.

import Foundation

/// The 1000 classes of the published ImageNet classifiers, in output order.
public enum ImageNetClasses {
    public struct Class: Sendable, Equatable {
        /// WordNet id, e.g. "n01440764"; empty for a saved model's own classes.
        public let wnid: String
        /// decode_predictions' name, e.g. "tench", "great_white_shark".
        public let name: String
    }

    public static let all: [Class] = table.split(separator: "\n").map { line in
        let parts = line.split(separator: " ", maxSplits: 1)
        return Class(wnid: String(parts[0]), name: String(parts[1]))
    }
}

/// One of the top-k classes of an image.
public struct Prediction: Sendable, Equatable {
    /// 1 for the most probable class.
    public let rank: Int
    public let classIndex: Int
    public let wnid: String
    public let name: String
    public let probability: Float
}

public enum Predictions {
    /// decode_predictions(preds, top=k) for one row of 1000 probabilities:
    /// `pred.argsort()[-top:][::-1]`, then a stable sort by probability, largest first. Equal
    /// probabilities come higher class index first, as a stable ascending argsort reversed
    /// gives them (numpy's default argsort is not stable, so Keras may order exact ties
    /// either way). `k` is clamped to 1...1000, as slicing clamps it. A saved model's own
    /// output (`--class-names`) is ranked the same way by `classes` of its own.
    public static func top(
        _ probabilities: [Float], k: Int, classes: [ImageNetClasses.Class] = ImageNetClasses.all
    ) -> [Prediction] {
        precondition(probabilities.count == classes.count, "decode needs \(classes.count) probabilities")
        let order = probabilities.indices.sorted { a, b in
            let (pa, pb) = (probabilities[a], probabilities[b])
            return pa != pb ? pa > pb : a > b
        }
        return order.prefix(max(1, min(k, classes.count))).enumerated().map { rank, i in
            Prediction(
                rank: rank + 1, classIndex: i, wnid: classes[i].wnid, name: classes[i].name,
                probability: probabilities[i])
        }
    }

    /// One line per image for the terminal: `path: name 0.8123, name 0.0521, ...`.
    public static func line(path: String, _ top: [Prediction]) -> String {
        "\(path): " + top.map { "\($0.name) \(String(format: "%.4f", $0.probability))" }.joined(separator: ", ")
    }

    /// The classes of a saved model's own output, from `--class-names` (label i is line i).
    public static func classes(named names: [String]) -> [ImageNetClasses.Class] {
        names.map { ImageNetClasses.Class(wnid: "", name: $0) }
    }

    /// NAME.predictions.csv: `row,path,rank,wnid,name,probability`, k lines per image; the
    /// probability with 9 significant digits, which reads back as the same float32. A saved
    /// model's own classes: `row,path,rank,label,class,score`, the score being the output
    /// value as the model gives it (a probability after softmax, a logit without).
    public static func csv(names: [String], tops: [[Prediction]], imageNet: Bool = true) -> String {
        var out = imageNet ? "row,path,rank,wnid,name,probability\n" : "row,path,rank,label,class,score\n"
        for (row, (name, top)) in zip(names, tops).enumerated() {
            for p in top {
                out +=
                    "\(row),\(csvField(name)),\(p.rank),\(imageNet ? p.wnid : String(p.classIndex)),\(csvField(p.name)),"
                    + String(format: "%.9g", p.probability) + "\n"
            }
        }
        return out
    }

    /// RFC 4180 quoting when needed (a class name has an apostrophe, never a comma; a path may
    /// have anything).
    public static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline })
            ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
