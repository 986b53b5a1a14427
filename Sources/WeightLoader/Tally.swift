import Foundation

/// How often the expensive steps of loading a model ran in this process: opening a weight file,
/// detecting its architecture, reading its arrays, hashing it. Each should happen once per
/// model; the tests hold the loader to that (`LoadedModel`'s "bind once" test).
public final class Tally: @unchecked Sendable {
    public static let shared = Tally()

    public struct Counts: Equatable, Sendable {
        public var opens = 0
        public var detections = 0
        public var loads = 0
        public var hashes = 0
    }

    private let lock = NSLock()
    private var counts = Counts()

    public var current: Counts { lock.withLock { counts } }

    public func count(_ key: WritableKeyPath<Counts, Int>) { lock.withLock { counts[keyPath: key] += 1 } }
}
