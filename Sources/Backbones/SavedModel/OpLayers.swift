import Foundation

// The operations a model records when its code calls TensorFlow or Keras ops on a Keras tensor
// (`preprocess_input` inside a model, `x / 255.0`): tf.keras writes each as a `TFOpLambda`
// (or `SlicingOpLambda`) layer naming the function (`math.truediv`) with its constant
// arguments in the call's kwargs; Keras 3 writes the operation's class (`TrueDivide`, module
// `keras.src.ops.numpy`) with its positional arguments. Both are declarations, built here
// without executing anything; an operation not listed is reported like any unsupported layer.

/// What one call of a layer or operation becomes.
enum CallPlan {
    case op(GraphOp)
    /// An op on the call's `tensor`-th tensor alone, its other arguments constants.
    case constantInput(GraphOp, tensor: Int)
    /// `x[..., k]` of a map: one channel, kept symbolic until a `Stack` gathers channels.
    case channel(tensor: Int, index: Int)
    case identity
    case unsupported(String)
}

enum OpLayers {
    /// The plan for an operation call, or nil when `layer` is an ordinary layer.
    static func plan(_ layer: LayerConfig, _ call: LayerCall, shapes: [FeatureShape]) throws -> CallPlan? {
        if layer.className == "TFOpLambda" || layer.className == "SlicingOpLambda" {
            let function = layer.config["function"] as? String ?? layer.name
            return tfOp(function, call, shapes: shapes)
        }
        if layer.isOperation {
            return kerasOp(layer.className, call, shapes: shapes)
        }
        return nil
    }

    /// Binary arithmetic whose operands are the call's tensors or constants.
    enum Binary {
        case add, subtract, multiply, divide, maximum, minimum
    }

    /// `a op b`: both tensors (same shapes), or one a tensor and the other a constant scalar or
    /// per-channel vector.
    static func binary(
        _ kind: Binary, _ a: LayerCall.Arg?, _ b: LayerCall.Arg?, call: LayerCall, shapes: [FeatureShape]
    )
        -> CallPlan
    {
        let tensors = call.inputs
        func index(_ t: TensorRef) -> Int? { tensors.firstIndex(of: t) }
        switch (a, b) {
        case (.tensor, .tensor):
            switch kind {
            case .add: return .op(.add)
            case .subtract: return .op(.subtract)
            case .multiply: return .op(.multiply)
            case .maximum: return .op(.maximum)
            case .minimum: return .op(.minimum)
            case .divide: return .unsupported("division of two tensors")
            }
        case (.tensor(let t), .constant(let c)), (.constant(let c), .tensor(let t)):
            guard let k = index(t), let values = constantValues(c), k < shapes.count else {
                return .unsupported("a constant argument that is not a number or a list of numbers")
            }
            let channels = shapes[k].channels
            guard values.count == 1 || values.count == channels else {
                return .unsupported("a constant of \(values.count) values on a tensor of \(channels) channels")
            }
            let reversed: Bool
            if case .constant = a { reversed = true } else { reversed = false }
            let op: ConstantArithmetic.Kind
            switch kind {
            case .add: op = .add
            case .subtract: op = reversed ? .reverseSubtract : .subtract
            case .multiply: op = .multiply
            case .divide: op = reversed ? .reverseDivide : .divide
            case .maximum: op = .maximum
            case .minimum: op = .minimum
            }
            return .constantInput(.constant(ConstantArithmetic(op, values)), tensor: k)
        default:
            return .unsupported("arguments this tool cannot read")
        }
    }

    // MARK: tf.keras

