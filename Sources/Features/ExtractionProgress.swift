/// Where a long job reports how far it has got (`count` of `total` done); the CLI draws a bar
/// for it, a library never draws.
public protocol ExtractionProgress {
    mutating func update(_ count: Int64, total: Int64?)
    /// The job is over; later updates are ignored.
    mutating func finish()
}
