import ArgumentParser
import Backbones
import Foundation
import WeightLoader

struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a Keras weight file holds and which architecture it fits.",
        discussion: """
            Reads any Keras weight file through libhdf5: the published keras.applications files \
            (legacy .h5), models saved with model.save("x.h5") or save_weights, Keras 3 \
            .weights.h5 files and .keras archives, those of subclassed models (layers tracked as \
            attributes) included. Prints the layout, Keras version, every layer with its arrays \
            (and, for Keras 3 files, the group it is stored at), the parameter count, the \
            published file it is (by hash) and the known architectures it binds to, and how. With --model, binds it to that model and reports \
            why not if it does not fit.

            Examples:
              extract inspect ~/.keras/models/mobilenet_1_0_224_tf_no_top.h5
              extract inspect fine_tuned.keras --model mobilenetv2 --alpha 0.35 --json
            """
    )

    @Argument(help: "A Keras weight file (.h5, .hdf5, .weights.h5 or .keras).")
    var file: String

    @OptionGroup(title: "Bind to a model (fails, saying why, if the file does not fit)")
    var selection: ModelOptions

    @Flag(help: "Print the report as JSON on stdout.")
    var json = false

    @Flag(help: "With --model, also read every array as float32 and report how long opening, binding and reading took.")
    var load = false

    @Flag(name: .shortAndLong, help: "List every layer (the text report shows the first and last 10).")
    var all = false

    func validate() throws {
        if load && selection.model == nil {
            throw ValidationError("--load needs --model: the arrays are read as that model binds them")
        }
    }

    func run() async throws {
        do {
            // Opened once: the report and the binding with --model read the same file.
            let opened = try KerasWeightFile.open(file)
            let report = try Inspector.inspect(opened)
            var bound: BindingPlan?
            var loadReport: String?
            if let entry = try selection.entry() {
                let start = Date()
                bound = try Binder.planOrExplain(opened, ArchitectureCatalog.architecture(entry.architecture))
                if load, let plan = bound {
                    let weights = try plan.load()
                    let seconds = Date().timeIntervalSince(start)
                    let scalars = weights.layers.reduce(0) { $0 + $1.arrays.reduce(0) { $0 + $1.values.count } }
                    loadReport = String(
                        format: "opened, bound and read %d arrays (%@ parameters) in %.3f s",
                        weights.layers.reduce(0) { $0 + $1.arrays.count }, grouped(scalars), seconds)
                }
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(Self.terminalSafe(render(report, bound: bound) + wholeModel(opened)), terminator: "")
            }
            if let loadReport { FileHandle.standardError.write(Data("\(loadReport)\n".utf8)) }
        } catch {
            throw fail(error)
        }
    }

    func render(_ r: InspectReport, bound: BindingPlan?) -> String {
        var out = ""
        func line(_ key: String, _ value: String) {
            out += key.padding(toLength: 14, withPad: " ", startingAt: 0) + value + "\n"
        }
        line("file", r.path)
        line("layout", layoutText(r.layout))
        if r.tracking == Keras3Tracking.attributes.rawValue, let attributes = r.trackedAttributes {
            let shown = attributes.prefix(8).joined(separator: ", ") + (attributes.count > 8 ? ", ..." : "")
            line("tracking", "layers tracked as attributes (a subclassed model, or layers holding layers): \(shown)")
        } else if let tracking = r.tracking {
            line(
                "tracking",
                tracking == Keras3Tracking.layerLists.rawValue
                    ? "layers/ lists (Functional and Sequential models)" : tracking)
        }
        let unrecorded =
            r.layout == KerasLayout.keras3Weights.rawValue
            ? "not recorded (.weights.h5 files do not store it)" : "not recorded (Keras 1 writer)"
        line("keras", r.kerasVersion.map { "\($0)" + (r.backend.map { " (backend \($0))" } ?? "") } ?? unrecorded)
        line("size", "\(byteText(r.bytes)), md5 \(r.hashes["md5"] ?? "?")")
        let known = r.manifestEntries.compactMap { WeightsManifest.shared.entry(id: $0) }
        line(
            "published",
            known.isEmpty
                ? "no (hash matches no published keras.applications file)"
                : known.map { "\($0.file) (\(ModelSelection.describe($0)))" }.joined(separator: "; "))
        line(
            "layers",
            "\(r.layersListed) listed, \(r.weightedLayers) with weights, \(r.arrays) arrays, \(grouped(r.params)) parameters"
        )
        if r.matches.isEmpty {
            line("architecture", "none of the \(ArchitectureCatalog.ids.count) known architectures")
        }
        for (i, m) in r.matches.enumerated() {
            line(
                i == 0 ? "architecture" : "",
                "\(m.architecture): binds \(m.method), \(m.layers) layers, \(m.namesAgreeing) names as Keras 3 names them"
            )
        }
        if let bound {
            line(
                "--model",
                "\(bound.architecture.id): binds \(bound.method) (\(bound.pairs.count) layers, shapes checked)")
        }
        if let graph = r.modelGraph, !graph.isEmpty {
            out += "\nmodel graph (\(graph.count) layers):\n"
            for node in graph {
                out += "  \(node.name) [\(node.className)]" + (node.backbone.map { "  <- \($0) backbone" } ?? "") + "\n"
            }
        }
        // Attribute-tracked files: every layer, nested ones followed by theirs, with the group
        // it is stored at; the binding is by those layers' names.
        let tracked = r.tracking == Keras3Tracking.attributes.rawValue
        func flatten(_ layers: [InspectReport.Layer], depth: Int) -> [(depth: Int, layer: InspectReport.Layer)] {
            layers.flatMap { [(depth, $0)] + (tracked ? flatten($0.inner ?? [], depth: depth + 1) : []) }
        }
        let rows = flatten(r.layers, depth: 0).enumerated().map { $0 }
        out +=
            tracked
            ? "\nlayers with weights (\(rows.count), nested ones followed by theirs):\n" : "\nweighted layers:\n"
        let shown = all || rows.count <= 20 ? rows : Array(rows.prefix(10)) + Array(rows.suffix(10))
        var last = -1
        for (i, row) in shown {
            let layer = row.layer
            if i != last + 1 { out += "  ... \(i - last - 1) more (use --all)\n" }
            last = i
            let indent = String(repeating: "  ", count: row.depth)
            out +=
                "  \(i)".padding(toLength: 7, withPad: " ", startingAt: 0) + indent + layer.name
                + (layer.className.map { " [\($0)]" } ?? "") + (layer.path.map { "  at \($0)" } ?? "") + "\n"
            for a in layer.arrays { out += "         \(indent)\(a.name) \(shapeString(a.shape)) \(a.dtype)\n" }
            if let inner = layer.inner {
                out +=
                    "         \(indent)nested model: \(inner.count) layers with weights, \(inner.reduce(0) { $0 + $1.arrays.count }) arrays\n"
            }
        }
        return out
    }

    /// A saved model as `extract --weights FILE` runs it whole: its input, outputs, the layers
    /// built with their output shapes (as `model.summary()` lists them, nested models'
    /// layers under their path), and the layers that would not run.
    func wholeModel(_ file: KerasWeightFile) -> String {
        guard let config = file.modelConfig else { return "" }
        let keras3 =
            file.layout == .keras3Archive || file.layout == .keras3Weights
            || (file.kerasVersion.map { $0.hasPrefix("3") } ?? false)
        let built: SavedModelGraph
        do {
            built = try SavedModelBuilder.build(config: config, keras3: keras3, requireOutputs: false)
        } catch {
            return "\nwhole model: cannot be built: \(error)\n"
        }
        let g = built.graph
        var out = "\nwhole model '\(built.name)' (what `extract --weights FILE` runs):\n"
        out += "  input         " + g.inputs.map { "\(g.nodes[$0].name) \(g.shape($0))" }.joined(separator: ", ") + "\n"
        out += "  outputs       " + built.outputNames.joined(separator: ", ") + "\n"
        if !built.nestedModels.isEmpty { out += "  nested        " + built.nestedModels.joined(separator: ", ") + "\n" }
        out +=
            built.unsupported.isEmpty
            ? "  runs          yes: every layer is built\n"
            : "  would not run \(built.unsupported.joined(separator: "; "))\n"
        let rows = g.nodes.enumerated().map { $0 }
        let shown = all || rows.count <= 20 ? rows : Array(rows.prefix(10)) + Array(rows.suffix(10))
        var last = -1
        out += "  layers (\(rows.count), in call order, output shape per image):\n"
        for (i, node) in shown {
            if i != last + 1 { out += "    ... \(i - last - 1) more (use --all)\n" }
            last = i
            let op = "\(node.op)".prefix { $0 != "(" }
            out += "    \(node.path) [\(op)] \(node.shape)\n"
        }
        return out
    }

    /// Text read from a file of unknown origin, made safe for a terminal: control characters
    /// (an escape sequence in a layer name would reach the terminal) are shown as `\u{1B}`, and
    /// a line is cut at `maxLine` characters (a 200 MB attribute stays one short line).
    static func terminalSafe(_ text: String, maxLine: Int = 400) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var out = ""
            var count = 0
            for scalar in line.unicodeScalars {
                if count == maxLine {
                    out += "… (\(line.unicodeScalars.count - maxLine) more characters)"
                    break
                }
                let v = scalar.value
                out +=
                    v < 0x20 || (0x7F...0x9F).contains(v)
                    ? "\\u{\(String(v, radix: 16, uppercase: true))}" : String(scalar)
                count += 1
            }
            return out
        }.joined(separator: "\n")
    }

    func layoutText(_ layout: String) -> String {
        switch layout {
        case "legacy-weights":
            return "legacy-weights (save_weights .h5, the layout of the published keras.applications files)"
        case "legacy-full-model": return "legacy-full-model (model.save to .h5: model_config + model_weights)"
        case "keras3-weights": return "keras3-weights (Keras 3 .weights.h5)"
        case "keras3-archive": return "keras3-archive (Keras 3 .keras zip)"
        default: return layout
        }
    }
}

