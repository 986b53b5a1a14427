import Foundation

/// What a user asks for on the command line: `--model mobilenetv2 --alpha 0.35 --rows 96`.
public struct ModelSelection: Sendable, Equatable {
    public var name: String
    public var alpha: Double?
    public var rows: Int?
    public var minimalistic: Bool
    public var includeTop: Bool

    public init(
        name: String, alpha: Double? = nil, rows: Int? = nil, minimalistic: Bool = false, includeTop: Bool = false
    ) {
        self.name = name
        self.alpha = alpha
        self.rows = rows
        self.minimalistic = minimalistic
        self.includeTop = includeTop
    }

    /// `MobileNet_V2`, `mobilenet-v2` and `mobilenetv2` all name the same model.
    static func normalize(_ s: String) -> String {
        s.lowercased().filter { $0 != "_" && $0 != "-" && $0 != " " }
    }

    /// The manifest entry this selection means. MobileNet v1/v2 default to alpha 1.0 and rows
    /// 224 as Keras does; the fchollet v0.2 ResNet50 is chosen only by its own name.
    public func resolve(in manifest: WeightsManifest = .shared) throws -> WeightsEntry {
        let byModel = try Self.family(name, in: manifest)
        let wantAlpha = alpha ?? (byModel.contains { $0.alpha != nil } ? 1.0 : nil)
        let wantRows = rows ?? (byModel.contains { $0.rows != nil } ? 224 : nil)
        let matches = byModel.filter { entry in
            entry.includeTop == includeTop
                && (wantAlpha == nil || entry.alpha == nil || abs((entry.alpha ?? 0) - (wantAlpha ?? 0)) < 1e-9)
                && (wantRows == nil || entry.rows == nil || entry.rows == wantRows)
                && ((entry.variant == "minimalistic") == minimalistic)
        }
        guard let entry = matches.first else {
            let options = byModel.map(Self.describe).joined(separator: "; ")
            throw SelectionError.noSuchVariant(name, options: options)
        }
        return entry
    }

    /// Every manifest entry a `--model` name can mean (all alphas, sizes, top and notop). The
    /// fchollet v0.2 ResNet50 is in the family only by its own name, or when
    /// `includingOldReleases` (a file given with --weights may be that release).
    public static func family(
        _ name: String, in manifest: WeightsManifest = .shared, includingOldReleases: Bool = false
    ) throws -> [WeightsEntry] {
        let key = normalize(name)
        let entries = manifest.entries.filter {
            normalize($0.architecture) == key
                || (normalize($0.model) == key && (includingOldReleases || !$0.architecture.contains("v0.2")))
        }
        guard !entries.isEmpty else { throw SelectionError.unknownModel(name, known: modelNames(manifest)) }
        return entries
    }

    /// The token to type after `--model` for an entry (`mobilenetv2`, `resnet50_v0.2`).
    public static func token(_ e: WeightsEntry) -> String {
        e.architecture.contains("v0.2") ? e.architecture.lowercased() : e.model.lowercased()
    }

    public static func describe(_ e: WeightsEntry) -> String {
        var parts = [e.model]
        if let a = e.alpha { parts.append("alpha \(a)") }
        if let r = e.rows { parts.append("rows \(r)") }
        if let v = e.variant { parts.append(v) }
        if e.includeTop { parts.append("include_top") }
        return parts.joined(separator: " ")
    }

    /// Distinct CLI model names, in manifest order.
    public static func modelNames(_ manifest: WeightsManifest = .shared) -> [String] {
        var seen = Set<String>()
        return manifest.entries.map(token).filter { seen.insert($0).inserted }
    }
}

public enum SelectionError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case unknownModel(String, known: [String])
    case noSuchVariant(String, options: String)

    public var description: String {
        switch self {
        case .unknownModel(let name, let known):
            return "unknown model '\(name)'; choose one of: \(known.joined(separator: ", ")) (see `extract models`)"
        case .noSuchVariant(let name, let options):
            return "no published weights for that variant of '\(name)'; available: \(options)"
        }
    }

    public var errorDescription: String? { description }
}