    static func tfOp(_ function: String, _ call: LayerCall, shapes: [FeatureShape]) -> CallPlan {
        let x = call.args.first
        // The second operand: kwargs `y` (a constant or a tensor ref), else a second argument.
        var y: LayerCall.Arg?
        if let value = call.kwargs["y"] {
            y = ModelConfigTree.legacyRef(value).map { .tensor($0) } ?? .constant(value)
        } else if call.args.count > 1 {
            y = call.args[1]
        }
        let name = function.replacingOccurrences(of: "compat.v1.", with: "")
        switch name {
        case "math.add", "__operators__.add", "math.add_n":
            return binary(.add, x, y, call: call, shapes: shapes)
        case "math.subtract", "__operators__.sub":
            return binary(.subtract, x, y, call: call, shapes: shapes)
        case "math.multiply", "__operators__.mul":
            return binary(.multiply, x, y, call: call, shapes: shapes)
        case "math.truediv", "math.divide", "__operators__.truediv":
            return binary(.divide, x, y, call: call, shapes: shapes)
        case "math.maximum": return binary(.maximum, x, y, call: call, shapes: shapes)
        case "math.minimum": return binary(.minimum, x, y, call: call, shapes: shapes)
        case "nn.bias_add":
            guard let bias = call.kwargs["bias"] else { return .unsupported("bias_add without a constant bias") }
            return binary(.add, x, .constant(bias), call: call, shapes: shapes)
        case "__operators__.getitem":
            return slice(call.kwargs["slice_spec"], call: call, shapes: shapes)
        case "nn.relu": return .op(.activation(.relu))
        case "nn.relu6": return .op(.activation(.relu6))
        case "math.sigmoid", "nn.sigmoid": return .op(.activation(.sigmoid))
        case "math.tanh", "nn.tanh": return .op(.activation(.tanh))
        case "nn.silu", "nn.swish": return .op(.activation(.swish))
        case "nn.softmax", "math.softmax":
            if let axis = call.kwargs["axis"] as? NSNumber, axis.intValue != -1 {
                return .unsupported("softmax over axis \(axis)")
            }
            return .op(.activation(.softmax))
        default:
            return .unsupported("the TensorFlow function tf.\(function) is not built")
        }
    }

    /// `x[..., ::-1]` (caffe-style `preprocess_input`: RGB to BGR) and `x[..., k]`.
    static func slice(_ spec: Any?, call: LayerCall, shapes: [FeatureShape]) -> CallPlan {
        guard let parts = spec as? [Any], parts.count == 2, isEllipsis(parts[0]) else {
            return .unsupported("slicing other than x[..., ::-1] or x[..., k]")
        }
        if let k = (parts[1] as? NSNumber)?.intValue, let shape = shapes.first, shape.rank == 3 {
            let index = k < 0 ? shape.channels + k : k
            guard (0..<shape.channels).contains(index) else { return .unsupported("channel \(k) out of range") }
            return .channel(tensor: 0, index: index)
        }
        var slice = parts[1] as? [String: Any]
        if slice?["class_name"] as? String == "__slice__" { slice = slice?["config"] as? [String: Any] }
        if let slice, slice["start"] is NSNull || slice["start"] == nil,
            slice["stop"] is NSNull || slice["stop"] == nil,
            (slice["step"] as? NSNumber)?.intValue == -1
        {
            return .op(.reverseChannels)
        }
        return .unsupported("slicing other than x[..., ::-1] or x[..., k]")
    }

    static func isEllipsis(_ value: Any) -> Bool {
        (value as? [String: Any])?["class_name"] as? String == "__ellipsis__"
    }

    // MARK: Keras 3

    static func kerasOp(_ className: String, _ call: LayerCall, shapes: [FeatureShape]) -> CallPlan {
        let a = call.args.first
        let b = call.args.count > 1 ? call.args[1] : nil
        switch className {
        case "Add": return binary(.add, a, b, call: call, shapes: shapes)
        case "Subtract": return binary(.subtract, a, b, call: call, shapes: shapes)
        case "Multiply": return binary(.multiply, a, b, call: call, shapes: shapes)
        case "TrueDivide", "Divide": return binary(.divide, a, b, call: call, shapes: shapes)
        case "Maximum": return binary(.maximum, a, b, call: call, shapes: shapes)
        case "Minimum": return binary(.minimum, a, b, call: call, shapes: shapes)
        case "GetItem":
            guard call.args.count == 2, case .constant(let spec) = call.args[1] else {
                return .unsupported("indexing with a tensor")
            }
            return slice(spec, call: call, shapes: shapes)
        case "Relu": return .op(.activation(.relu))
        case "Relu6": return .op(.activation(.relu6))
        case "Sigmoid": return .op(.activation(.sigmoid))
        case "Tanh": return .op(.activation(.tanh))
        case "Silu", "Swish": return .op(.activation(.swish))
        default:
            return .unsupported("the Keras operation \(className) is not built")
        }
    }

    /// A constant operand as the config stores it: a number, a (nested) list of numbers, or a
    /// Keras 3 `__tensor__`/`__numpy__` object holding one; flattened.
    static func constantValues(_ value: Any) -> [Float]? {
        if let dict = value as? [String: Any], let config = dict["config"] as? [String: Any],
            let inner = config["value"]
        {
            return KerasLayers.floats(inner)
        }
        return KerasLayers.floats(value)
    }
}