func shapeString(_ shape: [Int]) -> String {
    "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
}

func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, c) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return out
}

func byteText(_ n: Int) -> String {
    if n >= 1 << 20 { return String(format: "%.1f MB", Double(n) / 1_048_576) }
    if n >= 1 << 10 { return String(format: "%.1f KB", Double(n) / 1024) }
    return "\(n) bytes"
}

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "List every published model: what to type, input size, output width, preprocessing, hash, whether it runs here, cache state."
    )

    /// What to type for an entry: `--model mobilenet --alpha 0.5 --rows 160`.
    static func options(_ e: WeightsEntry) -> String {
        var parts = ["--model \(ModelSelection.token(e))"]
        if let a = e.alpha { parts.append("--alpha \(a)") }
        if let r = e.rows { parts.append("--rows \(r)") }
        if e.variant == "minimalistic" { parts.append("--minimalistic") }
        if e.includeTop { parts.append("--include-top") }
        return parts.joined(separator: " ")
    }

    func run() async throws {
        let store = WeightStore()
        func pad(_ s: String, _ n: Int) -> String {
            s.padding(toLength: max(n, s.count + 1), withPad: " ", startingAt: 0)
        }
        print(
            pad("options", 52) + pad("input", 7) + pad("features", 10) + pad("preprocess", 12) + pad("hash", 8)
                + pad("runs", 9) + "weights")
        let runs = Set(Backbone.supported + Backbone.supportedTop)
        for entry in WeightsManifest.shared.entries {
            // Existence only: hashing every cached file would make listing slow.
            let present = FileManager.default.fileExists(
                atPath: store.modelsDirectory.appendingPathComponent(entry.file).path)
            let state = present ? "in cache" : "not cached"
            let hash = entry.hash.map { FileHash.algorithm(forHash: $0, declared: entry.hashAlgorithm) } ?? "none"
            let release = entry.architecture.contains("v0.2") ? " (old fchollet v0.2 release, same file name)" : ""
            print(
                pad(Self.options(entry), 52)
                    + pad("\(entry.defaultInput)", 7)
                    + pad("\(entry.outputWidth.map(String.init) ?? "?")", 10)
                    + pad(entry.preprocess, 12)
                    + pad(hash, 8)
                    + pad(runs.contains(entry.architecture) ? "yes" : "not yet", 9)
                    + state + release)
        }
        print("hash none: Keras publishes no hash for these files; they are checked by structure only.")
    }
}
