// A fitted head handed back to Keras: `Input(D) -> Dense(K)` with the scaler folded into the
// Dense weights, softmax for logistic regression (the probabilities `predict` gives) and linear
// for the SVM (its decision values), written as the files Keras itself writes:
//   .keras  Keras 3's archive (config.json, metadata.json, model.weights.h5 with
//           layers/dense/vars/{0,1}), for keras.models.load_model in Keras 3;
//   .h5     the legacy full-model file as tf-keras 2 writes it (model_config with
//           batch_input_shape, model_weights/dense/dense/{kernel,bias}:0), which both tf-keras 2
//           and Keras 3 load.
// Stacked on the backbone the features came from, the model gives what `extract classify` does.

import Foundation
import HDF5
import ZIPFoundation

public enum KerasExport {
    public enum Format: String, Sendable {
        case keras, h5

        public init?(path: String) {
            self.init(rawValue: (path as NSString).pathExtension.lowercased())
        }
    }

    /// The Dense layer's kernel (D × K, row-major, as Keras stores it) and bias: the head's
    /// scores as one affine map of the raw features. A two-class head's one row w becomes the
    /// columns (0, w) under softmax (softmax(0, z) = (1 − σ(z), σ(z))) and (−w, w) for the SVM,
    /// whose scores are (−z, z).
    public static func dense(_ head: Classifier) -> (kernel: [Float], bias: [Float], units: Int) {
        let m = head.model
        let d = m.width
        var rows = m.weights
        var intercepts = m.intercepts
        if let s = head.standardizer {
            for r in 0..<m.rows {
                var shift = 0.0
                for j in 0..<d {
                    rows[r * d + j] /= s.scale[j]
                    shift += rows[r * d + j] * s.mean[j]
                }
                intercepts[r] -= shift
            }
        }
        if m.rows == 1 {
            let sign: Double = head.kind == .logreg ? 0 : -1
            rows = rows.map { sign * $0 } + rows
            intercepts = [sign * intercepts[0], intercepts[0]]
        }
        let k = intercepts.count
        var kernel = [Float](repeating: 0, count: d * k)
        for r in 0..<k {
            for j in 0..<d { kernel[j * k + r] = Float(rows[r * d + j]) }
        }
        return (kernel, intercepts.map(Float.init), k)
    }

