// The one-line progress display the CLI draws on stderr. Libraries only report counts through
// callbacks (WeightStore.download(progress:), ExtractionEvents.progress); `handler()` is one.

import Foundation

/// A one-line progress display on stderr, `title [#####.....] 45.1 MB / 94.7 MB  12.3 MB/s  ETA 0:04`:
/// redrawn in place (`\r`, at most 10 times a second) on a terminal, one line per ~10% in a log.
/// Generic over what it counts: pass `format` (`ProgressBar.bytes`, `ProgressBar.items("images")`).
struct ProgressBar: Sendable {
    public let title: String
    public var total: Int64?
    private let format: @Sendable (Int64) -> String
    private let interactive: Bool
    private let width: Int
    private var start: ContinuousClock.Instant?
    private var lastDraw: ContinuousClock.Instant?
    private var lastDecile = -1
    private var count: Int64 = 0
    private var finished = false

    public init(
        title: String, total: Int64? = nil, format: @escaping @Sendable (Int64) -> String = ProgressBar.bytes,
        interactive: Bool = isatty(STDERR_FILENO) != 0, width: Int = 30
    ) {
        self.title = title
        self.total = total
        self.format = format
        self.interactive = interactive
        self.width = width
    }

    /// `45.1 MB` (decimal units, as browsers and curl print sizes).
    @Sendable public static func bytes(_ n: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(n)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// `120 images`.
    public static func items(_ unit: String) -> @Sendable (Int64) -> String { { "\($0) \(unit)" } }

    /// The line for `count` at `rate` per second, without `\r` or newline.
    public func render(_ count: Int64, rate: Double?) -> String {
        var line = title.isEmpty ? "" : title + " "
        if let total, total > 0 {
            let fraction = min(1, max(0, Double(count) / Double(total)))
            let filled = Int((fraction * Double(width)).rounded(.down))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            line += "\(format(count)) / \(format(total))"
        } else {
            line += format(count)
        }
        if let rate, rate.isFinite {
            line += "  \(format(Int64(rate)))/s"
            if let total, rate > 0, count < total {
                line += "  ETA " + Self.duration((Double(total - count) / rate).rounded())
            }
        }
        return line
    }

    /// `0:25`, `12:05`, `1:02:03`.
    public static func duration(_ seconds: Double) -> String {
        let s = Int(min(seconds, 359_999))
        return s >= 3600
            ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
            : String(format: "%d:%02d", s / 60, s % 60)
    }

    public mutating func update(_ count: Int64, total: Int64? = nil) {
        guard !finished else { return }
        let now = ContinuousClock.now
        if start == nil { start = now }
        if let total { self.total = total }
        self.count = count
        if interactive {
            if let lastDraw, now - lastDraw < .milliseconds(100) { return }
            lastDraw = now
            write("\r" + render(count, rate: rate(at: now)) + "\u{1B}[K")
        } else if let total = self.total, total > 0 {
            let decile = Int(min(10, max(0, count * 10 / total)))
            guard decile > lastDecile else { return }
            lastDecile = decile
            write(render(count, rate: rate(at: now)) + "\n")
        } else if lastDraw.map({ now - $0 >= .seconds(10) }) ?? true {
            lastDraw = now
            write(render(count, rate: rate(at: now)) + "\n")
        }
    }

    /// Draws the final state and ends the line; later updates are ignored.
    public mutating func finish() {
        guard !finished else { return }
        finished = true
        let line = render(count, rate: rate(at: .now))
        if interactive {
            write("\r" + line + "\u{1B}[K\n")
        } else if lastDecile < 10 {
            write(line + "\n")
        }
    }

    /// A callback for `WeightStore.download(progress:)` that draws this bar and finishes it when
    /// the count reaches the total.
    public func handler() -> @Sendable (Int64, Int64?) -> Void {
        let box = LockedBar(self)
        return { count, total in box.update(count, total: total) }
    }

    private func rate(at now: ContinuousClock.Instant) -> Double? {
        guard let start else { return nil }
        let elapsed = (now - start) / .seconds(1)
        return elapsed > 0.2 ? Double(count) / elapsed : nil
    }

    private func write(_ text: String) { try? FileHandle.standardError.write(contentsOf: Data(text.utf8)) }
}

private final class LockedBar: @unchecked Sendable {
    private let lock = NSLock()
    private var bar: ProgressBar

    init(_ bar: ProgressBar) { self.bar = bar }

    func update(_ count: Int64, total: Int64?) {
        lock.withLock {
            bar.update(count, total: total)
            if let total = bar.total, count >= total { bar.finish() }
        }
    }
}
