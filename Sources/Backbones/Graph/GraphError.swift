import Foundation

/// A graph that cannot be built or loaded. One line each, naming the layer.
public enum GraphError: Error, Equatable, LocalizedError, CustomStringConvertible {
    case badGraph(layer: String, detail: String)
    case missingLayer(model: String, layer: String)
    case missingArray(layer: String, array: String, available: [String])
    case shapeMismatch(layer: String, array: String, expected: [Int], actual: [Int])
    case inputSize(model: String, expected: Int, actual: Int)
    case inputCount(model: String, inputs: Int, outputs: Int, given: Int)
    case unsupportedArchitecture(String, supported: [String])
    case unknownLayer(model: String, layer: String, examples: [String])

    public var description: String {
        switch self {
        case .badGraph(let layer, let detail):
            return "layer '\(layer)': \(detail)"
        case .missingLayer(let model, let layer):
            return "\(model): no weights for layer '\(layer)'; the weights are for another model or variant"
        case .missingArray(let layer, let array, let available):
            return "layer '\(layer)' has no '\(array)' array (it has \(available.joined(separator: ", ")))"
        case .shapeMismatch(let layer, let array, let expected, let actual):
            return "layer '\(layer)', array '\(array)': the model expects \(expected), the weights have \(actual)"
        case .inputSize(let model, let expected, let actual):
            return "\(model): input holds \(actual) floats, expected a multiple of \(expected) (one image)"
        case .inputCount(let model, let inputs, let outputs, let given):
            return
                "\(model) has \(inputs) inputs and \(outputs) outputs; \(given) input tensors given (run(inputs:) takes one per input and returns one per output)"
        case .unknownLayer(let model, let layer, let examples):
            return
                "\(model) has no layer '\(layer)'; layers are named as in Keras, e.g. \(examples.joined(separator: ", ")) (`extract inspect` on the weights lists the weighted ones)"
        case .unsupportedArchitecture(let id, let supported):
            return "no backbone graph for \(id) yet; these run: \(supported.joined(separator: ", "))"
        }
    }

    public var errorDescription: String? { description }
}