    /// Writes `head` to `path` in the format its extension names; the file appears complete
    /// or not at all (written beside it, then renamed).
    public static func write(_ head: Classifier, width: Int, to path: String, format: Format) throws {
        let (kernel, bias, units) = dense(head)
        let activation = head.kind == .logreg ? "softmax" : "linear"
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())"
        )
        .path
        defer { unlink(temporary) }
        do {
            switch format {
            case .h5:
                try writeLegacy(
                    temporary, kernel: kernel, bias: bias, width: width, units: units, activation: activation)
            case .keras:
                try writeArchive(
                    temporary, kernel: kernel, bias: bias, width: width, units: units, activation: activation)
            }
        } catch let error as HeadError {
            throw error
        } catch {
            throw HeadError.headFile(path, "cannot be written (\(error)); choose another --export-keras path")
        }
        guard rename(temporary, path) == 0 else {
            throw HeadError.headFile(path, "cannot be written (\(String(cString: strerror(errno))))")
        }
    }

    static func json(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    static func initializers(keras3: Bool) -> [String: Any] {
        var glorot: [String: Any] = ["seed": NSNull()]
        if keras3 {
            glorot["input_axes"] = NSNull()
            glorot["output_axes"] = NSNull()
        }
        return [
            "kernel_initializer": [
                "module": "keras.initializers", "class_name": "GlorotUniform", "config": glorot,
                "registered_name": NSNull(),
            ],
            "bias_initializer": [
                "module": "keras.initializers", "class_name": "Zeros", "config": [String: Any](),
                "registered_name": NSNull(),
            ],
            "kernel_regularizer": NSNull(), "bias_regularizer": NSNull(), "kernel_constraint": NSNull(),
            "bias_constraint": NSNull(),
        ]
    }

    /// tf-keras 2's model_config of `Sequential([Input((D,)), Dense(K, activation)])`.
    static func legacyConfig(width: Int, units: Int, activation: String) throws -> String {
        var dense: [String: Any] = [
            "name": "dense", "trainable": true, "dtype": "float32", "units": units, "activation": activation,
            "use_bias": true, "activity_regularizer": NSNull(),
        ]
        dense.merge(initializers(keras3: false)) { a, _ in a }
        return try json([
            "class_name": "Sequential",
            "config": [
                "name": "head",
                "layers": [
                    [
                        "class_name": "InputLayer",
                        "config": [
                            "batch_input_shape": [NSNull(), width], "dtype": "float32", "sparse": false,
                            "ragged": false, "name": "input_1",
                        ] as [String: Any],
                    ],
                    ["class_name": "Dense", "config": dense],
                ],
            ] as [String: Any],
        ])
    }

    static func writeLegacy(
        _ path: String, kernel: [Float], bias: [Float], width: Int, units: Int, activation: String
    ) throws {
        let file = try HDF5Writer(creating: path)
        defer { file.close() }
        try file.writeStringAttribute("backend", "tensorflow")
        try file.writeStringAttribute("keras_version", "2.21.0")
        try file.writeStringAttribute(
            "model_config", try legacyConfig(width: width, units: units, activation: activation))
        try file.createGroup("model_weights")
        try file.writeStringAttribute("backend", "tensorflow", on: "model_weights")
        try file.writeStringAttribute("keras_version", "2.21.0", on: "model_weights")
        try file.writeStringListAttribute("layer_names", ["dense"], on: "model_weights")
        try file.createGroup("model_weights/dense")
        try file.writeStringListAttribute(
            "weight_names", ["dense/kernel:0", "dense/bias:0"], on: "model_weights/dense")
        try file.createGroup("model_weights/dense/dense")
        try file.writeFloat32("model_weights/dense/dense/kernel:0", shape: [width, units], kernel)
        try file.writeFloat32("model_weights/dense/dense/bias:0", shape: [units], bias)
        try file.flush()
    }

    /// Keras 3's config.json of the same model.
    static func archiveConfig(width: Int, units: Int, activation: String) throws -> String {
        let policy: [String: Any] = [
            "module": "keras", "class_name": "DTypePolicy", "config": ["name": "float32"], "registered_name": NSNull(),
        ]
        var dense: [String: Any] = [
            "name": "dense", "trainable": true, "dtype": policy, "units": units, "activation": activation,
            "use_bias": true,
        ]
        dense.merge(initializers(keras3: true)) { a, _ in a }
        let build: [String: Any] = ["input_shape": [NSNull(), width]]
        return try json([
            "module": "keras", "class_name": "Sequential", "registered_name": NSNull(), "build_config": build,
            "config": [
                "name": "head", "trainable": true, "dtype": policy,
                "layers": [
                    [
                        "module": "keras.layers", "class_name": "InputLayer", "registered_name": NSNull(),
                        "config": [
                            "batch_shape": [NSNull(), width], "dtype": "float32", "sparse": false, "ragged": false,
                            "name": "input_layer",
                        ] as [String: Any],
                    ],
                    [
                        "module": "keras.layers", "class_name": "Dense", "registered_name": NSNull(),
                        "config": dense, "build_config": build,
                    ],
                ],
                "build_input_shape": [NSNull(), width],
            ] as [String: Any],
        ])
    }

    static func writeArchive(
        _ path: String, kernel: [Float], bias: [Float], width: Int, units: Int, activation: String
    ) throws {
        let weights = path + ".weights.h5"
        defer { unlink(weights) }
        do {
            let file = try HDF5Writer(creating: weights)
            defer { file.close() }
            for group in ["layers", "layers/dense", "layers/dense/vars", "vars"] { try file.createGroup(group) }
            try file.writeStringAttribute("name", "dense", on: "layers/dense/vars")
            try file.writeStringAttribute("name", "head", on: "vars")
            try file.writeFloat32("layers/dense/vars/0", shape: [width, units], kernel)
            try file.writeFloat32("layers/dense/vars/1", shape: [units], bias)
            try file.flush()
        }
        unlink(path)
        let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .create)
        func add(_ name: String, _ data: Data) throws {
            try archive.addEntry(
                with: name, type: .file, uncompressedSize: Int64(data.count),
                provider: { position, size in data.subdata(in: Int(position)..<Int(position) + size) })
        }
        let saved = DateFormatter()
        saved.locale = Locale(identifier: "en_US_POSIX")
        saved.dateFormat = "yyyy-MM-dd@HH:mm:ss"
        try add(
            "metadata.json", Data(try json(["keras_version": "3.15.1", "date_saved": saved.string(from: Date())]).utf8))
        try add("config.json", Data(try archiveConfig(width: width, units: units, activation: activation).utf8))
        try archive.addEntry(with: "model.weights.h5", fileURL: URL(fileURLWithPath: weights))
    }
}
