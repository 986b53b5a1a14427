// The one place that maps an architecture of the catalog (WeightLoader's `ArchitectureCatalog`
// ids, e.g. "ResNet50", "MobileNetV2_0.35") to the graph that mirrors it. The CLI and the
// feature extractor go through here; each family keeps its own builder file.

import Foundation
import WeightLoader

public enum Backbone {
    /// The graph of `architecture` (a catalog id) for one input size. A `_top` id
    /// ("ResNet50_top", the catalog's name for a published include_top=True file) or
    /// `includeTop` gives the family's ImageNet classifier as Keras builds it with
    /// include_top=True, ending in the (1000) softmax probabilities; `pooling` then must be
    /// `.none` (Keras ignores it there; here it is refused rather than silently dropped).
    public static func graph(
        _ architecture: String, height: Int, width: Int, pooling: GlobalPooling = .none,
        includeTop: Bool = false
    ) throws -> Graph {
        let base = architecture.hasSuffix(topSuffix) ? String(architecture.dropLast(topSuffix.count)) : architecture
        let top = includeTop || base != architecture
        if top && pooling != .none {
            throw GraphError.badGraph(
                layer: "predictions",
                detail: "pooling \(pooling.rawValue) applies to the features without the classifier (include_top=False)"
            )
        }
        if let v = ResNet.Variant(rawValue: base) {
            return try ResNet.graph(v, height: height, width: width, pooling: pooling, includeTop: top)
        }
        if let v = NASNet.Variant(rawValue: base), !top {
            return try NASNet.graph(v, height: height, width: width, pooling: pooling)
        }
        if let v = DenseNet.Variant(rawValue: base) {
            return try DenseNet.graph(v, height: height, width: width, pooling: pooling, includeTop: top)
        }
        switch base {
        case "ResNet50_v0.2" where !top:
            return try ResNet.graphV02(height: height, width: width, pooling: pooling)
        case "VGG16": return try VGG.graph(depth: 16, height: height, width: width, pooling: pooling, includeTop: top)
        case "VGG19": return try VGG.graph(depth: 19, height: height, width: width, pooling: pooling, includeTop: top)
        case "InceptionV3":
            return try InceptionV3.graph(height: height, width: width, pooling: pooling, includeTop: top)
        case "Xception": return try Xception.graph(height: height, width: width, pooling: pooling, includeTop: top)
        case "InceptionResNetV2":
            return try InceptionResNetV2.graph(height: height, width: width, pooling: pooling, includeTop: top)
        default: break
        }
        if let v = MobileNetV3.Variant(id: base) {
            return try MobileNetV3.graph(v, height: height, width: width, pooling: pooling, includeTop: top)
        }
        if let v = EfficientNet.Variant(rawValue: base) {
            return try EfficientNet.graph(v, height: height, width: width, pooling: pooling, includeTop: top)
        }
        // No classifier heads yet (the catalog has no top files for them).
        if let v = EfficientNetV2.Variant(rawValue: base), !top {
            return try EfficientNetV2.graph(v, height: height, width: width, pooling: pooling)
        }
        if let v = ConvNeXt.Variant(rawValue: base), !top {
            return try ConvNeXt.graph(v, height: height, width: width, pooling: pooling)
        }
        if let alpha = alpha(base, family: "MobileNetV2") {
            return try MobileNetV2.graph(alpha: alpha, height: height, width: width, pooling: pooling, includeTop: top)
        }
        if let alpha = alpha(base, family: "MobileNet") {
            return try MobileNet.graph(alpha: alpha, height: height, width: width, pooling: pooling, includeTop: top)
        }
        throw GraphError.unsupportedArchitecture(architecture, supported: supported + supportedTop)
    }

    /// Whether the classifier's weights fix the input size: a `Flatten` of a map larger than
    /// 1×1 feeds a Dense (VGG's fc1 has H'·W'·512 rows), so only the size the weights were made
    /// for fits. The pooled heads (every other family) take any size.
    public static func classifierFixesInputSize(_ graph: Graph) -> Bool {
        graph.nodes.contains { node in
            node.op == .flatten && node.inputs.contains { graph.shape($0).height * graph.shape($0).width > 1 }
        }
    }

    /// The catalog's suffix for the include_top=True configuration of an architecture.
    public static let topSuffix = "_top"

    /// The graph ending at the layer named `layer` (Keras' `model.get_layer(layer).output`,
    /// the features "from this block"), then `pooling` over its spatial dimensions when the
    /// layer's output is a map. A nested model's name (ConvNeXt's `convnext_tiny_stem`) ends at
    /// its last layer, as its Keras output does. Unknown names list a few of the known ones.
    public static func graph(
        _ architecture: String, height: Int, width: Int, layer: String, pooling: GlobalPooling = .none
    ) throws -> Graph {
        var g = try graph(architecture, height: height, width: width, pooling: .none)
        guard
            let node = g.node(layer) ?? g.nodes.first(where: { $0.name == layer })
                ?? g.nodes.last(where: { $0.scope == layer })
        else {
            let names = g.nodes.map(\.name)
            let near = names.filter { $0.hasPrefix(String(layer.prefix(4))) }.prefix(8)
            throw GraphError.unknownLayer(
                model: g.name, layer: layer, examples: Array(near.isEmpty ? names.suffix(8) : near))
        }
        g.output =
            node.shape.flat
            ? node.id
            : try g.addPooling(
                pooling, node.id, avg: "\(layer)_global_average_pooling", max: "\(layer)_global_max_pooling")
        return g
    }

    /// Catalog ids (include_top=False) that `graph` builds.
    public static let supported: [String] =
        ResNet.Variant.allCases.map(\.rawValue) + ["ResNet50_v0.2", "VGG16", "VGG19"]
        + ["0.35", "0.5", "0.75", "1.0", "1.3", "1.4"].map { "MobileNetV2_\($0)" }
        + ["0.25", "0.5", "0.75", "1.0"].map { "MobileNet_\($0)" }
        + MobileNetV3.Variant.all.map(\.id)
        + EfficientNet.Variant.allCases.map(\.rawValue)
        + EfficientNetV2.Variant.allCases.map(\.rawValue)
        + ["InceptionV3", "Xception", "InceptionResNetV2"]
        + DenseNet.Variant.allCases.map(\.rawValue)
        + ConvNeXt.Variant.allCases.map(\.rawValue)
        + NASNet.Variant.allCases.map(\.rawValue)

    /// Catalog `_top` ids (include_top=True, the published top files) that `graph` builds: the
    /// catalog lists one per family whose top file Keras publishes at the default size.
    public static let supportedTop: [String] = ArchitectureCatalog.ids.filter {
        $0.hasSuffix(topSuffix) && supported.contains(String($0.dropLast(topSuffix.count)))
            && $0 != "ResNet50_v0.2" + topSuffix
    }

    /// "MobileNetV2_0.35" -> 0.35 for family "MobileNetV2".
    static func alpha(_ architecture: String, family: String) -> Double? {
        guard architecture.hasPrefix(family + "_") else { return nil }
        return Double(architecture.dropFirst(family.count + 1))
    }
}
