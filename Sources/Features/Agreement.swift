// How close our output is to Keras': the measures every parity claim in this project uses.

public struct Agreement: Sendable, Equatable {
    public var count = 0
    public var maxAbsError = 0.0
    /// max|keras|: the scale the absolute error is judged against.
    public var maxKeras = 0.0
    /// max |ours − keras| / max(|keras|, 1e-3), element-wise (large where Keras is near zero).
    public var maxRelativeError = 0.0
    public var cosine = 1.0

    /// The error relative to the output's scale: max|ours − keras| / max|keras|.
    public var scaledError: Double { maxKeras > 0 ? maxAbsError / maxKeras : maxAbsError }

    /// The project's tolerance: max|ours − keras| <= tolerance · max|keras| and cosine >= 0.99999.
    public func passes(tolerance: Double = 1e-4, minimumCosine: Double = 0.99999) -> Bool {
        maxAbsError <= tolerance * maxKeras && cosine >= minimumCosine
    }

    public init(ours: [Float], keras: [Float]) {
        precondition(ours.count == keras.count, "compare outputs of equal size")
        count = ours.count
        var dot = 0.0, nOurs = 0.0, nKeras = 0.0
        for (a, b) in zip(ours, keras) {
            let (x, y) = (Double(a), Double(b))
            let d = abs(x - y)
            maxAbsError = max(maxAbsError, d)
            maxRelativeError = max(maxRelativeError, d / max(abs(y), 1e-3))
            maxKeras = max(maxKeras, abs(y))
            dot += x * y
            nOurs += x * x
            nKeras += y * y
        }
        if nOurs > 0 || nKeras > 0 { cosine = dot / (nOurs.squareRoot() * nKeras.squareRoot()) }
    }
}
