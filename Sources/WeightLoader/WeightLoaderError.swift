import Foundation

/// Everything that can be wrong with a weight file a user hands us. Each case renders as one
/// line saying what, where, and what to do; the CLI prints it after `error: `.
public enum WeightLoaderError: Error, Equatable, LocalizedError, CustomStringConvertible {
    case fileNotFound(path: String)
    case unreadable(path: String)
    case emptyFile(path: String)
    case notHDF5(path: String)
    case truncated(path: String, detail: String)
    case damaged(path: String, object: String, detail: String)
    /// An array compressed with a filter libhdf5 lacks (h5py's lzf): the file is sound.
    case unavailableFilter(path: String, dataset: String, filter: String)
    case unknownLayout(path: String, found: [String])
    case notKerasArchive(path: String, detail: String)
    case layerCountMismatch(
        path: String, architecture: String, expected: Int, actual: Int,
        firstDifference: Int, expectedLayer: String, fileLayer: String?)
    case arrayCountMismatch(
        path: String, architecture: String, layer: String, fileLayer: String, expected: Int, actual: Int)
    case shapeMismatch(path: String, layer: String, array: String, expected: [Int], actual: [Int])
    case unsupportedDType(path: String, dataset: String, dtype: String)
    case missingLayer(path: String, architecture: String, layer: String)
    case unusedLayers(path: String, architecture: String, layers: [String])
    case wrongArchitecture(path: String, requested: String, detected: String?)
    case hashMismatch(path: String, algorithm: String, expected: String, actual: String)
    case unknownArchitecture(name: String, known: [String])
    case unsupportedHashAlgorithm(algorithm: String)
    case readFailed(path: String, reason: String)
    /// libhdf5 crashed or hung reading the file's structure in a child process (`WeightFileGuard`).
    case readerFailed(path: String, what: String)
    case writeFailed(path: String, reason: String)
    case notInCache(file: String, directory: String, kerasHome: String?, url: String)
    case otherRelease(path: String, requested: String, found: String, url: String)
    case downloadFailed(url: String, reason: String)
    case downloadStatus(url: String, status: Int)
    case downloadTruncated(url: String, received: Int64, expected: Int64)
    case downloadHashMismatch(url: String, path: String, algorithm: String, expected: String, actual: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file; check the path or omit --weights to use the Keras cache"
        case .unreadable(let path):
            return "\(path): permission denied; make the file readable"
        case .emptyFile(let path):
            return "\(path): the file is empty (0 bytes); download it again"
        case .notHDF5(let path):
            return "\(path): not an HDF5 file; expected a Keras .h5, .weights.h5 or .keras file"
        case .truncated(let path, let detail):
            return "\(path): the HDF5 file is truncated or damaged (\(detail)); download or copy it again"
        case .readerFailed(let path, let what):
            return
                "\(path): libhdf5 \(what) reading this file's structure (in a separate process, so nothing else was touched): the file is damaged or crafted; download or copy it again"
        case .damaged(let path, let object, let detail):
            return "\(path): damaged HDF5 object \(object): \(detail); download or copy the file again"
        case .unavailableFilter(let path, let dataset, let filter):
            return
                "\(path): array \(dataset) is compressed with the \(filter) filter (an h5py plugin), which libhdf5 does not include; the file is not damaged: save it again without compression or with gzip (h5py: compression=\"gzip\")"
        case .unknownLayout(let path, let found):
            let list = found.isEmpty ? "nothing" : found.prefix(8).joined(separator: ", ")
            return
                "\(path): not a Keras weight file (no layer_names, model_weights, layers or vars group; the root holds \(list))"
        case .notKerasArchive(let path, let detail):
            return "\(path): not a Keras .keras archive (\(detail))"
        case .layerCountMismatch(
            let path, let arch, let expected, let actual, let index, let expectedLayer, let fileLayer):
            let found = fileLayer.map { "'\($0)'" } ?? "nothing"
            return
                "\(path): layer count mismatch for \(arch): the model has \(expected) layers with weights, the file \(actual); first difference at weighted layer \(index): the model expects '\(expectedLayer)', the file has \(found); is this file for another model or variant (alpha, include_top)?"
        case .arrayCountMismatch(let path, let arch, let layer, let fileLayer, let expected, let actual):
            return
                "\(path): layer '\(layer)' of \(arch) has \(expected) weight arrays, but file layer '\(fileLayer)' has \(actual); the file is for another model or variant"
        case .shapeMismatch(let path, let layer, let array, let expected, let actual):
            return
                "\(path): shape mismatch in layer '\(layer)', array '\(array)': the model expects \(shapeText(expected)), the file has \(shapeText(actual)); the file is for another model or variant"
        case .unsupportedDType(let path, let dataset, let dtype):
            return
                "\(path): array \(dataset) has unsupported type \(dtype); only float and integer arrays can be weights"
        case .missingLayer(let path, let arch, let layer):
            return
                "\(path): no weights for layer '\(layer)' of \(arch) in the file; is it a model of another architecture?"
        case .unusedLayers(let path, let arch, let layers):
            let shown = layers.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            return
                "\(path): \(layers.count) weighted layers in the file have no place in \(arch) (\(shown)\(layers.count > 5 ? ", ..." : "")); is it a model of another architecture?"
        case .wrongArchitecture(let path, let requested, let detected):
            let what = detected.map { "holds \($0) weights" } ?? "matches no known architecture"
            return
                "\(path): \(what), not \(requested); pass --model \(detected.map { modelFlag($0) } ?? "<name>") or another weights file"
        case .hashMismatch(let path, let algorithm, let expected, let actual):
            return
                "\(path) is damaged: its \(algorithm) is \(actual), the published file's is \(expected) (nothing was downloaded); delete it and run again to download a fresh copy, or pass --weights PATH"
        case .unknownArchitecture(let name, let known):
            return "unknown architecture '\(name)'; known: \(known.joined(separator: ", "))"
        case .unsupportedHashAlgorithm(let algorithm):
            return "unsupported hash algorithm '\(algorithm)'; use md5 or sha256"
        case .readFailed(let path, let reason):
            return "\(path): read failed (\(reason)); check the disk and copy the file again"
        case .writeFailed(let path, let reason):
            return "\(path): write failed (\(reason)); free some space or set KERAS_HOME to another disk"
        case .notInCache(let file, let directory, let kerasHome, let url):
            let home = kerasHome.map { "KERAS_HOME=\($0)" } ?? "KERAS_HOME unset"
            return "\(file) is not in \(directory) (\(home)); download \(url) there or pass --weights PATH"
        case .otherRelease(let path, let requested, let found, let url):
            return
                "\(path) holds the \(found) release, not \(requested); delete it to download \(url) in its place, or pass --weights PATH"
        case .downloadFailed(let url, let reason):
            return
                "downloading \(url) failed: \(reason); check the network, or download it by hand and pass --weights PATH"
        case .downloadStatus(let url, let status):
            return
                "downloading \(url) failed: the server answered HTTP \(status); check the URL, or download it by hand and pass --weights PATH"
        case .downloadTruncated(let url, let received, let expected):
            return
                "downloading \(url) was cut off after \(received) of \(expected) bytes; nothing was saved, run again to retry"
        case .downloadHashMismatch(let url, let path, let algorithm, let expected, let actual):
            return
                "downloaded \(url) but its \(algorithm) hash is \(actual), expected \(expected); nothing was saved to \(path); the server sent another file, retry later or pass --weights PATH"
        }
    }

    public var errorDescription: String? { description }
}

func shapeText(_ shape: [Int]) -> String {
    "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
}

/// The CLI spelling of an architecture id (`MobileNetV2_0.35` -> `mobilenetv2 --alpha 0.35`).
func modelFlag(_ architecture: String) -> String {
    let parts = architecture.split(separator: "_", maxSplits: 1)
    let base = parts[0].lowercased()
    guard parts.count == 2 else { return base }
    if let alpha = Double(parts[1]) { return "\(base) --alpha \(alpha)" }
    return "\(base)_\(parts[1])"
}
