// The one place that maps an architecture of the catalog (WeightLoader's `ArchitectureCatalog`
// ids, e.g. "ResNet50", "MobileNetV2_0.35") to the graph that mirrors it. The CLI and the
// feature extractor go through here; each family keeps its own builder file.

import Foundation

public enum Backbone {
    /// The graph of `architecture` (a catalog id, include_top=False) for one input size.
    public static func graph(
        _ architecture: String, height: Int, width: Int, pooling: GlobalPooling = .none
    ) throws -> Graph {
        if let v = ResNet.Variant(rawValue: architecture) {
            return try ResNet.graph(v, height: height, width: width, pooling: pooling)
        }
        if let v = DenseNet.Variant(rawValue: architecture) {
            return try DenseNet.graph(v, height: height, width: width, pooling: pooling)
        }
        if let v = NASNet.Variant(rawValue: architecture) {
            return try NASNet.graph(v, height: height, width: width, pooling: pooling)
        }
        switch architecture {
        case "ResNet50_v0.2": return try ResNet.graphV02(height: height, width: width, pooling: pooling)
        case "VGG16": return try VGG.graph(depth: 16, height: height, width: width, pooling: pooling)
        case "VGG19": return try VGG.graph(depth: 19, height: height, width: width, pooling: pooling)
        case "InceptionV3": return try InceptionV3.graph(height: height, width: width, pooling: pooling)
        case "Xception": return try Xception.graph(height: height, width: width, pooling: pooling)
        case "InceptionResNetV2":
            return try InceptionResNetV2.graph(height: height, width: width, pooling: pooling)
        default: break
        }
        if let v = MobileNetV3.Variant(id: architecture) {
            return try MobileNetV3.graph(v, height: height, width: width, pooling: pooling)
        }
        if let v = EfficientNet.Variant(rawValue: architecture) {
            return try EfficientNet.graph(v, height: height, width: width, pooling: pooling)
        }
        if let alpha = alpha(architecture, family: "MobileNetV2") {
            return try MobileNetV2.graph(alpha: alpha, height: height, width: width, pooling: pooling)
        }
        if let alpha = alpha(architecture, family: "MobileNet") {
            return try MobileNet.graph(alpha: alpha, height: height, width: width, pooling: pooling)
        }
        throw GraphError.unsupportedArchitecture(architecture, supported: supported)
    }

    /// The graph ending at the layer named `layer` (Keras' `model.get_layer(layer).output`,
    /// the features "from this block"), then `pooling` over its spatial dimensions when the
    /// layer's output is a map. Unknown names list a few of the known ones.
    public static func graph(
        _ architecture: String, height: Int, width: Int, layer: String, pooling: GlobalPooling = .none
    ) throws -> Graph {
        var g = try graph(architecture, height: height, width: width, pooling: .none)
        guard let node = g.nodes.first(where: { $0.name == layer }) else {
            let names = g.nodes.map(\.name)
            let near = names.filter { $0.hasPrefix(String(layer.prefix(4))) }.prefix(8)
            throw GraphError.unknownLayer(
                model: g.name, layer: layer, examples: Array(near.isEmpty ? names.suffix(8) : near))
        }
        g.output = node.shape.flat ? node.id : try g.addPooling(
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
        + ["InceptionV3", "Xception", "InceptionResNetV2"]
        + DenseNet.Variant.allCases.map(\.rawValue)
        + NASNet.Variant.allCases.map(\.rawValue)

    /// "MobileNetV2_0.35" -> 0.35 for family "MobileNetV2".
    static func alpha(_ architecture: String, family: String) -> Double? {
        guard architecture.hasPrefix(family + "_") else { return nil }
        return Double(architecture.dropFirst(family.count + 1))
    }
}
